//! Markdown: ATX headings (`#`…`######`), fenced code blocks, list items
//! and paragraphs, each with its source line range. A line-based reader,
//! tolerant of anything: unknown syntax is just paragraph text.
//! Pure functions.

use super::{Block, BlockKind};

/// Blocks of a Markdown document.
pub fn parse(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut para_kind = BlockKind::Paragraph;
    let mut para_start = 0u32;
    let mut fence: Option<(String, u32, Vec<&str>)> = None;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let n = i as u32 + 1;
        let trimmed = line.trim_start();
        if let Some((marker, start, body)) = fence.as_mut() {
            if trimmed.starts_with(marker.as_str()) {
                push(&mut out, BlockKind::Code, body.join("\n"), *start, n);
                fence = None;
            } else {
                body.push(line);
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush(&mut out, &mut para, para_kind, para_start, n - 1);
            let marker = trimmed[..3].to_string();
            fence = Some((marker, n, Vec::new()));
            continue;
        }
        if let Some(level) = heading_level(trimmed) {
            flush(&mut out, &mut para, para_kind, para_start, n - 1);
            let title = trimmed[level as usize..]
                .trim()
                .trim_end_matches('#')
                .trim();
            push(&mut out, BlockKind::Heading(level), title.to_string(), n, n);
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut out, &mut para, para_kind, para_start, n - 1);
            continue;
        }
        if is_list_item(trimmed) {
            flush(&mut out, &mut para, para_kind, para_start, n - 1);
            para_kind = BlockKind::ListItem;
            para_start = n;
            para.push(line);
            continue;
        }
        if para.is_empty() {
            para_kind = BlockKind::Paragraph;
            para_start = n;
        }
        para.push(line);
    }
    let last = lines.len() as u32;
    if let Some((_, start, body)) = fence {
        // An unclosed fence runs to the end of the file.
        push(&mut out, BlockKind::Code, body.join("\n"), start, last);
    }
    flush(&mut out, &mut para, para_kind, para_start, last);
    out
}

fn heading_level(line: &str) -> Option<u8> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[hashes..];
    ((1..=6).contains(&hashes) && (rest.is_empty() || rest.starts_with([' ', '\t'])))
        .then_some(hashes as u8)
}

fn is_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return true;
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") "))
}

fn push(out: &mut Vec<Block>, kind: BlockKind, text: String, start: u32, end: u32) {
    let mut b = Block::new(kind, text);
    b.lines = Some((start, end.max(start)));
    out.push(b);
}

fn flush(out: &mut Vec<Block>, para: &mut Vec<&str>, kind: BlockKind, start: u32, end: u32) {
    if !para.is_empty() {
        push(out, kind, para.join("\n"), start, end);
        para.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_lists_code_and_paragraphs() {
        let md = "# Title\n\nIntro text\nmore\n\n## Setup\n- one\n- two\n\n```sh\n# not a heading\n```\n";
        let b = parse(md);
        let kinds: Vec<_> = b.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            vec![
                BlockKind::Heading(1),
                BlockKind::Paragraph,
                BlockKind::Heading(2),
                BlockKind::ListItem,
                BlockKind::ListItem,
                BlockKind::Code
            ]
        );
        assert_eq!(b[1].lines, Some((3, 4)));
        assert_eq!(b[5].text, "# not a heading");
        assert_eq!(b[5].lines, Some((10, 12)));
    }

    #[test]
    fn cjk_heading_and_text() {
        let b = parse("# 安装指南\n\n首先下载安装包。");
        assert_eq!(b[0].text, "安装指南");
        assert_eq!(b[1].text, "首先下载安装包。");
    }

    #[test]
    fn hashtag_without_space_is_text() {
        assert_eq!(parse("#rust is fun")[0].kind, BlockKind::Paragraph);
    }
}
