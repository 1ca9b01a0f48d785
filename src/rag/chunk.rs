//! Structure-aware chunking: parsed [`Block`]s in, bounded [`Chunk`]s out.
//!
//! A heading closes the current chunk and updates the heading path every
//! later chunk carries; a new PDF page closes it too, so a citation names
//! one page. Paragraphs, list items and code blocks are packed whole until
//! the token budget is reached; the next chunk then repeats the previous
//! block when it is short enough (overlap). A block larger than the budget
//! is cut at sentence ends (Latin and CJK punctuation), or at character
//! boundaries when a sentence alone is too long.
//!
//! Token counts are an estimate that never assumes whitespace separates
//! words: each CJK character counts as one token, Latin words as roughly one
//! token per four letters, punctuation as one each. It errs high for
//! WordPiece/BPE vocabularies, so chunks stay inside the embedding model's
//! window. Pure functions; safe on any thread.

use super::parse::{Block, BlockKind};

/// Chunk size limits, in estimated tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkParams {
    /// Upper bound on a chunk's tokens.
    pub max_tokens: usize,
    /// Tokens repeated from the end of one chunk at the start of the next
    /// (when a chunk is closed for size, not at a heading or page).
    pub overlap_tokens: usize,
    /// Chunks of one file that are embedded at most; the rest of a longer
    /// file is left out (and reported).
    pub max_chunks: usize,
}

/// The default [`ChunkParams::max_chunks`] (about 4 MB of prose at the
/// default size): a huge log or dump is indexed from its start in a bounded
/// time, instead of holding the ingest for many minutes.
pub const MAX_CHUNKS_PER_FILE: usize = 4096;

impl Default for ChunkParams {
    fn default() -> Self {
        Self {
            // Tuned on assets/rag-eval-debian: 300 found the answering page
            // more often than 200 or 400 (and makes a third fewer chunks than 200).
            max_tokens: 300,
            overlap_tokens: 32,
            max_chunks: MAX_CHUNKS_PER_FILE,
        }
    }
}

/// One piece of a document to embed and cite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    /// Heading path, outermost first, joined with " > " (may be empty).
    pub heading: String,
    pub page: Option<u32>,
    pub lines: Option<(u32, u32)>,
    /// Estimated tokens of `text`.
    pub tokens: usize,
}

/// Whether `c` is written without spaces between words (CJK and kana,
/// Hangul, full-width forms): each such character is its own token.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF | 0x3000..=0x303F | 0x3040..=0x30FF | 0x3100..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF
        | 0xFF00..=0xFFEF | 0x20000..=0x2FA1F)
}

/// Conservative token estimate; see the module docs.
pub fn estimate_tokens(text: &str) -> usize {
    let mut tokens = 0;
    let mut word = 0usize;
    for c in text.chars() {
        if c.is_alphanumeric() && !is_cjk(c) {
            word += 1;
            continue;
        }
        if word > 0 {
            tokens += 1 + word / 4;
            word = 0;
        }
        if !c.is_whitespace() {
            tokens += 1;
        }
    }
    if word > 0 {
        tokens += 1 + word / 4;
    }
    tokens
}

struct Piece {
    text: String,
    tokens: usize,
    page: Option<u32>,
    lines: Option<(u32, u32)>,
}

struct Builder {
    params: ChunkParams,
    out: Vec<Chunk>,
    cur: Vec<Piece>,
    cur_tokens: usize,
    heading: String,
}

impl Builder {
    /// Close the current chunk; with `overlap`, keep its last piece to
    /// start the next one when it fits the overlap budget.
    fn flush(&mut self, overlap: bool) {
        if self.cur.is_empty() {
            return;
        }
        let text = self
            .cur
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let lines = self
            .cur
            .iter()
            .filter_map(|p| p.lines)
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
        self.out.push(Chunk {
            tokens: estimate_tokens(&text),
            text,
            heading: self.heading.clone(),
            page: self.cur[0].page,
            lines,
        });
        let keep = if overlap {
            self.cur
                .pop()
                .filter(|p| p.tokens <= self.params.overlap_tokens)
        } else {
            None
        };
        self.cur.clear();
        self.cur_tokens = 0;
        if let Some(p) = keep {
            self.cur_tokens = p.tokens;
            self.cur.push(p);
        }
    }

    fn push(&mut self, piece: Piece) {
        if self.cur_tokens + piece.tokens > self.params.max_tokens {
            self.flush(true);
            // The overlap piece plus this one may still be too much.
            if self.cur_tokens + piece.tokens > self.params.max_tokens {
                self.cur.clear();
                self.cur_tokens = 0;
            }
        }
        self.cur_tokens += piece.tokens;
        self.cur.push(piece);
    }
}

/// Split `blocks` into chunks; see the module docs.
pub fn chunk(blocks: &[Block], params: ChunkParams) -> Vec<Chunk> {
    let params = ChunkParams {
        max_tokens: params.max_tokens.max(8),
        overlap_tokens: params.overlap_tokens.min(params.max_tokens / 2),
        max_chunks: params.max_chunks,
    };
    let mut b = Builder {
        params,
        out: Vec::new(),
        cur: Vec::new(),
        cur_tokens: 0,
        heading: String::new(),
    };
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut page = None;
    for block in blocks {
        if block.page != page {
            b.flush(false);
            page = block.page;
        }
        if let BlockKind::Heading(level) = block.kind {
            b.flush(false);
            while stack.last().is_some_and(|(l, _)| *l >= level) {
                stack.pop();
            }
            stack.push((level, block.text.trim().to_string()));
            b.heading = stack
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" > ");
            continue;
        }
        let tokens = estimate_tokens(&block.text);
        if tokens <= params.max_tokens {
            b.push(Piece {
                text: block.text.clone(),
                tokens,
                page: block.page,
                lines: block.lines,
            });
            continue;
        }
        for part in split_long(&block.text, params) {
            b.push(Piece {
                tokens: estimate_tokens(&part),
                text: part,
                page: block.page,
                lines: block.lines,
            });
        }
    }
    b.flush(false);
    b.out
}

