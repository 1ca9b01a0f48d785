//! `omnidesk listen`: push-to-talk from the terminal. Recording starts at
//! once and stops on Enter (or at the length limit); the clip goes to the
//! model as audio and the answer streams back (and is spoken with --speak).

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context as _, Result};
use omnidesk::audio::{Recorder, RecorderSettings, RecordingEvent};
use omnidesk::media::Media;
use omnidesk::turn;

use super::args::ListenArgs;
use super::attach::Attached;
use super::context::Context;
use super::conversation::{docs_scope, Ask, Conversation};
use super::voice;

pub async fn run(ctx: &Context, args: &ListenArgs) -> Result<()> {
    let store = if args.no_save {
        None
    } else {
        Some(ctx.open_store()?)
    };
    let engine = ctx.start_engine(args.json).await?;
    // A model without audio input hears the question through Whisper: the
    // transcript is the question, and no audio is sent.
    let voice::Ears {
        whisper,
        rate,
        text_only,
    } = voice::ears(ctx, &engine, args.whisper_model.as_deref())?;
    let voice = if args.speak {
        Some(voice::start_voice(ctx)?)
    } else {
        None
    };
    // Opened before recording, so a missing index fails before the user speaks.
    let docs = args
        .docs
        .then(|| docs_scope(ctx, args.collection.clone(), &args.embed))
        .transpose()?;
    let settings = RecorderSettings {
        device: args
            .device
            .clone()
            .or_else(|| ctx.config.audio.input_device.clone()),
        max_seconds: args.max_seconds.unwrap_or(ctx.config.audio.max_seconds),
        target_rate: rate,
        ..Default::default()
    };
    // A new recording silences any answer still being spoken.
    if let Some(v) = &voice {
        v.narrator.stop();
    }
    let mut recording = Recorder::start(settings).context("cannot record")?;
    let meter = std::io::stderr().is_terminal() && !args.json;
    if !args.json {
        eprintln!(
            "Recording from {} … press Enter to stop.",
            recording.device()
        );
    }
    let mut events = recording.take_events();
    let mut enter = voice::spawn_enter_reader();
    let mut stdin_closed = false;
    loop {
        let ev = tokio::select! {
            r = &mut enter, if !stdin_closed => {
                if r.is_ok() { break; }
                stdin_closed = true;
                continue;
            }
            ev = async { match events.as_mut() { Some(e) => e.recv().await, None => None } } => ev,
        };
        match ev {
            Some(RecordingEvent::Level { rms, seconds, .. }) if meter => {
                let bars = ((rms * 200.0).min(40.0)) as usize;
                eprint!("\r{seconds:5.1} s {:<40}", "█".repeat(bars));
            }
            Some(RecordingEvent::Stopped { reason, .. }) => {
                if !args.json {
                    eprintln!("\n[recording stopped: {reason}]");
                }
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let released = Instant::now();
    let clip = recording.finish().await.context("the recording failed")?;
    if !args.json {
        eprintln!(
            "\r[{:.1} s of speech from {:.1} s recorded]",
            clip.audio.seconds(),
            clip.captured_seconds
        );
    }

    let mut attached = Attached::default();
    let recorded = match &store {
        Some(_) if !text_only => Some(voice::save_recording(&ctx.data_dir, &clip.audio)?),
        _ => None,
    };
    let media = Media::Audio(clip.audio.clone());
    match &recorded {
        Some(p) => attached.push(p, media),
        None if !text_only => attached.media.push(media),
        None => {}
    }

    // Documents are searched with words: with --docs the clip is
    // transcribed even for a model that hears it.
    let transcribe = args.transcribe || args.docs;
    let transcript = match &whisper {
        Some(w) if transcribe || text_only => {
            let (w, clip_audio) = (w.clone(), clip.audio.clone());
            let t = tokio::task::spawn_blocking(move || w.transcribe(&clip_audio))
                .await
                .context("the Whisper task failed")??;
            Some(t.text)
        }
        _ if transcribe => Some(turn::transcribe(&engine, &clip.audio, 128).await?),
        _ => None,
    };
    if let (Some(t), false) = (&transcript, args.json) {
        eprintln!("heard: {t}");
    }
    // The transcript is the question for a model that cannot hear, and
    // the search query (and the stored question) with --docs.
    let question = match (&transcript, text_only || args.docs) {
        (Some(t), true) => t.clone(),
        _ => args.prompt.clone(),
    };

    let mut conv = Conversation::start(ctx, store, &args.gen, &engine)?;
    let asked = conv
        .ask(
            &engine,
            &question,
            Ask {
                attached,
                docs,
                narrator: voice.as_ref().map(|v| &v.narrator),
                quiet: args.json,
                ..Ask::default()
            },
        )
        .await?;
    let (outcome, first_token) = (asked.outcome, asked.first_token);
    if let Some(v) = &voice {
        v.wait().await;
    }
    let ms = |t: Option<Instant>| t.map(|t| t.duration_since(released).as_secs_f64() * 1e3);
    let first_audio = voice
        .as_ref()
        .and_then(|v| v.first_audio.lock().ok().and_then(|f| *f));
    if args.json {
        let json = serde_json::json!({
            "conversation_id": conv.id,
            "recording": recorded,
            "clip_seconds": clip.audio.seconds(),
            "stop_reason": clip.stop_reason,
            "transcript": transcript,
            "text": outcome.text,
            "sources": outcome.sources,
            "finish_reason": outcome.finish,
            "stats": outcome.stats,
            "release_to_first_token_ms": ms(first_token),
            "release_to_first_audio_ms": ms(first_audio),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!();
        if let Some(t) = ms(first_token) {
            eprintln!("[release → first token {t:.0} ms]");
        }
        if let Some(id) = conv.id {
            eprintln!("[conversation {id}; continue with --conversation {id}]");
        }
    }
    Ok(())
}
