//! Conversations' KV caches saved to disk, so a conversation reopened after
//! a restart, or after its slot went to another one, is restored instead of
//! read again.
//!
//! One file holds one slot: a header with the key of the model and context
//! it was made with, the prompt items whose cells it holds (tokens, and
//! media by content hash, with their positions), and llama.cpp's sequence
//! state. Files are matched to a request by prefix, like live slots.
//! Only the headers are read when the folder is opened; the state's
//! checksum is checked when it is loaded. A file that does not parse or
//! fails its checksum is removed; one written for another key is never
//! loaded (it stays for that model, and counts against the budget).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

use super::prompt::Item;
use crate::media::ContentHash;

/// What a saved file starts with; the digit is the format version.
const MAGIC: &[u8; 8] = b"ODKVSEQ1";
/// The llama.cpp build whose state format the files hold (a test checks it
/// against Cargo.lock, so an upgrade cannot keep trusting old files).
pub(crate) const LLAMA_BUILD: &str = "llama-cpp-sys-2 0.1.161";
/// Headers larger than this are not ours (2^20 items is beyond any context).
const MAX_HEADER: usize = 48 << 20;
/// Conversations shorter than this are cheap to read again: not saved.
pub(crate) const MIN_SAVED_CELLS: usize = 32;

/// What a slot's cells must have been computed with to be reused: the
/// model, the projector, the chat template and the context settings.
pub(crate) type Key = [u8; 32];

/// One prompt item held by a slot, at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SavedItem {
    pub item: Item,
    pub pos: i32,
}

/// A saved slot, as found in the folder.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    items: Vec<SavedItem>,
    n_past: i32,
    n_cells: usize,
    state_len: u64,
    state_sha: [u8; 32],
}

/// A saved slot read back, ready to be put into a sequence.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub items: Vec<SavedItem>,
    pub n_past: i32,
    pub n_cells: usize,
    pub state: Vec<u8>,
}

/// The folder of saved slots for one key, with its disk budget.
#[derive(Debug)]
pub(crate) struct KvDisk {
    dir: PathBuf,
    budget: u64,
    key: Key,
    entries: Vec<Entry>,
}

