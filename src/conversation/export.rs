//! A conversation taken out of the store and brought back: JSON with every
//! version of every message (regenerated answers, edited questions), its
//! attachments' records, sources and tool calls, which [`import`] reads
//! back as a new conversation; and Markdown of the branch shown, with its
//! images beside it and each answer's sources, for reading and sharing.
//!
//! An export file is untrusted input: it is read with a size bound, checked
//! (format, version, message count, a tree whose parents come first) before
//! anything is written, and written in one transaction.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chat::Role;
use crate::rag::answer::Source;
use crate::store::{
    Attachment, Conversation, ConversationId, ImportHeader, ImportMessage, MessageId, NewMessage,
    NewToolCall, Store, StoreError,
};

/// The `format` every export carries.
pub const FORMAT: &str = "omnidesk-conversation";
/// The newest export version this build writes and reads.
pub const VERSION: u32 = 1;
/// Largest export file [`read_json`] accepts.
pub const MAX_EXPORT_BYTES: u64 = 64 << 20;
/// Most messages one import may hold.
pub const MAX_MESSAGES: usize = 100_000;

/// Why an export could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than the {} MiB an export may be", path.display(), MAX_EXPORT_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("not an Omnidesk conversation export: {0}")]
    NotAnExport(String),
    #[error("the export is version {found}; this build reads up to {VERSION}")]
    NewerVersion { found: u32 },
    #[error("the export is inconsistent: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// Stable code for scripts and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::Io { .. } => "IO",
            ExportError::TooLarge { .. } => "FILE_TOO_LARGE",
            ExportError::NotAnExport(_) => "NOT_AN_EXPORT",
            ExportError::NewerVersion { .. } => "EXPORT_NEWER_VERSION",
            ExportError::Invalid(_) => "BAD_IMPORT",
            ExportError::Store(e) => e.code(),
        }
    }
}

type Result<T, E = ExportError> = std::result::Result<T, E>;

/// A conversation as a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationExport {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    pub created_at: i64,
    /// The id of the message shown last (a leaf of the tree).
    #[serde(default)]
    pub shown: Option<MessageId>,
    /// Every message, parents before children.
    pub messages: Vec<ExportedMessage>,
}

/// One message of an export, ids as they were in the exporting store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedMessage {
    pub id: MessageId,
    #[serde(default)]
    pub parent_id: Option<MessageId>,
    pub role: Role,
    pub content: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub stats: Option<serde_json::Value>,
    pub created_at: i64,
    #[serde(default)]
    pub tool_calls: Vec<ExportedToolCall>,
}

/// A tool call made before an answer, with what the model was told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedToolCall {
    pub step: usize,
    pub call_id: String,
    pub tool: String,
    pub arguments: serde_json::Value,
    pub output: String,
    #[serde(default)]
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// Conversation `id` with every version of every message.
///
/// # Errors
/// Store errors (`NotFound` for an unknown id).
pub fn export(store: &Store, id: ConversationId) -> Result<ConversationExport> {
    let conversation = store.conversation(id)?;
    let shown = store.messages(id)?.last().map(|m| m.id);
    let mut messages = Vec::new();
    for m in store.all_messages(id)? {
        let tool_calls = store
            .tool_calls(m.id)?
            .into_iter()
            .map(|c| ExportedToolCall {
                step: usize::try_from(c.step).unwrap_or(0),
                call_id: c.call_id,
                tool: c.tool,
                arguments: c.arguments,
                output: c.output,
                error: c.error,
                duration_ms: c.duration_ms,
            })
            .collect();
        messages.push(ExportedMessage {
            id: m.id,
            parent_id: m.parent_id,
            role: m.role,
            content: m.content,
            attachments: m.attachments,
            stats: m.stats,
            created_at: m.created_at,
            tool_calls,
        });
    }
    Ok(ConversationExport {
        format: FORMAT.into(),
        version: VERSION,
        title: conversation.title,
        model: conversation.model,
        system_prompt: conversation.system_prompt,
        created_at: conversation.created_at,
        shown,
        messages,
    })
}

