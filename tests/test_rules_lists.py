"""Named term lists: `[terms]` in a topic file, used in queries as `@name`."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.models import Document
from crawler.rules import load_topics
from crawler.settings import ConfigError

TOPIC = '''id = "t"
name = "T"
query = """
@india AND @pakistan AND COUNT(@quiet NEAR/10 (@india OR @pakistan)) >= 1
"""
exclude = "title:@sport"

[terms]
india = 'india OR delhi OR {RAW}'
pakistan = "pakistan* OR islamabad OR {ISI}"
quiet = '@secret NEAR/3 (talk* OR met)'
secret = "secret OR quiet OR covert"
sport = "cricket OR hockey"
'''


def _load(tmp_path: Path, text: str):
    p = tmp_path / "t.toml"
    p.write_text(text, encoding="utf-8")
    return load_topics([p])


def test_lists_expand_and_nest(tmp_path: Path) -> None:
    rs = _load(tmp_path, TOPIC)
    hit = Document(title="Talks", body="Officials from Delhi and Islamabad met secretly; secret talks with Pakistan.")
    assert rs.matching_ids(hit) == ["t"]
    assert rs.matching_ids(Document(title="Cricket: India v Pakistan", body=hit.body)) == []
    assert rs.matching_ids(Document(body="The raw data from Karachi, Pakistan: secret talks")) == []  # {RAW} cased
    assert rs.matching_ids(Document(body="RAW and Pakistan's spies held secret talks")) == ["t"]
    (m,) = rs.match(hit)
    terms = {h["term"] for h in m.explanation["hits"]}
    assert {"delhi", "islamabad", "secret"} <= terms
    assert "clauses" not in m.explanation  # a stored match keeps no tree; explain rebuilds it
    assert "@quiet" in str(rs.explain(hit, "t")["clauses"])  # the clause tree names the list


def test_a_list_under_a_field_scope_takes_the_scope(tmp_path: Path) -> None:
    rs = _load(tmp_path, TOPIC.replace("@india AND @pakistan AND", "title:@india AND @pakistan AND"))
    body = "Delhi and Islamabad: secret talks with India and Pakistan."
    assert rs.matching_ids(Document(title="Report", body=body)) == []
    assert rs.matching_ids(Document(title="Delhi report", body=body)) == ["t"]


def test_a_list_is_built_once_per_scope(tmp_path: Path) -> None:
    """Every `@india` of a query is one shared tree, not a copy per use (the daemon's memory).

    The shipped topic names its lists hundreds of times: built anew each time, the rule set
    held five times the nodes. A list under another field scope is its own tree.
    """
    from crawler.rules.nodes import Named

    rs = _load(tmp_path, TOPIC.replace("@india AND @pakistan AND", "title:@india AND @india AND @pakistan AND"))
    named: dict[tuple[str, tuple[str, ...]], set[int]] = {}

    def walk(node: object) -> None:
        if isinstance(node, Named):
            fields = {t.fields for t in node.terms()}
            named.setdefault((node.name, *fields), set()).add(id(node))
        for child in (getattr(node, "children", None) or []) + [
                getattr(node, a) for a in ("child", "left", "right") if hasattr(node, a)]:
            walk(child)

    walk(rs.topics[0].query.root)
    assert named[("india", ("title",))] != named[("india", ("title", "body"))]
    assert {k: len(v) for k, v in named.items()} == {
        ("india", ("title",)): 1, ("india", ("title", "body")): 1, ("pakistan", ("title", "body")): 1,
        ("quiet", ("title", "body")): 1, ("secret", ("title", "body")): 1}
    body = "Delhi and Islamabad: secret talks with India and Pakistan."
    assert rs.matching_ids(Document(title="Report", body=body)) == []
    assert rs.matching_ids(Document(title="Delhi report", body=body)) == ["t"]


def test_version_follows_list_content_not_layout(tmp_path: Path) -> None:
    v1 = _load(tmp_path, TOPIC).version
    assert _load(tmp_path, TOPIC.replace("cricket OR hockey", "cricket   OR  hockey")).version == v1
    assert _load(tmp_path, TOPIC.replace("cricket OR hockey", "cricket OR tennis")).version != v1


@pytest.mark.parametrize(("change", "expected"), [
    (("@quiet NEAR/10", "@quiett NEAR/10"), "unknown term list @quiett"),
    (("secret = \"secret OR quiet OR covert\"", "secret = \"secret OR @quiet\""), "uses itself"),
    (("sport = \"cricket OR hockey\"", "sport = \"cricket OR\""), "terms.sport"),
    (("sport = \"cricket OR hockey\"", "sport = \"cricket AND hockey OR x\""), "t.toml:13:"),
])
def test_list_errors_are_named(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, TOPIC.replace(*change))
    assert expected in str(exc.value), str(exc.value)


def test_a_near_in_a_list_keeps_its_gaps(tmp_path: Path) -> None:
    """`@name` behaves as its definition in parentheses: the other side may stand in its gaps.

    "(ambassadors NEAR/20 met) NEAR/20 india" finds "ambassadors from India met"; the same
    NEAR held in a list (and in a list of lists) must too.
    """
    topic = '''id = "t"
name = "T"
query = "@meeting NEAR/20 india"

[terms]
meeting = "ambassadors NEAR/20 met"
'''
    text = "Former ambassadors from India met here"
    nested = topic.replace('query = "@meeting NEAR/20 india"', 'query = "@either NEAR/20 india"') + (
        'either = "@meeting OR envoys"\n')
    for source in (topic, nested):
        rs = _load(tmp_path, source)
        assert rs.matching_ids(Document(body=text)) == ["t"]
        # its own words are still not a second side
        own = _load(tmp_path, source.replace("NEAR/20 india", "NEAR/5 met"))
        assert own.matching_ids(Document(body=text)) == []


def test_term_lists_in_several_scopes_share_their_word_sets(tmp_path: Path) -> None:
    """A list used in two field scopes compiles a term per scope; both hold one word set, and
    the sharing table is emptied once the load is done (a reload does not grow it)."""
    from crawler.rules import nodes

    rs = _load(tmp_path, TOPIC.replace("@india AND @pakistan AND", "title:@india AND lead:@india AND @pakistan AND"))
    terms = [t for t in rs.topics[0].query.terms() if t.surface == "{RAW}"]
    assert len(terms) >= 2 and len({id(t._needs) for t in terms}) == 1
    assert not nodes._SHARED
