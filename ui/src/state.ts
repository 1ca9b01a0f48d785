// What several features share: the open conversation's messages, the
// answer being generated and the model's status, plus a few synchronous
// signals so features react to each other without importing each other.
import type { MessageView, ModelStatus } from "./api";

export interface Generation {
  id: number | null;
  stopRequested: boolean;
  failed: boolean;
}

export const app = {
  conversationId: null as number | null,
  messages: [] as MessageView[],
  generation: null as Generation | null,
  model: null as ModelStatus | null,
};

interface Signals {
  /** The model's status changed (app.model). */
  model: undefined;
  /** An answer started or ended (app.generation). */
  busy: undefined;
  /** The chat view was redrawn (app.messages). */
  messages: undefined;
  /** The stored conversations changed: the sidebar reloads. */
  conversations: undefined;
  /** A question that failed to send goes back into the composer. */
  restoreInput: string;
}

const bus = new EventTarget();

export function emit<K extends keyof Signals>(name: K, ...detail: Signals[K] extends undefined ? [] : [Signals[K]]) {
  bus.dispatchEvent(new CustomEvent(name, { detail: detail[0] }));
}

export function on<K extends keyof Signals>(name: K, f: (detail: Signals[K]) => void) {
  bus.addEventListener(name, (ev) => f((ev as CustomEvent<Signals[K]>).detail));
}
