//! The `#[tauri::command]`s the window may call, grouped by domain. Each one
//! parses its input, calls the library, and maps the error to a
//! [`crate::error::CommandError`]; none holds logic of its own.

pub mod api;
pub mod capture;
pub mod chat;
pub mod conversations;
pub mod docs;
pub mod media;
pub mod models;
pub mod settings;
pub mod talk;
pub mod tools;

use std::path::PathBuf;

use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::DialogExt;

use crate::error::{codes, CommandError, CommandResult};

/// Let the user pick one GGUF file in the native dialog (opened here, so
/// the window never handles paths).
///
/// # Errors
/// `CANCELLED` when the dialog is closed without a choice.
pub async fn pick_gguf<R: Runtime>(app: &AppHandle<R>, title: &str) -> CommandResult<PathBuf> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title(title)
        .add_filter("GGUF model", &["gguf"])
        .pick_file(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx
        .await
        .map_err(|_| CommandError::new(codes::INTERNAL, "the file dialog closed unexpectedly"))?;
    picked
        .and_then(|p| p.into_path().ok())
        .ok_or_else(|| CommandError::new(codes::CANCELLED, "no model chosen"))
}
