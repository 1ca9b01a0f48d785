// Typed wrappers over the app's commands: the only way this window talks
// to Rust (invoke, one Channel per answer, and the model-status event).
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** What every failed command rejects with. */
export interface CommandError {
  code: string;
  message: string;
}

export function isCommandError(e: unknown): e is CommandError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any rejection as a CommandError, so notices always have text. */
export function asCommandError(e: unknown): CommandError {
  if (isCommandError(e)) return e;
  return { code: "INTERNAL", message: String(e) };
}

export interface Conversation {
  id: number;
  title: string;
  model: string | null;
  system_prompt: string | null;
  created_at: number;
  updated_at: number;
  message_count: number;
}

export interface AttachmentView {
  id: number | null;
  name: string;
  kind: string;
  thumbnail: string | null;
  width: number | null;
  height: number | null;
  /** What Whisper heard (recordings with a model that cannot hear). */
  transcript?: string;
}

export interface Stats {
  prompt_tokens: number;
  generated_tokens: number;
  time_to_first_token_ms: number;
  tokens_per_s: number;
  [k: string]: unknown;
}

/** A document snippet an answer was given, as its `[n]` cites it. */
export interface Source {
  number: number;
  chunk_id: number;
  path: string;
  page: number | null;
  heading: string;
  lines: [number, number] | null;
}

export interface CitationCheck {
  cited: number[];
  invalid: number[];
  cites_nothing: boolean;
}

export interface MessageView {
  id: number;
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  attachments: AttachmentView[];
  stats: {
    finish?: string;
    stats?: Stats;
    sources?: Source[];
    /** Talk mode timings, from the end of speech. */
    talk?: { speech_end_to_first_token_ms?: number; speech_end_to_first_audio_ms?: number };
  } | null;
  /** Tools called before this answer (absent on unsaved messages). */
  toolCalls?: StoredToolCall[];
  /** The message this one follows (null for a first question). */
  parentId?: number | null;
  /** Every version of this message, itself included, oldest first. */
  versions?: number[];
}

export interface StoredToolCall {
  call_id: string;
  tool: string;
  arguments: unknown;
  output: string;
  error: string | null;
  duration_ms: number;
}

export interface ApiStatus {
  enabled: boolean;
  port: number;
  running: boolean;
  url: string | null;
  token: string | null;
  error: CommandError | null;
}

export interface DocumentView {
  path: string;
  collection: string;
  status: "ingested" | "skipped" | string;
  skipReason: string | null;
  chunks: number;
  size: number;
}

export interface DocsStatus {
  embeddingModel: string | null;
  roots: string[];
  documents: DocumentView[];
  stats: { documents: number; skipped: number; chunks: number; vectors: number; reembedded: number } | null;
  ingesting: boolean;
}

export interface IngestReport {
  files_seen: number;
  files_indexed: number;
  files_unchanged: number;
  files_skipped: number;
  files_removed: number;
  chunks_added: number;
  cancelled: boolean;
  elapsed_ms: number;
}

export type IngestUpdate =
  | { kind: "scanned"; files: number }
  | { kind: "progress"; files_done: number; files_total: number; chunks: number; eta_ms: number | null; path: string }
  | { kind: "skipped"; path: string; reason: string }
  | { kind: "finished"; report: IngestReport }
  | { kind: "failed"; code: string; message: string };

export interface SourceView {
  chunkId: number;
  path: string;
  heading: string;
  page: number | null;
  lines: [number, number] | null;
  text: string;
}

export interface ConversationView {
  conversation: Conversation;
  messages: MessageView[];
}

export interface DownloadOffer {
  id: string;
  description: string;
  license: string;
  modalities: string[];
  ramGb: number;
  totalMb: number;
  files: [string, number | null][];
}

export interface DownloadProgress {
  kind: "progress";
  file: string;
  done: number;
  total: number | null;
  bytes_per_s: number;
  eta_s: number | null;
}

