"""Compiled query nodes: the Boolean/proximity tree a topic query becomes.

Each node answers `holds(ix)` (short-circuit, for matching every article),
`collect(ix, hits)` (the highlighted words of a clause that holds: what a stored
match keeps) and `explain(ix)` (no short-circuit: the clause tree telling an analyst
which clause held or failed, built only on demand, never during a poll).  Positional nodes (terms, OR-groups of them, NEAR) also give their
occurrences as `(field, first_token, end_token)` spans, which is what proximity
and counting work on.  Rendering a node with `str()` gives the canonical query
text, which is also what the rules version is hashed from.

A topic names the same lists in many clauses (`@quiet`, `@india_side`), so `Sharing`
makes equal sub-clauses one object when a rule set is built, and what a clause
answers about a document (held, occurrences, hits) is remembered in the document's
index: each distinct clause is evaluated once per document, however often it is used.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from crawler.rules.index import DocIndex, FieldIndex

__all__ = [
    "DEFAULT_FIELDS",
    "And",
    "AtLeast",
    "Count",
    "Near",
    "Node",
    "Not",
    "Occurrence",
    "Or",
    "Sharing",
    "Term",
    "Word",
]

DEFAULT_FIELDS: tuple[str, ...] = ("title", "body")

_SHARED: dict[Any, Any] = {}
"""Each distinct word set of the compiled clauses once: a term list used in several field
scopes compiles a copy per scope, and an idle daemon need hold their word sets only once."""


def _shared(value: Any) -> Any:
    """`value`, or the equal one compiled before it (frozensets and tuples of them)."""
    return _SHARED.setdefault(value, value)


def forget_shared() -> None:
    """End a compile's sharing (the clauses keep their sets; a reload does not grow the table)."""
    _SHARED.clear()
UNBOUNDED = 1 << 30
"""The word distance of `NEAR/s` and `NEAR/p`: any, as long as the sentence or paragraph is one."""

Occurrence = tuple[str, int, int]
"""(field, first token position, end token position exclusive)."""

