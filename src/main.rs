//! `omnidesk` binary: parse arguments, set up logging, run, report errors.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Re-executed as the document parse worker: nothing else runs.
    if let Some(code) = omnidesk::rag::isolate::maybe_run_worker() {
        return code;
    }
    let cli = cli::args::Cli::parse();
    init_logging(cli.global.verbose);
    let json = cli.command.wants_json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let ok = match runtime.block_on(cli::run(cli)) {
        Ok(()) => true,
        Err(e) => {
            if json {
                let code = error_code(&e);
                let body =
                    serde_json::json!({ "error": { "code": code, "message": format!("{e:#}") } });
                println!("{body}");
            }
            eprintln!("error: {e:#}");
            false
        }
    };
    // Dropping the runtime drops every task still holding an engine or
    // embedder handle, so their threads finish their cancelled step and end.
    drop(runtime);
    if !omnidesk::engine::wait_for_llama_threads(std::time::Duration::from_secs(3)) {
        // Exiting while one still decodes would crash in llama.cpp's static
        // destructors: leave without running them (SQLite has committed).
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        #[cfg(unix)]
        // SAFETY: _exit ends the process at once; nothing runs after it.
        unsafe {
            libc::_exit(if ok { 0 } else { 1 })
        }
    }
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The stable code of the first typed library error in the chain (the
/// library's one table, as the app and the API use).
fn error_code(e: &anyhow::Error) -> &'static str {
    e.chain()
        .find_map(omnidesk::error::code_of)
        .unwrap_or("ERROR")
}

/// Quiet by default: llama.cpp is chatty at info level.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,llama-cpp-2=error",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OMNIDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
