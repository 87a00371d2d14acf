"""Compiled topics and the matcher: one tokenisation per article, all topics at once.

A `RuleSet` is built once (on load or reload).  It knows every word and prefix
its topics use, and for each topic a trigger set (words one of which must occur
for the query to hold), so an article only has its queries evaluated for the
topics whose triggers it contains.  Hits, with character offsets into the
original strings, are collected only for topics that matched, from the same
index matching used; the clause tree (`explain`) is built only when someone asks why.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.models import Document, Match
from crawler.rules.index import FIELDS, DocIndex, Vocabulary
from crawler.rules.nodes import (
    DEFAULT_FIELDS,
    And,
    AtLeast,
    Count,
    Hits,
    Named,
    Near,
    Node,
    Not,
    Or,
    Sharing,
    Term,
)
from crawler.rules.parser import parse_query

__all__ = ["Example", "NearMiss", "Query", "RuleSet", "Topic", "compile_query", "near_miss"]

FIELD_WEIGHTS = {"title": 3.0, "body": 1.0, "url": 0.5, "source": 0.5, "author": 0.5}
"""A hit in the title says more about what an article is about than one in the body."""
SNIPPET_CHARS = 160
MAX_SNIPPETS = 3


@dataclass(eq=False)
class Query:
    """A compiled query: the source text and its node tree."""

    text: str
    root: Node

    def __str__(self) -> str:
        return str(self.root)

    def terms(self) -> list[Term]:
        return self.root.terms()


def compile_query(text: str, lists: Mapping[str, tuple[str, Any]] | None = None) -> Query:
    """Parse and compile query text; raise `RulesSyntaxError` (a `ConfigError`) if it is wrong.

    `lists` holds the topic's named term lists (`@name`), as `{name: (text, tree)}`.
    """
    return Query(text=text, root=parse_query(text, lists))


@dataclass(frozen=True, slots=True)
class Example:
    """A short text a topic must (or must not) match; checked whenever the topic is loaded."""

    text: str
    title: str = ""

    def document(self) -> Document:
        return Document(title=self.title, body=self.text)


@dataclass(eq=False)
class Topic:
    """One topic: what to flag (`query`), what never to flag (`exclude`), and whom to tell."""

    id: str
    query: Query
    name: str = ""
    description: str = ""
    exclude: Query | None = None
    notify_urls: list[str] = field(default_factory=list)
    notify_mode: str | None = None
    """`immediate`, `digest` or `off`; None means the `[notify]` default of newswatch.toml."""
    examples_match: list[Example] = field(default_factory=list)
    examples_no_match: list[Example] = field(default_factory=list)
    path: Path | None = None
    term_lists: dict[str, str] = field(default_factory=dict)
    """The `[terms]` lists the queries use as `@name`: name → compiled form."""

    def canonical(self) -> str:
        """What the rules version is hashed from: the compiled queries and lists, not their layout."""
        return json.dumps([self.id, str(self.query), str(self.exclude) if self.exclude else "",
                           sorted(self.term_lists.items())], ensure_ascii=False)


class RuleSet:
    """All topics compiled together; `match` is what the pipeline calls for every article."""

    def __init__(self, topics: list[Topic]) -> None:
        self.topics: list[Topic] = list(topics)
        self._by_id = {t.id: t for t in self.topics}
        sharing = Sharing()
        for t in self.topics:  # one object per distinct clause, across queries and topics
            t.query.root = sharing.of(t.query.root)
            if t.exclude is not None:
                t.exclude.root = sharing.of(t.exclude.root)
        self._recent = threading.local()
        words: set[str] = set()
        prefixes: set[str] = set()
        self._fields: set[str] = set(DEFAULT_FIELDS)
        for t in self.topics:
            for q in (t.query, t.exclude):
                if q is None:
                    continue
                for term in q.terms():
                    # `lead:` and `opening:` words are body words: finding candidates never
                    # needs them.
                    self._fields.update("body" if f in ("lead", "opening") else f for f in term.fields)
                    for variant in term.variants:
                        for w in variant:
                            (prefixes if w.prefix else words).add(w.text)
        self.vocab = Vocabulary(words, prefixes)
        self._always: list[int] = []
        self._by_word: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}
        for i, t in enumerate(self.topics):
            trig = t.query.root.triggers()
            if trig is None:
                self._always.append(i)
                continue
            for kind, value in trig:
                (self._by_word if kind == "w" else self._by_prefix).setdefault(value, []).append(i)
        self._trigger_words = frozenset(self._by_word)
        digest = hashlib.sha256("\n".join(sorted(t.canonical() for t in self.topics)).encode())
        self.version: str = digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.topics)

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process receives: everything but this process's per-thread last index."""
        state = dict(self.__dict__)
        del state["_recent"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._recent = threading.local()

    def topic(self, topic_id: str) -> Topic:
        try:
            return self._by_id[topic_id]
        except KeyError:
            raise KeyError(f"no topic {topic_id!r} (topics: {', '.join(self._by_id) or 'none'})") from None

    def _index(self, doc: Document) -> DocIndex:
        """The matching index of `doc`: the one this thread built last when it is the same document.

        The pipeline asks `match`, then `near_miss` of every topic that did not flag the
        article: they share one tokenisation and what its clauses answered.  An index that
        has taken offsets for highlighting is not handed out again.
        """
        snapshot = (doc.title, doc.body, doc.url, doc.source, tuple(doc.authors))
        recent = getattr(self._recent, "last", None)
        if recent is not None and recent[0] is doc and recent[1] == snapshot and not recent[2].precise:
            return recent[2]
        ix = DocIndex(doc, self.vocab)
        self._recent.last = (doc, snapshot, ix)
        return ix

    def _candidates(self, ix: DocIndex) -> list[int]:
        cands = set(self._always)
        for name in self._fields:
            fi = ix.field(name)
            if fi is None:
                continue
            for w in fi.present & self._trigger_words:
                cands.update(self._by_word[w])
            if self._by_prefix:
                for p in fi.matched_prefixes():
                    ids = self._by_prefix.get(p)
                    if ids:
                        cands.update(ids)
        return sorted(cands)

    def matching_ids(self, doc: Document) -> list[str]:
        """Ids of the topics that flag `doc` (no explanations: the fast path, used by eval)."""
        return self._flagged(self._index(doc))

    def _flagged(self, ix: DocIndex) -> list[str]:
        out = []
        for i in self._candidates(ix):
            t = self.topics[i]
            if t.query.root.holds(ix) and not (t.exclude is not None and t.exclude.root.holds(ix)):
                out.append(t.id)
        return out

    def match(self, doc: Document) -> list[Match]:
        """The topics that flag `doc`, each with score, matched terms and a compact explanation.

        What is stored with a match is what shows it (hits with their offsets, snippets,
        score, the rules version): no clause tree, which costs most of the matching time
        and most of a match row. `explain` rebuilds the tree from the stored text on demand.
        """
        ix = self._index(doc)
        ids = self._flagged(ix)
        if not ids:
            return []
        # Highlighting reuses what matching found; only where the tokeniser that keeps
        # offsets reads a field differently is the document indexed again.
        precise = ix if ix.make_precise() else DocIndex(doc, self.vocab, precise=True)
        self._recent.last = None  # an index with offsets is not handed out again: do not keep it
        out = []
        for tid in ids:
            topic = self._by_id[tid]
            hits: Hits = []
            topic.query.root.collect(precise, hits)
            exp = self._summary(precise, topic, hits, held=True, excluded=False)
            out.append(Match(topic_id=tid, score=exp["score"], matched_terms=exp["matched_terms"],
                             explanation=exp, rules_version=self.version))
        return out

    def explain(self, doc: Document, topic_id: str) -> dict[str, Any]:
        """Why `doc` does or does not match a topic: the clause tree with what held, hits, snippets."""
        return self._explain(DocIndex(doc, self.vocab, precise=True), self.topic(topic_id))

    def _explain(self, ix: DocIndex, topic: Topic) -> dict[str, Any]:
        root = topic.query.root
        tree = root.explain(ix)
        held = tree["held"]
        exclude_tree = None
        excluded = False
        if topic.exclude is not None:
            exclude_tree = topic.exclude.root.explain(ix)
            excluded = exclude_tree["held"]
        hits: Hits = []
        if held:
            root.collect(ix, hits)
        else:
            # Show where the terms that did occur are, even though the query failed.
            for term in topic.query.terms():
                term.collect(ix, hits)
        exp = self._summary(ix, topic, hits, held=held, excluded=excluded)
        exp["clauses"] = tree
        exp["exclude_clauses"] = exclude_tree
        return exp

    def _summary(self, ix: DocIndex, topic: Topic, found: Hits, *, held: bool,
                 excluded: bool) -> dict[str, Any]:
        """What a stored match keeps: verdict, hits (offsets into the stored text), snippets, score."""
        hits = _dedupe(ix, found)
        return {
            "topic": topic.id,
            "matched": held and not excluded,
            "query_held": held,
            "excluded": excluded,
            "hits": hits,
            "snippets": _snippets(ix, hits),
            "score": _score(hits) if held else 0.0,
            "matched_terms": list(dict.fromkeys(h["term"] for h in hits)),
            "rules_version": self.version,
        }


@dataclass(frozen=True, slots=True)
class NearMiss:
    """An unflagged document that fails a topic by one clause: what an analyst should glance at.

    `failed` is the clause as `rules explain` prints it; `detail` says in plain words how it
    fell short; `closeness` (0–1, higher is closer) sorts a list of near misses.
    """

    topic: str
    failed: str
    detail: str
    closeness: float

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "failed": self.failed, "detail": self.detail,
                "closeness": self.closeness}


