//! Grammars that keep tool calls well-formed: the tools' JSON Schemas go
//! through llama.cpp's own json-schema-to-grammar converter, wrapped in the
//! `<tool_call>…</tool_call>` tags the parser reads.
//!
//! The grammar is lazy by default (it switches on at `<tool_call>`), so the
//! model can still answer in plain text; "required" makes it apply from the
//! first token, forcing a call.

use serde_json::{json, Value};

use super::error::{Result, ToolError};
use super::parse::{CLOSE_TAG, OPEN_TAG};
use super::ToolSpec;
use crate::engine::Grammar;

/// Name the converter's start rule is renamed to, so ours can wrap it.
const BODY_RULE: &str = "tool-call-body";

/// The JSON Schema of one call to any of `tools`: `{"name", "arguments"}`
/// with the name fixed per alternative.
pub fn call_schema(tools: &[&ToolSpec]) -> Value {
    let alternatives: Vec<Value> = tools
        .iter()
        .map(|t| {
            let mut params = t.parameters.clone();
            // An empty or missing schema still has to be an object.
            if !params.is_object() || params.as_object().is_some_and(|o| o.is_empty()) {
                params = json!({"type": "object"});
            }
            json!({
                "type": "object",
                "properties": {
                    "name": {"const": t.name},
                    "arguments": params,
                },
                "required": ["name", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    if alternatives.len() == 1 {
        alternatives.into_iter().next().unwrap_or(Value::Null)
    } else {
        json!({ "oneOf": alternatives })
    }
}

/// A grammar for a tagged call to `tools` (several in a row when
/// `parallel`; otherwise the grammar ends after one call, which ends the
/// generation there, as llama.cpp's server does by default). `required`
/// applies it from the first token; otherwise it waits for `<tool_call>`.
///
/// # Errors
/// `Schema` when llama.cpp cannot convert a tool's parameter schema.
pub fn tool_call_grammar(tools: &[&ToolSpec], required: bool, parallel: bool) -> Result<Grammar> {
    let schema = ordered_json(&call_schema(tools));
    let gbnf = llama_cpp_2::json_schema_to_grammar(&schema).map_err(|e| ToolError::Schema {
        tool: tools
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        reason: e.to_string(),
    })?;
    Ok(wrap(&gbnf, required, parallel))
}

/// `schema` as JSON text with every `"name"` property written before the
/// others. llama.cpp's converter keeps the order of `properties`, and
/// serde_json sorts keys, which would make the model write the arguments
/// before it has chosen the tool.
fn ordered_json(schema: &Value) -> String {
    match schema {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (k.as_str() != "name", k.as_str()));
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), ordered_json(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(ordered_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// Rename the converter's `root` rule and add ours around it.
fn wrap(converted: &str, required: bool, parallel: bool) -> Grammar {
    let mut out = String::with_capacity(converted.len() + 256);
    for line in converted.lines() {
        match line.strip_prefix("root ::=") {
            Some(rest) => {
                out.push_str(BODY_RULE);
                out.push_str(" ::=");
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    let call = format!("{:?} tc-nl {BODY_RULE} tc-nl {:?}", OPEN_TAG, CLOSE_TAG);
    if parallel {
        out.push_str("root ::= tool-call (\"\\n\" tool-call)*\n");
    } else {
        out.push_str("root ::= tool-call\n");
    }
    out.push_str(&format!("tool-call ::= {call}\n"));
    out.push_str("tc-nl ::= \"\\n\"?\n");
    Grammar {
        gbnf: out,
        root: "root".into(),
        triggers: if required {
            Vec::new()
        } else {
            vec![OPEN_TAG.to_string()]
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
            side_effects: false,
        }
    }

    #[test]
    fn one_tool_fixes_the_name() {
        let s = spec("search");
        let schema = call_schema(&[&s]);
        assert_eq!(schema["properties"]["name"]["const"], "search");
    }

    #[test]
    fn several_tools_are_alternatives() {
        let (a, b) = (spec("a"), spec("b"));
        let schema = call_schema(&[&a, &b]);
        assert_eq!(schema["oneOf"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn the_name_comes_first_in_the_schema_text() {
        let s = spec("search");
        let text = ordered_json(&call_schema(&[&s]));
        let name = text.find("\"name\":{\"const\"").unwrap();
        let args = text.find("\"arguments\":").unwrap();
        assert!(name < args, "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, call_schema(&[&s]));
    }

    #[test]
    fn converted_grammar_is_wrapped_in_tags_and_lazy() {
        let s = spec("search");
        let g = tool_call_grammar(&[&s], false, false).unwrap();
        assert!(g.gbnf.contains("tool-call-body ::="));
        assert!(!g.gbnf.lines().any(|l| l.starts_with("root ::= {")));
        assert!(g.gbnf.contains("\"<tool_call>\""));
        assert_eq!(g.triggers, vec!["<tool_call>".to_string()]);
        assert!(tool_call_grammar(&[&s], true, true)
            .unwrap()
            .triggers
            .is_empty());
    }
}
