//! Finding tool calls in what the model wrote. Models trained for tools use
//! one of a few wire formats; all are accepted whatever the template, since
//! small models drift between them:
//!
//! - Hermes/Qwen: `<tool_call>{"name": …, "arguments": {…}}</tool_call>`,
//!   repeated for parallel calls (the closing tag may be cut by EOS);
//! - Llama 3.x: the whole answer is `{"name": …, "parameters": {…}}`,
//!   optionally after `<|python_tag|>`, or `<function=name>{…}</function>`;
//! - Mistral: `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]`;
//! - a fenced block: ```` ```json {"name": …, "arguments": {…}} ``` ```` or
//!   ```` ```tool_call … ``` ````, as Gemma-style prompts ask for.
//!
//! Text that looks like a call but cannot be read is kept as a malformed
//! call, which the loop answers with a tool error instead of dropping it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Id linking the call to its result (`call_<step>_<n>`).
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// What one model turn contained.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// Text outside any call, trimmed.
    pub content: String,
    /// Well-formed calls, in order (ids are filled in by the loop).
    pub calls: Vec<ToolCall>,
    /// Call-shaped text that could not be read, with the reason.
    pub malformed: Vec<String>,
}

/// Hermes-style opening and closing tags; also what our grammar triggers on.
pub const OPEN_TAG: &str = "<tool_call>";
/// See [`OPEN_TAG`].
pub const CLOSE_TAG: &str = "</tool_call>";

/// Split `text` into plain content and tool calls.
pub fn parse(text: &str) -> Parsed {
    if text.contains(OPEN_TAG) {
        return parse_tagged(text);
    }
    let trimmed = text.trim();
    if let Some(rest) = trimmed.strip_prefix("[TOOL_CALLS]") {
        return parse_mistral(rest);
    }
    if let Some(p) = parse_function_tags(text) {
        return p;
    }
    if let Some(p) = parse_fenced(text) {
        return p;
    }
    let bare = trimmed
        .strip_prefix("<|python_tag|>")
        .unwrap_or(trimmed)
        .trim();
    if bare.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Value>(bare) {
            // Only an object that names a function is a call; any other JSON
            // answer is content.
            if v.get("name").is_some() || v.get("function").is_some() {
                return from_values(String::new(), vec![v]);
            }
        } else if bare.starts_with("{\"name\"") {
            return Parsed {
                content: String::new(),
                calls: Vec::new(),
                malformed: vec![format!("not valid JSON: {}", clip(bare))],
            };
        }
    }
    Parsed {
        content: trimmed.to_string(),
        ..Default::default()
    }
}

fn parse_tagged(text: &str) -> Parsed {
    let mut content = String::new();
    let mut out = Parsed::default();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN_TAG) {
        content.push_str(&rest[..start]);
        let body_start = &rest[start + OPEN_TAG.len()..];
        let (body, after) = match body_start.find(CLOSE_TAG) {
            Some(end) => (&body_start[..end], &body_start[end + CLOSE_TAG.len()..]),
            None => (body_start, ""),
        };
        match serde_json::from_str::<Value>(body.trim()) {
            Ok(v) => match call_from_value(&v) {
                Ok(call) => out.calls.push(call),
                Err(reason) => out.malformed.push(reason),
            },
            Err(e) => out
                .malformed
                .push(format!("not valid JSON ({e}): {}", clip(body.trim()))),
        }
        rest = after;
    }
    content.push_str(rest);
    out.content = content.trim().to_string();
    out
}

fn parse_mistral(rest: &str) -> Parsed {
    match serde_json::from_str::<Value>(rest.trim()) {
        Ok(Value::Array(items)) => from_values(String::new(), items),
        Ok(v @ Value::Object(_)) => from_values(String::new(), vec![v]),
        Ok(_) => Parsed {
            malformed: vec!["[TOOL_CALLS] must be followed by a JSON list".into()],
            ..Default::default()
        },
        Err(e) => Parsed {
            malformed: vec![format!("not valid JSON ({e}): {}", clip(rest.trim()))],
            ..Default::default()
        },
    }
}

/// `<function=name>{json}</function>` (Llama 3.1's alternative format).
fn parse_function_tags(text: &str) -> Option<Parsed> {
    const OPEN: &str = "<function=";
    const CLOSE: &str = "</function>";
    if !text.contains(OPEN) {
        return None;
    }
    let mut out = Parsed::default();
    let mut content = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        content.push_str(&rest[..start]);
        let after_open = &rest[start + OPEN.len()..];
        let Some(gt) = after_open.find('>') else {
            out.malformed.push("unterminated <function=…> tag".into());
            rest = "";
            break;
        };
        let name = after_open[..gt].trim().to_string();
        let body_start = &after_open[gt + 1..];
        let (body, after) = match body_start.find(CLOSE) {
            Some(end) => (&body_start[..end], &body_start[end + CLOSE.len()..]),
            None => (body_start, ""),
        };
        match serde_json::from_str::<Value>(body.trim()) {
            Ok(arguments) if !name.is_empty() => out.calls.push(ToolCall {
                id: String::new(),
                name,
                arguments,
            }),
            Ok(_) => out
                .malformed
                .push("a <function=…> tag without a name".into()),
            Err(e) => out.malformed.push(format!(
                "arguments are not valid JSON ({e}): {}",
                clip(body)
            )),
        }
        rest = after;
    }
    content.push_str(rest);
    out.content = content.trim().to_string();
    Some(out)
}

