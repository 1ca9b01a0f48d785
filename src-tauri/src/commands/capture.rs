//! Push-to-talk and the camera. A recording streams level-meter events over
//! a `Channel` until `stop_recording` turns it into an audio attachment at
//! the model's rate (or, for a model that cannot hear, into Whisper's
//! transcript when `[audio] whisper_model` is set); the camera streams small preview frames and
//! `snap_camera` stages a full-size picture. Both captures are kept under
//! the data dir so their messages can be replayed, and both enter the
//! composer exactly like a picked file.

use omnidesk::audio::{self, Recorder, RecorderSettings, RecordingEvent, Whisper};
use omnidesk::camera::{self, CameraInfo, CameraSettings, Preview};
use omnidesk::media::{self, attach, Audio, Media};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::media::{stage, thumbnail};
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, AttachmentView, EngineState};
use omnidesk::turn::Hearing;

/// Preview frames per second and width: enough to aim the camera, cheap to
/// send through the IPC.
const PREVIEW_FPS: f32 = 5.0;
const PREVIEW_WIDTH: u32 = 320;

/// Start recording from the configured (or default) microphone; level
/// events and a final `stopped` arrive on `on_event`. Returns the device.
#[tauri::command]
pub async fn start_recording(
    state: State<'_, AppState>,
    on_event: Channel<RecordingEvent>,
) -> CommandResult<String> {
    if state.capture.is_recording() {
        return Err(CommandError::new("BUSY", "already recording"));
    }
    // Talking over a spoken answer silences it.
    state.speech.stop();
    let config = state.settings.get();
    // The clip is converted to what the model's audio encoder takes.
    let target_rate = match state.engine.get() {
        EngineState::Ready { engine, .. } => {
            let caps = engine.info().capabilities;
            Hearing::decide(&caps, config.audio.whisper_model.as_deref()).record_rate()
        }
        _ => omnidesk::turn::DEFAULT_AUDIO_RATE,
    };
    let settings = RecorderSettings {
        device: config.audio.input_device.clone(),
        max_seconds: config.audio.max_seconds,
        target_rate,
        ..RecorderSettings::default()
    };
    let mut recording =
        tauri::async_runtime::spawn_blocking(move || Recorder::start(settings)).await??;
    let device = recording.device().to_owned();
    if let Some(mut events) = recording.take_events() {
        tauri::async_runtime::spawn(async move {
            while let Some(e) = events.recv().await {
                if on_event.send(e).is_err() {
                    break;
                }
            }
        });
    }
    state.capture.set_recording(recording)?;
    Ok(device)
}

/// Stop recording and stage the clip (silence trimmed) for the next message.
#[tauri::command]
pub async fn stop_recording(state: State<'_, AppState>) -> CommandResult<AttachmentView> {
    let recording = state
        .capture
        .take_recording()
        .ok_or_else(|| CommandError::invalid("nothing is being recorded"))?;
    let clip = recording.finish().await?;
    let state = state.inner().clone();
    // Before a model is loaded, assume it hears: the clip is kept either way.
    let caps = match state.engine.get() {
        EngineState::Ready { engine, .. } => engine.info().capabilities,
        _ => omnidesk::engine::Capabilities {
            audio: true,
            audio_sample_rate: Some(omnidesk::turn::DEFAULT_AUDIO_RATE),
            ..Default::default()
        },
    };
    let whisper_model = state.settings.get().audio.whisper_model;
    if let Hearing::Whisper { model } = Hearing::decide(&caps, whisper_model.as_deref()) {
        let heard = tauri::async_runtime::spawn_blocking(move || {
            Whisper::new(model).transcribe(&clip.audio)
        })
        .await??;
        return Ok(AttachmentView::transcript(&heard.text));
    }
    stage_recording(&state, clip.audio, "Recording").await
}

/// Keep a recorded clip under `<data dir>/recordings` (so its message can
/// be replayed) and stage it for the next message as "`label` (N s)".
pub async fn stage_recording(
    state: &AppState,
    audio: Audio,
    label: &str,
) -> CommandResult<AttachmentView> {
    let state = state.clone();
    let label = label.to_owned();
    tauri::async_runtime::spawn_blocking(move || {
        let dir = state.settings.data_dir.join("recordings");
        let path = audio::keep_recording(&dir, &audio)?;
        let name = format!("{label} ({:.1} s)", audio.seconds());
        Ok(stage(&state, &path, &name, Media::Audio(audio)))
    })
    .await?
}

/// Throw the running recording away; false when none runs.
#[tauri::command]
pub async fn cancel_recording(state: State<'_, AppState>) -> CommandResult<bool> {
    Ok(state.capture.take_recording().is_some())
}

/// The cameras present now (empty when there are none).
#[tauri::command]
pub async fn list_cameras(state: State<'_, AppState>) -> CommandResult<Vec<CameraInfo>> {
    let source = state.capture.camera();
    Ok(tauri::async_runtime::spawn_blocking(move || source.list()).await??)
}

/// One viewfinder frame.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PreviewView {
    pub width: u32,
    pub height: u32,
    /// `data:image/png;base64,…`
    pub data_url: String,
}

/// Open camera `index` and stream small frames to `on_frame` until
/// `stop_camera` (or another `start_camera`).
#[tauri::command]
pub async fn start_camera(
    state: State<'_, AppState>,
    index: u32,
    on_frame: Channel<PreviewView>,
) -> CommandResult<()> {
    let source = state.capture.camera();
    let mut preview = tauri::async_runtime::spawn_blocking(move || {
        Preview::start(
            source,
            index,
            CameraSettings::default(),
            PREVIEW_FPS,
            PREVIEW_WIDTH,
        )
    })
    .await??;
    if let Some(mut frames) = preview.take_frames() {
        tauri::async_runtime::spawn(async move {
            while let Some(f) = frames.recv().await {
                let Some(img) = media::Image::from_rgb(f.width, f.height, f.rgb) else {
                    continue;
                };
                let Some(data_url) = thumbnail(&img) else {
                    continue;
                };
                let view = PreviewView {
                    width: img.width,
                    height: img.height,
                    data_url,
                };
                if on_frame.send(view).is_err() {
                    break;
                }
            }
        });
    }
    state.capture.set_preview(Some(preview)).await;
    Ok(())
}

/// Close the camera; false when it was not open.
#[tauri::command]
pub async fn stop_camera(state: State<'_, AppState>) -> CommandResult<bool> {
    Ok(state.capture.set_preview(None).await)
}

/// Take a full-size picture (from the open preview, else by opening camera
/// `index` briefly) and stage it for the next message.
#[tauri::command]
pub async fn snap_camera(state: State<'_, AppState>, index: u32) -> CommandResult<AttachmentView> {
    let image = match state.capture.preview_snapshot().await {
        Some(shot) => shot?,
        None => {
            let source = state.capture.camera();
            tauri::async_runtime::spawn_blocking(move || {
                camera::snapshot(&*source, index, &CameraSettings::default())
            })
            .await??
        }
    };
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let path = attach::keep_snapshot(&state.settings.data_dir.join("snapshots"), &image)?;
        let name = format!("Camera {}×{}", image.width, image.height);
        Ok(stage(&state, &path, &name, Media::Image(image)))
    })
    .await?
}
