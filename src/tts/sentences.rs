//! Cutting a streamed answer into sentences, so the first one can be
//! spoken while the model still writes the next.

/// Accumulates streamed text and yields complete sentences.
#[derive(Debug, Default)]
pub struct SentenceSplitter {
    buf: String,
}

/// Full-width terminators end a sentence at once (Chinese puts no space
/// after them); ASCII ones only before whitespace, so "3.14" and "e.g.x"
/// stay whole.
const CJK_END: [char; 4] = ['。', '！', '？', '；'];
const ASCII_END: [char; 3] = ['.', '!', '?'];

impl SentenceSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add streamed text; returns the sentences it completed, trimmed.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        loop {
            let cut = self.find_cut();
            let Some(end) = cut else { break };
            let sentence: String = self.buf.drain(..end).collect();
            let sentence = sentence.trim();
            if sentence.chars().any(char::is_alphanumeric) {
                out.push(sentence.to_string());
            }
        }
        out
    }

    /// The rest of the text once the answer is complete.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let rest = rest.trim();
        rest.chars()
            .any(char::is_alphanumeric)
            .then(|| rest.to_string())
    }

    fn find_cut(&self) -> Option<usize> {
        let mut chars = self.buf.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let after = i + c.len_utf8();
            if CJK_END.contains(&c) || c == '\n' {
                return Some(after);
            }
            if ASCII_END.contains(&c) {
                match chars.peek() {
                    Some((_, n)) if n.is_whitespace() => return Some(after),
                    _ => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_complete_as_tokens_arrive() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("Hello the").is_empty());
        assert_eq!(s.push("re. How are"), vec!["Hello there."]);
        assert_eq!(s.push(" you? Pi is 3.14"), vec!["How are you?"]);
        assert_eq!(s.finish().as_deref(), Some("Pi is 3.14"));
    }

    #[test]
    fn chinese_splits_on_full_width_marks() {
        let mut s = SentenceSplitter::new();
        assert_eq!(
            s.push("你好。今天天气很好！还"),
            vec!["你好。", "今天天气很好！"]
        );
        assert_eq!(s.finish().as_deref(), Some("还"));
    }

    #[test]
    fn punctuation_alone_is_not_spoken() {
        let mut s = SentenceSplitter::new();
        assert!(s.push("... \n").is_empty());
        assert!(s.finish().is_none());
    }
}
