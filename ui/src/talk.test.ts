import { describe, expect, it } from "vitest";
import { talkLine } from "./format";
import { nextTalkState, talkLabel, type TalkInput, type TalkState } from "./talk-state";

function run(inputs: TalkInput[], from: TalkState = "off"): TalkState[] {
  const seen: TalkState[] = [];
  let s = from;
  for (const i of inputs) {
    s = nextTalkState(s, i);
    seen.push(s);
  }
  return seen;
}

describe("talk mode states", () => {
  it("goes round a spoken turn", () => {
    expect(
      run([
        { kind: "start" },
        { kind: "listening" },
        { kind: "speechStarted" },
        { kind: "utterance", attachment: { id: 1, name: "x", kind: "audio", thumbnail: null, width: null, height: null }, seconds: 2 },
        { kind: "firstToken" },
        { kind: "speaking" },
        { kind: "spoken" },
      ]),
    ).toEqual(["starting", "listening", "hearing", "thinking", "speaking", "speaking", "listening"]);
  });

  it("a barge-in while speaking goes back to hearing, and a late 'spoken' does not undo it", () => {
    expect(run([{ kind: "speechStarted" }, { kind: "spoken" }, { kind: "answered" }, { kind: "speaking" }], "speaking")).toEqual([
      "hearing",
      "hearing",
      "hearing",
      "hearing",
    ]);
  });

  it("a stop, with or without an error, ends it from anywhere; events after it change nothing", () => {
    for (const s of ["starting", "listening", "hearing", "thinking", "speaking"] as TalkState[]) {
      expect(nextTalkState(s, { kind: "stopped", code: "AUDIO_DEVICE_FAILED", message: "gone" })).toBe("off");
    }
    expect(run([{ kind: "listening" }, { kind: "speechStarted" }, { kind: "sent" }], "off")).toEqual(["off", "off", "off"]);
  });

  it("listening does not hide a reply being written", () => {
    expect(nextTalkState("thinking", { kind: "listening" })).toBe("thinking");
    expect(nextTalkState("hearing", { kind: "listening" })).toBe("listening");
  });

  it("labels every visible state", () => {
    expect(talkLabel("off")).toBe("");
    for (const s of ["starting", "listening", "hearing", "thinking", "speaking"] as TalkState[]) expect(talkLabel(s)).not.toBe("");
  });

  it("formats the stored timings", () => {
    expect(talkLine({ speech_end_to_first_token_ms: 812, speech_end_to_first_audio_ms: 1234 })).toBe("spoken: first word 0.8 s · voice 1.2 s");
    expect(talkLine({ speech_end_to_first_token_ms: 500 })).toBe("spoken: first word 0.5 s");
    expect(talkLine(undefined)).toBe("");
    expect(talkLine({})).toBe("");
  });
});
