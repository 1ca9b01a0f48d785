//! HTML: a tolerant tag scanner (not a DOM). Text inside `script`, `style`,
//! `noscript`, `template` and comments is dropped; `h1`–`h6` become
//! headings, `li` list items, `pre` code, and other block tags end a
//! paragraph. Character references are decoded. Pure functions.

use super::{Block, BlockKind};

/// Blocks of an HTML document.
pub fn parse(html: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut kind = BlockKind::Paragraph;
    let mut skip_until: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if skip_until.is_none() {
                buf.push_str(rest);
            }
            break;
        };
        if skip_until.is_none() {
            buf.push_str(&rest[..lt]);
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |i| &rest[i + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(until) = &skip_until {
            if closing && &name == until {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" | "style" | "noscript" | "template" | "head" if !closing => {
                flush(&mut out, &mut buf, kind);
                skip_until = Some(name);
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                flush(&mut out, &mut buf, kind);
                kind = if closing {
                    BlockKind::Paragraph
                } else {
                    BlockKind::Heading(name.as_bytes()[1] - b'0')
                };
            }
            "li" | "pre" | "p" | "div" | "section" | "article" | "tr" | "table" | "ul" | "ol"
            | "blockquote" | "header" | "footer" | "main" | "nav" | "dd" | "dt" | "title" => {
                flush(&mut out, &mut buf, kind);
                kind = match (closing, name.as_str()) {
                    (false, "li") => BlockKind::ListItem,
                    (false, "pre") => BlockKind::Code,
                    _ => BlockKind::Paragraph,
                };
            }
            "br" => buf.push('\n'),
            _ => {}
        }
    }
    flush(&mut out, &mut buf, kind);
    out
}

fn flush(out: &mut Vec<Block>, buf: &mut String, kind: BlockKind) {
    let text = decode_entities(buf);
    let text = if kind == BlockKind::Code {
        text.trim_matches('\n').to_string()
    } else {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    if !text.trim().is_empty() {
        out.push(Block::new(kind, text));
    }
    buf.clear();
}

/// Character references, named (the full HTML5 table) and numeric, by
/// `html-escape`. Our own decoder used to cut the text 12 *bytes* after an
/// `&`, which panicked inside a multi-byte character (`&` before CJK text).
fn decode_entities(s: &str) -> String {
    html_escape::decode_html_entities(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_no_scripts() {
        let html = "<html><head><title>x</title><script>var a = '<p>';</script></head>\
                    <body><h2>Billing &amp; plans</h2><p>Pay  monthly.</p><ul><li>Visa</li></ul>\
                    <pre>let x = 1;\nlet y = 2;</pre><!-- <p>hidden</p> --></body></html>";
        let b = parse(html);
        let texts: Vec<_> = b.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (BlockKind::Heading(2), "Billing & plans"),
                (BlockKind::Paragraph, "Pay monthly."),
                (BlockKind::ListItem, "Visa"),
                (BlockKind::Code, "let x = 1;\nlet y = 2;"),
            ]
        );
    }

    #[test]
    fn ampersand_before_chinese_text_is_text() {
        // `&` then multi-byte characters within 12 bytes: once a panic.
        let b = parse(
            "<p>研发&数据库备份策略</p><p>A&B 中文&amp;English &eacute;t&eacute; &#x4E2D;</p>",
        );
        let texts: Vec<_> = b.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["研发&数据库备份策略", "A&B 中文&English été 中"]);
    }

    #[test]
    fn unterminated_markup_does_not_panic() {
        let _ = parse("<p>text <b");
        let _ = parse("&#xZZZZ; &#99999999; &");
    }
}
