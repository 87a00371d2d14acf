"""Turning untrusted article text into safe HTML with the matched terms highlighted.

Hits carry character offsets into the original stored title or text. The text is cut
at those offsets, every piece is escaped, and only then are the `<mark>` tags put
around the hit pieces, so nothing from an article can ever become markup. Templates
receive the result as `Markup`; article fields are never passed through `|safe`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

__all__ = ["highlight", "highlight_paragraphs", "merge_spans", "relative_time", "snippet"]


def merge_spans(hits: Iterable[dict[str, Any]], field: str, length: int) -> list[tuple[int, int, list[str]]]:
    """Valid, merged (start, end, terms) spans of one field's hits, in order."""
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
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, term in spans:
        if merged and start <= merged[-1][1]:
            s, e, terms = merged[-1]
            merged[-1] = (s, max(e, end), terms if term in terms else [*terms, term])
        else:
            merged.append((start, end, [term]))
    return merged


def highlight(text: str, hits: Iterable[dict[str, Any]], field: str) -> Markup:
    """`text` escaped, with each hit of `field` wrapped in `<mark class="hit">`."""
    out: list[str] = []
    pos = 0
    for start, end, terms in merge_spans(hits, field, len(text)):
        out.append(str(escape(text[pos:start])))
        out.append(Markup('<mark class="hit" title="{}">{}</mark>').format(
            ", ".join(t for t in terms if t), text[start:end]))
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def highlight_paragraphs(text: str, hits: Iterable[dict[str, Any]], field: str) -> list[Markup]:
    """`highlight`, one Markup per paragraph (a run of text between line breaks).

    Offsets stay those of the whole text: each paragraph gets the hits that fall in
    it, shifted to its start; a hit spanning a line break is cut at the break.
    """
    hits = [h for h in hits if h.get("field") == field]
    out: list[Markup] = []
    for m in re.finditer(r"[^\n]+", text):
        start, end = m.span()
        if not m.group().strip():
            continue
        local = []
        for h in hits:
            try:
                hs, he = max(int(h["start"]), start), min(int(h["end"]), end)
            except (KeyError, TypeError, ValueError):
                continue
            if hs < he:
                local.append({**h, "start": hs - start, "end": he - start})
        out.append(highlight(m.group(), local, field))
    return out


def snippet(explanation: dict[str, Any] | None, fallback: str = "", limit: int = 280) -> str:
    """The first stored snippet of a match (plain text), else the start of `fallback`."""
    if explanation:
        for field in ("body", "title"):
            for snip in (explanation.get("snippets") or {}).get(field) or []:
                text = str(snip.get("text", "")).strip()
                if text:
                    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
    text = " ".join(fallback.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def relative_time(dt: datetime | None, now: datetime | None = None) -> str:
    """"3 h ago", "2 d ago": how old an article is at a glance."""
    if dt is None:
        return "—"
    now = now or datetime.now(UTC)
    span = (now - dt).total_seconds()
    if span < 0:
        return "in the future"
    if span < 3600:
        return f"{max(1, int(span // 60))} min ago"
    if span < 86400:
        return f"{int(span // 3600)} h ago"
    if span < 86400 * 60:
        return f"{int(span // 86400)} d ago"
    return dt.strftime("%d %b %Y")
