//! The vector index (`<data_dir>/rag/vectors.usearch`): an HNSW graph from
//! `usearch`, cosine metric, vectors stored as f16, keyed by chunk id.
//!
//! It is a cache of what SQLite holds: every vector is also a blob in the
//! `chunks` table. A small sidecar (`vectors.usearch.json`) records the
//! model, dimension and a fingerprint (count and id sum) of the chunk set
//! the file was saved for; a missing, stale or unreadable file is rebuilt
//! from SQLite without re-embedding. The sidecar is removed before the
//! first change of a run, so a process killed mid-ingest is detected.
//!
//! Threading: `usearch::Index` is `Send + Sync`; [`super::Rag`] keeps this
//! behind its mutex, so adds, removes and saves never race.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::db::Db;
use super::error::{RagError, Result};

/// What the sidecar says about the saved index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sidecar {
    model: String,
    dimension: usize,
    count: u64,
    id_sum: u64,
}

/// usearch index plus where it is saved. See the module docs.
pub struct VectorIndex {
    index: Index,
    dimension: usize,
    path: PathBuf,
    dirty: bool,
}

impl std::fmt::Debug for VectorIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorIndex")
            .field("path", &self.path)
            .field("dimension", &self.dimension)
            .field("size", &self.index.size())
            .finish()
    }
}

fn verr(e: impl std::fmt::Display) -> RagError {
    RagError::Vector(e.to_string())
}

fn new_index(dimension: usize) -> Result<Index> {
    let options = IndexOptions {
        dimensions: dimension,
        metric: MetricKind::Cos,
        quantization: ScalarKind::F16,
        connectivity: 0,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
    };
    let index = Index::new(&options).map_err(verr)?;
    index.reserve(1024).map_err(verr)?;
    Ok(index)
}

impl VectorIndex {
    /// Load the saved index when its sidecar matches SQLite, otherwise
    /// rebuild it from the vectors stored in SQLite. Returns whether it was
    /// rebuilt.
    ///
    /// # Errors
    /// SQLite failures, or usearch refusing to build an index.
    pub fn open(path: &Path, dimension: usize, model: &str, db: &Db) -> Result<(Self, bool)> {
        let (count, id_sum) = db.vector_fingerprint()?;
        let want = Sidecar {
            model: model.to_string(),
            dimension,
            count,
            id_sum,
        };
        let sidecar = std::fs::read(sidecar_path(path))
            .ok()
            .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok());
        crate::private_file::restrict(path)?;
        if sidecar.as_ref() == Some(&want) {
            let index = new_index(dimension)?;
            let loaded = index
                .load(&path.to_string_lossy())
                .ok()
                .filter(|_| index.size() as u64 == count && index.dimensions() == dimension);
            if loaded.is_some() {
                return Ok((
                    Self {
                        index,
                        dimension,
                        path: path.to_path_buf(),
                        dirty: false,
                    },
                    false,
                ));
            }
            tracing::warn!("vector index {} is unreadable; rebuilding", path.display());
        }
        let mut this = Self {
            index: new_index(dimension)?,
            dimension,
            path: path.to_path_buf(),
            dirty: true,
        };
        this.index
            .reserve(usize::try_from(count).unwrap_or(0).max(1024))
            .map_err(verr)?;
        db.for_each_vector(|id, v| this.add(id, &v))?;
        this.save(model, db)?;
        Ok((this, true))
    }

    /// Vectors held.
    pub fn len(&self) -> usize {
        self.index.size()
    }

    /// True when no vector is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a chunk's vector is present.
    pub fn contains(&self, id: i64) -> bool {
        self.index.contains(id as u64)
    }

    /// Mark the saved file stale before the first change, so a crash
    /// before [`VectorIndex::save`] forces a rebuild.
    fn begin_change(&mut self) {
        if !self.dirty {
            let _ = std::fs::remove_file(sidecar_path(&self.path));
            self.dirty = true;
        }
    }

    /// Add (or replace) a chunk's vector.
    ///
    /// # Errors
    /// `Dimension` for a vector of the wrong length; `Vector` if usearch fails.
    pub fn add(&mut self, id: i64, v: &[f32]) -> Result<()> {
        if v.len() != self.dimension {
            return Err(RagError::Dimension {
                expected: self.dimension,
                found: v.len(),
            });
        }
        self.begin_change();
        let key = id as u64;
        if self.index.contains(key) {
            self.index.remove(key).map_err(verr)?;
        }
        if self.index.size() + 1 >= self.index.capacity() {
            let grow = (self.index.capacity() * 2).max(1024);
            self.index.reserve(grow).map_err(verr)?;
        }
        self.index.add(key, v).map_err(verr)
    }

    /// Remove chunks' vectors (absent ids are ignored).
    ///
    /// # Errors
    /// `Vector` if usearch fails.
    pub fn remove(&mut self, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.begin_change();
        for id in ids {
            self.index.remove(*id as u64).map_err(verr)?;
        }
        Ok(())
    }

    /// Drop every vector (the embedding model changed).
    ///
    /// # Errors
    /// `Vector` if usearch fails.
    pub fn clear(&mut self) -> Result<()> {
        self.begin_change();
        self.index = new_index(self.dimension)?;
        Ok(())
    }

    /// The `k` nearest chunks as (chunk id, cosine similarity), best first.
    ///
    /// # Errors
    /// `Dimension` for a query of the wrong length; `Vector` if usearch fails.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(i64, f32)>> {
        if query.len() != self.dimension {
            return Err(RagError::Dimension {
                expected: self.dimension,
                found: query.len(),
            });
        }
        if self.index.size() == 0 || k == 0 {
            return Ok(Vec::new());
        }
        let m = self.index.search(query, k).map_err(verr)?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .map(|(k, d)| (*k as i64, 1.0 - d))
            .collect())
    }

    /// Approximate bytes of memory the index uses.
    pub fn memory_bytes(&self) -> usize {
        self.index.memory_usage()
    }

    /// Write the index (atomically: temp file, then rename) and its sidecar.
    ///
    /// # Errors
    /// `Io` or `Vector` when writing fails.
    pub fn save(&mut self, model: &str, db: &Db) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let (count, id_sum) = db.vector_fingerprint()?;
        let tmp = crate::private_file::temp_beside(&self.path)?;
        self.index.save(&tmp.to_string_lossy()).map_err(verr)?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        let side = Sidecar {
            model: model.to_string(),
            dimension: self.dimension,
            count,
            id_sum,
        };
        crate::private_file::write_private(
            &sidecar_path(&self.path),
            &serde_json::to_vec(&side).map_err(|e| RagError::Vector(e.to_string()))?,
        )?;
        self.dirty = false;
        Ok(())
    }
}

fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_neighbour_is_found_and_removed() {
        let mut v = VectorIndex {
            index: new_index(3).unwrap(),
            dimension: 3,
            path: PathBuf::from("/nonexistent/v.usearch"),
            dirty: true,
        };
        v.add(1, &[1.0, 0.0, 0.0]).unwrap();
        v.add(2, &[0.0, 1.0, 0.0]).unwrap();
        let hits = v.search(&[0.9, 0.1, 0.0], 1).unwrap();
        assert_eq!(hits[0].0, 1);
        assert!(hits[0].1 > 0.9);
        v.remove(&[1]).unwrap();
        assert_eq!(v.search(&[0.9, 0.1, 0.0], 2).unwrap()[0].0, 2);
        assert!(matches!(v.add(3, &[1.0]), Err(RagError::Dimension { .. })));
    }
}
