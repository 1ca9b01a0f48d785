//! Command-line grammar. Flags only parse here; `cli::context` turns them
//! into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use omnidesk::models::fit::GpuLayers;

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
    /// Multimodal projector (mmproj) for the model [default: the one named
    /// after the model in the same folder, if any]
    #[arg(long, global = true, env = "OMNIDESK_MMPROJ", value_name = "PATH")]
    pub mmproj: Option<PathBuf>,
    /// Context size in tokens (0 = the model's own, at most 4096)
    #[arg(long, short = 'c', global = true, value_name = "N")]
    pub ctx_size: Option<u32>,
    /// CPU threads (0 = all cores)
    #[arg(long, short = 't', global = true, value_name = "N")]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU (needs a cuda/vulkan/metal build);
    /// `auto` offloads what fits in free GPU memory
    #[arg(long, global = true, value_name = "N|auto", value_parser = parse_gpu_layers)]
    pub n_gpu_layers: Option<GpuLayers>,
    /// Prompt tokens evaluated per batch
    #[arg(long, short = 'b', global = true, value_name = "N")]
    pub batch_size: Option<u32>,
    /// Voice for spoken answers: auto (Piper for English when installed,
    /// else espeak-ng; espeak-ng for Chinese), piper or espeak
    /// [default: `[audio] voice`, auto]
    #[arg(
        long,
        global = true,
        env = "OMNIDESK_VOICE",
        value_name = "auto|piper|espeak"
    )]
    pub voice: Option<omnidesk::tts::VoiceEngine>,
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
    /// Write a conversation out: JSON with every version of every message
    /// (for `import`), or Markdown of the branch shown with its images and
    /// sources.
    Export(ExportArgs),
    /// Read a JSON export back as a new conversation.
    Import(ImportArgs),
    /// Show the compute backend, its devices and the model's metadata.
    Info(InfoArgs),
    /// Measure prompt-processing and generation speed (like llama-bench).
    Bench(BenchArgs),
    /// List, download, remove, verify and import models.
    Models(ModelsArgs),
    /// Serve an OpenAI-compatible API (/v1/chat/completions, /v1/models,
    /// /v1/embeddings, /v1/audio/transcriptions, /v1/audio/speech) on this
    /// machine. Every request needs the bearer
    /// token printed at start (and by --show-token).
    Serve(ServeArgs),
    /// Index your documents (files and folders) and search them.
    Docs(DocsArgs),
    /// Evaluate and benchmark document retrieval.
    Rag(RagArgs),
    /// Push-to-talk: record from the microphone until Enter, then the model
    /// answers the spoken question (needs a model with audio input).
    Listen(ListenArgs),
    /// Hands-free conversation: speak, pause, and hear the answer; speak
    /// again to interrupt it. Enter (or Ctrl-C) leaves.
    Talk(TalkArgs),
    /// Microphones: list them and pick one.
    Audio(AudioArgs),
    /// Cameras: list them and take snapshots.
    Camera(CameraArgs),
    /// MCP servers whose tools the model may call (`ask --tools`).
    Mcp(super::mcp::McpArgs),
}

fn parse_gpu_layers(s: &str) -> Result<GpuLayers, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Manifest models (size, modalities, RAM, downloaded or not) and other
    /// GGUF files in the models dir.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download a manifest model (all its files) or a GGUF from a URL,
    /// resuming an interrupted download; prints the stored path last.
    Pull {
        /// Manifest id (see `models list`) or an http(s) URL
        #[arg(value_name = "NAME|URL")]
        target: String,
        /// Expected sha256 of a URL download (required for URLs)
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// File name to store a URL download under [default: from the URL]
        #[arg(long, value_name = "FILE")]
        name: Option<String>,
    },
    /// Remove a model (manifest id or file name) and any unfinished download.
    Rm {
        #[arg(value_name = "NAME|FILE")]
        target: String,
    },
    /// Check downloaded files against the manifest's sha256 (all, or one).
    Verify {
        #[arg(value_name = "NAME|FILE")]
        target: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add a local GGUF to the models dir (hard link, else copy) after
    /// checking its header.
    Import {
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// Always copy, never hard-link
        #[arg(long)]
        copy: bool,
    },
}

impl Command {
    /// Whether errors should be printed as JSON on stdout.
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Ask(a) => a.json,
            Command::Listen(a) => a.json,
            Command::Talk(a) => a.json,
            _ => false,
        }
    }
}

