// WCAG AA contrast of the window's colour pairs, light and dark, computed
// from the custom properties in style.css (jsdom cannot lay out or paint,
// so axe's own contrast rule runs only in the e2e test).
import { describe, expect, it } from "vitest";
import css from "./style.css?raw";

function palette(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of block.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{6})\b/g)) out[m[1]] = m[2].toLowerCase();
  return out;
}

const darkAt = css.indexOf("@media (prefers-color-scheme: dark)");
const light = palette(css.slice(css.indexOf(":root"), darkAt));
const darkBlock = css.slice(darkAt);
const dark = { ...light, ...palette(darkBlock.slice(0, darkBlock.indexOf("}\n}"))) };

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT = 4.5;
const UI = 3;
/** Foreground, background, minimum: each pair style.css uses. */
const PAIRS: [string, string, number][] = [
  ...["bg", "bg-side", "bg-soft", "user", "code-bg"].map((bg) => ["fg", bg, TEXT] as [string, string, number]),
  ...["bg", "bg-side", "bg-soft", "code-bg", "user"].map((bg) => ["muted", bg, TEXT] as [string, string, number]),
  ["accent-fg", "accent", TEXT],
  ["on-danger", "danger", TEXT],
  ["danger-text", "bg", TEXT],
  ["danger-text", "bg-side", TEXT],
  ["accent-text", "bg", TEXT],
  ["accent-text", "bg-soft", TEXT],
  ["accent-text", "user", TEXT],
  ...["kw", "str", "num", "com", "fn", "danger-text"].flatMap((fg) =>
    ["code-bg", "bg-soft"].map((bg) => [fg, bg, TEXT] as [string, string, number]),
  ),
  ["focus", "bg", UI],
  ["focus", "bg-side", UI],
  ["focus", "bg-soft", UI],
  ["border-strong", "bg", UI],
  ["border-strong", "bg-side", UI],
];

describe("colour contrast (WCAG AA)", () => {
  for (const [name, pal] of [["light", light], ["dark", dark]] as const) {
    for (const [fg, bg, min] of PAIRS) {
      it(`${name}: --${fg} on --${bg} ≥ ${min}:1`, () => {
        expect(pal[fg], `--${fg}`).toBeDefined();
        expect(pal[bg], `--${bg}`).toBeDefined();
        expect(contrast(pal[fg], pal[bg])).toBeGreaterThanOrEqual(min);
      });
    }
  }

  it("uses no fixed colours for text outside the palette", () => {
    // Text colours go through the checked custom properties.
    const fixed = [...css.matchAll(/(?:^|[;{\s])color:\s*(#[0-9a-fA-F]{3,6}|white|black)/g)].map((m) => m[1]);
    expect(fixed).toEqual([]);
  });
});
