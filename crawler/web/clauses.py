""""Why it matched": a topic's clause tree as HTML, built in Python.

The default topic's tree has about 6,000 clauses for every article, nearly all of them
alternatives that did not occur (the terms of long lists). As a recursive template
macro that was some 5,000 calls and most of an article page's time, and a 900 KB page.
So the tree is rendered here, in one pass over the nodes, every piece of text escaped
(`markupsafe`), and by default the alternatives that did not occur are collapsed into a
count with a link to the whole tree (`full=True`, the page's `?clauses=full`), which
still shows every clause, as `rules explain --json` does.

What the page keeps of a tree: every clause that held; every clause of an `all of`,
`within`, `at least` or `not` (which one failed is the point); for an `any of` (a choice
or a term list) only the alternatives that held, the others counted; and a term list the
tree asks for again, found the same way, as one line ("as shown above").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

__all__ = ["ANY_OF", "clause_tree"]

ANY_OF = frozenset({"OR"})
"""Clauses that hold when one of their parts does: their unmatched parts are alternatives. (A term
list, `LIST`, wraps one `OR` of its terms, which is where its alternatives are counted.)"""

_TICK = {True: '<span class="tick" aria-label="held">✓</span>',
         False: '<span class="tick" aria-label="did not hold">✗</span>'}


def _label(node: Mapping[str, Any]) -> str:
    """What a clause with children asks for, in the page's words, as escaped markup."""
    op = node.get("op")
    if op == "LIST":
        return f'<span class="op">a term of the list</span> <code>{escape(node.get("text", ""))}</code>'
    return f'<span class="op">{_words(node)}</span>'


def _words(node: Mapping[str, Any]) -> str:
    op = node.get("op")
    if op == "AND":
        return "all of"
    if op == "OR":
        return "any of"
    if op == "NOT":
        return "not"
    if op in ("NEAR", "ONEAR"):
        parts = []
        if node.get("within"):
            parts.append(f"in one {escape(node['within'])}")
        if node.get("distance") is not None:
            parts.append(f"within {escape(node['distance'])} words")
        if op == "ONEAR":
            parts.append("in order")
        return ", ".join(parts) or "near each other"
    if op == "ATLEAST":
        return f"at least {escape(node.get('n'))} of"
    if op == "COUNT":
        return f"at least {escape(node.get('n'))} times"
    return str(escape(op))


def _alternatives(n: int, *, none_held: bool) -> str:
    """The line standing for `n` alternatives that did not occur."""
    if none_held:
        return "the one alternative not found" if n == 1 else f"none of the {n} alternatives found"
    return f"{n} other alternative{'s' if n != 1 else ''} not found"


def clause_tree(node: Mapping[str, Any], *, full: bool = False, more_url: str = "") -> Markup:
    """The tree as nested `<li class="clause …">` items (the caller wraps it in `<ul class="clauses">`).

    `full` renders every clause, the unmatched alternatives inside a `<details>`; otherwise
    they become one line counting them, linking to `more_url` (the page with the whole tree).
    """
    out: list[str] = []
    _render(node, out, full, str(escape(more_url)), None if full else set())
    return Markup("".join(out))


def _render(node: Mapping[str, Any], out: list[str], full: bool, more_url: str,
            seen: set[str] | None) -> None:
    """Append `node`'s items to `out`.  `seen` (the compact view only) holds the term lists
    already shown whole: a list the tree asks for again, found the same way, is one line."""
    if seen is not None and node.get("op") == "LIST" and node.get("children"):
        mine: list[str] = []
        _render_node(node, mine, full, more_url, seen)
        html = "".join(mine)
        if html in seen:
            held = bool(node.get("held"))
            out.append(f'<li class="clause leaf {"held" if held else "failed"}">{_TICK[held]} '
                       f'{_label(node)} <span class="count">as shown above</span></li>')
        else:
            seen.add(html)
            out.append(html)
        return
    _render_node(node, out, full, more_url, seen)


def _render_node(node: Mapping[str, Any], out: list[str], full: bool, more_url: str,
                 seen: set[str] | None) -> None:
    held = bool(node.get("held"))
    state = "held" if held else "failed"
    children = node.get("children") or ()
    count = node.get("count")
    if not children:
        out.append(f'<li class="clause leaf {state}">{_TICK[held]} <code>{escape(node.get("text", ""))}</code>')
        if count:
            out.append(f' <span class="count">×{escape(count)}</span>')
        out.append("</li>")
        return
    op = node.get("op")
    out.append(f'<li class="clause {state}">{_TICK[held]} {_label(node)}')
    if count is not None and op in ("NEAR", "ONEAR", "COUNT", "ATLEAST"):
        out.append(f' <span class="count">found {escape(count)}</span>')
    out.append("<ul>")
    if op in ANY_OF:
        shown = [c for c in children if c.get("held")]
        hidden = [c for c in children if not c.get("held")]
    else:
        shown, hidden = list(children), []
    for child in shown:
        _render(child, out, full, more_url, seen)
    if hidden:
        label = _alternatives(len(hidden), none_held=not shown)
        if full:
            out.append(f'<li class="clause more"><details><summary>{label}</summary><ul>')
            for child in hidden:
                _render(child, out, full, more_url, seen)
            out.append("</ul></details></li>")
        elif more_url:
            out.append(f'<li class="clause more"><a href="{more_url}" title="Show every clause">{label}</a></li>')
        else:
            out.append(f'<li class="clause more">{label}</li>')
    out.append("</ul></li>")
