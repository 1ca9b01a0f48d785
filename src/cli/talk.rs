//! `omnidesk talk`: hands-free conversation in the terminal. The listener
//! (VAD + echo cancellation) hands each spoken turn over; the model
//! answers it natively (or what Whisper heard), the answer is spoken
//! sentence by sentence, and speech from the person while it talks stops
//! the voice and the generation at once (barge-in) and starts a new turn.
//! Enter, Ctrl-C, `--turns` or `--idle-exit` leaves.

use std::io::IsTerminal;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use omnidesk::audio::{render_tap, ListenEvent, Listener, TalkTimings};
use omnidesk::media::{Audio, Media};
use omnidesk::tts::{Narrator, SpeechEvent};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::args::TalkArgs;
use super::attach::Attached;
use super::context::Context;
use super::conversation::{Ask, Conversation};
use super::voice;

/// A spoken turn waiting to be answered.
struct Turn {
    audio: Audio,
    ended: Instant,
    trailing_ms: u32,
}

/// Where state changes go: JSON lines on stdout, or short notes on stderr.
struct Report {
    json: bool,
    meter: bool,
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

impl Report {
    fn event(&self, name: &str, fields: Value) {
        if self.json {
            let mut v = json!({ "event": name, "unix_ms": unix_ms(SystemTime::now()) });
            if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
                o.extend(f);
            }
            println!("{v}");
        } else {
            let note = match name {
                "listening" => "[listening — speak; Enter leaves]".to_string(),
                "speech_started" => "[hearing you]".into(),
                "thinking" => "[thinking]".into(),
                "speaking" => "[speaking]".into(),
                "interrupted" => "[interrupted]".into(),
                "too_short" => "[too short — say it again]".into(),
                "answer" => format!(
                    "\n[first word {} · voice {}]",
                    ms(&fields["speech_end_to_first_token_ms"]),
                    ms(&fields["speech_end_to_first_audio_ms"])
                ),
                other => format!("[{other}]"),
            };
            if self.meter {
                eprint!("\r{:<60}\r", "");
            }
            eprintln!("{note}");
        }
    }

    fn level(&self, rms: f32) {
        if self.meter {
            let bars = ((rms * 200.0).min(40.0)) as usize;
            eprint!("\r{:<40}", "█".repeat(bars));
        }
    }
}

fn ms(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "—".into(), |m| format!("{:.2} s", m / 1e3))
}