Hit = tuple[str, str, int, int]
"""(term as written, field, start, end): character offsets into the field's original text."""
Hits = list[Hit]


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a term: normalised text, whether it is a prefix, and its exact case if required."""

    text: str
    prefix: bool = False
    cased: str | None = None

    def accepts(self, fi: FieldIndex, i: int) -> bool:
        t = fi.tokens[i]
        if self.prefix:
            if not t.startswith(self.text):
                return False
        elif t != self.text:
            return False
        if self.cased is not None:
            c = fi.cased[i]
            return c.startswith(self.cased) if self.prefix else c == self.cased
        return True


class Node:
    """Base of the query tree."""

    positional: bool = False
    by_field: tuple[Node, ...] = ()
    """For a positional clause on several fields: the same clause on each field alone, in
    field order (set by `Sharing`).  Its occurrences are theirs put together, so `body:@quiet`
    is found once for the clauses that name it and for those that say `@quiet`."""

    def holds(self, ix: DocIndex) -> bool:
        raise NotImplementedError

    def occurrences(self, ix: DocIndex) -> list[Occurrence]:
        raise TypeError(f"{self} has no word positions")

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        """The clause tree: this clause's text, whether it held, and its children's trees."""
        raise NotImplementedError

    def collect(self, ix: DocIndex, hits: Hits) -> None:
        """Add the hits that make this clause hold (called only when it holds), found once per document."""
        found = ix.hits.get(self)
        if found is None:
            if self.by_field:
                found = []
                for twin in self.by_field:
                    if twin.holds(ix):
                        twin.collect(ix, found)
            else:
                found = self._hits(ix)
            ix.hits[self] = found
        hits.extend(found)

    def _hits(self, ix: DocIndex) -> Hits:
        raise NotImplementedError

    @cached_property
    def rendered(self) -> str:
        """`str(self)`, computed once: trees are fixed after compiling, and explanations quote every clause."""
        return str(self)

    def triggers(self) -> set[tuple[str, str]] | None:
        """Words/prefixes one of which must occur for this node to hold (None: no such set)."""
        raise NotImplementedError

    def terms(self) -> list[Term]:
        raise NotImplementedError

    def cost(self) -> int:
        """A rough price of `holds`, to evaluate cheap clauses of an AND first."""
        return 1


def _wrap(node: Node) -> str:
    s = node.rendered
    return f"({s})" if isinstance(node, And | Or | Near) else s


@dataclass(eq=False)
class Term(Node):
    """A word, phrase or wildcard, with its spelling variants (`back-channel` has three)."""

    surface: str
    variants: tuple[tuple[Word, ...], ...]
    fields: tuple[str, ...] = DEFAULT_FIELDS
    positional = True

    def __str__(self) -> str:
        if self.fields == DEFAULT_FIELDS:
            return self.surface
        return " ".join(f"{f}:{self.surface}" for f in self.fields) if len(self.fields) > 1 else f"{self.fields[0]}:{self.surface}"

    def __post_init__(self) -> None:
        # Most terms are one plain word or one wildcard: answer those with a set lookup.
        self.simple: str | None = None
        self.lone_prefix: str | None = None
        if len(self.variants) == 1 and len(self.variants[0]) == 1:
            w = self.variants[0][0]
            if w.cased is None:
                if w.prefix:
                    self.lone_prefix = w.text
                else:
                    self.simple = w.text
        # The exact words each variant needs: a phrase whose words are not all in a field
        # cannot occur there, which a set test says without looking for positions.
        needs = tuple(frozenset(w.text for w in v if not w.prefix) for v in self.variants)
        self._needs = _shared(needs)

    def cost(self) -> int:
        return 1 if self.simple is not None else 3

    def holds(self, ix: DocIndex) -> bool:
        word = self.simple
        if word is not None:
            for f in self.fields:
                fi = ix.fields.get(f) or ix.field(f)
                if fi is not None and word in fi.present:
                    return True
            return False
        prefix = self.lone_prefix
        if prefix is not None:  # any expansion will do
            for f in self.fields:
                fi = ix.fields.get(f) or ix.field(f)
                if fi is not None and fi.expand(prefix):
                    return True
            return False
        held = ix.held.get(self)
        if held is None:
            held = ix.held[self] = self._holds(ix)
        return held

    def _holds(self, ix: DocIndex) -> bool:
        for f in self.fields:
            fi = ix.fields.get(f) or ix.field(f)
            if fi is not None and any(need <= fi.present for need in self._needs):
                return bool(self.occurrences(ix))
        return False

    def occurrences(self, ix: DocIndex) -> list[Occurrence]:
        cached = ix.cache.get(self)
        if cached is not None:
            return cached
        if self.by_field:
            out = ix.cache[self] = _joined(self.by_field, ix)
            return out
        out: list[Occurrence] = []
        word = self.simple
        if word is not None:  # the common case: the word's positions
            for f in self.fields:
                fi = ix.fields.get(f) or ix.field(f)
                if fi is not None and word in fi.present:
                    out.extend([(f, i, i + 1) for i in fi.positions(word)])
            ix.cache[self] = out
            return out
        for f in self.fields:
            fi = ix.field(f)
            if fi is None:
                continue
            starts: set[int] = set()
            for words in self.variants:
                first = words[0]
                if first.prefix:
                    cands: list[int] = []
                    for t in fi.expand(first.text):
                        cands.extend(fi.positions(t))
                elif first.text in fi.present:
                    cands = fi.positions(first.text)
                else:
                    continue
                n = len(words)
                ntok = len(fi.tokens)
                for i in cands:
                    if i in starts or i + n > ntok:
                        continue
                    if all(w.accepts(fi, i + k) for k, w in enumerate(words)):
                        starts.add(i)
                        out.append((f, i, i + n))
        out.sort()
        ix.cache[self] = out
        return out

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        occ = self.occurrences(ix)
        return {"op": "term", "text": self.rendered, "held": bool(occ), "count": len(occ)}

    def _hits(self, ix: DocIndex) -> Hits:
        out: Hits = []
        for f, s, e in self.occurrences(ix):
            fi = ix.field(f)
            assert fi is not None
            out.append((self.surface, f, *fi.char_span(s, e)))
        return out

    def triggers(self) -> set[tuple[str, str]] | None:
        out: set[tuple[str, str]] = set()
        for words in self.variants:
            exact = [w.text for w in words if not w.prefix]
            if exact:
                out.add(("w", max(exact, key=len)))
            else:
                out.add(("p", words[0].text))
        return out

    def terms(self) -> list[Term]:
        return [self]


@dataclass(eq=False)
class And(Node):
    children: list[Node]

    def __str__(self) -> str:
        return " AND ".join(_wrap(c) for c in self.children)

    def __post_init__(self) -> None:
        # Cheap clauses first: a failing word test spares a proximity search.
        self._order = sorted(self.children, key=lambda c: c.cost())

    def cost(self) -> int:
        return sum(c.cost() for c in self.children)

    def holds(self, ix: DocIndex) -> bool:
        held = ix.held.get(self)
        if held is None:
            held = ix.held[self] = all(c.holds(ix) for c in self._order)
        return held

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        kids = [c.explain(ix) for c in self.children]
        return {"op": "AND", "text": self.rendered, "held": all(k["held"] for k in kids), "children": kids}

    def _hits(self, ix: DocIndex) -> Hits:
        out: Hits = []
        for c in self.children:
            c.collect(ix, out)
        return out

    def triggers(self) -> set[tuple[str, str]] | None:
        best: set[tuple[str, str]] | None = None
        for c in self.children:
            t = c.triggers()
            if t is not None and (best is None or len(t) < len(best)):
                best = t
        return best

    def terms(self) -> list[Term]:
        return [t for c in self.children for t in c.terms()]


@dataclass(eq=False)
class Or(Node):
    children: list[Node]

    def __post_init__(self) -> None:
        self.positional = all(c.positional for c in self.children)
        # Plain words are tested together with one C-level set intersection per field.
        words: dict[tuple[str, ...], dict[str, list[Term]]] = {}
        self._rest: list[Node] = []
        for c in self.children:
            if isinstance(c, Term) and c.simple is not None:
                words.setdefault(c.fields, {}).setdefault(c.simple, []).append(c)
            else:
                self._rest.append(c)
        self._words = [(f, _shared(frozenset(ws))) for f, ws in words.items()]
        self._plain = list(words.items())
        self._rest.sort(key=lambda c: c.cost())
        # Phrases (and other terms with an exact word per variant) are looked at only when
        # one of those words is in the document: a list of fifty phrases costs its present ones.
        self._keyed: dict[str, list[Node]] = {}
        self._unkeyed: list[Node] = []
        key_fields: set[str] = set()
        for c in self._rest:
            trig = c.triggers() if isinstance(c, Term) else None
            if trig and all(kind == "w" for kind, _ in trig):
                assert isinstance(c, Term)
                key_fields.update(c.fields)
                for _, w in trig:
                    self._keyed.setdefault(w, []).append(c)
            else:
                self._unkeyed.append(c)
        self._keys = _shared(frozenset(self._keyed))
        self._key_fields = tuple(sorted(key_fields))
        self._live_key = (self, "live")

    def _live(self, ix: DocIndex) -> list[Node]:
        """The non-plain children that can hold in this document (a phrase needs its key word)."""
        if not self._keyed:
            return self._unkeyed
        live = ix.cache.get(self._live_key)
        if live is None:
            live = ix.cache[self._live_key] = self._find_live(ix)
        return live

    def _find_live(self, ix: DocIndex) -> list[Node]:
        seen: set[int] = set()
        live: list[Node] = []
        for f in self._key_fields:
            fi = ix.fields.get(f) or ix.field(f)
            if fi is None:
                continue
            for w in self._keys & fi.present:
                for c in self._keyed[w]:
                    if id(c) not in seen:
                        seen.add(id(c))
                        live.append(c)
        return live + self._unkeyed if self._unkeyed else live

    def __str__(self) -> str:
        return " OR ".join(_wrap(c) for c in self.children)

    def cost(self) -> int:
        return sum(c.cost() for c in self.children)

    def holds(self, ix: DocIndex) -> bool:
        held = ix.held.get(self)
        if held is None:
            held = ix.held[self] = self._holds(ix)
        return held

    def _holds(self, ix: DocIndex) -> bool:
        for fields, words in self._words:
            for f in fields:
                fi = ix.fields.get(f) or ix.field(f)
                if fi is not None and not words.isdisjoint(fi.present):
                    return True
        if self.by_field:
            return any(twin.holds(ix) for twin in self.by_field)
        return any(c.holds(ix) for c in self._live(ix))

    def occurrences(self, ix: DocIndex) -> list[Occurrence]:
        if len(self.children) == 1:
            return self.children[0].occurrences(ix)
        cached = ix.cache.get(self)
        if cached is None and self.by_field:
            cached = ix.cache[self] = _joined(self.by_field, ix)
        if cached is None:
            found: set[Occurrence] = set()
            # Plain words by one set intersection per field: a long list costs its present words only.
            for fields, words in self._words:
                for f in fields:
                    fi = ix.fields.get(f) or ix.field(f)
                    if fi is not None:
                        for w in words & fi.present:
                            found.update((f, i, i + 1) for i in fi.positions(w))
            for c in self._live(ix):
                found.update(c.occurrences(ix))
            cached = sorted(found)
            ix.cache[self] = cached
        return cached

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        kids = [c.explain(ix) for c in self.children]
        return {"op": "OR", "text": self.rendered, "held": any(k["held"] for k in kids), "children": kids}

    def _hits(self, ix: DocIndex) -> Hits:
        hits: Hits = []
        done: set[int] = set()
        for fields, by_word in self._plain:
            for f in fields:
                fi = ix.fields.get(f) or ix.field(f)
                if fi is None:
                    continue
                for w in by_word.keys() & fi.present:
                    for t in by_word[w]:
                        if id(t) not in done:
                            done.add(id(t))
                            t.collect(ix, hits)
        for c in self._live(ix):
            if c.holds(ix):
                c.collect(ix, hits)
        return hits

    def triggers(self) -> set[tuple[str, str]] | None:
        return _any_triggers(self.children)

    def terms(self) -> list[Term]:
        return [t for c in self.children for t in c.terms()]


@dataclass(eq=False)
class Not(Node):
    child: Node

    def __str__(self) -> str:
        return f"NOT {_wrap(self.child)}"

    def cost(self) -> int:
        return self.child.cost()

    def holds(self, ix: DocIndex) -> bool:
        return not self.child.holds(ix)

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        k = self.child.explain(ix)
        return {"op": "NOT", "text": self.rendered, "held": not k["held"], "children": [k]}

    def _hits(self, ix: DocIndex) -> Hits:
        """An absent word has nothing to highlight."""
        return []

    def triggers(self) -> set[tuple[str, str]] | None:
        return None

    def terms(self) -> list[Term]:
        return self.child.terms()


@dataclass(eq=False)
class Near(Node):
    """`a NEAR/n b`: some occurrence of each side, in the same field, with at most n words between.

    `within` keeps both sides in one sentence (`"s"`: `NEAR/20s`, `NEAR/s`) or one
    paragraph (`"p"`); `distance` None means any distance inside that unit.
    """

    left: Node
    right: Node
    distance: int | None
    ordered: bool = False
    within: str = ""
    positional = True

    def __str__(self) -> str:
        return f"{_wrap(self.left)} {self.operator} {_wrap(self.right)}"

    @property
    def operator(self) -> str:
        """The operator as written: `NEAR/20`, `ONEAR/5s`, `NEAR/p`."""
        op = "ONEAR" if self.ordered else "NEAR"
        return f"{op}/{'' if self.distance is None else self.distance}{self.within}"

    def _apart(self) -> int:
        return UNBOUNDED if self.distance is None else self.distance

    @cached_property
    def sides(self) -> tuple[Node, Node]:
        """Both sides, the cheaper to test first: a missing country spares evaluating a long list."""
        return (self.left, self.right) if self.left.cost() <= self.right.cost() else (self.right, self.left)

    def sides_hold(self, ix: DocIndex) -> bool:
        """Whether each side occurs at all (set lookups, mostly), which a NEAR needs before positions."""
        first, second = self.sides
        return first.holds(ix) and second.holds(ix)

    def _same_unit(self, fi: FieldIndex | None, start: int, end: int) -> bool:
        """Whether tokens start..end-1 lie in one sentence or paragraph (always, without `within`)."""
        if not self.within or fi is None:
            return True
        units = fi.units(self.within)
        return units[start] == units[end - 1]

    def occurrences(self, ix: DocIndex) -> list[Occurrence]:
        cached = ix.cache.get(self)
        if cached is not None:
            return cached
        if self.by_field:
            result = ix.cache[self] = _joined(self.by_field, ix)
            ix.cache[(self, "anchors")] = [o for twin in self.by_field for o in twin.anchors(ix)]
            return result
        out: set[Occurrence] = set()
        anchors: set[Occurrence] = set()
        # Both sides must occur at all before positions are worth computing (set lookups).
        left = self.left.occurrences(ix) if self.sides_hold(ix) else []
        if left:
            right = self.right.occurrences(ix)
            if len(left) * len(right) <= 256:
                self._pairs(left, right, out, anchors, ix)
            else:
                self._bisect(left, right, out, anchors, ix)
        result = sorted(out)
        ix.cache[self] = result
        ix.cache[(self, "anchors")] = sorted(anchors)
        return result

    def _pair(self, ix: DocIndex | None, left: Occurrence, right: Occurrence) -> bool:
        """Whether one occurrence of each side are near each other (same field, distance, order, unit)."""
        lf, ls, le = left
        rf, rs, re_ = right
        if rf != lf:
            return False
        n = self._apart()
        if le <= rs:
            ok = rs - le <= n
        elif re_ <= ls:
            ok = not self.ordered and ls - re_ <= n
        else:
            ok = ix is not None and self._interleaved(ix, left, right)
        if ok and self.within and ix is not None:
            ok = self._same_unit(ix.fields.get(lf), min(ls, rs), max(le, re_))
        return ok

    def _interleaved(self, ix: DocIndex, left: Occurrence, right: Occurrence) -> bool:
        """Overlapping spans: near when they share no word and their nearest words are close.

        A NEAR's span has gaps ("ambassadors from India met" is `ambassadors NEAR met`), and
        the other side may stand in one of them; two spans that share a word are the same
        words, not two near each other.
        """
        lw = _words(self.left, ix, left)
        rw = _words(self.right, ix, right)
        if not lw or not rw or not lw.isdisjoint(rw):
            return False
        if self.ordered and min(rw) < min(lw):
            return False
        gap = min(abs(i - j) for i in lw for j in rw) - 1
        return gap <= self._apart()

    def words(self, ix: DocIndex, occ: Occurrence) -> frozenset[int]:
        """The token positions of the words that make up one of this NEAR's occurrences."""
        key = (self, "words", occ)
        cached = ix.cache.get(key)
        if cached is not None:
            return cached
        f, lo, hi = occ
        found: frozenset[int] = frozenset()
        right = [r for r in self.right.occurrences(ix) if r[0] == f and lo <= r[1] and r[2] <= hi]
        for left in self.left.occurrences(ix):
            if left[0] != f or left[1] < lo or left[2] > hi:
                continue
            for r in right:
                if min(left[1], r[1]) == lo and max(left[2], r[2]) == hi and self._pair(ix, left, r):
                    found = _words(self.left, ix, left) | _words(self.right, ix, r)
                    break
            if found:
                break
        ix.cache[key] = found
        return found

    def _pairs(self, left: list[Occurrence], right: list[Occurrence],
               out: set[Occurrence], anchors: set[Occurrence], ix: DocIndex | None = None) -> None:
        """Every pair compared: the fastest way for the few occurrences most articles have."""
        n = self._apart()
        ordered = self.ordered
        units: list[int] | None = None
        units_field = ""
        for lf, ls, le in left:
            if self.within and ix is not None and lf != units_field:  # sentence numbers, once per field
                fi = ix.fields.get(lf)
                units, units_field = (fi.units(self.within) if fi is not None else None), lf
            for rf, rs, re_ in right:
                if rf != lf:
                    continue
                if le <= rs:
                    ok = rs - le <= n
                elif re_ <= ls:
                    ok = not ordered and ls - re_ <= n
                else:
                    ok = ix is not None and self._interleaved(ix, (lf, ls, le), (rf, rs, re_))
                if ok and units is not None:
                    ok = units[min(ls, rs)] == units[max(le, re_) - 1]
                if ok:
                    out.add((lf, min(ls, rs), max(le, re_)))
                    anchors.add((lf, ls, le))

    def _bisect(self, left: list[Occurrence], right: list[Occurrence],
                out: set[Occurrence], anchors: set[Occurrence], ix: DocIndex | None = None) -> None:
        """Each left occurrence finds its neighbours by bisection: for long, dense texts."""
        n = self._apart()
        by_field: dict[str, tuple[list[int], list[Occurrence], list[int], list[Occurrence], int]] = {}
        for f in {o[0] for o in right}:
            occs = [o for o in right if o[0] == f]
            by_start = sorted(occs, key=lambda o: o[1])
            by_end = sorted(occs, key=lambda o: o[2])
            longest = max(o[2] - o[1] for o in occs)
            by_field[f] = ([o[1] for o in by_start], by_start, [o[2] for o in by_end], by_end, longest)
        for lf, ls, le in left:
            near = by_field.get(lf)
            if near is None:
                continue
            starts, by_start, ends, by_end, longest = near
            # after: the right side starts at most n words after the left ends
            found = by_start[bisect_left(starts, le):bisect_right(starts, le + n)]
            if not self.ordered:
                # before: the right side ends at most n words before the left starts
                found = found + by_end[bisect_left(ends, ls - n):bisect_right(ends, ls)]
            fi = ix.fields.get(lf) if ix is not None else None
            kept = False
            for _, rs, re_ in found:
                lo, hi = min(ls, rs), max(le, re_)
                if self._same_unit(fi, lo, hi):
                    out.add((lf, lo, hi))
                    kept = True
            # overlapping: the right side starts inside the left's span, or ends inside it
            if ix is not None:
                for o in by_start[bisect_left(starts, ls - longest + 1):bisect_left(starts, le)]:
                    if o[2] > ls and self._pair(ix, (lf, ls, le), o):
                        out.add((lf, min(ls, o[1]), max(le, o[2])))
                        kept = True
            if kept:
                anchors.add((lf, ls, le))

    def anchors(self, ix: DocIndex) -> list[Occurrence]:
        """Occurrences of the left side that have the right side nearby (what COUNT counts)."""
        self.occurrences(ix)
        return ix.cache[(self, "anchors")]

    def cost(self) -> int:
        return 10 * (self.left.cost() + self.right.cost())

    def holds(self, ix: DocIndex) -> bool:
        return bool(self.occurrences(ix))

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        occ = self.occurrences(ix)
        kids = [self.left.explain(ix), self.right.explain(ix)]
        out: dict[str, Any] = {"op": "ONEAR" if self.ordered else "NEAR", "distance": self.distance,
                               "text": self.rendered, "held": bool(occ), "count": len(occ), "children": kids}
        if self.within:
            out["within"] = "sentence" if self.within == "s" else "paragraph"
        return out

    def _hits(self, ix: DocIndex) -> Hits:
        local: Hits = []
        self.left.collect(ix, local)
        self.right.collect(ix, local)
        # Highlight only the words that lie inside a window that satisfied the proximity:
        # per field, the windows by start with the furthest end reached so far, so a hit
        # is inside one when the furthest end among the windows starting before it covers it.
        starts: dict[str, list[int]] = {}
        reach: dict[str, list[int]] = {}
        for f, s, e in self.occurrences(ix):
            fi = ix.field(f)
            assert fi is not None
            start, end = fi.char_span(s, e)
            starts.setdefault(f, []).append(start)
            reach.setdefault(f, []).append(end)
        for f, ends in reach.items():
            order = sorted(range(len(ends)), key=starts[f].__getitem__)
            starts[f] = [starts[f][i] for i in order]
            furthest = -1
            ends[:] = [furthest := max(furthest, ends[i]) for i in order]
        out: Hits = []
        for h in local:
            f_starts = starts.get(h[1])
            if f_starts is not None:
                k = bisect_right(f_starts, h[2])
                if k and reach[h[1]][k - 1] >= h[3]:
                    out.append(h)
        return out

    def triggers(self) -> set[tuple[str, str]] | None:
        a, b = self.left.triggers(), self.right.triggers()
        if a is None:
            return b
        if b is None:
            return a
        return a if len(a) <= len(b) else b

    def terms(self) -> list[Term]:
        return self.left.terms() + self.right.terms()


