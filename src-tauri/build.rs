//! Build script: declares the app's commands (so Tauri generates one
//! permission per command for `capabilities/main.json`) and reads the
//! project's `tauri.conf.json` from the repository root.

use std::path::Path;

/// Every `#[tauri::command]` the UI may call; kept in step with
/// `generate_handler!` and the capability file by a test in `lib.rs`.
const COMMANDS: &[&str] = &[
    "get_model_status",
    "choose_model",
    "download_model",
    "cancel_download",
    "get_settings",
    "update_settings",
    "list_conversations",
    "search_conversations",
    "get_conversation",
    "rename_conversation",
    "delete_conversation",
    "select_version",
    "send_message",
    "stop_generation",
    "pick_images",
    "attach_image",
    "discard_attachment",
    "docs_status",
    "choose_embedding_model",
    "add_documents",
    "rescan_documents",
    "cancel_ingest",
    "remove_document",
    "get_source",
    "start_recording",
    "stop_recording",
    "start_talk",
    "stop_talk",
    "cancel_recording",
    "list_cameras",
    "start_camera",
    "stop_camera",
    "snap_camera",
    "answer_tool_consent",
    "get_api_server",
    "set_api_server",
];

fn main() {
    // A checkout where nobody ran `npm run build` in ui/ still compiles
    // (workspace-wide `cargo test`); the window then says how to build it.
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        let _ = std::fs::create_dir_all(dist);
        let _ = std::fs::write(
            dist.join("index.html"),
            "<!doctype html><title>Omnidesk</title><p>The UI is not built: run <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>, or <code>scripts/build-app.sh</code>.</p>",
        );
    }
    // The package's build finds llama.cpp's shared libraries in
    // /usr/lib/omnidesk (see the root crate's build script).
    if std::env::var_os("CARGO_FEATURE_DYNAMIC_BACKENDS").is_some() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--disable-new-dtags,-rpath,$ORIGIN/../lib/omnidesk"
        );
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    println!("cargo:rerun-if-changed=capabilities");
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
