// Vite's `?raw` imports (used by tests to read index.html and style.css).
declare module "*?raw" {
  const text: string;
  export default text;
}
