//! Talk mode in the window. The listener (VAD + echo cancellation) runs
//! while `start_talk`'s channel is open: each spoken turn is staged as an
//! audio attachment (or Whisper's transcript, for a model that cannot
//! hear) and handed to the window, which sends it like any message with
//! `talk: true`. Speech while a reply plays silences it and stops the
//! generation here at once, before the window hears of it (barge-in).

use omnidesk::audio::{render_tap, ListenEvent, Listener, Whisper};
use omnidesk::media::Audio;
use omnidesk::tts::SpeechEvent;
use omnidesk::turn::Hearing;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::capture::stage_recording;
use crate::error::{CommandError, CommandResult};
use crate::state::{AppState, AttachmentView};

/// What talk mode reports, in order of a turn: `listening`,
/// `speechStarted`, `utterance`, then `speaking` … `spoken`; `stopped` ends it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TalkEvent {
    Listening,
    Level {
        rms: f32,
    },
    /// The person started talking; the voice and the generation were
    /// already stopped.
    SpeechStarted,
    /// A spoken turn, staged: send it with `talk: true`.
    Utterance {
        attachment: AttachmentView,
        seconds: f64,
    },
    Speaking,
    Spoken,
    Stopped {
        code: Option<String>,
        message: Option<String>,
    },
}

/// Where talk mode listens.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct TalkStarted {
    pub device: String,
    pub echo_cancel: bool,
}

/// Start listening hands-free; events arrive on `on_event` until
/// `stop_talk` (or the window stops listening).
#[tauri::command]
pub async fn start_talk(
    state: State<'_, AppState>,
    on_event: Channel<TalkEvent>,
) -> CommandResult<TalkStarted> {
    if state.capture.is_recording() {
        return Err(CommandError::new("BUSY", "push-to-talk is recording"));
    }
    let engine = state.engine.ready()?;
    let stop = state
        .talk
        .begin()
        .ok_or_else(|| CommandError::new("TALK_RUNNING", "talk mode is already on"))?;
    let config = state.settings.get();
    let echo_cancel = config.audio.echo_cancel;
    let (tap, feed) = render_tap();
    state.speech.set_tap(echo_cancel.then_some(tap));
    let settings = config.audio.listener(&state.settings.data_dir);
    let started = tauri::async_runtime::spawn_blocking(move || {
        Listener::start(settings, echo_cancel.then_some(feed))
    })
    .await;
    let mut listener = match started {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            state.talk.end();
            return Err(omnidesk::Error::from(e).into());
        }
        Err(e) => {
            state.talk.end();
            return Err(e.into());
        }
    };
    let device = listener.device().to_owned();
    let caps = engine.info().capabilities;
    let hearing = Hearing::decide(&caps, config.audio.whisper_model.as_deref());
    let app = state.inner().clone();
    let mut speech = app.speech.subscribe();
    let _ = on_event.send(TalkEvent::Listening);
    tauri::async_runtime::spawn(async move {
        let mut end = (None, None);
        loop {
            let sent = tokio::select! {
                _ = stop.cancelled() => break,
                ev = listener.next() => match ev {
                    Some(ListenEvent::SpeechStarted { .. }) => {
                        // Barge-in: silence first, then stop the answer.
                        app.speech.stop();
                        app.generations.stop(None);
                        on_event.send(TalkEvent::SpeechStarted)
                    }
                    Some(ListenEvent::Utterance { audio, ended, .. }) => {
                        app.talk.set_speech_end(ended);
                        match utterance(&app, &hearing, audio).await {
                            Ok(ev) => on_event.send(ev),
                            Err(e) => {
                                end = (Some(e.code.to_string()), Some(e.message));
                                break;
                            }
                        }
                    }
                    Some(ListenEvent::Level { rms }) => on_event.send(TalkEvent::Level { rms }),
                    Some(ListenEvent::TooShort) => on_event.send(TalkEvent::Listening),
                    Some(ListenEvent::Stopped { message }) => {
                        end = (message.as_ref().map(|_| "AUDIO_DEVICE_FAILED".to_string()), message);
                        break;
                    }
                    None => break,
                },
                ev = speech.recv() => match ev {
                    Ok(SpeechEvent::Started { .. }) => on_event.send(TalkEvent::Speaking),
                    Ok(SpeechEvent::Finished { .. }) if app.speech.pending() <= 1 => {
                        on_event.send(TalkEvent::Spoken)
                    }
                    _ => Ok(()),
                },
            };
            if sent.is_err() {
                // The window is gone.
                break;
            }
        }
        listener.stop();
        app.talk.end();
        app.speech.set_tap(None);
        let _ = on_event.send(TalkEvent::Stopped {
            code: end.0,
            message: end.1,
        });
    });
    Ok(TalkStarted {
        device,
        echo_cancel,
    })
}

/// Leave talk mode; whether it was on.
#[tauri::command]
pub async fn stop_talk(state: State<'_, AppState>) -> CommandResult<bool> {
    state.speech.stop();
    Ok(state.talk.end())
}

/// Stage a spoken turn for the window: audio at the model's rate, or
/// Whisper's transcript for a model that cannot hear.
async fn utterance(app: &AppState, hearing: &Hearing, clip: Audio) -> CommandResult<TalkEvent> {
    let seconds = clip.seconds();
    if let Hearing::Whisper { model } = hearing {
        let model = model.clone();
        let heard =
            tauri::async_runtime::spawn_blocking(move || Whisper::new(model).transcribe(&clip))
                .await??;
        return Ok(TalkEvent::Utterance {
            attachment: AttachmentView::transcript(&heard.text),
            seconds,
        });
    }
    let audio = clip
        .at_rate(hearing.record_rate())
        .map_err(|e| CommandError::new("AUDIO_RESAMPLE", e))?;
    let attachment = stage_recording(app, audio, "Spoken").await?;
    Ok(TalkEvent::Utterance {
        attachment,
        seconds,
    })
}
