// The window: sidebar of stored conversations, the chat view with streamed
// answers, the composer with image attachments, notices, the first-run
// model screen and settings. It keeps view state only; the SQLite store
// (through the commands in api.ts) is the source of truth.
import "./style.css";
import {
  api,
  asCommandError,
  type ApiStatus,
  type AttachmentView,
  type ChatEvent,
  type CommandError,
  type Conversation,
  type DocsStatus,
  type IngestUpdate,
  type MessageView,
  type ModelStatus,
  type RecordingEvent,
  type Settings,
  type Source,
  type Stats,
  type StoredToolCall,
} from "./api";
import { renderMarkdown } from "./markdown";

/** Largest file sent for decoding; the Rust side enforces the same limit. */
const MAX_IMAGE_BYTES = 64 * 1024 * 1024;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const ui = {
  conversations: $<HTMLUListElement>("conversations"),
  search: $<HTMLInputElement>("search"),
  newChat: $<HTMLButtonElement>("new-chat"),
  modelStatus: $<HTMLDivElement>("model-status"),
  openModel: $<HTMLButtonElement>("open-model"),
  openSettings: $<HTMLButtonElement>("open-settings"),
  setup: $<HTMLElement>("setup"),
  setupText: $<HTMLParagraphElement>("setup-text"),
  setupOffer: $<HTMLDivElement>("setup-offer"),
  setupChoose: $<HTMLButtonElement>("setup-choose"),
  setupError: $<HTMLParagraphElement>("setup-error"),
  setupDownload: $<HTMLDivElement>("setup-download"),
  setupProgress: $<HTMLProgressElement>("setup-progress"),
  setupProgressText: $<HTMLSpanElement>("setup-progress-text"),
  setupCancel: $<HTMLButtonElement>("setup-cancel"),
  messages: $<HTMLElement>("messages"),
  emptyHint: $<HTMLDivElement>("empty-hint"),
  notices: $<HTMLDivElement>("notices"),
  composer: $<HTMLFormElement>("composer"),
  attachments: $<HTMLDivElement>("attachments"),
  attach: $<HTMLButtonElement>("attach"),
  input: $<HTMLTextAreaElement>("input"),
  send: $<HTMLButtonElement>("send"),
  stop: $<HTMLButtonElement>("stop"),
  dropOverlay: $<HTMLDivElement>("drop-overlay"),
  settings: $<HTMLDialogElement>("settings"),
  settingsForm: $<HTMLFormElement>("settings-form"),
  settingsPath: $<HTMLElement>("settings-path"),
  useDocs: $<HTMLInputElement>("use-docs"),
  useTools: $<HTMLInputElement>("use-tools"),
  consent: $<HTMLDialogElement>("consent"),
  consentText: $<HTMLParagraphElement>("consent-text"),
  consentArgs: $<HTMLPreElement>("consent-args"),
  consentOnce: $<HTMLButtonElement>("consent-once"),
  consentAlways: $<HTMLButtonElement>("consent-always"),
  consentDeny: $<HTMLButtonElement>("consent-deny"),
  apiEnabled: $<HTMLInputElement>("api-enabled"),
  apiPort: $<HTMLInputElement>("api-port"),
  apiStatus: $<HTMLParagraphElement>("api-status"),
  record: $<HTMLButtonElement>("record"),
  recording: $<HTMLDivElement>("recording"),
  level: $<HTMLMeterElement>("level"),
  recTime: $<HTMLSpanElement>("rec-time"),
  camera: $<HTMLButtonElement>("camera"),
  cameraDialog: $<HTMLDialogElement>("camera-dialog"),
  cameraClose: $<HTMLButtonElement>("camera-close"),
  cameraSelect: $<HTMLSelectElement>("camera-select"),
  cameraPreview: $<HTMLImageElement>("camera-preview"),
  cameraSnap: $<HTMLButtonElement>("camera-snap"),
  openDocs: $<HTMLButtonElement>("open-docs"),
  docs: $<HTMLDialogElement>("docs"),
  docsClose: $<HTMLButtonElement>("docs-close"),
  docsEmbedding: $<HTMLParagraphElement>("docs-embedding"),
  docsAddFolder: $<HTMLButtonElement>("docs-add-folder"),
  docsAddFiles: $<HTMLButtonElement>("docs-add-files"),
  docsRescan: $<HTMLButtonElement>("docs-rescan"),
  docsCancel: $<HTMLButtonElement>("docs-cancel"),
  docsEmbedModel: $<HTMLButtonElement>("docs-embed-model"),
  docsProgressBox: $<HTMLDivElement>("docs-progress-box"),
  docsProgress: $<HTMLProgressElement>("docs-progress"),
  docsProgressText: $<HTMLSpanElement>("docs-progress-text"),
  docsSummary: $<HTMLParagraphElement>("docs-summary"),
  docsList: $<HTMLUListElement>("docs-list"),
  source: $<HTMLDialogElement>("source"),
  sourceClose: $<HTMLButtonElement>("source-close"),
  sourceLocation: $<HTMLParagraphElement>("source-location"),
  sourceText: $<HTMLPreElement>("source-text"),
};

interface Generation {
  id: number | null;
  stopRequested: boolean;
  failed: boolean;
}

const view = {
  conversationId: null as number | null,
  messages: [] as MessageView[],
  staged: [] as AttachmentView[],
  generation: null as Generation | null,
  model: null as ModelStatus | null,
  settings: null as Settings | null,
  api: null as ApiStatus | null,
};

