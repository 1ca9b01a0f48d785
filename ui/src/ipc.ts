// Generated from the Rust types by src-tauri/src/ipc_types.rs; do not edit.
// Regenerate: OMNIDESK_WRITE_IPC_TYPES=1 cargo test -p omnidesk-app ipc_types

/**
 * What is stored with an answer (see `conversation::save_exchange`), read
 * leniently: a field written by an older version that no longer parses is
 * left out rather than failing the whole conversation.
 */
export type AnswerStats = { finish: FinishReason | null, stats: GenerationStats | null, sources?: Array<Source>, 
/**
 * Talk-mode replies: timings from the end of speech.
 */
talk?: TalkTimings, };

/**
 * What the settings screen shows about the API.
 */
export type ApiStatus = { 
/**
 * The switch: serve whenever a model is ready.
 */
enabled: boolean, port: number, 
/**
 * Serving now (off while no model is ready, or when binding failed).
 */
running: boolean, 
/**
 * `http://127.0.0.1:PORT/v1` while running.
 */
url: string | null, 
/**
 * The bearer token clients send (also `omnidesk serve --show-token`).
 */
token: string | null, 
/**
 * Why it is not running although enabled.
 */
error: CommandError | null, };

/**
 * What the UI shows for a staged or stored attachment.
 */
export type AttachmentView = { 
/**
 * Id to send or discard it with (staged attachments only).
 */
id: number | null, name: string, kind: string, 
/**
 * `data:image/png;base64,…` preview, when one could be made.
 */
thumbnail: string | null, width: number | null, height: number | null, 
/**
 * What Whisper heard, instead of an attachment, for a recording made
 * while a model without audio input is loaded (`kind` "transcript").
 */
transcript?: string, };

/**
 * Which engine answers: this machine's llama.cpp, or a remote server.
 */
export type BackendKind = "local" | "openai";

/**
 * A camera as listed for the user.
 */
export type CameraInfo = { 
/**
 * Index to open it with.
 */
index: number, name: string, description: string, };

/**
 * What a generation reports, in order: `started`, any number of `token`s,
 * then one `done` or `failed`.
 */
export type ChatEvent = { "kind": "sources", sources: Array<Source>, } | { "kind": "started", generationId: number, promptTokens: number, reusedTokens: number, droppedMessages: number, } | { "kind": "token", text: string, } | { "kind": "done", finish: FinishReason, stats: GenerationStats, conversationId: number, questionId: number, answerId: number, 
/**
 * For answers from documents: which citations are valid.
 */
citations: CitationCheck | null, 
/**
 * Image and audio tokens the model read in this turn (all steps).
 */
imageTokens: number, audioTokens: number, 
/**
 * Talk mode: end of speech → first token (also stored with the
 * answer's stats as `talk`).
 */
talk: boolean, speechToFirstTokenMs: number | null, 
/**
 * Talk mode: end of speech → the reply's voice starts (`None`
 * when nothing was spoken).
 */
speechToFirstAudioMs: number | null, } | { "kind": "failed", code: string, message: string, } | { "kind": "toolCall", callId: string, name: string, arguments: JsonValue, } | { "kind": "toolResult", callId: string, name: string, 
/**
 * What the model was told: the output, or the error.
 */
output: string, 
/**
 * Failure code, absent on success.
 */
error: string | null, durationMs: number, } | { "kind": "consent", requestId: number, tool: string, description: string, arguments: JsonValue, } | { "kind": "notice", code: string, message: string, };

/**
 * What the citation post-check found.
 */
export type CitationCheck = { 
/**
 * Valid citation numbers, in first-use order.
 */
cited: Array<number>, 
/**
 * Numbers cited that match no snippet.
 */
invalid: Array<number>, 
/**
 * Snippets were given but the answer cites none.
 */
cites_nothing: boolean, };

/**
 * A command's failure as the UI receives it: `{ "code": "...", "message": "..." }`.
 */
export type CommandError = { 
/**
 * SCREAMING_SNAKE_CASE; the library's own codes (`INVALID_MEDIA`,
 * `PROMPT_TOO_LONG`, `BUSY`, ...) plus the shell's below.
 */
code: string, 
/**
 * Shown to the user as is.
 */
message: string, };

/**
 * What the consent dialog answers.
 */
export type ConsentAnswer = "once" | "always" | "deny";

/**
 * A conversation's header as listed in the sidebar.
 */
export type Conversation = { 
/**
 * Row id.
 */
id: number, 
/**
 * Display title.
 */
title: string, 
/**
 * Model the conversation was started with, if chosen.
 */
model: string | null, 
/**
 * System prompt in effect for the conversation, if any.
 */
system_prompt: string | null, 
/**
 * Creation time, unix ms.
 */
created_at: number, 
/**
 * Time of the last message change (append or truncate), unix ms;
 * strictly increases on each such change, so ordering by it is stable.
 */
updated_at: number, 
/**
 * Number of messages currently stored.
 */
message_count: number, };

