//! Omnidesk core: everything the desktop app does, usable headless.
//!
//! The layout follows the data flow: `engine` owns the model on its own
//! thread and streams events out; `store` keeps conversations in SQLite; `rag` indexes the user's documents
//! and answers from them with citations;
//! `config` and `models` decide what to load. Front ends (the CLI in
//! `main.rs`, the Tauri shell) only translate input and print events.

pub mod chat;
pub mod config;
pub mod engine;
pub mod error;
pub mod models;
pub mod rag;
pub mod store;

pub use error::{Error, Result};
