//! DOCX: a zip holding `word/document.xml`. Paragraphs (`w:p`) become
//! blocks; a `Heading N`/`Title` paragraph style makes a heading, a
//! numbering property a list item. The zip is distrusted: the archive may
//! hold at most a few thousand entries and `document.xml` is read through a
//! hard cap on its *decompressed* size, so a zip bomb stops early.
//! Pure functions.

use std::io::Read;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{Block, BlockKind, Skip, MAX_TEXT_BYTES};

const MAX_ENTRIES: usize = 10_000;

/// Blocks of a DOCX document.
pub fn parse(bytes: &[u8]) -> Result<Vec<Block>, Skip> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Skip(format!("not a valid DOCX (zip) file: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(Skip(format!("DOCX has {} zip entries", zip.len())));
    }
    let entry = zip
        .by_name("word/document.xml")
        .map_err(|_| Skip("DOCX without word/document.xml".into()))?;
    let mut xml = Vec::new();
    entry
        .take(MAX_TEXT_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|e| Skip(format!("corrupt DOCX: {e}")))?;
    if xml.len() as u64 > MAX_TEXT_BYTES {
        return Err(Skip(format!(
            "DOCX expands to more than {} MiB (zip bomb?)",
            MAX_TEXT_BYTES >> 20
        )));
    }
    paragraphs(&xml)
}

fn paragraphs(xml: &[u8]) -> Result<Vec<Block>, Skip> {
    let mut reader = Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut text = String::new();
    let mut kind = BlockKind::Paragraph;
    let mut in_text = false;
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| Skip(format!("malformed DOCX XML: {e}")))?;
        match ev {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"p" => {
                    text.clear();
                    kind = BlockKind::Paragraph;
                }
                b"t" => in_text = true,
                b"tab" => text.push('\t'),
                b"br" => text.push('\n'),
                b"numPr" => kind = BlockKind::ListItem,
                b"pStyle" => {
                    for a in e.attributes().flatten() {
                        if a.key.local_name().as_ref() == b"val" {
                            let v = String::from_utf8_lossy(&a.value).to_ascii_lowercase();
                            if v == "title" {
                                kind = BlockKind::Heading(1);
                            } else if let Some(n) = v.strip_prefix("heading") {
                                let level = n.trim().parse::<u8>().unwrap_or(1).clamp(1, 6);
                                kind = BlockKind::Heading(level);
                            }
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                let raw = String::from_utf8_lossy(t.as_ref()).into_owned();
                text.push_str(&unescape(&raw));
            }
            Event::GeneralRef(r) if in_text => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                text.push_str(&unescape(&format!("&{name};")));
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let t = text.trim();
                    if !t.is_empty() {
                        out.push(Block::new(kind, t.to_string()));
                    }
                    text.clear();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_zip_is_skipped() {
        let err = parse(b"this is plain text, not a zip").unwrap_err();
        assert!(err.0.contains("zip"), "{err}");
    }

    #[test]
    fn paragraph_styles_become_headings_and_lists() {
        let xml = br#"<w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Refunds</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Within 30 days &amp; more</w:t></w:r></w:p>
            <w:p><w:pPr><w:numPr/></w:pPr><w:r><w:t>item</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let b = paragraphs(xml).unwrap();
        assert_eq!(b[0].kind, BlockKind::Heading(2));
        assert_eq!(b[1].text, "Within 30 days & more");
        assert_eq!(b[2].kind, BlockKind::ListItem);
    }
}
