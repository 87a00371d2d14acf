"""Schema.org JSON-LD: the article object publishers embed for search engines.

It is the most stable place for headline, dates and authors, and some publishers put
the whole `articleBody` there. Pages get it wrong in every way (several blocks,
`@graph`, lists, HTML inside strings, control characters, trailing junk), so reading
it is forgiving and never raises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from selectolax.lexbor import LexborHTMLParser

__all__ = ["ARTICLE_TYPES", "find_article", "json_ld_objects"]

ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle",
        "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "blogposting",
        "liveblogposting", "socialmediaposting", "report", "scholarlyarticle",
        "techarticle", "posting",
    }
)
_MAX_SCRIPT_CHARS = 2_000_000
_MAX_OBJECTS = 500


def _loads(raw: str) -> Any:
    raw = raw.strip().removeprefix("<!--").removesuffix("-->").strip().rstrip(";")
    if not raw or len(raw) > _MAX_SCRIPT_CHARS:
        return None
    try:
        return json.loads(raw, strict=False)
    except (ValueError, RecursionError):
        pass
    try:  # trailing junk after a valid value
        return json.JSONDecoder(strict=False).raw_decode(raw)[0]
    except (ValueError, RecursionError):
        return None


def _flatten(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD value, including `@graph` members, breadth-first."""
    queue = [value]
    seen = 0
    while queue and seen < _MAX_OBJECTS:
        item = queue.pop(0)
        seen += 1
        if isinstance(item, list):
            queue.extend(item)
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if graph is not None:
                queue.append(graph)
            main = item.get("mainEntity")
            if isinstance(main, dict | list):
                queue.append(main)


def json_ld_objects(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """All JSON-LD objects of a page, in document order."""
    objects: list[dict[str, Any]] = []
    for script in tree.css('script[type="application/ld+json"]'):
        data = _loads(script.text(deep=True))
        if data is not None:
            objects.extend(_flatten(data))
    return objects


def _types(obj: dict[str, Any]) -> set[str]:
    value = obj.get("@type")
    if isinstance(value, str):
        return {value.rsplit("/", 1)[-1].lower()}
    if isinstance(value, list):
        return {v.rsplit("/", 1)[-1].lower() for v in value if isinstance(v, str)}
    return set()


def find_article(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The page's article object: an Article type, else any object with an `articleBody`."""
    fallback = None
    for obj in objects:
        if _types(obj) & ARTICLE_TYPES:
            return obj
        if fallback is None and isinstance(obj.get("articleBody"), str):
            fallback = obj
    return fallback
