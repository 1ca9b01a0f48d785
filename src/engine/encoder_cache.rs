//! Encoder output (the embeddings an image or audio chunk becomes) kept by
//! content hash, so that when the KV cache had to be rebuilt (history
//! edited before the picture, a new conversation with the same clip) the
//! vision/audio encoder, the expensive part, does not run again.
//!
//! Bounded by bytes; when full, the least recently used entries go first.
//! Owned by the projector on the engine thread, so it needs no locking.

use std::collections::HashMap;

use crate::media::ContentHash;

/// Default memory for cached encoder output: about 17 images of 1024
/// tokens for a 7B model (3584 floats per token), or hundreds of small ones.
pub const DEFAULT_BYTES: usize = 256 << 20;

/// One encoded media chunk: a clip over 30 s is several chunks, each
/// cached (and evicted) on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub media: ContentHash,
    /// Index of the chunk among the media's preprocessed chunks.
    pub chunk: usize,
}

#[derive(Debug)]
struct Entry {
    embd: Vec<f32>,
    n_tokens: usize,
    last_used: u64,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.embd.len() * std::mem::size_of::<f32>()
    }
}

/// Embeddings by [`Key`], at most `budget` bytes of them.
#[derive(Debug)]
pub(crate) struct EncoderCache {
    entries: HashMap<Key, Entry>,
    budget: usize,
    used: usize,
    /// Monotonic use counter; the smallest `last_used` is evicted first.
    clock: u64,
}

impl EncoderCache {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            entries: HashMap::new(),
            budget,
            used: 0,
            clock: 0,
        }
    }

    /// The embeddings of `key` for `n_tokens` tokens, marked as just used.
    /// An entry recorded with another token count (cannot happen for the
    /// same projector, but never decode a mismatched buffer) is a miss.
    pub(crate) fn get(&mut self, key: &Key, n_tokens: usize) -> Option<&mut [f32]> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        if entry.n_tokens != n_tokens {
            return None;
        }
        entry.last_used = clock;
        Some(&mut entry.embd)
    }

    /// Keep `embd` for `key`, evicting the least recently used entries
    /// until it fits. Returns false (and keeps nothing) when it alone is
    /// larger than the whole budget.
    pub(crate) fn insert(&mut self, key: Key, embd: Vec<f32>, n_tokens: usize) -> bool {
        self.clock += 1;
        let entry = Entry {
            embd,
            n_tokens,
            last_used: self.clock,
        };
        let size = entry.bytes();
        if let Some(old) = self.entries.remove(&key) {
            self.used -= old.bytes();
        }
        if size > self.budget {
            return false;
        }
        while self.used + size > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.used -= e.bytes();
            }
        }
        self.used += size;
        self.entries.insert(key, entry);
        true
    }

    /// Bytes of embeddings held.
    pub(crate) fn bytes(&self) -> usize {
        self.used
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8, chunk: usize) -> Key {
        Key {
            media: ContentHash([n; 32]),
            chunk,
        }
    }

    /// `floats` f32 values (4 bytes each), tagged with `tag`.
    fn embd(floats: usize, tag: f32) -> Vec<f32> {
        vec![tag; floats]
    }

    #[test]
    fn a_stored_entry_comes_back_unchanged() {
        let mut c = EncoderCache::new(1024);
        assert!(c.insert(key(1, 0), embd(8, 1.5), 2));
        assert_eq!(c.get(&key(1, 0), 2).unwrap(), &[1.5; 8][..]);
        assert!(
            c.get(&key(1, 1), 2).is_none(),
            "another chunk of the same media"
        );
        assert!(c.get(&key(2, 0), 2).is_none());
        assert_eq!(c.bytes(), 32);
    }

    #[test]
    fn a_token_count_mismatch_is_a_miss() {
        let mut c = EncoderCache::new(1024);
        c.insert(key(1, 0), embd(8, 1.0), 2);
        assert!(c.get(&key(1, 0), 4).is_none());
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted_first() {
        // Room for three entries of 16 bytes.
        let mut c = EncoderCache::new(48);
        for n in 1..=3 {
            assert!(c.insert(key(n, 0), embd(4, f32::from(n)), 1));
        }
        // Touch the oldest, so the second becomes the least recently used.
        assert!(c.get(&key(1, 0), 1).is_some());
        assert!(c.insert(key(4, 0), embd(4, 4.0), 1));
        assert_eq!(c.len(), 3);
        assert!(c.get(&key(2, 0), 1).is_none(), "evicted");
        for n in [1, 3, 4] {
            assert!(c.get(&key(n, 0), 1).is_some(), "{n} kept");
        }
        assert_eq!(c.bytes(), 48);
    }

    #[test]
    fn a_large_entry_evicts_as_many_as_it_needs() {
        let mut c = EncoderCache::new(64);
        for n in 1..=4 {
            c.insert(key(n, 0), embd(4, 0.0), 1);
        }
        assert!(c.insert(key(9, 0), embd(12, 9.0), 3));
        assert_eq!(c.len(), 2, "three 16-byte entries made room for 48 bytes");
        assert!(c.get(&key(4, 0), 1).is_some(), "the newest small one stays");
        assert!(c.bytes() <= 64);
    }

    #[test]
    fn an_entry_over_the_budget_is_not_kept_and_evicts_nothing() {
        let mut c = EncoderCache::new(32);
        c.insert(key(1, 0), embd(4, 1.0), 1);
        assert!(!c.insert(key(2, 0), embd(9, 2.0), 1));
        assert!(c.get(&key(2, 0), 1).is_none());
        assert!(c.get(&key(1, 0), 1).is_some());
        assert_eq!(c.bytes(), 16);
    }

    #[test]
    fn replacing_a_key_does_not_count_it_twice() {
        let mut c = EncoderCache::new(32);
        c.insert(key(1, 0), embd(4, 1.0), 1);
        c.insert(key(1, 0), embd(4, 2.0), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), 16);
        assert_eq!(c.get(&key(1, 0), 1).unwrap()[0], 2.0);
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let mut c = EncoderCache::new(0);
        assert!(!c.insert(key(1, 0), embd(1, 1.0), 1));
        assert_eq!(c.len(), 0);
    }
}
