// The camera dialog: pick a camera, watch the preview, take a picture
// that becomes an attachment.
import { api } from "../api";
import { openDialog } from "../dialogs";
import { byId, el } from "../dom";
import { notify, notifyError } from "../notices";
import { stageAll } from "./composer";

const camera = byId<HTMLButtonElement>("camera");
const dialog = byId<HTMLDialogElement>("camera-dialog");
const close = byId<HTMLButtonElement>("camera-close");
const select = byId<HTMLSelectElement>("camera-select");
const preview = byId<HTMLImageElement>("camera-preview");
const snap = byId<HTMLButtonElement>("camera-snap");

async function openCamera() {
  try {
    const cams = await api.listCameras();
    if (!cams.length) return notify("No camera was found.", "error", "NO_CAMERA");
    select.replaceChildren(
      ...cams.map((c) => {
        const o = el("option", undefined, c.name);
        o.value = String(c.index);
        return o;
      }),
    );
    openDialog(dialog);
    await startPreview();
  } catch (e) {
    dialog.close();
    notifyError(e);
  }
}

async function startPreview() {
  preview.removeAttribute("src");
  await api.startCamera(Number(select.value), (f) => {
    preview.src = f.dataUrl;
  });
}

async function snapCamera() {
  try {
    stageAll([await api.snapCamera(Number(select.value))]);
    dialog.close();
  } catch (e) {
    notifyError(e);
  }
}

export function initCamera() {
  camera.onclick = openCamera;
  snap.onclick = snapCamera;
  select.onchange = () => void startPreview().catch(notifyError);
  close.onclick = () => dialog.close();
  dialog.addEventListener("close", () => void api.stopCamera().catch(notifyError));
}
