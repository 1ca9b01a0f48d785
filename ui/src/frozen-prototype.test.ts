// The window runs with Tauri's `freezePrototype`: Object.prototype is
// frozen before any script, so a library that assigns e.g. `x.toString`
// on a plain object throws in strict mode. Load the renderer the same way.
import { expect, it } from "vitest";

it("renders Markdown with a frozen Object.prototype", async () => {
  Object.freeze(Object.prototype);
  const { renderMarkdownHtml } = await import("./markdown");
  const langs = ["bash", "c", "cpp", "csharp", "css", "diff", "go", "ini", "java", "javascript", "json", "markdown",
    "python", "rust", "shell", "sql", "typescript", "xml", "yaml", "toml", ""];
  for (const lang of langs) {
    const html = renderMarkdownHtml("```" + lang + '\nx = 1 // c\n"s" \'q\' <a> {}\n```');
    expect(html).toContain("hljs");
  }
  const html = renderMarkdownHtml("| a | b |\n|:-|-:|\n| 1 | 2 |\n\n- x\n  - y\n\nsee https://example.com [1] **b**", [{ number: 1 }]);
  expect(html).toContain('class="cite"');
  expect(Object.isFrozen(Object.prototype)).toBe(true);
});
