//! Rendering a conversation with the model's own chat template, and keeping
//! it inside the context window by dropping the oldest turns.

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::error::{EngineError, Result};
use crate::chat::{ChatMessage, Role};

/// A prompt ready for decoding.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub tokens: Vec<LlamaToken>,
    /// How many old messages were left out to make it fit.
    pub dropped: usize,
}

/// Which template renders prompts: the configured one, the one baked into
/// the GGUF, or llama.cpp's built-in template for the model's family when
/// the file carries none (common for base-model conversions). Returns the
/// template and a short description for `info`.
pub(crate) fn model_template(
    model: &LlamaModel,
    architecture: &str,
    configured: Option<&str>,
) -> Result<(LlamaChatTemplate, String)> {
    let named = |name: &str, why: String| {
        LlamaChatTemplate::new(name)
            .map(|t| (t, why))
            .map_err(|e| EngineError::ChatTemplate(e.to_string()))
    };
    if let Some(t) = configured {
        return named(t, "configured".into());
    }
    if let Ok(t) = model.chat_template(None) {
        return Ok((t, "from the model".into()));
    }
    let family = builtin_for_architecture(architecture);
    tracing::warn!(
        "the model has no chat template; using llama.cpp's built-in {family:?} template"
    );
    named(family, format!("{family} (built-in, the model has none)"))
}

/// llama.cpp's built-in template name for an architecture family.
fn builtin_for_architecture(architecture: &str) -> &'static str {
    match architecture {
        a if a.starts_with("gemma") => "gemma",
        a if a.starts_with("phi3") => "phi3",
        "llama4" => "llama4",
        "deepseek2" => "deepseek2",
        "command-r" | "cohere2" => "command-r",
        "exaone" => "exaone3",
        "granite" | "granitemoe" | "granitehybrid" => "granite",
        _ => "chatml",
    }
}

/// Render `messages` into at most `budget` tokens. Leading system messages
/// are always kept; older turns go first, and a kept history always starts
/// with a user turn so templates that insist on alternation still work.
pub(crate) fn render_fitting(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[ChatMessage],
    budget: usize,
    n_ctx: u32,
) -> Result<Rendered> {
    if messages.is_empty() {
        return Err(EngineError::InvalidRequest("no messages to answer".into()));
    }
    let n_system = messages
        .iter()
        .take_while(|m| m.role == Role::System)
        .count();
    let (system, rest) = messages.split_at(n_system);
    if rest.is_empty() {
        return Err(EngineError::InvalidRequest(
            "the conversation has only system messages".into(),
        ));
    }
    let mut start = 0;
    loop {
        let tokens = render(model, template, system, &rest[start..])?;
        if tokens.len() <= budget {
            return Ok(Rendered {
                tokens,
                dropped: start,
            });
        }
        // Skip one message, then anything up to the next user turn.
        let mut next = start + 1;
        while next < rest.len() && rest[next].role != Role::User {
            next += 1;
        }
        if next >= rest.len() {
            return Err(EngineError::PromptTooLong {
                tokens: tokens.len(),
                n_ctx,
                reserved: (n_ctx as usize).saturating_sub(budget),
            });
        }
        start = next;
    }
}

fn render(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    system: &[ChatMessage],
    rest: &[ChatMessage],
) -> Result<Vec<LlamaToken>> {
    let chat = system
        .iter()
        .chain(rest)
        .map(|m| {
            LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone())
                .map_err(|_| EngineError::InvalidRequest("a message contains a NUL byte".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    let text = model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| EngineError::ChatTemplate(e.to_string()))?;
    tracing::debug!(prompt = %text, "rendered prompt");
    // Templates emit special markers as text; parse them back into tokens.
    let tokens = model.vocab().tokenize(text.as_bytes(), true, true);
    if tokens.is_empty() {
        return Err(EngineError::InvalidRequest("the prompt is empty".into()));
    }
    Ok(tokens)
}

/// Length of the shared prefix: the part of the KV cache a new prompt can keep.
pub(crate) fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_without_a_template_get_their_builtin_one() {
        assert_eq!(builtin_for_architecture("gemma3"), "gemma");
        assert_eq!(builtin_for_architecture("qwen2"), "chatml");
    }

    #[test]
    fn common_prefix_counts_matching_head() {
        let t = |v: &[i32]| v.iter().map(|&i| LlamaToken::new(i)).collect::<Vec<_>>();
        assert_eq!(common_prefix(&t(&[1, 2, 3]), &t(&[1, 2, 4, 5])), 2);
        assert_eq!(common_prefix(&t(&[]), &t(&[1])), 0);
        assert_eq!(common_prefix(&t(&[1, 2]), &t(&[1, 2])), 2);
    }
}