/// Read an export file, at most [`MAX_EXPORT_BYTES`], and check its format
/// and version (the tree is checked by [`import`]).
///
/// # Errors
/// `Io`, `TooLarge`, `NotAnExport` (not JSON, or another format),
/// `NewerVersion`.
pub fn read_json(path: &Path) -> Result<ConversationExport> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_EXPORT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_EXPORT_BYTES {
        return Err(ExportError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse_json(&bytes)
}

/// [`read_json`] on bytes in memory.
///
/// # Errors
/// As [`read_json`], without `Io`/`TooLarge`.
pub fn parse_json(bytes: &[u8]) -> Result<ConversationExport> {
    #[derive(Deserialize)]
    struct Probe {
        format: Option<String>,
        version: Option<u32>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| ExportError::NotAnExport(e.to_string()))?;
    if probe.format.as_deref() != Some(FORMAT) {
        return Err(ExportError::NotAnExport(format!(
            "its format is {:?}, not {FORMAT:?}",
            probe.format.unwrap_or_default()
        )));
    }
    let found = probe.version.unwrap_or(0);
    if found > VERSION {
        return Err(ExportError::NewerVersion { found });
    }
    serde_json::from_slice(bytes).map_err(|e| ExportError::NotAnExport(e.to_string()))
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Imported {
    pub conversation: Conversation,
    pub messages: usize,
    /// Attachment records left out because their file is not a regular
    /// file on this machine (it would be read when the conversation goes on).
    pub attachments_dropped: usize,
}

/// Write `export` into `store` as a new conversation, all or nothing.
///
/// # Errors
/// `Invalid` for a message whose parent is not an earlier message of the
/// export, duplicate ids, or more than [`MAX_MESSAGES`]; store errors.
pub fn import(store: &Store, export: &ConversationExport) -> Result<Imported> {
    if export.messages.len() > MAX_MESSAGES {
        return Err(ExportError::Invalid(format!(
            "{} messages; at most {MAX_MESSAGES} can be imported",
            export.messages.len()
        )));
    }
    let mut index: HashMap<MessageId, usize> = HashMap::with_capacity(export.messages.len());
    let mut parents = Vec::with_capacity(export.messages.len());
    for (i, m) in export.messages.iter().enumerate() {
        let parent = match m.parent_id {
            Some(p) => Some(*index.get(&p).ok_or_else(|| {
                ExportError::Invalid(format!(
                    "message {} follows message {p}, which does not come before it",
                    m.id
                ))
            })?),
            None => None,
        };
        if index.insert(m.id, i).is_some() {
            return Err(ExportError::Invalid(format!(
                "message id {} appears twice",
                m.id
            )));
        }
        parents.push(parent);
    }
    let shown = match export.shown {
        Some(id) => Some(*index.get(&id).ok_or_else(|| {
            ExportError::Invalid(format!("the shown message {id} is not in the export"))
        })?),
        None => None,
    };
    let mut dropped = 0;
    let attachments: Vec<Vec<Attachment>> = export
        .messages
        .iter()
        .map(|m| {
            let kept: Vec<Attachment> = m
                .attachments
                .iter()
                .filter(|a| std::fs::metadata(&a.path).is_ok_and(|md| md.is_file()))
                .cloned()
                .collect();
            dropped += m.attachments.len() - kept.len();
            kept
        })
        .collect();
    let rows: Vec<ImportMessage<'_>> = export
        .messages
        .iter()
        .zip(&attachments)
        .zip(parents)
        .map(|((m, attachments), parent)| ImportMessage {
            parent,
            message: NewMessage {
                role: m.role,
                content: &m.content,
                attachments,
                stats: m.stats.as_ref(),
            },
            created_at: m.created_at,
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| NewToolCall {
                    step: c.step,
                    call_id: &c.call_id,
                    tool: &c.tool,
                    arguments: &c.arguments,
                    output: &c.output,
                    error: c.error.as_deref(),
                    duration_ms: c.duration_ms,
                })
                .collect(),
        })
        .collect();
    let conversation = store.import_conversation(
        ImportHeader {
            title: &export.title,
            model: export.model.as_deref(),
            system_prompt: export.system_prompt.as_deref(),
            created_at: export.created_at,
        },
        &rows,
        shown,
    )?;
    Ok(Imported {
        conversation,
        messages: rows.len(),
        attachments_dropped: dropped,
    })
}

/// Markdown of a conversation, and the files it links to.
#[derive(Debug, Clone, PartialEq)]
pub struct Markdown {
    pub text: String,
    /// `(from, to)`: attachment files to copy, `to` relative to the
    /// Markdown file's folder.
    pub files: Vec<(PathBuf, PathBuf)>,
}

/// The branch shown, as Markdown: a heading per turn, images as image
/// links into `files_dir` (a folder name beside the Markdown file), other
/// attachments as links, each answer's document sources and tool calls
/// after it, and a note where a message has other versions.
pub fn to_markdown(export: &ConversationExport, files_dir: &str) -> Markdown {
    let by_id: HashMap<MessageId, &ExportedMessage> =
        export.messages.iter().map(|m| (m.id, m)).collect();
    let mut branch = Vec::new();
    let mut at = export.shown.and_then(|id| by_id.get(&id).copied());
    while let Some(m) = at {
        branch.push(m);
        at = m.parent_id.and_then(|p| by_id.get(&p).copied());
        if branch.len() > export.messages.len() {
            break; // a cycle in a hand-made file
        }
    }
    branch.reverse();
    let mut siblings: HashMap<Option<MessageId>, usize> = HashMap::new();
    for m in &export.messages {
        *siblings.entry(m.parent_id).or_default() += 1;
    }

    let mut text = format!("# {}\n\n", escape_line(&export.title));
    if let Some(model) = &export.model {
        text.push_str(&format!("*Model: {}*\n\n", escape_line(model)));
    }
    if let Some(system) = &export.system_prompt {
        text.push_str(&format!(
            "> **System:** {}\n\n",
            system.replace('\n', "\n> ")
        ));
    }
    let mut files = Vec::new();
    for m in branch {
        let who = match m.role {
            Role::User => "You",
            Role::Assistant => "Omnidesk",
            Role::System => "System",
            Role::Tool => "Tool",
        };
        text.push_str(&format!("## {who}\n\n"));
        let versions = siblings.get(&m.parent_id).copied().unwrap_or(1);
        if versions > 1 {
            text.push_str(&format!(
                "*One of {versions} versions; the others are in the JSON export.*\n\n"
            ));
        }
        for c in &m.tool_calls {
            let out: String = c.output.chars().take(500).collect();
            text.push_str(&format!(
                "> Tool `{}` {} → {}\n\n",
                c.tool,
                c.arguments,
                out.replace('\n', " ")
            ));
        }
        text.push_str(m.content.trim_end());
        text.push_str("\n\n");
        for a in &m.attachments {
            let from = PathBuf::from(&a.path);
            let name = from
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".into());
            let to = PathBuf::from(files_dir).join(format!("{}-{name}", m.id));
            let link = to.to_string_lossy().replace(' ', "%20");
            if a.kind == "image" {
                text.push_str(&format!("![{}]({link})\n\n", escape_line(&name)));
            } else {
                text.push_str(&format!(
                    "[{} ({})]({link})\n\n",
                    escape_line(&name),
                    a.kind
                ));
            }
            files.push((from, to));
        }
        let sources: Vec<Source> = m
            .stats
            .as_ref()
            .and_then(|s| s.get("sources"))
            .and_then(|s| serde_json::from_value(s.clone()).ok())
            .unwrap_or_default();
        if !sources.is_empty() {
            text.push_str("**Sources**\n\n");
            for s in &sources {
                text.push_str(&format!(
                    "- [{}] {}\n",
                    s.number,
                    escape_line(&s.location())
                ));
            }
            text.push('\n');
        }
    }
    Markdown { text, files }
}

/// One line of plain text that cannot open Markdown structure of its own.
fn escape_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '[' | ']' | '*' | '_' | '`' | '<' | '>' | '#' | '!' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: Role, content: &str) -> NewMessage<'_> {
        NewMessage {
            role,
            content,
            attachments: &[],
            stats: None,
        }
    }

    fn sample(store: &Store) -> ConversationId {
        let c = store
            .create_conversation("Tides [draft]", Some("gemma"), Some("Be brief."))
            .unwrap();
        let q = store
            .append_message(c.id, msg(Role::User, "Why tides?"))
            .unwrap();
        store
            .append_message(c.id, msg(Role::Assistant, "The Moon."))
            .unwrap();
        let stats = serde_json::json!({"sources": [{
            "number": 1, "chunk_id": 3, "path": "/docs/tides.md", "page": null,
            "heading": "Tides", "lines": [2, 4]
        }]});
        let a2 = store
            .append_message_after(
                c.id,
                Some(q.id),
                NewMessage {
                    stats: Some(&stats),
                    ..msg(Role::Assistant, "The Moon's pull [1].")
                },
            )
            .unwrap();
        store
            .append_tool_calls(
                a2.id,
                &[NewToolCall {
                    step: 0,
                    call_id: "c0",
                    tool: "search_documents",
                    arguments: &serde_json::json!({"query": "tides"}),
                    output: "…",
                    error: None,
                    duration_ms: 2.0,
                }],
            )
            .unwrap();
        c.id
    }

    #[test]
    fn an_export_imports_back_with_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let id = sample(&store);
        let out = export(&store, id).unwrap();
        let json = serde_json::to_vec(&out).unwrap();
        let back = parse_json(&json).unwrap();
        assert_eq!(back, out);

        let other = Store::open(&dir.path().join("b.db")).unwrap();
        let imported = import(&other, &back).unwrap();
        assert_eq!(imported.messages, 3);
        let new = imported.conversation.id;
        let shown = other.messages(new).unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[1].content, "The Moon's pull [1].");
        assert_eq!(shown[1].versions.len(), 2);
        assert_eq!(other.tool_calls(shown[1].id).unwrap().len(), 1);
        assert_eq!(
            other.conversation(new).unwrap().system_prompt.as_deref(),
            Some("Be brief.")
        );
        // Exporting the import gives the same content (ids aside).
        let again = export(&other, new).unwrap();
        let strip = |e: &ConversationExport| -> Vec<(String, usize)> {
            e.messages
                .iter()
                .map(|m| (m.content.clone(), m.tool_calls.len()))
                .collect()
        };
        assert_eq!(strip(&again), strip(&out));
    }

    #[test]
    fn markdown_shows_the_branch_with_sources_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let md = to_markdown(&export(&store, sample(&store)).unwrap(), "files");
        assert!(md.text.starts_with("# Tides \\[draft\\]\n"), "{}", md.text);
        assert!(md.text.contains("## You\n\nWhy tides?"), "{}", md.text);
        assert!(md.text.contains("The Moon's pull [1]."), "{}", md.text);
        assert!(!md.text.contains("The Moon.\n"), "{}", md.text);
        assert!(md.text.contains("One of 2 versions"), "{}", md.text);
        assert!(
            md.text.contains("- [1] /docs/tides.md:lines 2-4 — Tides"),
            "{}",
            md.text
        );
        assert!(md.text.contains("Tool `search_documents`"), "{}", md.text);
    }

    #[test]
    fn bad_exports_are_refused_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db")).unwrap();
        let good = export(&store, sample(&store)).unwrap();
        let before = store.list_conversations(100).unwrap().len();

        let mut orphan = good.clone();
        orphan.messages[1].parent_id = Some(9_999);
        assert!(matches!(
            import(&store, &orphan),
            Err(ExportError::Invalid(_))
        ));
        let mut twice = good.clone();
        twice.messages[2].id = twice.messages[1].id;
        assert!(matches!(
            import(&store, &twice),
            Err(ExportError::Invalid(_))
        ));
        let mut cycle = good.clone();
        cycle.messages[0].parent_id = Some(cycle.messages[2].id);
        assert!(matches!(
            import(&store, &cycle),
            Err(ExportError::Invalid(_))
        ));
        let mut shown = good.clone();
        shown.shown = Some(424_242);
        assert!(matches!(
            import(&store, &shown),
            Err(ExportError::Invalid(_))
        ));
        assert_eq!(store.list_conversations(100).unwrap().len(), before);

        assert!(matches!(
            parse_json(b"[]"),
            Err(ExportError::NotAnExport(_))
        ));
        assert!(matches!(
            parse_json(br#"{"format":"something-else","version":1}"#),
            Err(ExportError::NotAnExport(_))
        ));
        assert!(matches!(
            parse_json(br#"{"format":"omnidesk-conversation","version":99}"#),
            Err(ExportError::NewerVersion { found: 99 })
        ));
        let big = dir.path().join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_EXPORT_BYTES + 1).unwrap();
        assert!(matches!(read_json(&big), Err(ExportError::TooLarge { .. })));
        // An attachment whose file is not here is left out, not followed.
        let mut att = good;
        att.messages[0].attachments = vec![Attachment {
            kind: "image".into(),
            path: "/nonexistent/cat.png".into(),
            sha256: None,
        }];
        let imported = import(&store, &att).unwrap();
        assert_eq!(imported.attachments_dropped, 1);
    }
}