impl KvDisk {
    /// Index the files in `dir` written for `key`; unreadable ones are
    /// removed. Creates `dir` (0700) when missing.
    pub(crate) fn open(dir: &Path, budget: u64, key: Key) -> std::io::Result<Self> {
        crate::private_file::private_dir(dir)?;
        let mut entries = Vec::new();
        for file in std::fs::read_dir(dir)?.flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "kv") {
                continue;
            }
            match read_header(&path) {
                Ok(Some((k, entry))) if k == key => entries.push(entry),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), "removing a broken KV cache file: {e}");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            budget,
            key,
            entries,
        })
    }

    /// Saved slots for this key.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The saved slot sharing the longest prefix with `items`: its index
    /// and how many leading items it holds.
    pub(crate) fn best(&self, items: &[Item]) -> Option<(usize, usize)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let n = e
                    .items
                    .iter()
                    .zip(items)
                    .take_while(|(s, i)| s.item == **i)
                    .count();
                (i, n)
            })
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(_, n)| n)
    }

    /// Items and next position of saved slot `index`.
    pub(crate) fn held(&self, index: usize) -> (usize, i32) {
        let e = &self.entries[index];
        (e.items.len(), e.n_past)
    }

    /// Read saved slot `index` whole and check it; a file that fails is
    /// removed (and forgotten).
    pub(crate) fn load(&mut self, index: usize) -> std::io::Result<Loaded> {
        let entry = &self.entries[index];
        let read = read_state(entry);
        match read {
            Ok(state) => {
                let entry = &self.entries[index];
                // Touch it: the budget removes the least recently used.
                let _ = std::fs::File::options()
                    .append(true)
                    .open(&entry.path)
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                Ok(Loaded {
                    items: entry.items.clone(),
                    n_past: entry.n_past,
                    n_cells: entry.n_cells,
                    state,
                })
            }
            Err(e) => {
                self.forget(index);
                Err(e)
            }
        }
    }

    /// Remove saved slot `index` (llama.cpp refused its state).
    pub(crate) fn forget(&mut self, index: usize) {
        let entry = self.entries.swap_remove(index);
        let _ = std::fs::remove_file(&entry.path);
    }

    /// Save a slot holding `items` (`n_past`, `n_cells`) with llama.cpp's
    /// `state` for its sequence. Saved slots whose items are a prefix of
    /// these are removed (this one restores them too), then the oldest
    /// files until the folder fits the budget.
    pub(crate) fn save(
        &mut self,
        items: &[SavedItem],
        n_past: i32,
        n_cells: usize,
        state: &[u8],
    ) -> std::io::Result<()> {
        let state_sha: [u8; 32] = Sha256::digest(state).into();
        let header = encode_header(
            &self.key,
            items,
            n_past,
            n_cells,
            state.len() as u64,
            &state_sha,
        );
        let header_sha: [u8; 32] = Sha256::digest(&header).into();
        let name: [u8; 32] = Sha256::new()
            .chain_update(self.key)
            .chain_update(&header)
            .finalize()
            .into();
        let path = self.dir.join(format!("{}.kv", hex(&name[..12])));
        let tmp = crate::private_file::temp_beside(&path)?;
        {
            let mut f = std::io::BufWriter::new(std::fs::File::options().write(true).open(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(&(header.len() as u32).to_le_bytes())?;
            f.write_all(&header_sha)?;
            f.write_all(&header)?;
            f.write_all(state)?;
            f.flush()?;
        }
        tmp.persist(&path).map_err(|e| e.error)?;
        let mut i = 0;
        while i < self.entries.len() {
            let e = &self.entries[i];
            let covered = e.path == path
                || (e.items.len() <= items.len() && e.items[..] == items[..e.items.len()]);
            if covered {
                let e = self.entries.swap_remove(i);
                if e.path != path {
                    let _ = std::fs::remove_file(&e.path);
                }
            } else {
                i += 1;
            }
        }
        self.entries.push(Entry {
            path,
            items: items.to_vec(),
            n_past,
            n_cells,
            state_len: state.len() as u64,
            state_sha,
        });
        self.enforce_budget();
        Ok(())
    }

    /// Remove the least recently used files (of any key) over the budget.
    fn enforce_budget(&mut self) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = dir
            .flatten()
            .filter(|f| f.path().extension().is_some_and(|e| e == "kv"))
            .filter_map(|f| {
                let m = f.metadata().ok()?;
                Some((m.modified().ok()?, m.len(), f.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.budget {
                break;
            }
            let _ = std::fs::remove_file(&path);
            self.entries.retain(|e| e.path != path);
            total -= len;
        }
    }
}

/// Hex of `bytes`, for file names.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key for a session: what its cells depend on.
pub(crate) fn key(parts: &[&[u8]]) -> Key {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(LLAMA_BUILD.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// A cheap fingerprint of a (multi-GB) model file: its size and its first
/// and last MiB — the GGUF header with every tensor's name, shape and type,
/// and the last weights.
pub(crate) fn fingerprint(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::{Seek, SeekFrom};
    const SPAN: u64 = 1 << 20;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut h = Sha256::new();
    h.update(len.to_le_bytes());
    let mut buf = vec![0u8; SPAN.min(len) as usize];
    f.read_exact(&mut buf)?;
    h.update(&buf);
    if len > SPAN {
        let tail = SPAN.min(len - SPAN);
        f.seek(SeekFrom::Start(len - tail))?;
        buf.resize(tail as usize, 0);
        f.read_exact(&mut buf)?;
        h.update(&buf);
    }
    Ok(h.finalize().into())
}

fn encode_header(
    key: &Key,
    items: &[SavedItem],
    n_past: i32,
    n_cells: usize,
    state_len: u64,
    state_sha: &[u8; 32],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + items.len() * 9);
    out.extend_from_slice(key);
    out.extend_from_slice(&n_past.to_le_bytes());
    out.extend_from_slice(&(n_cells as u64).to_le_bytes());
    out.extend_from_slice(&state_len.to_le_bytes());
    out.extend_from_slice(state_sha);
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for s in items {
        match s.item {
            Item::Token(t) => {
                out.push(0);
                out.extend_from_slice(&t.0.to_le_bytes());
            }
            Item::Media { hash, n_tokens } => {
                out.push(1);
                out.extend_from_slice(&hash.0);
                out.extend_from_slice(&(n_tokens as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(&s.pos.to_le_bytes());
    }
    out
}

/// Reads little-endian fields off a byte slice, failing on a short one.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        if self.0.len() < N {
            return Err(bad("truncated header"));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().map_err(|_| bad("truncated header"))
    }
    fn u32(&mut self) -> std::io::Result<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> std::io::Result<i32> {
        self.take::<4>().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> std::io::Result<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

fn bad(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string())
}

/// The key and entry of the file at `path`; `None` when it is not a saved
/// slot of this format (left alone). Errors for a damaged file.
fn read_header(path: &Path) -> std::io::Result<Option<(Key, Entry)>> {
    let mut f = std::fs::File::open(path)?;
    let file_len = f.metadata()?.len();
    let mut magic = [0u8; 8];
    if f.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(bad("not a saved KV cache of this version"));
    }
    let mut len = [0u8; 4];
    f.read_exact(&mut len)?;
    let header_len = u32::from_le_bytes(len) as usize;
    if header_len > MAX_HEADER || header_len as u64 + 44 > file_len {
        return Err(bad("header larger than the file"));
    }
    let mut sha = [0u8; 32];
    f.read_exact(&mut sha)?;
    let mut header = vec![0u8; header_len];
    f.read_exact(&mut header)?;
    if <[u8; 32]>::from(Sha256::digest(&header)) != sha {
        return Err(bad("header checksum mismatch"));
    }
    let mut r = Fields(&header);
    let key = r.take::<32>()?;
    let n_past = r.i32()?;
    let n_cells = usize::try_from(r.u64()?).map_err(|_| bad("cell count"))?;
    let state_len = r.u64()?;
    let state_sha = r.take::<32>()?;
    let n_items = r.u32()? as usize;
    if n_items > header_len / 9 {
        return Err(bad("item count larger than the header"));
    }
    let mut items = Vec::with_capacity(n_items);
    for _ in 0..n_items {
        let item = match r.take::<1>()?[0] {
            0 => Item::Token(LlamaToken(r.i32()?)),
            1 => {
                let hash = ContentHash(r.take::<32>()?);
                let n_tokens = r.u32()? as usize;
                Item::Media { hash, n_tokens }
            }
            _ => return Err(bad("unknown item kind")),
        };
        items.push(SavedItem {
            item,
            pos: r.i32()?,
        });
    }
    if 44 + header_len as u64 + state_len != file_len {
        return Err(bad("file length does not match its header"));
    }
    Ok(Some((
        key,
        Entry {
            path: path.to_path_buf(),
            items,
            n_past,
            n_cells,
            state_len,
            state_sha,
        },
    )))
}

/// The state bytes of `entry`, checked against its checksum.
fn read_state(entry: &Entry) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(&entry.path)?;
    let file_len = f.metadata()?.len();
    if file_len < entry.state_len {
        return Err(bad("truncated"));
    }
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::Start(file_len - entry.state_len))?;
    let len = usize::try_from(entry.state_len).map_err(|_| bad("state too large"))?;
    let mut state = vec![0u8; len];
    f.read_exact(&mut state)?;
    if <[u8; 32]>::from(Sha256::digest(&state)) != entry.state_sha {
        return Err(bad("state checksum mismatch"));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[i32]) -> Vec<SavedItem> {
        ids.iter()
            .enumerate()
            .map(|(p, &t)| SavedItem {
                item: Item::Token(LlamaToken(t)),
                pos: p as i32,
            })
            .collect()
    }

    fn request(ids: &[i32]) -> Vec<Item> {
        ids.iter().map(|&t| Item::Token(LlamaToken(t))).collect()
    }

    #[test]
    fn a_saved_slot_is_found_by_prefix_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(&[b"model"]);
        let mut disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
        let mut items = tokens(&[1, 2, 3, 4]);
        items.push(SavedItem {
            item: Item::Media {
                hash: ContentHash([7; 32]),
                n_tokens: 64,
            },
            pos: 4,
        });
        disk.save(&items, 70, 68, b"state bytes").unwrap();
        // Reopened, as after a restart.
        let mut disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
        assert_eq!(disk.best(&request(&[1, 2, 9])), Some((0, 2)));
        assert_eq!(disk.best(&request(&[5])), None);
        let loaded = disk.load(0).unwrap();
        assert_eq!(loaded.items, items);
        assert_eq!((loaded.n_past, loaded.n_cells), (70, 68));
        assert_eq!(loaded.state, b"state bytes");
        // Another key never sees it.
        let other = KvDisk::open(dir.path(), 1 << 30, super::key(&[b"other model"])).unwrap();
        assert_eq!(other.len(), 0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_longer_save_replaces_its_prefix_and_the_budget_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(&[b"m"]);
        let state = vec![5u8; 1000];
        let mut disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
        disk.save(&tokens(&[1, 2]), 2, 2, &state).unwrap();
        disk.save(&tokens(&[1, 2, 3]), 3, 3, &state).unwrap();
        assert_eq!(disk.len(), 1, "the shorter save is covered by the longer");
        disk.save(&tokens(&[8, 9]), 2, 2, &state).unwrap();
        assert_eq!(disk.len(), 2);
        // A budget for about one file keeps the newest.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut small = KvDisk::open(dir.path(), 1500, key).unwrap();
        small.save(&tokens(&[4, 4, 4]), 3, 3, &state).unwrap();
        assert_eq!(small.len(), 1);
        assert_eq!(small.best(&request(&[4, 4])), Some((0, 2)));
    }

    #[test]
    fn damaged_files_are_removed_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let key = key(&[b"m"]);
        let mut disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
        disk.save(&tokens(&[1, 2, 3]), 3, 3, &[9u8; 4096]).unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        let good = std::fs::read(&file).unwrap();

        // A flipped bit in the state: indexed, refused at load, removed.
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::write(&file, &flipped).unwrap();
        let mut disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
        assert_eq!(disk.len(), 1);
        assert!(disk.load(0).is_err());
        assert_eq!(disk.len(), 0);
        assert!(!file.exists());

        // Truncated, garbage, or a damaged header: removed when opened.
        for bytes in [good[..good.len() - 10].to_vec(), b"garbage".to_vec(), {
            let mut h = good.clone();
            h[50] ^= 1;
            h
        }] {
            std::fs::write(&file, &bytes).unwrap();
            let disk = KvDisk::open(dir.path(), 1 << 30, key).unwrap();
            assert_eq!(disk.len(), 0);
            assert!(!file.exists());
        }
    }

    #[test]
    fn the_llama_build_named_is_the_one_locked() {
        let lock = include_str!("../../Cargo.lock");
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"llama-cpp-sys-2\""))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'))
            .unwrap();
        assert_eq!(LLAMA_BUILD, format!("llama-cpp-sys-2 {version}"));
    }
}