// ---------------------------------------------------------------- notices

function notify(message: string, kind: "error" | "info" = "error", code?: string) {
  const n = el("div", `notice ${kind}`);
  n.setAttribute("role", kind === "error" ? "alert" : "status");
  if (code) n.dataset.code = code;
  n.append(el("span", "notice-text", message));
  const close = el("button", "notice-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  close.onclick = () => n.remove();
  n.append(close);
  ui.notices.append(n);
  if (kind === "info") setTimeout(() => n.remove(), 6000);
}

function notifyError(e: unknown) {
  const err: CommandError = asCommandError(e);
  if (err.code === "CANCELLED") return;
  notify(err.message, "error", err.code);
}

// ---------------------------------------------------------------- model

function formatBytes(n: number) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  return `${Math.round(n / 1e6)} MB`;
}

function showModel(s: ModelStatus) {
  view.model = s;
  const name = s.modelPath ? s.modelPath.split("/").pop() : "";
  ui.modelStatus.dataset.state = s.state;
  switch (s.state) {
    case "ready": {
      const m = s.model!;
      const caps = [m.vision ? "images" : "", m.audio ? "audio" : ""].filter(Boolean).join(", ");
      ui.modelStatus.textContent = `${m.name} · ${formatBytes(m.sizeBytes)} · ctx ${m.nCtx}${caps ? ` · ${caps}` : ""}`;
      ui.modelStatus.title = s.modelPath ?? "";
      if (s.notice) notify(s.notice, "info");
      break;
    }
    case "loading":
      ui.modelStatus.textContent = `Loading ${name}…`;
      break;
    case "failed":
      ui.modelStatus.textContent = `Model failed: ${name}`;
      break;
    default:
      ui.modelStatus.textContent = "No model";
  }
  const needsSetup = s.state === "empty" || s.state === "failed";
  ui.setup.hidden = !needsSetup || view.messages.length > 0;
  ui.setupError.hidden = !s.error;
  ui.setupError.textContent = s.error?.message ?? "";
  if (s.state === "failed" && s.error) notify(s.error.message, "error", s.error.code);
  ui.setupOffer.replaceChildren();
  for (const [o, label] of [
    [s.offer, "Recommended"],
    [s.fallback, "Small and quick to fetch"],
  ] as const) {
    if (!o) continue;
    const box = el("div", "offer-item");
    box.append(
      el("h3", undefined, `${label}: ${o.id}`),
      el("p", undefined, o.description),
      el(
        "p",
        "muted",
        `Download of about ${formatBytes(o.totalMb * 1e6)} (${o.files
          .map(([f, mb]) => `${f}${mb ? ` ${mb} MB` : ""}`)
          .join(", ")}); needs about ${o.ramGb} GB of memory. Takes ${o.modalities.join(", ")}. License: ${o.license}.`,
      ),
    );
    const b = el("button", "primary download", `Download ${o.id}`);
    b.type = "button";
    b.dataset.model = o.id;
    b.disabled = s.downloading;
    b.onclick = () => void downloadModel(o.id);
    box.append(b);
    ui.setupOffer.append(box);
  }
  if (s.offer) ui.setupOffer.append(el("p", "muted", `Downloads resume if interrupted and are checked before use; they go to ${s.modelsDir}.`));
  updateComposer();
}

async function downloadModel(id: string) {
  ui.setupDownload.hidden = false;
  ui.setupProgress.removeAttribute("value");
  ui.setupProgressText.textContent = "Connecting…";
  ui.setupOffer.querySelectorAll("button").forEach((b) => (b.disabled = true));
  try {
    showModel(
      await api.downloadModel(id, (p) => {
        if (p.total) {
          ui.setupProgress.max = p.total;
          ui.setupProgress.value = p.done;
        }
        const eta = p.eta_s !== null ? `, about ${Math.ceil(p.eta_s)} s left` : "";
        ui.setupProgressText.textContent = `${p.file}: ${formatBytes(p.done)}${p.total ? ` of ${formatBytes(p.total)}` : ""} at ${formatBytes(p.bytes_per_s)}/s${eta}`;
      }),
    );
    ui.setupDownload.hidden = true;
  } catch (e) {
    ui.setupDownload.hidden = true;
    notifyError(e);
    showModel(await api.modelStatus());
  }
}

async function chooseModel() {
  try {
    showModel(await api.chooseModel());
  } catch (e) {
    notifyError(e);
  }
}

// ---------------------------------------------------------------- sidebar

async function refreshConversations() {
  try {
    const q = ui.search.value.trim();
    const list = q ? await api.searchConversations(q) : await api.listConversations();
    renderConversations(list);
  } catch (e) {
    notifyError(e);
  }
}

function renderConversations(list: Conversation[]) {
  ui.conversations.replaceChildren(
    ...list.map((c) => {
      const li = el("li", "conversation");
      li.dataset.id = String(c.id);
      if (c.id === view.conversationId) li.classList.add("active");
      const open = el("button", "conversation-open", c.title);
      open.type = "button";
      open.title = c.title;
      open.onclick = () => openConversation(c.id);
      const rename = el("button", "icon small", "✎");
      rename.type = "button";
      rename.title = "Rename";
      rename.setAttribute("aria-label", `Rename ${c.title}`);
      rename.onclick = () => startRename(li, c);
      const del = el("button", "icon small", "🗑");
      del.type = "button";
      del.title = "Delete";
      del.setAttribute("aria-label", `Delete ${c.title}`);
      del.onclick = () => deleteConversation(c);
      li.append(open, rename, del);
      return li;
    }),
  );
  if (!list.length) {
    ui.conversations.append(el("li", "muted empty", ui.search.value ? "No matches" : "No conversations yet"));
  }
}

