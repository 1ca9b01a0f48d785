//! `omnidesk ask`: one question, one answer. Every flag combines: images,
//! audio, a camera snapshot, `--docs`, `--tools` and `--speak` all go into
//! one turn of the library.

use std::io::Read;

use anyhow::{Context as _, Result};
use serde_json::json;

use omnidesk::chat::Role;
use omnidesk::conversation::Branch;
use omnidesk::media::Media;
use omnidesk::store::Store;
use omnidesk::turn::TurnError;

use super::args::AskArgs;
use super::attach;
use super::context::Context;
use super::conversation::{docs_scope, Ask, Conversation};
use super::voice;

pub async fn run(ctx: &Context, args: &AskArgs) -> Result<()> {
    let question = if args.regenerate {
        String::new()
    } else {
        question_text(&args.question)?
    };
    let store = if args.no_save {
        None
    } else {
        Some(ctx.open_store()?)
    };
    let branch = match (&store, args.gen.conversation) {
        (Some(store), Some(id)) if args.regenerate => Branch::Regenerate(last_question(store, id)?),
        (Some(store), Some(id)) => match args.edit {
            Some(m) => Branch::After(question_parent(store, id, m)?),
            None => Branch::Latest,
        },
        _ => Branch::Latest,
    };
    let saving = store.is_some();
    let engine = ctx.start_engine(args.json).await?;
    let caps = engine.info().capabilities;
    let mut attached = attach::load(&args.image, &args.audio, caps.audio_rate())?;
    if args.camera {
        let image = voice::snapshot(args.camera_index, args.fake_camera).await?;
        let media = Media::Image(image.clone());
        if saving {
            let path = voice::save_snapshot(&ctx.data_dir, &image)?;
            attached.push(&path, media);
        } else {
            attached.media.push(media);
        }
    }
    let docs = args
        .docs
        .then(|| docs_scope(ctx, args.collection.clone(), &args.embed))
        .transpose()?;
    let toolbox = match &args.tools.tools {
        Some(list) => Some(super::tools::toolbox(ctx, args, list, caps.vision).await?),
        None => None,
    };
    let speech = if args.speak {
        Some(voice::start_voice(ctx)?)
    } else {
        None
    };
    let mut conv = Conversation::start(ctx, store, &args.gen, &engine)?;
    let result = conv
        .ask(
            &engine,
            &question,
            Ask {
                attached,
                docs,
                tools: toolbox.as_ref().map(|t| t.turn_tools(args)).transpose()?,
                narrator: speech.as_ref().map(|v| &v.narrator),
                quiet: args.json,
                branch,
                cancel: None,
            },
        )
        .await;
    if let Some(toolbox) = toolbox {
        toolbox.close().await;
    }
    let asked = match result {
        Ok(a) => a,
        Err(e) if is_nothing_relevant(&e) => {
            if args.json {
                let out = json!({ "text": null, "sources": [], "nothing_relevant": true });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("Nothing relevant found in your documents.");
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if let Some(v) = &speech {
        v.wait().await;
    }
    let outcome = &asked.outcome;
    if args.json {
        let mut out = json!({
            "conversation_id": conv.id,
            "model": engine.info().path,
            "text": outcome.text,
            "finish_reason": outcome.finish,
            "stats": outcome.stats,
            "image_tokens": outcome.image_tokens,
            "audio_tokens": outcome.audio_tokens,
        });
        if args.speak {
            out["spoken"] = json!(outcome.spoken);
        }
        if args.docs {
            out["sources"] = json!(outcome.sources);
            out["dropped_snippets"] = json!(outcome.dropped_snippets);
            out["citations"] = json!(outcome.citations);
        }
        if args.tools.tools.is_some() {
            out["tool_calls"] = json!(outcome.tool_calls);
            out["steps"] = json!(outcome.steps);
            out["step_limit_reached"] = json!(outcome.step_limit_reached);
            out["prompt_mode"] = json!(outcome.prompt_mode);
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!();
    if args.docs {
        println!("\nSources:");
        for s in &outcome.sources {
            println!("[{}] {}", s.number, s.location());
        }
        if let Some(check) = &outcome.citations {
            if !check.invalid.is_empty() {
                eprintln!(
                    "warning: the answer cites {:?}, which match no source",
                    check.invalid
                );
            }
            if check.cites_nothing {
                eprintln!("warning: the answer cites none of the sources; check it against them");
            }
        }
    }
    if let Some(id) = conv.id {
        eprintln!("[conversation {id}; continue with --conversation {id}]");
    }
    Ok(())
}

/// The last question shown in conversation `id`, for `--regenerate`.
fn last_question(store: &Store, id: i64) -> Result<i64> {
    let messages = store
        .messages(id)
        .with_context(|| format!("conversation {id}"))?;
    messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(|m| m.id)
        .with_context(|| format!("conversation {id} has no question to answer again"))
}

/// Where an edit of question `m` goes: beside it, after its parent.
fn question_parent(store: &Store, id: i64, m: i64) -> Result<Option<i64>> {
    let message = store.message(id, m)?;
    anyhow::ensure!(
        message.role == Role::User,
        "message {m} is the {}'s, not a question; --edit takes a question's id (see `omnidesk history {id}`)",
        message.role
    );
    Ok(message.parent_id)
}

/// A documents question that found nothing: said plainly, not an error.
fn is_nothing_relevant(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<omnidesk::Error>(),
        Some(omnidesk::Error::Turn(TurnError::NothingRelevant))
    )
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
