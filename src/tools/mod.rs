//! Tool calling: the model asks for a tool by name with JSON arguments, we
//! run it (after the user's consent when it has side effects) and feed the
//! result back, until the model answers in plain text.
//!
//! Owns: tool definitions ([`ToolSpec`], JSON Schema parameters), the
//! [`ToolRegistry`] offered to a turn, prompt rendering with the model's own
//! Jinja template ([`template`]), call parsing ([`parse`]) and grammars
//! ([`grammar`]), the call loop ([`run`]), consent ([`consent`]), the
//! built-in tools ([`builtin`]) and the MCP client ([`mcp`]).
//!
//! Threading: tools are `Send + Sync` and called from async code; the loop
//! runs one call at a time, each under its own timeout, so a hung tool never
//! blocks the engine thread (it is not involved while a tool runs).

pub mod builtin;
pub mod consent;
pub mod error;
pub mod grammar;
pub mod mcp;
pub mod parse;
pub mod run;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use consent::{Consent, ConsentDecision, ConsentGate, ScriptedConsent};
pub use error::{Result, ToolError, ToolFailure};
pub use parse::ToolCall;
pub use run::{
    Generator, ScriptedGenerator, ToolEvent, ToolLoop, ToolOptions, ToolRecord, ToolRunOutcome,
};

use crate::media::Media;

/// A tool as the model sees it: the OpenAI/HF `function` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Unique name the model calls it by (`[A-Za-z0-9_.-]`).
    pub name: String,
    /// What it does, for the model to decide when to use it.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// True when running it changes or captures something in the world
    /// (camera, files written, remote actions): it then needs consent.
    #[serde(default)]
    pub side_effects: bool,
}

impl ToolSpec {
    /// The `{"type": "function", "function": {...}}` object chat templates expect.
    pub fn to_template_json(&self) -> Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            }
        })
    }

    /// Check `args` against the schema's top level: an object, every
    /// `required` key present, and declared properties of the declared
    /// JSON type. Deeper structure is the grammar's and the tool's job.
    ///
    /// # Errors
    /// A human-readable reason, shown to the model.
    pub fn check_arguments(&self, args: &Value) -> std::result::Result<(), String> {
        let Some(obj) = args.as_object() else {
            return Err("arguments must be a JSON object".into());
        };
        if let Some(required) = self.parameters.get("required").and_then(Value::as_array) {
            for key in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(key) {
                    return Err(format!("missing required argument {key:?}"));
                }
            }
        }
        let props = self.parameters.get("properties").and_then(Value::as_object);
        for (key, value) in obj {
            let Some(prop) = props.and_then(|p| p.get(key)) else {
                continue;
            };
            let Some(ty) = prop.get("type").and_then(Value::as_str) else {
                continue;
            };
            let ok = match ty {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                "null" => value.is_null(),
                _ => true,
            };
            if !ok {
                return Err(format!("argument {key:?} must be of type {ty}"));
            }
        }
        Ok(())
    }
}

/// What a tool returns: text for the model, plus optional media (a camera
/// snapshot) that a vision model can look at.
#[derive(Debug, Clone, Default)]
pub struct ToolOutput {
    pub text: String,
    pub media: Vec<Media>,
}

impl ToolOutput {
    /// Text-only output.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            media: Vec::new(),
        }
    }
}

/// Something the model can call. Implementations report failures as
/// [`ToolFailure`] (never panic on arguments the model wrote).
pub trait Tool: Send + Sync {
    /// The definition shown to the model.
    fn spec(&self) -> &ToolSpec;
    /// Run with arguments already checked against the schema's top level.
    fn call(&self, args: Value) -> BoxFuture<'_, std::result::Result<ToolOutput, ToolFailure>>;
}

/// The tools offered in one turn, by name, in a stable order.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.keys()).finish()
    }
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Offer `tool`.
    ///
    /// # Errors
    /// `DuplicateTool` when its name is taken.
    pub fn add(&mut self, tool: Arc<dyn Tool>) -> Result<()> {
        let name = tool.spec().name.clone();
        if self.tools.contains_key(&name) {
            return Err(ToolError::DuplicateTool(name));
        }
        self.tools.insert(name, tool);
        Ok(())
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    /// Every offered tool's definition, sorted by name.
    pub fn specs(&self) -> Vec<&ToolSpec> {
        self.tools.values().map(|t| t.spec()).collect()
    }

    /// Tool names joined for messages.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.tools.keys().map(String::as_str).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }

    /// Whether no tool is offered.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Number of offered tools.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Keep only the tools named in `wanted` (all when it holds `all`).
    ///
    /// # Errors
    /// `UnknownTool` for a name that is not offered.
    pub fn select(&self, wanted: &[String]) -> Result<ToolRegistry> {
        if wanted.iter().any(|w| w == "all") {
            return Ok(self.clone());
        }
        let mut out = ToolRegistry::new();
        for name in wanted {
            let tool = self.get(name).ok_or_else(|| ToolError::UnknownTool {
                name: name.clone(),
                available: self.names(),
            })?;
            out.add(tool.clone())?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ToolSpec {
        ToolSpec {
            name: "weather".into(),
            description: "Weather for a city".into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"]
            }),
            side_effects: false,
        }
    }

    #[test]
    fn arguments_missing_a_required_key_are_rejected() {
        let err = spec().check_arguments(&serde_json::json!({"days": 2}));
        assert!(err.unwrap_err().contains("city"));
    }

    #[test]
    fn arguments_of_the_wrong_type_are_rejected() {
        let err = spec().check_arguments(&serde_json::json!({"city": "Oslo", "days": "two"}));
        assert!(err.unwrap_err().contains("integer"));
    }

    #[test]
    fn non_object_arguments_are_rejected() {
        assert!(spec().check_arguments(&serde_json::json!([1])).is_err());
        assert!(spec()
            .check_arguments(&serde_json::json!({"city": "Oslo"}))
            .is_ok());
    }
}
