//! `omnidesk chat`: an interactive conversation in the terminal.

use std::io::{BufRead, Write};

use anyhow::Result;
use tokio::sync::mpsc;

use super::args::ChatArgs;
use super::attach::{self, Attached};
use super::context::Context;
use super::conversation::{Ask, Conversation};
use super::voice;

const HELP: &str =
    "Commands: /new starts a fresh conversation, /exit quits (or Ctrl-D). Ctrl-C stops an answer.";

pub async fn run(ctx: &Context, args: &ChatArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let engine = ctx.start_engine(false).await?;
    let rate = engine.info().capabilities.audio_rate();
    let mut conv = Conversation::start(ctx, Some(store), &args.gen, &engine)?;
    let mut pending = Attached::default();
    eprintln!(
        "Ready: {} ({} context tokens). {HELP}",
        engine
            .info()
            .name
            .as_deref()
            .unwrap_or(&engine.info().architecture),
        engine.info().n_ctx
    );
    let speech = if args.speak {
        Some(voice::start_voice(ctx)?)
    } else {
        None
    };
    let mut lines = spawn_stdin_reader();
    loop {
        eprint!("> ");
        std::io::stderr().flush()?;
        let line = tokio::select! {
            line = lines.recv() => line,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\n(Ctrl-C stops answers; type /exit or press Ctrl-D to quit)");
                continue;
            }
        };
        let Some(line) = line else { break };
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => break,
            "/help" => {
                eprintln!("{HELP}");
                continue;
            }
            "/new" => {
                conv.reset();
                pending = Attached::default();
                eprintln!("(new conversation)");
                continue;
            }
            _ => {}
        }
        if let Some((cmd, path)) = line
            .split_once(' ')
            .filter(|(c, _)| ["/image", "/audio"].contains(c))
        {
            let path = std::path::PathBuf::from(path.trim());
            let (images, audio) = if cmd == "/image" {
                (vec![path], vec![])
            } else {
                (vec![], vec![path])
            };
            match attach::load(&images, &audio, rate) {
                Ok(mut a) => {
                    pending.media.append(&mut a.media);
                    pending.records.append(&mut a.records);
                    eprintln!("(attached; it goes with your next message)");
                }
                Err(e) => eprintln!("error: {e:#}"),
            }
            continue;
        }
        // A new question silences the previous answer.
        if let Some(v) = &speech {
            v.narrator.stop();
        }
        let result = conv
            .ask(
                &engine,
                line,
                Ask {
                    attached: std::mem::take(&mut pending),
                    narrator: speech.as_ref().map(|v| &v.narrator),
                    ..Ask::default()
                },
            )
            .await;
        match result {
            Ok(_) => println!(),
            Err(e) => eprintln!("error: {e:#}"),
        }
    }
    Ok(())
}

/// Lines from stdin on a plain thread, so waiting for input never blocks
/// the runtime and Ctrl-C can be noticed meanwhile.
fn spawn_stdin_reader() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