/**
 * A conversation with its messages.
 */
export type ConversationView = { conversation: Conversation, messages: Array<MessageView>, };

/**
 * Everything the panel shows.
 */
export type DocsStatus = { 
/**
 * The embedding model in use (settings, else the downloaded
 * default); `None` until there is one.
 */
embeddingModel: string | null, roots: Array<string>, documents: Array<DocumentView>, stats: RagStats | null, ingesting: boolean, };

/**
 * One indexed (or skipped) file as the panel lists it.
 */
export type DocumentView = { path: string, collection: string, status: string, skipReason: string | null, chunks: number, size: number, };

/**
 * The manifest's default model: what a download would fetch.
 */
export type DownloadOffer = { id: string, description: string, license: string, modalities: Array<string>, ramGb: number, totalMb: number, files: Array<[string, number | null]>, };

/**
 * What a model download sends: progress of each file as it arrives.
 */
export type DownloadUpdate = { "kind": "progress", 
/**
 * File name being written.
 */
file: string, 
/**
 * Bytes on disk so far (including a resumed part).
 */
done: number, 
/**
 * Total bytes when known.
 */
total: number | null, 
/**
 * Bytes per second over this attempt.
 */
bytes_per_s: number, 
/**
 * Seconds left at the current rate, when the total is known.
 */
eta_s: number | null, };

/**
 * What the output filter does with a match.
 */
export type FilterAction = "mask" | "stop";

/**
 * Why generation ended.
 */
export type FinishReason = "stop" | "stop_string" | "max_tokens" | "cancelled" | "context_full";

/**
 * Counters for one answer, for tests, the UI and `--json`.
 */
export type GenerationStats = { 
/**
 * Tokens in the rendered prompt.
 */
prompt_tokens: number, 
/**
 * Prompt tokens that had to be evaluated.
 */
prompt_evaluated: number, 
/**
 * Prompt tokens reused from the KV cache (a live slot, or restored).
 */
prompt_reused: number, 
/**
 * Of `prompt_reused`, tokens restored from a conversation saved to
 * disk (after a restart, or once its slot went to another).
 */
prompt_restored: number, 
/**
 * Time reading and restoring that saved conversation.
 */
restore_ms: number, 
/**
 * Old messages left out because the conversation outgrew the context.
 */
dropped_messages: number, generated_tokens: number, time_to_first_token_ms: number, prompt_ms: number, generation_ms: number, prompt_tokens_per_s: number, tokens_per_s: number, seed: number, 
/**
 * Tokens produced by images evaluated this turn (by the encoder or
 * from its cache).
 */
image_tokens: number, 
/**
 * Images run through the vision encoder this turn.
 */
images_encoded: number, 
/**
 * Tokens produced by audio clips evaluated this turn (by the encoder
 * or from its cache).
 */
audio_tokens: number, 
/**
 * Seconds of audio run through the audio encoder this turn.
 */
audio_seconds_encoded: number, 
/**
 * Time spent encoding media and decoding their embeddings.
 */
media_encode_ms: number, 
/**
 * Images/clips found already in the KV cache and not re-encoded.
 */
media_reused: number, 
/**
 * Media chunks (an image, or up to 30 s of audio) decoded from cached
 * encoder output instead of running the encoder.
 */
encoder_cache_hits: number, 
/**
 * Media chunks that ran through the encoder.
 */
encoder_cache_misses: number, 
/**
 * Time in the vision encoder alone.
 */
image_encode_ms: number, 
/**
 * Time in the audio encoder alone.
 */
audio_encode_ms: number, 
/**
 * `image_encode_ms` per image encoded (0 when none was).
 */
encode_ms_per_image: number, 
/**
 * `audio_encode_ms` per second of audio encoded (0 when none was).
 * The encoder always takes 30 s windows, so short clips cost more per
 * second than long ones.
 */
encode_ms_per_audio_second: number, };

/**
 * What an ingest reports as it goes.
 */
export type IngestEvent = { "kind": "scanned", files: number, } | { "kind": "progress", files_done: number, files_total: number, chunks: number, 
/**
 * Estimated time left, from the average so far.
 */
eta_ms: number | null, path: string, } | { "kind": "skipped", path: string, reason: string, };

/**
 * Counters for one ingest run; tests assert on them.
 */