function startRename(li: HTMLLIElement, c: Conversation) {
  const input = el("input", "rename-input");
  input.value = c.title;
  input.setAttribute("aria-label", "New title");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save: boolean) => {
    if (done) return;
    done = true;
    if (save && input.value.trim() && input.value.trim() !== c.title) {
      try {
        await api.renameConversation(c.id, input.value);
      } catch (e) {
        notifyError(e);
      }
    }
    refreshConversations();
  };
  input.onkeydown = (ev) => {
    if (ev.key === "Enter") finish(true);
    if (ev.key === "Escape") {
      ev.stopPropagation();
      finish(false);
    }
  };
  input.onblur = () => finish(true);
}

async function deleteConversation(c: Conversation) {
  if (!confirm(`Delete “${c.title}” and all its messages?`)) return;
  try {
    await api.deleteConversation(c.id);
    if (view.conversationId === c.id) newConversation();
    refreshConversations();
  } catch (e) {
    notifyError(e);
  }
}

async function openConversation(id: number) {
  if (view.generation) return notify("Wait for the answer to finish or stop it first.", "info");
  try {
    const cv = await api.getConversation(id);
    view.conversationId = id;
    view.messages = cv.messages.filter((m) => m.role !== "system");
    renderMessages();
    refreshConversations();
    ui.input.focus();
  } catch (e) {
    notifyError(e);
  }
}

function newConversation() {
  if (view.generation) return;
  view.conversationId = null;
  view.messages = [];
  renderMessages();
  refreshConversations();
  ui.input.focus();
}

// ---------------------------------------------------------------- messages

function statsLine(stats: Stats | undefined, finish?: string) {
  if (!stats) return "";
  const parts = [
    `${stats.generated_tokens} tokens`,
    `${stats.tokens_per_s.toFixed(1)} tok/s`,
    `first token ${Math.round(stats.time_to_first_token_ms)} ms`,
  ];
  if (finish && finish !== "stop") parts.push(finish === "cancelled" ? "stopped" : finish.replace("_", " "));
  return parts.join(" · ");
}

function thumbs(list: AttachmentView[]) {
  const box = el("div", "message-images");
  for (const a of list) {
    if (a.thumbnail) {
      const img = el("img", "thumb-img");
      img.src = a.thumbnail;
      img.alt = a.name;
      img.title = a.name;
      box.append(img);
    } else {
      box.append(el("span", "missing", `${a.name} (missing)`));
    }
  }
  return box;
}

function copyText(text: string, button: HTMLButtonElement) {
  navigator.clipboard.writeText(text).then(
    () => {
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = "Copy"), 1200);
    },
    () => notify("Could not copy to the clipboard."),
  );
}

/**
 * A link in an answer must not navigate this window (the app would be
 * gone) and the window may not open other programs, so a click copies
 * the address for the user's browser instead.
 */
function openLink(ev: MouseEvent, a: HTMLAnchorElement) {
  ev.preventDefault();
  const href = a.href;
  navigator.clipboard.writeText(href).then(
    () => notify(`Link copied: ${href}`, "info"),
    () => notify(`Open this address in your browser: ${href}`, "info"),
  );
}

/** One line per tool call: name and arguments, result folded inside. */
function toolCallsNode(calls: StoredToolCall[]) {
  const box = el("div", "tool-calls");
  for (const c of calls) {
    const d = el("details", c.error ? "tool-call failed" : "tool-call");
    const pending = c.duration_ms < 0;
    const status = pending ? "running…" : c.error ? `failed (${c.error})` : `${Math.round(c.duration_ms)} ms`;
    d.append(el("summary", undefined, `🔧 ${c.tool}(${JSON.stringify(c.arguments)}) — ${status}`));
    if (!pending) d.append(el("pre", undefined, c.output));
    box.append(d);
  }
  return box;
}

function messageNode(m: MessageView, index: number) {
  const node = el("article", `message ${m.role}`);
  node.dataset.id = String(m.id);
  if (m.attachments.length) node.append(thumbs(m.attachments));
  const calls = el("div", "tool-calls-slot");
  if (m.toolCalls?.length) calls.append(toolCallsNode(m.toolCalls));
  node.append(calls);
  const content = el("div", "content");
  const sources = m.stats?.sources ?? [];
  if (m.role === "assistant") content.replaceChildren(renderMarkdown(m.content, sources));
  else content.textContent = m.content;
  node.append(content);
  if (sources.length) node.append(sourceList(sources));
  const tools = el("div", "message-tools");
  const meta = el("span", "stats", statsLine(m.stats?.stats, m.stats?.finish));
  tools.append(meta);
  const copy = el("button", "small", "Copy");
  copy.type = "button";
  copy.onclick = () => copyText(m.content, copy);
  tools.append(copy);
  const last = index === view.messages.length - 1;
  if (m.role === "assistant" && last) {
    const regen = el("button", "small regenerate", "Regenerate");
    regen.type = "button";
    regen.onclick = () => regenerate();
    tools.append(regen);
  }
  if (m.role === "user") {
    const edit = el("button", "small edit", "Edit");
    edit.type = "button";
    edit.onclick = () => editMessage(index);
    tools.append(edit);
  }
  node.append(tools);
  return node;
}

