//! Command-line grammar. Flags only parse here; `cli::context` turns them
//! into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Omnidesk: a private assistant that runs entirely on this machine.
///
/// Settings come from the config file (see --config), then environment
/// variables, then these flags, later ones winning.
#[derive(Debug, Parser)]
#[command(name = "omnidesk", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: ~/.config/omnidesk/config.toml]
    #[arg(long, global = true, env = "OMNIDESK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where the conversation database and downloaded models live
    /// [default: ~/.local/share/omnidesk]
    #[arg(long, global = true, env = "OMNIDESK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// GGUF model to load [default: `model` from the config, else the
    /// downloaded default model]
    #[arg(
        long,
        short = 'm',
        global = true,
        env = "OMNIDESK_MODEL",
        value_name = "PATH"
    )]
    pub model: Option<PathBuf>,
    /// Context size in tokens (0 = the model's own, at most 4096)
    #[arg(long, short = 'c', global = true, value_name = "N")]
    pub ctx_size: Option<u32>,
    /// CPU threads (0 = all cores)
    #[arg(long, short = 't', global = true, value_name = "N")]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU (needs a cuda/vulkan/metal build)
    #[arg(long, global = true, value_name = "N")]
    pub n_gpu_layers: Option<u32>,
    /// Prompt tokens evaluated per batch
    #[arg(long, short = 'b', global = true, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Show llama.cpp's and Omnidesk's logs (-v info, -vv debug)
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk interactively; answers stream as they are written. Ctrl-C stops
    /// the current answer (not the program); /exit or Ctrl-D quits.
    Chat(ChatArgs),
    /// Ask one question and print the answer (use --json in scripts).
    Ask(AskArgs),
    /// List stored conversations, show one, search or delete.
    History(HistoryArgs),
    /// Show the compute backend, its devices and the model's metadata.
    Info(InfoArgs),
    /// Measure prompt-processing and generation speed (like llama-bench).
    Bench(BenchArgs),
    /// Index your documents (files and folders) and search them.
    Docs(DocsArgs),
    /// Evaluate and benchmark document retrieval.
    Rag(RagArgs),
}

