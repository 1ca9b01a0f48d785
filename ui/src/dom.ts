// Tiny DOM helpers shared by the feature modules.

/** The element with `id`; the window's markup (index.html) guarantees it exists. */
export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from index.html`);
  return e as T;
}

/** A new `tag` element with an optional class list and text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A `<button type="button">`: every button outside a form's submit is one. */
export function button(cls: string, text: string, label?: string): HTMLButtonElement {
  const b = el("button", cls, text);
  b.type = "button";
  if (label) b.setAttribute("aria-label", label);
  return b;
}