def _joined(twins: tuple[Node, ...], ix: DocIndex) -> list[Occurrence]:
    """The occurrences of a clause on several fields: those on each, in field order (so sorted)."""
    return [o for twin in twins for o in twin.occurrences(ix)]


def _words(node: Node, ix: DocIndex, occ: Occurrence) -> frozenset[int]:
    """The token positions of an occurrence's own words: all of a term's span, a NEAR's two sides."""
    if isinstance(node, Near):
        return node.words(ix, occ)
    if isinstance(node, Named):  # a list behaves as its definition in parentheses
        return _words(node.child, ix, occ)
    if isinstance(node, Or):
        for c in node.children:
            if isinstance(c, Near | Or | Named) and occ in c.occurrences(ix):
                return _words(c, ix, occ)
    return frozenset(range(occ[1], occ[2]))


@dataclass(eq=False)
class AtLeast(Node):
    """`ATLEAST(n, a, b, c)`: at least n of the clauses hold."""

    n: int
    children: list[Node]

    def __str__(self) -> str:
        return f"ATLEAST({self.n}, " + ", ".join(c.rendered for c in self.children) + ")"

    def cost(self) -> int:
        return sum(c.cost() for c in self.children)

    def holds(self, ix: DocIndex) -> bool:
        held = ix.held.get(self)
        if held is None:
            held = ix.held[self] = self._holds(ix)
        return held

    def _holds(self, ix: DocIndex) -> bool:
        need = self.n
        for c in self.children:
            if c.holds(ix):
                need -= 1
                if need <= 0:
                    return True
        return False

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        kids = [c.explain(ix) for c in self.children]
        n_held = sum(1 for k in kids if k["held"])
        return {"op": "ATLEAST", "n": self.n, "text": self.rendered, "held": n_held >= self.n,
                "count": n_held, "children": kids}

    def _hits(self, ix: DocIndex) -> Hits:
        out: Hits = []
        for c in self.children:
            if c.holds(ix):
                c.collect(ix, out)
        return out

    def triggers(self) -> set[tuple[str, str]] | None:
        return _any_triggers(self.children)

    def terms(self) -> list[Term]:
        return [t for c in self.children for t in c.terms()]


