//! `omnidesk serve`: resolve the engine, bind, print where and how to
//! connect, serve until Ctrl-C (a second Ctrl-C quits at once).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use omnidesk::server::{
    self, Defaults, EmbeddingBackend, LocalEmbeddings, Server, ServerLimits, ServerOptions,
    SpeechOptions, VoiceSetup,
};

use super::args::ServeArgs;
use super::context::Context;
use omnidesk::rag::EmbedSource;

pub async fn run(ctx: &Context, args: &ServeArgs) -> Result<()> {
    let token = server::load_or_create_token(&ctx.data_dir)?;
    if args.show_token {
        println!("{token}");
        return Ok(());
    }
    let ip = parse_host(&args.host)?;
    if !ip.is_loopback() {
        eprintln!(
            "warning: binding {ip}: the API is reachable from other machines (it still \
             requires the token, but traffic is unencrypted HTTP)"
        );
    }
    anyhow::ensure!(args.max_body_mib > 0, "--max-body-mib must be at least 1");
    let engine = ctx.start_engine(false).await?;
    // A model the user named must work; the downloaded default is a
    // convenience, so a broken one only turns /v1/embeddings off.
    let named = args.embed.embed_model.is_some()
        || ctx.config.embedding_model.is_some()
        || ctx.config.backend.embed_model.is_some();
    let embedder = match ctx.embed_source(&args.embed)? {
        Some(source) => match ctx.start_embedder(&source) {
            Ok(e) => Some(Arc::new(LocalEmbeddings::new(e, embedding_id(&source)))
                as Arc<dyn EmbeddingBackend>),
            Err(e) if !named => {
                eprintln!("warning: {e:#}; /v1/embeddings is off");
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let model_id = server::model_id(&engine);
    let defaults = Defaults {
        max_messages: args.max_messages.max(1),
        ..Defaults::for_engine(&ctx.config, &engine)
    };
    let options = ServerOptions {
        addr: SocketAddr::new(ip, args.port),
        token: token.clone(),
        model_id: model_id.clone(),
        body_limit: args.max_body_mib << 20,
        defaults,
        embedder: embedder.clone(),
        speech: SpeechOptions {
            whisper_model: args
                .whisper_model
                .clone()
                .or_else(|| ctx.config.audio.whisper_model.clone()),
            voice: Some(VoiceSetup {
                engine: ctx.config.audio.voice,
                piper: ctx.config.audio.piper_paths(&ctx.data_dir),
            }),
        },
        limits: ServerLimits {
            header_read_timeout: Duration::from_secs(args.header_timeout.max(1)),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            max_connections: args.max_connections.max(1),
            ..ServerLimits::default()
        },
    };
    let server_caps = engine.info().capabilities;
    let options_whisper = options.speech.whisper_model.clone();
    let server = Server::bind(engine, options).await?;
    let addr = server.local_addr()?;
    // Listen for signals before announcing the address, so a client that
    // reacts to the announcement with Ctrl-C is never too early.
    let signals = Signals::install()?;
    println!("Omnidesk API listening on http://{addr}/v1");
    println!("Model: {model_id}");
    match &embedder {
        Some(e) => println!("Embedding model: {}", e.model_id()),
        None => println!("Embedding model: none (/v1/embeddings answers 501; see --embed-model)"),
    }
    let hears = omnidesk::turn::Hearing::decide(&server_caps, options_whisper.as_deref());
    println!(
        "Transcription: {}",
        match hears {
            omnidesk::turn::Hearing::Native { .. } => "the model itself".to_string(),
            omnidesk::turn::Hearing::Whisper { model } => format!("Whisper ({})", model.display()),
            omnidesk::turn::Hearing::Deaf =>
                "off (/v1/audio/transcriptions answers 501; see --whisper-model)".to_string(),
        }
    );
    println!("Token: {token}");
    println!("(send it as `Authorization: Bearer <token>`; Ctrl-C stops the server)");
    server
        .run(shutdown_signal(signals))
        .await
        .context("the server failed")?;
    eprintln!("Server stopped.");
    Ok(())
}

/// An IP address, or `localhost`.
fn parse_host(host: &str) -> Result<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.parse()
        .with_context(|| format!("--host {host:?} is not an IP address (e.g. 127.0.0.1 or ::1)"))
}

/// The id clients see for the embedding model: the file stem, or the
/// remote model's name.
fn embedding_id(source: &EmbedSource) -> String {
    match source {
        EmbedSource::Local(path) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "embedding".into()),
        EmbedSource::Remote(config) => config.model.clone().unwrap_or_else(|| "remote".into()),
    }
}

/// Ctrl-C and SIGTERM, registered with the OS as soon as this exists.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("cannot handle Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Ctrl-C or SIGTERM starts a graceful shutdown; a second signal exits.
async fn shutdown_signal(mut signals: Signals) {
    signals.next().await;
    eprintln!("Stopping: finishing open requests for a few seconds (Ctrl-C again to quit now) …");
    tokio::spawn(async move {
        signals.next().await;
        std::process::exit(130);
    });
}
