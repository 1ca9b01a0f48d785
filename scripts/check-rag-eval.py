#!/usr/bin/env python3
"""Validate a retrieval evaluation set (qa.jsonl) against its corpus folder.

    scripts/check-rag-eval.py CORPUS_DIR [QA_JSONL] [--list N]

CORPUS_DIR is the folder printed by scripts/fetch-rag-eval.sh; QA_JSONL
defaults to assets/rag-eval-debian/qa.jsonl. Checks that every line is a JSON
object with a question, a list of sources and a lang ("en" or "zh"); that every
source exists in the corpus; that "absent" questions have no sources. Prints
counts per language and per corpus subfolder, the number of distinct answering
pages, and a keyword-overlap statistic: for each question, the fraction of its
content words (lowercased, stopwords removed; for Chinese, CJK character
bigrams) that occur in the text of its answering page (the best of its pages
when it has several). Low overlap means the questions are paraphrased rather
than copied from the pages. --list N prints the N questions with the highest
overlap. Exits 1 when the set is invalid. Standard library only.
"""

import collections
import html.parser
import json
import math
import os
import re
import statistics
import sys
import zlib

STOPWORDS = set("""
a about above after again against all also am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
during each either else even ever every few for from further get gets getting got had hadn't has hasn't
have haven't having he her here hers herself him himself his how however i i'd i'll i'm i've if in into
is isn't it it's its itself just let let's like make makes many may me might more most much must my
myself need needs no nor not now of off on once one only or other ought our ours ourselves out over own
per please put rather really same shall she should shouldn't so some something such than that that's the
their theirs them themselves then there there's these they they're this those though through thus to too
under until up upon us use used using very via want wants was wasn't way we we're were weren't what
what's when where which while who whom why will with within without won't would wouldn't yes yet you
you're your yours yourself yourselves instead still already back sure right without anything someone
thing things lot kind tell know tried trying try ok okay etc e.g i.e
""".split())

WORD = re.compile(r"[a-z0-9_]+(?:'[a-z]+)?")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    if not path.lower().endswith((".html", ".htm")):
        return raw
    p = _Text()
    p.feed(raw)
    p.close()
    return " ".join(p.parts)


def terms(text):
    """Content words (Latin script) and CJK character bigrams of a text."""
    low = text.lower()
    words = {w.split("'")[0] for w in WORD.findall(low)}
    words = {w for w in words if len(w) > 1 and w not in STOPWORDS}
    grams = set()
    for run in CJK.findall(text):
        if len(run) == 1:
            grams.add(run)
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
    return words, grams


class Page:
    def __init__(self, path):
        text = page_text(path)
        self.chars = len(re.sub(r"\s+", " ", text).strip())
        self.words = set(WORD.findall(text.lower()))
        self.words |= {w.split("'")[0] for w in self.words}
        self.grams = set()
        for run in CJK.findall(text):
            self.grams.update(run)
            self.grams.update(run[i:i + 2] for i in range(len(run) - 1))


def overlap(question, page, idf=None):
    """Fraction of the question's terms found in the page; IDF-weighted when idf is given."""
    words, grams = terms(question)
    weight = (lambda t: idf(t)) if idf else (lambda t: 1.0)
    total = sum(weight(t) for t in words) + sum(weight(t) for t in grams)
    if total == 0:
        return 0.0
    hits = sum(weight(w) for w in words if w in page.words)
    hits += sum(weight(g) for g in grams if g in page.grams)
    return hits / total


def histogram(values, width=40):
    bins = [0] * 10
    for v in values:
        bins[min(int(v * 10), 9)] += 1
    top = max(bins) or 1
    lines = []
    for i, n in enumerate(bins):
        lo, hi = i / 10, (i + 1) / 10
        bar = "#" * round(n * width / top)
        lines.append(f"  {lo:.1f}-{hi:.1f}{']' if i == 9 else ')'} {n:4d} {bar}")
    return "\n".join(lines)


