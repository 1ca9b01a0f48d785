//! `ui/src/ipc.ts` is generated from the Rust types the commands take,
//! return and stream, so the window and the shell cannot drift apart: this
//! test fails when the file differs from what the types say, and
//! `OMNIDESK_WRITE_IPC_TYPES=1 cargo test -p omnidesk-app ipc_types`
//! writes it again. The UI build type-checks against it.

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};

use ts_rs::{Config, TypeVisitor, TS};

use crate::commands::{
    api, capture, chat, conversations, docs, media, models, settings, talk, tools,
};
use crate::error::CommandError;
use crate::state::AttachmentView;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/ipc.ts");

const HEADER: &str =
    "// Generated from the Rust types by src-tauri/src/ipc_types.rs; do not edit.\n\
// Regenerate: OMNIDESK_WRITE_IPC_TYPES=1 cargo test -p omnidesk-app ipc_types\n";

/// Every declaration reachable from the roots, by TypeScript name.
struct Collect {
    cfg: Config,
    seen: HashSet<TypeId>,
    decls: BTreeMap<String, String>,
}

impl TypeVisitor for Collect {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Only types with a declaration of their own (not primitives,
        // `Option`, `Vec`, …, whose parameters are visited instead).
        if T::output_path().is_none() || !self.seen.insert(TypeId::of::<T>()) {
            T::visit_generics(self);
            return;
        }
        let mut text = String::new();
        if let Some(docs) = T::docs() {
            text.push_str(&docs);
        }
        text.push_str("export ");
        text.push_str(&T::decl(&self.cfg));
        self.decls.insert(T::ident(&self.cfg), text);
        T::visit_dependencies(self);
    }
}

fn generate() -> String {
    let mut c = Collect {
        // Tauri sends i64/u64 as JSON numbers; ids and counters stay far
        // below 2^53.
        cfg: Config::new().with_large_int("number"),
        seen: HashSet::new(),
        decls: BTreeMap::new(),
    };
    c.visit::<CommandError>();
    c.visit::<AttachmentView>();
    c.visit::<api::ApiStatus>();
    c.visit::<capture::PreviewView>();
    c.visit::<omnidesk::audio::capture::RecordingEvent>();
    c.visit::<omnidesk::camera::CameraInfo>();
    c.visit::<chat::ChatEvent>();
    c.visit::<chat::SendMessage>();
    c.visit::<chat::SendResult>();
    c.visit::<conversations::ConversationView>();
    c.visit::<docs::DocsStatus>();
    c.visit::<docs::IngestUpdate>();
    c.visit::<docs::SourceView>();
    c.visit::<media::Picked>();
    c.visit::<models::ModelStatus>();
    c.visit::<models::DownloadUpdate>();
    c.visit::<settings::SettingsView>();
    c.visit::<talk::TalkEvent>();
    c.visit::<talk::TalkStarted>();
    c.visit::<tools::ConsentAnswer>();
    let mut out = String::from(HEADER);
    for decl in c.decls.values() {
        out.push('\n');
        out.push_str(decl);
        out.push('\n');
    }
    out
}

#[test]
fn ipc_types_match_the_rust_types() {
    let generated = generate();
    if std::env::var_os("OMNIDESK_WRITE_IPC_TYPES").is_some() {
        std::fs::write(FILE, &generated).expect("write ui/src/ipc.ts");
        return;
    }
    let committed = std::fs::read_to_string(FILE).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/ipc.ts is out of date with the Rust types; run \
         OMNIDESK_WRITE_IPC_TYPES=1 cargo test -p omnidesk-app ipc_types"
    );
}
