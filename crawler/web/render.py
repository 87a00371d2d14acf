"""Turning untrusted article text into safe HTML with the matched terms highlighted.

Hits carry character offsets into the original stored title or text. The text is cut
at those offsets, every piece is escaped, and only then are the `<mark>` tags put
around the hit pieces, so nothing from an article can ever become markup. Templates
receive the result as `Markup`; article fields are never passed through `|safe`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup, escape

from ..display import hit_spans

__all__ = ["highlight", "highlight_paragraphs", "snippet"]


def highlight(text: str, hits: Iterable[dict[str, Any]], field: str) -> Markup:
    """`text` escaped, with each hit of `field` wrapped in `<mark class="hit">`."""
    out: list[str] = []
    pos = 0
    for start, end, terms in hit_spans(hits, field, len(text)):
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
