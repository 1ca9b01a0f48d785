//! One conversation as the CLI drives it: history in memory, mirrored to
//! the store after every exchange so nothing is lost on a crash.

use anyhow::{Context as _, Result};
use omnidesk::chat::{ChatMessage, Role};
use omnidesk::conversation::{self, Exchange, NewConversation};
use omnidesk::engine::{
    EngineHandle, FinishReason, GenerateRequest, GenerationEvent, GenerationOutcome,
};
use omnidesk::store::{Attachment, ConversationId, Store};

use super::args::GenerationArgs;
use super::attach::{self, Attached};
use super::context::Context;
use std::io::Write;

/// History plus where it is stored (if anywhere).
pub struct Conversation {
    pub id: Option<ConversationId>,
    pub messages: Vec<ChatMessage>,
    system_prompt: Option<String>,
    model: String,
}

impl Conversation {
    /// Continue `gen.conversation` or prepare a new one for `engine`: the
    /// system prompt from `--system` or the config, the model's name and
    /// audio rate from the engine.
    pub fn start(
        ctx: &Context,
        store: Option<&Store>,
        gen: &GenerationArgs,
        engine: &EngineHandle,
    ) -> Result<Self> {
        let system = gen
            .system
            .clone()
            .or_else(|| ctx.config.system_prompt.clone());
        let info = engine.info();
        let rate = info.capabilities.audio_rate();
        Self::open(
            store,
            gen.conversation,
            system,
            info.path.display().to_string(),
            rate,
        )
    }

    /// The system prompt new conversations get.
    pub fn system_prompt(&self) -> Option<&str> {
        self.system_prompt.as_deref()
    }

    /// The model name stored with a new conversation.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Continue a stored conversation, or prepare a new one.
    pub fn open(
        store: Option<&Store>,
        id: Option<ConversationId>,
        system_prompt: Option<String>,
        model: String,
        audio_rate: u32,
    ) -> Result<Self> {
        let Some(id) = id else {
            let messages = system_prompt
                .iter()
                .map(|s| ChatMessage::new(Role::System, s.clone()))
                .collect();
            return Ok(Self {
                id: None,
                messages,
                system_prompt,
                model,
            });
        };
        let store = store.context("--conversation needs the history database (drop --no-save)")?;
        let stored = store
            .conversation(id)
            .with_context(|| format!("conversation {id}"))?;
        let mut messages: Vec<ChatMessage> = stored
            .system_prompt
            .iter()
            .map(|s| ChatMessage::new(Role::System, s.clone()))
            .collect();
        messages.extend(store.messages(id)?.into_iter().map(|m| {
            let media = attach::reload(&m.attachments, audio_rate);
            ChatMessage::with_media(m.role, m.content, media)
        }));
        Ok(Self {
            id: Some(id),
            messages,
            system_prompt: stored.system_prompt,
            model,
        })
    }

    /// Start a fresh conversation with the same system prompt.
    pub fn reset(&mut self) {
        *self = Self {
            id: None,
            messages: self
                .system_prompt
                .iter()
                .map(|s| ChatMessage::new(Role::System, s.clone()))
                .collect(),
            system_prompt: self.system_prompt.take(),
            model: std::mem::take(&mut self.model),
        };
    }

    /// Ask `question`, streaming tokens to `out` (when given). Ctrl-C
    /// cancels the answer; what was written so far is kept and stored.
    pub async fn ask(
        &mut self,
        engine: &EngineHandle,
        store: Option<&Store>,
        template: &GenerateRequest,
        question: &str,
        attached: Attached,
        mut out: Option<&mut dyn Write>,
    ) -> Result<GenerationOutcome> {
        self.messages.push(ChatMessage::with_media(
            Role::User,
            question,
            attached.media,
        ));
        let mut request = template.clone();
        request.messages = self.messages.clone();
        let mut stream = match engine.generate(request) {
            Ok(s) => s,
            Err(e) => {
                self.messages.pop();
                return Err(e.into());
            }
        };
        let outcome = loop {
            let event = tokio::select! {
                ev = stream.next() => ev,
                _ = tokio::signal::ctrl_c() => { stream.cancel(); continue; }
            };
            match event {
                Some(GenerationEvent::Started {
                    dropped_messages, ..
                }) if dropped_messages > 0 => {
                    eprintln!(
                        "[the conversation outgrew the context: the {dropped_messages} oldest messages are left out of this answer]"
                    );
                }
                Some(GenerationEvent::Token(t)) => {
                    if let Some(w) = out.as_deref_mut() {
                        w.write_all(t.as_bytes())?;
                        w.flush()?;
                    }
                }
                Some(GenerationEvent::Done(o)) => break o,
                Some(GenerationEvent::Failed(e)) => {
                    self.messages.pop();
                    return Err(e.into());
                }
                Some(GenerationEvent::Started { .. }) => {}
                None => {
                    self.messages.pop();
                    anyhow::bail!("the engine stopped unexpectedly");
                }
            }
        };
        if outcome.finish == FinishReason::Cancelled {
            eprintln!("\n[stopped]");
        }
        self.messages
            .push(ChatMessage::new(Role::Assistant, outcome.text.clone()));
        if let Some(store) = store {
            self.save_exchange(store, question, &attached.records, &outcome)?;
        }
        Ok(outcome)
    }

    fn save_exchange(
        &mut self,
        store: &Store,
        question: &str,
        attachments: &[Attachment],
        outcome: &GenerationOutcome,
    ) -> Result<()> {
        let saved = conversation::save_exchange(
            store,
            self.id,
            NewConversation {
                model: Some(&self.model),
                system_prompt: self.system_prompt.as_deref(),
            },
            Exchange {
                question,
                attachments,
                outcome,
                sources: &[],
                tool_calls: &[],
            },
        )?;
        self.id = Some(saved.conversation);
        Ok(())
    }
}
