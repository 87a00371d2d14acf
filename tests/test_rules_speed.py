"""The fast matcher gives the results of the query language's plain definition.

`RuleSet` shares equal clauses, remembers what each answered per document, reuses its
matching index for highlighting and splits clauses by field: all to make an article on
the topic cheap to match.  None of that may change a result.  `Reference` below
evaluates every clause from its definition, with nothing shared, remembered or
short-circuited, on one precise tokenisation per field; for every text of the
repository's fixture sets (and the shared sets when present) the flagged topics, the
hits and matched terms, the score and the whole `rules explain` output must be the
reference's.  The topic is whatever `config/rules/` holds today: old and new engine are
compared on the same rules, not against results frozen for one version of them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from crawler.models import Document
from crawler.rules import RuleSet, load_topics, topic_from_query
from crawler.rules.engine import FIELD_WEIGHTS, Topic, near_miss
from crawler.rules.index import field_text
from crawler.rules.nodes import (
    UNBOUNDED,
    And,
    AtLeast,
    Count,
    Named,
    Near,
    Node,
    Not,
    Occurrence,
    Or,
    Term,
    Word,
)
from crawler.rules.text import _ABBREVIATIONS, _SENTENCE_END, spans_tokens, text_units

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWATCH_SHARED") or ROOT.parent / "shared")
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "rules").glob("*.jsonl"))
SHARED_SETS = [SHARED / "topic-real" / "articles.jsonl", SHARED / "topic-dev" / "articles.jsonl",
               SHARED / "rules-conformance" / "unicode.jsonl"]
TOPICS = sorted((ROOT / "config" / "rules").glob("*.toml"))

Hit = tuple[str, str, int, int]


def plain_units(text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sentence and paragraph numbers as the README defines them, gap by gap between every two words."""
    sentences, paragraphs = [], []
    sent = para = 0
    for i, (start, end) in enumerate(spans):
        if i:
            gap = text[spans[i - 1][1]:start]
            if "\n" in gap:
                sent, para = sent + 1, para + 1
            elif (m := _SENTENCE_END.search(gap)) and any(c.isspace() for c in gap[m.end():]):
                prev = text[spans[i - 1][0]:spans[i - 1][1]]
                initial = m.group() == "." and (len(prev) == 1 or prev.casefold() in _ABBREVIATIONS)
                if not initial and not text[start:end][:1].islower():
                    sent += 1
        sentences.append(sent)
        paragraphs.append(para)
    return sentences, paragraphs


