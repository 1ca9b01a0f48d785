// Pure rules of the chat and the sidebar, kept apart from the DOM so they
// are unit-tested.
import type { AttachmentView, MessageView, ModelStatus } from "./api";

/** A message not stored yet (the question being sent, the answer being written). */
export function unsavedMessage(
  id: number,
  role: MessageView["role"],
  content = "",
  attachments: AttachmentView[] = [],
): MessageView {
  return { id, role, content, attachments, stats: null, toolCalls: [], parentId: null, versions: [] };
}

/** The messages the chat shows: everything but the system prompt. */
export function visibleMessages(messages: MessageView[]): MessageView[] {
  return messages.filter((m) => m.role !== "system");
}

/** The messages kept when those after stored id `truncateAfter` are replaced (0 = all go). */
export function keepThrough(messages: MessageView[], truncateAfter: number): MessageView[] {
  const keep = truncateAfter === 0 ? 0 : messages.findIndex((m) => m.id === truncateAfter) + 1;
  return messages.slice(0, keep);
}

/** The id of the stored message before `index` (0 clears the conversation). */
export function idBefore(messages: MessageView[], index: number): number {
  return index > 0 ? messages[index - 1].id : 0;
}

/** What the sidebar says when it lists nothing. */
export function emptyListText(query: string): string {
  return query ? "No matches" : "No conversations yet";
}

/** The first-run screen shows without a usable model, unless a conversation is open. */
export function showSetup(model: ModelStatus | null, messageCount: number): boolean {
  if (!model) return false;
  return (model.state === "empty" || model.state === "failed") && messageCount === 0;
}

export interface ToolRequest {
  text: string;
  tools: string[] | null;
  requireTool: boolean;
}

/**
 * "@tool_name question" with Tools ticked offers only that tool and makes
 * the model call it first; anything else is sent as it is.
 */
export function parseToolRequest(text: string, useTools: boolean): ToolRequest {
  const forced = useTools ? /^@([A-Za-z0-9_.:-]+)\s+([\s\S]*)$/.exec(text) : null;
  return forced ? { text: forced[2], tools: [forced[1]], requireTool: true } : { text, tools: null, requireTool: false };
}

/** Longest answer read out whole when it is ready. */
export const ANNOUNCE_MAX = 300;

/**
 * What screen readers hear once an answer has ended (never per token): the
 * answer itself when short, else that it is ready.
 */
export function answerAnnouncement(text: string, finish: string | null | undefined): string {
  const t = text.replace(/\s+/g, " ").trim();
  const head = finish === "cancelled" ? "Answer stopped" : "Answer ready";
  if (!t) return `${head}.`;
  if (t.length <= ANNOUNCE_MAX) return `${head}: ${t}`;
  return `${head}: ${t.slice(0, ANNOUNCE_MAX).replace(/\s\S*$/, "")}… (continues in the chat)`;
}

/** "2/3" for a message with other versions, or null when it has none. */
export function versionLabel(m: MessageView): string | null {
  const v = m.versions ?? [];
  const i = v.indexOf(m.id);
  return v.length > 1 && i >= 0 ? `${i + 1}/${v.length}` : null;
}

/** The id of the version `step` (-1 previous, +1 next) from `m`'s, or null at an end. */
export function versionStep(m: MessageView, step: number): number | null {
  const v = m.versions ?? [];
  const at = v.indexOf(m.id);
  const i = at + step;
  return at >= 0 && i >= 0 && i < v.length ? v[i] : null;
}