@dataclass(eq=False)
class Count(Node):
    """`COUNT(x) >= n`: x occurs at least n separate times (title and body occurrences add up).

    Overlapping occurrences count once; for `COUNT(a NEAR/k b)` what is counted is the
    separate places where `a` has `b` nearby, so one mention of `b` can serve two `a`s.
    """

    child: Node
    n: int = field(default=1)
    unit: str = ""
    """`"s"`: count the sentences x occurs in (`>= 2s`); `"p"`: the paragraphs; `""`: occurrences."""

    def __str__(self) -> str:
        return f"COUNT({self.child.rendered}) >= {self.n}{self.unit}"

    def count(self, ix: DocIndex) -> int:
        """Separate occurrences: overlapping ones (one sentence's NEAR pairs) count once."""
        child = self.child
        if self.unit:
            places: set[tuple[str, int]] = set()
            for f, s, _ in child.occurrences(ix):
                fi = ix.field(f)
                if fi is not None:
                    places.add((f, fi.units(self.unit)[s]))
            return len(places)
        occ = child.anchors(ix) if isinstance(child, Near | Named) else child.occurrences(ix)
        if len(occ) < 2:
            return len(occ)
        n = 0
        last_field, last_end = "", -1
        for f, s, e in sorted(occ, key=lambda o: (o[0], o[2], o[1])):
            if f != last_field or s >= last_end:
                n += 1
                last_field, last_end = f, e
        return n

    def cost(self) -> int:
        return 2 * self.child.cost()

    def holds(self, ix: DocIndex) -> bool:
        held = ix.held.get(self)
        if held is None:
            held = ix.held[self] = self.count(ix) >= self.n
        return held

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        count = self.count(ix)
        return {"op": "COUNT", "n": self.n, "text": self.rendered, "held": count >= self.n, "count": count,
                "children": [self.child.explain(ix)]}

    def _hits(self, ix: DocIndex) -> Hits:
        out: Hits = []
        if self.child.holds(ix):
            self.child.collect(ix, out)
        return out

    def triggers(self) -> set[tuple[str, str]] | None:
        return self.child.triggers()

    def terms(self) -> list[Term]:
        return self.child.terms()


