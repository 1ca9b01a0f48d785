//! One exchange with the model, whatever the front end: the decisions that
//! every turn makes the same way live here (how a spoken question is heard,
//! the audio rate), so the CLI, the app and the API cannot drift apart.
//!
//! Layering: the turn drives `engine`, `rag`, `tools` and `store`; none of
//! them reaches back up into it (tests/layers.rs keeps it so).

pub mod hear;

pub use crate::engine::DEFAULT_AUDIO_RATE;
pub use hear::{transcribe, Hearing};