export type IngestReport = { 
/**
 * Candidate files found.
 */
files_seen: number, 
/**
 * New or changed files parsed and stored.
 */
files_indexed: number, 
/**
 * Files left alone (same size and mtime, or same content hash).
 */
files_unchanged: number, 
/**
 * Files recorded as skipped (with their reasons).
 */
files_skipped: number, 
/**
 * Documents removed because their file is gone.
 */
files_removed: number, 
/**
 * Chunks written.
 */
chunks_added: number, 
/**
 * Chunks deleted (replaced or removed).
 */
chunks_removed: number, 
/**
 * Embeddings computed.
 */
embedded: number, 
/**
 * The run stopped early on request.
 */
cancelled: boolean, elapsed_ms: number, 
/**
 * Skipped files with their reasons.
 */
skipped: Array<[string, string]>, 
/**
 * Files indexed only up to [`ChunkParams::max_chunks`], with the
 * chunks they would have made.
 */
truncated: Array<[string, number]>, };

/**
 * What an ingest sends, in order: the library's scan/progress/skip
 * events, then one `finished` (also when cancelled) or `failed`.
 */
export type IngestUpdate = { "kind": "finished", report: IngestReport, } | { "kind": "failed", code: string, message: string, } | IngestEvent;

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * A stored message as the chat view shows it.
 */
export type MessageView = { id: number, role: Role, content: string, attachments: Array<AttachmentView>, 
/**
 * The answer's stored counters (answers only).
 */
stats: AnswerStats | null, 
/**
 * Tools the model called before this answer, with their results.
 */
toolCalls: Array<StoredToolCall>, 
/**
 * The message this one follows (`None` for a first question).
 */
parentId: number | null, 
/**
 * Every version of this message, itself included, oldest first
 * (regenerated answers, edited questions): the window shows "‹ 2/3 ›".
 */
versions: Array<number>, };

/**
 * Where the model slot is.
 */
export type ModelState = "empty" | "loading" | "ready" | "restarting" | "failed";

/**
 * What the window shows about the model.
 */
export type ModelStatus = { state: ModelState, modelPath: string | null, model: ModelSummary | null, 
/**
 * Something the user should know (e.g. the projector was not used).
 */
notice: string | null, error: CommandError | null, 
/**
 * The default model and its size, for the first-run screen.
 */
offer: DownloadOffer | null, 
/**
 * The small fallback model, for machines that cannot fetch the default.
 */
fallback: DownloadOffer | null, 
/**
 * A download is running (see `download_model`).
 */
downloading: boolean, 
/**
 * Where downloaded models are looked for.
 */
modelsDir: string, 
/**
 * The model that loaded fine before one crashed the app while loading
 * (see [`crash_guard`]); the window can offer it.
 */
previousModel: string | null, };

/**
 * The loaded model in brief.
 */
export type ModelSummary = { name: string, architecture: string, sizeBytes: number, nCtx: number, nThreads: number, vision: boolean, audio: boolean, mmproj: string | null, };

/**
 * What the picker produced: the images it staged, and a notice for each
 * file it refused.
 */
export type Picked = { attached: Array<AttachmentView>, rejected: Array<CommandError>, };

/**
 * One viewfinder frame.
 */
export type PreviewView = { width: number, height: number, 
/**
 * `data:image/png;base64,…`
 */
dataUrl: string, };

/**
 * Counts for `docs list` and the UI.
 */
export type RagStats = { documents: number, skipped: number, chunks: number, vectors: number, vector_index_bytes: number, 
/**
 * The vector file was rebuilt from SQLite when the index was opened.
 */
rebuilt_vectors: boolean, 
/**
 * Chunks re-embedded at open because the embedding model changed.
 */
reembedded: number, };

/**
 * What a recording reports while it runs, for the level meter and to
 * announce that it stopped by itself.
 */
export type RecordingEvent = { "kind": "level", rms: number, peak: number, 
/**
 * Seconds recorded so far.
 */
seconds: number, } | { "kind": "stopped", reason: StopReason, seconds: number, message: string | null, };

/**
 * Who said a message.
 */
export type Role = "system" | "user" | "assistant" | "tool";

/**
 * A message from the composer.
 */