class Field:
    """One field read the precise way only: tokens with offsets, exact-case tokens, sentences."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens, self.spans = spans_tokens(text)
        cased = spans_tokens(text, fold=False)[0]
        self.cased = cased if len(cased) == len(self.tokens) else [""] * len(self.tokens)
        self.sentences, self.paragraphs = plain_units(text, self.spans)
        self.at: dict[str, list[int]] = {}
        for i, t in enumerate(self.tokens):
            self.at.setdefault(t, []).append(i)

    def starts(self, w: Word) -> list[int]:
        """Where a word could begin a term: its positions, or those of the words it begins."""
        if w.prefix:
            return [i for t, at in self.at.items() if t.startswith(w.text) for i in at]
        return self.at.get(w.text, [])


class Reference:
    """Every clause evaluated from its definition, without short cuts (slow, and plainly right).

    The answers for a clause are kept once found (`known`), since a topic asks for the
    same list in many clauses: the value of a pure function, not a way of evaluating.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.fields: dict[str, Field | None] = {}
        self.known: dict[tuple[str, int], Any] = {}

    def once(self, what: str, node: Node, find: Any) -> Any:
        key = (what, id(node))
        if key not in self.known:
            self.known[key] = find(node)
        return self.known[key]

    def field(self, name: str) -> Field | None:
        if name not in self.fields:
            text = field_text(self.doc, name)
            self.fields[name] = Field(text) if text else None
        return self.fields[name]

    # ── positions ──

    @staticmethod
    def accepts(w: Word, fi: Field, i: int) -> bool:
        t, c = fi.tokens[i], fi.cased[i]
        if w.prefix:
            return t.startswith(w.text) and (w.cased is None or c.startswith(w.cased))
        return t == w.text and (w.cased is None or c == w.cased)

    def occ(self, node: Node) -> list[Occurrence]:
        return self.once("occ", node, self.positions)

    def positions(self, node: Node) -> list[Occurrence]:
        if isinstance(node, Term):
            out = []
            for f in node.fields:
                fi = self.field(f)
                if fi is None:
                    continue
                ends: dict[int, int] = {}  # at one place, the first spelling that fits
                for words in node.variants:
                    for i in fi.starts(words[0]):
                        if i not in ends and i + len(words) <= len(fi.tokens) and all(
                                self.accepts(w, fi, i + k) for k, w in enumerate(words)):
                            ends[i] = i + len(words)
                out += [(f, i, e) for i, e in ends.items()]
            return sorted(out)
        if isinstance(node, Named):
            return self.occ(node.child)
        if isinstance(node, Or):
            return sorted({o for c in node.children for o in self.occ(c)})
        if isinstance(node, Near):
            return sorted({(lo[0], min(lo[1], r[1]), max(lo[2], r[2])) for lo, r in self.pairs(node)})
        raise TypeError(node)

    def pairs(self, node: Near) -> list[tuple[Occurrence, Occurrence]]:
        return [(lo, r) for lo in self.occ(node.left) for r in self.occ(node.right) if self.near(node, lo, r)]

    def near(self, node: Near, left: Occurrence, right: Occurrence) -> bool:
        (lf, ls, le), (rf, rs, re_) = left, right
        n = UNBOUNDED if node.distance is None else node.distance
        if lf != rf:
            return False
        if le <= rs:
            ok = rs - le <= n
        elif re_ <= ls:
            ok = not node.ordered and ls - re_ <= n
        else:  # overlapping spans: no shared word, and their nearest words close enough
            lw, rw = self.words(node.left, left), self.words(node.right, right)
            ok = bool(lw and rw and lw.isdisjoint(rw)) and not (node.ordered and min(rw) < min(lw)) \
                and min(abs(i - j) for i in lw for j in rw) - 1 <= n
        if ok and node.within:
            fi = self.field(lf)
            assert fi is not None
            units = fi.sentences if node.within == "s" else fi.paragraphs
            ok = units[min(ls, rs)] == units[max(le, re_) - 1]
        return ok

    def words(self, node: Node, occ: Occurrence) -> frozenset[int]:
        """The positions of an occurrence's own words (a NEAR's span has gaps)."""
        if isinstance(node, Near):
            f, lo, hi = occ
            rights = self.occ(node.right)
            for left in self.occ(node.left):
                for r in rights:
                    if left[0] == r[0] == f and lo <= left[1] and left[2] <= hi and lo <= r[1] and r[2] <= hi \
                            and min(left[1], r[1]) == lo and max(left[2], r[2]) == hi and self.near(node, left, r):
                        return self.words(node.left, left) | self.words(node.right, r)
            return frozenset()
        if isinstance(node, Named):
            return self.words(node.child, occ)
        if isinstance(node, Or):
            for c in node.children:
                if isinstance(c, Near | Or | Named) and occ in self.occ(c):
                    return self.words(c, occ)
        return frozenset(range(occ[1], occ[2]))

    def anchors(self, node: Node) -> list[Occurrence]:
        """What COUNT counts: the places where a NEAR's left side has the right side nearby."""
        if isinstance(node, Near):
            return sorted({lo for lo, _ in self.pairs(node)})
        if isinstance(node, Named) and isinstance(node.child, Near | Named):
            return self.anchors(node.child)
        return self.occ(node)

    def count(self, node: Count) -> int:
        if node.unit:
            places = set()
            for f, s, _ in self.occ(node.child):
                fi = self.field(f)
                assert fi is not None
                places.add((f, (fi.sentences if node.unit == "s" else fi.paragraphs)[s]))
            return len(places)
        n, last = 0, ("", -1)
        for f, s, e in sorted(self.anchors(node.child), key=lambda o: (o[0], o[2], o[1])):
            if f != last[0] or s >= last[1]:
                n, last = n + 1, (f, e)
        return n

    # ── truth, hits, the clause tree ──

    def held(self, node: Node) -> bool:
        return self.once("held", node, self.holds)

    def holds(self, node: Node) -> bool:
        if isinstance(node, And):
            return all(self.held(c) for c in node.children)
        if isinstance(node, Or) and not node.positional:
            return any(self.held(c) for c in node.children)
        if isinstance(node, Not):
            return not self.held(node.child)
        if isinstance(node, AtLeast):
            return sum(self.held(c) for c in node.children) >= node.n
        if isinstance(node, Count):
            return self.count(node) >= node.n
        if isinstance(node, Named) and not node.positional:
            return self.held(node.child)
        return bool(self.occ(node))

    def hits(self, node: Node) -> list[Hit]:
        """The highlighted words of a clause that holds."""
        return self.once("hits", node, self.highlights)

    def highlights(self, node: Node) -> list[Hit]:
        if isinstance(node, Term):
            out = []
            for f, s, e in self.occ(node):
                fi = self.field(f)
                assert fi is not None
                out.append((node.surface, f, fi.spans[s][0], fi.spans[e - 1][1]))
            return out
        if isinstance(node, And):
            return [h for c in node.children for h in self.hits(c)]
        if isinstance(node, Or | AtLeast):
            return [h for c in node.children if self.held(c) for h in self.hits(c)]
        if isinstance(node, Not):
            return []
        if isinstance(node, Count):
            return self.hits(node.child) if self.held(node.child) else []
        if isinstance(node, Named):
            return self.hits(node.child)
        assert isinstance(node, Near)
        windows = []
        for f, s, e in self.occ(node):
            fi = self.field(f)
            assert fi is not None
            windows.append((f, fi.spans[s][0], fi.spans[e - 1][1]))
        return [h for h in self.hits(node.left) + self.hits(node.right)
                if any(f == h[1] and s <= h[2] and h[3] <= e for f, s, e in windows)]

    def tree(self, node: Node) -> dict[str, Any]:
        """The clause tree `rules explain` prints, as the README defines it."""
        return self.once("tree", node, self.clause)

    def clause(self, node: Node) -> dict[str, Any]:
        text = node.rendered
        if isinstance(node, Term):
            return {"op": "term", "text": text, "held": self.held(node), "count": len(self.occ(node))}
        if isinstance(node, And | Or):
            kids = [self.tree(c) for c in node.children]
            return {"op": type(node).__name__.upper(), "text": text, "held": self.held(node), "children": kids}
        if isinstance(node, Not):
            return {"op": "NOT", "text": text, "held": self.held(node), "children": [self.tree(node.child)]}
        if isinstance(node, AtLeast):
            kids = [self.tree(c) for c in node.children]
            return {"op": "ATLEAST", "n": node.n, "text": text, "held": self.held(node),
                    "count": sum(k["held"] for k in kids), "children": kids}
        if isinstance(node, Count):
            return {"op": "COUNT", "n": node.n, "text": text, "held": self.held(node), "count": self.count(node),
                    "children": [self.tree(node.child)]}
        if isinstance(node, Named):
            k = self.tree(node.child)
            return {"op": "LIST", "text": text, "held": k["held"], "count": k.get("count"), "children": [k]}
        assert isinstance(node, Near)
        out = {"op": "ONEAR" if node.ordered else "NEAR", "distance": node.distance, "text": text,
               "held": self.held(node), "count": len(self.occ(node)),
               "children": [self.tree(node.left), self.tree(node.right)]}
        if node.within:
            out["within"] = "sentence" if node.within == "s" else "paragraph"
        return out

    def topic(self, topic: Topic) -> dict[str, Any]:
        """Verdict, clause trees, hits (in stored form, in reading order) and score of one topic."""
        root = topic.query.root
        held = self.held(root)
        excluded = topic.exclude is not None and self.held(topic.exclude.root)
        found = self.hits(root) if held else [h for t in topic.query.terms() for h in self.hits(t)]
        hits = sorted({(("body" if f in ("lead", "opening") else f), s, e, term) for term, f, s, e in found})
        per_field: dict[str, int] = {}
        for f, *_ in hits:
            per_field[f] = per_field.get(f, 0) + 1
        score = sum(FIELD_WEIGHTS.get(f, 0.5) * (1 + math.log(n)) for f, n in per_field.items())
        score += 0.25 * len({h[3] for h in hits})
        return {"matched": held and not excluded, "query_held": held, "excluded": excluded,
                "clauses": self.tree(root), "exclude_clauses": self.tree(topic.exclude.root) if topic.exclude else None,
                "hits": hits, "matched_terms": sorted({h[3] for h in hits}),
                "score": round(score, 3) if held else 0.0}