ABSENT = 0.25
"""Closeness of a clause whose words do not occur at all: one clause, but wholly missing."""


def _shortfall(node: Node, ix: DocIndex) -> tuple[Node, str, float] | None:
    """For a clause that does not hold: the one sub-clause it fails by, how, and how closely.

    None when it fails by more than one clause (two conjuncts of an AND, both sides of a
    NEAR), which is not a near miss.
    """
    if isinstance(node, And):
        failing: list[Node] = []
        for c in node._order:  # cheap clauses first: two failing ones end the search
            if not c.holds(ix):
                failing.append(c)
                if len(failing) > 1:
                    return None
        return _shortfall(failing[0], ix) if failing else None
    if isinstance(node, AtLeast):
        failing = [c for c in node.children if not c.holds(ix)]
        if len(node.children) - len(failing) != node.n - 1:
            return None
        return _best(_shortfall(c, ix) for c in failing)
    if isinstance(node, Or):
        best = _best(_shortfall(c, ix) for c in node.children)
        if node.positional and (best is None or best[2] <= ABSENT):
            return node, "none of its words occurs", ABSENT
        return best
    if isinstance(node, Named):
        inner = _shortfall(node.child, ix)
        if inner is None:
            return None
        clause, detail, closeness = inner
        # A whole list missing is reported by its name, not by its last term.
        if clause is node.child or (closeness <= ABSENT and node.positional):
            return node, "none of its words occurs", closeness
        return inner
    if isinstance(node, Count):
        have = node.count(ix)
        what = {"s": "sentence", "p": "paragraph"}.get(node.unit, "place")
        if have >= 1:
            return node, f"found in {have} {what}{'s' if have > 1 else ''} of the {node.n} needed", have / node.n
        inner = _shortfall(node.child, ix)
        if inner is None:
            return None
        clause, detail, closeness = inner
        return clause, detail, closeness / node.n
    if isinstance(node, Near):
        if not node.sides_hold(ix):
            return None
        gap = _nearest_gap(node, ix)
        unit = {"s": " in one sentence", "p": " in one paragraph"}.get(node.within, "")
        if gap is None or node.distance is None or gap <= node.distance:
            return node, f"both sides occur, but never{unit}", 0.5
        return node, f"both sides occur, {gap} words apart at the nearest{unit and ','} (at most " \
                     f"{node.distance}{unit})", 0.5 * (node.distance + 1) / (gap + 1)
    if isinstance(node, Not):
        return node, "an excluded word occurs", ABSENT
    if isinstance(node, Term):
        return node, "does not occur", ABSENT
    return None


