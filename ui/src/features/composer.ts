// The composer: the message box, Send and Stop, and the staged
// attachments (picked, pasted or dropped images; recordings; snapshots).
import { api, type AttachmentView } from "../api";
import { button, byId, el } from "../dom";
import { formatBytes } from "../format";
import { notify, notifyError } from "../notices";
import { app, on } from "../state";
import { ask, stop } from "./chat";

/** Largest file sent for decoding; the Rust side enforces the same limit. */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

const composer = byId<HTMLFormElement>("composer");
const attachments = byId<HTMLDivElement>("attachments");
const attach = byId<HTMLButtonElement>("attach");
const input = byId<HTMLTextAreaElement>("input");
const send = byId<HTMLButtonElement>("send");
const stopButton = byId<HTMLButtonElement>("stop");
const dropOverlay = byId<HTMLDivElement>("drop-overlay");

/** Attachments waiting for the next question. */
let staged: AttachmentView[] = [];

export function focusInput() {
  input.focus();
}

/** Add `text` to what the user is typing (a transcript, say). */
export function appendToInput(text: string) {
  input.value = input.value ? `${input.value} ${text}` : text;
  input.focus();
}

function updateComposer() {
  const busy = app.generation !== null;
  send.hidden = busy;
  stopButton.hidden = !busy;
  send.disabled = app.model?.state !== "ready";
  send.title = app.model?.state === "ready" ? "Send (Enter)" : "Load a model first";
}

function submit() {
  const text = input.value;
  if (app.generation || (!text.trim() && !staged.length)) return;
  if (app.model?.state !== "ready") {
    notify(app.model?.state === "loading" ? "The model is still loading." : "Choose a model first.", "info");
    return;
  }
  const list = staged;
  staged = [];
  renderStaged();
  input.value = "";
  void ask(text, list);
}

function renderStaged() {
  attachments.replaceChildren(
    ...staged.map((a) => {
      const t = el("figure", a.kind === "audio" ? "thumb audio" : "thumb");
      const img = a.kind === "audio" ? el("span", "audio-chip", a.name) : el("img");
      if (img instanceof HTMLImageElement) {
        img.src = a.thumbnail ?? "";
        img.alt = a.name;
      }
      t.title = a.kind === "audio" ? a.name : `${a.name} (${a.width}×${a.height})`;
      const remove = button("thumb-remove", "×", `Remove ${a.name}`);
      remove.onclick = () => {
        staged = staged.filter((s) => s !== a);
        if (a.id !== null) void api.discardAttachment(a.id);
        renderStaged();
        input.focus();
      };
      t.append(img, remove);
      return t;
    }),
  );
  attachments.hidden = staged.length === 0;
}

/** Stage `list` for the next question. */
export function stageAll(list: AttachmentView[]) {
  staged.push(...list);
  renderStaged();
  if (list.some((a) => a.kind === "image") && app.model?.model && !app.model.model.vision)
    notify("The loaded model cannot see images; it will refuse them when you send.", "info");
}

async function attachFiles(files: File[]) {
  for (const f of files) {
    if (f.size > MAX_IMAGE_BYTES) {
      notify(`${f.name}: ${formatBytes(f.size)} is too large (the limit is 64 MB).`, "error", "INVALID_MEDIA");
      continue;
    }
    try {
      stageAll([await api.attachImage(f)]);
    } catch (e) {
      notifyError(e);
    }
  }
}

async function pickImages() {
  try {
    const r = await api.pickImages();
    stageAll(r.attached);
    r.rejected.forEach((e) => notify(e.message, "error", e.code));
  } catch (e) {
    notifyError(e);
  }
}

export function initComposer() {
  composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  stopButton.onclick = stop;
  attach.onclick = pickImages;
  on("busy", updateComposer);
  on("model", updateComposer);
  on("restoreInput", (text) => {
    if (!input.value) input.value = text;
  });
  document.addEventListener("paste", (ev) => {
    const files = Array.from(ev.clipboardData?.files ?? []);
    if (files.length) {
      ev.preventDefault();
      void attachFiles(files);
    }
  });
  let depth = 0;
  const hasFiles = (ev: DragEvent) => Array.from(ev.dataTransfer?.types ?? []).includes("Files");
  document.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    depth++;
    dropOverlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) dropOverlay.hidden = true;
  });
  document.addEventListener("dragover", (ev) => {
    if (hasFiles(ev)) ev.preventDefault();
  });
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    depth = 0;
    dropOverlay.hidden = true;
    const files = Array.from(ev.dataTransfer?.files ?? []);
    if (files.length) void attachFiles(files);
  });
  renderStaged();
  updateComposer();
}
