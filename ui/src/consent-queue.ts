// The model's requests to run a tool wait here for the user's answer; the
// dialog asks about one at a time. Pure, so the rules are unit-tested.

export type ConsentAnswer = "once" | "always" | "deny";

export interface ConsentRequest {
  id: number;
  tool: string;
  description: string;
  args: unknown;
}

export class ConsentQueue {
  private queue: ConsentRequest[] = [];

  /** Queue `q`; true when it is now the first (the one to show). */
  push(q: ConsentRequest): boolean {
    this.queue.push(q);
    return this.queue.length === 1;
  }

  /** The request being asked about. */
  get current(): ConsentRequest | undefined {
    return this.queue[0];
  }

  get length(): number {
    return this.queue.length;
  }

  /**
   * Answer the current request; the answers to send back, in order.
   * "Always" also allows (once each) the queued requests for the same tool.
   */
  answer(answer: ConsentAnswer): { id: number; answer: ConsentAnswer }[] {
    const q = this.queue.shift();
    if (!q) return [];
    const out = [{ id: q.id, answer }];
    if (answer === "always") {
      const same = this.queue.filter((x) => x.tool === q.tool);
      this.queue = this.queue.filter((x) => x.tool !== q.tool);
      for (const other of same) out.push({ id: other.id, answer: "once" });
    }
    return out;
  }
}