/** Where a snippet came from: file, page or lines, heading. */
function sourceLocation(s: Source) {
  let loc = s.path;
  if (s.page !== null) loc += `, page ${s.page}`;
  else if (s.lines) loc += s.lines[0] === s.lines[1] ? `, line ${s.lines[0]}` : `, lines ${s.lines[0]}–${s.lines[1]}`;
  if (s.heading) loc += ` — ${s.heading}`;
  return loc;
}

function sourceList(sources: Source[]) {
  const box = el("div", "sources");
  box.append(el("span", "muted", "Sources:"));
  const list = el("ol");
  for (const s of sources) {
    const li = el("li");
    const b = el("button", "source-link", `[${s.number}] ${sourceLocation(s)}`);
    b.type = "button";
    b.dataset.source = String(s.number);
    li.append(b);
    list.append(li);
  }
  box.append(list);
  return box;
}

/** Show the passage behind citation `n` of the answer in `node`. */
async function openSource(node: HTMLElement, n: number) {
  const id = Number(node.closest<HTMLElement>(".message")?.dataset.id);
  const m = view.messages.find((x) => x.id === id);
  const s = m?.stats?.sources?.find((x) => x.number === n);
  if (!s) return;
  ui.sourceLocation.textContent = sourceLocation(s);
  ui.sourceText.textContent = "";
  ui.source.showModal();
  try {
    const v = await api.getSource(s.chunk_id);
    ui.sourceText.textContent = v.text;
  } catch (e) {
    ui.source.close();
    notifyError(e);
  }
}

function renderMessages() {
  ui.messages.replaceChildren(ui.emptyHint);
  ui.emptyHint.hidden = view.messages.length > 0;
  view.messages.forEach((m, i) => ui.messages.append(messageNode(m, i)));
  if (view.model) ui.setup.hidden = !(view.model.state === "empty" || view.model.state === "failed") || view.messages.length > 0;
  scrollDown(true);
}

function scrollDown(force = false) {
  const m = ui.messages;
  if (force || m.scrollHeight - m.scrollTop - m.clientHeight < 120) m.scrollTop = m.scrollHeight;
}

/** The id of the stored message before `index` (0 clears the conversation). */
function idBefore(index: number) {
  return index > 0 ? view.messages[index - 1].id : 0;
}

function regenerate() {
  const qi = view.messages.length - 2;
  const q = view.messages[qi];
  if (!q || q.role !== "user") return;
  if (q.attachments.length) notify("Regenerating resends the text only; attach the images again to include them.", "info");
  void ask(q.content, [], idBefore(qi));
}

function editMessage(index: number) {
  const m = view.messages[index];
  const node = ui.messages.querySelector<HTMLElement>(`.message[data-id="${m.id}"] .content`);
  if (!node || view.generation) return;
  const area = el("textarea", "edit-area");
  area.value = m.content;
  area.rows = Math.min(10, m.content.split("\n").length + 1);
  area.setAttribute("aria-label", "Edit message");
  const save = el("button", "primary small", "Send");
  save.type = "button";
  const cancel = el("button", "small", "Cancel");
  cancel.type = "button";
  const box = el("div", "edit-box");
  box.append(area, el("div", "edit-buttons"));
  box.lastElementChild!.append(cancel, save);
  node.replaceWith(box);
  area.focus();
  cancel.onclick = () => renderMessages();
  save.onclick = () => {
    if (!area.value.trim()) return;
    void ask(area.value, [], idBefore(index));
  };
  area.onkeydown = (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      save.click();
    } else if (ev.key === "Escape") {
      ev.stopPropagation();
      renderMessages();
    }
  };
}

// ---------------------------------------------------------------- sending

function updateComposer() {
  const busy = view.generation !== null;
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.send.disabled = view.model?.state !== "ready";
  ui.send.title = view.model?.state === "ready" ? "Send (Enter)" : "Load a model first";
}

/**
 * Ask `text` with staged `attachments` in the open conversation; with
 * `truncateAfter` the stored messages after that id are replaced first.
 */
