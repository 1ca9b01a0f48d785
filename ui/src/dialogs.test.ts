import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openDialog } from "./dialogs";

// jsdom has <dialog> but not showModal/close: a minimal stand-in that, like
// browsers, sets `open` and fires "close" asynchronously.
beforeAll(() => {
  const proto = HTMLDialogElement.prototype as HTMLDialogElement & Record<string, unknown>;
  proto.showModal = function (this: HTMLDialogElement) {
    this.setAttribute("open", "");
  };
  proto.close = function (this: HTMLDialogElement) {
    if (!this.open) return;
    this.removeAttribute("open");
    setTimeout(() => this.dispatchEvent(new Event("close")), 0);
  };
});

const tick = () => new Promise((r) => setTimeout(r, 5));

function tab(d: HTMLElement, shiftKey = false) {
  const ev = new KeyboardEvent("keydown", { key: "Tab", shiftKey, bubbles: true, cancelable: true });
  (document.activeElement ?? d).dispatchEvent(ev);
  return ev.defaultPrevented;
}

describe("dialogs", () => {
  let d: HTMLDialogElement;
  beforeEach(() => {
    document.body.innerHTML = `
      <textarea id="input"></textarea>
      <button id="opener">Open</button>
      <dialog id="d"><button id="a">A</button><button id="hidden-one" hidden>H</button><button id="b">B</button></dialog>`;
    d = document.getElementById("d") as HTMLDialogElement;
  });

  it("keeps Tab inside the dialog, both ways", () => {
    document.getElementById("opener")!.focus();
    openDialog(d);
    document.getElementById("b")!.focus();
    expect(tab(d)).toBe(true);
    expect(document.activeElement?.id).toBe("a");
    expect(tab(d, true)).toBe(true);
    expect(document.activeElement?.id).toBe("b");
    // In the middle, the browser moves focus itself.
    document.getElementById("a")!.focus();
    expect(tab(d)).toBe(false);
  });

  it("gives focus back to the opener when closed", async () => {
    const opener = document.getElementById("opener")!;
    opener.focus();
    openDialog(d);
    document.getElementById("a")!.focus();
    d.close();
    await tick();
    expect(document.activeElement).toBe(opener);
  });

  it("falls back to the composer when the opener is gone", async () => {
    const opener = document.getElementById("opener")!;
    opener.focus();
    openDialog(d);
    opener.remove();
    d.close();
    await tick();
    expect(document.activeElement?.id).toBe("input");
  });

  it("leaves focus alone when reopened before the close event", async () => {
    document.getElementById("opener")!.focus();
    openDialog(d);
    d.close();
    openDialog(d);
    document.getElementById("a")!.focus();
    await tick();
    expect(d.open).toBe(true);
    expect(document.activeElement?.id).toBe("a");
  });
});