def main(argv):
    args = [a for a in argv[1:]]
    list_n = 0
    if "--list" in args:
        i = args.index("--list")
        list_n = int(args[i + 1])
        del args[i:i + 2]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    corpus = args[0]
    here = os.path.dirname(os.path.abspath(__file__))
    qa_path = args[1] if len(args) > 1 else os.path.join(here, "..", "assets", "rag-eval-debian", "qa.jsonl")
    if not os.path.isdir(corpus):
        print(f"error: corpus folder not found: {corpus}", file=sys.stderr)
        return 1

    errors = []
    items = []
    seen = {}
    with open(qa_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: not JSON ({e})")
                continue
            if not isinstance(q, dict) or not isinstance(q.get("question"), str) or not q["question"].strip():
                errors.append(f"line {n}: no question")
                continue
            src = q.get("sources")
            if not isinstance(src, list) or not all(isinstance(s, str) for s in src):
                errors.append(f"line {n}: sources must be a list of strings")
                continue
            if q.get("lang") not in ("en", "zh"):
                errors.append(f"line {n}: lang must be 'en' or 'zh'")
            absent = bool(q.get("absent"))
            if absent and src:
                errors.append(f"line {n}: an absent question must have no sources")
            if not absent and not src:
                errors.append(f"line {n}: no sources (mark it \"absent\": true if nothing answers it)")
            if len(set(src)) != len(src):
                errors.append(f"line {n}: a source is listed twice")
            key = q["question"].strip().lower()
            if key in seen:
                errors.append(f"line {n}: same question as line {seen[key]}")
            seen[key] = n
            for s in src:
                if s.startswith("/") or ".." in s.split("/") or not os.path.isfile(os.path.join(corpus, s)):
                    errors.append(f"line {n}: source not in the corpus: {s}")
            q["_line"] = n
            items.append(q)

    pages = {}

    def page(s):
        if s not in pages:
            pages[s] = Page(os.path.join(corpus, s))
        return pages[s]

    corpus_files = []
    for root, _, files in os.walk(corpus):
        for name in files:
            if not name.startswith("."):
                corpus_files.append(os.path.relpath(os.path.join(root, name), corpus))

    answered = [q for q in items if not q.get("absent")]
    absent = [q for q in items if q.get("absent")]
    by_lang = collections.Counter(q.get("lang") for q in answered)
    abs_lang = collections.Counter(q.get("lang") for q in absent)
    by_set = collections.Counter(q["sources"][0].split("/")[0] for q in answered if q["sources"])
    distinct = sorted({s for q in answered for s in q["sources"]})
    distinct_set = collections.Counter(s.split("/")[0] for s in distinct)
    multi = sum(1 for q in answered if len(q["sources"]) > 1)
    per_page = collections.Counter(s for q in answered for s in q["sources"])

    print(f"qa file:   {qa_path}")
    print(f"corpus:    {corpus} ({len(corpus_files)} files)")
    sets = collections.Counter(f.split(os.sep)[0] for f in corpus_files)
    for name in sorted(sets):
        chars = sum(page(f).chars for f in corpus_files if f.split(os.sep)[0] == name and os.path.isfile(os.path.join(corpus, f)))
        print(f"  {name + '/':14s} {sets[name]:4d} pages, {chars / 1e6:.2f} M characters of text")
    print(f"questions: {len(items)} ({len(answered)} answerable, {len(absent)} absent)")
    print("  answerable by lang: " + ", ".join(f"{k} {v}" for k, v in sorted(by_lang.items())))
    print("  absent by lang:     " + ", ".join(f"{k} {v}" for k, v in sorted(abs_lang.items())))
    print("  answerable by set:  " + ", ".join(f"{k} {v}" for k, v in sorted(by_set.items())))
    print(f"  with several sources: {multi}")
    print(f"distinct answering pages: {len(distinct)} (" + ", ".join(f"{k} {v}" for k, v in sorted(distinct_set.items())) + ")")
    print(f"  most used page: {per_page.most_common(1)[0][0]} ({per_page.most_common(1)[0][1]} questions)" if per_page else "")

    # Document frequencies over the whole corpus, for the IDF-weighted figure.
    all_pages = [page(f) for f in corpus_files]
    df = collections.Counter()
    for pg in all_pages:
        df.update(pg.words)
        df.update(pg.grams)
    n_pages = len(all_pages) or 1

    def idf(t):
        return math.log((n_pages + 1) / (df.get(t, 0) + 0.5))

    by_folder = collections.defaultdict(list)
    for f in sorted(corpus_files):
        by_folder[f.split(os.sep)[0]].append(f)

    scored = []
    for q in answered:
        try:
            best = max(overlap(q["question"], page(s)) for s in q["sources"])
            best_w = max(overlap(q["question"], page(s), idf) for s in q["sources"])
        except OSError:
            continue
        # Baseline: the same question against a fixed pseudo-random page of the
        # same subfolder that does not answer it.
        others = [f for f in by_folder[q["sources"][0].split("/")[0]] if f.replace(os.sep, "/") not in q["sources"]]
        base = base_w = None
        if others:
            other = page(others[zlib.crc32(q["question"].encode("utf-8")) % len(others)])
            base, base_w = overlap(q["question"], other), overlap(q["question"], other, idf)
        scored.append((best, best_w, base, base_w, q))
    if scored:
        print("keyword overlap: fraction of a question's content words (CJK: character bigrams) found in its best")
        print("answering page; 'idf' weights each term by its rarity in the corpus; 'other page' is the same figure")
        print("against a non-answering page of the same subfolder (what chance overlap looks like):")
        for lang in sorted({q.get("lang") for *_, q in scored}) + [None]:
            rows = [r for r in scored if lang is None or r[-1].get("lang") == lang]
            if not rows:
                continue
            name = "all" if lang is None else lang
            vals = [r[0] for r in rows]
            qs = statistics.quantiles(vals, n=4) if len(vals) > 1 else [vals[0]] * 3
            bases = [r[2] for r in rows if r[2] is not None]
            bases_w = [r[3] for r in rows if r[3] is not None]
            print(f"  {name:4s} n={len(vals):3d}  plain: mean {statistics.mean(vals):.3f} median {statistics.median(vals):.3f}"
                  f" quartiles {qs[0]:.2f}/{qs[2]:.2f} max {max(vals):.2f}"
                  f" | other page {statistics.mean(bases) if bases else float('nan'):.3f}")
            print(f"  {'':4s} {'':5s}  idf:   mean {statistics.mean(r[1] for r in rows):.3f}"
                  f" median {statistics.median(r[1] for r in rows):.3f}"
                  f"{'':22s}| other page {statistics.mean(bases_w) if bases_w else float('nan'):.3f}")
        print("  distribution of the plain figure (all questions):")
        print(histogram([r[0] for r in scored]))
        if list_n:
            print(f"highest overlap ({list_n}, plain / idf):")
            for v, w, _, _, q in sorted(scored, key=lambda t: -t[0])[:list_n]:
                print(f"  {v:.2f} {w:.2f} line {q['_line']}: {q['question']}")

    if errors:
        print(f"{len(errors)} error(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