async function ask(text: string, attachments: AttachmentView[], truncateAfter: number | null = null) {
  if (view.generation) return;
  if (truncateAfter !== null) {
    const keep = truncateAfter === 0 ? 0 : view.messages.findIndex((m) => m.id === truncateAfter) + 1;
    view.messages = view.messages.slice(0, keep);
  }
  const question: MessageView = { id: -1, role: "user", content: text, attachments, stats: null };
  const answer: MessageView = { id: -2, role: "assistant", content: "", attachments: [], stats: null };
  view.messages.push(question, answer);
  renderMessages();
  const answerNode = ui.messages.lastElementChild as HTMLElement;
  answerNode.classList.add("streaming");
  const content = answerNode.querySelector<HTMLElement>(".content")!;
  const callsSlot = answerNode.querySelector<HTMLElement>(".tool-calls-slot")!;
  answer.toolCalls = [];
  const paintCalls = () => callsSlot.replaceChildren(toolCallsNode(answer.toolCalls ?? []));
  const meta = answerNode.querySelector<HTMLElement>(".stats")!;
  answerNode.querySelector(".regenerate")?.remove();
  content.innerHTML = '<span class="typing" aria-label="Thinking">●●●</span>';
  const gen: Generation = { id: null, stopRequested: false, failed: false };
  view.generation = gen;
  updateComposer();
  let frame = 0;
  const paint = () => {
    frame = 0;
    content.replaceChildren(renderMarkdown(answer.content));
    scrollDown();
  };
  const onEvent = (ev: ChatEvent) => {
    switch (ev.kind) {
      case "sources":
        answer.stats = { sources: ev.sources };
        break;
      case "started":
        gen.id = ev.generationId;
        if (gen.stopRequested) void api.stopGeneration(gen.id);
        if (ev.droppedMessages > 0)
          notify(`The conversation outgrew the context: the ${ev.droppedMessages} oldest messages were left out of this answer.`, "info");
        meta.textContent = ev.promptTokens ? `reading ${ev.promptTokens} prompt tokens…` : "working…";
        break;
      case "token":
        answer.content += ev.text;
        if (!frame) frame = requestAnimationFrame(paint);
        break;
      case "done":
        answer.stats = { ...answer.stats, finish: ev.finish, stats: ev.stats };
        if (ev.citations && ev.citations.cites_nothing)
          notify("The answer cites none of the document snippets it was given; check it against the sources.", "info");
        else if (ev.citations && ev.citations.invalid.length)
          notify(`The answer cites ${ev.citations.invalid.map((n) => `[${n}]`).join(", ")}, which match no source.`, "info");
        answer.id = ev.answerId;
        question.id = ev.questionId;
        view.conversationId = ev.conversationId;
        break;
      case "failed":
        gen.failed = true;
        notify(ev.message, "error", ev.code);
        break;
      case "notice":
        notify(ev.message, "error", ev.code);
        break;
      case "toolCall":
        answer.toolCalls!.push({ call_id: ev.callId, tool: ev.name, arguments: ev.arguments, output: "", error: null, duration_ms: -1 });
        paintCalls();
        break;
      case "toolResult": {
        const c = answer.toolCalls!.find((x) => x.call_id === ev.callId && x.duration_ms < 0);
        if (c) Object.assign(c, { output: ev.output, error: ev.error, duration_ms: ev.durationMs });
        paintCalls();
        break;
      }
      case "consent":
        askConsent(ev.requestId, ev.tool, ev.description, ev.arguments);
        break;
    }
  };
  // "@tool_name question" with Tools ticked: offer only that tool and make
  // the model call it first.
  const useTools = ui.useTools.checked;
  const forced = useTools ? /^@([A-Za-z0-9_.:-]+)\s+([\s\S]*)$/.exec(text) : null;
  try {
    await api.sendMessage(
      {
        conversationId: view.conversationId,
        text: forced ? forced[2] : text,
        attachmentIds: attachments.map((a) => a.id!),
        truncateAfter,
        useDocs: ui.useDocs.checked,
        useTools,
        tools: forced ? [forced[1]] : null,
        requireTool: forced !== null,
      },
      onEvent,
    );
  } catch (e) {
    if (!gen.failed) notifyError(e);
    view.messages = view.messages.filter((m) => m !== question && m !== answer);
    // Give the question back so it is not lost (attachments must be re-added).
    if (!ui.input.value) ui.input.value = text;
  } finally {
    if (frame) cancelAnimationFrame(frame);
    view.generation = null;
    updateComposer();
    renderMessages();
    refreshConversations();
  }
}

// ---------------------------------------------------------------- tool consent

const consentQueue: { id: number; tool: string; description: string; args: unknown }[] = [];

/** Queue a consent question; the dialog shows one at a time. */
function askConsent(id: number, tool: string, description: string, args: unknown) {
  consentQueue.push({ id, tool, description, args });
  if (!ui.consent.open) showConsent();
}

function showConsent() {
  const q = consentQueue[0];
  if (!q) return;
  ui.consentText.textContent = `The model wants to run “${q.tool}”${q.description ? `: ${q.description}` : ""}. With:`;
  ui.consentArgs.textContent = JSON.stringify(q.args, null, 2);
  ui.consent.showModal();
  // Enter or Space on an unread dialog must not run the tool.
  ui.consentDeny.focus();
}

function answerConsent(answer: "once" | "always" | "deny") {
  const q = consentQueue.shift();
  ui.consent.close();
  if (q) void api.answerToolConsent(q.id, answer).catch(notifyError);
  if (answer === "always" && q) {
    // Later questions about the same tool in the queue are answered too.
    for (const other of consentQueue.filter((x) => x.tool === q.tool)) {
      consentQueue.splice(consentQueue.indexOf(other), 1);
      void api.answerToolConsent(other.id, "once").catch(notifyError);
    }
  }
  showConsent();
}

function submit() {
  const text = ui.input.value;
  if (view.generation || (!text.trim() && !view.staged.length)) return;
  if (view.model?.state !== "ready") {
    notify(view.model?.state === "loading" ? "The model is still loading." : "Choose a model first.", "info");
    return;
  }
  const attachments = view.staged;
  view.staged = [];
  renderStaged();
  ui.input.value = "";
  void ask(text, attachments);
}

function stop() {
  const gen = view.generation;
  if (!gen) return;
  gen.stopRequested = true;
  void api.stopGeneration(gen.id).catch(notifyError);
}

