//! The architecture as a test: reads the library's sources and fails on an
//! import that breaks the layers. A question flows one way — front end →
//! turn → rag / engine / tools / store → events → UI — so:
//!
//! - `engine` (llama.cpp) never reaches up into `store`, `rag`, `tools`,
//!   `conversation`, `turn` or `server`;
//! - capture (`audio`, `camera`) hands clips and frames to its caller and
//!   never calls `engine`;
//! - `models` (files, downloads, GGUF headers) never needs `engine`;
//! - `anyhow` only in binaries (`src/main.rs`, `src/cli/`, the app's and the
//!   Whisper helper's `main.rs`);
//! - no cycle between the library's top-level modules.
//!
//! Pure text analysis (std only), so it runs in milliseconds and needs no
//! model. The checker itself is tested on small made-up sources below, so a
//! broken checker cannot pass by finding nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// `(from, to)` pairs of top-level modules that must not depend on each other.
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "engine",
        "store",
        "the engine never reads the history store",
    ),
    ("engine", "rag", "the engine knows no documents"),
    ("engine", "tools", "the engine runs no tools"),
    (
        "engine",
        "conversation",
        "the engine knows no conversations",
    ),
    (
        "engine",
        "turn",
        "the turn drives the engine, not the reverse",
    ),
    ("engine", "server", "the engine knows no HTTP"),
    ("audio", "engine", "capture hands clips to its caller"),
    ("camera", "engine", "capture hands frames to its caller"),
    ("models", "engine", "model files need no loaded engine"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The library's top-level modules, from `mod` lines in `lib.rs`.
fn top_modules(lib_rs: &str) -> Vec<String> {
    lib_rs
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|m| m.trim().to_string())
        })
        .collect()
}

