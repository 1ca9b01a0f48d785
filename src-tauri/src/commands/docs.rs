//! The documents panel: which files are indexed (and why some were
//! skipped), adding folders or files through the native picker opened here,
//! rescanning, removing, and the snippet behind an answer's `[n]` citation.
//! Ingest runs on the library's blocking pool and reports over a
//! `Channel`; `cancel_ingest` stops it before the next file.

use std::path::PathBuf;

use omnidesk::rag::{IngestEvent, IngestJob, IngestOptions, IngestReport, Rag, RagStats};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{codes, CommandError, CommandResult};
use crate::state::{AppState, Docs};

/// One indexed (or skipped) file as the panel lists it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    pub path: PathBuf,
    pub collection: String,
    pub status: String,
    pub skip_reason: Option<String>,
    pub chunks: i64,
    pub size: u64,
}

/// Everything the panel shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DocsStatus {
    /// The embedding model in use (settings, else the downloaded
    /// default); `None` until there is one.
    pub embedding_model: Option<PathBuf>,
    pub roots: Vec<PathBuf>,
    pub documents: Vec<DocumentView>,
    pub stats: Option<RagStats>,
    pub ingesting: bool,
}

/// What an ingest sends, in order: the library's scan/progress/skip
/// events, then one `finished` (also when cancelled) or `failed`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum IngestUpdate {
    Finished {
        report: IngestReport,
    },
    Failed {
        code: &'static str,
        message: String,
    },
    /// Untagged, and so last: the library's own event, with its own `kind`.
    #[serde(untagged)]
    Event(IngestEvent),
}

/// The cited snippet, to show where an answer came from.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub chunk_id: i64,
    pub path: PathBuf,
    pub heading: String,
    pub page: Option<u32>,
    pub lines: Option<(u32, u32)>,
    pub text: String,
}

async fn status(state: &AppState) -> CommandResult<DocsStatus> {
    let embedding_model = Docs::model(&state.settings);
    let ingesting = state.docs.ingesting();
    let Some(rag) = state.docs.opened() else {
        return Ok(DocsStatus {
            embedding_model,
            roots: Vec::new(),
            documents: Vec::new(),
            stats: None,
            ingesting,
        });
    };
    let (docs, roots, stats) = tokio::task::spawn_blocking(move || {
        Ok::<_, omnidesk::rag::RagError>((rag.documents()?, rag.roots()?, rag.stats()?))
    })
    .await
    .map_err(|e| CommandError::new(codes::INTERNAL, e.to_string()))??;
    Ok(DocsStatus {
        embedding_model,
        roots: roots.into_iter().map(|(p, _)| p).collect(),
        documents: docs
            .into_iter()
            .map(|d| DocumentView {
                path: d.path,
                collection: d.collection,
                status: d.status,
                skip_reason: d.skip_reason,
                chunks: d.chunk_count,
                size: d.size,
            })
            .collect(),
        stats: Some(stats),
        ingesting,
    })
}

/// The index and the documents in it; opens the index (loading the
/// embedding model) on first use when one is configured.
#[tauri::command]
pub async fn docs_status(state: State<'_, AppState>) -> CommandResult<DocsStatus> {
    if Docs::model(&state.settings).is_some() {
        // A broken model is reported by the commands that need it; the
        // panel still lists what it can.
        let _ = state.docs.open(&state.settings).await;
    }
    status(&state).await
}

/// Let the user pick the embedding model (a GGUF with pooling), check that
/// it loads, and remember it. A different model re-embeds on next ingest.
#[tauri::command]
pub async fn choose_embedding_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<DocsStatus> {
    let path = super::pick_gguf(&app, "Choose an embedding model (GGUF)").await?;
    state.docs.open_with(&state.settings, path.clone()).await?;
    state.settings.update(|c| c.embedding_model = Some(path))?;
    status(&state).await
}

/// Open the native picker for folders (or files) and index what was
/// chosen, reporting progress on `on_event`.
#[tauri::command]
pub async fn add_documents<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    folders: bool,
    on_event: Channel<IngestUpdate>,
) -> CommandResult<IngestReport> {
    let rag = state.docs.open(&state.settings).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dialog = app.dialog().file().set_title(if folders {
        "Add folders to your documents"
    } else {
        "Add documents"
    });
    if folders {
        dialog.pick_folders(move |p| {
            let _ = tx.send(p);
        });
    } else {
        dialog.pick_files(move |p| {
            let _ = tx.send(p);
        });
    }
    let picked = rx
        .await
        .map_err(|_| CommandError::new(codes::INTERNAL, "the file dialog closed unexpectedly"))?;
    let paths: Vec<PathBuf> = picked
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    if paths.is_empty() {
        return Err(CommandError::new(codes::CANCELLED, "nothing chosen"));
    }
    let job = rag.add(paths, IngestOptions::default());
    follow(&state, job, &on_event).await
}

/// Revisit every added folder and file: index new and changed files, drop
/// removed ones.
#[tauri::command]
pub async fn rescan_documents(
    state: State<'_, AppState>,
    on_event: Channel<IngestUpdate>,
) -> CommandResult<IngestReport> {
    let rag = state.docs.open(&state.settings).await?;
    let job = rag.rescan(IngestOptions::default().chunk);
    follow(&state, job, &on_event).await
}

/// Forward `job`'s events until it ends; one ingest at a time.
async fn follow(
    state: &AppState,
    mut job: IngestJob,
    on_event: &Channel<IngestUpdate>,
) -> CommandResult<IngestReport> {
    let _running = state.docs.begin_ingest(job.cancel_flag())?;
    while let Some(e) = job.events.recv().await {
        if on_event.send(IngestUpdate::Event(e)).is_err() {
            // The window went away; the ingest goes on (it resumes anyway).
        }
    }
    let result = job.finish().await.map_err(CommandError::from);
    let _ = on_event.send(match &result {
        Ok(report) => IngestUpdate::Finished {
            report: report.clone(),
        },
        Err(e) => IngestUpdate::Failed {
            code: e.code,
            message: e.message.clone(),
        },
    });
    result
}

/// Stop the running ingest before its next file; what is indexed stays.
#[tauri::command]
pub async fn cancel_ingest(state: State<'_, AppState>) -> CommandResult<bool> {
    Ok(state.docs.cancel_ingest())
}

/// Take a file, or every file under a folder, out of the index.
#[tauri::command]
pub async fn remove_document(
    state: State<'_, AppState>,
    path: String,
) -> CommandResult<DocsStatus> {
    let rag = state.docs.open(&state.settings).await?;
    tokio::task::spawn_blocking(move || rag.remove(&path))
        .await
        .map_err(|e| CommandError::new(codes::INTERNAL, e.to_string()))??;
    status(&state).await
}

/// The snippet a citation points at.
#[tauri::command]
pub async fn get_source(state: State<'_, AppState>, chunk_id: i64) -> CommandResult<SourceView> {
    let rag: Rag = state.docs.open(&state.settings).await?;
    let chunks = tokio::task::spawn_blocking(move || rag.chunks(&[chunk_id]))
        .await
        .map_err(|e| CommandError::new(codes::INTERNAL, e.to_string()))??;
    let c = chunks.into_iter().next().ok_or_else(|| {
        CommandError::new(
            "NOT_FOUND",
            "that passage is no longer in the index (the file changed or was removed)",
        )
    })?;
    Ok(SourceView {
        chunk_id: c.id,
        path: c.path,
        heading: c.heading,
        page: c.page,
        lines: c.line_start.zip(c.line_end),
        text: c.text,
    })
}
