//! Built-in tools over Omnidesk's own capabilities: the clock, the document
//! index, files the user picked, and the camera (a side effect: asks first).
//!
//! Each tool validates the arguments the model wrote and reports problems as
//! [`ToolFailure`]s; none of them panics on model output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use super::{Tool, ToolFailure, ToolOutput, ToolSpec};
use crate::camera::{self, CameraSettings, FrameSource};
use crate::media::Media;
use crate::rag::{Rag, SearchOptions};

/// Largest file `read_file` returns, so one file cannot fill the context.
pub const MAX_READ_BYTES: u64 = 64 * 1024;

fn failed(tool: &str, reason: impl Into<String>) -> ToolFailure {
    ToolFailure::Failed {
        tool: tool.to_string(),
        reason: reason.into(),
    }
}

/// `current_datetime`: the local date, time and time zone.
#[derive(Debug)]
pub struct DateTimeTool {
    spec: ToolSpec,
}

impl Default for DateTimeTool {
    fn default() -> Self {
        Self {
            spec: ToolSpec {
                name: "current_datetime".into(),
                description: "Get the current local date, time, weekday and time zone.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "timezone": {"type": "string", "description": "Optional IANA time zone, e.g. Europe/Paris"}
                    }
                }),
                side_effects: false,
            },
        }
    }
}

impl Tool for DateTimeTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: Value) -> BoxFuture<'_, Result<ToolOutput, ToolFailure>> {
        Box::pin(async move {
            let now = jiff::Zoned::now();
            let now = match args.get("timezone").and_then(Value::as_str) {
                Some(tz) if !tz.is_empty() => {
                    let zone =
                        jiff::tz::TimeZone::get(tz).map_err(|e| ToolFailure::InvalidArguments {
                            tool: self.spec.name.clone(),
                            reason: format!("unknown time zone {tz:?}: {e}"),
                        })?;
                    now.with_time_zone(zone)
                }
                _ => now,
            };
            Ok(ToolOutput::text(
                now.strftime("%A %Y-%m-%d %H:%M:%S %Z (UTC%:z)").to_string(),
            ))
        })
    }
}

/// `search_documents`: hybrid search over the user's indexed documents.
pub struct SearchDocumentsTool {
    spec: ToolSpec,
    rag: Rag,
}

impl std::fmt::Debug for SearchDocumentsTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchDocumentsTool")
            .finish_non_exhaustive()
    }
}

impl SearchDocumentsTool {
    /// Search through `rag`.
    pub fn new(rag: Rag) -> Self {
        Self {
            spec: ToolSpec {
                name: "search_documents".into(),
                description: "Search the user's indexed documents; returns matching passages with their file and location.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "What to look for"},
                        "limit": {"type": "integer", "description": "Passages to return (1-8)"}
                    },
                    "required": ["query"]
                }),
                side_effects: false,
            },
            rag,
        }
    }
}

impl Tool for SearchDocumentsTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: Value) -> BoxFuture<'_, Result<ToolOutput, ToolFailure>> {
        Box::pin(async move {
            let name = self.spec.name.clone();
            let query = args
                .get("query")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .ok_or_else(|| ToolFailure::InvalidArguments {
                    tool: name.clone(),
                    reason: "query must be a non-empty string".into(),
                })?
                .to_string();
            let limit = args
                .get("limit")
                .and_then(Value::as_u64)
                .map_or(4, |n| n.clamp(1, 8) as usize);
            let rag = self.rag.clone();
            let options = SearchOptions {
                limit,
                ..Default::default()
            };
            let hits = tokio::task::spawn_blocking(move || rag.search(&query, &options))
                .await
                .map_err(|e| failed(&name, format!("the search task failed: {e}")))?
                .map_err(|e| failed(&name, e.to_string()))?;
            if hits.is_empty() {
                return Ok(ToolOutput::text(
                    "No matching passages in the user's documents.",
                ));
            }
            let mut out = String::new();
            for (i, h) in hits.iter().enumerate() {
                let c = &h.chunk;
                let mut location = c.path.display().to_string();
                if let Some(p) = c.page {
                    location.push_str(&format!(", page {p}"));
                } else if let (Some(a), Some(b)) = (c.line_start, c.line_end) {
                    location.push_str(&format!(", lines {a}-{b}"));
                }
                out.push_str(&format!("[{}] {location}\n{}\n\n", i + 1, c.text.trim()));
            }
            Ok(ToolOutput::text(out.trim_end()))
        })
    }
}

/// `read_file`: the text of a file the user explicitly allowed. Paths are
/// compared after resolving symlinks and `..`, so the model cannot reach
/// beyond the allowed files; a directory allows the files under it.
#[derive(Debug)]
pub struct ReadFileTool {
    spec: ToolSpec,
    allowed: Vec<PathBuf>,
}

impl ReadFileTool {
    /// Allow reading `allowed` (files, or directories meaning everything
    /// under them). Paths that do not exist are skipped.
    pub fn new(allowed: &[PathBuf]) -> Self {
        let allowed: Vec<PathBuf> = allowed
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        let listing: Vec<String> = allowed.iter().map(|p| p.display().to_string()).collect();
        Self {
            spec: ToolSpec {
                name: "read_file".into(),
                description: format!(
                    "Read a text file the user shared (at most {} KiB). Allowed: {}",
                    MAX_READ_BYTES / 1024,
                    listing.join(", ")
                ),
                parameters: json!({
                    "type": "object",
                    "properties": {"path": {"type": "string", "description": "Path of an allowed file"}},
                    "required": ["path"]
                }),
                side_effects: false,
            },
            allowed,
        }
    }