pub async fn run(ctx: &Context, args: &TalkArgs) -> Result<()> {
    let store = if args.no_save {
        None
    } else {
        Some(ctx.open_store()?)
    };
    let engine = ctx.start_engine(args.json).await?;
    let voice::Ears {
        whisper,
        rate,
        text_only,
    } = voice::ears(ctx, &engine, args.whisper_model.as_deref())?;
    let echo_cancel = ctx.config.audio.echo_cancel && !args.no_echo_cancel;
    let (tap, feed) = render_tap();
    let (narrator, mut speech) = Narrator::start_with_tap(
        voice::speaker(ctx)?,
        ctx.config.audio.output_device.clone(),
        echo_cancel.then_some(tap),
    )
    .context("cannot speak answers")?;
    let mut settings = ctx.config.audio.listener(&ctx.data_dir);
    if let Some(d) = &args.device {
        settings.device = Some(d.clone());
    }
    if let Some(m) = &args.vad_model {
        settings.vad_model = m.clone();
    }
    if let Some(s) = args.silence_ms {
        settings.endpoint.end_silence_ms = s.clamp(200, 5_000);
    }
    let mut listener =
        Listener::start(settings, echo_cancel.then_some(feed)).context("cannot listen")?;
    let report = Report {
        json: args.json,
        meter: std::io::stderr().is_terminal() && !args.json,
    };
    report.event(
        "listening",
        json!({ "device": listener.device(), "echo_cancel": echo_cancel }),
    );

    let mut conv = Conversation::start(ctx, store, &args.gen, &engine)?;
    let mut leave = voice::spawn_enter_reader();
    let mut stdin_open = true;
    let idle = args.idle_exit.map(Duration::from_secs_f64);
    // `None` while someone is talking: no idle exit then.
    let mut idle_since = Some(Instant::now());
    let mut answered = 0u32;
    let mut pending: Option<Turn> = None;
    loop {
        // Wait for a spoken turn.
        let turn = match pending.take() {
            Some(t) => t,
            None => {
                let deadline = idle.zip(idle_since).map(|(d, since)| since + d);
                let ev = tokio::select! {
                    r = &mut leave, if stdin_open => {
                        // Enter leaves; a closed stdin only takes that key away.
                        if r.is_ok() { break; }
                        stdin_open = false;
                        continue;
                    }
                    _ = tokio::signal::ctrl_c() => break,
                    _ = sleep_until(deadline) => break,
                    ev = listener.next() => ev,
                };
                match on_listen(ev, &narrator, None, &report)? {
                    Heard::Turn(t) => t,
                    Heard::Speech => {
                        idle_since = None;
                        continue;
                    }
                    Heard::Nothing => {
                        idle_since.get_or_insert_with(Instant::now);
                        continue;
                    }
                    Heard::Closed => break,
                }
            }
        };
        report.event(
            "thinking",
            json!({ "seconds": turn.audio.seconds(), "pause_ms": turn.trailing_ms }),
        );

        // What the model is given: the clip, or what Whisper heard.
        let mut attached = Attached::default();
        let question = if text_only {
            let w = whisper.clone().context("no Whisper model")?;
            let clip = turn.audio.clone();
            let heard = tokio::task::spawn_blocking(move || w.transcribe(&clip))
                .await
                .context("the Whisper task failed")??;
            report.event("heard", json!({ "transcript": heard.text }));
            heard.text
        } else {
            let audio = turn
                .audio
                .clone()
                .at_rate(rate)
                .map_err(anyhow::Error::msg)?;
            let media = Media::Audio(audio.clone());
            if args.no_save {
                attached.media.push(media);
            } else {
                let path = voice::save_recording(&ctx.data_dir, &audio)?;
                attached.push(&path, media);
            }
            args.prompt.clone()
        };

        // Answer it, still listening: speech now is a barge-in.
        let cancel = CancellationToken::new();
        let mut first_audio = None;
        let mut barged = false;
        let asked = {
            let ask = conv.ask(
                &engine,
                &question,
                Ask {
                    attached,
                    narrator: Some(&narrator),
                    quiet: args.json,
                    cancel: Some(cancel.clone()),
                    ..Ask::default()
                },
            );
            tokio::pin!(ask);
            loop {
                tokio::select! {
                    r = &mut ask => break r?,
                    ev = listener.next() => {
                        match on_listen(ev, &narrator, Some(&cancel), &report)? {
                            Heard::Turn(t) => pending = Some(t),
                            Heard::Speech => barged = true,
                            Heard::Nothing => {}
                            Heard::Closed => cancel.cancel(),
                        }
                    }
                    Some(ev) = speech.recv() => on_speech(&ev, &mut first_audio, &report),
                }
            }
        };
        // The rest of the answer is spoken; speech still interrupts it.
        while !barged && narrator.pending() > 0 {
            tokio::select! {
                _ = narrator.wait_idle() => break,
                ev = listener.next() => {
                    match on_listen(ev, &narrator, None, &report)? {
                        Heard::Turn(t) => pending = Some(t),
                        Heard::Speech => barged = true,
                        Heard::Nothing => {}
                        Heard::Closed => narrator.stop(),
                    }
                }
                Some(ev) = speech.recv() => on_speech(&ev, &mut first_audio, &report),
            }
        }
        if barged {
            // The voice reports its silence within milliseconds: report it
            // now, when it happened, not at the next turn.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while let Some(ev) = speech.recv().await {
                    let done = matches!(ev, SpeechEvent::Interrupted { .. });
                    on_speech(&ev, &mut first_audio, &report);
                    if done || narrator.pending() == 0 {
                        break;
                    }
                }
            })
            .await;
        }
        while let Ok(ev) = speech.try_recv() {
            on_speech(&ev, &mut first_audio, &report);
        }
        let since = |t: Option<Instant>| {
            t.map(|t| t.saturating_duration_since(turn.ended).as_secs_f64() * 1e3)
        };
        let timings = TalkTimings {
            speech_end_to_first_token_ms: since(asked.first_token),
            speech_end_to_first_audio_ms: since(first_audio),
            endpoint_silence_ms: Some(turn.trailing_ms),
        };
        let saved = asked.outcome.saved.as_ref();
        if let (Some(saved), Some(store)) = (saved, conv.store()) {
            let mut extra = serde_json::Map::new();
            extra.insert("talk".into(), serde_json::to_value(timings)?);
            store
                .lock()
                .map_err(|_| anyhow::anyhow!("the history is unavailable"))?
                .merge_message_stats(saved.conversation, saved.answer, &extra)?;
        }
        let mut fields = serde_json::to_value(timings)?;
        if let Some(o) = fields.as_object_mut() {
            o.insert("text".into(), json!(asked.outcome.text));
            o.insert("interrupted".into(), json!(barged));
            o.insert("conversation_id".into(), json!(conv.id));
            o.insert("answer_id".into(), json!(saved.map(|s| s.answer)));
        }
        report.event("answer", fields);
        answered += 1;
        if args.turns.is_some_and(|n| answered >= n) {
            break;
        }
        idle_since = Some(Instant::now());
        if pending.is_none() {
            report.event("listening", json!({}));
        }
    }
    narrator.stop();
    listener.stop();
    if !args.json {
        if let Some(id) = conv.id {
            eprintln!("[conversation {id}; continue with --conversation {id}]");
        }
    }
    Ok(())
}

