//! Images for the composer. Files reach Rust two ways only: the native
//! picker opened here (the window never sees or sends a path), or the bytes
//! of a file the user pasted or dropped, kept under the data dir. Each is
//! decoded by the library at once, so a bad file is refused with a notice
//! before it is ever sent.

use std::path::Path;

use base64::Engine as _;
use omnidesk::media::{self, attach, image::ImageLimits, Media};
use tauri::ipc::{InvokeBody, Request};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

use crate::error::{codes, CommandError, CommandResult};
use crate::state::{AppState, AttachmentView, Staged};

/// Longest side of the previews sent to the window.
const THUMB_SIDE: u32 = 192;
/// Image extensions offered by the picker.
const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp", "gif", "bmp"];

/// A `data:` URL preview of `img`.
pub fn thumbnail(img: &media::Image) -> Option<String> {
    let png = media::image::thumbnail_png(img, THUMB_SIDE);
    (!png.is_empty()).then(|| {
        format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        )
    })
}

fn view(id: Option<u64>, name: &str, media: &Media) -> AttachmentView {
    let (thumb, w, h) = match media {
        Media::Image(i) => (thumbnail(i), Some(i.width), Some(i.height)),
        Media::Audio(_) => (None, None, None),
    };
    AttachmentView {
        id,
        name: name.to_owned(),
        kind: media.kind().to_owned(),
        thumbnail: thumb,
        width: w,
        height: h,
        transcript: None,
    }
}

/// Stage `media` (kept at `path`) for the next message; `name` is shown.
pub fn stage(state: &AppState, path: &Path, name: &str, media: Media) -> AttachmentView {
    let mut one = attach::Attached::default();
    one.push(path, media.clone());
    let record = one.records.remove(0);
    let id = state.staged.add(Staged {
        media: media.clone(),
        record,
    });
    view(Some(id), name, &media)
}

/// What the picker produced: the images it staged, and a notice for each
/// file it refused.
#[derive(Debug, serde::Serialize, ts_rs::TS)]
pub struct Picked {
    pub attached: Vec<AttachmentView>,
    pub rejected: Vec<CommandError>,
}

/// Open the native picker for images and stage each chosen one.
#[tauri::command]
pub async fn pick_images<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CommandResult<Picked> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Attach images")
        .add_filter("Images", IMAGE_EXTENSIONS)
        .pick_files(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx
        .await
        .map_err(|_| CommandError::new(codes::INTERNAL, "the file dialog closed unexpectedly"))?
        .unwrap_or_default();
    let paths: Vec<_> = picked
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .collect();
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut out = Picked {
            attached: Vec::new(),
            rejected: Vec::new(),
        };
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match media::image::load(&path, &ImageLimits::default()) {
                Ok(img) => out
                    .attached
                    .push(stage(&state, &path, &name, Media::Image(img))),
                Err(e) => out.rejected.push(e.into()),
            }
        }
        Ok(out)
    })
    .await?
}

/// Stage an image the user pasted or dropped. The body is the file's raw
/// bytes; the `x-file-name` header (URI-encoded) is its name, for notices.
#[tauri::command]
pub async fn attach_image(
    request: Request<'_>,
    state: State<'_, AppState>,
) -> CommandResult<AttachmentView> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(CommandError::invalid(
            "attach_image takes the file's bytes as the request body",
        ));
    };
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "pasted image".to_owned());
    let bytes = bytes.clone();
    let state = state.inner().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let dir = state.settings.attachments_dir();
        let (path, img) = attach::import_image_bytes(&dir, &name, &bytes, &ImageLimits::default())?;
        Ok(stage(&state, &path, &name, Media::Image(img)))
    })
    .await?
}

/// Remove an image from the composer.
#[tauri::command]
pub async fn discard_attachment(state: State<'_, AppState>, id: u64) -> CommandResult<()> {
    state.staged.discard(id);
    Ok(())
}

/// Decode `%XX` escapes (what `encodeURIComponent` produced); anything
/// malformed is kept literally.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_percent_decoded() {
        assert_eq!(percent_decode("caf%C3%A9%20photo.png"), "café photo.png");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(percent_decode("%é"), "%é");
    }
}
