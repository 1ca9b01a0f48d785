//! The CLI's side of a turn: which conversation a question belongs to, and
//! how the turn's events look in a terminal. Everything else (history,
//! documents, tools, speech, saving) is the library's [`omnidesk::turn`].

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, Result};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::conversation::Branch;
use omnidesk::engine::{EngineHandle, FinishReason};
use omnidesk::media::attach::Attached;
use omnidesk::store::{ConversationId, Store};
use omnidesk::tts::Narrator;
use omnidesk::turn::{
    self, DocsScope, Thread, TurnEvent, TurnIo, TurnOutcome, TurnRequest, TurnTools,
};
use tokio_util::sync::CancellationToken;

use super::args::{EmbedArgs, GenerationArgs};
use super::context::Context;

/// A conversation as the CLI drives it: stored after every exchange, or
/// kept in memory with `--no-save`.
pub struct Conversation {
    pub id: Option<ConversationId>,
    store: Option<Mutex<Store>>,
    /// `--no-save`: the messages so far (system prompt first).
    memory: Vec<ChatMessage>,
    system_prompt: Option<String>,
    model: String,
    template: omnidesk::engine::GenerateRequest,
    /// The `[safety]` output filter's settings (a fresh filter per answer).
    safety: omnidesk::config::SafetySettings,
}

/// What one question brings beside its text.
#[derive(Default)]
pub struct Ask<'a> {
    pub attached: Attached,
    pub docs: Option<DocsScope>,
    pub tools: Option<TurnTools<'a>>,
    pub narrator: Option<&'a Narrator>,
    /// Print nothing while streaming (`--json`).
    pub quiet: bool,
    /// Where in a stored conversation the exchange goes.
    pub branch: Branch,
    /// Stops the answer from outside (talk mode's barge-in) as Ctrl-C does.
    pub cancel: Option<CancellationToken>,
}

/// A finished question, and when its first token arrived.
pub struct Asked {
    pub outcome: TurnOutcome,
    pub first_token: Option<Instant>,
}

impl Conversation {
    /// Continue `gen.conversation` or prepare a new one for `engine`: the
    /// system prompt from `--system` or the config, the model's path as its
    /// name. `store` is `None` with `--no-save`.
    pub fn start(
        ctx: &Context,
        store: Option<Store>,
        gen: &GenerationArgs,
        engine: &EngineHandle,
    ) -> Result<Self> {
        let system_prompt = gen
            .system
            .clone()
            .or_else(|| ctx.config.system_prompt.clone());
        if let Some(id) = gen.conversation {
            let store = store
                .as_ref()
                .context("--conversation needs the history database (drop --no-save)")?;
            store
                .conversation(id)
                .with_context(|| format!("conversation {id}"))?;
        }
        Ok(Self {
            id: gen.conversation,
            memory: omnidesk::conversation::fresh(system_prompt.as_deref()),
            store: store.map(Mutex::new),
            system_prompt,
            model: engine.info().path.display().to_string(),
            template: ctx.request(gen),
            safety: ctx.config.safety.clone(),
        })
    }

    /// The history database (`None` with `--no-save`).
    pub fn store(&self) -> Option<&Mutex<Store>> {
        self.store.as_ref()
    }

    /// Start a fresh conversation with the same system prompt.
    pub fn reset(&mut self) {
        self.id = None;
        self.memory = omnidesk::conversation::fresh(self.system_prompt.as_deref());
    }

    /// Ask `text`, streaming the answer to stdout (unless quiet) and notes
    /// to stderr. Ctrl-C stops the answer; what was written is kept and
    /// stored.
    pub async fn ask(&mut self, engine: &EngineHandle, text: &str, ask: Ask<'_>) -> Result<Asked> {
        let thread = match (&self.store, self.id) {
            (Some(_), Some(id)) => Thread::Stored {
                id,
                branch: ask.branch,
            },
            (Some(_), None) => Thread::New,
            (None, _) => Thread::Unsaved(self.memory.clone()),
        };
        let request = TurnRequest {
            thread,
            system_prompt: self.system_prompt.clone(),
            model_name: Some(self.model.clone()),
            text: text.to_owned(),
            attached: ask.attached,
            docs: ask.docs,
            generation: self.template.clone(),
        };
        let filter = turn::filter::OutputFilter::new(&self.safety)
            .map_err(omnidesk::turn::TurnError::from)
            .map_err(omnidesk::Error::from)?;
        let cancel = ask.cancel.unwrap_or_default();
        let on_ctrl_c = cancel.clone();
        let ctrl_c = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        let quiet = ask.quiet;
        let mut first_token = None;
        let mut on_event = |ev: TurnEvent| print_event(ev, quiet, &mut first_token);
        let result = turn::run(
            engine,
            self.store.as_ref(),
            request,
            TurnIo {
                tools: ask.tools,
                narrator: ask.narrator,
                cancel,
                filter,
                on_event: &mut on_event,
            },
        )
        .await;
        ctrl_c.abort();
        let outcome = result?;
        if outcome.finish == FinishReason::Cancelled && !quiet {
            eprintln!("\n[stopped]");
        }
        if let Some(saved) = &outcome.saved {
            self.id = Some(saved.conversation);
        } else {
            self.memory.push(outcome.question.clone());
            self.memory
                .push(ChatMessage::new(Role::Assistant, outcome.text.clone()));
        }
        Ok(Asked {
            outcome,
            first_token,
        })
    }
}

/// One turn event in the terminal: answer text on stdout, the rest on
/// stderr.
fn print_event(ev: TurnEvent, quiet: bool, first_token: &mut Option<Instant>) {
    if let TurnEvent::Token(_) = ev {
        first_token.get_or_insert_with(Instant::now);
    }
    if quiet {
        return;
    }
    match ev {
        TurnEvent::Token(t) => {
            let mut out = std::io::stdout();
            let _ = out.write_all(t.as_bytes());
            let _ = out.flush();
        }
        TurnEvent::Started {
            dropped_messages, ..
        } if dropped_messages > 0 => eprintln!(
            "[the conversation outgrew the context: the {dropped_messages} oldest messages are left out of this answer]"
        ),
        TurnEvent::ToolCall(c) => eprintln!("\n[tool] {} {}", c.name, c.arguments),
        TurnEvent::ToolResult(r) => {
            let shown: String = r.output.chars().take(300).collect();
            eprintln!("[tool] {} → {shown}", r.call.name);
        }
        TurnEvent::Notice { message, .. } => eprintln!("\n[{message}]"),
        TurnEvent::Sources(_) | TurnEvent::Started { .. } | TurnEvent::Spoken(_) => {}
    }
}

/// The document scope of `--docs` (with `--collection`), one for every
/// command that takes it.
pub fn docs_scope(
    ctx: &Context,
    collection: Option<String>,
    embed: &EmbedArgs,
) -> Result<omnidesk::turn::DocsScope> {
    Ok(omnidesk::turn::DocsScope {
        rag: ctx.open_rag(embed)?,
        options: omnidesk::rag::SearchOptions {
            collection,
            ..Default::default()
        },
    })
}