export type SendMessage = { 
/**
 * Continue this conversation; `None` starts a new one.
 */
conversationId: number | null, text: string, 
/**
 * Staged attachments (from `pick_images`/`attach_image`), in order.
 */
attachmentIds?: Array<number>, 
/**
 * Edit and resend: the question goes after this stored message (0: as
 * a new first question), beside the replies it already has, which stay
 * as other versions.
 */
truncateAfter?: number | null, 
/**
 * Regenerate: answer this stored question again (its text and
 * attachments; `text` is not used); the earlier answers stay as
 * other versions.
 */
regenerate?: number | null, 
/**
 * Answer from the user's documents: the question (and its
 * attachments) goes to the model with the best-matching snippets
 * (without the earlier turns), and the answer cites them. Combines
 * with attachments and tools.
 */
useDocs?: boolean, 
/**
 * Let the model call tools (clock, documents, camera, MCP servers),
 * asking before any with side effects.
 */
useTools?: boolean, 
/**
 * With `use_tools`: offer only these tools (by name); all when absent.
 */
tools?: Array<string> | null, 
/**
 * With `use_tools`: the first step must be a call (grammar-enforced).
 */
requireTool?: boolean, 
/**
 * A turn from talk mode: the reply is spoken whatever the settings
 * say, and timed from the end of speech.
 */
talk?: boolean, };

/**
 * The stored result of a finished exchange (also sent as `done`).
 */
export type SendResult = { conversationId: number, finish: FinishReason, text: string, };

/**
 * The settings the window edits.
 */
export type SettingsView = { systemPrompt: string, maxTokens: number, 
/**
 * 0 = automatic.
 */
nCtx: number, 
/**
 * 0 = all cores.
 */
threads: number, 
/**
 * `None` = automatic (from free GPU memory).
 */
nGpuLayers: number | null, temperature: number, topK: number, topP: number, minP: number, repeatPenalty: number, seed: number | null, 
/**
 * Speak answers aloud, sentence by sentence.
 */
speakReplies: boolean, 
/**
 * `auto` (Piper for English when installed, else espeak-ng), `piper`
 * or `espeak`.
 */
voice: VoiceEngine, 
/**
 * `local` (this computer) or `openai` (any OpenAI-compatible server).
 */
backendKind: BackendKind, 
/**
 * Base URL with the API prefix, e.g. `http://127.0.0.1:8080/v1`.
 */
backendUrl: string, 
/**
 * Model id on that server; empty = the first it lists.
 */
backendModel: string, 
/**
 * Embedding model id on that server for your documents; empty =
 * embed on this computer.
 */
backendEmbedModel: string, 
/**
 * Write-only: a new API key; `None` keeps the saved one (only while
 * the URL stays the same), empty clears it.
 */
backendApiKey: string | null, 
/**
 * Read-only: whether an API key is saved (it is never sent back).
 */
backendApiKeySet: boolean, 
/**
 * The optional output filter (`[safety]`, off by default).
 */
safetyEnabled: boolean, 
/**
 * Words or phrases, one per entry.
 */
safetyWords: Array<string>, 
/**
 * Regular expressions, one per entry.
 */
safetyPatterns: Array<string>, 
/**
 * `mask` or `stop`.
 */
safetyAction: FilterAction, 
/**
 * Read-only: where these are saved.
 */
configPath: string, };

/**
 * Where a snippet came from, for citing and opening it.
 */
export type Source = { 
/**
 * The `[n]` number used in the prompt.
 */
number: number, chunk_id: number, path: string, page: number | null, heading: string, lines: [number, number] | null, };

/**
 * The cited snippet, to show where an answer came from.
 */
export type SourceView = { chunkId: number, path: string, heading: string, page: number | null, lines: [number, number] | null, text: string, };

/**
 * Why a recording ended.
 */
export type StopReason = "released" | "maxLength" | "deviceLost";

/**
 * One stored call and its result.
 */
export type StoredToolCall = { message_id: number, step: number, call_id: string, tool: string, arguments: JsonValue, 
/**
 * What the model was told (output or error text).
 */
output: string, 
/**
 * Failure code, `None` on success.
 */
error: string | null, duration_ms: number, created_at: number, };

/**
 * What talk mode reports, in order of a turn: `listening`,
 * `speechStarted`, `utterance`, then `speaking` … `spoken`; `stopped` ends it.
 */
export type TalkEvent = { "kind": "listening" } | { "kind": "level", rms: number, } | { "kind": "speechStarted" } | { "kind": "utterance", attachment: AttachmentView, seconds: number, } | { "kind": "speaking" } | { "kind": "spoken" } | { "kind": "stopped", code: string | null, message: string | null, };

/**
 * Where talk mode listens.
 */
export type TalkStarted = { device: string, echoCancel: boolean, };

/**
 * Timings of a talk-mode reply, for the UI and the history.
 */
export type TalkTimings = { 
/**
 * End of speech → first token of the reply.
 */
speech_end_to_first_token_ms: number | null, 
/**
 * End of speech → the reply's voice starts playing.
 */
speech_end_to_first_audio_ms: number | null, 
/**
 * The pause waited for before the turn was taken.
 */
endpoint_silence_ms: number | null, };

/**
 * The `[audio] voice` setting.
 */
export type VoiceEngine = "auto" | "piper" | "espeak";
