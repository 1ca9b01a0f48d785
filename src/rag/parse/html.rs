//! HTML: parsed by html5ever (through `dom_query`) into a DOM the way a
//! browser would, then walked in document order. `h1`–`h6` become headings,
//! `li` list items, `pre` code, and other block elements end a paragraph.
//!
//! Only the page's content is kept. The page furniture that documentation
//! generators repeat on every page (navigation bars, sidebars, breadcrumbs,
//! footers, search boxes; Sphinx's `related`/`sphinxsidebar`, DocBook's
//! `navheader`/`navfooter`) is dropped: on a 250-page manual it made a fifth
//! of the chunks, all alike, and pushed the right page down the results.
//! When the page has a `main` element (or `role="main"`), only that is read.
//! The `<title>` becomes a level-0 heading, the outermost part of every
//! chunk's heading path, unless the first heading already says it. Pure
//! functions.

use dom_query::{Document, NodeRef};

use super::{Block, BlockKind, Skip};

/// Elements whose whole subtree is never text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "nav", "footer", "form", "button", "select",
    "textarea", "svg", "iframe", "object", "canvas", "dialog",
];

/// Deepest element nesting read. html5ever's tree builder scans the open
/// elements for each new tag, so a page nested tens of thousands deep costs
/// minutes; real documents stay far below this.
pub const MAX_DEPTH: usize = 400;

/// Class or id words that mark page furniture rather than content. Not
/// `sidebar`, nor `aside` elements: DocBook's sidebars are content boxes.
const FURNITURE: &[&str] = &[
    "nav",
    "navbar",
    "navigation",
    "navheader",
    "navfooter",
    "sphinxsidebar",
    "sphinxsidebarwrapper",
    "related",
    "breadcrumb",
    "breadcrumbs",
    "banner",
    "docnav",
    "footer",
    "site-footer",
    "skip-link",
    "headerlink",
    "cookie-banner",
    "toc-sidebar",
];

/// Elements that end the paragraph before and after them.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "tr",
    "table",
    "ul",
    "ol",
    "dl",
    "blockquote",
    "header",
    "footer",
    "dd",
    "dt",
    "figure",
    "figcaption",
    "caption",
    "hr",
    "details",
    "summary",
    "address",
];

/// Blocks of an HTML document.
///
/// # Errors
/// A [`Skip`] for a page nested deeper than [`MAX_DEPTH`].
pub fn parse(html: &str) -> Result<Vec<Block>, Skip> {
    let depth = nesting_depth(html);
    if depth > MAX_DEPTH {
        return Err(Skip(format!(
            "the HTML is nested more than {MAX_DEPTH} elements deep"
        )));
    }
    let doc = Document::from(html);
    let title = clean_heading(&doc.select("title").text());
    let Some(body) = doc.body() else {
        return Ok(Vec::new());
    };
    let root = doc
        .select_single("main, [role=main]")
        .nodes()
        .first()
        .copied()
        .unwrap_or(body);
    let mut w = Walker::default();
    w.walk(&root);
    w.flush();
    let mut out = w.out;
    let said = out.iter().find_map(|b| match b.kind {
        BlockKind::Heading(_) => Some(b.text.clone()),
        _ => None,
    });
    let redundant = said.as_deref().is_some_and(|h| {
        let (h, t) = (h.to_lowercase(), title.to_lowercase());
        t.starts_with(&h) || h.starts_with(&t)
    });
    if !title.is_empty() && !redundant {
        out.insert(0, Block::new(BlockKind::Heading(0), title));
    }
    Ok(out)
}

/// Elements that never hold children.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements a following sibling closes implicitly (their end tag is optional).
const SELF_CLOSING_SIBLINGS: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
    "colgroup", "rb", "rt", "rp",
];

/// A linear over-estimate of how deep `html` nests: start tags minus end
/// tags, not counting void elements and those with optional end tags.
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|b| *b == b'<') {
        i += off + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let start = i + usize::from(closing);
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| start + p);
        if end == start {
            continue;
        }
        let name = html[start..end].to_ascii_lowercase();
        if VOID.contains(&name.as_str()) || SELF_CLOSING_SIBLINGS.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

#[derive(Default)]
struct Walker {
    out: Vec<Block>,
    buf: String,
    kind: Option<BlockKind>,
}

impl Walker {
    /// Depth-first, in document order, with an explicit stack: a deeply
    /// nested page cannot overflow ours.
    fn walk(&mut self, root: &NodeRef) {
        // (node, entered): a node is visited on the way in and on the way out.
        let mut stack: Vec<(NodeRef, bool)> = vec![(*root, false)];
        while let Some((node, entered)) = stack.pop() {
            if node.is_text() {
                self.buf.push_str(&node.text());
                continue;
            }
            if !node.is_element() {
                continue;
            }
            let name = node
                .node_name()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            if entered {
                self.leave(&name);
                continue;
            }
            if skipped(&node, &name) {
                continue;
            }
            self.enter(&name);
            stack.push((node, true));
            let children: Vec<NodeRef> = node.children_it(true).collect();
            stack.extend(children.into_iter().map(|c| (c, false)));
        }
    }

