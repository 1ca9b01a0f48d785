// Push-to-talk: hold the microphone button (pointer, Space/Enter on it) or
// F2 anywhere; the clip becomes an attachment, or its transcript is typed
// into the composer when the model cannot hear.
import { api, type RecordingEvent } from "../api";
import { byId } from "../dom";
import { notify, notifyError } from "../notices";
import { app } from "../state";
import { appendToInput, stageAll } from "./composer";

const record = byId<HTMLButtonElement>("record");
const recordingBox = byId<HTMLDivElement>("recording");
const level = byId<HTMLMeterElement>("level");
const recTime = byId<HTMLSpanElement>("rec-time");

/** The push-to-talk recording in progress: started, or starting. */
let recording: { stopAsked: boolean; started: Promise<unknown> } | null = null;

function onRecording(e: RecordingEvent) {
  if (e.kind === "level") {
    level.value = Math.min(1, e.peak);
    recTime.textContent = `${e.seconds.toFixed(1)} s`;
  } else if (e.reason === "maxLength") {
    notify(`Recording stopped at the ${e.seconds.toFixed(0)} s limit.`, "info");
    void stopRecording();
  } else if (e.reason === "deviceLost") {
    notify(e.message ?? "The microphone stopped working.", "error", "AUDIO_DEVICE_FAILED");
    void stopRecording();
  }
}

function startRecording() {
  if (recording || app.generation) return;
  record.classList.add("active");
  record.setAttribute("aria-pressed", "true");
  recordingBox.hidden = false;
  level.value = 0;
  recTime.textContent = "0.0 s";
  const r = { stopAsked: false, started: api.startRecording(onRecording) as Promise<unknown> };
  recording = r;
  r.started.then(
    () => {
      if (r.stopAsked) void stopRecording(true);
    },
    (e) => {
      endRecordingUi();
      recording = null;
      notifyError(e);
    },
  );
}

function endRecordingUi() {
  record.classList.remove("active");
  record.setAttribute("aria-pressed", "false");
  recordingBox.hidden = true;
}

/** Release: turn the clip into an attachment (once it really started). */
async function stopRecording(afterStart = false) {
  const r = recording;
  if (!r) return;
  if (!afterStart) {
    r.stopAsked = true;
    try {
      await r.started;
    } catch {
      return;
    }
  }
  if (recording !== r) return;
  recording = null;
  endRecordingUi();
  try {
    const clip = await api.stopRecording();
    if (clip.transcript !== undefined) {
      // A model without audio input: Whisper's transcript is the question.
      if (!clip.transcript) notify("Nothing was understood in the recording.", "info");
      appendToInput(clip.transcript);
      return;
    }
    stageAll([clip]);
    if (app.model?.model && !app.model.model.audio)
      notify("The loaded model cannot hear audio; it will refuse the recording when you send (set [audio] whisper_model to transcribe instead).", "info");
  } catch (e) {
    notifyError(e);
  }
}

export function initVoice() {
  record.setAttribute("aria-pressed", "false");
  record.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    startRecording();
  });
  for (const t of ["pointerup", "pointerleave", "pointercancel"]) record.addEventListener(t, () => void stopRecording());
  record.addEventListener("keydown", (ev) => {
    if ((ev.key === " " || ev.key === "Enter") && !ev.repeat) {
      ev.preventDefault();
      startRecording();
    }
  });
  record.addEventListener("keyup", (ev) => {
    if (ev.key === " " || ev.key === "Enter") void stopRecording();
  });
  document.addEventListener("keyup", (ev) => {
    if (ev.key === "F2") void stopRecording();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "F2") {
      ev.preventDefault();
      if (!ev.repeat) startRecording();
    }
  });
}
