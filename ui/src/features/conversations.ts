// The sidebar: stored conversations (open, rename, delete), search, and
// starting a new chat (button or Ctrl+N).
import { api, type Conversation } from "../api";
import { emptyListText, visibleMessages } from "../chat-state";
import { button, byId, el } from "../dom";
import { notify, notifyError } from "../notices";
import { app, on } from "../state";
import { showConversation } from "./chat";
import { focusInput } from "./composer";

const conversations = byId<HTMLUListElement>("conversations");
const search = byId<HTMLInputElement>("search");
const newChat = byId<HTMLButtonElement>("new-chat");

/** Reload the list (filtered by the search box). */
export async function refreshConversations() {
  try {
    const q = search.value.trim();
    const list = q ? await api.searchConversations(q) : await api.listConversations();
    renderConversations(list);
  } catch (e) {
    notifyError(e);
  }
}

function renderConversations(list: Conversation[]) {
  conversations.replaceChildren(
    ...list.map((c) => {
      const li = el("li", "conversation");
      li.dataset.id = String(c.id);
      const open = button("conversation-open", c.title);
      open.title = c.title;
      if (c.id === app.conversationId) {
        li.classList.add("active");
        open.setAttribute("aria-current", "true");
      }
      open.onclick = () => openConversation(c.id);
      const rename = button("icon small", "✎", `Rename ${c.title}`);
      rename.title = "Rename";
      rename.onclick = () => startRename(li, c);
      const del = button("icon small", "🗑", `Delete ${c.title}`);
      del.title = "Delete";
      del.onclick = () => deleteConversation(c);
      li.append(open, rename, del);
      return li;
    }),
  );
  if (!list.length) conversations.append(el("li", "muted empty", emptyListText(search.value)));
}

function startRename(li: HTMLLIElement, c: Conversation) {
  const input = el("input", "rename-input");
  input.value = c.title;
  input.setAttribute("aria-label", "New title");
  li.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save: boolean) => {
    if (done) return;
    done = true;
    if (save && input.value.trim() && input.value.trim() !== c.title) {
      try {
        await api.renameConversation(c.id, input.value);
      } catch (e) {
        notifyError(e);
      }
    }
    refreshConversations();
  };
  input.onkeydown = (ev) => {
    if (ev.key === "Enter") finish(true);
    if (ev.key === "Escape") {
      ev.stopPropagation();
      finish(false);
    }
  };
  input.onblur = () => finish(true);
}

async function deleteConversation(c: Conversation) {
  if (!confirm(`Delete “${c.title}” and all its messages?`)) return;
  try {
    await api.deleteConversation(c.id);
    if (app.conversationId === c.id) newConversation();
    refreshConversations();
  } catch (e) {
    notifyError(e);
  }
}

async function openConversation(id: number) {
  if (app.generation) return notify("Wait for the answer to finish or stop it first.", "info");
  try {
    const cv = await api.getConversation(id);
    showConversation(id, visibleMessages(cv.messages));
    refreshConversations();
    focusInput();
  } catch (e) {
    notifyError(e);
  }
}

function newConversation() {
  if (app.generation) return;
  showConversation(null, []);
  refreshConversations();
  focusInput();
}

export function initConversations() {
  newChat.onclick = newConversation;
  let searchTimer = 0;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(refreshConversations, 150);
  });
  document.addEventListener("keydown", (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "n") {
      ev.preventDefault();
      newConversation();
    }
  });
  on("conversations", () => void refreshConversations());
}