def _any_triggers(children: list[Node]) -> set[tuple[str, str]] | None:
    """Words of which one must occur for any of `children` to hold (None: no such set)."""
    out: set[tuple[str, str]] = set()
    for c in children:
        t = c.triggers()
        if t is None:
            return None
        out |= t
    return out


@dataclass(eq=False)
class Named(Node):
    """`@name`: a term list defined once in the topic's `[terms]` table and used by name.

    It behaves exactly as its definition in parentheses would; explanations show the
    name, so a clause tree stays readable however long the list is.
    """

    name: str
    child: Node

    def __post_init__(self) -> None:
        self.positional = self.child.positional

    def __str__(self) -> str:
        return f"@{self.name}"

    def cost(self) -> int:
        return self.child.cost()

    def holds(self, ix: DocIndex) -> bool:
        return self.child.holds(ix)

    def occurrences(self, ix: DocIndex) -> list[Occurrence]:
        return self.child.occurrences(ix)

    def anchors(self, ix: DocIndex) -> list[Occurrence]:
        """What COUNT counts: a NEAR's anchors, else the occurrences."""
        child = self.child
        return child.anchors(ix) if isinstance(child, Near | Named) else child.occurrences(ix)

    def explain(self, ix: DocIndex) -> dict[str, Any]:
        k = self.child.explain(ix)
        return {"op": "LIST", "text": f"@{self.name}", "held": k["held"], "count": k.get("count"),
                "children": [k]}

    def collect(self, ix: DocIndex, hits: Hits) -> None:
        self.child.collect(ix, hits)

    def triggers(self) -> set[tuple[str, str]] | None:
        return self.child.triggers()

    def terms(self) -> list[Term]:
        return self.child.terms()


