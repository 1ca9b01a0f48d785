//! The `#[tauri::command]`s the window may call, grouped by domain. Each one
//! parses its input, calls the library, and maps the error to a
//! [`crate::error::CommandError`]; none holds logic of its own.

pub mod capture;
pub mod chat;
pub mod conversations;
pub mod docs;
pub mod media;
pub mod models;
pub mod settings;
