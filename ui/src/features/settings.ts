// The settings dialog: generation and backend settings, voice, and the
// local OpenAI-compatible API server.
import { api, type ApiStatus, type Settings } from "../api";
import { openDialog } from "../dialogs";
import { byId } from "../dom";
import { notify, notifyError } from "../notices";

const openButton = byId<HTMLButtonElement>("open-settings");
const dialog = byId<HTMLDialogElement>("settings");
const form = byId<HTMLFormElement>("settings-form");
const settingsPath = byId<HTMLElement>("settings-path");
const apiEnabled = byId<HTMLInputElement>("api-enabled");
const apiPort = byId<HTMLInputElement>("api-port");
const apiStatus = byId<HTMLParagraphElement>("api-status");

/** The settings as last loaded or saved, and the API server's state. */
let current: Settings | null = null;
let apiState: ApiStatus | null = null;

async function openSettings() {
  try {
    const s = await api.getSettings();
    current = s;
    for (const [k, v] of Object.entries(s)) {
      const input = form.elements.namedItem(k) as HTMLInputElement | HTMLTextAreaElement | null;
      if (Array.isArray(v)) {
        if (input) input.value = v.join("\n");
        continue;
      }
      if (input instanceof HTMLInputElement && input.type === "checkbox") input.checked = Boolean(v);
      else if (input) input.value = v === null ? "" : String(v);
    }
    const key = form.elements.namedItem("backendApiKey") as HTMLInputElement;
    key.value = "";
    key.placeholder = s.backendApiKeySet ? "saved (type a new one, or a space to remove it)" : "none";
    settingsPath.textContent = s.configPath;
    showApi(await api.getApiServer());
    openDialog(dialog);
  } catch (e) {
    notifyError(e);
  }
}

async function saveSettings() {
  const get = (k: string) => (form.elements.namedItem(k) as HTMLInputElement).value;
  const num = (k: string) => Number(get(k));
  const seed = get("seed").trim();
  const s: Settings = {
    systemPrompt: get("systemPrompt"),
    maxTokens: num("maxTokens"),
    nCtx: num("nCtx"),
    threads: num("threads"),
    nGpuLayers: get("nGpuLayers").trim() === "" ? null : num("nGpuLayers"),
    temperature: num("temperature"),
    topK: num("topK"),
    topP: num("topP"),
    minP: num("minP"),
    repeatPenalty: num("repeatPenalty"),
    seed: seed === "" ? null : Number(seed),
    speakReplies: (form.elements.namedItem("speakReplies") as HTMLInputElement).checked,
    voice: (form.elements.namedItem("voice") as HTMLSelectElement).value as Settings["voice"],
    backendKind: (form.elements.namedItem("backendKind") as HTMLSelectElement).value === "openai" ? "openai" : "local",
    backendUrl: get("backendUrl"),
    backendModel: get("backendModel"),
    backendEmbedModel: get("backendEmbedModel"),
    backendApiKey: get("backendApiKey") === "" ? null : get("backendApiKey"),
    backendApiKeySet: current?.backendApiKeySet ?? false,
    safetyEnabled: (form.elements.namedItem("safetyEnabled") as HTMLInputElement).checked,
    safetyWords: lines(get("safetyWords")),
    safetyPatterns: lines(get("safetyPatterns")),
    safetyAction: (form.elements.namedItem("safetyAction") as HTMLSelectElement).value === "stop" ? "stop" : "mask",
    configPath: current?.configPath ?? "",
  };
  try {
    current = await api.updateSettings(s);
    const port = Number(apiPort.value || "0");
    const before = apiState;
    if (!before || before.enabled !== apiEnabled.checked || before.port !== port) {
      const a = await api.setApiServer(apiEnabled.checked, port);
      showApi(a);
      if (a.error) notify(`The local API could not start: ${a.error.message}`, "error", a.error.code);
      else if (a.running) notify(`The local API serves ${a.url}`, "info");
    }
    dialog.close();
    notify("Settings saved.", "info");
  } catch (e) {
    notifyError(e);
  }
}

/** A textarea's entries: one per line, trimmed, empty lines dropped. */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

function showApi(a: ApiStatus) {
  apiState = a;
  apiEnabled.checked = a.enabled;
  apiPort.value = String(a.port);
  apiStatus.textContent = a.running
    ? `Serving ${a.url} — send “Authorization: Bearer ${a.token ?? "?"}”`
    : a.enabled
      ? "Starts when a model is loaded."
      : a.token
        ? `Off. Clients will need the token ${a.token}`
        : "Off.";
}

export function initSettings() {
  openButton.onclick = openSettings;
  form.addEventListener("submit", (ev) => {
    if ((ev.submitter as HTMLButtonElement | null)?.value === "save") {
      ev.preventDefault();
      void saveSettings();
    }
  });
}
