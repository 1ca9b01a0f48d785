//! Hybrid search: vector neighbours (usearch) and keyword matches (FTS5
//! bm25) fused with reciprocal rank fusion, then a relevance gate so an
//! unrelated question returns nothing rather than noise.
//!
//! A candidate passes the gate when its cosine similarity to the question
//! reaches `min_similarity`, or when it contains at least `min_coverage` of
//! the question's keyword terms. Scope filters (collection, folder) apply
//! to candidates before fusion. Runs on the caller's thread: the query is
//! embedded first (on the embedder's thread), then the index lock is held
//! only for the lookups.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::db::ChunkInfo;
use super::embed::cosine;
use super::error::{RagError, Result};
use super::{fts, Rag};

/// Which retrievers to use; eval compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    Hybrid,
    Vector,
    Keyword,
}

impl SearchMode {
    /// The name used in reports (as serialized).
    pub fn name(self) -> &'static str {
        match self {
            SearchMode::Hybrid => "hybrid",
            SearchMode::Vector => "vector",
            SearchMode::Keyword => "keyword",
        }
    }
}

/// Search settings.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Results to return at most.
    pub limit: usize,
    pub mode: SearchMode,
    /// Only this collection.
    pub collection: Option<String>,
    /// Only documents at or under this path.
    pub folder: Option<PathBuf>,
    /// Cosine similarity that makes a chunk relevant on its own.
    pub min_similarity: f32,
    /// Share of keyword terms that makes a chunk relevant on its own.
    pub min_coverage: f32,
    /// Reciprocal rank fusion constant: damps the head of each list so
    /// neither retriever dominates.
    pub rrf_k: f32,
    /// Weight of the keyword ranking in the fusion (the vector ranking's is 1).
    pub keyword_weight: f32,
    /// The keyword weight instead, for a query mostly in CJK script when the
    /// embedding model does not cover it (an English-only model's vectors
    /// rank Chinese questions little better than chance).
    pub keyword_weight_uncovered: f32,
    /// Rank pages rather than chunks (see [`by_document`]): the results
    /// name as many different pages as they can.
    pub by_document: bool,
    /// With `by_document`, the share of a page's other candidate chunks'
    /// scores added to its best one's.
    pub document_weight: f32,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            limit: 8,
            mode: SearchMode::Hybrid,
            collection: None,
            folder: None,
            min_similarity: 0.35,
            min_coverage: 0.5,
            rrf_k: RRF_K,
            keyword_weight: 1.0,
            keyword_weight_uncovered: KEYWORD_WEIGHT_UNCOVERED,
            by_document: true,
            document_weight: 0.3,
        }
    }
}

impl SearchOptions {
    /// No relevance gate: rank everything (for evaluation).
    pub fn ungated(mut self) -> Self {
        self.min_similarity = f32::NEG_INFINITY;
        self.min_coverage = 0.0;
        self
    }
}

/// One result with the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub chunk: ChunkInfo,
    /// Fused score (reciprocal rank fusion); higher is better.
    pub score: f32,
    /// Cosine similarity to the question.
    pub similarity: f32,
    /// Share of keyword terms the chunk contains.
    pub coverage: f32,
    /// 1-based ranks in each retriever, when it found the chunk.
    pub vector_rank: Option<usize>,
    pub keyword_rank: Option<usize>,
}

/// The keyword weight for queries the embedding model does not cover, tuned
/// on assets/rag-eval-debian's 43 Chinese questions with all-MiniLM-L6-v2
/// (hybrid recall@1 0.23 at 1.0, 0.26 at 1.5, 0.33 at 2, 0.30 at 3, 0.28 at 5;
/// English questions are unaffected).
pub const KEYWORD_WEIGHT_UNCOVERED: f32 = 2.0;

/// The default RRF constant, tuned on assets/rag-eval-debian (60, the
/// usual choice, ranked the answering page lower).
pub const RRF_K: f32 = 10.0;

