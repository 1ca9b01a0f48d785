//! `omnidesk ask`: one question, one answer.

use std::io::{Read, Write};

use anyhow::{Context as _, Result};

use super::args::AskArgs;
use super::attach;
use super::context::Context;
use super::conversation::Conversation;
use super::voice::{self, SpeakingWriter};
use omnidesk::media::Media;

pub async fn run(ctx: &Context, args: &AskArgs) -> Result<()> {
    let question = question_text(&args.question)?;
    let store = if args.no_save {
        None
    } else {
        Some(ctx.open_store()?)
    };
    let engine = ctx.start_engine(args.json).await?;
    let system = args
        .gen
        .system
        .clone()
        .or_else(|| ctx.config.system_prompt.clone());
    let model = engine.info().path.display().to_string();
    let rate = engine
        .info()
        .capabilities
        .audio_sample_rate
        .unwrap_or(16_000);
    let mut attached = attach::load(&args.image, &args.audio, rate)?;
    if args.camera {
        let image = voice::snapshot(args.camera_index, args.fake_camera).await?;
        let media = Media::Image(image.clone());
        if store.is_some() {
            let path = voice::save_snapshot(&ctx.data_dir, &image)?;
            attached.push(&path, media);
        } else {
            attached.media.push(media);
        }
    }
    let speech = if args.speak {
        Some(voice::start_voice(ctx)?)
    } else {
        None
    };
    let mut conv = Conversation::open(store.as_ref(), args.gen.conversation, system, model, rate)?;
    let template = ctx.request(&args.gen);
    let mut stdout = std::io::stdout();
    let out: Option<&mut dyn Write> = if args.json { None } else { Some(&mut stdout) };
    let mut writer = SpeakingWriter::new(out, speech.as_ref().map(|v| &v.narrator));
    let outcome = conv
        .ask(
            &engine,
            store.as_ref(),
            &template,
            &question,
            attached,
            Some(&mut writer),
        )
        .await?;
    writer.finish();
    if let Some(v) = &speech {
        v.wait().await;
    }
    if args.json {
        let json = serde_json::json!({
            "conversation_id": conv.id,
            "model": engine.info().path,
            "text": outcome.text,
            "finish_reason": outcome.finish,
            "stats": outcome.stats,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!();
        if let Some(id) = conv.id {
            eprintln!("[conversation {id}; continue with --conversation {id}]");
        }
    }
    Ok(())
}

/// Join the words; a lone `-` means read standard input.
fn question_text(words: &[String]) -> Result<String> {
    let text = if words.len() == 1 && words[0] == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the question from standard input")?;
        s
    } else {
        words.join(" ")
    };
    let text = text.trim().to_string();
    anyhow::ensure!(!text.is_empty(), "the question is empty");
    Ok(text)
}
