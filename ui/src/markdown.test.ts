import { describe, expect, it } from "vitest";
import { renderMarkdown, renderMarkdownHtml } from "./markdown";

function dom(src: string, sources: { number: number }[] = []) {
  const div = document.createElement("div");
  div.append(renderMarkdown(src, sources));
  return div;
}

describe("renderMarkdown", () => {
  it("renders tables, with alignment as a class (the CSP forbids inline styles)", () => {
    const d = dom("| a | b |\n|:--|--:|\n| 1 | 2 |\n| 3 | 4 |");
    expect(d.querySelectorAll("table thead th")).toHaveLength(2);
    expect(d.querySelectorAll("table tbody tr")).toHaveLength(2);
    expect(d.querySelector("td.align-right")?.textContent).toBe("2");
    expect(d.innerHTML).not.toContain("style=");
  });

  it("renders nested lists", () => {
    const d = dom("- one\n  - one.a\n  - one.b\n- two\n\n1. first\n2. second");
    expect(d.querySelectorAll("ul > li > ul > li")).toHaveLength(2);
    expect(d.querySelectorAll("ol > li")).toHaveLength(2);
  });

  it("highlights fenced code and adds the copy header", () => {
    const d = dom("```rust\nfn main() { let x = 1; }\n```");
    const code = d.querySelector(".code pre code.hljs.language-rust");
    expect(code).not.toBeNull();
    expect(code!.querySelector(".hljs-keyword")?.textContent).toBe("fn");
    expect(d.querySelector(".code-head span")?.textContent).toBe("rust");
    expect(d.querySelector(".code-head button.copy-code")?.textContent).toBe("Copy");
  });

  it("renders an unclosed fence (mid-stream) as code", () => {
    const d = dom("Here:\n```python\ndef f():\n    return 1");
    expect(d.querySelector("pre code.language-python")?.textContent).toContain("return 1");
  });

  it("guesses the language of unlabelled code, but not while streaming", () => {
    const src = "```\nfunction f(a) { return a + 1; }\nconst x = f(2);\n```";
    expect(dom(src).querySelector("pre code.hljs span[class^=hljs-]")).not.toBeNull();
    const div = document.createElement("div");
    div.append(renderMarkdown(src, [], { streaming: true }));
    expect(div.querySelector("pre code.hljs")).not.toBeNull();
    expect(div.querySelector("pre code span")).toBeNull();
  });

  it("renders unlabelled and unknown-language code escaped", () => {
    const d = dom("```nosuchlang\n<b>x</b>\n```");
    expect(d.querySelector("pre code")?.textContent).toBe("<b>x</b>\n");
    expect(d.querySelector("pre b")).toBeNull();
  });

  it("renders emphasis, inline code, quotes, line breaks and shifted headings", () => {
    const d = dom("# Title\n\n**bold** *it* `x<y`\nnext\n\n> quoted");
    expect(d.querySelector("h3")?.textContent).toBe("Title");
    expect(d.querySelector("h1")).toBeNull();
    expect(d.querySelector("strong")?.textContent).toBe("bold");
    expect(d.querySelector("em")?.textContent).toBe("it");
    expect(d.querySelector("p code")?.textContent).toBe("x<y");
    expect(d.querySelector("p br")).not.toBeNull();
    expect(d.querySelector("blockquote")?.textContent?.trim()).toBe("quoted");
  });

  it("renders links that keep their address and open outside the window", () => {
    const d = dom("[docs](https://example.com/a) and https://example.org");
    const links = d.querySelectorAll("a");
    expect(links).toHaveLength(2);
    expect(links[0].getAttribute("href")).toBe("https://example.com/a");
    expect(links[0].title).toBe("https://example.com/a");
    expect(links[0].target).toBe("_blank");
    expect(links[0].rel).toBe("noopener noreferrer");
    expect(links[1].getAttribute("href")).toBe("https://example.org");
  });

  it("turns valid citations outside code into source buttons", () => {
    const d = dom("Tides [1] and bread [2, 3] but not [9].\n\n`[1]` stays\n\n```\n[1]\n```", [
      { number: 1 },
      { number: 2 },
      { number: 3 },
    ]);
    const cites = [...d.querySelectorAll<HTMLButtonElement>("button.cite")];
    expect(cites.map((b) => b.dataset.source)).toEqual(["1", "2", "3"]);
    expect(cites[0].textContent).toBe("[1]");
    expect(cites[0].type).toBe("button");
    expect(d.textContent).toContain("[9]");
    expect(d.querySelector("code button, pre button.cite")).toBeNull();
  });

  it("leaves citations as text without sources", () => {
    const d = dom("See [1].");
    expect(d.querySelector("button.cite")).toBeNull();
    expect(d.textContent).toContain("[1]");
  });
});

describe("renderMarkdown against hostile answers", () => {
  const hostile = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](%6Aavascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    "![x](https://tracker.example/pixel.png)",
    "[x](file:///etc/passwd)",
    "[x](/index.html)",
    '<div onclick="alert(1)" style="color:red">raw</div>',
    "<svg><script>alert(1)</script></svg>",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    '<scr<script>ipt>alert(1)</script>',
    '[a](https://ok.example "title" onmouseover="alert(1)")',
    '```html\n<script>alert(1)</script>\n```',
    '<form action="https://evil.example"><input name=x></form>',
    '<base href="https://evil.example/">',
    "<style>body{display:none}</style>",
    '<object data="x"></object><embed src="x">',
    "javascript:alert(1)",
  ];

  for (const src of hostile) {
    it(`keeps ${JSON.stringify(src)} inert`, () => {
      const d = dom(src, [{ number: 1 }]);
      const tags = [...d.querySelectorAll("*")].map((e) => e.tagName.toLowerCase());
      for (const bad of ["script", "img", "iframe", "object", "embed", "svg", "math", "style", "form", "input", "base", "div"]) {
        if (bad === "div") {
          // The only divs are the window's own code box.
          expect([...d.querySelectorAll("div")].every((x) => /^code(-head)?$/.test(x.className))).toBe(true);
        } else {
          expect(tags).not.toContain(bad);
        }
      }
      for (const e of d.querySelectorAll("*")) {
        for (const a of e.attributes) {
          expect(a.name.startsWith("on"), `${e.tagName} ${a.name}`).toBe(false);
          expect(a.name).not.toBe("style");
          expect(a.name).not.toBe("src");
        }
      }
      for (const a of d.querySelectorAll("a")) {
        expect(a.getAttribute("href")).toMatch(/^(https?|mailto):/i);
      }
      // The same on the HTML string: no real tag carries a handler or script URL
      // (escaped text such as "&lt;img onerror=…&gt;" is fine: it is text).
      const html = renderMarkdownHtml(src);
      expect(html).not.toMatch(/<(script|img|iframe|svg|math|style|object|embed)\b/i);
      expect(html).not.toMatch(/<[^>]*\son\w+\s*=/i);
      expect(html).not.toMatch(/<[^>]*(href|src)\s*=\s*"?\s*(javascript|vbscript|data|file):/i);
    });
  }

  it("shows raw HTML from the model as text", () => {
    const d = dom("<b>bold?</b> <script>alert(1)</script>");
    expect(d.querySelector("b")).toBeNull();
    expect(d.textContent).toContain("<b>bold?</b>");
    expect(d.textContent).toContain("<script>alert(1)</script>");
  });

  it("drops the unsafe link but keeps its words", () => {
    const d = dom("[click me](javascript:alert(1)) and [ok](https://ok.example)");
    const links = [...d.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://ok.example"]);
    expect(d.textContent).toContain("click me");
  });
});
