//! Answering from documents: the prompt with numbered snippets and their
//! sources, fitted to the context budget, and the post-check of the
//! answer's `[n]` citations.
//!
//! Pure functions over search hits and text; front ends stream the
//! generation itself through the engine.

use std::path::PathBuf;

use serde::Serialize;

use super::chunk::estimate_tokens;
use super::error::{RagError, Result};
use super::search::SearchHit;
use crate::chat::{ChatMessage, Role};

/// Instructions that come before the snippets.
pub const SYSTEM_PROMPT: &str = "You answer questions using only the numbered document \
snippets the user provides. Cite the snippets you use as [1], [2] and so on, right after the \
statement they support. If the snippets do not contain the answer, say so.";

/// Where a snippet came from, for citing and opening it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct Source {
    /// The `[n]` number used in the prompt.
    pub number: usize,
    pub chunk_id: i64,
    pub path: PathBuf,
    pub page: Option<u32>,
    pub heading: String,
    pub lines: Option<(u32, u32)>,
}

impl Source {
    /// `file:page N`, `file:line A-B`, with the heading after a dash.
    pub fn location(&self) -> String {
        let mut s = self.path.display().to_string();
        if let Some(p) = self.page {
            s.push_str(&format!(":page {p}"));
        } else if let Some((a, b)) = self.lines {
            if a == b {
                s.push_str(&format!(":line {a}"));
            } else {
                s.push_str(&format!(":lines {a}-{b}"));
            }
        }
        if !self.heading.is_empty() {
            s.push_str(&format!(" — {}", self.heading));
        }
        s
    }
}

/// The user message to send, and the sources it cites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsPrompt {
    pub user_message: String,
    pub sources: Vec<Source>,
    /// Hits left out to stay within the budget.
    pub dropped: usize,
}

/// Build the user message: numbered snippets (best first) then the
/// question. Snippets are added in rank order while the estimated tokens
/// stay within `budget_tokens`; the first one that does not fit ends the
/// list, so the lowest-ranked are always the ones dropped.
pub fn build_prompt(question: &str, hits: &[SearchHit], budget_tokens: usize) -> DocsPrompt {
    let tail = format!("\nQuestion: {question}\nAnswer with citations:");
    let mut used = estimate_tokens(&tail) + 16;
    let mut body = String::from("Document snippets:\n");
    let mut sources = Vec::new();
    let mut dropped = 0;
    for (i, hit) in hits.iter().enumerate() {
        let number = sources.len() + 1;
        let source = Source {
            number,
            chunk_id: hit.chunk.id,
            path: hit.chunk.path.clone(),
            page: hit.chunk.page,
            heading: hit.chunk.heading.clone(),
            lines: hit.chunk.line_start.zip(hit.chunk.line_end),
        };
        let snippet = format!(
            "[{number}] (source: {})\n{}\n\n",
            source.location(),
            hit.chunk.text.trim()
        );
        let cost = estimate_tokens(&snippet);
        if used + cost > budget_tokens {
            dropped = hits.len() - i;
            break;
        }
        used += cost;
        body.push_str(&snippet);
        sources.push(source);
    }
    body.push_str(&tail);
    DocsPrompt {
        user_message: body,
        sources,
        dropped,
    }
}

/// Tokens the snippets may take in a context of `n_ctx`: what is left
/// after the room the engine keeps for the answer (`max_tokens`, at most
/// half the context; see `engine::worker`) and the system prompt, less a
/// margin for the chat template. The token estimate errs high.
pub fn snippet_budget(n_ctx: usize, max_tokens: u32, system: &str) -> usize {
    let reserved = (max_tokens as usize).clamp(1, n_ctx / 2);
    (n_ctx - reserved)
        .saturating_sub(estimate_tokens(system))
        .saturating_sub(64)
        * 9
        / 10
}

/// A documents question ready for the engine: the system prompt and the
/// user message with the snippets that fit, and the sources they cite.
#[derive(Debug, Clone)]
pub struct DocsQuestion {
    pub messages: Vec<ChatMessage>,
    pub prompt: DocsPrompt,
}

/// Fit `hits` into a context of `n_ctx` next to `system` (the default
/// instructions when `None`) and an answer of up to `max_tokens`.
///
/// # Errors
/// `InvalidRequest` when not even the best snippet fits.
pub fn docs_question(
    question: &str,
    hits: &[SearchHit],
    system: Option<&str>,
    n_ctx: usize,
    max_tokens: u32,
) -> Result<DocsQuestion> {
    let system = system.unwrap_or(SYSTEM_PROMPT);
    let prompt = build_prompt(question, hits, snippet_budget(n_ctx, max_tokens, system));
    if prompt.sources.is_empty() && !hits.is_empty() {
        return Err(RagError::InvalidRequest(format!(
            "the context ({n_ctx} tokens) is too small for any snippet; \
             raise the context size or lower the answer's max tokens"
        )));
    }
    Ok(DocsQuestion {
        messages: vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, prompt.user_message.clone()),
        ],
        prompt,
    })
}

