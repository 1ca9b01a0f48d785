// Vite builds the window into dist/, which tauri.conf.json embeds in the
// binary: everything is bundled, nothing is loaded from a CDN at run time.
// Vitest reads the same file: unit tests run in jsdom (DOMPurify needs a DOM).
import { defineConfig } from "vitest/config";

export default defineConfig({
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Tauri's CSP allows only 'self' scripts: no inline module preload shim.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    // contrast.test.ts reads style.css (?raw): let Vite load it.
    css: { include: [/style\.css/] },
  },
});