    fn is_allowed(&self, path: &Path) -> bool {
        self.allowed
            .iter()
            .any(|a| path == a || path.starts_with(a))
    }
}

impl Tool for ReadFileTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: Value) -> BoxFuture<'_, Result<ToolOutput, ToolFailure>> {
        Box::pin(async move {
            let name = &self.spec.name;
            let raw = args.get("path").and_then(Value::as_str).ok_or_else(|| {
                ToolFailure::InvalidArguments {
                    tool: name.clone(),
                    reason: "path must be a string".into(),
                }
            })?;
            let denied = || failed(name, format!("{raw} is not a file the user allowed"));
            // A missing file is reported like a forbidden one, so the model
            // cannot probe the file system.
            let path = tokio::fs::canonicalize(raw).await.map_err(|_| denied())?;
            if !self.is_allowed(&path) {
                return Err(denied());
            }
            let meta = tokio::fs::metadata(&path).await.map_err(|_| denied())?;
            if !meta.is_file() {
                return Err(failed(name, format!("{raw} is not a regular file")));
            }
            if meta.len() > MAX_READ_BYTES {
                return Err(failed(
                    name,
                    format!(
                        "{raw} is {} bytes; the limit is {MAX_READ_BYTES}",
                        meta.len()
                    ),
                ));
            }
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| failed(name, format!("cannot read {raw}: {e}")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| failed(name, format!("{raw} is not a UTF-8 text file")))?;
            Ok(ToolOutput::text(text))
        })
    }
}

/// `camera_snapshot`: one frame from a camera. Capturing is a side effect,
/// so every call needs the user's consent.
pub struct CameraTool {
    spec: ToolSpec,
    source: Arc<dyn FrameSource>,
    index: u32,
    attach: bool,
}

impl std::fmt::Debug for CameraTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraTool")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl CameraTool {
    /// Snapshots from camera `index` of `source`. `attach` gives the image
    /// to the model (only useful when it has vision).
    pub fn new(source: Arc<dyn FrameSource>, index: u32, attach: bool) -> Self {
        Self {
            spec: ToolSpec {
                name: "camera_snapshot".into(),
                description: "Take a photo with the user's camera (asks the user first).".into(),
                parameters: json!({"type": "object", "properties": {}}),
                side_effects: true,
            },
            source,
            index,
            attach,
        }
    }
}

impl Tool for CameraTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, _args: Value) -> BoxFuture<'_, Result<ToolOutput, ToolFailure>> {
        Box::pin(async move {
            let source = self.source.clone();
            let index = self.index;
            let name = self.spec.name.clone();
            let image = tokio::task::spawn_blocking(move || {
                camera::snapshot(&*source, index, &CameraSettings::default())
            })
            .await
            .map_err(|e| failed(&name, format!("the camera task failed: {e}")))?
            .map_err(|e| failed(&name, e.to_string()))?;
            let text = format!(
                "Took a {}×{} photo{}.",
                image.width,
                image.height,
                if self.attach {
                    " (attached below)"
                } else {
                    "; this model cannot see images"
                }
            );
            let media = if self.attach {
                vec![Media::Image(image)]
            } else {
                Vec::new()
            };
            Ok(ToolOutput { text, media })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datetime_reports_the_year_and_rejects_bad_zones() {
        let t = DateTimeTool::default();
        let out = t.call(json!({})).await.unwrap();
        let year = jiff::Zoned::now().year().to_string();
        assert!(out.text.contains(&year), "{}", out.text);
        let utc = t.call(json!({"timezone": "UTC"})).await.unwrap();
        assert!(utc.text.contains("UTC"), "{}", utc.text);
        let bad = t.call(json!({"timezone": "Mars/Olympus"})).await;
        assert!(matches!(bad, Err(ToolFailure::InvalidArguments { .. })));
    }

    #[tokio::test]
    async fn read_file_only_reads_allowed_paths() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("notes.txt");
        let secret = dir.path().join("secret.txt");
        std::fs::write(&ok, "hello").unwrap();
        std::fs::write(&secret, "no").unwrap();
        let t = ReadFileTool::new(std::slice::from_ref(&ok));
        let out = t.call(json!({"path": ok.to_str().unwrap()})).await.unwrap();
        assert_eq!(out.text, "hello");
        let sneaky = format!(
            "{}/../{}/secret.txt",
            dir.path().display(),
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        for p in [
            secret.to_str().unwrap(),
            sneaky.as_str(),
            "/etc/passwd",
            "/nonexistent",
        ] {
            let err = t.call(json!({"path": p})).await.unwrap_err();
            assert!(
                err.to_string().contains("not a file the user allowed"),
                "{p}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn camera_snapshot_from_a_fake_source() {
        let t = CameraTool::new(Arc::new(camera::FakeSource), 0, true);
        assert!(t.spec().side_effects);
        let out = t.call(json!({})).await.unwrap();
        assert_eq!(out.media.len(), 1);
        let missing = CameraTool::new(Arc::new(camera::FakeSource), 3, false);
        assert!(matches!(
            missing.call(json!({})).await,
            Err(ToolFailure::Failed { .. })
        ));
    }
}
