"""Benchmark the rules engine against a naive matcher, in the same run, on one core.

100 generated topics (~2,000 terms: words, phrases, prefix wildcards, NEAR clauses)
over 5,000 generated articles of ~5 KB.  The naive matcher is what one would write
first: one Python `re` per term, Boolean logic and proximity in Python.  Both must
agree on every article, or the comparison means nothing.

    .venv/bin/python bench/rules.py [--articles 5000] [--repeat 3] [--naive-articles 300]

Targets (issue 3): >= 2,000 articles/s, >= 20x the naive matcher, compile < 100 ms.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.models import Document
from crawler.rules import RuleSet, Topic, compile_query

__all__ = ["main"]

SYLLABLES = ["ka", "ri", "to", "man", "sel", "vo", "du", "pra", "len", "gi", "sha", "mor", "ta",
             "ne", "bal", "qui", "ro", "stan", "del", "hi", "zu", "pe", "far", "on"]


def _words(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(out)


def make_corpus(n_articles: int, seed: int = 7) -> tuple[list[str], list[Document]]:
    """A Zipf-like vocabulary and articles of ~5 KB made of sentences drawn from it."""
    rng = random.Random(seed)
    vocab = _words(rng, 20000)
    weights = [1.0 / (i + 1) ** 1.05 for i in range(len(vocab))]
    docs = []
    for _ in range(n_articles):
        words = rng.choices(vocab, weights, k=500)
        sentences, i = [], 0
        while i < len(words):
            k = rng.randint(8, 25)
            s = " ".join(words[i:i + k])
            sentences.append(s[:1].upper() + s[1:] + rng.choice([".", ".", ",", ";", "?"]))
            i += k
        body = " ".join(sentences)
        title = " ".join(rng.choices(vocab, weights, k=8)).title()
        docs.append(Document(title=title, body=body))
    return vocab, docs


def make_topics(vocab: list[str], n_topics: int = 100, seed: int = 11) -> list[str]:
    """Queries of ~20 terms each, drawn from the mid/low-frequency part of the vocabulary."""
    rng = random.Random(seed)
    pool = vocab[200:6000]

    def term() -> str:
        r = rng.random()
        if r < 0.2:
            return f'"{rng.choice(pool)} {rng.choice(pool[:800])}"'
        if r < 0.3:
            return rng.choice(pool)[:5] + "*"
        return rng.choice(pool)

    def group(k: int) -> str:
        return "(" + " OR ".join(term() for _ in range(k)) + ")"

    queries = []
    for _ in range(n_topics):
        q = (f"({group(6)} NEAR/10 {group(5)}) AND {group(4)} "
             f"AND NOT {group(3)}")
        if rng.random() < 0.5:
            q = f"({q}) OR title:{group(2)}"
        queries.append(q)
    return queries


# ── The naive reference: one regex per term, logic in Python ──────────────────


def _naive_rx(term: str) -> re.Pattern[str]:
    t = term.strip('"')
    if t.endswith("*"):
        return re.compile(r"\b" + re.escape(t[:-1]) + r"\w*", re.I)
    return re.compile(r"\b" + r"\s+".join(re.escape(w) for w in t.split()) + r"\b", re.I)


class NaiveTopic:
    """The same query shape as `make_topics`, evaluated with `re` and Python loops."""

    def __init__(self, query: str) -> None:
        groups = re.findall(r"\(([^()]*)\)", query)
        self.title_group = None
        if ") OR title:(" in query:
            *groups, title_group = groups
            self.title_group = [_naive_rx(t) for t in title_group.split(" OR ")]
        self.near_a, self.near_b, self.must, self.must_not = (
            [_naive_rx(t) for t in g.split(" OR ")] for g in groups[:4])

    @staticmethod
    def _word_spans(rxs: list[re.Pattern[str]], text: str, starts: list[int]) -> list[tuple[int, int]]:
        import bisect

        out = []
        for rx in rxs:
            for m in rx.finditer(text):
                a = bisect.bisect_right(starts, m.start()) - 1
                b = bisect.bisect_right(starts, m.end() - 1)
                out.append((a, b))
        return out

    def match(self, doc: Document) -> bool:
        text = doc.title + "\n" + doc.body
        ok = False
        if any(rx.search(text) for rx in self.must) and not any(rx.search(text) for rx in self.must_not):
            ok = self._near(doc.title) or self._near(doc.body)
        if not ok and self.title_group is not None:
            ok = any(rx.search(doc.title) for rx in self.title_group)
        return ok

    def _near(self, text: str) -> bool:
        if not any(rx.search(text) for rx in self.near_a):
            return False
        starts = [m.start() for m in re.finditer(r"\w+", text)]
        a = self._word_spans(self.near_a, text, starts)
        b = self._word_spans(self.near_b, text, starts)
        for s1, e1 in a:
            for s2, e2 in b:
                if (e1 <= s2 and s2 - e1 <= 10) or (e2 <= s1 and s1 - e2 <= 10):
                    return True
        return False


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--topics", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--naive-articles", type=int, default=300,
                    help="the naive matcher is slow: it runs on this many of the articles")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    vocab, docs = make_corpus(args.articles)
    queries = make_topics(vocab, args.topics)
    gen_s = time.perf_counter() - t0
    avg_kb = sum(len(d.body) + len(d.title) for d in docs) / len(docs) / 1000
    n_terms = sum(len(compile_query(q).terms()) for q in queries)
    print(f"corpus: {len(docs)} articles of {avg_kb:.1f} KB on average; {len(queries)} topics, "
          f"{n_terms} terms (generated in {gen_s:.1f}s)")

    compile_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rs = RuleSet([Topic(id=f"t{i}", query=compile_query(q)) for i, q in enumerate(queries)])
        compile_times.append(time.perf_counter() - t0)
    compile_ms = statistics.median(compile_times) * 1000

    rates, flagged = [], 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        flagged = sum(len(rs.matching_ids(d)) for d in docs)
        rates.append(len(docs) / (time.perf_counter() - t0))
    rate = statistics.median(rates)

    t0 = time.perf_counter()
    explained = sum(len(rs.match(d)) for d in docs[:500])
    match_rate = 500 / (time.perf_counter() - t0)

    naive = [NaiveTopic(q) for q in queries]
    sample = docs[: args.naive_articles]
    t0 = time.perf_counter()
    naive_hits = [[f"t{i}" for i, t in enumerate(naive) if t.match(d)] for d in sample]
    naive_rate = len(sample) / (time.perf_counter() - t0)
    ours = [rs.matching_ids(d) for d in sample]
    agree = sum(1 for a, b in zip(ours, naive_hits, strict=True) if a == b)

    print(f"compile (median of {args.repeat}): {compile_ms:.1f} ms   (target < 100 ms)")
    print(f"engine  (median of {args.repeat}): {rate:,.0f} articles/s, {flagged} topic matches "
          f"  (target >= 2,000/s)")
    print(f"engine with explanations (match(), first 500): {match_rate:,.0f} articles/s, {explained} matches")
    print(f"naive   (one re per term, {len(sample)} articles): {naive_rate:,.1f} articles/s")
    print(f"speed-up: {rate / naive_rate:,.0f}x   (target >= 20x)")
    print(f"agreement with naive on {len(sample)} articles: {agree}/{len(sample)}")


if __name__ == "__main__":
    main()
