// Typed wrappers over the app's commands: the only way this window talks
// to Rust (invoke, one Channel per answer, and the model-status event).
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type {
  ApiStatus,
  AttachmentView,
  CameraInfo,
  ChatEvent,
  CommandError,
  ConsentAnswer,
  ConversationView,
  Conversation,
  DocsStatus,
  DownloadUpdate,
  GenerationStats,
  IngestReport,
  IngestUpdate,
  ModelStatus,
  Picked,
  PreviewView,
  RecordingEvent,
  SendMessage,
  SendResult,
  SettingsView,
  SourceView,
  TalkEvent,
  TalkStarted,
} from "./ipc";

// The types come from the Rust side (ipc.ts is generated); the aliases
// below are the names the window's code uses.
export type * from "./ipc";
export type Settings = SettingsView;
export type Stats = GenerationStats;
export type PreviewFrame = PreviewView;
export type DownloadProgress = DownloadUpdate;

export function isCommandError(e: unknown): e is CommandError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Any rejection as a CommandError, so notices always have text. */
export function asCommandError(e: unknown): CommandError {
  if (isCommandError(e)) return e;
  return { code: "INTERNAL", message: String(e) };
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
    return invoke<SendResult>("send_message", {
      message,
      onEvent: channel,
    });
  },
  stopGeneration: (id: number | null) => invoke<number>("stop_generation", { id }),
  pickImages: () => invoke<Picked>("pick_images"),
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
    return invoke<TalkStarted>("start_talk", { onEvent: channel });
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
  answerToolConsent: (requestId: number, answer: ConsentAnswer) =>
    invoke<void>("answer_tool_consent", { requestId, answer }),
  getApiServer: () => invoke<ApiStatus>("get_api_server"),
  setApiServer: (enabled: boolean, port: number) => invoke<ApiStatus>("set_api_server", { enabled, port }),
};
