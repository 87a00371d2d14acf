"""What the CLI and the review app show people the same way: highlighted hits and relative times.

A match's explanation carries hits (term, field, start, end) with character offsets
into the stored title or text. The CLI (Rich) and the review app (escaped HTML)
render the same spans, computed once here: only valid offsets of the asked field,
overlapping hits merged, in order. Times read the same in a terminal table and on
a page: "5 min ago", "in 3 h".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["Span", "hit_spans", "hits_of", "plural", "relative_time"]

Span = tuple[int, int, list[str]]
"""(start, end, the terms that hit there)."""


def hit_spans(hits: Iterable[dict[str, Any]], field: str, length: int) -> list[Span]:
    """Valid, merged spans of one field's hits, in order; a hit with bad offsets is skipped."""
    spans: list[tuple[int, int, str]] = []
    for h in hits:
        if h.get("field") != field:
            continue
        try:
            start, end = int(h["start"]), int(h["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= length:
            spans.append((start, end, str(h.get("term", ""))))
    spans.sort()
    merged: list[Span] = []
    for start, end, term in spans:
        if merged and start <= merged[-1][1]:
            s, e, terms = merged[-1]
            merged[-1] = (s, max(e, end), terms if term in terms else [*terms, term])
        else:
            merged.append((start, end, [term]))
    return merged


def hits_of(explanations: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every hit of several matches' explanations (an article flagged by several topics)."""
    return [h for e in explanations for h in (e.get("hits") or [])]


def relative_time(dt: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or how soon) at a glance: "40 s ago", "5 min ago", "in 3 h", "2 d ago"."""
    if dt is None:
        return "—"
    now = now or datetime.now(UTC)
    delta = (dt - now).total_seconds()
    span = abs(delta)
    if span >= 86400 * 60:
        return dt.strftime("%d %b %Y")
    if span < 60:
        rel = f"{int(span)} s"
    elif span < 3600:
        rel = f"{int(span // 60)} min"
    elif span < 86400:
        rel = f"{int(span // 3600)} h"
    else:
        rel = f"{int(span // 86400)} d"
    return f"in {rel}" if delta > 0 else f"{rel} ago"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 report`, `2 reports`: a count with its noun in the right number."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
