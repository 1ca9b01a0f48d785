//! The call loop: generate, parse calls, ask consent, run each call under a
//! timeout, feed the results back, and repeat until the model answers in
//! plain text or the step limit is reached. Every call and result is kept
//! as a [`ToolRecord`] for the transcript and the store, and progress is
//! streamed to the caller as [`ToolEvent`]s.
//!
//! Two prompt paths: when the model's Jinja template knows tools it renders
//! everything (native format); otherwise the tools are described in the
//! system prompt in the Hermes `<tool_call>` format and llama.cpp's template
//! renders the turns. Either way a grammar keeps calls valid JSON.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::consent::ConsentGate;
use super::error::{Result, ToolFailure};
use super::grammar::tool_call_grammar;
use super::parse::{self, ToolCall, CLOSE_TAG, OPEN_TAG};
use super::template::{supports_tools, JinjaTemplate};
use super::{ToolOutput, ToolRegistry};
use crate::chat::{ChatMessage, Role};
use crate::engine::{
    ConstrainedRequest, EngineError, EngineHandle, GenerateRequest, GenerationEvent,
    GenerationOutcome,
};
use crate::gguf;
use crate::media::Media;

/// Whether the model must call a tool on the first step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides (the grammar waits for `<tool_call>`).
    #[default]
    Auto,
    /// The first step must be a call (the grammar applies from the start).
    Required,
}

/// Limits and choices for one tool-calling turn.
#[derive(Debug, Clone)]
pub struct ToolOptions {
    /// Model generations at most, calls included; the last one answers.
    pub max_steps: usize,
    /// How long one call may run before it is abandoned.
    pub call_timeout: Duration,
    pub tool_choice: ToolChoice,
    /// A Jinja chat template to use instead of the model's own.
    pub template: Option<String>,
    /// Let one generation hold several calls. Off by default (as in
    /// llama.cpp's server): small models otherwise repeat a call until the
    /// token limit cuts the last one in half.
    pub parallel_calls: bool,
}

impl Default for ToolOptions {
    fn default() -> Self {
        Self {
            max_steps: 5,
            call_timeout: Duration::from_secs(30),
            tool_choice: ToolChoice::Auto,
            template: None,
            parallel_calls: false,
        }
    }
}

/// One executed (or refused) call and what the model was told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    /// Which generation asked for it (0-based).
    pub step: usize,
    pub call: ToolCall,
    /// The text fed back to the model: the tool's output, or the error.
    pub output: String,
    /// Stable code of the failure, `None` when the tool succeeded.
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// Progress of a tool-calling turn, in order.
#[derive(Debug, Clone)]
pub enum ToolEvent {
    /// A new generation starts.
    Step(usize),
    /// Answer text as it is written (call markup is held back).
    Token(String),
    /// The model asked for a call; consent and execution follow.
    Call(ToolCall),
    /// A call finished (or failed, or was declined).
    Result(ToolRecord),
}

/// Calls made in an earlier turn of a continued conversation, so the model
/// sees what it already did (and what it was told) before `before`'s answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlierCalls {
    /// Index, in the messages given to [`ToolLoop::run_continuing`], of the
    /// assistant answer these calls led to.
    pub before: usize,
    /// The calls and results, in order.
    pub records: Vec<ToolRecord>,
}

/// How a tool-calling turn ended.
#[derive(Debug, Clone)]
pub struct ToolRunOutcome {
    /// The final answer (text outside any call).
    pub text: String,
    /// Every call, in order.
    pub records: Vec<ToolRecord>,
    /// Generations run.
    pub steps: usize,
    /// True when the model still wanted tools at the last step.
    pub step_limit_reached: bool,
    /// Which prompt path ran: `"jinja"` or `"system-prompt"`.
    pub prompt_mode: &'static str,
    /// The last generation (finish reason, counters).
    pub last: GenerationOutcome,
}

/// What the loop generates with: the real engine, or a script in tests.
pub trait Generator: Send + Sync {
    /// The model's Jinja chat template, when it has one.
    fn chat_template(&self) -> Option<String>;
    /// Run one generation, reporting text as it comes.
    fn generate<'a>(
        &'a self,
        request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, std::result::Result<GenerationOutcome, EngineError>>;
}

impl Generator for EngineHandle {
    fn chat_template(&self) -> Option<String> {
        // A configured template is a llama.cpp name, not Jinja.
        if self.info().chat_template != "from the model" {
            return None;
        }
        gguf::inspect(&self.info().path).ok()?.chat_template
    }

