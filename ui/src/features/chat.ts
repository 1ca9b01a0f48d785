// The chat view: the open conversation's messages, the streamed answer
// (painted once per frame, announced once it ends), regenerate and edit,
// copy buttons, citations and links in answers.
import { api, type AttachmentView, type ChatEvent, type MessageView, type Source } from "../api";
import {
  answerAnnouncement,
  idBefore,
  keepThrough,
  parseToolRequest,
  unsavedMessage,
  versionLabel,
  versionStep,
  visibleMessages,
} from "../chat-state";
import { button, byId, el } from "../dom";
import { sourceLocation, statsLine, talkLine } from "../format";
import { renderMarkdown } from "../markdown";
import { announce, notify, notifyError } from "../notices";
import { app, emit, type Generation } from "../state";
import { showSource, useDocs } from "./documents";
import { askConsent, toolCallsNode, useTools, type ToolCallLine } from "./tools";

const messages = byId<HTMLElement>("messages");
const emptyHint = byId<HTMLDivElement>("empty-hint");

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

export function copyText(text: string, b: HTMLButtonElement) {
  navigator.clipboard.writeText(text).then(
    () => {
      b.textContent = "Copied";
      // The button's aria-label does not change: say it.
      announce("Copied to the clipboard.");
      setTimeout(() => (b.textContent = "Copy"), 1200);
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

function sourceList(sources: Source[]) {
  const box = el("div", "sources");
  box.append(el("span", "muted", "Sources:"));
  const list = el("ol");
  for (const s of sources) {
    const li = el("li");
    const b = button("source-link", `[${s.number}] ${sourceLocation(s)}`);
    b.dataset.source = String(s.number);
    li.append(b);
    list.append(li);
  }
  box.append(list);
  return box;
}

function messageNode(m: MessageView, index: number) {
  const node = el("article", `message ${m.role}`);
  node.dataset.id = String(m.id);
  node.setAttribute("aria-label", m.role === "user" ? "You" : m.role === "assistant" ? "Omnidesk" : m.role);
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
  const label = versionLabel(m);
  if (label) tools.append(versionSwitch(m, label));
  tools.append(el("span", "stats", statsLine(m.stats?.stats, m.stats?.finish)));
  const spoken = talkLine(m.stats?.talk);
  if (spoken) tools.append(el("span", "stats talk-timing", spoken));
  const copy = button("small", "Copy", m.role === "user" ? "Copy question" : "Copy answer");
  copy.onclick = () => copyText(m.content, copy);
  tools.append(copy);
  const last = index === app.messages.length - 1;
  if (m.role === "assistant" && last) {
    const regen = button("small regenerate", "Regenerate");
    regen.onclick = () => regenerate();
    tools.append(regen);
  }
  if (m.role === "user") {
    const edit = button("small edit", "Edit");
    edit.onclick = () => editMessage(index);
    tools.append(edit);
  }
  node.append(tools);
  return node;
}

/** "‹ 2/3 ›": move between the versions of a regenerated or edited message. */
function versionSwitch(m: MessageView, label: string) {
  const box = el("span", "versions");
  box.setAttribute("role", "group");
  const who = m.role === "user" ? "question" : "answer";
  box.setAttribute("aria-label", `Version ${label.replace("/", " of ")} of this ${who}`);
  const prev = button("small version-prev", "‹", `Previous version of this ${who}`);
  const next = button("small version-next", "›", `Next version of this ${who}`);
  const prevId = versionStep(m, -1);
  const nextId = versionStep(m, 1);
  prev.disabled = prevId === null;
  next.disabled = nextId === null;
  prev.onclick = () => prevId !== null && void showVersion(prevId);
  next.onclick = () => nextId !== null && void showVersion(nextId);
  box.append(prev, el("span", "version-label", label), next);
  return box;
}

/** Show version `messageId`; the conversation continues from it. */
async function showVersion(messageId: number) {
  const id = app.conversationId;
  if (id === null || app.generation) return;
  try {
    const view = await api.selectVersion(id, messageId);
    showConversation(id, visibleMessages(view.messages));
  } catch (e) {
    notifyError(e);
  }
}

/** Show the passage behind citation `n` of the answer in `node`. */
function openSource(node: HTMLElement, n: number) {
  const id = Number(node.closest<HTMLElement>(".message")?.dataset.id);
  const m = app.messages.find((x) => x.id === id);
  const s = m?.stats?.sources?.find((x) => x.number === n);
  if (s) void showSource(s);
}

/** Redraw the chat from app.messages. */
export function renderMessages() {
  messages.replaceChildren(emptyHint);
  emptyHint.hidden = app.messages.length > 0;
  app.messages.forEach((m, i) => messages.append(messageNode(m, i)));
  emit("messages");
  scrollDown(true);
}

/** Show `list` as the open conversation `id` (null: a new one). */
export function showConversation(id: number | null, list: MessageView[]) {
  app.conversationId = id;
  app.messages = list;
  renderMessages();
}

function scrollDown(force = false) {
  const m = messages;
  if (force || m.scrollHeight - m.scrollTop - m.clientHeight < 120) m.scrollTop = m.scrollHeight;
}

/** Answer the last question again, with its attachments; the old answer stays a version. */
function regenerate() {
  const q = app.messages[app.messages.length - 2];
  if (!q || q.role !== "user" || q.id < 0) return;
  void ask(q.content, [], null, q.id);
}

function editMessage(index: number) {
  const m = app.messages[index];
  const node = messages.querySelector<HTMLElement>(`.message[data-id="${m.id}"] .content`);
  if (!node || app.generation) return;
  const area = el("textarea", "edit-area");
  area.value = m.content;
  area.rows = Math.min(10, m.content.split("\n").length + 1);
  area.setAttribute("aria-label", "Edit message");
  const save = button("primary small", "Send");
  const cancel = button("small", "Cancel");
  const box = el("div", "edit-box");
  box.append(area, el("div", "edit-buttons"));
  box.lastElementChild!.append(cancel, save);
  node.replaceWith(box);
  area.focus();
  cancel.onclick = () => renderMessages();
  save.onclick = () => {
    if (!area.value.trim()) return;
    void ask(area.value, [], idBefore(app.messages, index));
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

/**
 * Ask `text` with staged `attachments` in the open conversation. With
 * `truncateAfter` the question goes after that stored message (edit and
 * resend); with `regenerate` that stored question is answered again. The
 * branch left behind stays, as other versions.
 */
export async function ask(
  text: string,
  attachments: AttachmentView[],
  truncateAfter: number | null = null,
  regenerate: number | null = null,
  talk = false,
) {
  if (app.generation) return;
  // Regenerating keeps its question; an edit keeps what comes before it.
  const keep = regenerate ?? truncateAfter;
  if (keep !== null) app.messages = keepThrough(app.messages, keep);
  const question: MessageView =
    regenerate !== null
      ? app.messages[app.messages.length - 1]
      : unsavedMessage(-1, "user", text, attachments);
  const answer = unsavedMessage(-2, "assistant");
  if (regenerate === null) app.messages.push(question);
  app.messages.push(answer);
  renderMessages();
  const answerNode = messages.lastElementChild as HTMLElement;
  answerNode.classList.add("streaming");
  // Screen readers skip a region while it is busy; the end is announced.
  answerNode.setAttribute("aria-busy", "true");
  const content = answerNode.querySelector<HTMLElement>(".content")!;
  const callsSlot = answerNode.querySelector<HTMLElement>(".tool-calls-slot")!;
  // Calls of the answer being written; the stored ones replace them once saved.
  const calls: ToolCallLine[] = [];
  const paintCalls = () => callsSlot.replaceChildren(toolCallsNode(calls));
  const meta = answerNode.querySelector<HTMLElement>(".stats")!;
  answerNode.querySelector(".regenerate")?.remove();
  content.innerHTML = '<span class="typing" role="img" aria-label="Thinking">●●●</span>';
  const gen: Generation = { id: null, stopRequested: false, failed: false };
  app.generation = gen;
  emit("busy");
  let frame = 0;
  const paint = () => {
    frame = 0;
    content.replaceChildren(renderMarkdown(answer.content, [], { streaming: true }));
    scrollDown();
  };
  let ended = false;
  const onEvent = (ev: ChatEvent) => {
    switch (ev.kind) {
      case "sources":
        answer.stats = { finish: null, stats: null, sources: ev.sources };
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
        ended = true;
        answer.stats = { ...answer.stats, finish: ev.finish, stats: ev.stats };
        if (ev.talk)
          answer.stats.talk = {
            speech_end_to_first_token_ms: ev.speechToFirstTokenMs,
            speech_end_to_first_audio_ms: ev.speechToFirstAudioMs,
            endpoint_silence_ms: null,
          };
        if (ev.citations && ev.citations.cites_nothing)
          notify("The answer cites none of the document snippets it was given; check it against the sources.", "info");
        else if (ev.citations && ev.citations.invalid.length)
          notify(`The answer cites ${ev.citations.invalid.map((n) => `[${n}]`).join(", ")}, which match no source.`, "info");
        answer.id = ev.answerId;
        question.id = ev.questionId;
        app.conversationId = ev.conversationId;
        break;
      case "failed":
        gen.failed = true;
        notify(ev.message, "error", ev.code);
        break;
      case "notice":
        notify(ev.message, "error", ev.code);
        break;
      case "toolCall":
        calls.push({ call_id: ev.callId, tool: ev.name, arguments: ev.arguments, output: "", error: null, duration_ms: -1 });
        paintCalls();
        break;
      case "toolResult": {
        const c = calls.find((x) => x.call_id === ev.callId && x.duration_ms < 0);
        if (c) Object.assign(c, { output: ev.output, error: ev.error, duration_ms: ev.durationMs });
        paintCalls();
        break;
      }
      case "consent":
        askConsent(ev.requestId, ev.tool, ev.description, ev.arguments);
        break;
    }
  };
  const tools = useTools();
  const request = parseToolRequest(text, tools);
  try {
    await api.sendMessage(
      {
        conversationId: app.conversationId,
        text: request.text,
        attachmentIds: attachments.map((a) => a.id!),
        truncateAfter,
        regenerate,
        useDocs: useDocs(),
        useTools: tools,
        tools: request.tools,
        requireTool: request.requireTool,
        talk,
      },
      onEvent,
    );
  } catch (e) {
    if (!gen.failed) notifyError(e);
    app.messages = app.messages.filter((m) => m !== answer && (regenerate !== null || m !== question));
    // Give the question back so it is not lost (attachments must be re-added).
    if (regenerate === null) emit("restoreInput", text);
  } finally {
    if (frame) cancelAnimationFrame(frame);
    app.generation = null;
    emit("busy");
    // A new version: read the branch back so "‹ 2/3 ›" counts it; tool
    // calls: show them as stored.
    const branched = regenerate !== null || truncateAfter !== null;
    if (ended && app.conversationId !== null && (branched || calls.length > 0)) {
      try {
        const view = await api.getConversation(app.conversationId!);
        app.messages = visibleMessages(view.messages);
      } catch (e) {
        notifyError(e);
      }
    }
    renderMessages();
    if (ended) announce(answerAnnouncement(answer.content, answer.stats?.finish));
    emit("conversations");
  }
}

/** Stop the answer being generated (Stop button, Esc). */
export function stop() {
  const gen = app.generation;
  if (!gen) return;
  gen.stopRequested = true;
  void api.stopGeneration(gen.id).catch(notifyError);
}

export function initChat() {
  messages.addEventListener("click", (ev) => {
    const target = ev.target as HTMLElement;
    const link = target.closest<HTMLAnchorElement>("a[href]");
    if (link) return openLink(ev, link);
    const cite = target.closest<HTMLButtonElement>("[data-source]");
    if (cite) return openSource(cite, Number(cite.dataset.source));
    const b = target.closest<HTMLButtonElement>(".copy-code");
    const code = b?.closest(".code")?.querySelector("code");
    if (b && code) copyText(code.textContent ?? "", b);
  });
  // A middle click would open the link in a new window.
  messages.addEventListener("auxclick", (ev) => {
    if ((ev.target as HTMLElement).closest("a[href]")) ev.preventDefault();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && app.generation) {
      ev.preventDefault();
      stop();
    }
  });
}