/// Where the embedding model comes from, for commands that use the index.
#[derive(Debug, Args, Clone, Default)]
pub struct EmbedArgs {
    /// Embedding GGUF (mean-pooled, e.g. all-MiniLM-L6-v2) [default:
    /// `embedding_model` from the config]
    #[arg(long, env = "OMNIDESK_EMBED_MODEL", value_name = "PATH")]
    pub embed_model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DocsArgs {
    #[command(subcommand)]
    pub command: DocsCommand,
    #[command(flatten)]
    pub embed: EmbedArgs,
}

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Index files or folders (recursively; hidden files are skipped).
    /// Re-adding only processes what changed.
    Add {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Collection to put them in
        #[arg(long, default_value = "default", value_name = "NAME")]
        collection: String,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// List indexed documents, with skip reasons.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a document (by id or path) or an added folder from the index.
    Remove {
        #[arg(value_name = "PATH|ID")]
        target: String,
    },
    /// Re-walk every added file and folder: index changes, drop removed files.
    Rescan {
        #[arg(long)]
        json: bool,
    },
    /// Search the indexed documents (keywords and meaning together).
    Search {
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
        /// Results to show
        #[arg(long, short = 'k', default_value_t = 8)]
        limit: usize,
        /// Only this collection
        #[arg(long, value_name = "NAME")]
        collection: Option<String>,
        /// Only documents under this folder
        #[arg(long, value_name = "DIR")]
        folder: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RagArgs {
    #[command(subcommand)]
    pub command: RagCommand,
    #[command(flatten)]
    pub embed: EmbedArgs,
}

#[derive(Debug, Subcommand)]
pub enum RagCommand {
    /// Recall@1/5/10 and MRR of keyword, vector and hybrid retrieval on a
    /// question set (JSON lines: {"question", "source", "contains"?}).
    Eval {
        /// The question set
        #[arg(long, value_name = "FILE.jsonl")]
        qa: PathBuf,
        /// Documents to index first [default: the `docs` folder next to FILE]
        #[arg(long, value_name = "DIR")]
        docs: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Ingest throughput and query latency (p50/p95).
    Bench {
        /// Documents to ingest and query
        #[arg(long, value_name = "DIR")]
        docs: PathBuf,
        /// Synthetic chunks for the vector/keyword latency test
        #[arg(long, default_value_t = 100_000)]
        synthetic: usize,
        /// Queries to time
        #[arg(long, default_value_t = 200)]
        queries: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Sampling and length controls shared by `chat` and `ask`.
#[derive(Debug, Args, Clone, Default)]
pub struct GenerationArgs {
    /// Continue this stored conversation (see `omnidesk history`)
    #[arg(long, value_name = "ID")]
    pub conversation: Option<i64>,
    /// System prompt for a new conversation
    #[arg(long, short = 's', value_name = "TEXT")]
    pub system: Option<String>,
    /// Temperature; 0 = greedy, always the most likely token
    #[arg(long, value_name = "T")]
    pub temp: Option<f32>,
    #[arg(long, value_name = "K")]
    pub top_k: Option<i32>,
    #[arg(long, value_name = "P")]
    pub top_p: Option<f32>,
    #[arg(long, value_name = "P")]
    pub min_p: Option<f32>,
    /// 1.0 disables the repeat penalty
    #[arg(long, value_name = "X")]
    pub repeat_penalty: Option<f32>,
    /// Fixed seed for reproducible answers
    #[arg(long, value_name = "N")]
    pub seed: Option<u32>,
    /// Maximum tokens per answer
    #[arg(long, short = 'n', value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Stop the answer at this text (repeatable)
    #[arg(long, value_name = "TEXT")]
    pub stop: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub gen: GenerationArgs,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question; `-` reads it from standard input
    #[arg(required = true, value_name = "QUESTION")]
    pub question: Vec<String>,
    #[command(flatten)]
    pub gen: GenerationArgs,
    /// Print one JSON object (text, finish reason, counters) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Do not store the exchange in the history
    #[arg(long)]
    pub no_save: bool,
    /// Answer from your indexed documents (see `omnidesk docs`), citing them
    #[arg(long, conflicts_with = "conversation")]
    pub docs: bool,
    /// With --docs: only this collection
    #[arg(long, requires = "docs", value_name = "NAME")]
    pub collection: Option<String>,
    #[command(flatten)]
    pub embed: EmbedArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Show this conversation's messages
    #[arg(value_name = "ID", conflicts_with_all = ["search", "delete"])]
    pub id: Option<i64>,
    /// Only conversations whose title or messages contain this text
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Delete this conversation
    #[arg(long, value_name = "ID")]
    pub delete: Option<i64>,
    /// How many conversations to list
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Prompt tokens to process (llama-bench -p)
    #[arg(short = 'p', long, default_value_t = 512)]
    pub n_prompt: u32,
    /// Tokens to generate (llama-bench -n)
    #[arg(short = 'g', long = "n-gen", default_value_t = 128)]
    pub n_gen: u32,
    /// Repetitions to average (llama-bench -r)
    #[arg(short = 'r', long, default_value_t = 3)]
    pub repetitions: u32,
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn docs_commands_parse() {
        let cli =
            Cli::try_parse_from(["omnidesk", "docs", "add", "a", "b", "--collection", "work"])
                .unwrap();
        assert!(matches!(
            cli.command,
            Command::Docs(DocsArgs { command: DocsCommand::Add { ref paths, ref collection, .. }, .. })
                if paths.len() == 2 && collection == "work"
        ));
        let cli = Cli::try_parse_from(["omnidesk", "ask", "--docs", "what?"]).unwrap();
        assert!(matches!(cli.command, Command::Ask(ref a) if a.docs));
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["omnidesk", "ask", "hi", "--model", "m.gguf", "--json"]).unwrap();
        assert_eq!(cli.global.model, Some(PathBuf::from("m.gguf")));
    }
}
