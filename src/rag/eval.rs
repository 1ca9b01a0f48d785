//! Retrieval quality on a question set: recall@1/5/10 and MRR per search
//! mode and per language, time per query, and how honest the relevance gate
//! is (questions whose answer is not in the documents should find nothing;
//! the others should not be refused).
//!
//! A question set is JSON lines:
//! `{"question", "sources": [path suffixes of the answering pages], "lang"?,
//! "absent"?, "contains"?}` (the older `"source": "file"` is read too). A hit
//! is right when its file's path ends with one of the sources (whole path
//! components) and, when `contains` is given, its chunk holds that text. Runs
//! on the caller's thread.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::error::{RagError, Result};
use super::search::{SearchMode, SearchOptions};
use super::Rag;

/// One question of the set.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalItem {
    pub question: String,
    /// Path suffixes of the pages that answer it.
    #[serde(default)]
    pub sources: Vec<String>,
    /// The older single-source form.
    #[serde(default)]
    source: Option<String>,
    /// Text the right chunk holds, when a page has several chunks.
    #[serde(default)]
    pub contains: Option<String>,
    /// Language tag for the per-language figures (`en`, `zh`…).
    #[serde(default)]
    pub lang: Option<String>,
    /// Nothing in the documents answers it: the gate should refuse it.
    #[serde(default)]
    pub absent: bool,
}

impl EvalItem {
    fn lang(&self) -> &str {
        self.lang.as_deref().unwrap_or("all")
    }
}

/// Read a question set (JSON lines; blank lines ignored).
///
/// # Errors
/// `InvalidRequest` naming the line that does not parse, or a set with no
/// answerable question; `Io` when the file cannot be read.
pub fn load(path: &Path) -> Result<Vec<EvalItem>> {
    let text = std::fs::read_to_string(path)?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut item: EvalItem = serde_json::from_str(line).map_err(|e| {
            RagError::InvalidRequest(format!("{} line {}: {e}", path.display(), i + 1))
        })?;
        if let Some(s) = item.source.take() {
            item.sources.push(s);
        }
        if !item.absent && item.sources.is_empty() {
            return Err(RagError::InvalidRequest(format!(
                "{} line {}: a question needs its sources or \"absent\": true",
                path.display(),
                i + 1
            )));
        }
        items.push(item);
    }
    if !items.iter().any(|i| !i.absent) {
        return Err(RagError::InvalidRequest(format!(
            "{} has no answerable question",
            path.display()
        )));
    }
    Ok(items)
}

/// Recall and MRR over some questions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scores {
    pub questions: usize,
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    pub mrr: f64,
}

impl Scores {
    fn add(&mut self, rank: Option<usize>) {
        self.questions += 1;
        if let Some(r) = rank {
            self.recall_1 += f64::from(r <= 1);
            self.recall_5 += f64::from(r <= 5);
            self.recall_10 += f64::from(r <= 10);
            self.mrr += 1.0 / r as f64;
        }
    }

    fn finish(mut self) -> Self {
        let n = self.questions.max(1) as f64;
        self.recall_1 /= n;
        self.recall_5 /= n;
        self.recall_10 /= n;
        self.mrr /= n;
        self
    }
}

/// One search mode's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    /// Every answerable question.
    pub all: Scores,
    /// Per language tag.
    pub by_lang: BTreeMap<String, Scores>,
    pub query_ms_mean: f64,
    pub query_ms_p95: f64,
}

/// The relevance gate on the default (gated) hybrid search.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GateReport {
    /// Questions the documents do not answer…
    pub absent: usize,
    /// … for which the search found nothing, as it should.
    pub absent_refused: usize,
    /// Answerable questions for which the gated search found nothing.
    pub present_refused: usize,
    /// Answerable questions whose page is among the gated results.
    pub present_found: usize,
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub questions: usize,
    pub modes: BTreeMap<String, ModeReport>,
    pub gate: GateReport,
}

/// The value at share `p` (0..=1) of `sorted` (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// 1-based rank of the first hit that answers `item`.
fn rank_of(item: &EvalItem, hits: &[super::SearchHit]) -> Option<usize> {
    hits.iter()
        .position(|h| {
            item.sources.iter().any(|s| h.chunk.path.ends_with(s))
                && item
                    .contains
                    .as_ref()
                    .is_none_or(|c| h.chunk.text.contains(c.as_str()))
        })
        .map(|p| p + 1)
}

/// Run every question through each of `modes` (ungated, top 10) and the
/// gated default search; see the module docs. `base` supplies the tuning
/// (fusion, document weight); its mode, limit and gate are set here.
///
/// # Errors
/// Embedding and index failures.
pub fn evaluate(
    rag: &Rag,
    items: &[EvalItem],
    modes: &[SearchMode],
    base: &SearchOptions,
) -> Result<EvalReport> {
    let present: Vec<&EvalItem> = items.iter().filter(|i| !i.absent).collect();
    let mut reports = BTreeMap::new();
    for &mode in modes {
        let options = SearchOptions {
            limit: 10,
            mode,
            ..base.clone()
        }
        .ungated();
        let mut all = Scores::default();
        let mut by_lang: BTreeMap<String, Scores> = BTreeMap::new();
        let mut ms = Vec::with_capacity(present.len());
        for item in &present {
            let t = Instant::now();
            let hits = rag.search(&item.question, &options)?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let rank = rank_of(item, &hits);
            all.add(rank);
            by_lang
                .entry(item.lang().to_string())
                .or_default()
                .add(rank);
        }
        ms.sort_by(f64::total_cmp);
        let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
        let p95 = percentile(&ms, 0.95);
        reports.insert(
            mode.name().to_string(),
            ModeReport {
                all: all.finish(),
                by_lang: by_lang.into_iter().map(|(k, v)| (k, v.finish())).collect(),
                query_ms_mean: mean,
                query_ms_p95: p95,
            },
        );
    }
    let gated = SearchOptions {
        mode: SearchMode::Hybrid,
        ..base.clone()
    };
    let mut gate = GateReport::default();
    for item in items {
        let hits = rag.search(&item.question, &gated)?;
        if item.absent {
            gate.absent += 1;
            gate.absent_refused += usize::from(hits.is_empty());
        } else if hits.is_empty() {
            gate.present_refused += 1;
        } else if rank_of(item, &hits).is_some() {
            gate.present_found += 1;
        }
    }
    Ok(EvalReport {
        questions: present.len(),
        modes: reports,
        gate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_set_reads_both_forms_and_refuses_a_question_without_sources() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("qa.jsonl");
        std::fs::write(
            &p,
            concat!(
                "{\"question\": \"a\", \"source\": \"x.md\"}\n\n",
                "{\"question\": \"b\", \"sources\": [\"d/y.html\", \"z.html\"], \"lang\": \"zh\"}\n",
                "{\"question\": \"c\", \"absent\": true}\n"
            ),
        )
        .unwrap();
        let items = load(&p).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].sources, vec!["x.md"]);
        assert_eq!(items[1].lang(), "zh");
        assert!(items[2].absent);
        std::fs::write(&p, "{\"question\": \"a\"}\n").unwrap();
        let err = load(&p).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn scores_count_ranks() {
        let mut s = Scores::default();
        s.add(Some(1));
        s.add(Some(4));
        s.add(None);
        s.add(Some(10));
        let s = s.finish();
        assert_eq!(s.recall_1, 0.25);
        assert_eq!(s.recall_5, 0.5);
        assert_eq!(s.recall_10, 0.75);
        assert!((s.mrr - (1.0 + 0.25 + 0.1) / 4.0).abs() < 1e-9);
    }
}
