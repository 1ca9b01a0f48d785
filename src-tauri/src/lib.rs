//! Omnidesk's desktop shell: a Tauri 2 window over the `omnidesk` library.
//!
//! This crate only wires things: [`run_app`] registers the state, the
//! dialog plugin and the commands of [`commands`], which translate between
//! the window (invoke, `Channel`s, the `model-status` event) and the
//! library. All inference runs on the library's engine thread and all other
//! work on tokio tasks, so the UI thread never blocks.

pub mod commands;
pub mod error;
#[cfg(test)]
mod ipc_types;
pub mod state;

use omnidesk::config::{self, Config};
use omnidesk::store::Store;
use tauri::{Manager, Runtime};

use crate::error::CommandError;
use crate::state::{AppState, Settings};

/// Settings, data dir and store as the library finds them (honouring
/// `OMNIDESK_CONFIG` and `OMNIDESK_DATA_DIR`).
///
/// # Errors
/// A config file that cannot be read or parsed, or no home directory.
pub fn load_state() -> Result<AppState, CommandError> {
    let config_path = config::default_config_path()?;
    let config = Config::load(Some(&config_path)).or_else(|e| match e {
        config::ConfigError::Read { ref source, .. }
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(Config::default())
        }
        other => Err(other),
    })?;
    let data_dir = config::data_dir()?;
    let store = Store::open(&data_dir.join("omnidesk.db")).map_err(CommandError::from);
    Ok(AppState::new(
        store,
        Settings::new(config, config_path, data_dir),
    ))
}

/// The same wiring for the real window and for tests on
/// `tauri::test::mock_builder()`: state, plugins and commands; the model
/// starts loading in the background as soon as the app is set up.
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .manage(state)
        .setup(|app| {
            let state = app.state::<AppState>().inner().clone();
            commands::models::load_configured(app.handle(), &state);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::models::get_model_status,
            commands::models::choose_model,
            commands::models::download_model,
            commands::models::cancel_download,
            commands::settings::get_settings,
            commands::settings::update_settings,
            commands::conversations::list_conversations,
            commands::conversations::search_conversations,
            commands::conversations::get_conversation,
            commands::conversations::rename_conversation,
            commands::conversations::delete_conversation,
            commands::conversations::select_version,
            commands::chat::send_message,
            commands::chat::stop_generation,
            commands::media::pick_images,
            commands::media::attach_image,
            commands::media::discard_attachment,
            commands::docs::docs_status,
            commands::docs::choose_embedding_model,
            commands::docs::add_documents,
            commands::docs::rescan_documents,
            commands::docs::cancel_ingest,
            commands::docs::remove_document,
            commands::docs::get_source,
            commands::capture::start_recording,
            commands::capture::stop_recording,
            commands::talk::start_talk,
            commands::talk::stop_talk,
            commands::capture::cancel_recording,
            commands::capture::list_cameras,
            commands::capture::start_camera,
            commands::capture::stop_camera,
            commands::capture::snap_camera,
            commands::tools::answer_tool_consent,
            commands::api::get_api_server,
            commands::api::set_api_server,
        ])
}

/// Start the desktop app; returns when the last window closes.
///
/// # Errors
/// Settings that cannot be loaded, or Tauri failing to start.
pub fn run() -> Result<(), error::CommandError> {
    let state = load_state()?;
    let app = run_app(tauri::Builder::default(), state)
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    app.run(|app, event| {
        if let tauri::RunEvent::Exit = event {
            // Keep the conversations' caches for next time (bounded: a
            // closing window must not hang).
            let state = app.state::<AppState>().inner().clone();
            tauri::async_runtime::block_on(async move {
                if let Ok(engine) = state.engine.ready() {
                    let persist = engine.persist();
                    let wait = std::time::Duration::from_secs(5);
                    if tokio::time::timeout(wait, persist).await.is_err() {
                        tracing::warn!("the conversations' caches were not saved in time");
                    }
                }
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    //! `generate_handler!`, `build.rs`'s command list and the capability
    //! file must name the same commands, or the window either cannot call a
    //! command or may call one nobody meant to expose.

    use std::collections::BTreeSet;

    const LIB: &str = include_str!("lib.rs");
    const BUILD: &str = include_str!("../build.rs");
    const CAPABILITY: &str = include_str!("../capabilities/main.json");

    fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        let from = text.find(start).expect(start) + start.len();
        let len = text[from..].find(end).expect(end);
        &text[from..from + len]
    }

    fn handler_commands() -> BTreeSet<String> {
        between(LIB, "generate_handler![", "]")
            .split(',')
            .filter_map(|p| p.trim().rsplit("::").next())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn build_commands() -> BTreeSet<String> {
        between(BUILD, "const COMMANDS: &[&str] = &[", "];")
            .split(',')
            .map(|s| s.trim().trim_matches('"'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn capability_commands() -> BTreeSet<String> {
        let cap: serde_json::Value = serde_json::from_str(CAPABILITY).unwrap();
        cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .filter_map(|p| p.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect()
    }

    #[test]
    fn handler_build_script_and_capability_agree() {
        let handler = handler_commands();
        assert!(handler.len() >= 10, "{handler:?}");
        assert_eq!(handler, build_commands(), "generate_handler! vs build.rs");
        assert_eq!(
            handler,
            capability_commands(),
            "generate_handler! vs capabilities/main.json"
        );
    }

    #[test]
    fn capability_grants_no_plugin_or_remote_access() {
        let cap: serde_json::Value = serde_json::from_str(CAPABILITY).unwrap();
        assert_eq!(cap["windows"], serde_json::json!(["main"]));
        assert!(cap.get("remote").is_none(), "no remote URLs");
        for p in cap["permissions"].as_array().unwrap() {
            let p = p.as_str().expect("plain permission names, no scopes");
            assert!(
                p.starts_with("allow-") || p.starts_with("core:event:allow-"),
                "unexpected permission {p}"
            );
        }
    }

    #[test]
    fn csp_forbids_remote_content() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).unwrap();
        let csp = &conf["app"]["security"]["csp"];
        assert_eq!(csp["default-src"], "'self'");
        assert_eq!(csp["script-src"], "'self'");
        for v in csp.as_object().unwrap().values() {
            let v = v.as_str().unwrap();
            assert!(
                !v.contains("http:") || v.contains("http://ipc.localhost"),
                "{v}"
            );
            assert!(!v.contains("https:") && !v.contains('*'), "{v}");
        }
        assert!(
            conf["build"].get("devUrl").is_none(),
            "assets are always embedded"
        );
    }
}
