//! Plain text and source code: blocks are runs of lines separated by blank
//! lines, each with its line range. Pure functions.

use super::{Block, BlockKind};

/// Paragraphs of plain text.
pub fn parse(text: &str) -> Vec<Block> {
    by_blank_lines(text, BlockKind::Paragraph)
}

/// Source code: the same split, marked as code so it is never reflowed.
pub fn parse_code(text: &str) -> Vec<Block> {
    by_blank_lines(text, BlockKind::Code)
}

fn by_blank_lines(text: &str, kind: BlockKind) -> Vec<Block> {
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut start = 0u32;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if line.trim().is_empty() {
            flush(&mut out, &mut cur, start, n - 1, kind);
        } else {
            if cur.is_empty() {
                start = n;
            }
            cur.push(line);
        }
    }
    let last = text.lines().count() as u32;
    flush(&mut out, &mut cur, start, last, kind);
    out
}

fn flush(out: &mut Vec<Block>, cur: &mut Vec<&str>, start: u32, end: u32, kind: BlockKind) {
    if cur.is_empty() {
        return;
    }
    let mut b = Block::new(kind, cur.join("\n"));
    b.lines = Some((start, end.max(start)));
    out.push(b);
    cur.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_their_line_ranges() {
        let b = parse("one\ntwo\n\n\nthree\n");
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].lines, Some((1, 2)));
        assert_eq!(b[1].text, "three");
        assert_eq!(b[1].lines, Some((5, 5)));
    }
}