/// What a listener event means for the loop.
enum Heard {
    Turn(Turn),
    /// The person started talking (the voice was silenced).
    Speech,
    Nothing,
    Closed,
}

fn on_listen(
    ev: Option<ListenEvent>,
    narrator: &Narrator,
    generation: Option<&CancellationToken>,
    report: &Report,
) -> Result<Heard> {
    Ok(match ev {
        Some(ListenEvent::SpeechStarted { wall, sound, .. }) => {
            // Barge-in: silence the voice first, then stop the answer.
            let speaking = narrator.pending() > 0;
            narrator.stop();
            if let Some(g) = generation {
                g.cancel();
            }
            report.event(
                "speech_started",
                json!({
                    "detected_unix_ms": unix_ms(wall),
                    "sound_unix_ms": unix_ms(sound),
                    "barge_in": speaking || generation.is_some(),
                }),
            );
            Heard::Speech
        }
        Some(ListenEvent::Utterance {
            audio,
            ended,
            trailing_ms,
        }) => Heard::Turn(Turn {
            audio,
            ended,
            trailing_ms,
        }),
        Some(ListenEvent::TooShort) => {
            report.event("too_short", json!({}));
            Heard::Nothing
        }
        Some(ListenEvent::Level { rms }) => {
            report.level(rms);
            Heard::Nothing
        }
        Some(ListenEvent::Stopped { message: Some(m) }) => {
            anyhow::bail!("the microphone stopped: {m}")
        }
        Some(ListenEvent::Stopped { message: None }) | None => Heard::Closed,
    })
}

fn on_speech(ev: &SpeechEvent, first_audio: &mut Option<Instant>, report: &Report) {
    match ev {
        SpeechEvent::Started { .. } => {
            if first_audio.is_none() {
                *first_audio = Some(Instant::now());
                report.event("speaking", json!({}));
            }
        }
        SpeechEvent::Interrupted { .. } => report.event("interrupted", json!({})),
        SpeechEvent::Failed { message, .. } => {
            report.event("speech_failed", json!({ "message": message }))
        }
        SpeechEvent::Finished { .. } => {}
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
