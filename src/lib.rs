//! Omnidesk core: everything the desktop app does, usable headless.
//!
//! The layout follows the data flow: `engine` owns the model on its own
//! thread and streams events out; `store` keeps conversations in SQLite;
//! `config` and `models` decide what to load; `audio` (microphone),
//! `tts` (spoken replies) and `camera` are the hands-free inputs and outputs. Front ends (the CLI in
//! `main.rs`, the Tauri shell) only translate input and print events.

pub mod audio;
pub mod camera;
pub mod chat;
pub mod config;
pub mod engine;
pub mod error;
pub mod media;
pub mod models;
pub mod store;
pub mod tts;

pub use error::{Error, Result};