def stored_hits(exp: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    """Hits as the reference orders them (terms that highlight the same words may come in any order)."""
    return sorted((h["field"], h["start"], h["end"], h["term"]) for h in exp["hits"])


def documents(path: Path) -> list[Document]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Document(title=str(r.get("title") or ""), body=str(r.get("text") or ""),
                     url=str(r.get("url") or ""), source=str(r.get("source") or "")) for r in rows]


def agree(rules: RuleSet, doc: Document) -> int:
    """Check every topic of `rules` on `doc` against the reference; return how many flag it."""
    ref = Reference(doc)
    want = {t.id: ref.topic(t) for t in rules.topics}
    flagged = sorted(tid for tid, r in want.items() if r["matched"])
    assert sorted(rules.matching_ids(doc)) == flagged
    matches = rules.match(doc)
    assert sorted(m.topic_id for m in matches) == flagged
    for m in matches:
        exp = m.explanation
        assert stored_hits(exp) == want[m.topic_id]["hits"]
        assert sorted(m.matched_terms) == want[m.topic_id]["matched_terms"]
        assert m.score == exp["score"] == want[m.topic_id]["score"]
        assert all(h["text"] == field_text(doc, h["field"])[h["start"]:h["end"]] for h in exp["hits"])
    for t in rules.topics:
        got = rules.explain(doc, t.id)
        r = want[t.id]
        assert got["clauses"] == r["clauses"]
        assert got["exclude_clauses"] == r["exclude_clauses"]
        assert (got["matched"], got["query_held"], got["excluded"]) == (r["matched"], r["query_held"], r["excluded"])
        assert stored_hits(got) == r["hits"] and sorted(got["matched_terms"]) == r["matched_terms"]
        assert got["score"] == r["score"]
        # near_miss reuses the index match() built; asked of a fresh document it must say the same
        again = Document(title=doc.title, body=doc.body, url=doc.url, source=doc.source, authors=list(doc.authors))
        assert near_miss(rules, doc, t.id) == near_miss(rules, again, t.id)
    return len(flagged)


