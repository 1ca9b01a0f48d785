// Notices in the corner of the chat, and what screen readers hear. Errors
// stay until dismissed; information goes by itself after a while, but not
// while the pointer or keyboard focus is on it.
import { asCommandError, type CommandError } from "./api";
import { button, el } from "./dom";

export type NoticeKind = "error" | "info" | "success";

/** How long information stays: long enough to read (and for the e2e test to see). */
export const INFO_NOTICE_MS = 10_000;

/** Milliseconds a notice of `kind` stays on screen; null: until dismissed. */
export function noticeLifetime(kind: NoticeKind): number | null {
  return kind === "error" ? null : INFO_NOTICE_MS;
}

/**
 * Say `text` to screen readers through one of the two live regions that
 * exist from start-up (regions added later are not reliably announced).
 */
export function announce(text: string, urgent = false) {
  const region = document.getElementById(urgent ? "announce-alert" : "announce-status");
  if (!region) return;
  // Clear first so the same text twice is announced twice.
  region.textContent = "";
  setTimeout(() => (region.textContent = text), 50);
}

/** Show `message`; `code` (a CommandError code) goes to data-code. */
export function notify(message: string, kind: NoticeKind = "error", code?: string): HTMLElement {
  const n = el("div", `notice ${kind}`);
  if (code) n.dataset.code = code;
  n.append(el("span", "notice-text", message));
  const close = button("notice-close", "×", "Dismiss notice");
  close.onclick = () => n.remove();
  n.append(close);
  document.getElementById("notices")?.append(n);
  announce(message, kind === "error");
  const ms = noticeLifetime(kind);
  if (ms !== null) {
    let timer = 0;
    const arm = () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => n.remove(), ms);
    };
    const hold = () => clearTimeout(timer);
    n.addEventListener("pointerenter", hold);
    n.addEventListener("pointerleave", arm);
    n.addEventListener("focusin", hold);
    n.addEventListener("focusout", arm);
    arm();
  }
  return n;
}

/** A failed command as an error notice; a cancellation is not an error. */
export function notifyError(e: unknown) {
  const err: CommandError = asCommandError(e);
  if (err.code === "CANCELLED") return;
  notify(err.message, "error", err.code);
}