/// Cut an over-long text into parts of at most `max_tokens`, at sentence
/// ends where possible, each part starting with up to `overlap_tokens` of
/// the previous one.
fn split_long(text: &str, params: ChunkParams) -> Vec<String> {
    let mut sentences: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if matches!(c, '.' | '!' | '?' | '\n' | '。' | '！' | '？' | '；' | ';') {
            sentences.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        sentences.push(cur);
    }
    // Hard-cut sentences that alone exceed the budget.
    let mut units: Vec<String> = Vec::new();
    for s in sentences {
        if estimate_tokens(&s) <= params.max_tokens {
            units.push(s);
            continue;
        }
        let mut part = String::new();
        for c in s.chars() {
            part.push(c);
            if estimate_tokens(&part) >= params.max_tokens {
                // Back off to the last whitespace when there is one.
                let cut = part
                    .rfind(char::is_whitespace)
                    .filter(|&i| i > part.len() / 2);
                match cut {
                    Some(i) => {
                        let tail = part.split_off(i);
                        units.push(std::mem::take(&mut part));
                        part = tail;
                    }
                    None => units.push(std::mem::take(&mut part)),
                }
            }
        }
        if !part.is_empty() {
            units.push(part);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut cur_tokens = 0;
    for u in &units {
        let t = estimate_tokens(u);
        if cur_tokens + t > params.max_tokens && !cur.is_empty() {
            out.push(cur.concat().trim().to_string());
            // Carry trailing units that fit the overlap budget.
            let mut carry: Vec<&str> = Vec::new();
            let mut carried = 0;
            for prev in cur.iter().rev() {
                let pt = estimate_tokens(prev);
                if carried + pt > params.overlap_tokens || carried + pt + t > params.max_tokens {
                    break;
                }
                carried += pt;
                carry.insert(0, prev);
            }
            cur = carry;
            cur_tokens = carried;
        }
        cur.push(u);
        cur_tokens += t;
    }
    if !cur.is_empty() {
        out.push(cur.concat().trim().to_string());
    }
    out.retain(|s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(text: &str, lines: (u32, u32)) -> Block {
        let mut b = Block::new(BlockKind::Paragraph, text);
        b.lines = Some(lines);
        b
    }

    #[test]
    fn cjk_counts_per_character_not_per_space() {
        assert_eq!(estimate_tokens("数据库索引"), 5);
        assert_eq!(estimate_tokens("hello, world"), 5);
        assert!(estimate_tokens(&"全文检索".repeat(100)) >= 400);
    }

    #[test]
    fn headings_build_paths_and_close_chunks() {
        let blocks = vec![
            Block::new(BlockKind::Heading(1), "Guide"),
            para("intro", (2, 2)),
            Block::new(BlockKind::Heading(2), "Install"),
            para("run it", (4, 5)),
            Block::new(BlockKind::Heading(2), "Usage"),
            para("use it", (7, 7)),
        ];
        let c = chunk(&blocks, ChunkParams::default());
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.heading.as_str(), c.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Guide", "intro"),
                ("Guide > Install", "run it"),
                ("Guide > Usage", "use it")
            ]
        );
        assert_eq!(c[1].lines, Some((4, 5)));
    }

    #[test]
    fn chunks_are_bounded_and_overlap() {
        let blocks: Vec<Block> = (0..40)
            .map(|i| para(&format!("Sentence number {i} is here."), (i + 1, i + 1)))
            .collect();
        let params = ChunkParams {
            max_tokens: 40,
            overlap_tokens: 12,
            ..ChunkParams::default()
        };
        let c = chunk(&blocks, params);
        assert!(c.len() > 3);
        for w in c.windows(2) {
            assert!(w[0].tokens <= 40);
            let last = w[0].text.rsplit("\n\n").next().unwrap();
            assert!(w[1].text.starts_with(last), "no overlap: {:?}", w);
        }
    }

    #[test]
    fn long_cjk_paragraph_is_split_within_budget() {
        let budget = ChunkParams::default().max_tokens;
        let text = "这是一个关于全文检索的句子。".repeat(60);
        let c = chunk(&[para(&text, (1, 1))], ChunkParams::default());
        assert!(c.len() > 2);
        assert!(
            c.iter().all(|c| c.tokens <= budget),
            "{:?}",
            c.iter().map(|c| c.tokens).collect::<Vec<_>>()
        );
        let no_punct = "字".repeat(1000);
        let c = chunk(&[para(&no_punct, (1, 1))], ChunkParams::default());
        assert!(c.iter().all(|c| c.tokens <= budget));
        assert_eq!(
            c.iter().map(|c| c.text.chars().count()).sum::<usize>(),
            1000
        );
    }

    #[test]
    fn a_new_page_starts_a_new_chunk() {
        let mut a = Block::new(BlockKind::Paragraph, "page one");
        a.page = Some(1);
        let mut b = Block::new(BlockKind::Paragraph, "page two");
        b.page = Some(2);
        let c = chunk(&[a, b], ChunkParams::default());
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].page, Some(2));
    }
}
