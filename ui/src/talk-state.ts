// Talk mode's visible state, as a pure reducer over what the listener and
// the answer report: listening → hearing → thinking → speaking → listening.
import type { TalkEvent } from "./api";

export type TalkState = "off" | "starting" | "listening" | "hearing" | "thinking" | "speaking";

/** What the window itself knows beside the listener's events. */
export type TalkInput =
  | TalkEvent
  | { kind: "start" }
  | { kind: "sent" }
  | { kind: "firstToken" }
  | { kind: "answered" };

export function nextTalkState(state: TalkState, input: TalkInput): TalkState {
  if (input.kind === "stopped") return "off";
  if (state === "off") return input.kind === "start" ? "starting" : "off";
  switch (input.kind) {
    case "listening":
      // A reply still being written or spoken keeps its state.
      return state === "thinking" || state === "speaking" ? state : "listening";
    case "speechStarted":
      // Barge-in: the voice was already silenced by the shell.
      return "hearing";
    case "utterance":
    case "sent":
      return "thinking";
    case "firstToken":
      return state === "thinking" ? "speaking" : state;
    case "speaking":
      return state === "hearing" ? state : "speaking";
    case "spoken":
    case "answered":
      return state === "hearing" ? state : "listening";
    default:
      return state;
  }
}

/** Words for the status badge (and the screen-reader announcement). */
export function talkLabel(state: TalkState): string {
  switch (state) {
    case "off":
      return "";
    case "starting":
      return "Starting the microphone…";
    case "listening":
      return "Listening";
    case "hearing":
      return "Hearing you";
    case "thinking":
      return "Thinking";
    case "speaking":
      return "Speaking";
  }
}
