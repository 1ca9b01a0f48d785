//! Rendering a conversation with the model's own chat template, and keeping
//! it inside the context window by dropping the oldest turns.

use std::sync::atomic::{AtomicBool, Ordering};

use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;

use super::error::{EngineError, Result};
use super::segments::Segment;
use crate::chat::{ChatMessage, Role};
use crate::media::{ContentHash, Media};

/// One unit of a prompt as the KV cache holds it: a text token, or a whole
/// image/clip (reused or re-evaluated as one piece).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Token(LlamaToken),
    Media { hash: ContentHash, n_tokens: usize },
}

impl Item {
    /// KV cells the item occupies.
    pub(crate) fn n_cells(&self) -> usize {
        match self {
            Item::Token(_) => 1,
            Item::Media { n_tokens, .. } => *n_tokens,
        }
    }
}

/// A prompt ready for decoding.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub items: Vec<Item>,
    /// How many old messages were left out to make it fit.
    pub dropped: usize,
    /// KV cells the whole prompt takes.
    pub n_cells: usize,
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

/// Render `messages` into at most `budget` KV cells. Leading system
/// messages are always kept; older turns go first, and a kept history always
/// starts with a user turn so templates that insist on alternation still work.
/// `media_cells` reports how many cells an image or clip takes.
///
/// Linear in what is kept, whatever the history's length: each message is
/// rendered and tokenized on its own once, newest first, until the budget
/// is spent (older ones are never read), then the kept tail is rendered
/// whole to check. `cancel` is honoured between messages: `None` then.
pub(crate) fn render_fitting<'r>(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &'r [ChatMessage],
    budget: usize,
    n_ctx: u32,
    media_cells: &mut dyn FnMut(&Media) -> Result<usize>,
    cancel: &AtomicBool,
) -> Result<Option<Rendered>> {
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
    let cancelled = || cancel.load(Ordering::Relaxed);
    // Estimate: each message rendered alone. Close to its share of the
    // whole, and checked below.
    let mut used = 0usize;
    for m in system {
        if cancelled() {
            return Ok(None);
        }
        used = used.saturating_add(message_cells(model, template, m, media_cells)?);
    }
    let mut costs = vec![0usize; rest.len()];
    let mut start = rest.len();
    for i in (0..rest.len()).rev() {
        if cancelled() {
            return Ok(None);
        }
        costs[i] = message_cells(model, template, &rest[i], media_cells)?;
        if used.saturating_add(costs[i]) > budget {
            break;
        }
        used += costs[i];
        start = i;
    }
    // Keep from the start, or from a user turn; at least try the newest.
    start = start.min(rest.len() - 1);
    if start > 0 {
        start = next_user(rest, start);
        if start >= rest.len() {
            start = rest.iter().rposition(|m| m.role == Role::User).unwrap_or(0);
        }
    }
    loop {
        if cancelled() {
            return Ok(None);
        }
        let rendered = render(model, template, system, &rest[start..], media_cells)?;
        if rendered.n_cells <= budget {
            return Ok(Some(Rendered {
                dropped: start,
                ..rendered
            }));
        }
        // Over by `overflow`: drop at least that much by the estimates,
        // then up to the next user turn.
        let overflow = rendered.n_cells - budget;
        let mut next = start + 1;
        let mut freed = costs[start];
        while next < rest.len() && freed < overflow {
            freed += costs[next];
            next += 1;
        }
        let next = next_user(rest, next);
        if next >= rest.len() {
            return Err(EngineError::PromptTooLong {
                tokens: rendered.n_cells,
                n_ctx,
                reserved: (n_ctx as usize).saturating_sub(budget),
            });
        }
        start = next;
    }
}

/// The first user turn at or after `from` (`rest.len()` when none).
fn next_user(rest: &[ChatMessage], from: usize) -> usize {
    rest.iter()
        .skip(from)
        .position(|m| m.role == Role::User)
        .map_or(rest.len(), |p| from + p)
}

/// KV cells `m` takes when rendered alone: the estimate history fitting
/// sums up.
fn message_cells(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    m: &ChatMessage,
    media_cells: &mut dyn FnMut(&Media) -> Result<usize>,
) -> Result<usize> {
    let chat = [
        LlamaChatMessage::new(m.role.as_str().to_owned(), with_markers(m)?)
            .map_err(|_| EngineError::InvalidRequest("a message contains a NUL byte".into()))?,
    ];
    let text = model
        .apply_chat_template(template, &chat, false)
        .map_err(|e| EngineError::ChatTemplate(e.to_string()))?;
    let vocab = model.vocab();
    let mut cells = 0;
    for segment in text.split(super::media::marker()) {
        cells += vocab.tokenize(segment.as_bytes(), false, true).len();
    }
    for media in &m.media {
        cells += media_cells(media)?;
    }
    Ok(cells)
}

