//! Consent for tools with side effects: each call needs the user's yes,
//! unless they said "always" for that tool earlier in the session (or the
//! front end pre-approved it). The question itself is asked by a front end
//! through [`Consent`]: the CLI on the terminal, the app in a dialog, tests
//! from a script.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::{ToolCall, ToolSpec};

/// The user's answer to "run this tool?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Run this call only.
    Once,
    /// Run it, and every later call of the same tool this session.
    Always,
    /// Do not run it; the model is told the user declined.
    Deny,
}

/// Asks the user about one call. Implementations must not panic; an
/// unanswerable question (no terminal) should answer `Deny`.
pub trait Consent: Send + Sync {
    fn ask<'a>(&'a self, call: &'a ToolCall, spec: &'a ToolSpec) -> BoxFuture<'a, ConsentDecision>;
}

/// Remembers "always" answers and asks only when needed.
pub struct ConsentGate {
    consent: Arc<dyn Consent>,
    always: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for ConsentGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentGate")
            .field("always", &self.always)
            .finish()
    }
}

impl ConsentGate {
    /// A gate asking through `consent`.
    pub fn new(consent: Arc<dyn Consent>) -> Self {
        Self {
            consent,
            always: Mutex::new(HashSet::new()),
        }
    }

    /// Treat `tool` as approved without asking (e.g. `--allow-tool`).
    pub fn allow_always(&self, tool: &str) {
        if let Ok(mut set) = self.always.lock() {
            set.insert(tool.to_string());
        }
    }

    /// Whether `call` may run. Tools without side effects always may.
    pub async fn permits(&self, call: &ToolCall, spec: &ToolSpec) -> bool {
        if !spec.side_effects {
            return true;
        }
        if self
            .always
            .lock()
            .map(|s| s.contains(&spec.name))
            .unwrap_or(false)
        {
            return true;
        }
        match self.consent.ask(call, spec).await {
            ConsentDecision::Once => true,
            ConsentDecision::Always => {
                self.allow_always(&spec.name);
                true
            }
            ConsentDecision::Deny => false,
        }
    }
}

/// Where an MCP server runs, as far as consent is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerReach {
    /// A program on this computer that the user configured (stdio).
    Local,
    /// A server over the network (streamable HTTP): whoever runs it
    /// decides what its tools do, whatever they claim.
    Network,
}

/// Whether calls of an MCP tool need the user's yes. The user's own
/// `trusted = true` waives consent; the server's `readOnlyHint` is only
/// believed from a local program the user installed, never from a
/// network server (its annotations are whatever the other end says, and
/// a "read-only" tool there still receives the arguments).
pub fn mcp_tool_needs_consent(read_only_hint: bool, trusted: bool, reach: ServerReach) -> bool {
    if trusted {
        return false;
    }
    match reach {
        ServerReach::Local => !read_only_hint,
        ServerReach::Network => true,
    }
}

/// Answers from a fixed list (then `Deny`), recording what was asked.
/// For tests and non-interactive runs.
#[derive(Debug, Default)]
pub struct ScriptedConsent {
    answers: Mutex<VecDeque<ConsentDecision>>,
    asked: Mutex<Vec<String>>,
}

impl ScriptedConsent {
    /// Answer with `answers` in order.
    pub fn new(answers: impl IntoIterator<Item = ConsentDecision>) -> Self {
        Self {
            answers: Mutex::new(answers.into_iter().collect()),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// Names of the tools asked about, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Consent for ScriptedConsent {
    fn ask<'a>(
        &'a self,
        _call: &'a ToolCall,
        spec: &'a ToolSpec,
    ) -> BoxFuture<'a, ConsentDecision> {
        if let Ok(mut a) = self.asked.lock() {
            a.push(spec.name.clone());
        }
        let answer = self
            .answers
            .lock()
            .ok()
            .and_then(|mut a| a.pop_front())
            .unwrap_or(ConsentDecision::Deny);
        Box::pin(async move { answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(side_effects: bool) -> ToolSpec {
        ToolSpec {
            name: "camera".into(),
            description: String::new(),
            parameters: serde_json::json!({}),
            side_effects,
        }
    }

    fn call() -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: "camera".into(),
            arguments: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn always_is_remembered_and_once_is_not() {
        let script = Arc::new(ScriptedConsent::new([
            ConsentDecision::Once,
            ConsentDecision::Deny,
            ConsentDecision::Always,
        ]));
        let gate = ConsentGate::new(script.clone());
        let s = spec(true);
        assert!(gate.permits(&call(), &s).await);
        assert!(!gate.permits(&call(), &s).await);
        assert!(gate.permits(&call(), &s).await);
        assert!(gate.permits(&call(), &s).await);
        assert_eq!(script.asked().len(), 3);
    }

    #[test]
    fn a_network_servers_read_only_hint_does_not_waive_consent() {
        use ServerReach::{Local, Network};
        assert!(mcp_tool_needs_consent(true, false, Network));
        assert!(mcp_tool_needs_consent(false, false, Network));
        assert!(!mcp_tool_needs_consent(true, false, Local));
        assert!(mcp_tool_needs_consent(false, false, Local));
        assert!(
            !mcp_tool_needs_consent(false, true, Network),
            "the user's trust wins"
        );
    }

    #[tokio::test]
    async fn tools_without_side_effects_never_ask() {
        let script = Arc::new(ScriptedConsent::new([]));
        let gate = ConsentGate::new(script.clone());
        assert!(gate.permits(&call(), &spec(false)).await);
        assert!(script.asked().is_empty());
    }
}