def _best(cands: Any) -> tuple[Node, str, float] | None:
    best = None
    for c in cands:
        if c is not None and (best is None or c[2] > best[2]):
            best = c
    return best


def _nearest_gap(node: Near, ix: DocIndex) -> int | None:
    """Fewest words between an occurrence of each side in one field (None: never in one field)."""
    best: int | None = None
    right = node.right.occurrences(ix)
    for lf, ls, le in node.left.occurrences(ix):
        for rf, rs, re_ in right:
            if rf != lf:
                continue
            if le <= rs:
                gap = rs - le
            elif re_ <= ls:
                if node.ordered:
                    continue
                gap = ls - re_
            else:
                continue
            if best is None or gap < best:
                best = gap
    return best


def near_miss(rules: RuleSet | Topic, doc: Document, topic_id: str | None = None) -> NearMiss | None:
    """Whether an unflagged `doc` fails a topic by exactly one clause, and which.

    `rules` is a `RuleSet` (with `topic_id`, or its closest miss over all its topics) or
    one `Topic`.  A near miss is per topic: None when that topic flags the document, when
    its exclusion vetoes it (an exclusion is a decision, not a near miss), or when it
    fails by more than one clause.  The check costs about one `matching_ids`.
    """
    if isinstance(rules, Topic):
        topics, ruleset = [rules], RuleSet([rules])
    else:
        ruleset = rules
        topics = [rules.topic(topic_id)] if topic_id is not None else list(rules.topics)
    ix = ruleset._index(doc)
    best: NearMiss | None = None
    for topic in topics:
        if topic.query.root.holds(ix) or (topic.exclude is not None and topic.exclude.root.holds(ix)):
            continue
        found = _shortfall(topic.query.root, ix)
        if found is None:
            continue
        clause, detail, closeness = found
        miss = NearMiss(topic=topic.id, failed=str(clause), detail=detail, closeness=round(closeness, 4))
        if best is None or miss.closeness > best.closeness:
            best = miss
    return best