/// A message's text as data (see [`super::segments`]) with one real
/// marker per attachment.
fn with_markers(m: &ChatMessage) -> Result<String> {
    Ok(super::segments::data_with_media(&m.content, m.media.len()))
}

fn render<'r>(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    system: &'r [ChatMessage],
    rest: &'r [ChatMessage],
    media_cells: &mut dyn FnMut(&Media) -> Result<usize>,
) -> Result<Rendered> {
    let messages = || system.iter().chain(rest);
    let chat = messages()
        .map(|m| {
            LlamaChatMessage::new(m.role.as_str().to_owned(), with_markers(m)?)
                .map_err(|_| EngineError::InvalidRequest("a message contains a NUL byte".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    let text = model
        .apply_chat_template(template, &chat, true)
        .map_err(|e| EngineError::ChatTemplate(e.to_string()))?;
    tracing::debug!(prompt = %super::segments::strip(&text), "rendered prompt");
    let media: Vec<&Media> = messages().flat_map(|m| &m.media).collect();
    tokenize_with_media(model, &text, media, media_cells)
}

/// A prompt the caller rendered itself (tool calling renders Jinja
/// templates), checked against the same budget. Nothing can be dropped from
/// text, so a prompt over budget is an error.
pub(crate) fn render_text_fitting<'r>(
    model: &LlamaModel,
    text: &str,
    media: Vec<&'r Media>,
    budget: usize,
    n_ctx: u32,
    media_cells: &mut dyn FnMut(&Media) -> Result<usize>,
) -> Result<Rendered> {
    let rendered = tokenize_with_media(model, text, media, media_cells)?;
    if rendered.n_cells > budget {
        return Err(EngineError::PromptTooLong {
            tokens: rendered.n_cells,
            n_ctx,
            reserved: (n_ctx as usize).saturating_sub(budget),
        });
    }
    Ok(rendered)
}

/// Tokenize rendered text, replacing each media marker in the markup with
/// its media. Only markup is parsed for special tokens; data segments
/// (message content, see [`super::segments`]) are plain text.
fn tokenize_with_media<'r>(
    model: &LlamaModel,
    text: &str,
    media: Vec<&'r Media>,
    media_cells: &mut dyn FnMut(&Media) -> Result<usize>,
) -> Result<Rendered> {
    let marker = super::media::marker();
    let vocab = model.vocab();
    let mut items = Vec::new();
    let mut n_cells = 0;
    let mut placed = 0;
    let mut first = true;
    for segment in super::segments::split(text) {
        let (pieces, special): (Vec<&str>, bool) = match segment {
            Segment::Markup(t) => (t.split(marker).collect(), true),
            Segment::Data(t) => (vec![t], false),
        };
        for (j, piece) in pieces.iter().enumerate() {
            if j > 0 {
                // A marker the template kept (markup only; data has none).
                if let Some(m) = media.get(placed) {
                    let n_tokens = media_cells(m)?;
                    items.push(Item::Media {
                        hash: m.hash(),
                        n_tokens,
                    });
                    n_cells += n_tokens;
                }
                placed += 1;
            }
            if piece.is_empty() && !first {
                continue;
            }
            // Only the very start of the prompt gets BOS.
            for t in vocab.tokenize(piece.as_bytes(), first, special) {
                // A template that writes the BOS text itself plus the one the
                // tokenizer adds would give two; keep one.
                if first && n_cells == 1 && t == vocab.bos() && items[0] == Item::Token(t) {
                    continue;
                }
                items.push(Item::Token(t));
                n_cells += 1;
            }
            first = false;
        }
    }
    if placed != media.len() {
        return Err(EngineError::ChatTemplate(format!(
            "the template kept {placed} of {} media markers",
            media.len()
        )));
    }
    if items.is_empty() {
        return Err(EngineError::InvalidRequest("the prompt is empty".into()));
    }
    Ok(Rendered {
        items,
        dropped: 0,
        n_cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_without_a_template_get_their_builtin_one() {
        assert_eq!(builtin_for_architecture("gemma3"), "gemma");
        assert_eq!(builtin_for_architecture("qwen2"), "chatml");
    }
}
