// axe-core over the window's markup in jsdom: names, labels, ARIA and
// landmarks. jsdom has no layout, so colour contrast is checked apart
// (contrast.test.ts) and the e2e test runs axe in the real WebView.
import axe from "axe-core";
import { beforeEach, describe, expect, it } from "vitest";
import indexHtml from "../index.html?raw";
import { renderMarkdown } from "./markdown";
import { notify } from "./notices";

function loadWindow() {
  const doc = new DOMParser().parseFromString(indexHtml, "text/html");
  document.documentElement.lang = doc.documentElement.lang;
  document.title = doc.title;
  document.body.innerHTML = doc.body.innerHTML;
}

async function violations(context: axe.ElementContext = document) {
  const r = await axe.run(context, {
    rules: { "color-contrast": { enabled: false } },
    resultTypes: ["violations"],
  });
  return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

describe("accessibility (axe-core)", () => {
  beforeEach(loadWindow);

  it("finds nothing in the window as it starts", async () => {
    expect(await violations()).toEqual([]);
  });

  it("finds nothing in any dialog when open", async () => {
    for (const d of document.querySelectorAll("dialog")) d.setAttribute("open", "");
    expect(await violations()).toEqual([]);
  });

  it("finds nothing in an answer with code, a table, links, citations and notices", async () => {
    const messages = document.getElementById("messages")!;
    const article = document.createElement("article");
    article.className = "message assistant";
    article.setAttribute("aria-label", "Omnidesk");
    const content = document.createElement("div");
    content.className = "content";
    content.append(
      renderMarkdown(
        "# Answer\n\nTides [1].\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n- x\n  - y\n\n```js\nconst a = 1;\n```\n\nSee https://example.com",
        [{ number: 1 }],
      ),
    );
    article.append(content);
    messages.append(article);
    notify("The local API serves http://127.0.0.1:1234", "info");
    notify("notes.txt is not an image", "error", "INVALID_MEDIA");
    expect(await violations()).toEqual([]);
  });

  it("labels every control", () => {
    for (const c of document.querySelectorAll<HTMLElement>("input, textarea, select, progress, meter")) {
      const id = c.id;
      const labelled =
        c.hasAttribute("aria-label") || (id && document.querySelector(`label[for="${id}"]`)) || c.closest("label");
      expect(labelled, c.outerHTML).toBeTruthy();
    }
    for (const b of document.querySelectorAll<HTMLButtonElement>("button")) {
      const name = b.getAttribute("aria-label") ?? b.textContent?.trim();
      expect(name, b.outerHTML).toBeTruthy();
      // Icon buttons (one symbol or an SVG) need a real name.
      if (b.classList.contains("icon")) expect(b.getAttribute("aria-label"), b.outerHTML).toBeTruthy();
    }
  });

  it("keeps the chat out of live regions (no announcement per token)", () => {
    const messages = document.getElementById("messages")!;
    expect(messages.closest("[aria-live], [role=log], [role=status], [role=alert]")).toBeNull();
    expect(document.getElementById("announce-status")!.getAttribute("aria-live")).toBe("polite");
    expect(document.getElementById("announce-alert")!.getAttribute("role")).toBe("alert");
  });

  it("makes the consent dialog decline by default", () => {
    const deny = document.getElementById("consent-deny")!;
    expect(deny.hasAttribute("autofocus")).toBe(true);
    expect(deny.textContent).toBe("Don't allow");
  });
});