    fn enter(&mut self, name: &str) {
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.flush();
                self.kind = Some(BlockKind::Heading(name.as_bytes()[1] - b'0'));
            }
            "li" => {
                self.flush();
                self.kind = Some(BlockKind::ListItem);
            }
            "pre" => {
                self.flush();
                self.kind = Some(BlockKind::Code);
            }
            "br" => self.buf.push('\n'),
            "td" | "th" => self.buf.push(' '),
            n if BLOCKS.contains(&n) => {
                self.flush();
                if self.kind != Some(BlockKind::Code) {
                    self.kind = None;
                }
            }
            _ => {}
        }
    }

    fn leave(&mut self, name: &str) {
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "li" | "pre" => {
                self.flush();
                self.kind = None;
            }
            "td" | "th" => self.buf.push(' '),
            n if BLOCKS.contains(&n) && self.kind != Some(BlockKind::Code) => self.flush(),
            _ => {}
        }
    }

    fn flush(&mut self) {
        let kind = self.kind.unwrap_or(BlockKind::Paragraph);
        let text = match kind {
            BlockKind::Code => self.buf.trim_matches('\n').to_string(),
            BlockKind::Heading(_) => clean_heading(&self.buf),
            _ => self.buf.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        if !text.trim().is_empty() {
            self.out.push(Block::new(kind, text));
        }
        self.buf.clear();
    }
}

/// Whether `node` (named `name`) is furniture or non-text; see the module docs.
fn skipped(node: &NodeRef, name: &str) -> bool {
    if SKIPPED.contains(&name) {
        return true;
    }
    if matches!(
        node.attr("role").as_deref(),
        Some("navigation" | "banner" | "contentinfo" | "search" | "complementary")
    ) || node.attr("aria-hidden").as_deref() == Some("true")
        || node.has_attr("hidden")
    {
        return true;
    }
    furniture_words(node.class().as_deref()) || furniture_words(node.id_attr().as_deref())
}

fn furniture_words(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        v.split_whitespace()
            .any(|w| FURNITURE.contains(&w.to_ascii_lowercase().as_str()))
    })
}

/// Heading text on one line, without the permalink marks generators add.
fn clean_heading(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['¶', '#', '§'])
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_paragraphs_and_no_scripts() {
        let html = "<html><head><title>x</title><script>var a = '<p>';</script></head>\
                    <body><h2>Billing &amp; plans</h2><p>Pay  monthly.</p><ul><li>Visa</li></ul>\
                    <pre>let x = 1;\nlet y = 2;</pre><!-- <p>hidden</p> --></body></html>";
        let b = parse(html).unwrap();
        let texts: Vec<_> = b.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (BlockKind::Heading(0), "x"),
                (BlockKind::Heading(2), "Billing & plans"),
                (BlockKind::Paragraph, "Pay monthly."),
                (BlockKind::ListItem, "Visa"),
                (BlockKind::Code, "let x = 1;\nlet y = 2;"),
            ]
        );
    }

    #[test]
    fn page_furniture_is_dropped_and_a_repeated_title_is_not_a_heading() {
        let html = r##"<html><head><title>pathlib — paths — Python 3.11 docs</title></head><body>
            <div class="related" role="navigation"><ul><li>index</li><li>next</li></ul></div>
            <div class="navheader"><table><tr><td>Prev</td><td>Up</td></tr></table></div>
            <div class="body"><h1>pathlib — paths<a class="headerlink" href="#x">¶</a></h1>
            <p>Pure paths do no I/O.</p><table><tr><td>a</td><td>b</td></tr></table></div>
            <div class="sphinxsidebar"><h3>This Page</h3><p>Show Source</p></div><ul class="docnav"><li>Prev</li></ul>
            <footer>© 2001 PSF</footer></body></html>"##;
        let b = parse(html).unwrap();
        let texts: Vec<_> = b.iter().map(|b| (b.kind, b.text.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (BlockKind::Heading(1), "pathlib — paths"),
                (BlockKind::Paragraph, "Pure paths do no I/O."),
                (BlockKind::Paragraph, "a b"),
            ]
        );
    }

    #[test]
    fn main_is_read_alone_when_there_is_one() {
        let html = "<title>Guide</title><body><div>Site menu text</div>\
                    <div role=main><h2>Backups</h2><p>Nightly.</p></div><div>Legal</div></body>";
        let texts: Vec<_> = parse(html).unwrap().into_iter().map(|b| b.text).collect();
        assert_eq!(texts, ["Guide", "Backups", "Nightly."]);
    }

    #[test]
    fn ampersand_before_chinese_text_is_text() {
        // `&` then multi-byte characters within 12 bytes: once a panic.
        let b = parse(
            "<p>研发&数据库备份策略</p><p>A&B 中文&amp;English &eacute;t&eacute; &#x4E2D;</p>",
        )
        .unwrap();
        let texts: Vec<_> = b.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(texts, ["研发&数据库备份策略", "A&B 中文&English été 中"]);
    }

    #[test]
    fn unterminated_and_deeply_nested_markup_does_not_panic() {
        let _ = parse("<p>text <b");
        let _ = parse("&#xZZZZ; &#99999999; &");
        let nested = |n: usize| "<div>".repeat(n) + "deep" + &"</div>".repeat(n);
        let b = parse(&nested(MAX_DEPTH - 10)).unwrap();
        assert!(b.iter().any(|b| b.text == "deep"));
        let err = parse(&nested(100_000)).unwrap_err();
        assert!(err.0.contains("nested"), "{err}");
        // Unclosed paragraphs and list items do not nest.
        let flat = "<p>x".repeat(10_000) + &"<li>y<br>".repeat(10_000);
        assert!(parse(&flat).unwrap().len() > 100);
    }
}
