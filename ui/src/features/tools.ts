// Tools: the composer's "Tools" switch, the calls shown above an answer,
// and the consent dialog that asks before a tool runs.
import { api, type StoredToolCall } from "../api";
import { ConsentQueue, type ConsentAnswer } from "../consent-queue";
import { openDialog } from "../dialogs";
import { byId, el } from "../dom";
import { notifyError } from "../notices";

const useToolsBox = byId<HTMLInputElement>("use-tools");
const consent = byId<HTMLDialogElement>("consent");
const consentText = byId<HTMLParagraphElement>("consent-text");
const consentArgs = byId<HTMLPreElement>("consent-args");
const consentOnce = byId<HTMLButtonElement>("consent-once");
const consentAlways = byId<HTMLButtonElement>("consent-always");
const consentDeny = byId<HTMLButtonElement>("consent-deny");

const queue = new ConsentQueue();

/** Whether the next question may use tools. */
export function useTools(): boolean {
  return useToolsBox.checked;
}

/** What a tool call line shows: a stored call, or one still running (`duration_ms` < 0). */
export type ToolCallLine = Pick<StoredToolCall, "call_id" | "tool" | "arguments" | "output" | "error" | "duration_ms">;

/** One line per tool call: name and arguments, result folded inside. */
export function toolCallsNode(calls: ToolCallLine[]): HTMLElement {
  const box = el("div", "tool-calls");
  for (const c of calls) {
    const d = el("details", c.error ? "tool-call failed" : "tool-call");
    const pending = c.duration_ms < 0;
    const status = pending ? "running…" : c.error ? `failed (${c.error})` : `${Math.round(c.duration_ms)} ms`;
    d.append(el("summary", undefined, `🔧 ${c.tool}(${JSON.stringify(c.arguments)}) — ${status}`));
    if (!pending) {
      const out = el("pre", undefined, c.output);
      // It scrolls when long: focusable, so a keyboard can scroll it.
      out.tabIndex = 0;
      d.append(out);
    }
    box.append(d);
  }
  return box;
}

/** Queue a consent question; the dialog shows one at a time. */
export function askConsent(id: number, tool: string, description: string, args: unknown) {
  queue.push({ id, tool, description, args });
  if (!consent.open) showConsent();
}

function showConsent() {
  const q = queue.current;
  if (!q) return;
  consentText.textContent = `The model wants to run “${q.tool}”${q.description ? `: ${q.description}` : ""}. With:`;
  consentArgs.textContent = JSON.stringify(q.args, null, 2);
  openDialog(consent);
  // Enter or Space on an unread dialog must not run the tool.
  consentDeny.focus();
}

function answerConsent(answer: ConsentAnswer) {
  const replies = queue.answer(answer);
  consent.close();
  for (const r of replies) void api.answerToolConsent(r.id, r.answer).catch(notifyError);
  showConsent();
}

export function initTools() {
  consentOnce.onclick = () => answerConsent("once");
  consentAlways.onclick = () => answerConsent("always");
  consentDeny.onclick = () => answerConsent("deny");
  consent.addEventListener("cancel", (ev) => {
    ev.preventDefault();
    answerConsent("deny");
  });
}