/// Where the embedding model comes from, for commands that use the index.
#[derive(Debug, Args, Clone, Default)]
pub struct EmbedArgs {
    /// Embedding GGUF (mean-pooled, e.g. all-MiniLM-L6-v2) [default:
    /// `embedding_model` from the config, else `[backend] embed_model`,
    /// else the manifest's default embedding model if downloaded]
    #[arg(
        long,
        alias = "embedding-model",
        env = "OMNIDESK_EMBED_MODEL",
        value_name = "PATH"
    )]
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
    /// Catch up (like rescan), then keep watching the added files and
    /// folders: changes are indexed as they happen, until Ctrl-C.
    Watch {
        /// Quiet time after the last change before indexing, in ms
        #[arg(long, default_value_t = 500, value_name = "MS")]
        debounce_ms: u64,
        /// One JSON report per line on stdout
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
    /// question set, per language, with the time per query and how often
    /// the relevance gate refuses questions the documents do not answer
    /// (JSON lines: {"question", "sources": [..], "lang"?, "absent"?,
    /// "contains"?}).
    Eval {
        /// The question set
        #[arg(long, value_name = "FILE.jsonl")]
        qa: PathBuf,
        /// Documents to index first [default: the `docs` folder next to FILE]
        #[arg(long, value_name = "DIR")]
        docs: Option<PathBuf>,
        /// Keep the index here between runs (only changed files are indexed
        /// again) [default: a temporary folder, removed afterwards]
        #[arg(long, value_name = "DIR")]
        index: Option<PathBuf>,
        /// Chunk size in estimated tokens
        #[arg(long, value_name = "N")]
        chunk_tokens: Option<usize>,
        /// Tokens repeated between neighbouring chunks
        #[arg(long, value_name = "N")]
        chunk_overlap: Option<usize>,
        #[command(flatten)]
        tuning: SearchTuningArgs,
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

/// Ranking knobs, for tuning on an eval set; the defaults are the tuned ones.
#[derive(Debug, Args, Clone, Default)]
pub struct SearchTuningArgs {
    /// Reciprocal rank fusion constant
    #[arg(long, value_name = "K")]
    pub rrf_k: Option<f32>,
    /// Weight of the keyword ranking in the fusion (the vector one is 1)
    #[arg(long, value_name = "W")]
    pub keyword_weight: Option<f32>,
    /// The keyword weight for CJK queries when the embedding model does not
    /// cover CJK (English-only models such as all-MiniLM)
    #[arg(long, value_name = "W")]
    pub keyword_weight_uncovered: Option<f32>,
    /// Rank pages rather than chunks (each page's best chunk first)
    #[arg(long, value_name = "BOOL")]
    pub by_document: Option<bool>,
    /// With page ranking: weight of a page's other strong chunks
    #[arg(long, value_name = "W")]
    pub document_weight: Option<f32>,
    /// Relevance gate: cosine similarity that makes a chunk relevant
    #[arg(long, value_name = "S")]
    pub min_similarity: Option<f32>,
    /// Relevance gate: share of the question's keywords that does
    #[arg(long, value_name = "C")]
    pub min_coverage: Option<f32>,
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
    /// Speak answers aloud (see --voice), sentence by sentence
    #[arg(long)]
    pub speak: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    #[command(flatten)]
    pub gen: GenerationArgs,
    /// Text sent along with the recording
    #[arg(long, default_value = "Answer the question asked in this audio clip.")]
    pub prompt: String,
    /// Microphone id or name [default: `[audio] input_device`, else the
    /// system default]
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Stop recording after this many seconds [default: `[audio] max_seconds`, 60]
    #[arg(long, value_name = "S")]
    pub max_seconds: Option<f64>,
    /// First show what was heard ("heard: …"): by Whisper when
    /// `[audio] whisper_model` is set, else by the model itself
    #[arg(long)]
    pub transcribe: bool,
    /// whisper.cpp model [default: `[audio] whisper_model`]. With a model
    /// that has no audio input, Whisper's transcript is the question.
    #[arg(long, value_name = "PATH")]
    pub whisper_model: Option<PathBuf>,
    /// Speak the answer aloud (see --voice), sentence by sentence
    #[arg(long)]
    pub speak: bool,
    /// Print one JSON object (transcript, text, counters, timings)
    #[arg(long)]
    pub json: bool,
    /// Do not store the exchange (or the recording)
    #[arg(long)]
    pub no_save: bool,
    /// Answer the spoken question from your indexed documents, citing them
    #[arg(long)]
    pub docs: bool,
    /// With --docs: only this collection
    #[arg(long, requires = "docs", value_name = "NAME")]
    pub collection: Option<String>,
    #[command(flatten)]
    pub embed: EmbedArgs,
}

#[derive(Debug, Args)]
pub struct TalkArgs {
    #[command(flatten)]
    pub gen: GenerationArgs,
    /// Text sent along with each spoken turn (models that hear)
    #[arg(long, default_value = "Answer what is said in this audio clip.")]
    pub prompt: String,
    /// Microphone id or name [default: `[audio] input_device`, else the
    /// system default]
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// whisper.cpp model for models without audio input [default:
    /// `[audio] whisper_model`]
    #[arg(long, value_name = "PATH")]
    pub whisper_model: Option<PathBuf>,
    /// Silero VAD model [default: `[audio] vad_model`, else
    /// <data dir>/voices/silero_vad.onnx]
    #[arg(long, value_name = "PATH")]
    pub vad_model: Option<PathBuf>,
    /// The pause that ends a turn, in ms [default: `[audio] talk_silence_ms`, 700]
    #[arg(long, value_name = "MS")]
    pub silence_ms: Option<u32>,
    /// Do not cancel the reply's echo (with a headset only: otherwise the
    /// reply interrupts itself)
    #[arg(long)]
    pub no_echo_cancel: bool,
    /// Leave after this many answered turns
    #[arg(long, value_name = "N")]
    pub turns: Option<u32>,
    /// Leave after this many seconds without speech
    #[arg(long, value_name = "S")]
    pub idle_exit: Option<f64>,
    /// One JSON object per line for every state change and answer
    #[arg(long)]
    pub json: bool,
    /// Do not store the conversation (or the recordings)
    #[arg(long)]
    pub no_save: bool,
}

#[derive(Debug, Args)]
pub struct AudioArgs {
    #[command(subcommand)]
    pub command: AudioCommand,
}

#[derive(Debug, Subcommand)]
pub enum AudioCommand {
    /// List input devices; --use remembers one in the config file
    Devices {
        /// Remember this device (id or name) as `[audio] input_device`;
        /// `default` forgets the choice
        #[arg(long = "use", value_name = "DEVICE")]
        use_device: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Transcribe an audio file (WAV, MP3, FLAC, OGG) with Whisper (the
    /// omnidesk-whisper helper)
    Transcribe {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// whisper.cpp model [default: `[audio] whisper_model`]
        #[arg(long, value_name = "PATH")]
        whisper_model: Option<PathBuf>,
        /// Print the JSON transcript (text, segments, ms)
        #[arg(long)]
        json: bool,
    },
    /// Speak text with the chosen voice (see --voice): play it, or write
    /// a WAV with --out
    Say {
        /// The text; `-` reads it from standard input
        #[arg(required = true, value_name = "TEXT")]
        text: Vec<String>,
        /// Write a 16-bit WAV here instead of playing
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print one JSON object (voice, seconds, sample rate, file)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CameraArgs {
    #[command(subcommand)]
    pub command: CameraCommand,
    /// Use generated frames instead of a real camera (tests, demos)
    #[arg(long, global = true, hide = true)]
    pub fake: bool,
}

#[derive(Debug, Subcommand)]
pub enum CameraCommand {
    /// List cameras
    List {
        #[arg(long)]
        json: bool,
    },
    /// Take one picture and save it (PNG or JPEG, by extension)
    Snap {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Which camera (see `omnidesk camera list`)
        #[arg(long, default_value_t = 0)]
        index: u32,
    },
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question; `-` reads it from standard input
    #[arg(required_unless_present = "regenerate", value_name = "QUESTION")]
    pub question: Vec<String>,
    #[command(flatten)]
    pub gen: GenerationArgs,
    /// Answer the last question of --conversation again (with its
    /// attachments); the earlier answer stays as another version
    /// (`omnidesk history ID` lists them)
    #[arg(
        long,
        requires = "conversation",
        conflicts_with_all = ["question", "image", "audio", "camera", "no_save"]
    )]
    pub regenerate: bool,
    /// Ask QUESTION instead of stored question MESSAGE of --conversation;
    /// the old question and its answers stay as another version
    #[arg(
        long,
        value_name = "MESSAGE",
        requires = "conversation",
        conflicts_with_all = ["regenerate", "no_save"]
    )]
    pub edit: Option<i64>,
    /// Attach an image (PNG, JPEG, WebP, GIF, BMP); repeat for several
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub image: Vec<PathBuf>,
    /// Attach an audio clip (WAV, MP3, FLAC, OGG); repeat for several
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub audio: Vec<PathBuf>,
    /// Print one JSON object (text, finish reason, counters) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Attach a fresh snapshot from the camera (see --camera-index)
    #[arg(long)]
    pub camera: bool,
    /// Which camera --camera uses (see `omnidesk camera list`)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub camera_index: u32,
    /// Take --camera snapshots from generated frames (tests, demos)
    #[arg(long, hide = true)]
    pub fake_camera: bool,
    /// Speak the answer aloud (see --voice), sentence by sentence
    #[arg(long)]
    pub speak: bool,
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
    #[command(flatten)]
    pub tools: super::tools::ToolArgs,
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
    /// With ID: show this version of a message (see the `[2/3]` marks) and
    /// continue the conversation from it
    #[arg(long, value_name = "MESSAGE", requires = "id")]
    pub select: Option<i64>,
    /// How many conversations to list
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// JSON; with ID also every version of every message (`all_messages`)
    #[arg(long)]
    pub json: bool,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Json,
    #[value(alias = "markdown")]
    Md,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The conversation (see `omnidesk history`)
    #[arg(value_name = "ID")]
    pub id: i64,
    /// json or md [default: from --output's extension, else json]
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Write here instead of standard output; Markdown copies the images
    /// and clips into a `<name>_files` folder beside it
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file written by `omnidesk export --format json`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one JSON object (the new conversation and counts)
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
    /// Also time encoding this image (needs a projector); repeatable
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub image: Vec<PathBuf>,
    /// Also time encoding this audio clip (needs a projector); repeatable
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub audio: Vec<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP port (0 picks a free one and prints it)
    #[arg(long, short = 'p', default_value_t = 8080, value_name = "PORT")]
    pub port: u16,
    /// Address to bind. Anything but a loopback address exposes the API to
    /// the network (still behind the token)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub host: String,
    /// Print the bearer token (creating it if needed) and exit
    #[arg(long)]
    pub show_token: bool,
    /// Largest accepted request body, in MiB (images and audio travel
    /// base64-encoded inside it)
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub max_body_mib: usize,
    /// Seconds a client has to send a request's headers; a silent or idle
    /// connection is closed after it
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_timeout: u64,
    /// Seconds a stop (Ctrl-C) waits for open requests before dropping them
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    pub shutdown_grace: u64,
    /// Most connections open at once
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_connections: usize,
    /// Most messages one chat request may carry (longer histories are
    /// refused with 400; shorter ones are fitted into the context)
    #[arg(long, default_value_t = omnidesk::server::DEFAULT_MAX_MESSAGES, value_name = "N")]
    pub max_messages: usize,
    /// whisper.cpp model for /v1/audio/transcriptions when the chat model
    /// has no audio input [default: `[audio] whisper_model`]
    #[arg(long, value_name = "PATH")]
    pub whisper_model: Option<PathBuf>,
    /// Serve /v1/embeddings with this model [default: as for `docs`; off
    /// (501) when there is none]
    #[command(flatten)]
    pub embed: EmbedArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
    fn camera_flag_does_not_swallow_the_question() {
        let cli = Cli::try_parse_from(["omnidesk", "ask", "--camera", "What is this?"]).unwrap();
        let Command::Ask(a) = cli.command else {
            panic!("not ask")
        };
        assert!(a.camera);
        assert_eq!(a.question, vec!["What is this?".to_string()]);
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["omnidesk", "ask", "hi", "--model", "m.gguf", "--json"]).unwrap();
        assert_eq!(cli.global.model, Some(PathBuf::from("m.gguf")));
    }

    #[test]
    fn gpu_layers_flag_takes_numbers_and_auto() {
        let cli = Cli::try_parse_from(["omnidesk", "info", "--n-gpu-layers", "auto"]).unwrap();
        assert_eq!(cli.global.n_gpu_layers, Some(GpuLayers::Auto));
        let cli = Cli::try_parse_from(["omnidesk", "info", "--n-gpu-layers", "20"]).unwrap();
        assert_eq!(cli.global.n_gpu_layers, Some(GpuLayers::Count(20)));
        assert!(Cli::try_parse_from(["omnidesk", "info", "--n-gpu-layers", "x"]).is_err());
    }

    #[test]
    fn serve_defaults_to_loopback() {
        let cli =
            Cli::try_parse_from(["omnidesk", "serve", "--model", "m.gguf", "--port", "0"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 0));
    }
}
