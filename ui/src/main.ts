// The window: sidebar of stored conversations, the chat view with streamed
// answers, the composer with attachments, notices, the first-run model
// screen, documents, voice, camera, tools and settings, each a module in
// features/. It keeps view state only; the SQLite store (through the
// commands in api.ts) is the source of truth.
import "./style.css";
import { notifyError } from "./notices";
import { initCamera } from "./features/camera";
import { initChat } from "./features/chat";
import { focusInput, initComposer } from "./features/composer";
import { initConversations, refreshConversations } from "./features/conversations";
import { initDocuments } from "./features/documents";
import { initModels } from "./features/models";
import { initSettings } from "./features/settings";
import { initTalk } from "./features/talk";
import { initTools } from "./features/tools";
import { initVoice } from "./features/voice";

async function start() {
  initChat();
  initComposer();
  initConversations();
  initDocuments();
  initTools();
  initVoice();
  initTalk();
  initCamera();
  initSettings();
  await initModels();
  await refreshConversations();
  focusInput();
  // The e2e test waits for this before driving the window.
  document.body.dataset.ready = "true";
}

start().catch(notifyError);
