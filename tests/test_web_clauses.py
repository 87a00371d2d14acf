"""The article page's clause tree (`crawler.web.clauses`): escaped, collapsed by default, whole on demand.

The tree unit tests use hand-written trees of the engine's shape; the page tests run the
real app over the articles `tests/test_web.py` stores, with the shipped default topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crawler.models import document_of
from crawler.runtime import Runtime
from crawler.web import create_app
from crawler.web.clauses import clause_tree
from storage import Store
from tests.e2e.test_browser import Sample
from tests.test_web import BASE, world  # noqa: F401  (the module's stored articles)


def _term(text: str, count: int) -> dict[str, Any]:
    return {"op": "term", "text": text, "held": count > 0, "count": count}


TREE = {"op": "AND", "text": "…", "held": True, "children": [
    {"op": "OR", "text": "…", "held": True, "children": [
        _term("india", 2), _term("delhi", 0), _term("<b>mumbai</b>", 0), _term("kolkata", 0)]},
    {"op": "NEAR", "text": "…", "distance": None, "within": "sentence", "held": True, "count": 1, "children": [
        _term("talks", 1), _term("pakistan", 3)]},
    {"op": "NOT", "text": "…", "held": True, "children": [
        {"op": "LIST", "text": "@sport", "held": False, "count": 0, "children": [
            {"op": "OR", "text": "…", "held": False, "children": [_term("cricket", 0), _term("hockey", 0)]}]}]},
]}


def _leaves(html: str) -> list[str]:
    return re.findall(r'<li class="clause leaf (?:held|failed)">.*?<code>(.*?)</code>', html)


def test_unmatched_alternatives_are_counted_and_linked() -> None:
    html = clause_tree(TREE, more_url="/articles/7?clauses=full&a=<x>")
    assert _leaves(html) == ["india", "talks", "pakistan"]
    assert "3 other alternatives not found" in html
    assert "none of the 2 alternatives found" in html  # a choice where nothing occurred
    assert 'href="/articles/7?clauses=full&amp;a=&lt;x&gt;"' in html
    assert "in one sentence" in html and "None" not in html  # NEAR/s has no word distance
    assert '<span class="op">a term of the list</span> <code>@sport</code>' in html


def test_the_full_tree_shows_every_clause_escaped() -> None:
    html = clause_tree(TREE, full=True)
    assert _leaves(html) == ["india", "delhi", "&lt;b&gt;mumbai&lt;/b&gt;", "kolkata", "talks", "pakistan",
                             "cricket", "hockey"]
    assert "<b>" not in html
    assert html.count("<details>") == 2 and "<summary>3 other alternatives not found</summary>" in html


def _nodes(node: dict[str, Any]) -> int:
    return 1 + sum(_nodes(c) for c in node.get("children", []))


@pytest.fixture
def client(world: tuple[Runtime, Store, Sample, Path]) -> Iterator[TestClient]:  # noqa: F811
    runtime, store, _, _ = world
    with TestClient(create_app(runtime.config, store, runtime.rules.topics), base_url=BASE) as c:
        yield c


def test_article_page_is_small_and_links_the_whole_tree(client: TestClient, world) -> None:  # noqa: F811
    runtime, store, sample, _ = world
    aid = sample.flagged[0]
    art = store.get_article(aid)
    assert art is not None
    topic = art.matches[0].topic_id
    exp = runtime.rules.explain(document_of(art), topic)
    every = _nodes(exp["clauses"]) + (_nodes(exp["exclude_clauses"]) if exp["exclude_clauses"] else 0)
    page = client.get(f"/articles/{aid}?state=all")
    assert page.status_code == 200
    shown = page.text.count('<li class="clause ') - page.text.count('<li class="clause more')
    # the shipped topic has thousands of clauses; the page shows what was found and what failed
    assert every > 1000 and shown < every / 10, (every, shown)
    assert len(page.content) < 200_000
    assert f'href="/articles/{aid}?state=all&amp;clauses=full#why-{topic}"' in page.text
    again = client.get(f"/articles/{aid}?state=all")  # the second view comes from the cache, identical
    assert again.text.count('<li class="clause ') == page.text.count('<li class="clause ')
    whole = client.get(f"/articles/{aid}?state=all&clauses=full")
    assert whole.status_code == 200
    assert whole.text.count('<li class="clause ') - whole.text.count('<li class="clause more') == every
    assert "Show only what was found" in whole.text
    assert client.get(f"/articles/{aid}?clauses=everything").status_code == 422


def test_a_list_asked_for_again_is_one_line_in_the_compact_view() -> None:
    from crawler.web.clauses import clause_tree

    term = {"op": "TERM", "text": "india", "held": True, "count": 1}
    other = {"op": "TERM", "text": "delhi", "held": False}
    lst = {"op": "LIST", "text": "@india", "held": True,
           "children": [{"op": "OR", "text": "india OR delhi", "held": True, "children": [term, other]}]}
    tree = {"op": "AND", "text": "x", "held": True, "children": [lst, dict(lst)]}
    compact = str(clause_tree(tree))
    assert compact.count("<code>india</code>") == 1 and compact.count("as shown above") == 1
    whole = str(clause_tree(tree, full=True))
    assert whole.count("<code>india</code>") == 2 and "as shown above" not in whole
