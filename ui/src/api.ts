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
}

export interface Stats {
  prompt_tokens: number;
  generated_tokens: number;
  time_to_first_token_ms: number;
  tokens_per_s: number;
  [k: string]: unknown;
}

export interface MessageView {
  id: number;
  role: "system" | "user" | "assistant" | "tool";
  content: string;
  attachments: AttachmentView[];
  stats: { finish?: string; stats?: Stats } | null;
}

export interface ConversationView {
  conversation: Conversation;
  messages: MessageView[];
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
  offer: {
    id: string;
    description: string;
    license: string;
    modalities: string[];
    ramGb: number;
    totalMb: number;
    files: [string, number | null][];
  } | null;
  modelsDir: string;
}

export interface Settings {
  systemPrompt: string;
  maxTokens: number;
  nCtx: number;
  threads: number;
  nGpuLayers: number;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  seed: number | null;
  configPath: string;
}

export type ChatEvent =
  | { kind: "started"; generationId: number; promptTokens: number; reusedTokens: number; droppedMessages: number }
  | { kind: "token"; text: string }
  | { kind: "done"; finish: string; stats: Stats; conversationId: number; questionId: number; answerId: number }
  | { kind: "failed"; code: string; message: string };

export interface SendMessage {
  conversationId: number | null;
  text: string;
  attachmentIds: number[];
  truncateAfter?: number | null;
}

export const api = {
  modelStatus: () => invoke<ModelStatus>("get_model_status"),
  chooseModel: () => invoke<ModelStatus>("choose_model"),
  onModelStatus: (f: (s: ModelStatus) => void): Promise<UnlistenFn> =>
    listen<ModelStatus>("model-status", (e) => f(e.payload)),
  getSettings: () => invoke<Settings>("get_settings"),
  updateSettings: (settings: Settings) => invoke<Settings>("update_settings", { settings }),
  listConversations: () => invoke<Conversation[]>("list_conversations"),
  searchConversations: (query: string) => invoke<Conversation[]>("search_conversations", { query }),
  getConversation: (id: number) => invoke<ConversationView>("get_conversation", { id }),
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
};
