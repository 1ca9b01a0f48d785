//! The optional output filter (`[safety]`, off by default): words and
//! patterns the user keeps, masked in an answer or stopping it, for shared
//! family or classroom machines. It works on the streamed text: a possible
//! match is held back until it is known, only whole characters are ever
//! split, and the saved answer is filtered the same way.

use regex::{Regex, RegexBuilder};

use crate::config::{FilterAction, SafetySettings};

/// What replaces a masked match.
pub const MASK: &str = "•••";
/// Characters held back for patterns, whose length is not known.
const PATTERN_HOLD: usize = 32;
/// Most words and patterns one filter takes.
pub const MAX_ENTRIES: usize = 2_000;
/// Longest word or pattern, in characters.
pub const MAX_ENTRY_CHARS: usize = 200;

/// Why the `[safety]` list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("the output filter has {0} entries; at most {MAX_ENTRIES}")]
    TooMany(usize),
    #[error("output filter entry {0:?} is longer than {MAX_ENTRY_CHARS} characters")]
    TooLong(String),
    #[error("output filter pattern {pattern:?} is not a valid regular expression: {reason}")]
    BadPattern { pattern: String, reason: String },
}

impl FilterError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        "BAD_FILTER"
    }
}

/// Text a filter lets through, and whether the answer must stop there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtered {
    pub text: String,
    pub stop: bool,
}

/// One answer's filter: feed it the streamed pieces in order.
#[derive(Debug, Clone)]
pub struct OutputFilter {
    re: Regex,
    action: FilterAction,
    hold: usize,
    /// Text not yet released, after `context` bytes already released.
    pending: String,
    context: usize,
    stopped: bool,
}

impl OutputFilter {
    /// The filter `settings` describe; `None` when it is off or empty.
    /// Words match case-insensitively (as whole words when they are made
    /// of letters and digits); patterns are regular expressions.
    ///
    /// # Errors
    /// [`FilterError`] for too many or too long entries or a bad pattern.
    pub fn new(settings: &SafetySettings) -> Result<Option<Self>, FilterError> {
        let words: Vec<&str> = settings
            .words
            .iter()
            .map(|w| w.trim())
            .filter(|w| !w.is_empty())
            .collect();
        let patterns: Vec<&str> = settings
            .patterns
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect();
        if !settings.enabled || (words.is_empty() && patterns.is_empty()) {
            return Ok(None);
        }
        if words.len() + patterns.len() > MAX_ENTRIES {
            return Err(FilterError::TooMany(words.len() + patterns.len()));
        }
        if let Some(long) = words
            .iter()
            .chain(&patterns)
            .find(|e| e.chars().count() > MAX_ENTRY_CHARS)
        {
            return Err(FilterError::TooLong((*long).to_string()));
        }
        let mut parts = Vec::new();
        for w in &words {
            let word_like = w.chars().all(|c| c.is_ascii_alphanumeric());
            let escaped = regex::escape(w);
            parts.push(if word_like {
                format!(r"\b{escaped}\b")
            } else {
                escaped
            });
        }
        for p in &patterns {
            let one = Regex::new(p).map_err(|e| FilterError::BadPattern {
                pattern: (*p).to_string(),
                reason: e.to_string(),
            })?;
            // A pattern matching nothing at all would mask every gap.
            if one.is_match("") {
                return Err(FilterError::BadPattern {
                    pattern: (*p).to_string(),
                    reason: "it matches empty text".into(),
                });
            }
            parts.push(format!("(?:{p})"));
        }
        let re = RegexBuilder::new(&parts.join("|"))
            .case_insensitive(true)
            .size_limit(8 << 20)
            .build()
            .map_err(|e| FilterError::BadPattern {
                pattern: patterns.join(" | "),
                reason: e.to_string(),
            })?;
        let longest_word = words.iter().map(|w| w.chars().count()).max().unwrap_or(0);
        let hold = if patterns.is_empty() {
            longest_word
        } else {
            longest_word.max(PATTERN_HOLD)
        };
        Ok(Some(Self {
            re,
            action: settings.action,
            hold,
            pending: String::new(),
            context: 0,
            stopped: false,
        }))
    }