    fn generate<'a>(
        &'a self,
        request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, std::result::Result<GenerationOutcome, EngineError>> {
        Box::pin(async move {
            let mut stream = self.generate_constrained(request)?;
            while let Some(ev) = stream.next().await {
                match ev {
                    GenerationEvent::Token(t) => on_text(&t),
                    GenerationEvent::Done(o) => return Ok(o),
                    GenerationEvent::Failed(e) => return Err(e),
                    GenerationEvent::Started { .. } => {}
                }
            }
            Err(EngineError::Stopped)
        })
    }
}

/// Plays back fixed model outputs and keeps every request it was given, so
/// tests can check prompts, grammars and the loop without sampling.
#[derive(Debug, Default)]
pub struct ScriptedGenerator {
    template: Option<String>,
    outputs: Mutex<VecDeque<String>>,
    requests: Mutex<Vec<ConstrainedRequest>>,
}

impl ScriptedGenerator {
    /// Answer with `outputs` in order, as a model with `template`.
    pub fn new(template: Option<String>, outputs: impl IntoIterator<Item = String>) -> Self {
        Self {
            template,
            outputs: Mutex::new(outputs.into_iter().collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<ConstrainedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Generator for ScriptedGenerator {
    fn chat_template(&self) -> Option<String> {
        self.template.clone()
    }

    fn generate<'a>(
        &'a self,
        request: ConstrainedRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
    ) -> BoxFuture<'a, std::result::Result<GenerationOutcome, EngineError>> {
        if let Ok(mut r) = self.requests.lock() {
            r.push(request);
        }
        let text = self
            .outputs
            .lock()
            .ok()
            .and_then(|mut o| o.pop_front())
            .ok_or_else(|| EngineError::InvalidRequest("the script has no more outputs".into()));
        Box::pin(async move {
            let text = text?;
            // Two pieces, so stream filtering across chunks is exercised.
            let mid = text
                .char_indices()
                .nth(text.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            on_text(&text[..mid]);
            on_text(&text[mid..]);
            Ok(GenerationOutcome {
                text,
                finish: crate::engine::FinishReason::Stop,
                stats: Default::default(),
            })
        })
    }
}

/// One turn of the conversation as the loop keeps it: richer than
/// [`ChatMessage`], since assistant turns carry calls and tool turns ids.
#[derive(Debug, Clone)]
enum Turn {
    Chat(ChatMessage),
    Calls {
        content: String,
        calls: Vec<ToolCall>,
    },
    Result {
        call: ToolCall,
        output: String,
    },
}

/// The tool-calling driver for one conversation turn.
pub struct ToolLoop<'a> {
    generator: &'a dyn Generator,
    tools: &'a ToolRegistry,
    gate: &'a ConsentGate,
    options: ToolOptions,
}

impl<'a> ToolLoop<'a> {
    /// A loop over `tools`, asking `gate` before side effects.
    pub fn new(
        generator: &'a dyn Generator,
        tools: &'a ToolRegistry,
        gate: &'a ConsentGate,
        options: ToolOptions,
    ) -> Self {
        Self {
            generator,
            tools,
            gate,
            options,
        }
    }

    /// Answer the last message of `messages`, calling tools as the model
    /// asks. `request` gives sampling, limits and stop strings (its own
    /// messages are ignored).
    ///
    /// # Errors
    /// `Engine` when generation fails, `Template` when the model's template
    /// cannot render, `Schema` for an unusable tool schema. A failing tool
    /// is not an error: the model reads the failure and goes on.
    pub async fn run(
        &self,
        messages: Vec<ChatMessage>,
        request: &GenerateRequest,
        on_event: &mut (dyn FnMut(ToolEvent) + Send),
    ) -> Result<ToolRunOutcome> {
        self.run_continuing(messages, &[], request, on_event).await
    }

    /// [`Self::run`] for a continued conversation: `earlier` calls are
    /// replayed as call and result turns before the answers they led to.
    ///
    /// # Errors
    /// As [`Self::run`].
    pub async fn run_continuing(
        &self,
        messages: Vec<ChatMessage>,
        earlier: &[EarlierCalls],
        request: &GenerateRequest,
        on_event: &mut (dyn FnMut(ToolEvent) + Send),
    ) -> Result<ToolRunOutcome> {
        let source = self
            .options
            .template
            .clone()
            .or_else(|| self.generator.chat_template());
        let jinja = match source {
            Some(s) if supports_tools(&s) => Some(JinjaTemplate::new(&s)?),
            _ => None,
        };
        let specs = self.tools.specs();
        let max_steps = self.options.max_steps.max(1);
        let mut turns = replay(messages, earlier);
        let mut records = Vec::new();
        let mut step = 0;
        loop {
            let last_step = step + 1 >= max_steps;
            let offer_tools = !specs.is_empty() && !last_step;
            let grammar = if offer_tools {
                let required = step == 0 && self.options.tool_choice == ToolChoice::Required;
                Some(tool_call_grammar(
                    &specs,
                    required,
                    self.options.parallel_calls,
                )?)
            } else {
                None
            };
            let mut constrained = match &jinja {
                Some(t) => self.jinja_request(t, &turns, request, offer_tools)?,
                None => self.fallback_request(&turns, request, offer_tools),
            };
            constrained.grammar = grammar;
            on_event(ToolEvent::Step(step));
            let mut filter = StreamFilter::default();
            let outcome = {
                let mut forward = |t: &str| {
                    if let Some(visible) = filter.push(t) {
                        on_event(ToolEvent::Token(visible));
                    }
                };
                self.generator.generate(constrained, &mut forward).await?
            };
            if let Some(rest) = filter.finish() {
                on_event(ToolEvent::Token(rest));
            }
            let parsed = parse::parse(&outcome.text);
            // A stopped generation ends the turn: half-written calls are not run.
            let stopped = outcome.finish == crate::engine::FinishReason::Cancelled;
            let wants_tools =
                !stopped && (!parsed.calls.is_empty() || !parsed.malformed.is_empty());
            if !wants_tools || last_step {
                return Ok(ToolRunOutcome {
                    text: parsed.content,
                    records,
                    steps: step + 1,
                    step_limit_reached: wants_tools,
                    prompt_mode: if jinja.is_some() {
                        "jinja"
                    } else {
                        "system-prompt"
                    },
                    last: outcome,
                });
            }
            let mut calls = Vec::new();
            for (i, mut call) in parsed.calls.into_iter().enumerate() {
                call.id = format!("call_{step}_{i}");
                calls.push(call);
            }
            turns.push(Turn::Calls {
                content: parsed.content,
                calls: calls.clone(),
            });
            for (i, reason) in parsed.malformed.into_iter().enumerate() {
                let call = ToolCall {
                    id: format!("call_{step}_bad{i}"),
                    name: "invalid".into(),
                    arguments: Value::Null,
                };
                on_event(ToolEvent::Call(call.clone()));
                let failure = ToolFailure::Malformed(reason);
                let record = self.record(step, call, Err(failure), Instant::now());
                self.push_result(&mut turns, &mut records, record, on_event);
            }
            for call in calls {
                on_event(ToolEvent::Call(call.clone()));
                let started = Instant::now();
                let result = self.execute(&call).await;
                let record = self.record(
                    step,
                    call,
                    result
                        .as_ref()
                        .map(|o| o.text.clone())
                        .map_err(Clone::clone),
                    started,
                );
                if let Ok(out) = result {
                    if !out.media.is_empty() {
                        turns.push(Turn::Chat(ChatMessage::with_media(
                            Role::User,
                            format!("(attached by {})", record.call.name),
                            out.media,
                        )));
                    }
                }
                self.push_result(&mut turns, &mut records, record, on_event);
            }
            step += 1;
        }
    }

    fn record(
        &self,
        step: usize,
        call: ToolCall,
        result: std::result::Result<String, ToolFailure>,
        started: Instant,
    ) -> ToolRecord {
        let (output, error) = match result {
            Ok(text) => (text, None),
            Err(f) => (format!("error: {f}"), Some(f.code().to_string())),
        };
        ToolRecord {
            step,
            call,
            output,
            error,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }

    fn push_result(
        &self,
        turns: &mut Vec<Turn>,
        records: &mut Vec<ToolRecord>,
        record: ToolRecord,
        on_event: &mut (dyn FnMut(ToolEvent) + Send),
    ) {
        // Tool results sit before any media a tool attached in this step.
        let at = turns
            .iter()
            .rposition(
                |t| !matches!(t, Turn::Chat(m) if m.role == Role::User && !m.media.is_empty()),
            )
            .map_or(turns.len(), |i| i + 1);
        turns.insert(
            at,
            Turn::Result {
                call: record.call.clone(),
                output: record.output.clone(),
            },
        );
        on_event(ToolEvent::Result(record.clone()));
        records.push(record);
    }

    /// Look up, check, ask, and run one call under the timeout.
    async fn execute(&self, call: &ToolCall) -> std::result::Result<ToolOutput, ToolFailure> {
        let tool = self
            .tools
            .get(&call.name)
            .ok_or_else(|| ToolFailure::UnknownTool {
                name: call.name.clone(),
                available: self.tools.names(),
            })?
            .clone();
        let spec = tool.spec().clone();
        spec.check_arguments(&call.arguments)
            .map_err(|reason| ToolFailure::InvalidArguments {
                tool: spec.name.clone(),
                reason,
            })?;
        if !self.gate.permits(call, &spec).await {
            return Err(ToolFailure::Declined(spec.name));
        }
        let args = call.arguments.clone();
        let tool_for_task: Arc<dyn super::Tool> = tool;
        // Its own task: a panicking tool is a failed call, and a hung one
        // is aborted at the timeout.
        let handle = tokio::spawn(async move { tool_for_task.call(args).await });
        let abort = handle.abort_handle();
        match tokio::time::timeout(self.options.call_timeout, handle).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(ToolFailure::Failed {
                tool: spec.name,
                reason: if join.is_panic() {
                    "the tool crashed".into()
                } else {
                    "the tool was cancelled".into()
                },
            }),
            Err(_) => {
                abort.abort();
                Err(ToolFailure::Timeout {
                    tool: spec.name,
                    seconds: self.options.call_timeout.as_secs().max(1),
                })
            }
        }
    }

    /// The native path: HF-format messages through the model's template.
    fn jinja_request(
        &self,
        template: &JinjaTemplate,
        turns: &[Turn],
        request: &GenerateRequest,
        offer_tools: bool,
    ) -> Result<ConstrainedRequest> {
        let mut messages = Vec::with_capacity(turns.len());
        let mut media: Vec<Media> = Vec::new();
        for turn in turns {
            match turn {
                Turn::Chat(m) => {
                    media.extend(m.media.iter().cloned());
                    messages.push(json!({"role": m.role.as_str(), "content": with_markers(m)}));
                }
                Turn::Calls { content, calls } => messages.push(json!({
                    "role": "assistant",
                    "content": content,
                    "tool_calls": calls.iter().map(|c| json!({
                        "type": "function",
                        "id": c.id,
                        "function": {"name": c.name, "arguments": c.arguments},
                    })).collect::<Vec<_>>(),
                })),
                Turn::Result { call, output } => messages.push(json!({
                    "role": "tool",
                    "tool_call_id": call.id,
                    "name": call.name,
                    "content": output,
                })),
            }
        }
        let tools: Vec<Value> = if offer_tools {
            self.tools
                .specs()
                .iter()
                .map(|s| s.to_template_json())
                .collect()
        } else {
            Vec::new()
        };
        let prompt = template.render(&messages, &tools, true, "")?;
        let mut base = request.clone();
        // Media travel in the messages; the text is already rendered.
        base.messages = vec![ChatMessage::with_media(Role::User, String::new(), media)];
        Ok(ConstrainedRequest {
            request: base,
            prompt: Some(prompt),
            grammar: None,
        })
    }

    /// The fallback path: tools described in the system prompt, calls and
    /// results as text, llama.cpp's template for the turns.
    fn fallback_request(
        &self,
        turns: &[Turn],
        request: &GenerateRequest,
        offer_tools: bool,
    ) -> ConstrainedRequest {
        let mut messages: Vec<ChatMessage> = Vec::with_capacity(turns.len() + 1);
        for turn in turns {
            match turn {
                Turn::Chat(m) => messages.push(m.clone()),
                Turn::Calls { content, calls } => {
                    let mut text = content.clone();
                    for c in calls {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        let body = json!({"name": c.name, "arguments": c.arguments});
                        text.push_str(&format!("{OPEN_TAG}\n{body}\n{CLOSE_TAG}"));
                    }
                    messages.push(ChatMessage::new(Role::Assistant, text));
                }
                Turn::Result { call, output } => {
                    let body = json!({"name": call.name, "content": output});
                    messages.push(ChatMessage::new(
                        Role::User,
                        format!("<tool_response>\n{body}\n</tool_response>"),
                    ));
                }
            }
        }
        if offer_tools {
            let instructions = system_instructions(self.tools);
            match messages.first_mut() {
                Some(m) if m.role == Role::System => {
                    m.content = format!("{}\n\n{instructions}", m.content);
                }
                _ => messages.insert(0, ChatMessage::new(Role::System, instructions)),
            }
        }
        let mut base = request.clone();
        base.messages = messages;
        ConstrainedRequest {
            request: base,
            prompt: None,
            grammar: None,
        }
    }
}

/// The conversation as turns, with `earlier` calls put back in front of
/// the answers they led to, one call turn per step.
fn replay(messages: Vec<ChatMessage>, earlier: &[EarlierCalls]) -> Vec<Turn> {
    let mut turns = Vec::with_capacity(messages.len());
    for (i, m) in messages.into_iter().enumerate() {
        for e in earlier.iter().filter(|e| e.before == i) {
            let mut steps: Vec<usize> = e.records.iter().map(|r| r.step).collect();
            steps.dedup();
            for step in steps {
                let in_step = || e.records.iter().filter(move |r| r.step == step);
                turns.push(Turn::Calls {
                    content: String::new(),
                    calls: in_step().map(|r| r.call.clone()).collect(),
                });
                turns.extend(in_step().map(|r| Turn::Result {
                    call: r.call.clone(),
                    output: r.output.clone(),
                }));
            }
        }
        turns.push(Turn::Chat(m));
    }
    turns
}

/// The tool description for models whose template has no tool support.
pub fn system_instructions(tools: &ToolRegistry) -> String {
    let mut s = String::from(
        "You can call tools. To call one, reply with only:\n<tool_call>\n{\"name\": \"TOOL_NAME\", \"arguments\": {ARGUMENTS}}\n</tool_call>\nEach result comes back in <tool_response> tags; then answer the user. Do not call a tool when you can answer directly.\nTools:\n",
    );
    for spec in tools.specs() {
        s.push_str(&json!({"name": spec.name, "description": spec.description, "parameters": spec.parameters}).to_string());
        s.push('\n');
    }
    s
}

/// A message's text as data with one media marker per attachment (as the
/// engine's own rendering places them).
fn with_markers(m: &ChatMessage) -> String {
    crate::engine::segments::data_with_media(&m.content, m.media.len())
}

/// Holds back call markup from the visible stream: text is forwarded until
/// something that may start a call appears, and nothing after it.
#[derive(Debug, Default)]
struct StreamFilter {
    seen: String,
    sent: usize,
    hidden: bool,
}

/// Openings of call formats; text from one of them on is not shown.
const MARKERS: &[&str] = &[
    OPEN_TAG,
    "<function=",
    "[TOOL_CALLS]",
    "<|python_tag|>",
    "```",
];

impl StreamFilter {
    fn push(&mut self, text: &str) -> Option<String> {
        if self.hidden {
            return None;
        }
        self.seen.push_str(text);
        // A bare JSON object at the very start is a Llama-style call.
        if self.seen.trim_start().starts_with('{') {
            self.hidden = true;
            return None;
        }
        if let Some(at) = MARKERS.iter().filter_map(|m| self.seen.find(m)).min() {
            self.hidden = true;
            return self.emit(at);
        }
        // Keep a tail that could be the start of a marker.
        let seen = &self.seen;
        let keep = MARKERS
            .iter()
            .flat_map(|m| (1..m.len()).filter(move |&n| seen.ends_with(&m[..n])))
            .max()
            .unwrap_or(0);
        self.emit(self.seen.len() - keep)
    }

    fn emit(&mut self, upto: usize) -> Option<String> {
        if upto <= self.sent || !self.seen.is_char_boundary(upto) {
            return None;
        }
        let out = self.seen[self.sent..upto].to_string();
        self.sent = upto;
        Some(out)
    }

    fn finish(&mut self) -> Option<String> {
        if self.hidden {
            return None;
        }
        let len = self.seen.len();
        self.emit(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(chunks: &[&str]) -> String {
        let mut f = StreamFilter::default();
        let mut out: String = chunks.iter().filter_map(|c| f.push(c)).collect();
        out.extend(f.finish());
        out
    }

    #[test]
    fn stream_filter_hides_calls_split_across_chunks() {
        assert_eq!(
            shown(&["Let me look. <to", "ol_call>{\"name\""]),
            "Let me look. "
        );
        assert_eq!(shown(&["It is <b>", " sunny"]), "It is <b> sunny");
        assert_eq!(shown(&["  {\"name\": ", "\"x\"}"]), "");
        assert_eq!(shown(&["plain"]), "plain");
    }
}
