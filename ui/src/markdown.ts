// Answers are Markdown written by a model, so they are untrusted input.
// markdown-it renders them with raw HTML off (tags in the answer show as
// text), DOMPurify then sanitises whatever markdown-it produced against a
// short allow-list (defence in depth), and highlight.js colours fenced code.
// The window's own controls (copy buttons, citation buttons) are added to
// the sanitised DOM afterwards, never as HTML strings.
import DOMPurify from "dompurify";
import MarkdownIt from "markdown-it";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import csharp from "highlight.js/lib/languages/csharp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import ini from "highlight.js/lib/languages/ini";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import plaintext from "highlight.js/lib/languages/plaintext";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

// Core plus common languages only: the full bundle is ~1 MB.
for (const [name, lang] of Object.entries({
  bash, c, cpp, csharp, css, diff, go, ini, java, javascript, json, markdown,
  plaintext, python, rust, shell, sql, typescript, xml, yaml,
})) {
  hljs.registerLanguage(name, lang);
}
hljs.registerAliases(["toml"], { languageName: "ini" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });

/** Above this size unlabelled code is not auto-detected (it tries every language). */
const AUTO_DETECT_MAX = 4000;
/** Off while an answer streams: the text is rendered again every frame. */
let autoDetect = true;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] as string,
  );
}

function highlight(code: string, info: string): string {
  const lang = info.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  let body: string;
  let shown = lang;
  try {
    if (lang && hljs.getLanguage(lang)) {
      body = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    } else if (!lang && autoDetect && code.length <= AUTO_DETECT_MAX) {
      const r = hljs.highlightAuto(code);
      body = r.value;
      shown = "";
    } else {
      body = escapeHtml(code);
    }
  } catch {
    body = escapeHtml(code);
  }
  const cls = shown ? `hljs language-${escapeHtml(shown)}` : "hljs";
  return `<pre><code class="${cls}">${body}</code></pre>`;
}

const md = new MarkdownIt({
  html: false,
  linkify: true,
  // Models write single newlines as line breaks.
  breaks: true,
  highlight,
});
// Images in an answer would load whatever the model names (a tracking
// pixel at best); `![alt](url)` stays text, as it did before.
md.disable("image");
// Answers are shown inside the chat, whose own headings are h1/h2: shift
// the answer's headings down by two, as the previous renderer did, and
// replace markdown-it's inline `style="text-align"` on table cells (the
// window's CSP forbids inline styles) with a class.
md.core.ruler.push("omnidesk_tweaks", (state) => {
  for (const t of state.tokens) {
    if (t.type === "heading_open" || t.type === "heading_close") {
      t.tag = `h${Math.min(Number(t.tag.slice(1)) + 2, 6)}`;
    } else if (t.type === "th_open" || t.type === "td_open") {
      const style = t.attrGet("style");
      if (style) {
        t.attrs = (t.attrs ?? []).filter(([k]) => k !== "style");
        const align = /text-align:\s*(left|right|center)/.exec(String(style))?.[1];
        if (align) t.attrJoin("class", `align-${align}`);
      }
    }
  }
});

const PURIFY = {
  ALLOWED_TAGS: [
    "p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "a", "span",
    "table", "thead", "tbody", "tr", "th", "td",
  ],
  ALLOWED_ATTR: ["href", "title", "class", "start"],
  ALLOW_DATA_ATTR: false,
  // Web and mail links only: no javascript:, data:, file: or relative
  // links that would navigate the app's own window.
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
};

/** A source that `[n]` in an answer may cite. */
export interface Citable {
  number: number;
}

const CITATION = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** Text nodes outside code and links, where `[n]` is a citation. */
function citationTextNodes(root: Node): Text[] {
  const out: Text[] = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement?.closest("code, pre, a")) out.push(n as Text);
  }
  return out;
}

/** Turn each valid `[n]` / `[n, m]` into buttons that open source n; invalid numbers stay text. */
function linkCitations(root: DocumentFragment, sources: readonly Citable[]) {
  const valid = new Set(sources.map((s) => s.number));
  for (const text of citationTextNodes(root)) {
    const s = text.data;
    const parts: (string | Node)[] = [];
    let last = 0;
    for (const m of s.matchAll(CITATION)) {
      const nums = m[1].split(",").map((n) => Number(n.trim()));
      if (!nums.every((n) => valid.has(n))) continue;
      parts.push(s.slice(last, m.index));
      for (const n of nums) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "cite";
        b.dataset.source = String(n);
        b.title = `Open source ${n}`;
        b.textContent = `[${n}]`;
        parts.push(b);
      }
      last = m.index + m[0].length;
    }
    if (!last) continue;
    parts.push(s.slice(last));
    text.replaceWith(...parts.filter((p) => p !== ""));
  }
}

/** Fenced code gets the header with its language and a Copy button. */
function decorateCode(root: DocumentFragment) {
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    const code = pre.querySelector("code");
    const lang = /(?:^|\s)language-(\S+)/.exec(code?.className ?? "")?.[1] ?? "";
    const box = document.createElement("div");
    box.className = "code";
    const head = document.createElement("div");
    head.className = "code-head";
    const label = document.createElement("span");
    label.textContent = lang;
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy-code";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", lang ? `Copy ${lang} code` : "Copy code");
    head.append(label, copy);
    // Long lines scroll sideways: focusable, so a keyboard can scroll too.
    pre.tabIndex = 0;
    pre.replaceWith(box);
    box.append(head, pre);
  }
}

/**
 * Links keep their address visible (title) and never navigate this window:
 * the chat view intercepts clicks on them (see features/chat.ts).
 */
function decorateLinks(root: DocumentFragment) {
  for (const a of Array.from(root.querySelectorAll("a"))) {
    const href = a.getAttribute("href");
    if (!href) {
      // DOMPurify dropped an unsafe address: keep the words, lose the link.
      a.replaceWith(...Array.from(a.childNodes));
      continue;
    }
    a.title = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
}

/**
 * Render Markdown `src` to a sanitised DOM fragment. Unclosed code fences
 * (mid-stream) render as code to the end. With `sources`, valid `[n]`
 * citations outside code become `button.cite[data-source=n]`. `streaming`
 * skips guessing the language of unlabelled code (done once at the end).
 */
export function renderMarkdown(
  src: string,
  sources: readonly Citable[] = [],
  opts: { streaming?: boolean } = {},
): DocumentFragment {
  autoDetect = !opts.streaming;
  let html: string;
  try {
    html = md.render(src);
  } finally {
    autoDetect = true;
  }
  const frag = DOMPurify.sanitize(html, { ...PURIFY, RETURN_DOM_FRAGMENT: true });
  decorateLinks(frag);
  decorateCode(frag);
  // Wide tables scroll sideways (see .content table in style.css).
  for (const t of Array.from(frag.querySelectorAll("table"))) t.tabIndex = 0;
  if (sources.length) linkCitations(frag, sources);
  return frag;
}

/** The same, as an HTML string (tests, and callers that need text). */
export function renderMarkdownHtml(src: string, sources: readonly Citable[] = []): string {
  const div = document.createElement("div");
  div.append(renderMarkdown(src, sources));
  return div.innerHTML;
}
