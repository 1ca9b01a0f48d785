// Vite builds the window into dist/, which tauri.conf.json embeds in the
// binary: everything is bundled, nothing is loaded from a CDN at run time.
import { defineConfig } from "vite";

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
});
