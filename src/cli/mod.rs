//! The `omnidesk` command line: argument grammar, then one module per
//! subcommand. Only this layer uses `anyhow`.

pub mod args;
mod ask;
mod attach;
mod bench;
mod chat;
mod context;
mod conversation;
mod devices;
mod docs;
mod history;
mod info;
mod listen;
pub mod mcp;
mod models;
mod rag;
mod serve;
mod talk;
pub mod tools;
mod transfer;
mod voice;

use anyhow::Result;

use args::{Cli, Command};

/// Run the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = context::Context::new(&cli.global)?;
    match &cli.command {
        Command::Chat(a) => chat::run(&ctx, a).await,
        Command::Ask(a) => ask::run(&ctx, a).await,
        Command::History(a) => history::run(&ctx, a),
        Command::Export(a) => transfer::export(&ctx, a),
        Command::Import(a) => transfer::import(&ctx, a),
        Command::Info(a) => info::run(&ctx, a).await,
        Command::Bench(a) => bench::run(&ctx, a).await,
        Command::Models(a) => models::run(&ctx, a).await,
        Command::Serve(a) => serve::run(&ctx, a).await,
        Command::Docs(a) => docs::run(&ctx, a).await,
        Command::Rag(a) => rag::run(&ctx, a).await,
        Command::Listen(a) => listen::run(&ctx, a).await,
        Command::Talk(a) => talk::run(&ctx, a).await,
        Command::Audio(a) => devices::audio(&ctx, a),
        Command::Camera(a) => devices::camera(a),
        Command::Mcp(a) => mcp::run(&ctx, a),
    }
}
