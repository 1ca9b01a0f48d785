//! `omnidesk-app`: the desktop window. Errors that stop the app before a
//! window exists go to stderr; everything later is shown in the window.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // Re-executed as the document parse worker (the app parses untrusted
    // documents in a child copy of itself): nothing else runs.
    if let Some(code) = omnidesk::rag::isolate::maybe_run_worker() {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OMNIDESK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match omnidesk_app::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
