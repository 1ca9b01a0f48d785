//! PDF: text per page through `pdf-extract`; each page's paragraphs become
//! blocks carrying the page number. `pdf-extract` may panic on hostile
//! input; the caller ([`super::parse`]) catches that. Pure functions.

use super::{Block, BlockKind, Skip, MAX_TEXT_BYTES};

/// Blocks of a PDF, page by page.
pub fn parse(bytes: &[u8]) -> Result<Vec<Block>, Skip> {
    if !bytes.starts_with(b"%PDF") {
        return Err(Skip("not a PDF file (no %PDF header)".into()));
    }
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes)
        .map_err(|e| Skip(format!("malformed PDF: {e}")))?;
    let mut out = Vec::new();
    let mut total = 0u64;
    for (i, page) in pages.iter().enumerate() {
        total += page.len() as u64;
        if total > MAX_TEXT_BYTES {
            return Err(Skip(format!(
                "PDF text exceeds {} MiB",
                MAX_TEXT_BYTES >> 20
            )));
        }
        for para in page.split("\n\n") {
            let text = para.split_whitespace().collect::<Vec<_>>().join(" ");
            if !text.is_empty() {
                let mut b = Block::new(BlockKind::Paragraph, text);
                b.page = Some(i as u32 + 1);
                out.push(b);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_skip_not_a_panic() {
        assert!(parse(b"hello").is_err());
        assert!(parse(b"%PDF-1.4\n1 0 obj << /Type /Catalog").is_err());
    }
}
