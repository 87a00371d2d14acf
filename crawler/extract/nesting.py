"""A bound on how deeply a page's elements nest, applied to the HTML before parsing.

An HTML parser checks the stack of open elements for every block start tag ("is a `<p>`
open in scope?"), so parsing grows with the square of the nesting depth: a page of
200,000 nested `<div>`s takes minutes of CPU in Lexbor, far under the size cap. Browsers
meet the same attack by capping the depth of the tree they build (Blink at 512); we do
the same in the source: start tags past the cap, and their end tags, are removed, so the
text stays and the tree stays shallow.

Real pages never come near the cap, so they pay only for two `str.count` calls: the full
scan runs only when a page has more start tags than the cap could need.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DEPTH", "limit_nesting"]

MAX_DEPTH = 512
# Depth cannot exceed the number of start tags; below this many the parse is cheap anyway.
_SCAN_ABOVE = 8192
# An end tag closes an element among this many innermost open ones, or is ignored: a
# stray end tag must not make the scan quadratic in turn.
_END_TAG_REACH = 32

# One alternation, so that `re.split` cuts the page into text and markup in C: a comment
# or a raw-text element (script, style...) whole, else one tag with its name and rest.
_RAW = "(?i:script|style|textarea|title|xmp|iframe|noembed|noframes)"
_MARKUP = re.compile(
    rf"<(?:(!--.*?(?:-->|\Z)|{_RAW}\b.*?(?:</{_RAW}\s*>|\Z))|(/?)([A-Za-z][^\s/>]*)([^>]*)>)",
    re.S,
)
_GROUPS = 4
_VOID = frozenset(
    (
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
        "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
    )
)
# Elements whose end tag is optional, or that close an open one of their kind: the
# parser closes them itself, so they do not add up to depth.
_SELF_CLOSING_KIN = frozenset(
    (
        "a", "body", "button", "caption", "colgroup", "dd", "dt", "form", "head", "html", "li",
        "nobr", "optgroup", "option", "p", "rb", "rp", "rt", "rtc", "tbody", "td", "tfoot",
        "th", "thead", "tr",
    )
)
# Neither kind adds depth.
_NO_DEPTH = _VOID | _SELF_CLOSING_KIN
# Misnested formatting elements are reopened by the parser after their end tag closes
# them ("active formatting elements"), so such an end tag closes only its own element here.
_FORMATTING = frozenset(
    (
        "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
        "tt", "u",
    )
)
_FOREIGN = frozenset(("svg", "math"))


def limit_nesting(html: str, max_depth: int = MAX_DEPTH) -> str:
    """`html` with the start and end tags of elements nested deeper than `max_depth` removed."""
    limit = max(_SCAN_ABOVE, max_depth)
    tags = html.count("<")
    if tags <= limit or tags - html.count("</") <= limit:
        return html
    parts = _MARKUP.split(html)
    cut = _tags_too_deep(parts, max_depth)
    if not cut:
        return html
    out = []
    step = _GROUPS + 1
    for i in range(0, len(parts), step):
        out.append(parts[i])
        if i + 1 >= len(parts):
            break
        opaque, slash, name, rest = parts[i + 1 : i + step]
        if opaque is not None:
            out.append(f"<{opaque}")
        elif i in cut:
            out.append(" ")  # the tag still separated words
        else:
            out.append(f"<{slash}{name}{rest}>")
    return "".join(out)


def _tags_too_deep(parts: list[str | None], max_depth: int) -> set[int]:
    """Which tags of `re.split(_MARKUP, html)` to remove: one pass, a stack of open names."""
    names: list[str] = []  # open elements, innermost last
    removed: list[bool] = []  # whether each one's start tag is cut
    cut: set[int] = set()
    foreign = 0  # open <svg>/<math> elements, where `/>` closes a tag
    lower: dict[str, str] = {}
    step = _GROUPS + 1
    for i in range(0, len(parts) - 1, step):
        raw = parts[i + 3]
        if raw is None:  # a comment or a raw-text element
            continue
        name = lower.get(raw)
        if name is None:
            name = lower[raw] = raw.lower()
        if parts[i + 2]:  # an end tag
            depth = len(names)
            for j in range(depth - 1, max(depth - _END_TAG_REACH, 0) - 1, -1):
                if names[j] == name:
                    if removed[j]:
                        cut.add(i)
                    if name in _FORMATTING:
                        # the parser reopens the formatting elements this end tag closed
                        del names[j], removed[j]
                    else:
                        if foreign:
                            foreign -= sum(n in _FOREIGN for n in names[j:])
                        del names[j:], removed[j:]
                    break
            continue
        if name in _NO_DEPTH or (foreign and (parts[i + 4] or "").endswith("/")):
            continue  # `<path/>` in SVG closes itself; in HTML the slash means nothing
        too_deep = len(names) >= max_depth
        if too_deep:
            cut.add(i)
        names.append(name)
        removed.append(too_deep)
        if name in _FOREIGN:
            foreign += 1
    return cut