/// Weighted reciprocal rank fusion of ranked id lists: Σ w/(k + rank),
/// best first; ties keep the earlier list's order.
pub fn fuse(lists: &[(&[i64], f32)], k: f32) -> Vec<(i64, f32)> {
    let mut scores: HashMap<i64, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for (list, weight) in lists {
        for (rank, id) in list.iter().enumerate() {
            let e = scores.entry(*id).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            e.0 += weight / (k + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(i64, f32, usize)> =
        scores.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

impl Rag {
    /// Search the index; see the module docs.
    ///
    /// # Errors
    /// `InvalidRequest` for an empty query; embedding, SQLite and vector
    /// failures.
    pub fn search(&self, query: &str, options: &SearchOptions) -> Result<Vec<SearchHit>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(RagError::InvalidRequest("the search query is empty".into()));
        }
        let q = self
            .embedder
            .embed(&[query])?
            .pop()
            .ok_or(RagError::EmbedderStopped)?;
        let terms = fts::terms(query);
        let filtered = options.collection.is_some() || options.folder.is_some();
        let pool = if filtered {
            500
        } else {
            (options.limit * 6).max(50)
        };
        let inner = self.lock();
        let vec_hits = if options.mode != SearchMode::Keyword {
            inner.vectors.search(&q, pool)?
        } else {
            Vec::new()
        };
        let kw_hits = if options.mode != SearchMode::Vector {
            fts::search(&inner.db, &terms, pool)?
        } else {
            Vec::new()
        };
        let mut ids: Vec<i64> = vec_hits.iter().map(|h| h.0).collect();
        ids.extend(
            kw_hits
                .iter()
                .map(|h| h.0)
                .filter(|id| !vec_hits.iter().any(|v| v.0 == *id)),
        );
        let infos: HashMap<i64, ChunkInfo> = inner
            .db
            .chunks(&ids)?
            .into_iter()
            .filter(|c| in_scope(c, options))
            .map(|c| (c.id, c))
            .collect();
        let mut similarity: HashMap<i64, f32> = vec_hits.iter().copied().collect();
        let missing: Vec<i64> = infos
            .keys()
            .filter(|id| !similarity.contains_key(id))
            .copied()
            .collect();
        for (id, v) in inner.db.vectors_of(&missing)? {
            similarity.insert(id, cosine(&q, &v));
        }
        drop(inner);
        let vec_ids: Vec<i64> = vec_hits
            .iter()
            .map(|h| h.0)
            .filter(|id| infos.contains_key(id))
            .collect();
        let kw_ids: Vec<i64> = kw_hits
            .iter()
            .map(|h| h.0)
            .filter(|id| infos.contains_key(id))
            .collect();
        let keyword_weight = if fts::mostly_cjk(query) && !self.embedder.covers_cjk() {
            options.keyword_weight_uncovered
        } else {
            options.keyword_weight
        };
        let mut fused = fuse(
            &[(&vec_ids, 1.0), (&kw_ids, keyword_weight)],
            options.rrf_k.max(0.0),
        );
        if options.by_document {
            fused = by_document(fused, &infos, options.document_weight);
        }
        let ungated = options.min_similarity == f32::NEG_INFINITY;
        let mut out = Vec::new();
        for (id, score) in fused {
            let Some(chunk) = infos.get(&id) else {
                continue;
            };
            let sim = similarity.get(&id).copied().unwrap_or(0.0);
            let cov = fts::coverage(&terms, &format!("{}\n{}", chunk.heading, chunk.text));
            let relevant = ungated
                || sim >= options.min_similarity
                || (!terms.is_empty() && options.min_coverage > 0.0 && cov >= options.min_coverage);
            if !relevant {
                continue;
            }
            out.push(SearchHit {
                chunk: chunk.clone(),
                score,
                similarity: sim,
                coverage: cov,
                vector_rank: vec_ids.iter().position(|x| *x == id).map(|p| p + 1),
                keyword_rank: kw_ids.iter().position(|x| *x == id).map(|p| p + 1),
            });
            if out.len() >= options.limit {
                break;
            }
        }
        Ok(out)
    }
}

/// Rank pages, not only chunks: a page scores its best chunk plus `weight`
/// × the rest of its candidates, so a page with several strong chunks beats
/// a page with one. The list then takes each page's best chunk in page
/// order, then each page's second best, and so on: the head of the results
/// names as many different pages as it can.
fn by_document(
    fused: Vec<(i64, f32)>,
    infos: &HashMap<i64, ChunkInfo>,
    weight: f32,
) -> Vec<(i64, f32)> {
    // (page, its score, its chunks), in order of the best chunk (fused is
    // sorted best first).
    type Page = (i64, f32, Vec<(i64, f32)>);
    let mut pages: Vec<Page> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for (id, score) in fused {
        let Some(c) = infos.get(&id) else { continue };
        let i = *index.entry(c.document_id).or_insert_with(|| {
            pages.push((c.document_id, score, Vec::new()));
            pages.len() - 1
        });
        if !pages[i].2.is_empty() {
            pages[i].1 += weight * score;
        }
        pages[i].2.push((id, score));
    }
    // Stable: ties keep the order of the best chunks.
    pages.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut out = Vec::new();
    let mut round = 0;
    loop {
        let before = out.len();
        for (_, page_score, chunks) in &pages {
            if let Some((id, _)) = chunks.get(round) {
                out.push((*id, *page_score));
            }
        }
        if out.len() == before {
            return out;
        }
        round += 1;
    }
}

fn in_scope(c: &ChunkInfo, options: &SearchOptions) -> bool {
    if let Some(col) = &options.collection {
        if &c.collection != col {
            return false;
        }
    }
    if let Some(folder) = &options.folder {
        if !c.path.starts_with(folder) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let fused = fuse(&[(&[1, 2, 3], 1.0), (&[3, 4, 1], 1.0)], RRF_K);
        let ids: Vec<i64> = fused.iter().map(|f| f.0).collect();
        // 1 (ranks 1 and 3) and 3 (ranks 3 and 1) beat singles.
        assert_eq!(&ids[..2], &[1, 3]);
        assert_eq!(ids.len(), 4);
    }

    fn info(id: i64, document_id: i64) -> ChunkInfo {
        ChunkInfo {
            id,
            document_id,
            collection: "default".into(),
            path: PathBuf::from(format!("/d/{document_id}.md")),
            ord: id,
            text: String::new(),
            heading: String::new(),
            page: None,
            line_start: None,
            line_end: None,
        }
    }

    #[test]
    fn pages_with_several_strong_chunks_come_first_and_the_head_names_distinct_pages() {
        // Chunk 1 (page 10) is the single best chunk; page 20 has three
        // good ones.
        let infos: HashMap<i64, ChunkInfo> = [(1, 10), (2, 20), (3, 20), (4, 20), (5, 30), (6, 10)]
            .into_iter()
            .map(|(id, doc)| (id, info(id, doc)))
            .collect();
        let fused = vec![(1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7), (5, 0.6), (6, 0.1)];
        let ids = |v: Vec<(i64, f32)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        // Page 20: 0.9 + 0.3 × 1.5 = 1.35 beats page 10: 1.0 + 0.3 × 0.1.
        assert_eq!(
            ids(by_document(fused.clone(), &infos, 0.3)),
            [2, 1, 5, 3, 6, 4]
        );
        // Without the weight, pages keep the order of their best chunks.
        assert_eq!(ids(by_document(fused, &infos, 0.0)), [1, 2, 5, 6, 3, 4]);
    }

    #[test]
    fn a_mode_is_named_as_it_is_serialized() {
        for m in [SearchMode::Hybrid, SearchMode::Vector, SearchMode::Keyword] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
        }
    }

    #[test]
    fn fusion_of_one_list_keeps_its_order() {
        let fused = fuse(&[(&[5, 9, 7], 1.0), (&[], 1.0)], RRF_K);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), vec![5, 9, 7]);
    }
}
