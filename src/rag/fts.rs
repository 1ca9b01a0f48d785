//! Keyword search over the FTS5 table `chunks_fts` (trigram tokenizer, so
//! any 3-character substring matches, Chinese and Japanese included).
//!
//! A question becomes an OR of quoted terms: Latin words of 3+ letters
//! (minus common question words), and every 3-character window of each CJK
//! run, since CJK text has no spaces to find words by. Results are ranked
//! by FTS5's bm25. Runs on the caller's thread with the [`super::db::Db`]
//! connection it is given.

use super::db::Db;
use super::error::Result;

/// English words too common to say anything about relevance.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
    "one", "our", "out", "has", "have", "how", "what", "when", "where", "which", "who", "why",
    "with", "this", "that", "these", "those", "from", "into", "does", "did", "its", "about",
    "there", "their", "they", "them", "then", "than", "will", "would", "should", "could", "your",
    "yours", "been", "being", "were", "is", "of", "to", "in", "a", "an", "do", "it", "on", "at",
    "be", "as", "by", "or", "if", "so", "my", "me", "we", "us", "tell", "please", "explain",
    "describe", "much", "many", "some", "more", "most", "also", "just", "only", "other",
];

/// The distinct search terms of `query`, lower-cased; see the module docs.
pub fn terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_word = |w: &mut String, push: &mut dyn FnMut(String)| {
        let lw = w.to_lowercase();
        if lw.chars().count() >= 3 && !STOPWORDS.contains(&lw.as_str()) {
            push(lw);
        }
        w.clear();
    };
    let flush_cjk = |run: &mut Vec<char>, push: &mut dyn FnMut(String)| {
        if run.len() >= 3 {
            for w in run.windows(3) {
                push(w.iter().collect());
            }
        }
        run.clear();
    };
    for c in query.chars() {
        if is_cjk_letter(c) {
            flush_word(&mut word, &mut push);
            cjk.push(c);
        } else if c.is_alphanumeric() || c == '_' {
            flush_cjk(&mut cjk, &mut push);
            word.push(c);
        } else {
            flush_word(&mut word, &mut push);
            flush_cjk(&mut cjk, &mut push);
        }
    }
    flush_word(&mut word, &mut push);
    flush_cjk(&mut cjk, &mut push);
    out
}

/// CJK ideographs, kana and Hangul syllables (not CJK punctuation).
pub(crate) fn is_cjk_letter(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// The FTS5 MATCH expression for `terms`: each quoted (so no term can be
/// read as FTS syntax), joined with OR.
fn match_expr(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Up to `k` chunk ids matching `terms`, best bm25 first, with the score
/// (higher is better).
///
/// # Errors
/// SQLite failures.
pub fn search(db: &Db, terms: &[String], k: usize) -> Result<Vec<(i64, f64)>> {
    if terms.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = db.conn().prepare_cached(
        "SELECT rowid, bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH ?1
         ORDER BY score LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![match_expr(terms), k as i64], |r| {
        Ok((r.get::<_, i64>(0)?, -r.get::<_, f64>(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Share of `terms` that occur in `text` (case-insensitive substring).
pub fn coverage(terms: &[String], text: &str) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let lower = text.to_lowercase();
    let hit = terms.iter().filter(|t| lower.contains(t.as_str())).count();
    hit as f32 / terms.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_terms_drop_stopwords_and_short_words() {
        assert_eq!(
            terms("What is the refund policy for EU orders?"),
            vec!["refund", "policy", "orders"]
        );
    }

    #[test]
    fn cjk_runs_become_trigram_windows() {
        assert_eq!(terms("全文检索 how"), vec!["全文检", "文检索"]);
        assert!(terms("北京").is_empty());
    }

    #[test]
    fn quotes_cannot_break_the_match_syntax() {
        assert_eq!(match_expr(&["a\"b".into()]), "\"a\"\"b\"");
    }
}
