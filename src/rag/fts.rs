//! Keyword search over two FTS5 tables: `chunks_words` (unicode61 words)
//! for space-separated scripts, and `chunks_fts` (trigram, so any
//! 3-character substring matches) for CJK and other scripts written
//! without spaces.
//!
//! A question becomes terms: words of 3+ letters (minus common question
//! words), and every 3-character window of each CJK run, since CJK text has
//! no spaces to find words by. Words are matched as prefixes in the word
//! index (`backup` finds "backups"), minus words so common in this index
//! that they say nothing ([`COMMON_SHARE`]); the rest go to the trigram
//! index. Each side is ranked by FTS5's bm25 and the two rankings are
//! interleaved. Runs on the caller's thread with the [`super::db::Db`]
//! connection it is given.
//!
//! Why two indexes: a trigram's document list is huge for common letter
//! triples, so at 100k chunks a trigram OR query scored most of the index
//! (p95 over 100 ms); word lists are short.

use rusqlite::OptionalExtension;

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
/// True when at least half of `text`'s letters and digits are CJK.
pub(crate) fn mostly_cjk(text: &str) -> bool {
    let (mut cjk, mut all) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphanumeric()) {
        all += 1;
        cjk += usize::from(is_cjk_letter(c));
    }
    all > 0 && cjk * 2 >= all
}

pub(crate) fn is_cjk_letter(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A word found in more than this share of chunks is dropped from the
/// word query (it would make bm25 score most of the index and barely
/// changes the ranking)…
pub const COMMON_SHARE: f64 = 0.05;
/// … but only in indexes big enough for that to cost: below this many
/// documents per word nothing is dropped.
const COMMON_MIN_DOCS: i64 = 2_000;

/// Scripts written without spaces between words, which the word index
/// cannot split: CJK plus Thai, Lao, Myanmar and Khmer.
fn needs_trigrams(term: &str) -> bool {
    term.chars().any(|c| {
        is_cjk_letter(c) || matches!(c as u32, 0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF)
    })
}

/// The FTS5 MATCH expression for `terms`: each quoted (so no term can be
/// read as FTS syntax), `*` making it a prefix, joined with OR.
fn match_expr(terms: &[&str], prefix: bool) -> String {
    terms
        .iter()
        .map(|t| {
            let star = if prefix { "*" } else { "" };
            format!("\"{}\"{star}", t.replace('"', "\"\""))
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Up to `k` chunk ids matching `terms`, best first, with a score (higher
/// is better; bm25 within each index, interleaved across the two).
///
/// # Errors
/// SQLite failures.
pub fn search(db: &Db, terms: &[String], k: usize) -> Result<Vec<(i64, f64)>> {
    if terms.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let (tri, words): (Vec<&str>, Vec<&str>) = terms
        .iter()
        .map(String::as_str)
        .partition(|t| needs_trigrams(t));
    let words = informative(db, &words)?;
    let by_words = ranked(
        db,
        "chunks_words",
        &match_expr(&words, true),
        words.len(),
        k,
    )?;
    let by_tri = ranked(db, "chunks_fts", &match_expr(&tri, false), tri.len(), k)?;
    if by_tri.is_empty() {
        return Ok(by_words);
    }
    if by_words.is_empty() {
        return Ok(by_tri);
    }
    // Mixed-script question: alternate the two rankings, keeping firsts.
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(k);
    let (mut a, mut b) = (by_words.into_iter(), by_tri.into_iter());
    while out.len() < k {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            break;
        }
        for (id, score) in x.into_iter().chain(y) {
            if out.len() < k && !out.iter().any(|(o, _)| *o == id) {
                out.push((id, score));
            }
        }
    }
    Ok(out)
}

/// `words` minus those in more than [`COMMON_SHARE`] of all chunks (and
/// more than [`COMMON_MIN_DOCS`]); the rarest word always stays.
fn informative<'a>(db: &Db, words: &[&'a str]) -> Result<Vec<&'a str>> {
    if words.len() < 2 {
        return Ok(words.to_vec());
    }
    let total: i64 = db
        .conn()
        .prepare_cached("SELECT COUNT(*) FROM chunks")?
        .query_row([], |r| r.get(0))?;
    let limit = ((total as f64 * COMMON_SHARE) as i64).max(COMMON_MIN_DOCS);
    let mut stmt = db
        .conn()
        .prepare_cached("SELECT doc FROM chunks_words_vocab WHERE term = ?1")?;
    let mut counted = Vec::with_capacity(words.len());
    for w in words {
        // The tokenizer folds case and diacritics; terms are lower-case
        // already, so exact lookups find plain words. Anything else
        // (diacritics) counts as rare and stays.
        let docs: i64 = stmt.query_row([w], |r| r.get(0)).optional()?.unwrap_or(0);
        counted.push((docs, *w));
    }
    let rarest = counted.iter().min_by_key(|(d, _)| *d).map(|(_, w)| *w);
    Ok(counted
        .iter()
        .filter(|(d, w)| *d <= limit || Some(*w) == rarest)
        .map(|(_, w)| *w)
        .collect())
}

/// Up to `k` rows of `table` matching `expr`, best bm25 first.
fn ranked(db: &Db, table: &str, expr: &str, n_terms: usize, k: usize) -> Result<Vec<(i64, f64)>> {
    if n_terms == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = db.conn().prepare_cached(&format!(
        "SELECT rowid, bm25({table}) AS score FROM {table} WHERE {table} MATCH ?1
         ORDER BY score LIMIT ?2"
    ))?;
    let rows = stmt.query_map(rusqlite::params![expr, k as i64], |r| {
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
        assert_eq!(match_expr(&["a\"b"], false), "\"a\"\"b\"");
        assert_eq!(match_expr(&["ab", "cd"], true), "\"ab\"* OR \"cd\"*");
    }

    #[test]
    fn only_unspaced_scripts_use_trigrams() {
        assert!(needs_trigrams("全文检"));
        assert!(needs_trigrams("ภาษาไทย"));
        assert!(!needs_trigrams("café"));
        assert!(!needs_trigrams("привет"));
    }

    #[test]
    fn a_query_is_cjk_when_half_its_letters_are() {
        assert!(mostly_cjk("如何用 apt 安装软件包"));
        assert!(!mostly_cjk("How do I install a package with apt?"));
        assert!(!mostly_cjk("apt-get install 包"));
        assert!(!mostly_cjk("?!"));
    }
}
