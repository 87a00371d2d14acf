"""Page furniture that real article pages carry around the story, for robustness checks.

A news page's extracted text often ends with a teaser for another story.  Two kinds
break a naive topic: an "Also read" line about India–Pakistan cricket (three sport
words, and both countries) and a "Related" line about another pair's secret talks
(quiet-contact words, one line away from the article's own last sentence).  The
lines are ours; several variants, so a topic cannot pass by knowing one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["ALSO_READ", "RELATED", "variants", "with_furniture"]

ALSO_READ = (
    "Also read: India vs Pakistan, Asia Cup: PCB names its squad as the ICC fixes the tournament schedule",
    "Also read | Champions Trophy: BCCI and PCB agree on a hybrid model for the India-Pakistan match",
    "ALSO READ: World Cup cricket - India beat Pakistan by seven wickets to top the tournament table",
)
RELATED = (
    "Related: US and Iran held secret talks in Oman through a back channel, diplomats say",
    "Related | Israel and Saudi Arabia kept a quiet channel open behind the scenes, officials said",
    "Related: China and the US held secret backchannel meetings on Taiwan in Vienna",
)


def with_furniture(row: dict[str, Any], line: str | None = None, *, headline: bool = True) -> dict[str, Any]:
    """A copy of a labelled row with `line` appended as the last paragraph, and maybe no headline."""
    out = dict(row)
    if line is not None:
        out["text"] = str(row.get("text") or "").rstrip() + "\n" + line
    if not headline:
        out["title"] = ""
    return out


def variants(rows: Iterable[dict[str, Any]], lines: tuple[str, ...], *,
             headline: bool = True) -> Iterator[dict[str, Any]]:
    """Each row with one of `lines` (in turn, so every variant is used), or none when `lines` is empty."""
    for i, row in enumerate(rows):
        yield with_furniture(row, lines[i % len(lines)] if lines else None, headline=headline)
