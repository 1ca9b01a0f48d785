//! Folder watching: added roots are watched with `notify` (inotify,
//! FSEvents, ReadDirectoryChangesW), and the files that changed, appeared
//! or vanished are re-ingested incrementally with
//! [`Rag::update_paths_blocking`].
//!
//! Events are debounced: a batch is handled once no new event arrived for
//! the debounce interval (an editor's save is several events; a copied
//! folder is thousands), or after [`MAX_BATCH_WAIT`] of continuous
//! activity, so a busy folder still gets indexed. A file that crashes the
//! parser costs only its batch's parse worker (see [`super::isolate`]) and
//! is recorded as skipped, so later batches do not trip over it again.
//!
//! Threading: notify delivers events on its own thread into a channel; one
//! named thread (`omnidesk-docs-watch`) debounces them and runs the ingest
//! (blocking, embeddings on the embedder's thread). Dropping the
//! [`FolderWatch`] stops watching; a batch in progress is cancelled after
//! its current file.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher as _};

use super::chunk::ChunkParams;
use super::error::{RagError, Result};
use super::ingest::IngestReport;
use super::Rag;

/// Longest a batch waits while events keep coming.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(10);

/// What the watch reports after each batch.
#[derive(Debug)]
pub enum WatchEvent {
    /// A batch of changes was applied; `paths` are what the events named.
    Updated {
        paths: Vec<PathBuf>,
        report: IngestReport,
    },
    /// A batch failed (the next one is tried anyway).
    Failed(RagError),
}

/// A running watch; dropping it stops watching.
pub struct FolderWatch {
    _watcher: notify::RecommendedWatcher,
    stop: Arc<AtomicBool>,
    roots: Vec<PathBuf>,
}

impl std::fmt::Debug for FolderWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatch")
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

impl FolderWatch {
    /// The paths being watched.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }
}

impl Drop for FolderWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Rag {
    /// Watch every added root and keep the index up to date, calling
    /// `on_event` after each debounced batch (on the watch thread).
    ///
    /// # Errors
    /// `InvalidRequest` when nothing has been added yet; `Watch` when the
    /// OS refuses a watch (e.g. the inotify watch limit).
    pub fn watch(
        &self,
        debounce: Duration,
        chunk: ChunkParams,
        mut on_event: impl FnMut(WatchEvent) + Send + 'static,
    ) -> Result<FolderWatch> {
        let roots: Vec<PathBuf> = self
            .roots()?
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| p.exists())
            .collect();
        if roots.is_empty() {
            return Err(RagError::InvalidRequest(
                "no added files or folders to watch; add some with `docs add` first".into(),
            ));
        }
        let (tx, rx) = std_mpsc::channel::<Vec<PathBuf>>();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            match res {
                // Access events (open/read) change nothing.
                Ok(ev) if !matches!(ev.kind, notify::EventKind::Access(_)) => {
                    let _ = tx.send(ev.paths);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("folder watch: {e}"),
            }
        })
        .map_err(watch_error)?;
        for root in &roots {
            // A file root is watched through its folder, so an editor that
            // saves by writing a new file and renaming it is still seen.
            let (path, mode) = if root.is_dir() {
                (root.clone(), RecursiveMode::Recursive)
            } else {
                let parent = root
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.clone());
                (parent, RecursiveMode::NonRecursive)
            };
            watcher.watch(&path, mode).map_err(watch_error)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let rag = self.clone();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("omnidesk-docs-watch".into())
            .spawn(move || {
                while let Some(paths) = next_batch(&rx, debounce, &flag) {
                    let result = rag.update_paths_blocking(&paths, chunk, &mut |_| {}, &flag);
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    on_event(match result {
                        Ok(report) => WatchEvent::Updated { paths, report },
                        Err(e) => WatchEvent::Failed(e),
                    });
                }
            })
            .map_err(RagError::Io)?;
        Ok(FolderWatch {
            _watcher: watcher,
            stop,
            roots,
        })
    }
}

/// Block for the first event, then gather until `debounce` of quiet (or
/// [`MAX_BATCH_WAIT`]); `None` once stopped or the watcher is gone.
fn next_batch(
    rx: &std_mpsc::Receiver<Vec<PathBuf>>,
    debounce: Duration,
    stop: &AtomicBool,
) -> Option<Vec<PathBuf>> {
    // Poll so a stopped watch ends even while the folder is quiet.
    let poll = Duration::from_millis(200);
    let mut batch = BTreeSet::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match rx.recv_timeout(poll) {
            Ok(paths) => {
                batch.extend(paths);
                break;
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
    let started = Instant::now();
    loop {
        let left = MAX_BATCH_WAIT.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(debounce.min(left)) {
            Ok(paths) => batch.extend(paths),
            Err(std_mpsc::RecvTimeoutError::Timeout) => break,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
    }
    Some(batch.into_iter().collect())
}

fn watch_error(e: notify::Error) -> RagError {
    RagError::Watch(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_gathered_until_quiet() {
        let (tx, rx) = std_mpsc::channel();
        let stop = AtomicBool::new(false);
        tx.send(vec![PathBuf::from("/a")]).unwrap();
        tx.send(vec![PathBuf::from("/b"), PathBuf::from("/a")])
            .unwrap();
        let batch = next_batch(&rx, Duration::from_millis(50), &stop).unwrap();
        assert_eq!(batch, [PathBuf::from("/a"), PathBuf::from("/b")]);
        drop(tx);
        assert_eq!(next_batch(&rx, Duration::from_millis(50), &stop), None);
    }
}