    /// Feed the next streamed piece; returns what may be shown now. After a
    /// stop, nothing more comes through.
    pub fn push(&mut self, text: &str) -> Filtered {
        if self.stopped {
            return Filtered {
                text: String::new(),
                stop: true,
            };
        }
        self.pending.push_str(text);
        self.release(false)
    }

    /// The end of the answer: what was held back.
    pub fn finish(&mut self) -> Filtered {
        if self.stopped {
            return Filtered {
                text: String::new(),
                stop: true,
            };
        }
        self.release(true)
    }

    /// Release what is known now. Matching always runs over the whole
    /// pending text, which starts with the last character already released
    /// (`context` bytes), so word boundaries see their neighbours.
    fn release(&mut self, all: bool) -> Filtered {
        let ctx = self.context;
        let mut cut = if all {
            self.pending.len()
        } else {
            let fresh = &self.pending[ctx..];
            let n = fresh.chars().count();
            fresh
                .char_indices()
                .nth(n.saturating_sub(self.hold))
                .map_or(self.pending.len(), |(i, _)| ctx + i)
        };
        let mut out = String::new();
        let mut pos = ctx;
        let mut at = ctx;
        while let Some(m) = self.re.find_at(&self.pending, at) {
            if m.start() >= cut {
                break;
            }
            if m.end() > cut {
                // It may still grow: hold it back whole.
                cut = m.start();
                break;
            }
            out.push_str(&self.pending[pos..m.start()]);
            if self.action == FilterAction::Stop {
                self.pending.clear();
                self.context = 0;
                self.stopped = true;
                return Filtered {
                    text: out,
                    stop: true,
                };
            }
            out.push_str(MASK);
            pos = m.end();
            at = m.end();
        }
        out.push_str(&self.pending[pos.min(cut)..cut]);
        // Keep the last released character as context for the next piece.
        let keep = self.pending[..cut]
            .char_indices()
            .next_back()
            .map_or(cut, |(i, _)| i);
        self.pending.drain(..keep);
        self.context = cut - keep;
        Filtered {
            text: out,
            stop: false,
        }
    }