def sample(docs: list[Document], most: int = 25) -> list[Document]:
    """Texts spread evenly over a set (every line when it is small): the same ones every run."""
    return docs if len(docs) <= 2 * most else docs[::len(docs) // most]


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    return load_topics(TOPICS)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_sets_match_as_the_reference_says(shipped: RuleSet, path: Path) -> None:
    """Every text of the small sets, and 25 spread over each larger one: the plain reference
    evaluator takes about a third of a second a text on the default topic."""
    docs = sample(documents(path))
    flagged = sum(agree(shipped, d) for d in docs)
    assert docs and (flagged or path.name.startswith("unicode"))  # the sets with articles have flagged ones


@pytest.mark.parametrize("path", SHARED_SETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shared_sets_match_as_the_reference_says(shipped: RuleSet, path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared data sits beside the repository)")
    for d in sample(documents(path)):
        agree(shipped, d)


def test_unicode_terms_match_as_the_reference_says() -> None:
    """Each conformance case's own term, as a topic, on its text (the shared cases when present)."""
    cases = [json.loads(line) for p in (SHARED_SETS[2], ROOT / "tests" / "fixtures" / "rules" / "unicode_extra.jsonl")
             if p.is_file() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert cases
    for case in cases:
        term = case["term"]
        rules = RuleSet([topic_from_query(f'"{term}"' if any(c.isspace() for c in term) else term)])
        agree(rules, Document(body=case["text"]))


def test_reference_finds_what_the_engine_must() -> None:
    """The reference itself is right on cases worked by hand (else agreeing with it proves little)."""
    rules = RuleSet([topic_from_query('(india OR delhi) NEAR/3s "quiet talks" AND COUNT(india) >= 2')])
    doc = Document(title="India", body="Delhi held quiet talks. India said so.")
    r = Reference(doc).topic(rules.topics[0])
    assert r["matched"] and r["hits"] == [("body", 0, 5, "delhi"), ("body", 11, 22, '"quiet talks"'),
                                          ("body", 24, 29, "india"), ("title", 0, 5, "india")]
    far = Reference(Document(body="Delhi said. Then quiet talks began. India")).topic(rules.topics[0])
    assert not far["query_held"] and far["clauses"]["children"][0]["held"] is False
    agree(rules, doc)


@pytest.mark.parametrize(("query", "doc"), [
    # one paragraph but not one sentence: the two NEARs differ only in their unit
    ("(india NEAR/3p talks) AND NOT (india NEAR/3s talks)", Document(body="India said so. Talks began.")),
    # the same clause on the body, the headline and both: three clauses, one shared per field
    ("body:(india NEAR/2 talks) AND NOT title:(india NEAR/2 talks) AND (india NEAR/2 talks)",
     Document(title="Talks in Delhi", body="India held talks")),
    # a list named on its own and inside a field scope
    ("COUNT(india OR delhi) >= 3 AND NOT title:(india OR delhi)", Document(title="x", body="India, Delhi, India")),
])
def test_clauses_that_differ_stay_apart(query: str, doc: Document) -> None:
    """Sharing equal clauses must not merge two that differ in unit, field or count."""
    rules = RuleSet([topic_from_query(query)])
    assert agree(rules, doc) == 1


def test_sentences_are_found_as_defined() -> None:
    """`text_units` looks only at the gaps with a mark in them; every gap must come out as defined."""
    import random

    rng = random.Random(5)
    pieces = ["India", "talks", "J.", "U.S.", "Lt.", "Gen.", "said", "then", "Then", ".", ". ", "! ", "? ",
              "… ", "। ", "۔ ", "\n", " ", "  ", ", ", "back\u00adchannel", "پاکستان", "“", "”", "...", ".\n"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(0, 30)))
        spans = spans_tokens(text)[1]
        assert text_units(text, spans) == plain_units(text, spans), text


def test_a_rule_set_sent_to_a_worker_matches_the_same(shipped: RuleSet) -> None:
    """Worker processes get the rules pickled: the shared clauses and their field copies go along."""
    import pickle

    doc = next(d for d in documents(FIXTURES[0]) if shipped.matching_ids(d))
    shipped.match(doc)  # a thread's last index is this process's own, not part of the rules
    copy = pickle.loads(pickle.dumps(shipped))
    assert [m.explanation for m in copy.match(doc)] == [m.explanation for m in shipped.match(doc)]
    assert copy.version == shipped.version