class Sharing:
    """Makes equal clauses one object, across every query of a rule set (`of` each root).

    Equal means the same clause in the same fields: same operator, parameters and
    (already shared) operands, so either object gives the same answers and the same
    explanation.  Sharing them lets a document's index remember one answer for all the
    places a topic uses a list or phrase.  Operands are replaced in place, and a node
    recomputes what it derived from them.  A positional clause on several fields also
    gets its copy on each field alone (`by_field`), shared with the clauses that name
    that field.
    """

    def __init__(self) -> None:
        self._equal: dict[tuple[Any, ...], Node] = {}
        self._done: dict[int, tuple[Node, Node]] = {}
        """id of a node seen → (that node, kept alive so the id stays its own; its shared one)."""
        self._scope: dict[int, tuple[str, ...] | None] = {}

    def of(self, node: Node) -> Node:
        """The shared node equal to `node` (whose operands are replaced by shared ones)."""
        done = self._done.get(id(node))
        if done is not None:
            return done[1]
        key: tuple[Any, ...]
        kids: list[Node] = []
        if isinstance(node, Term):
            key = (Term, node.surface, node.variants, node.fields)
        elif isinstance(node, And | Or | AtLeast):
            kids = [self.of(c) for c in node.children]
            key = (type(node), getattr(node, "n", None), *map(id, kids))
        elif isinstance(node, Near):
            kids = [self.of(node.left), self.of(node.right)]
            key = (Near, *map(id, kids), node.distance, node.ordered, node.within)
        elif isinstance(node, Not | Count | Named):
            kids = [self.of(node.child)]
            key = (type(node), id(kids[0]), getattr(node, "n", None), getattr(node, "unit", None),
                   getattr(node, "name", None))
        else:  # pragma: no cover - every node type is handled above
            return node
        one = self._equal.get(key)
        if one is None:  # the first of its kind: it keeps the shared operands
            one = self._equal[key] = node
            if isinstance(node, And | Or | AtLeast):
                if any(a is not b for a, b in zip(kids, node.children, strict=True)):
                    node.children = kids
                    if isinstance(node, And | Or):  # their order and word tables come from the operands
                        node.__post_init__()
            elif isinstance(node, Near):
                node.left, node.right = kids
                node.__dict__.pop("sides", None)  # re-derived from the shared sides when next asked
            elif isinstance(node, Not | Count | Named) and kids[0] is not node.child:
                node.child = kids[0]
                if isinstance(node, Named):
                    node.__post_init__()
        self._done[id(node)] = (node, one)
        self._done[id(one)] = (one, one)
        scope = self._fields(one)
        if scope is not None and len(scope) > 1:
            twins = one.by_field or tuple(self._twin(one, i, (f,)) for i, f in enumerate(scope))
            one.by_field = tuple(self.of(t) for t in twins)
        return one

    def _fields(self, node: Node) -> tuple[str, ...] | None:
        """The fields of a positional clause whose terms all look at the same ones (else None)."""
        if id(node) not in self._scope:
            scope: tuple[str, ...] | None = None
            if isinstance(node, Term):
                scope = node.fields
            elif isinstance(node, Named):
                scope = self._fields(node.child)
            elif isinstance(node, Or | Near) and node.positional:
                found = {self._fields(c) for c in (node.children if isinstance(node, Or) else (node.left, node.right))}
                scope = found.pop() if len(found) == 1 else None
            self._scope[id(node)] = scope
        return self._scope[id(node)]

    @staticmethod
    def _twin(node: Node, i: int, fields: tuple[str, ...]) -> Node:
        """The clause on its i-th field alone, made of its operands' twins."""
        if isinstance(node, Term):
            return Term(node.surface, node.variants, fields)
        if isinstance(node, Or):
            return Or([c.by_field[i] for c in node.children])
        if isinstance(node, Near):
            return Near(node.left.by_field[i], node.right.by_field[i], node.distance, node.ordered, node.within)
        assert isinstance(node, Named)
        return Named(node.name, node.child.by_field[i])