/// What the citation post-check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ipc-types", derive(ts_rs::TS))]
pub struct CitationCheck {
    /// Valid citation numbers, in first-use order.
    pub cited: Vec<usize>,
    /// Numbers cited that match no snippet.
    pub invalid: Vec<usize>,
    /// Snippets were given but the answer cites none.
    pub cites_nothing: bool,
}

impl CitationCheck {
    /// True when every citation is valid and at least one was made (or no
    /// snippets were given).
    pub fn ok(&self) -> bool {
        self.invalid.is_empty() && !self.cites_nothing
    }
}

/// Find `[n]` and `[n, m]` / `[n][m]` citations in `answer` and check each
/// against the `n_sources` snippets given.
pub fn check_citations(answer: &str, n_sources: usize) -> CitationCheck {
    let mut check = CitationCheck::default();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        let numbers: Option<Vec<usize>> = inside
            .split([',', ';'])
            .map(|p| p.trim().parse::<usize>().ok())
            .collect();
        if let Some(numbers) = numbers {
            for n in numbers {
                let list = if (1..=n_sources).contains(&n) {
                    &mut check.cited
                } else {
                    &mut check.invalid
                };
                if !list.contains(&n) {
                    list.push(n);
                }
            }
            rest = &rest[close + 1..];
        }
    }
    check.cites_nothing = n_sources > 0 && check.cited.is_empty();
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::db::ChunkInfo;

    fn hit(id: i64, text: &str) -> SearchHit {
        SearchHit {
            chunk: ChunkInfo {
                id,
                document_id: 1,
                collection: "default".into(),
                path: PathBuf::from(format!("/docs/f{id}.md")),
                ord: 0,
                text: text.into(),
                heading: "Guide > Install".into(),
                page: None,
                line_start: Some(3),
                line_end: Some(9),
            },
            score: 1.0,
            similarity: 0.5,
            coverage: 0.5,
            vector_rank: Some(1),
            keyword_rank: None,
        }
    }

    #[test]
    fn valid_invalid_and_grouped_citations() {
        let c = check_citations("Use port 8080 [1]. Also [2, 3] and [7]. See [note].", 3);
        assert_eq!(c.cited, vec![1, 2, 3]);
        assert_eq!(c.invalid, vec![7]);
        assert!(!c.cites_nothing && !c.ok());
    }

    #[test]
    fn an_answer_citing_nothing_is_flagged() {
        let c = check_citations("I think it is 42.", 2);
        assert!(c.cites_nothing && !c.ok());
        assert!(check_citations("No documents.", 0).ok());
        assert!(check_citations("It is 42 [2].", 2).ok());
    }

    #[test]
    fn adjacent_brackets_and_unclosed_bracket() {
        let c = check_citations("a [1][2] b [3", 3);
        assert_eq!(c.cited, vec![1, 2]);
    }

    #[test]
    fn budget_drops_lowest_ranked_first() {
        let long = "word ".repeat(300);
        let hits = vec![
            hit(1, "short answer"),
            hit(3, "another short"),
            hit(2, &long),
        ];
        let p = build_prompt("q?", &hits, 120);
        let ids: Vec<i64> = p.sources.iter().map(|s| s.chunk_id).collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(p.dropped, 1);
        assert_eq!(p.sources[1].number, 2);
        assert!(p
            .user_message
            .contains("[2] (source: /docs/f3.md:lines 3-9 — Guide > Install)"));
        assert!(estimate_tokens(&p.user_message) <= 120);
        let p = build_prompt("q?", &[hit(2, &long), hit(1, "short")], 120);
        assert!(p.sources.is_empty() && p.dropped == 2);
    }

    #[test]
    fn a_docs_question_fits_the_context_or_says_it_cannot() {
        let hits: Vec<_> = (1..=40).map(|i| hit(i, &"word ".repeat(60))).collect();
        let q = docs_question("how?", &hits, None, 2048, 256).unwrap();
        assert_eq!(q.messages.len(), 2);
        assert_eq!(q.messages[0].content, SYSTEM_PROMPT);
        assert!(!q.prompt.sources.is_empty() && q.prompt.dropped > 0);
        let used: usize = q.messages.iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(used + 256 <= 2048, "{used} tokens of prompt");
        let tiny = docs_question("how?", &hits, Some("be brief"), 256, 128);
        assert!(matches!(tiny, Err(RagError::InvalidRequest(_))));
        let none = docs_question("how?", &[], None, 2048, 256).unwrap();
        assert!(none.prompt.sources.is_empty());
    }
}
