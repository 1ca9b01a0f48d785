//! HTML: a tolerant tag scanner (not a DOM). Text inside `script`, `style`,
//! `noscript`, `template` and comments is dropped; `h1`–`h6` become
//! headings, `li` list items, `pre` code, and other block tags end a
//! paragraph. Common entities are decoded. Pure functions.

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

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
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
    fn unterminated_markup_does_not_panic() {
        let _ = parse("<p>text <b");
        let _ = parse("&#xZZZZ; &#99999999; &");
    }
}