/// A fenced ```` ```json ```` or ```` ```tool_call ```` block holding a call.
fn parse_fenced(text: &str) -> Option<Parsed> {
    for fence in ["```tool_call", "```json", "```"] {
        let Some(start) = text.find(fence) else {
            continue;
        };
        let body_start = &text[start + fence.len()..];
        let end = body_start.find("```").unwrap_or(body_start.len());
        let body = body_start[..end].trim();
        let Ok(v) = serde_json::from_str::<Value>(body) else {
            continue;
        };
        if v.get("name").is_none() && v.get("function").is_none() {
            continue;
        }
        let after = body_start.get(end + 3..).unwrap_or("");
        let content = format!("{}{}", &text[..start], after);
        return Some(from_values(content.trim().to_string(), vec![v]));
    }
    None
}

fn from_values(content: String, values: Vec<Value>) -> Parsed {
    let mut out = Parsed {
        content,
        ..Default::default()
    };
    for v in values {
        match call_from_value(&v) {
            Ok(call) => out.calls.push(call),
            Err(reason) => out.malformed.push(reason),
        }
    }
    out
}

/// Read a call object: `name` (or `function.name`) and `arguments` (or
/// `parameters`, or `function.arguments`; a JSON string is decoded, as the
/// OpenAI wire format sends it).
fn call_from_value(v: &Value) -> std::result::Result<ToolCall, String> {
    let obj = v.get("function").filter(|f| f.is_object()).unwrap_or(v);
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| format!("a call without a tool name: {}", clip(&v.to_string())))?;
    let args = obj
        .get("arguments")
        .or_else(|| obj.get("parameters"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let arguments = match args {
        Value::String(s) => serde_json::from_str(&s)
            .map_err(|e| format!("arguments of {name} are not valid JSON ({e})"))?,
        other => other,
    };
    Ok(ToolCall {
        id: String::new(),
        name: name.trim().to_string(),
        arguments,
    })
}

/// At most 200 characters of model output for an error message.
fn clip(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hermes_calls_are_read_with_surrounding_text() {
        let p = parse("Let me check.\n<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>");
        assert_eq!(p.content, "Let me check.");
        assert_eq!(p.calls.len(), 1);
        assert_eq!(p.calls[0].name, "weather");
        assert_eq!(p.calls[0].arguments, json!({"city": "Oslo"}));
        assert!(p.malformed.is_empty());
    }

    #[test]
    fn parallel_hermes_calls_and_a_missing_close_tag() {
        let p = parse("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\",\"arguments\":{\"x\":1}}");
        let names: Vec<_> = p.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn broken_json_inside_tags_is_malformed_not_dropped() {
        let p = parse("<tool_call>{\"name\": \"a\", \"arguments\": {</tool_call>");
        assert!(p.calls.is_empty());
        assert_eq!(p.malformed.len(), 1);
        assert!(p.malformed[0].contains("not valid JSON"));
    }

    #[test]
    fn a_call_without_a_name_is_malformed() {
        let p = parse("<tool_call>{\"arguments\": {}}</tool_call>");
        assert!(p.malformed[0].contains("without a tool name"));
    }

    #[test]
    fn llama3_json_and_python_tag() {
        let p = parse("<|python_tag|>{\"name\": \"now\", \"parameters\": {\"tz\": \"UTC\"}}");
        assert_eq!(p.calls[0].name, "now");
        assert_eq!(p.calls[0].arguments, json!({"tz": "UTC"}));
        let p = parse("{\"type\": \"function\", \"function\": {\"name\": \"now\", \"arguments\": \"{\\\"tz\\\": \\\"UTC\\\"}\"}}");
        assert_eq!(p.calls[0].arguments, json!({"tz": "UTC"}));
    }

    #[test]
    fn llama31_function_tags() {
        let p = parse("<function=search>{\"query\": \"rust\"}</function>");
        assert_eq!(p.calls[0].name, "search");
        assert_eq!(p.calls[0].arguments, json!({"query": "rust"}));
    }

    #[test]
    fn mistral_list() {
        let p = parse("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": {}}]");
        assert_eq!(p.calls.len(), 2);
    }

    #[test]
    fn fenced_json_call() {
        let p = parse("Sure.\n```json\n{\"name\": \"now\", \"arguments\": {}}\n```\n");
        assert_eq!(p.calls[0].name, "now");
        assert_eq!(p.content, "Sure.");
    }

    #[test]
    fn plain_answers_and_plain_json_are_content() {
        let p = parse("  It is sunny.  ");
        assert_eq!(p.content, "It is sunny.");
        assert!(p.calls.is_empty() && p.malformed.is_empty());
        let p = parse("{\"temperature\": 20}");
        assert!(p.calls.is_empty());
        assert_eq!(p.content, "{\"temperature\": 20}");
    }
}
