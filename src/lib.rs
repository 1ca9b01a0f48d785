//! Omnidesk core: everything the desktop app does, usable headless.
//!
//! The layout follows the data flow: `engine` owns the model on its own
//! thread and streams events out; `store` keeps conversations in SQLite;
//! `config` and `models` decide what to load (and fetch it); `hardware`
//! says what the machine can hold; `server` exposes the engine as an
//! OpenAI-compatible API, and `openai` is that wire format, shared with the
//! engine's remote backend; `rag` indexes the user's documents and answers
//! from them with citations; `audio` (microphone), `tts` (spoken replies)
//! and `camera` are the hands-free inputs and outputs; `tools` lets the model call
//! tools (built-in and MCP servers) with the user's consent; `private_file`
//! keeps secrets and user data readable only by the user. Front ends (the CLI in
//! `main.rs`, the Tauri shell) only translate input and print events.

pub mod audio;
pub mod camera;
pub mod chat;
pub mod config;
pub mod conversation;
pub mod engine;
pub mod error;
pub mod gguf;
pub mod hardware;
pub mod launch;
pub mod media;
pub mod models;
pub mod onnx;
pub mod openai;
pub mod private_file;
pub mod rag;
pub mod server;
pub mod store;
pub mod tools;
pub mod tts;
pub mod turn;

pub use error::{Error, Result};