// ---------------------------------------------------------------- attachments

function renderStaged() {
  ui.attachments.replaceChildren(
    ...view.staged.map((a) => {
      const t = el("figure", a.kind === "audio" ? "thumb audio" : "thumb");
      const img = a.kind === "audio" ? el("span", "audio-chip", a.name) : el("img");
      if (img instanceof HTMLImageElement) {
        img.src = a.thumbnail ?? "";
        img.alt = a.name;
      }
      t.title = a.kind === "audio" ? a.name : `${a.name} (${a.width}×${a.height})`;
      const remove = el("button", "thumb-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove ${a.name}`);
      remove.onclick = () => {
        view.staged = view.staged.filter((s) => s !== a);
        if (a.id !== null) void api.discardAttachment(a.id);
        renderStaged();
      };
      t.append(img, remove);
      return t;
    }),
  );
  ui.attachments.hidden = view.staged.length === 0;
}

function stageAll(list: AttachmentView[]) {
  view.staged.push(...list);
  renderStaged();
  if (list.some((a) => a.kind === "image") && view.model?.model && !view.model.model.vision)
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

// ---------------------------------------------------------------- documents

function renderDocs(d: DocsStatus) {
  ui.docsEmbedding.textContent = d.embeddingModel
    ? `Embedding model: ${d.embeddingModel}`
    : "Choose an embedding model (a GGUF such as all-MiniLM-L6-v2; `omnidesk models pull all-minilm-l6-v2-f16` fetches one) to index your documents.";
  const ready = d.embeddingModel !== null;
  for (const b of [ui.docsAddFolder, ui.docsAddFiles, ui.docsRescan]) b.disabled = !ready || d.ingesting;
  ui.docsCancel.hidden = !d.ingesting;
  const st = d.stats;
  ui.docsSummary.textContent = st
    ? `${st.documents} documents, ${st.chunks} passages${st.skipped ? `, ${st.skipped} skipped` : ""}.`
    : "";
  ui.docsList.replaceChildren(
    ...d.documents.map((doc) => {
      const li = el("li", doc.status);
      li.append(el("span", "doc-path", doc.path));
      li.append(
        el("span", "doc-state", doc.status === "skipped" ? `skipped: ${doc.skipReason ?? "unknown reason"}` : `${doc.chunks} passages`),
      );
      const rm = el("button", "small", "Remove");
      rm.type = "button";
      rm.setAttribute("aria-label", `Remove ${doc.path}`);
      rm.onclick = async () => {
        try {
          renderDocs(await api.removeDocument(doc.path));
        } catch (e) {
          notifyError(e);
        }
      };
      li.append(rm);
      return li;
    }),
  );
  if (ready && !d.documents.length) ui.docsList.append(el("li", "muted", "Nothing indexed yet."));
}

async function refreshDocs() {
  try {
    renderDocs(await api.docsStatus());
  } catch (e) {
    notifyError(e);
  }
}

async function openDocs() {
  ui.docs.showModal();
  await refreshDocs();
}

async function chooseEmbeddingModel() {
  ui.docsEmbedding.textContent = "Loading the embedding model…";
  try {
    renderDocs(await api.chooseEmbeddingModel());
  } catch (e) {
    notifyError(e);
    await refreshDocs();
  }
}

function showIngest(u: IngestUpdate) {
  switch (u.kind) {
    case "scanned":
      ui.docsProgress.max = Math.max(1, u.files);
      ui.docsProgress.value = 0;
      ui.docsProgressText.textContent = `${u.files} files found`;
      break;
    case "progress": {
      ui.docsProgress.max = Math.max(1, u.files_total);
      ui.docsProgress.value = u.files_done;
      const eta = u.eta_ms !== null && u.files_done < u.files_total ? `, about ${Math.ceil(u.eta_ms / 1000)} s left` : "";
      ui.docsProgressText.textContent = `${u.files_done} of ${u.files_total} files, ${u.chunks} passages${eta}`;
      break;
    }
    case "skipped":
      break;
    case "finished": {
      const r = u.report;
      ui.docsProgress.value = ui.docsProgress.max;
      ui.docsProgressText.textContent = r.cancelled
        ? `Cancelled after ${r.files_indexed} files; run Rescan to finish.`
        : `Done: ${r.files_indexed} indexed, ${r.files_unchanged} unchanged, ${r.files_skipped} skipped, ${r.files_removed} removed.`;
      break;
    }
    case "failed":
      ui.docsProgressText.textContent = u.message;
      break;
  }
}

/** Run one ingest with the progress bar, then refresh the list. */
async function ingest(run: (onEvent: (u: IngestUpdate) => void) => Promise<unknown>) {
  ui.docsProgressBox.hidden = false;
  ui.docsProgress.removeAttribute("value");
  ui.docsProgressText.textContent = "Starting…";
  for (const b of [ui.docsAddFolder, ui.docsAddFiles, ui.docsRescan]) b.disabled = true;
  ui.docsCancel.hidden = false;
  try {
    await run(showIngest);
  } catch (e) {
    const err = asCommandError(e);
    if (err.code === "CANCELLED") ui.docsProgressBox.hidden = true;
    else notifyError(e);
  } finally {
    await refreshDocs();
  }
}

// ---------------------------------------------------------------- voice and camera

/** The push-to-talk recording in progress: started, or starting. */
let recording: { stopAsked: boolean; started: Promise<unknown> } | null = null;

function onRecording(e: RecordingEvent) {
  if (e.kind === "level") {
    ui.level.value = Math.min(1, e.peak);
    ui.recTime.textContent = `${e.seconds.toFixed(1)} s`;
  } else if (e.reason === "maxLength") {
    notify(`Recording stopped at the ${e.seconds.toFixed(0)} s limit.`, "info");
    void stopRecording();
  } else if (e.reason === "deviceLost") {
    notify(e.message ?? "The microphone stopped working.", "error", "AUDIO_DEVICE_FAILED");
    void stopRecording();
  }
}

function startRecording() {
  if (recording || view.generation) return;
  ui.record.classList.add("active");
  ui.recording.hidden = false;
  ui.level.value = 0;
  ui.recTime.textContent = "0.0 s";
  const r = { stopAsked: false, started: api.startRecording(onRecording) as Promise<unknown> };
  recording = r;
  r.started.then(
    () => {
      if (r.stopAsked) void stopRecording(true);
    },
    (e) => {
      endRecordingUi();
      recording = null;
      notifyError(e);
    },
  );
}

function endRecordingUi() {
  ui.record.classList.remove("active");
  ui.recording.hidden = true;
}

/** Release: turn the clip into an attachment (once it really started). */
async function stopRecording(afterStart = false) {
  const r = recording;
  if (!r) return;
  if (!afterStart) {
    r.stopAsked = true;
    try {
      await r.started;
    } catch {
      return;
    }
  }
  if (recording !== r) return;
  recording = null;
  endRecordingUi();
  try {
    const clip = await api.stopRecording();
    if (clip.transcript !== undefined) {
      // A model without audio input: Whisper's transcript is the question.
      if (!clip.transcript) notify("Nothing was understood in the recording.", "info");
      ui.input.value = ui.input.value ? `${ui.input.value} ${clip.transcript}` : clip.transcript;
      ui.input.focus();
      return;
    }
    stageAll([clip]);
    if (view.model?.model && !view.model.model.audio)
      notify("The loaded model cannot hear audio; it will refuse the recording when you send (set [audio] whisper_model to transcribe instead).", "info");
  } catch (e) {
    notifyError(e);
  }
}

async function openCamera() {
  try {
    const cams = await api.listCameras();
    if (!cams.length) return notify("No camera was found.", "error", "NO_CAMERA");
    ui.cameraSelect.replaceChildren(
      ...cams.map((c) => {
        const o = el("option", undefined, c.name);
        o.value = String(c.index);
        return o;
      }),
    );
    ui.cameraDialog.showModal();
    await startPreview();
  } catch (e) {
    ui.cameraDialog.close();
    notifyError(e);
  }
}

async function startPreview() {
  ui.cameraPreview.removeAttribute("src");
  await api.startCamera(Number(ui.cameraSelect.value), (f) => {
    ui.cameraPreview.src = f.dataUrl;
  });
}

async function snapCamera() {
  try {
    stageAll([await api.snapCamera(Number(ui.cameraSelect.value))]);
    ui.cameraDialog.close();
  } catch (e) {
    notifyError(e);
  }
}

// ---------------------------------------------------------------- settings

async function openSettings() {
  try {
    const s = await api.getSettings();
    view.settings = s;
    const f = ui.settingsForm;
    for (const [k, v] of Object.entries(s)) {
      const input = f.elements.namedItem(k) as HTMLInputElement | HTMLTextAreaElement | null;
      if (input instanceof HTMLInputElement && input.type === "checkbox") input.checked = Boolean(v);
      else if (input) input.value = v === null ? "" : String(v);
    }
    (f.elements.namedItem("backendApiKey") as HTMLInputElement).value = "";
    (f.elements.namedItem("backendApiKey") as HTMLInputElement).placeholder = s.backendApiKeySet
      ? "saved (type a new one, or a space to remove it)"
      : "none";
    ui.settingsPath.textContent = s.configPath;
    showApi(await api.getApiServer());
    ui.settings.showModal();
  } catch (e) {
    notifyError(e);
  }
}

async function saveSettings() {
  const f = ui.settingsForm;
  const get = (k: string) => (f.elements.namedItem(k) as HTMLInputElement).value;
  const num = (k: string) => Number(get(k));
  const seed = get("seed").trim();
  const s: Settings = {
    systemPrompt: get("systemPrompt"),
    maxTokens: num("maxTokens"),
    nCtx: num("nCtx"),
    threads: num("threads"),
    nGpuLayers: get("nGpuLayers").trim() === "" ? null : num("nGpuLayers"),
    temperature: num("temperature"),
    topK: num("topK"),
    topP: num("topP"),
    minP: num("minP"),
    repeatPenalty: num("repeatPenalty"),
    seed: seed === "" ? null : Number(seed),
    speakReplies: (f.elements.namedItem("speakReplies") as HTMLInputElement).checked,
    voice: (f.elements.namedItem("voice") as HTMLSelectElement).value as Settings["voice"],
    backendKind: (f.elements.namedItem("backendKind") as HTMLSelectElement).value === "openai" ? "openai" : "local",
    backendUrl: get("backendUrl"),
    backendModel: get("backendModel"),
    backendEmbedModel: get("backendEmbedModel"),
    backendApiKey: get("backendApiKey") === "" ? null : get("backendApiKey"),
    backendApiKeySet: view.settings?.backendApiKeySet ?? false,
    configPath: view.settings?.configPath ?? "",
  };
  try {
    view.settings = await api.updateSettings(s);
    const port = Number(ui.apiPort.value || "0");
    const before = view.api;
    if (!before || before.enabled !== ui.apiEnabled.checked || before.port !== port) {
      const a = await api.setApiServer(ui.apiEnabled.checked, port);
      showApi(a);
      if (a.error) notify(`The local API could not start: ${a.error.message}`, "error", a.error.code);
      else if (a.running) notify(`The local API serves ${a.url}`, "info");
    }
    ui.settings.close();
    notify("Settings saved.", "info");
  } catch (e) {
    notifyError(e);
  }
}

function showApi(a: ApiStatus) {
  view.api = a;
  ui.apiEnabled.checked = a.enabled;
  ui.apiPort.value = String(a.port);
  ui.apiStatus.textContent = a.running
    ? `Serving ${a.url} — send “Authorization: Bearer ${a.token ?? "?"}”`
    : a.enabled
      ? "Starts when a model is loaded."
      : a.token
        ? `Off. Clients will need the token ${a.token}`
        : "Off.";
}

// ---------------------------------------------------------------- wiring

function wire() {
  ui.composer.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  ui.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  ui.stop.onclick = stop;
  ui.consentOnce.onclick = () => answerConsent("once");
  ui.consentAlways.onclick = () => answerConsent("always");
  ui.consentDeny.onclick = () => answerConsent("deny");
  ui.consent.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    answerConsent("deny");
  });
  ui.attach.onclick = pickImages;
  ui.newChat.onclick = newConversation;
  ui.openModel.onclick = chooseModel;
  ui.setupChoose.onclick = chooseModel;
  ui.setupCancel.onclick = () => void api.cancelDownload().catch(notifyError);
  ui.openSettings.onclick = openSettings;
  ui.openDocs.onclick = openDocs;
  ui.docsClose.onclick = () => ui.docs.close();
  ui.sourceClose.onclick = () => ui.source.close();
  ui.docsAddFolder.onclick = () => ingest((f) => api.addDocuments(true, f));
  ui.docsAddFiles.onclick = () => ingest((f) => api.addDocuments(false, f));
  ui.docsRescan.onclick = () => ingest(api.rescanDocuments);
  ui.docsCancel.onclick = () => void api.cancelIngest().catch(notifyError);
  ui.docsEmbedModel.onclick = chooseEmbeddingModel;
  ui.record.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    startRecording();
  });
  for (const t of ["pointerup", "pointerleave", "pointercancel"]) ui.record.addEventListener(t, () => void stopRecording());
  ui.record.addEventListener("keydown", (ev) => {
    if ((ev.key === " " || ev.key === "Enter") && !ev.repeat) {
      ev.preventDefault();
      startRecording();
    }
  });
  ui.record.addEventListener("keyup", (ev) => {
    if (ev.key === " " || ev.key === "Enter") void stopRecording();
  });
  ui.camera.onclick = openCamera;
  ui.cameraSnap.onclick = snapCamera;
  ui.cameraSelect.onchange = () => void startPreview().catch(notifyError);
  ui.cameraClose.onclick = () => ui.cameraDialog.close();
  ui.cameraDialog.addEventListener("close", () => void api.stopCamera().catch(notifyError));
  let searchTimer = 0;
  ui.search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(refreshConversations, 150);
  });
  ui.settingsForm.addEventListener("submit", (ev) => {
    if ((ev.submitter as HTMLButtonElement | null)?.value === "save") {
      ev.preventDefault();
      void saveSettings();
    }
  });
  ui.messages.addEventListener("click", (ev) => {
    const link = (ev.target as HTMLElement).closest<HTMLAnchorElement>("a[href]");
    if (link) return void openLink(ev, link);
    const cite = (ev.target as HTMLElement).closest<HTMLButtonElement>("[data-source]");
    if (cite) return void openSource(cite, Number(cite.dataset.source));
    const b = (ev.target as HTMLElement).closest<HTMLButtonElement>(".copy-code");
    const code = b?.closest(".code")?.querySelector("code");
    if (b && code) copyText(code.textContent ?? "", b);
  });
  ui.messages.addEventListener("auxclick", (ev) => {
    if ((ev.target as HTMLElement).closest("a[href]")) ev.preventDefault();
  });
  document.addEventListener("keyup", (ev) => {
    if (ev.key === "F2") void stopRecording();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "F2") {
      ev.preventDefault();
      if (!ev.repeat) startRecording();
      return;
    }
    if (ev.key === "Escape" && view.generation) {
      ev.preventDefault();
      stop();
    } else if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "n") {
      ev.preventDefault();
      newConversation();
    }
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
    ui.dropOverlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) ui.dropOverlay.hidden = true;
  });
  document.addEventListener("dragover", (ev) => {
    if (hasFiles(ev)) ev.preventDefault();
  });
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    depth = 0;
    ui.dropOverlay.hidden = true;
    const files = Array.from(ev.dataTransfer?.files ?? []);
    if (files.length) void attachFiles(files);
  });
}

async function start() {
  wire();
  renderStaged();
  updateComposer();
  await api.onModelStatus(showModel);
  showModel(await api.modelStatus());
  await refreshConversations();
  ui.input.focus();
  document.body.dataset.ready = "true";
}

start().catch(notifyError);
