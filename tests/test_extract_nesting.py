"""Hostile page shapes: extraction time stays proportional to page size, whatever the nesting.

Times are compared with a flat page of the same size, extracted in the same test, so a slow
or busy machine does not make the tests fail: before the depth cap, the deep shapes took
minutes where the flat page takes a second.
"""

from __future__ import annotations

import time

import pytest
from selectolax.lexbor import LexborHTMLParser

from crawler.extract import SiteProfiles, extract
from crawler.extract.nesting import MAX_DEPTH, limit_nesting

NONE = SiteProfiles()
LEVELS = 250_000
PROSE = "The envoys met again in a third country and agreed to keep talking. " * 5


def _seconds(html: str) -> tuple[float, str]:
    start = time.perf_counter()
    article = extract(html, "https://example.com/a", profiles=NONE)
    return time.perf_counter() - start, article.text


def _flat_like(size: int) -> str:
    """Sibling paragraphs of about `size` characters: the cost a page of that size may have."""
    unit = "<div><p>short words here</p></div>"
    return "<html><body>" + unit * (size // len(unit) + 1)


def _depth(html: str) -> int:
    """The deepest element in the parsed tree, measured without recursion."""
    tree = LexborHTMLParser(html)
    deepest = 0
    stack = [(tree.root, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        child = node.child if node is not None else None
        while child is not None:
            stack.append((child, depth + 1))
            child = child.next
    return deepest


HOSTILE = {
    "nested divs": "<html><body>" + "<div>" * LEVELS + PROSE + "</div>" * LEVELS,
    "nested divs, never closed": "<html><body>" + "<div>" * LEVELS + PROSE,
    "nested lists": "<html><body>" + "<ul><li>" * (LEVELS // 2) + PROSE,
    "nested sections with text": "<html><body>" + "<section><p>word, " * (LEVELS // 2) + PROSE,
    "stray end tags between": "<html><body>" + "<div></span>" * LEVELS + PROSE,
    "misnested formatting": "<html><body><p>" + "<b><i><u>x</b>" * (LEVELS // 2) + PROSE,
    "very wide": "<html><body><p>" + PROSE + "</p>" + "<div>x</div>" * LEVELS,
    "many tiny text nodes": "<html><body><p>" + "<b>a</b> " * LEVELS,
}


@pytest.mark.parametrize("shape", sorted(HOSTILE))
def test_hostile_shape_costs_no_more_than_a_flat_page(shape: str) -> None:
    html = HOSTILE[shape]
    flat, _ = _seconds(_flat_like(len(html)))
    took, text = _seconds(html)
    assert took < 4 * flat + 0.5, f"{shape}: {took:.2f}s against {flat:.2f}s for a flat page"
    if "agreed" in html:
        assert "agreed to keep talking" in text  # the text past the cap is kept
    else:
        assert text.startswith("a a a")


def test_a_page_at_the_size_cap_of_nested_divs() -> None:
    levels = 5_000_000 // len("<div></div>")
    html = "<div>" * levels + PROSE + "</div>" * levels
    flat, _ = _seconds(_flat_like(len(html)))
    took, text = _seconds(html)
    # before the depth cap this page took minutes; on a quiet machine now about a second
    assert took < 4 * flat + 0.5, f"{took:.2f}s against {flat:.2f}s for a flat page"
    assert took < 60.0
    assert "third country" in text


def test_limit_nesting_caps_the_parsed_depth_and_keeps_the_text() -> None:
    html = "<html><body>" + "<div><span>" * 20_000 + "<p>deep words</p>" + "</span></div>" * 20_000
    flat = limit_nesting(html)
    assert _depth(flat) <= MAX_DEPTH + 8  # html, body and the innermost text
    assert "deep words" in LexborHTMLParser(flat).body.text()
    assert flat.count("<div>") + flat.count("<span>") == MAX_DEPTH
    assert flat.count("</div>") + flat.count("</span>") == MAX_DEPTH


def test_limit_nesting_leaves_scripts_comments_and_real_pages_alone() -> None:
    scripts = "<script>var t = '" + "<div>" * 9_000 + "';</script><!-- " + "<div>" * 9_000 + " -->"
    assert limit_nesting(scripts + "<p>x</p>") == scripts + "<p>x</p>"
    shallow = "<html><body>" + "<div><p>a<br>b<img src=x></p></div>" * 5_000
    assert limit_nesting(shallow) == shallow  # many tags, little depth: untouched
    small = "<div>" * 600
    assert limit_nesting(small) is small  # too few tags to be costly: not even scanned
    svg = "<div>" + "<svg>" + "<path d='M0'/>" * 9_000 + "</svg></div>"
    assert limit_nesting(svg) == svg  # self-closed SVG elements add no depth
