// Documents: the panel of indexed files (add, rescan, remove, embedding
// model, ingest progress), the composer's "Docs" switch, and the dialog
// that shows the passage behind a citation.
import { api, asCommandError, type DocsStatus, type IngestUpdate, type Source } from "../api";
import { openDialog } from "../dialogs";
import { button, byId, el } from "../dom";
import { sourceLocation } from "../format";
import { notifyError } from "../notices";

const useDocsBox = byId<HTMLInputElement>("use-docs");
const openDocsButton = byId<HTMLButtonElement>("open-docs");
const docs = byId<HTMLDialogElement>("docs");
const docsClose = byId<HTMLButtonElement>("docs-close");
const docsEmbedding = byId<HTMLParagraphElement>("docs-embedding");
const docsAddFolder = byId<HTMLButtonElement>("docs-add-folder");
const docsAddFiles = byId<HTMLButtonElement>("docs-add-files");
const docsRescan = byId<HTMLButtonElement>("docs-rescan");
const docsCancel = byId<HTMLButtonElement>("docs-cancel");
const docsEmbedModel = byId<HTMLButtonElement>("docs-embed-model");
const docsProgressBox = byId<HTMLDivElement>("docs-progress-box");
const docsProgress = byId<HTMLProgressElement>("docs-progress");
const docsProgressText = byId<HTMLSpanElement>("docs-progress-text");
const docsSummary = byId<HTMLParagraphElement>("docs-summary");
const docsList = byId<HTMLUListElement>("docs-list");
const source = byId<HTMLDialogElement>("source");
const sourceClose = byId<HTMLButtonElement>("source-close");
const sourceLocationText = byId<HTMLParagraphElement>("source-location");
const sourceText = byId<HTMLPreElement>("source-text");

/** Whether the next question is answered from the documents. */
export function useDocs(): boolean {
  return useDocsBox.checked;
}

function renderDocs(d: DocsStatus) {
  docsEmbedding.textContent = d.embeddingModel
    ? `Embedding model: ${d.embeddingModel}`
    : "Choose an embedding model (a GGUF such as all-MiniLM-L6-v2; `omnidesk models pull all-minilm-l6-v2-f16` fetches one) to index your documents.";
  const ready = d.embeddingModel !== null;
  for (const b of [docsAddFolder, docsAddFiles, docsRescan]) b.disabled = !ready || d.ingesting;
  docsCancel.hidden = !d.ingesting;
  const st = d.stats;
  docsSummary.textContent = st
    ? `${st.documents} documents, ${st.chunks} passages${st.skipped ? `, ${st.skipped} skipped` : ""}.`
    : "";
  docsList.replaceChildren(
    ...d.documents.map((doc) => {
      const li = el("li", doc.status);
      li.append(el("span", "doc-path", doc.path));
      li.append(
        el("span", "doc-state", doc.status === "skipped" ? `skipped: ${doc.skipReason ?? "unknown reason"}` : `${doc.chunks} passages`),
      );
      const rm = button("small", "Remove", `Remove ${doc.path}`);
      rm.onclick = async () => {
        try {
          renderDocs(await api.removeDocument(doc.path));
        } catch (e) {
          notifyError(e);
        }
      };
      li.append(rm);
      return li;
    }),
  );
  if (ready && !d.documents.length) docsList.append(el("li", "muted", "Nothing indexed yet."));
}

async function refreshDocs() {
  try {
    renderDocs(await api.docsStatus());
  } catch (e) {
    notifyError(e);
  }
}

async function openDocs() {
  openDialog(docs);
  await refreshDocs();
}

async function chooseEmbeddingModel() {
  docsEmbedding.textContent = "Loading the embedding model…";
  try {
    renderDocs(await api.chooseEmbeddingModel());
  } catch (e) {
    notifyError(e);
    await refreshDocs();
  }
}

function showIngest(u: IngestUpdate) {
  switch (u.kind) {
    case "scanned":
      docsProgress.max = Math.max(1, u.files);
      docsProgress.value = 0;
      docsProgressText.textContent = `${u.files} files found`;
      break;
    case "progress": {
      docsProgress.max = Math.max(1, u.files_total);
      docsProgress.value = u.files_done;
      const eta = u.eta_ms !== null && u.files_done < u.files_total ? `, about ${Math.ceil(u.eta_ms / 1000)} s left` : "";
      docsProgressText.textContent = `${u.files_done} of ${u.files_total} files, ${u.chunks} passages${eta}`;
      break;
    }
    case "skipped":
      break;
    case "finished": {
      const r = u.report;
      docsProgress.value = docsProgress.max;
      docsProgressText.textContent = r.cancelled
        ? `Cancelled after ${r.files_indexed} files; run Rescan to finish.`
        : `Done: ${r.files_indexed} indexed, ${r.files_unchanged} unchanged, ${r.files_skipped} skipped, ${r.files_removed} removed.`;
      break;
    }
    case "failed":
      docsProgressText.textContent = u.message;
      break;
  }
}

/** Run one ingest with the progress bar, then refresh the list. */
async function ingest(run: (onEvent: (u: IngestUpdate) => void) => Promise<unknown>) {
  docsProgressBox.hidden = false;
  docsProgress.removeAttribute("value");
  docsProgressText.textContent = "Starting…";
  for (const b of [docsAddFolder, docsAddFiles, docsRescan]) b.disabled = true;
  docsCancel.hidden = false;
  try {
    await run(showIngest);
  } catch (e) {
    const err = asCommandError(e);
    if (err.code === "CANCELLED") docsProgressBox.hidden = true;
    else notifyError(e);
  } finally {
    await refreshDocs();
  }
}

/** Show the passage behind source `s` of an answer. */
export async function showSource(s: Source) {
  sourceLocationText.textContent = sourceLocation(s);
  sourceText.textContent = "";
  openDialog(source);
  try {
    const v = await api.getSource(s.chunk_id);
    sourceText.textContent = v.text;
  } catch (e) {
    source.close();
    notifyError(e);
  }
}

export function initDocuments() {
  openDocsButton.onclick = openDocs;
  docsClose.onclick = () => docs.close();
  sourceClose.onclick = () => source.close();
  docsAddFolder.onclick = () => ingest((f) => api.addDocuments(true, f));
  docsAddFiles.onclick = () => ingest((f) => api.addDocuments(false, f));
  docsRescan.onclick = () => ingest(api.rescanDocuments);
  docsCancel.onclick = () => void api.cancelIngest().catch(notifyError);
  docsEmbedModel.onclick = chooseEmbeddingModel;
}
