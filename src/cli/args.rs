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
    /// Push-to-talk: record from the microphone until Enter, then the model
    /// answers the spoken question (needs a model with audio input).
    Listen(ListenArgs),
    /// Microphones: list them and pick one.
    Audio(AudioArgs),
    /// Cameras: list them and take snapshots.
    Camera(CameraArgs),
}

impl Command {
    /// Whether errors should be printed as JSON on stdout.
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Ask(a) => a.json,
            Command::Listen(a) => a.json,
            _ => false,
        }
    }
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
    /// Speak answers aloud (espeak-ng), sentence by sentence
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
    /// First ask the model what it heard and show it ("heard: …")
    #[arg(long)]
    pub transcribe: bool,
    /// Speak the answer aloud (espeak-ng), sentence by sentence
    #[arg(long)]
    pub speak: bool,
    /// Print one JSON object (transcript, text, counters, timings)
    #[arg(long)]
    pub json: bool,
    /// Do not store the exchange (or the recording)
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
    #[arg(required = true, value_name = "QUESTION")]
    pub question: Vec<String>,
    #[command(flatten)]
    pub gen: GenerationArgs,
    /// Attach an image (PNG, JPEG, WebP, GIF, BMP); repeat for several
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub image: Vec<PathBuf>,
    /// Attach an audio clip (WAV, MP3, FLAC, OGG); repeat for several
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub audio: Vec<PathBuf>,
    /// Attach a fresh snapshot from the camera (see --camera-index)
    #[arg(long)]
    pub camera: bool,
    /// Which camera --camera uses (see `omnidesk camera list`)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub camera_index: u32,
    /// Take --camera snapshots from generated frames (tests, demos)
    #[arg(long, hide = true)]
    pub fake_camera: bool,
    /// Speak the answer aloud (espeak-ng), sentence by sentence
    #[arg(long)]
    pub speak: bool,
    /// Print one JSON object (text, finish reason, counters) instead of streaming
    #[arg(long)]
    pub json: bool,
    /// Do not store the exchange in the history
    #[arg(long)]
    pub no_save: bool,
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
    /// Also time encoding this image (needs a projector); repeatable
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub image: Vec<PathBuf>,
    /// Also time encoding this audio clip (needs a projector); repeatable
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub audio: Vec<PathBuf>,
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
    fn camera_flag_does_not_swallow_the_question() {
        let cli = Cli::try_parse_from(["omnidesk", "ask", "--camera", "What is this?"]).unwrap();
        let Command::Ask(a) = cli.command else {
            panic!("not ask")
        };
        assert!(a.camera);
        assert_eq!(a.question, vec!["What is this?".to_string()]);
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["omnidesk", "ask", "hi", "--model", "m.gguf", "--json"]).unwrap();
        assert_eq!(cli.global.model, Some(PathBuf::from("m.gguf")));
    }
}
