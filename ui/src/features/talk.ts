// Hands-free talk mode: F3 or the Talk button starts it, Escape (or the
// button) leaves. The shell listens (VAD + echo cancellation), silences a
// reply the moment the person speaks over it, and hands each spoken turn
// over as a staged attachment, which is sent like any question.
import { api, type TalkEvent } from "../api";
import { byId } from "../dom";
import { announce, notify, notifyError } from "../notices";
import { app, on } from "../state";
import { nextTalkState, talkLabel, type TalkInput, type TalkState } from "../talk-state";
import { ask } from "./chat";

const toggle = byId<HTMLButtonElement>("talk");
const badge = byId<HTMLDivElement>("talk-status");
const label = byId<HTMLSpanElement>("talk-label");
const level = byId<HTMLMeterElement>("talk-level");
const record = byId<HTMLButtonElement>("record");

let state: TalkState = "off";
/** The conversation talk mode was started in. */
let talkingIn: number | null = null;

function apply(input: TalkInput) {
  const before = state;
  state = nextTalkState(state, input);
  if (state === before) return;
  const on = state !== "off";
  toggle.setAttribute("aria-pressed", String(on));
  toggle.classList.toggle("active", on);
  badge.hidden = !on;
  record.disabled = on;
  label.textContent = talkLabel(state);
  if (on) announce(talkLabel(state));
}

function onEvent(e: TalkEvent) {
  if (e.kind === "level") {
    level.value = Math.min(1, e.rms * 5);
    return;
  }
  if (e.kind === "stopped") {
    if (e.code) notify(e.message ?? "Talk mode stopped.", "error", e.code);
    apply(e);
    return;
  }
  apply(e);
  if (e.kind === "utterance") void sendSpoken(e.attachment);
}

async function sendSpoken(attachment: import("../api").AttachmentView) {
  // A model that cannot hear gets what Whisper heard, as text.
  const text = attachment.transcript ?? "";
  const files = attachment.id === null ? [] : [attachment];
  if (!text && files.length === 0) return;
  const unwatch = watchFirstToken();
  try {
    await ask(text, files, null, null, true);
  } finally {
    unwatch();
    apply({ kind: "answered" });
  }
}

/** Move from "thinking" to "speaking" when the answer starts streaming. */
function watchFirstToken(): () => void {
  const timer = window.setInterval(() => {
    const last = app.messages[app.messages.length - 1];
    if (last && last.role === "assistant" && last.content) {
      apply({ kind: "firstToken" });
      window.clearInterval(timer);
    }
  }, 100);
  return () => window.clearInterval(timer);
}

export async function startTalk() {
  if (state !== "off" || app.generation) return;
  apply({ kind: "start" });
  talkingIn = app.conversationId;
  try {
    const started = await api.startTalk(onEvent);
    if (!started.echoCancel) notify("Echo cancellation is off: use a headset, or the reply may interrupt itself.", "info");
  } catch (e) {
    apply({ kind: "stopped", code: null, message: null });
    notifyError(e);
  }
}

export async function stopTalk() {
  if (state === "off") return;
  apply({ kind: "stopped", code: null, message: null });
  try {
    await api.stopTalk();
  } catch (e) {
    notifyError(e);
  }
}

export function talking(): boolean {
  return state !== "off";
}

export function initTalk() {
  toggle.onclick = () => void (state === "off" ? startTalk() : stopTalk());
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "F3") {
      ev.preventDefault();
      void (state === "off" ? startTalk() : stopTalk());
    } else if (ev.key === "Escape" && state !== "off") {
      void stopTalk();
    }
  });
  // Another conversation opened (or a new one started): leave talk mode.
  on("messages", () => {
    if (state !== "off" && app.conversationId !== talkingIn && talkingIn !== null) void stopTalk();
    if (state !== "off" && app.conversationId !== null) talkingIn = app.conversationId;
  });
}