    /// A whole text filtered at once (the answer as saved): masked, or cut
    /// before the first match; `true` when something matched.
    pub fn apply(&self, text: &str) -> (String, bool) {
        match self.action {
            FilterAction::Mask => {
                let out = self.re.replace_all(text, MASK);
                let matched = matches!(out, std::borrow::Cow::Owned(_));
                (out.into_owned(), matched)
            }
            FilterAction::Stop => match self.re.find(text) {
                Some(m) => (text[..m.start()].to_string(), true),
                None => (text.to_string(), false),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(words: &[&str], patterns: &[&str], action: FilterAction) -> OutputFilter {
        OutputFilter::new(&SafetySettings {
            enabled: true,
            words: words.iter().map(|s| s.to_string()).collect(),
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            action,
        })
        .unwrap()
        .unwrap()
    }

    /// Stream `pieces` through `f`; the shown text and whether it stopped.
    fn stream(f: &mut OutputFilter, pieces: &[&str]) -> (String, bool) {
        let mut out = String::new();
        for p in pieces {
            let r = f.push(p);
            out.push_str(&r.text);
            if r.stop {
                return (out, true);
            }
        }
        let r = f.finish();
        out.push_str(&r.text);
        (out, r.stop)
    }

    #[test]
    fn a_word_split_across_tokens_is_masked_whole() {
        let mut f = filter(&["Darn"], &[], FilterAction::Mask);
        let (out, stop) = stream(&mut f, &["Oh d", "a", "rn it, ", "darning ", "DARN [1]."]);
        assert_eq!(out, "Oh ••• it, darning ••• [1].");
        assert!(!stop);
        assert_eq!(f.apply("darn darn").0, "••• •••");
    }

    #[test]
    fn chinese_and_multibyte_text_is_never_split() {
        let mut f = filter(&["坏话"], &[], FilterAction::Mask);
        let pieces = ["这是", "坏", "话。😀", "好话"];
        let (out, _) = stream(&mut f, &pieces);
        assert_eq!(out, "这是•••。😀好话");
        // Every piece released is whole UTF-8 by construction; check it
        // byte by byte as it streams.
        let mut f = filter(&["坏话"], &[], FilterAction::Mask);
        for p in pieces {
            let r = f.push(p);
            assert!(std::str::from_utf8(r.text.as_bytes()).is_ok());
        }
    }

    #[test]
    fn stop_ends_the_answer_before_the_match() {
        let mut f = filter(&[], &[r"\d{3}-\d{4}"], FilterAction::Stop);
        let (out, stop) = stream(&mut f, &["Call me at 55", "5-12", "34 tonight"]);
        assert_eq!(out, "Call me at ");
        assert!(stop);
        assert!(f.push("more").text.is_empty());
        assert_eq!(f.apply("Call 555-1234 now"), ("Call ".to_string(), true));
    }

    #[test]
    fn off_empty_and_bad_lists() {
        let off = SafetySettings {
            enabled: false,
            words: vec!["x".into()],
            ..SafetySettings::default()
        };
        assert!(OutputFilter::new(&off).unwrap().is_none());
        let empty = SafetySettings {
            enabled: true,
            words: vec!["  ".into()],
            ..SafetySettings::default()
        };
        assert!(OutputFilter::new(&empty).unwrap().is_none());
        let bad = SafetySettings {
            enabled: true,
            patterns: vec!["(unclosed".into()],
            ..SafetySettings::default()
        };
        assert!(matches!(
            OutputFilter::new(&bad),
            Err(FilterError::BadPattern { .. })
        ));
        let long = SafetySettings {
            enabled: true,
            words: vec!["y".repeat(MAX_ENTRY_CHARS + 1)],
            ..SafetySettings::default()
        };
        assert!(matches!(
            OutputFilter::new(&long),
            Err(FilterError::TooLong(_))
        ));
    }

    #[test]
    fn a_word_is_judged_with_the_letters_around_it() {
        let mut f = filter(&["darn"], &[], FilterAction::Mask);
        assert_eq!(
            stream(&mut f, &["darn", "ings ", "x", "darn ", "darn"]).0,
            "darnings xdarn •••"
        );
        let mut f = filter(&["darn"], &[], FilterAction::Mask);
        assert_eq!(stream(&mut f, &["so darn", "."]).0, "so •••.");
    }

    #[test]
    fn streamed_and_saved_text_agree() {
        let text = "Darn, the darned cat said darn at 555-1234 and DARN again.";
        for action in [FilterAction::Mask, FilterAction::Stop] {
            for size in 1..6 {
                let mut f = filter(&["darn"], &[r"\d{3}-\d{4}"], action);
                let chars: Vec<char> = text.chars().collect();
                let pieces: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
                let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
                let (streamed, _) = stream(&mut f, &refs);
                assert_eq!(streamed, f.apply(text).0, "{action:?} in pieces of {size}");
            }
        }
    }

    #[test]
    fn a_pattern_matching_empty_text_is_refused() {
        let s = SafetySettings {
            enabled: true,
            patterns: vec!["x*".into()],
            ..SafetySettings::default()
        };
        assert!(matches!(
            OutputFilter::new(&s),
            Err(FilterError::BadPattern { .. })
        ));
    }

    #[test]
    fn text_without_matches_passes_unchanged() {
        let mut f = filter(&["darn"], &[], FilterAction::Mask);
        let text = "The tide [1] comes in twice a day.\n\n| a | b |\n";
        let pieces: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        assert_eq!(stream(&mut f, &refs), (text.to_string(), false));
    }
}
