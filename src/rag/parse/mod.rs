//! File parsers: bytes of one file in, structured [`Block`]s out.
//!
//! Each format has its own submodule and sees only the bytes it is given;
//! none touches the index. [`parse`] is the only entry point: it bounds the
//! input size, refuses binary data dressed as text, and runs the parser
//! under `catch_unwind`, so a malformed file (and a panic inside a
//! third-party parser) becomes a [`Skip`] reason. What `catch_unwind`
//! cannot stop (a stack overflow, an abort, an endless loop, a memory
//! bomb) is contained by running [`parse`] in a worker process; ingest does
//! that through [`super::isolate`]. Fuzzers call [`parse`] directly.
//!
//! Threading: pure functions; safe on any thread.

mod docx;
mod html;
mod markdown;
mod pdf;
mod text;

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Largest file read at all; bigger ones are skipped with a reason.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most text one file may expand to (decompressed DOCX XML, PDF text).
pub const MAX_TEXT_BYTES: u64 = 32 << 20;

/// What kind of file this is, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Text,
    Markdown,
    Code,
    Html,
    Pdf,
    Docx,
}

impl Format {
    /// The format for `path`'s extension; `None` for files we do not read.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "txt" | "text" | "log" | "rst" | "csv" | "tsv" | "org" | "adoc" => Format::Text,
            "md" | "markdown" | "mdx" => Format::Markdown,
            "html" | "htm" | "xhtml" => Format::Html,
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "rs" | "py" | "js" | "mjs" | "ts" | "tsx" | "jsx" | "go" | "c" | "h" | "cc" | "cpp"
            | "hpp" | "java" | "kt" | "swift" | "rb" | "php" | "cs" | "sh" | "bash" | "zsh"
            | "sql" | "toml" | "yaml" | "yml" | "json" | "ini" | "cfg" | "lua" | "scala" | "hs"
            | "ml" | "r" | "pl" | "css" | "scss" | "vue" | "svelte" | "zig" | "dart" => {
                Format::Code
            }
            _ => return None,
        })
    }

    /// Name stored in the index and shown to the user.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Code => "code",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
        }
    }
}

/// The structural role of a block; the chunker follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockKind {
    /// A heading of level 1..=6; it starts a section.
    Heading(u8),
    Paragraph,
    ListItem,
    Code,
}

/// One structural piece of a document, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub kind: BlockKind,
    pub text: String,
    /// 1-based page (PDF).
    pub page: Option<u32>,
    /// 1-based inclusive line range in the source (text formats).
    pub lines: Option<(u32, u32)>,
}

impl Block {
    pub(crate) fn new(kind: BlockKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
            page: None,
            lines: None,
        }
    }
}

/// Why a file was not indexed. Shown to the user and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parse `bytes` as `format`.
///
/// # Errors
/// A [`Skip`] with a human reason: too large, binary, malformed, a bomb,
/// no text, or a parser panic.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Vec<Block>, Skip> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Skip(format!(
            "file is larger than {} MiB",
            MAX_FILE_BYTES >> 20
        )));
    }
    let run = || -> Result<Vec<Block>, Skip> {
        match format {
            Format::Pdf => pdf::parse(bytes),
            Format::Docx => docx::parse(bytes),
            _ => {
                let text = decode_text(bytes)?;
                Ok(match format {
                    Format::Markdown => markdown::parse(&text),
                    Format::Html => html::parse(&text)?,
                    Format::Code => text::parse_code(&text),
                    _ => text::parse(&text),
                })
            }
        }
    };
    let blocks = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(r) => r?,
        Err(_) => {
            return Err(Skip(format!(
                "the {} parser crashed on this file",
                format.name()
            )))
        }
    };
    let blocks: Vec<Block> = blocks
        .into_iter()
        .filter(|b| !b.text.trim().is_empty())
        .collect();
    if blocks.is_empty() {
        return Err(Skip("no text found".into()));
    }
    Ok(blocks)
}

/// UTF-8 text (a BOM is dropped). NUL bytes or more than a few invalid
/// sequences mean binary data, whatever the extension says.
fn decode_text(bytes: &[u8]) -> Result<String, Skip> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return Err(Skip("binary data (not text)".into()));
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => {
            let lossy = String::from_utf8_lossy(bytes);
            let bad = lossy.chars().filter(|&c| c == '\u{FFFD}').count();
            if bad * 100 > lossy.chars().count().max(1) {
                Err(Skip("binary data or not UTF-8 text".into()))
            } else {
                Ok(lossy.into_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_renamed_txt_is_skipped() {
        let bytes = [0x7fu8, b'E', b'L', b'F', 0, 0, 1, 2, 3];
        let err = parse(Format::Text, &bytes).unwrap_err();
        assert!(err.0.contains("binary"), "{err}");
    }

    #[test]
    fn latin1_noise_is_binary_but_one_bad_byte_is_tolerated() {
        let noise: Vec<u8> = (0..400u32).map(|i| 0x80 + (i % 100) as u8).collect();
        assert!(parse(Format::Text, &noise).is_err());
        let mut ok = "hello world ".repeat(50).into_bytes();
        ok.push(0xff);
        assert!(parse(Format::Text, &ok).is_ok());
    }

    #[test]
    fn empty_text_is_skipped() {
        assert_eq!(
            parse(Format::Text, b"  \n\n ").unwrap_err(),
            Skip("no text found".into())
        );
    }

    #[test]
    fn extension_picks_the_format() {
        assert_eq!(Format::of(Path::new("a/B.MD")), Some(Format::Markdown));
        assert_eq!(Format::of(Path::new("x.rs")), Some(Format::Code));
        assert_eq!(Format::of(Path::new("x.exe")), None);
        assert_eq!(Format::of(Path::new("Makefile")), None);
    }
}