export interface ModelStatus {
  state: "empty" | "loading" | "ready" | "failed";
  modelPath: string | null;
  model: {
    name: string;
    architecture: string;
    sizeBytes: number;
    nCtx: number;
    nThreads: number;
    vision: boolean;
    audio: boolean;
    mmproj: string | null;
  } | null;
  notice: string | null;
  error: CommandError | null;
  offer: DownloadOffer | null;
  fallback: DownloadOffer | null;
  downloading: boolean;
  modelsDir: string;
}

export interface Settings {
  systemPrompt: string;
  maxTokens: number;
  nCtx: number;
  threads: number;
  nGpuLayers: number | null;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  seed: number | null;
  speakReplies: boolean;
  voice: "auto" | "piper" | "espeak";
  backendKind: "local" | "openai";
  backendUrl: string;
  backendModel: string;
  backendEmbedModel: string;
  /** Write-only: null keeps the saved key, "" clears it. */
  backendApiKey: string | null;
  backendApiKeySet: boolean;
  /** The optional output filter (off by default). */
  safetyEnabled: boolean;
  safetyWords: string[];
  safetyPatterns: string[];
  safetyAction: "mask" | "stop";
  configPath: string;
}

export type ChatEvent =
  | { kind: "sources"; sources: Source[] }
  | { kind: "started"; generationId: number; promptTokens: number; reusedTokens: number; droppedMessages: number }
  | { kind: "token"; text: string }
  | {
      kind: "done";
      finish: string;
      stats: Stats;
      conversationId: number;
      questionId: number;
      answerId: number;
      citations: CitationCheck | null;
      /** Image and audio tokens the model read in this turn. */
      imageTokens: number;
      audioTokens: number;
      /** Talk mode: end of speech → first token. */
      talk?: boolean;
      speechToFirstTokenMs?: number | null;
    }
  | { kind: "failed"; code: string; message: string }
  | { kind: "notice"; code: string; message: string }
  | { kind: "toolCall"; callId: string; name: string; arguments: unknown }
  | { kind: "toolResult"; callId: string; name: string; output: string; error: string | null; durationMs: number }
  | { kind: "consent"; requestId: number; tool: string; description: string; arguments: unknown };

export interface SendMessage {
  conversationId: number | null;
  text: string;
  attachmentIds: number[];
  /** Edit and resend: the question goes after this stored message (0: first), beside the old branch. */
  truncateAfter?: number | null;
  /** Regenerate: answer this stored question again; the old answers stay as versions. */
  regenerate?: number | null;
  useDocs?: boolean;
  useTools?: boolean;
  /** With useTools: offer only these tools. */
  tools?: string[] | null;
  /** With useTools: the first step must call a tool. */
  requireTool?: boolean;
  /** A spoken turn from talk mode: the reply is spoken and timed. */
  talk?: boolean;
}

/** What talk mode reports (see `start_talk`). */
export type TalkEvent =
  | { kind: "listening" }
  | { kind: "level"; rms: number }
  | { kind: "speechStarted" }
  | { kind: "utterance"; attachment: AttachmentView; seconds: number }
  | { kind: "speaking" }
  | { kind: "spoken" }
  | { kind: "stopped"; code: string | null; message: string | null };

export type RecordingEvent =
  | { kind: "level"; rms: number; peak: number; seconds: number }
  | { kind: "stopped"; reason: "released" | "maxLength" | "deviceLost"; seconds: number; message: string | null };

export interface CameraInfo {
  index: number;
  name: string;
  description: string;
}

export interface PreviewFrame {
  width: number;
  height: number;
  dataUrl: string;
}

