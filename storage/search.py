"""What a reviewer types into the search box, turned into a safe full-text query.

The same small language works on both backends — words (all must occur), `"quoted
phrases"`, `prefix*`, `a OR b` and `-excluded` words — and is rendered to SQLite FTS5 `MATCH`
syntax or to a PostgreSQL `tsquery`. User text never reaches either parser raw: every
word is re-tokenised here and quoted, so a stray quote, colon or operator is only a
separator, never a syntax error or an injection.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["SearchTerm", "parse_search", "to_fts5", "to_tsquery"]

_PIECE = re.compile(r'(-?)"([^"]*)"(\*?)|(-?)(\S+)')


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """A word or phrase that must (or, `negated`, must not) occur."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False
    or_previous: bool = False
    """Joined to the term before it by `OR` (either may occur)."""


def word_list(text: str) -> list[str]:
    """Runs of letters, digits and combining marks (so Hindi and Urdu words stay whole), lower-cased."""
    out: list[str] = []
    cur: list[str] = []
    for ch in text:
        if unicodedata.category(ch)[0] in "LNM":
            cur.append(ch)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return [w.casefold() for w in out]


def parse_search(query: str) -> list[SearchTerm]:
    """Split a search box's text into terms; punctuation separates words, `-` excludes, `*` is a prefix."""
    terms: list[SearchTerm] = []
    join = False
    for m in _PIECE.finditer(query or ""):
        if m.group(2) is not None:
            neg, raw, star = m.group(1) == "-", m.group(2), m.group(3) == "*"
        else:
            neg, raw = m.group(4) == "-", m.group(5)
            star = raw.endswith("*")
            if raw == "OR" and not neg:
                join = bool(terms)
                continue
        words = word_list(raw)
        if not words:
            continue
        if join:
            neg = False  # `a OR -b` means nothing useful; read it as `a OR b`
            if terms[-1].negated:
                terms[-1] = SearchTerm(terms[-1].words, terms[-1].prefix, False, terms[-1].or_previous)
        terms.append(SearchTerm(tuple(words), prefix=star, negated=neg, or_previous=join))
        join = False
    return terms


def _groups(terms: list[SearchTerm]) -> tuple[list[list[SearchTerm]], list[SearchTerm]]:
    """(positive OR-groups, excluded terms)."""
    groups: list[list[SearchTerm]] = []
    excluded: list[SearchTerm] = []
    for t in terms:
        if t.or_previous and groups:
            groups[-1].append(t)
        elif t.negated:
            excluded.append(t)
        else:
            groups.append([t])
    return groups, excluded


def to_fts5(terms: list[SearchTerm]) -> str | None:
    """An FTS5 MATCH expression, or None when nothing positive was asked for."""
    groups, excluded = _groups(terms)
    if not groups:
        return None

    def one(t: SearchTerm) -> str:
        return '"' + " ".join(t.words).replace('"', '""') + '"' + ("*" if t.prefix else "")

    expr = " AND ".join("(" + " OR ".join(one(t) for t in g) + ")" for g in groups)
    for t in excluded:
        expr = f"({expr}) NOT {one(t)}"
    return expr


def _lexeme(word: str, prefix: bool = False) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if prefix else "")


def to_tsquery(terms: list[SearchTerm]) -> str | None:
    """A `to_tsquery('simple', …)` argument, or None when nothing positive was asked for."""
    groups, excluded = _groups(terms)
    if not groups:
        return None

    def one(t: SearchTerm) -> str:
        last = len(t.words) - 1
        parts = [_lexeme(w, t.prefix and i == last) for i, w in enumerate(t.words)]
        return parts[0] if len(parts) == 1 else "(" + " <-> ".join(parts) + ")"

    expr = " & ".join("(" + " | ".join(one(t) for t in g) + ")" for g in groups)
    return " & ".join([expr, *(f"!{one(t)}" for t in excluded)])
