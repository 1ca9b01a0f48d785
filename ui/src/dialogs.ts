// Modal dialogs: `showModal` already makes the rest of the window inert;
// this also keeps Tab cycling inside the dialog (WebKit can otherwise tab
// out to the page) and gives focus back to whatever opened the dialog.

const openers = new WeakMap<HTMLDialogElement, HTMLElement | null>();
const wired = new WeakSet<HTMLDialogElement>();

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

function focusables(d: HTMLDialogElement): HTMLElement[] {
  // checkVisibility (where the engine has it) also skips display:none parents.
  return Array.from(d.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (e) => !e.closest("[hidden]") && (typeof e.checkVisibility !== "function" || e.checkVisibility()),
  );
}

function wire(d: HTMLDialogElement) {
  if (wired.has(d)) return;
  wired.add(d);
  d.addEventListener("keydown", (ev) => {
    if (ev.key !== "Tab") return;
    const list = focusables(d);
    if (!list.length) return;
    const first = list[0];
    const last = list[list.length - 1];
    const active = document.activeElement;
    if (ev.shiftKey && (active === first || !d.contains(active))) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (active === last || !d.contains(active))) {
      ev.preventDefault();
      first.focus();
    }
  });
  d.addEventListener("close", () => {
    // Opened again before this (asynchronous) event came: nothing to return.
    if (d.open) return;
    const opener = openers.get(d);
    openers.delete(d);
    // Back to the opener when it can still take focus, else to the composer.
    if (opener?.isConnected && !opener.closest("[hidden]")) opener.focus();
    if (!opener || document.activeElement !== opener) document.getElementById("input")?.focus();
  });
}

/** Open `d` modally, remembering the focused element to return to. */
export function openDialog(d: HTMLDialogElement) {
  wire(d);
  if (d.open) return;
  const active = document.activeElement;
  openers.set(d, active instanceof HTMLElement && active !== document.body ? active : null);
  d.showModal();
}
