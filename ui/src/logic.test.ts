import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MessageView, ModelStatus, Source, Stats } from "./api";
import {
  ANNOUNCE_MAX,
  answerAnnouncement,
  emptyListText,
  idBefore,
  keepThrough,
  parseToolRequest,
  showSetup,
  unsavedMessage,
  versionLabel,
  versionStep,
  visibleMessages,
} from "./chat-state";
import { ConsentQueue } from "./consent-queue";
import { formatBytes, sourceLocation, statsLine } from "./format";
import { INFO_NOTICE_MS, noticeLifetime, notify, notifyError } from "./notices";
import { emit, on } from "./state";

const msg = (id: number, role: MessageView["role"], content = ""): MessageView => unsavedMessage(id, role, content);

describe("notices", () => {
  beforeEach(() => {
    document.body.innerHTML = '<div id="notices"></div><div id="announce-status"></div><div id="announce-alert"></div>';
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it("keeps errors until dismissed and information for a while (at least 8 s)", () => {
    expect(noticeLifetime("error")).toBeNull();
    expect(noticeLifetime("info")).toBe(INFO_NOTICE_MS);
    expect(noticeLifetime("success")).toBe(INFO_NOTICE_MS);
    expect(INFO_NOTICE_MS).toBeGreaterThanOrEqual(8000);
  });

  it("removes information after its lifetime, never an error", () => {
    const info = notify("The local API serves http://127.0.0.1:1", "info");
    const err = notify("notes.txt is not an image", "error", "INVALID_MEDIA");
    expect(err.dataset.code).toBe("INVALID_MEDIA");
    expect(err.classList.contains("error")).toBe(true);
    vi.advanceTimersByTime(INFO_NOTICE_MS - 1);
    expect(info.isConnected).toBe(true);
    vi.advanceTimersByTime(1);
    expect(info.isConnected).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(err.isConnected).toBe(true);
    err.querySelector<HTMLButtonElement>(".notice-close")!.click();
    expect(err.isConnected).toBe(false);
  });

  it("holds information while the pointer or focus is on it", () => {
    const info = notify("Settings saved.", "info");
    info.dispatchEvent(new Event("focusin"));
    vi.advanceTimersByTime(INFO_NOTICE_MS * 3);
    expect(info.isConnected).toBe(true);
    info.dispatchEvent(new Event("focusout"));
    vi.advanceTimersByTime(INFO_NOTICE_MS);
    expect(info.isConnected).toBe(false);
  });

  it("labels the dismiss button and announces through the live regions", () => {
    const n = notify("Boom", "error");
    expect(n.querySelector(".notice-close")!.getAttribute("aria-label")).toBe("Dismiss notice");
    vi.advanceTimersByTime(100);
    expect(document.getElementById("announce-alert")!.textContent).toBe("Boom");
    notify("Fine", "info");
    vi.advanceTimersByTime(100);
    expect(document.getElementById("announce-status")!.textContent).toBe("Fine");
  });

  it("shows command errors but not cancellations", () => {
    notifyError({ code: "CANCELLED", message: "stopped" });
    notifyError({ code: "NO_CAMERA", message: "No camera" });
    notifyError("plain");
    const shown = [...document.querySelectorAll<HTMLElement>(".notice")];
    expect(shown.map((n) => n.dataset.code)).toEqual(["NO_CAMERA", "INTERNAL"]);
  });
});

describe("conversation state", () => {
  const list = [msg(1, "user"), msg(2, "assistant"), msg(3, "user"), msg(4, "assistant")];

  it("hides the system prompt", () => {
    expect(visibleMessages([msg(0, "system"), ...list]).map((m) => m.id)).toEqual([1, 2, 3, 4]);
  });

  it("truncates after a stored id, or clears with 0", () => {
    expect(keepThrough(list, 2).map((m) => m.id)).toEqual([1, 2]);
    expect(keepThrough(list, 0)).toEqual([]);
  });

  it("finds the message before an index", () => {
    expect(idBefore(list, 2)).toBe(2);
    expect(idBefore(list, 0)).toBe(0);
  });

  it("says why the sidebar is empty", () => {
    expect(emptyListText("")).toBe("No conversations yet");
    expect(emptyListText("tides")).toBe("No matches");
  });

  it("shows the first-run screen only without a model and without an open conversation", () => {
    const st = (state: ModelStatus["state"]) => ({ state }) as ModelStatus;
    expect(showSetup(null, 0)).toBe(false);
    expect(showSetup(st("empty"), 0)).toBe(true);
    expect(showSetup(st("failed"), 0)).toBe(true);
    expect(showSetup(st("failed"), 2)).toBe(false);
    expect(showSetup(st("ready"), 0)).toBe(false);
    expect(showSetup(st("loading"), 0)).toBe(false);
  });

  it("forces a tool with @name only when tools are on", () => {
    expect(parseToolRequest("@camera_snapshot Take a picture of me.", true)).toEqual({
      text: "Take a picture of me.",
      tools: ["camera_snapshot"],
      requireTool: true,
    });
    expect(parseToolRequest("@camera_snapshot hi", false)).toEqual({ text: "@camera_snapshot hi", tools: null, requireTool: false });
    expect(parseToolRequest("no tool", true)).toEqual({ text: "no tool", tools: null, requireTool: false });
  });

  it("announces an ended answer once, shortened when long", () => {
    expect(answerAnnouncement("4", "stop")).toBe("Answer ready: 4");
    expect(answerAnnouncement("Once upon", "cancelled")).toBe("Answer stopped: Once upon");
    expect(answerAnnouncement("  ", "stop")).toBe("Answer ready.");
    const long = answerAnnouncement("word ".repeat(200), "stop");
    expect(long.length).toBeLessThan(ANNOUNCE_MAX + 50);
    expect(long).toMatch(/continues in the chat\)$/);
  });
});

describe("consent queue", () => {
  it("asks one at a time and answers in order", () => {
    const q = new ConsentQueue();
    expect(q.push({ id: 1, tool: "camera", description: "", args: {} })).toBe(true);
    expect(q.push({ id: 2, tool: "clock", description: "", args: {} })).toBe(false);
    expect(q.current?.id).toBe(1);
    expect(q.answer("deny")).toEqual([{ id: 1, answer: "deny" }]);
    expect(q.current?.id).toBe(2);
    expect(q.answer("once")).toEqual([{ id: 2, answer: "once" }]);
    expect(q.answer("once")).toEqual([]);
  });

  it("'always' also allows the queued requests for the same tool", () => {
    const q = new ConsentQueue();
    q.push({ id: 1, tool: "camera", description: "", args: {} });
    q.push({ id: 2, tool: "clock", description: "", args: {} });
    q.push({ id: 3, tool: "camera", description: "", args: {} });
    expect(q.answer("always")).toEqual([
      { id: 1, answer: "always" },
      { id: 3, answer: "once" },
    ]);
    expect(q.length).toBe(1);
    expect(q.current?.id).toBe(2);
  });
});

describe("formatting", () => {
  it("formats sizes", () => {
    expect(formatBytes(2_500_000_000)).toBe("2.5 GB");
    expect(formatBytes(12_400_000)).toBe("12 MB");
  });

  it("formats stats with how the answer ended", () => {
    const stats = { prompt_tokens: 5, generated_tokens: 10, time_to_first_token_ms: 12.4, tokens_per_s: 33.33 } as Stats;
    expect(statsLine(stats, "stop")).toBe("10 tokens · 33.3 tok/s · first token 12 ms");
    expect(statsLine(stats, "cancelled")).toMatch(/· stopped$/);
    expect(statsLine(stats, "max_tokens")).toMatch(/· max tokens$/);
    expect(statsLine(undefined)).toBe("");
  });

  it("formats source locations", () => {
    const s: Source = { number: 1, chunk_id: 9, path: "notes/tides.md", page: null, heading: "Tides", lines: [3, 3] };
    expect(sourceLocation(s)).toBe("notes/tides.md, line 3 — Tides");
    expect(sourceLocation({ ...s, lines: [3, 5], heading: "" })).toBe("notes/tides.md, lines 3–5");
    expect(sourceLocation({ ...s, page: 2 })).toBe("notes/tides.md, page 2 — Tides");
  });
});

describe("signals", () => {
  it("deliver synchronously with their detail", () => {
    const got: string[] = [];
    on("restoreInput", (t) => got.push(t));
    emit("restoreInput", "question");
    expect(got).toEqual(["question"]);
  });
});

describe("message versions", () => {
  const m = (id: number, versions: number[] = []): MessageView => ({ ...unsavedMessage(id, "assistant"), versions });

  it("labels only messages with other versions", () => {
    expect(versionLabel(m(5, [3, 5, 9]))).toBe("2/3");
    expect(versionLabel(m(5, [5]))).toBeNull();
    expect(versionLabel(m(5))).toBeNull();
    expect(versionLabel(m(7, [3, 5]))).toBeNull();
  });

  it("steps to the neighbouring version and stops at the ends", () => {
    const v = m(5, [3, 5, 9]);
    expect(versionStep(v, -1)).toBe(3);
    expect(versionStep(v, 1)).toBe(9);
    expect(versionStep(m(3, [3, 5, 9]), -1)).toBeNull();
    expect(versionStep(m(9, [3, 5, 9]), 1)).toBeNull();
    expect(versionStep(m(7, [3, 5]), 1)).toBeNull();
  });
});
