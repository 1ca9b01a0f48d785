// A small, safe Markdown renderer for answers: everything is escaped
// first, then a fixed set of constructs becomes markup (fenced code with
// light keyword highlighting, inline code, headings, lists, quotes, bold,
// italics, links shown as text). It never emits raw HTML from the model.

const KEYWORDS = new Set(
  (
    "fn let mut const pub struct enum impl trait use mod match if else for while loop return " +
    "def class import from as in is not and or None True False self async await yield " +
    "function var new this typeof null undefined true false export default interface type " +
    "int char void static public private protected package func go defer"
  ).split(" "),
);

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/** Highlight one escaped code block: strings, comments, numbers, keywords. */
function highlight(escaped: string): string {
  const re = /(&quot;.*?&quot;|&#39;.*?&#39;|`[^`]*`)|(\/\/[^\n]*|#[^\n]*)|\b(\d+(?:\.\d+)?)\b|\b([A-Za-z_]\w*)\b/g;
  return escaped.replace(re, (m, str, com, num, word) => {
    if (str) return `<span class="hl-str">${str}</span>`;
    if (com) return `<span class="hl-com">${com}</span>`;
    if (num) return `<span class="hl-num">${num}</span>`;
    if (word && KEYWORDS.has(word)) return `<span class="hl-kw">${word}</span>`;
    return m;
  });
}

function inline(escaped: string): string {
  const codes: string[] = [];
  let s = escaped.replace(/`([^`\n]+)`/g, (_, c) => {
    codes.push(`<code>${c}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  s = s
    .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, '<span class="link" title="$2">$1</span>');
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

/** Render Markdown `src` to HTML. Unclosed code fences (mid-stream) render as code. */
export function renderMarkdown(src: string): string {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const out: string[] = [];
  let para: string[] = [];
  let list: { tag: "ul" | "ol"; items: string[] } | null = null;
  const flushPara = () => {
    if (para.length) out.push(`<p>${inline(escapeHtml(para.join("\n"))).replace(/\n/g, "<br>")}</p>`);
    para = [];
  };
  const flushList = () => {
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join("")}</${list.tag}>`);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s*```\s*([\w+#.-]*)\s*$/);
    if (fence) {
      flushPara();
      flushList();
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) code.push(lines[i++]);
      const lang = fence[1] ? escapeHtml(fence[1]) : "";
      out.push(
        `<div class="code"><div class="code-head"><span>${lang}</span><button type="button" class="copy-code">Copy</button></div>` +
          `<pre><code>${highlight(escapeHtml(code.join("\n")))}</code></pre></div>`,
      );
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    const bullet = line.match(/^\s*[-*+]\s+(.*)$/);
    const numbered = line.match(/^\s*\d+[.)]\s+(.*)$/);
    const quote = line.match(/^>\s?(.*)$/);
    if (heading) {
      flushPara();
      flushList();
      const n = Math.min(heading[1].length + 2, 6);
      out.push(`<h${n}>${inline(escapeHtml(heading[2]))}</h${n}>`);
    } else if (bullet || numbered) {
      flushPara();
      const tag = bullet ? "ul" : "ol";
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag, items: [] };
      list.items.push(inline(escapeHtml((bullet ?? numbered)![1])));
    } else if (quote) {
      flushPara();
      flushList();
      out.push(`<blockquote>${inline(escapeHtml(quote[1]))}</blockquote>`);
    } else if (line.trim() === "") {
      flushPara();
      flushList();
    } else {
      flushList();
      para.push(line);
    }
  }
  flushPara();
  flushList();
  return out.join("");
}