def _dedupe(ix: DocIndex, found: Hits) -> list[dict[str, Any]]:
    """The hits in reading order, each once, as stored: `lead:` hits are shown in the body
    (the lead is the start of the body: the reader sees them there)."""
    # `lead:`/`opening:` are the body's start: show their hits where the reader sees them
    rows = [(term, "body" if f in ("lead", "opening") else f, s, e) for term, f, s, e in found]
    seen: set[tuple[str, str, int, int]] = set()
    out = []
    for h in sorted(rows, key=lambda h: (FIELDS.index(h[1]), h[2], h[3])):
        if h not in seen:
            seen.add(h)
            term, f, start, end = h
            fi = ix.field(f)
            assert fi is not None
            out.append({"term": term, "field": f, "start": start, "end": end, "text": fi.text[start:end]})
    return out


def _score(hits: list[dict[str, Any]]) -> float:
    """Field-weighted hits with diminishing returns, plus a little for each distinct term."""
    per_field: dict[str, int] = {}
    for h in hits:
        per_field[h["field"]] = per_field.get(h["field"], 0) + 1
    score = sum(FIELD_WEIGHTS.get(f, 0.5) * (1 + math.log(n)) for f, n in per_field.items())
    score += 0.25 * len({h["term"] for h in hits})
    return round(score, 3)


def _snippets(ix: DocIndex, hits: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """A few ~160-character windows of original text around hits, per field."""
    out: dict[str, list[dict[str, Any]]] = {}
    for h in hits:
        fi = ix.field(h["field"])
        if fi is None:
            continue
        text = fi.text
        half = max(0, (SNIPPET_CHARS - (h["end"] - h["start"])) // 2)
        start, end = max(0, h["start"] - half), min(len(text), h["end"] + half)
        if start > 0:  # do not cut a word in half
            sp = text.find(" ", start, h["start"])
            start = sp + 1 if sp >= 0 else start
        if end < len(text):
            sp = text.rfind(" ", h["end"], end)
            end = sp if sp >= 0 else end
        lst = out.setdefault(h["field"], [])
        if lst and start <= lst[-1]["end"]:
            lst[-1]["end"] = max(lst[-1]["end"], end)
            lst[-1]["text"] = text[lst[-1]["start"]:lst[-1]["end"]]
        elif len(lst) < MAX_SNIPPETS:
            lst.append({"start": start, "end": end, "text": text[start:end]})
    return out
