"""`near_miss`: which clause an unflagged article fails a topic by, and how closely."""

from __future__ import annotations

from crawler.models import Document
from crawler.rules import RuleSet, compile_query, topic_from_query
from crawler.rules.engine import ABSENT, NearMiss, Topic, near_miss
from crawler.rules.topics import load_topics

QUERY = "india AND pakistan AND COUNT((secret OR backchannel) NEAR/10s (india OR pakistan)) >= 2s"


def miss(query: str, body: str, title: str = "", exclude: str | None = None) -> NearMiss | None:
    topic = topic_from_query(query)
    if exclude is not None:
        topic = Topic(id="query", query=topic.query, exclude=compile_query(exclude))
    return near_miss(topic, Document(title=title, body=body))


def test_a_flagged_article_is_no_near_miss() -> None:
    body = "India held secret talks. Pakistan kept a backchannel open."
    assert RuleSet([topic_from_query(QUERY)]).matching_ids(Document(body=body))
    assert miss(QUERY, body) is None


def test_one_sentence_of_two_names_the_count() -> None:
    m = miss(QUERY, "India and Pakistan met. India held secret talks, officials said.")
    assert m is not None
    assert m.failed == "COUNT((secret OR backchannel) NEAR/10s (india OR pakistan)) >= 2s"
    assert m.detail == "found in 1 sentence of the 2 needed"
    assert m.closeness == 0.5
    assert m.as_dict()["failed"] == m.failed and m.as_dict()["topic"] == m.topic


def test_a_missing_conjunct_is_named() -> None:
    m = miss(QUERY, "India held secret talks. Then India kept a backchannel open.")
    assert m is not None and m.failed == "pakistan" and m.detail == "does not occur"
    assert m.closeness == ABSENT


def test_two_failing_conjuncts_are_not_a_near_miss() -> None:
    assert miss(QUERY, "Secret talks. A backchannel. Nobody named a country.") is None
    assert miss(QUERY, "India and Pakistan played cricket.") is None  # COUNT has nothing to count


def test_near_too_far_says_how_far() -> None:
    query = "india AND (secret NEAR/3 pakistan)"
    m = miss(query, "India: secret, they said, were the many long talks with Pakistan.")
    assert m is not None and m.failed == "secret NEAR/3 pakistan"
    assert "words apart at the nearest" in m.detail
    assert 0 < m.closeness < 0.5
    nearer = miss(query, "India: secret were the talks, said Pakistan.")
    assert nearer is not None and nearer.closeness > m.closeness


def test_near_across_a_sentence_boundary() -> None:
    m = miss("india AND (secret NEAR/5s pakistan)", "India held secret. Pakistan denied.")
    assert m is not None and m.detail == "both sides occur, but never in one sentence"


def test_an_exclusion_is_a_decision_not_a_near_miss() -> None:
    body = "India and Pakistan met. India held secret talks, officials said."
    assert miss(QUERY, body) is not None
    assert miss(QUERY, body, exclude="cricket") is not None
    assert miss(QUERY, body + " Cricket.", exclude="cricket") is None


def test_atleast_one_short() -> None:
    m = miss("ATLEAST(2, india, pakistan, delhi)", "Pakistan only")
    assert m is not None and m.failed in ("india", "delhi") and m.closeness == ABSENT
    assert miss("ATLEAST(3, india, pakistan, delhi)", "Pakistan only") is None


def test_rule_set_picks_a_topic_or_the_closest(tmp_path) -> None:
    a = tmp_path / "a.toml"
    a.write_text('id = "a"\nquery = "india AND secret"\n', encoding="utf-8")
    b = tmp_path / "b.toml"
    b.write_text('id = "b"\nquery = "COUNT(secret NEAR/s india) >= 2s"\n', encoding="utf-8")
    rs = load_topics([a, b])
    doc = Document(body="India held secret talks.")
    assert near_miss(rs, doc, "a") is None  # topic a flags it …
    m = near_miss(rs, doc)  # … and b nearly does: near misses are per topic
    assert m is not None and m.topic == "b" and m.closeness == 0.5
    doc = Document(body="Secret talks with China.")
    m = near_miss(rs, doc)
    assert m is not None and m.topic == "a" and m.failed == "india"  # b has nothing near: only a is close