export const api = {
  modelStatus: () => invoke<ModelStatus>("get_model_status"),
  chooseModel: () => invoke<ModelStatus>("choose_model"),
  downloadModel: (id: string | null, onEvent: (p: DownloadProgress) => void) => {
    const channel = new Channel<DownloadProgress>();
    channel.onmessage = onEvent;
    return invoke<ModelStatus>("download_model", { id, onEvent: channel });
  },
  cancelDownload: () => invoke<boolean>("cancel_download"),
  onModelStatus: (f: (s: ModelStatus) => void): Promise<UnlistenFn> =>
    listen<ModelStatus>("model-status", (e) => f(e.payload)),
  getSettings: () => invoke<Settings>("get_settings"),
  updateSettings: (settings: Settings) => invoke<Settings>("update_settings", { settings }),
  listConversations: () => invoke<Conversation[]>("list_conversations"),
  searchConversations: (query: string) => invoke<Conversation[]>("search_conversations", { query }),
  getConversation: (id: number) => invoke<ConversationView>("get_conversation", { id }),
  selectVersion: (conversationId: number, messageId: number) =>
    invoke<ConversationView>("select_version", { conversationId, messageId }),
  renameConversation: (id: number, title: string) => invoke<void>("rename_conversation", { id, title }),
  deleteConversation: (id: number) => invoke<void>("delete_conversation", { id }),
  sendMessage: (message: SendMessage, onEvent: (e: ChatEvent) => void) => {
    const channel = new Channel<ChatEvent>();
    channel.onmessage = onEvent;
    return invoke<{ conversationId: number; finish: string; text: string }>("send_message", {
      message,
      onEvent: channel,
    });
  },
  stopGeneration: (id: number | null) => invoke<number>("stop_generation", { id }),
  pickImages: () => invoke<{ attached: AttachmentView[]; rejected: CommandError[] }>("pick_images"),
  attachImage: async (file: File) =>
    invoke<AttachmentView>("attach_image", new Uint8Array(await file.arrayBuffer()), {
      headers: { "x-file-name": encodeURIComponent(file.name || "pasted image") },
    }),
  discardAttachment: (id: number) => invoke<void>("discard_attachment", { id }),
  docsStatus: () => invoke<DocsStatus>("docs_status"),
  chooseEmbeddingModel: () => invoke<DocsStatus>("choose_embedding_model"),
  addDocuments: (folders: boolean, onEvent: (u: IngestUpdate) => void) => {
    const channel = new Channel<IngestUpdate>();
    channel.onmessage = onEvent;
    return invoke<IngestReport>("add_documents", { folders, onEvent: channel });
  },
  rescanDocuments: (onEvent: (u: IngestUpdate) => void) => {
    const channel = new Channel<IngestUpdate>();
    channel.onmessage = onEvent;
    return invoke<IngestReport>("rescan_documents", { onEvent: channel });
  },
  cancelIngest: () => invoke<boolean>("cancel_ingest"),
  removeDocument: (path: string) => invoke<DocsStatus>("remove_document", { path }),
  getSource: (chunkId: number) => invoke<SourceView>("get_source", { chunkId }),
  startRecording: (onEvent: (e: RecordingEvent) => void) => {
    const channel = new Channel<RecordingEvent>();
    channel.onmessage = onEvent;
    return invoke<string>("start_recording", { onEvent: channel });
  },
  stopRecording: () => invoke<AttachmentView>("stop_recording"),
  startTalk: (onEvent: (e: TalkEvent) => void) => {
    const channel = new Channel<TalkEvent>();
    channel.onmessage = onEvent;
    return invoke<{ device: string; echoCancel: boolean }>("start_talk", { onEvent: channel });
  },
  stopTalk: () => invoke<boolean>("stop_talk"),
  cancelRecording: () => invoke<boolean>("cancel_recording"),
  listCameras: () => invoke<CameraInfo[]>("list_cameras"),
  startCamera: (index: number, onFrame: (f: PreviewFrame) => void) => {
    const channel = new Channel<PreviewFrame>();
    channel.onmessage = onFrame;
    return invoke<void>("start_camera", { index, onFrame: channel });
  },
  stopCamera: () => invoke<boolean>("stop_camera"),
  snapCamera: (index: number) => invoke<AttachmentView>("snap_camera", { index }),
  answerToolConsent: (requestId: number, answer: "once" | "always" | "deny") =>
    invoke<void>("answer_tool_consent", { requestId, answer }),
  getApiServer: () => invoke<ApiStatus>("get_api_server"),
  setApiServer: (enabled: boolean, port: number) => invoke<ApiStatus>("set_api_server", { enabled, port }),
};
