"""The per-document term index a compiled query is evaluated against.

A document is tokenised once per field; everything else (positions, wildcard
expansions, case-preserving tokens, character offsets) is computed lazily and
only for the words the rule set actually uses, because most articles match
nothing and should cost no more than one tokenisation and a set intersection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crawler.models import Document
from crawler.rules.text import (
    ascii_spans,
    fast_tokens,
    lead_end,
    opening_end,
    spans_tokens,
    text_units,
)

__all__ = ["FIELDS", "LEAD_WORDS", "DocIndex", "FieldIndex", "Vocabulary", "field_text"]

FIELDS = ("title", "body", "lead", "opening", "url", "source", "author")
"""Fields a query can scope a term to; unscoped terms look at title and body."""

LEAD_WORDS = 80
"""How much of the body `lead:` reads: the opening paragraph or two of a news report, where
a story says what it is about (a passing mention usually comes later, if at all); not
the last paragraph when the ones before it hold 40 words or more (see `lead_end`)."""


def field_text(doc: Document, field: str) -> str:
    """The original string a field is read from (authors are joined with `; `).

    `lead` and `opening` are the start of the body, so their character offsets are the
    body's too.
    """
    if field == "author":
        return "; ".join(doc.authors)
    if field == "lead":
        body = doc.body or ""
        return body[:lead_end(body, LEAD_WORDS)]
    if field == "opening":
        body = doc.body or ""
        return body[:opening_end(body)]
    return str(getattr(doc, field) or "")


class Vocabulary:
    """The exact words and wildcard prefixes a rule set uses, to index nothing else."""

    __slots__ = ("prefixes3", "words")

    def __init__(self, words: Iterable[str], prefixes: Iterable[str]) -> None:
        self.words: frozenset[str] = frozenset(words)
        # Prefixes grouped by their first three characters, then by length, so a token
        # costs one dict lookup plus one set lookup per prefix length in its group.
        grouped: dict[str, dict[int, set[str]]] = {}
        for p in prefixes:
            grouped.setdefault(p[:3], {}).setdefault(len(p), set()).add(p)
        self.prefixes3: dict[str, tuple[tuple[int, frozenset[str]], ...]] = {
            k: tuple(sorted((n, frozenset(ps)) for n, ps in v.items())) for k, v in grouped.items()
        }


class FieldIndex:
    """Tokens of one field, with lazily built positions, expansions and offsets."""

    __slots__ = ("_cased", "_offsets", "_pos", "_units", "_wild", "present", "spans", "text", "tokens", "vocab")

    def __init__(self, text: str, vocab: Vocabulary, precise: bool) -> None:
        self.text = text
        self.vocab = vocab
        if precise:
            self.tokens, spans = spans_tokens(text)
            self.spans: list[tuple[int, int]] | None = spans
        else:
            self.tokens = fast_tokens(text)
            self.spans = None
        self.present: set[str] = set(self.tokens)
        self._pos: dict[str, list[int]] | None = None
        self._wild: dict[str, list[str]] | None = None
        self._cased: list[str] | None = None
        self._units: tuple[list[int], list[int]] | None = None
        self._offsets: tuple[list[str], list[tuple[int, int]]] | None = None

    def expand(self, prefix: str) -> list[str]:
        """The distinct tokens of this field that start with `prefix` (a rule-set wildcard)."""
        if self._wild is None:
            wild: dict[str, list[str]] = {}
            groups = self.vocab.prefixes3
            if groups:
                for t in self.present:
                    g = groups.get(t[:3])
                    if g:
                        for n, ps in g:
                            p = t[:n]
                            if p in ps:
                                if p in wild:
                                    wild[p].append(t)
                                else:
                                    wild[p] = [t]
            self._wild = wild
        return self._wild.get(prefix, [])

    def matched_prefixes(self) -> list[str]:
        """The rule-set wildcards that have at least one expansion in this field."""
        self.expand("")
        assert self._wild is not None
        return list(self._wild)

    def positions(self, word: str) -> list[int]:
        """Token positions of an exact word (built once, for rule-set words only)."""
        if self._pos is None:
            want = self.present & self.vocab.words
            if self.vocab.prefixes3:
                self.expand("")
                assert self._wild is not None
                for ts in self._wild.values():
                    want.update(ts)
            pos: dict[str, list[int]] = {}
            if want:
                for i, t in enumerate(self.tokens):
                    if t in want:
                        if t in pos:
                            pos[t].append(i)
                        else:
                            pos[t] = [i]
            self._pos = pos
        return self._pos.get(word, [])

    @property
    def cased(self) -> list[str]:
        """Tokens without case folding, aligned with `tokens` (for `{RAW}`-style terms)."""
        if self._cased is None:
            if self.spans is not None:
                cased = spans_tokens(self.text, fold=False)[0]
            else:
                cased = fast_tokens(self.text, fold=False)
            # Folding never changes word boundaries in practice; if it did, match nothing cased.
            self._cased = cased if len(cased) == len(self.tokens) else [""] * len(self.tokens)
        return self._cased

    def units(self, kind: str) -> list[int]:
        """Sentence (`"s"`) or paragraph (`"p"`) number of each token, for NEAR/s and NEAR/p."""
        if self._units is None:
            spans = self.spans
            if spans is None:
                spans = ascii_spans(self.text)  # plain ASCII: offsets without normalising
                if spans is None:
                    spans = self._precise_tokens()[1]
                if len(spans) != len(self.tokens):  # never in practice: one unit, as before
                    spans = None
            if spans is None:
                zeros = [0] * len(self.tokens)
                self._units = (zeros, zeros)
            else:
                self._units = text_units(self.text, spans)
        return self._units[0] if kind == "s" else self._units[1]

    def make_precise(self) -> bool:
        """Give a field tokenised for matching the character offsets that highlighting needs.

        True when the tokeniser that keeps offsets gives the same tokens (and the same
        exact-case tokens) as the one matching used, so that everything matching found
        about this field stands; False for a text on which the two differ.
        """
        if self.spans is not None:
            return True
        spans = ascii_spans(self.text)  # plain ASCII: the same words by construction
        if spans is None:
            tokens, spans = self._precise_tokens()
            if tokens != self.tokens:
                return False
            if self._cased is not None:
                cased = spans_tokens(self.text, fold=False)[0]
                if (cased if len(cased) == len(tokens) else [""] * len(tokens)) != self._cased:
                    return False
        self.spans = spans
        return True

    def _precise_tokens(self) -> tuple[list[str], list[tuple[int, int]]]:
        """`spans_tokens` of a field indexed without offsets, once (sentences and highlights both need it)."""
        if self._offsets is None:
            self._offsets = spans_tokens(self.text)
        return self._offsets

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        """Character offsets in the original text of tokens `start`..`end` (exclusive)."""
        assert self.spans is not None, "offsets need a precise index"
        return self.spans[start][0], self.spans[end - 1][1]


class DocIndex:
    """All fields of one document, indexed for one rule set, with what its clauses answered.

    `cache` keeps positional results (occurrences, anchors), `held` whether a clause
    holds and `hits` its highlighted words: a clause shared by many others is evaluated
    once per document.
    """

    __slots__ = ("cache", "doc", "fields", "held", "hits", "precise", "vocab")

    def __init__(self, doc: Document, vocab: Vocabulary, precise: bool = False) -> None:
        self.doc = doc
        self.vocab = vocab
        self.precise = precise
        self.fields: dict[str, FieldIndex | None] = {}
        """Fields indexed so far (None: empty); read it directly in hot loops, else use `field`."""
        self.cache: dict[Any, Any] = {}
        self.held: dict[Any, bool] = {}
        self.hits: dict[Any, list[Any]] = {}

    def make_precise(self) -> bool:
        """Add character offsets to the fields matching indexed, keeping what it found (see
        `FieldIndex.make_precise`); fields indexed from now on are indexed with offsets.
        False, and nothing changed, when a field's two tokenisations differ."""
        fields = [fi for fi in self.fields.values() if fi is not None and fi.spans is None]
        if not all(fi.make_precise() for fi in fields):
            for fi in fields:
                fi.spans = None
            return False
        self.precise = True
        return True

    def field(self, name: str) -> FieldIndex | None:
        """The index of a field, or None when the field is empty."""
        try:
            return self.fields[name]
        except KeyError:
            text = field_text(self.doc, name)
            fi = FieldIndex(text, self.vocab, self.precise) if text else None
            self.fields[name] = fi
            return fi
