//! Files only the user may read: settings (the remote API key), the MCP
//! server list, the API token, the conversation database and the document
//! index. Files are 0600 and the folders Omnidesk owns are 0700, both when
//! created and when an older, looser file is opened again.
//!
//! Writes go through a temporary file with a unique name in the same
//! folder, flushed to disk and renamed over the target, so a crash leaves
//! either the old or the new content and two writers never share a temp
//! file. On non-Unix systems the permission steps do nothing (the user's
//! profile folder is already private there).
//!
//! Threading: plain blocking file calls; safe from any thread.

use std::io::Write;
use std::path::Path;

/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;
/// Mode of private folders.
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` (and missing parents) as 0700, and tighten it to 0700 when
/// it already exists. For folders Omnidesk owns: the data dir, its
/// subfolders, the config dir.
///
/// # Errors
/// I/O errors creating the folder or changing its mode.
/// A shared folder (sticky bit, like `/tmp`), the root or the home folder
/// is never changed, even when named as the data dir.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    create_dirs(dir)?;
    if shared_dir(dir) {
        return Ok(());
    }
    set_mode(dir, DIR_MODE)
}

#[cfg(unix)]
fn shared_dir(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let sticky = std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o1000 != 0);
    let canon = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
    sticky || canon.parent().is_none() || home.as_deref() == Some(canon.as_path())
}

#[cfg(not(unix))]
fn shared_dir(_dir: &Path) -> bool {
    false
}

/// Make an existing regular file 0600; a missing file is fine (nothing to
/// hide), and anything else (`/dev/null` as a config file) is left alone.
///
/// # Errors
/// I/O errors other than "not found".
pub fn restrict(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => set_mode(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Before SQLite opens `db`: its folder is private, and the file exists
/// as 0600 so SQLite (which gives its `-wal`, `-shm` and `-journal` files
/// the database's mode) never creates a readable copy. Existing files of
/// an older install are tightened.
///
/// # Errors
/// I/O errors creating the folder or the file, or changing modes.
pub fn prepare_db(db: &Path) -> std::io::Result<()> {
    if let Some(dir) = parent(db) {
        private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    drop(options.open(db)?);
    restrict(db)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        restrict(Path::new(&side))?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically as a 0600 file: unique temp file in
/// the same folder, `fsync`, rename, then `fsync` of the folder. Missing
/// folders are created 0700; an existing folder keeps its mode (it may be
/// the user's, e.g. `OMNIDESK_CONFIG=~/dotfiles/omnidesk.toml`).
///
/// # Errors
/// I/O errors at any step; the target is then unchanged.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent(path).unwrap_or(Path::new("."));
    create_dirs(dir)?;
    // NamedTempFile is created 0600 with a random name.
    let mut tmp = tempfile::Builder::new()
        .prefix(".omnidesk-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    set_mode(tmp.path(), FILE_MODE)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// A unique, 0600 temp path next to `path` for a writer that must open the
/// file itself (usearch saves by path). Rename it over `path` with
/// [`TempPath::persist`](tempfile::TempPath::persist); dropping it deletes
/// the file.
///
/// # Errors
/// I/O errors creating the file.
pub fn temp_beside(path: &Path) -> std::io::Result<tempfile::TempPath> {
    let dir = parent(path).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".omnidesk-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    set_mode(tmp.path(), FILE_MODE)?;
    Ok(tmp.into_temp_path())
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o777 == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(path: &Path, _mode: u32) -> std::io::Result<()> {
    std::fs::metadata(path).map(|_| ())
}

/// Make the rename durable; a folder that cannot be opened (non-Unix) is
/// skipped, the data is already on disk.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The permission bits of `path` (tests and diagnostics).
///
/// # Errors
/// I/O errors reading its metadata.
#[cfg(unix)]
pub fn mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn written_files_are_private_and_no_temp_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new/sub/secret.toml");
        write_private(&p, b"one").unwrap();
        write_private(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(mode(&p).unwrap(), 0o600);
        assert_eq!(mode(&dir.path().join("new")).unwrap(), 0o700);
        assert_eq!(mode(&dir.path().join("new/sub")).unwrap(), 0o700);
        assert_eq!(entries(&dir.path().join("new/sub")), ["secret.toml"]);
    }

    #[test]
    fn devices_and_shared_folders_are_never_changed() {
        let null = Path::new("/dev/null");
        let before = mode(null).unwrap();
        restrict(null).unwrap();
        assert_eq!(mode(null).unwrap(), before);
        use std::os::unix::fs::PermissionsExt;
        let raw = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        let tmp = std::env::temp_dir();
        let before = raw(&tmp);
        if before & 0o1000 != 0 {
            private_dir(&tmp).unwrap();
            assert_eq!(raw(&tmp), before);
        }
    }

    #[test]
    fn a_loose_existing_file_is_replaced_by_a_private_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(mode(&p).unwrap(), 0o600);
    }

    #[test]
    fn a_database_and_its_folder_are_made_private_before_sqlite_opens_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("x.db");
        std::fs::write(&db, "").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let wal = data.join("x.db-wal");
        std::fs::write(&wal, "").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o666)).unwrap();
        prepare_db(&db).unwrap();
        assert_eq!(mode(&data).unwrap(), 0o700);
        assert_eq!(mode(&db).unwrap(), 0o600);
        assert_eq!(mode(&wal).unwrap(), 0o600);
        let fresh = dir.path().join("fresh/y.db");
        prepare_db(&fresh).unwrap();
        assert_eq!(mode(&fresh).unwrap(), 0o600);
    }

    /// Every file in `dir` (recursively) is 0600 and every folder 0700.
    fn assert_all_private(dir: &Path) {
        assert_eq!(mode(dir).unwrap(), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                assert_all_private(&p);
            } else {
                assert_eq!(mode(&p).unwrap(), 0o600, "{}", p.display());
            }
        }
    }

    #[test]
    fn the_conversation_database_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = crate::store::Store::open(&data.join("omnidesk.db")).unwrap();
        store.create_conversation("t", None, None).unwrap();
        assert!(data.join("omnidesk.db-wal").exists(), "WAL written");
        assert_all_private(&data);
    }

    #[test]
    fn the_document_index_is_private() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes");
        std::fs::create_dir(&notes).unwrap();
        std::fs::write(notes.join("a.md"), "# Ports\n\nThe proxy listens on 8443.").unwrap();
        let data = dir.path().join("data");
        let index = crate::rag::default_dir(&data);
        let rag = crate::rag::Rag::open(
            &index,
            Arc::new(crate::rag::embed::FakeEmbedder { dimension: 16 }),
        )
        .unwrap();
        rag.add_blocking(
            &[notes],
            &crate::rag::IngestOptions::default(),
            &mut |_| {},
            &AtomicBool::new(false),
        )
        .unwrap();
        drop(rag);
        let names = entries(&index);
        assert!(names.iter().any(|n| n.ends_with(".usearch")), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        assert_all_private(&index);
    }

    #[test]
    fn a_temp_path_beside_is_private_and_gone_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("v.usearch");
        let tmp = temp_beside(&target).unwrap();
        assert_eq!(mode(&tmp).unwrap(), 0o600);
        let name = tmp.to_path_buf();
        drop(tmp);
        assert!(!name.exists());
    }
}
