//! `omnidesk ask`: one question, one answer.

use std::io::{Read, Write};

use anyhow::{Context as _, Result};

use omnidesk::engine::GenerationEvent;
use omnidesk::rag::answer;
use omnidesk::rag::SearchOptions;

use super::args::AskArgs;
use super::attach;
use super::context::Context;
use super::conversation::Conversation;
use super::voice::{self, SpeakingWriter};
use omnidesk::media::Media;

pub async fn run(ctx: &Context, args: &AskArgs) -> Result<()> {
    let question = question_text(&args.question)?;
    if args.docs {
        return ask_docs(ctx, args, &question).await;
    }
    if let Some(list) = &args.tools.tools {
        return super::tools::ask(ctx, args, &question, list).await;
    }
    let store = if args.no_save {
        None
    } else {
        Some(ctx.open_store()?)
    };
    let engine = ctx.start_engine(args.json).await?;
    let rate = engine
        .info()
        .capabilities.audio_rate();
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
    let mut conv = Conversation::start(ctx, store.as_ref(), &args.gen, &engine)?;
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

/// Answer from the document index: retrieve, fit numbered snippets into
/// the context, stream the answer, then list the sources and check the
/// answer's citations. Not stored in the history.
async fn ask_docs(ctx: &Context, args: &AskArgs, question: &str) -> Result<()> {
    let rag = ctx.open_rag(&args.embed)?;
    let options = SearchOptions {
        collection: args.collection.clone(),
        ..Default::default()
    };
    let r = rag.clone();
    let q = question.to_string();
    let hits = tokio::task::spawn_blocking(move || r.search(&q, &options)).await??;
    if hits.is_empty() {
        if args.json {
            let json = serde_json::json!({
                "text": null,
                "sources": [],
                "nothing_relevant": true,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            println!("Nothing relevant found in your documents.");
        }
        return Ok(());
    }
    let engine = ctx.start_engine(args.json).await?;
    let mut request = ctx.request(&args.gen);
    let docs = answer::docs_question(
        question,
        &hits,
        args.gen.system.as_deref(),
        engine.info().n_ctx as usize,
        request.max_tokens,
    )?;
    let prompt = docs.prompt;
    request.messages = docs.messages;
    let mut stream = engine.generate(request)?;
    let cancel = stream.cancel_token();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let mut stdout = std::io::stdout();
    let outcome = loop {
        match stream.next().await {
            Some(GenerationEvent::Token(t)) if !args.json => {
                stdout.write_all(t.as_bytes())?;
                stdout.flush()?;
            }
            Some(GenerationEvent::Done(o)) => break o,
            Some(GenerationEvent::Failed(e)) => return Err(e.into()),
            Some(_) => {}
            None => anyhow::bail!("the engine stopped unexpectedly"),
        }
    };
    ctrl_c.abort();
    let check = answer::check_citations(&outcome.text, prompt.sources.len());
    if args.json {
        let json = serde_json::json!({
            "model": engine.info().path,
            "text": outcome.text,
            "finish_reason": outcome.finish,
            "stats": outcome.stats,
            "sources": prompt.sources,
            "dropped_snippets": prompt.dropped,
            "citations": check,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!("\n\nSources:");
    for s in &prompt.sources {
        println!("[{}] {}", s.number, s.location());
    }
    if !check.invalid.is_empty() {
        eprintln!(
            "warning: the answer cites {:?}, which match no source",
            check.invalid
        );
    }
    if check.cites_nothing {
        eprintln!("warning: the answer cites none of the sources; check it against them");
    }
    Ok(())
}

/// Join the words; a lone `-` means read standard input.
pub(super) fn question_text(words: &[String]) -> Result<String> {
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