/// Source text without `//` comments (doc comments included), so prose that
/// mentions a module is not an import, and without the file's closing
/// `#[cfg(test)] mod tests` block: unit tests may build their fixtures with
/// any module; the layers are about the library's own code.
fn code_only(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| {
            let attr = w[0].trim();
            attr.starts_with("#[cfg(")
                && attr.contains("test")
                && w[1].trim_start().starts_with("mod tests")
        })
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| l.find("//").map_or(*l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// Top-level modules a file refers to. `depth` is how many `super::` steps
/// lead from the file's module to the crate root (1 for `src/x.rs` and
/// `src/x/mod.rs`, 2 for `src/x/y.rs`, …).
fn referenced_modules(source: &str, depth: usize) -> BTreeSet<String> {
    let code = code_only(source);
    let mut out = BTreeSet::new();
    let mut prefixes = vec!["crate::".to_string()];
    if depth > 0 {
        prefixes.push("super::".repeat(depth));
    }
    for prefix in &prefixes {
        let mut at = 0;
        while let Some(i) = code[at..].find(prefix.as_str()) {
            let start = at + i;
            at = start + prefix.len();
            // `crate::` inside a longer path (`$crate::`, `super::super::` seen
            // as a tail of a deeper one) is not a root path.
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == '$' || c == ':') {
                continue;
            }
            let rest = &code[at..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b, c::{…}}`: the first names at brace depth 0.
                let mut level = 0usize;
                let mut expect_name = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => level += 1,
                        '}' if level == 0 => break,
                        '}' => level -= 1,
                        ',' if level == 0 => expect_name = true,
                        c if expect_name && level == 0 && is_ident(c) => {
                            out.insert(ident(&group[j..]).to_string());
                            expect_name = false;
                        }
                        c if !c.is_whitespace() && level == 0 => expect_name = false,
                        _ => {}
                    }
                }
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    out.insert(name.to_string());
                }
            }
        }
    }
    out
}

/// Edges `from → {to}` between top-level modules of the library in `src`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let tops = top_modules(&lib);
    let mut graph = BTreeMap::new();
    for top in &tops {
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        let single = src.join(format!("{top}.rs"));
        if single.exists() {
            files.push((single, 1));
        }
        let dir = src.join(top);
        for f in rust_files(&dir) {
            let rel = f.strip_prefix(&dir).expect("under its folder");
            let mut depth = rel.components().count() + 1;
            if rel.file_name().is_some_and(|n| n == "mod.rs") {
                depth -= 1;
            }
            files.push((f, depth.max(1)));
        }
        let mut deps = BTreeSet::new();
        for (f, depth) in files {
            let text = fs::read_to_string(&f).expect("readable source");
            for m in referenced_modules(&text, depth) {
                if &m != top && tops.contains(&m) {
                    deps.insert(m);
                }
            }
        }
        graph.insert(top.clone(), deps);
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                s.found.push(scc);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

/// The problems in a graph, one line each.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to, why) in FORBIDDEN {
        if graph.get(*from).is_some_and(|d| d.contains(*to)) {
            out.push(format!("{from} imports {to}: {why}"));
        }
    }
    for c in cycles(graph) {
        out.push(format!(
            "a cycle between top-level modules: {}",
            c.join(", ")
        ));
    }
    out
}

/// Files that name `anyhow` although they are not a binary's own code.
fn anyhow_outside_binaries(root: &Path) -> Vec<String> {
    let allowed = |p: &Path| {
        let rel = p.strip_prefix(root).unwrap_or(p);
        let s = rel.to_string_lossy().replace('\\', "/");
        s == "src/main.rs"
            || s.starts_with("src/cli/")
            || s.ends_with("/src/main.rs")
            || s.starts_with("src/bin/")
    };
    let mut out = Vec::new();
    for dir in ["src", "src-tauri/src", "whisper/src"] {
        for f in rust_files(&root.join(dir)) {
            if allowed(&f) {
                continue;
            }
            let text = fs::read_to_string(&f).expect("readable source");
            if code_only(&text).contains("anyhow") {
                out.push(f.strip_prefix(root).unwrap_or(&f).display().to_string());
            }
        }
    }
    out
}

#[test]
fn the_library_keeps_its_layers() {
    let graph = module_graph(&root().join("src"));
    assert!(
        graph.len() > 5 && graph.values().any(|d| !d.is_empty()),
        "the checker found no modules or no imports: {graph:?}"
    );
    let problems = violations(&graph);
    assert!(
        problems.is_empty(),
        "layering broken:\n  {}\n(module graph: {graph:#?})",
        problems.join("\n  ")
    );
}

#[test]
fn anyhow_stays_in_the_binaries() {
    let files = anyhow_outside_binaries(&root());
    assert!(
        files.is_empty(),
        "anyhow outside the binaries (use the module's thiserror type): {files:?}"
    );
}

// --- the checker on made-up sources ---

fn graph_of(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    edges
        .iter()
        .map(|(f, t)| (f.to_string(), t.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[test]
fn imports_are_read_in_every_spelling() {
    let src = r#"
use crate::engine::EngineHandle;
use crate::{media::Image, store, tools::{ToolCall, run}};
// use crate::rag::Index;   (a comment, not an import)
/// Talks to [`crate::server`] in prose only.
fn f() -> super::super::chat::ChatMessage { crate::config::load() }
macro_rules! m { () => { $crate::hidden::x() } }
"#;
    let found = referenced_modules(src, 2);
    let want: BTreeSet<String> = ["chat", "config", "engine", "media", "store", "tools"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, want);
    // At depth 1, `super::super::` is not a path to the crate root's child.
    assert!(referenced_modules("use super::chat::X;", 1).contains("chat"));
    // A closing unit-test module may use anything.
    let with_tests =
        "use crate::media::Image;\n#[cfg(test)]\nmod tests {\n    use crate::store::Store;\n}\n";
    let found = referenced_modules(with_tests, 1);
    assert!(
        found.contains("media") && !found.contains("store"),
        "{found:?}"
    );
}

#[test]
fn a_forbidden_import_and_a_cycle_are_reported() {
    let good = graph_of(&[
        ("engine", &["media"]),
        ("media", &[]),
        ("store", &["media"]),
    ]);
    assert!(violations(&good).is_empty());

    let bad_edge = graph_of(&[("engine", &["store"]), ("store", &[])]);
    let v = violations(&bad_edge);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("engine imports store"));

    let cyclic = graph_of(&[
        ("engine", &["media"]),
        ("media", &["chat"]),
        ("chat", &["engine"]),
        ("store", &["chat"]),
    ]);
    let v = violations(&cyclic);
    assert_eq!(
        v,
        vec!["a cycle between top-level modules: chat, engine, media".to_string()]
    );
}

#[test]
fn top_modules_are_read_from_lib_rs() {
    let lib = "//! doc\npub mod audio;\nmod engine;\npub(crate) mod turn;\npub use error::Error;\n";
    assert_eq!(top_modules(lib), vec!["audio", "engine", "turn"]);
}
