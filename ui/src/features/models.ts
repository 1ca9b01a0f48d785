// The model: its status in the sidebar, choosing a GGUF file, and the
// first-run screen that offers a download when no model is found.
import { api, type ModelStatus } from "../api";
import { showSetup } from "../chat-state";
import { button, byId, el } from "../dom";
import { formatBytes } from "../format";
import { notify, notifyError } from "../notices";
import { app, emit, on } from "../state";

const modelStatus = byId<HTMLDivElement>("model-status");
const openModel = byId<HTMLButtonElement>("open-model");
const setup = byId<HTMLElement>("setup");
const setupOffer = byId<HTMLDivElement>("setup-offer");
const setupChoose = byId<HTMLButtonElement>("setup-choose");
const setupError = byId<HTMLParagraphElement>("setup-error");
const setupDownload = byId<HTMLDivElement>("setup-download");
const setupProgress = byId<HTMLProgressElement>("setup-progress");
const setupProgressText = byId<HTMLSpanElement>("setup-progress-text");
const setupCancel = byId<HTMLButtonElement>("setup-cancel");

/** The first-run screen covers the chat only while no conversation is open. */
function syncSetup() {
  if (app.model) setup.hidden = !showSetup(app.model, app.messages.length);
}

function showModel(s: ModelStatus) {
  app.model = s;
  const name = s.modelPath ? s.modelPath.split("/").pop() : "";
  modelStatus.dataset.state = s.state;
  switch (s.state) {
    case "ready": {
      const m = s.model!;
      const caps = [m.vision ? "images" : "", m.audio ? "audio" : ""].filter(Boolean).join(", ");
      modelStatus.textContent = `${m.name} · ${formatBytes(m.sizeBytes)} · ctx ${m.nCtx}${caps ? ` · ${caps}` : ""}`;
      modelStatus.title = s.modelPath ?? "";
      if (s.notice) notify(s.notice, "info");
      break;
    }
    case "loading":
      modelStatus.textContent = `Loading ${name}…`;
      break;
    case "failed":
      modelStatus.textContent = `Model failed: ${name}`;
      break;
    default:
      modelStatus.textContent = "No model";
  }
  syncSetup();
  setupError.hidden = !s.error;
  setupError.textContent = s.error?.message ?? "";
  if (s.state === "failed" && s.error) notify(s.error.message, "error", s.error.code);
  setupOffer.replaceChildren();
  for (const [o, label] of [
    [s.offer, "Recommended"],
    [s.fallback, "Small and quick to fetch"],
  ] as const) {
    if (!o) continue;
    const box = el("div", "offer-item");
    box.append(
      el("h3", undefined, `${label}: ${o.id}`),
      el("p", undefined, o.description),
      el(
        "p",
        "muted",
        `Download of about ${formatBytes(o.totalMb * 1e6)} (${o.files
          .map(([f, mb]) => `${f}${mb ? ` ${mb} MB` : ""}`)
          .join(", ")}); needs about ${o.ramGb} GB of memory. Takes ${o.modalities.join(", ")}. License: ${o.license}.`,
      ),
    );
    const b = button("primary download", `Download ${o.id}`);
    b.dataset.model = o.id;
    b.disabled = s.downloading;
    b.onclick = () => void downloadModel(o.id);
    box.append(b);
    setupOffer.append(box);
  }
  if (s.offer) setupOffer.append(el("p", "muted", `Downloads resume if interrupted and are checked before use; they go to ${s.modelsDir}.`));
  emit("model");
}

async function downloadModel(id: string) {
  setupDownload.hidden = false;
  setupProgress.removeAttribute("value");
  setupProgressText.textContent = "Connecting…";
  setupOffer.querySelectorAll("button").forEach((b) => (b.disabled = true));
  try {
    showModel(
      await api.downloadModel(id, (p) => {
        if (p.total) {
          setupProgress.max = p.total;
          setupProgress.value = p.done;
        }
        const eta = p.eta_s !== null ? `, about ${Math.ceil(p.eta_s)} s left` : "";
        setupProgressText.textContent = `${p.file}: ${formatBytes(p.done)}${p.total ? ` of ${formatBytes(p.total)}` : ""} at ${formatBytes(p.bytes_per_s)}/s${eta}`;
      }),
    );
    setupDownload.hidden = true;
  } catch (e) {
    setupDownload.hidden = true;
    notifyError(e);
    showModel(await api.modelStatus());
  }
}

async function chooseModel() {
  try {
    showModel(await api.chooseModel());
  } catch (e) {
    notifyError(e);
  }
}

/** Wire the model controls and show the current status (and follow its changes). */
export async function initModels() {
  openModel.onclick = chooseModel;
  setupChoose.onclick = chooseModel;
  setupCancel.onclick = () => void api.cancelDownload().catch(notifyError);
  on("messages", syncSetup);
  await api.onModelStatus(showModel);
  showModel(await api.modelStatus());
}
