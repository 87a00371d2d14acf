"""Sentence- and paragraph-bounded proximity (`NEAR/s`, `NEAR/20s`, `NEAR/p`) and `lead:`."""

from __future__ import annotations

import random

import pytest

from crawler.models import Document
from crawler.rules import RuleSet, RulesSyntaxError, compile_query, topic_from_query
from crawler.rules.index import LEAD_WORDS, DocIndex, Vocabulary
from crawler.rules.nodes import Near
from crawler.rules.text import spans_tokens, text_units


def matches(query: str, body: str = "", title: str = "") -> bool:
    rs = RuleSet([topic_from_query(query)])
    doc = Document(title=title, body=body)
    fast = bool(rs.matching_ids(doc))
    precise = rs.explain(doc, rs.topics[0].id)["matched"]
    assert fast == precise, "fast and precise paths disagree"
    return fast


def test_near_s_stays_inside_one_sentence() -> None:
    text = "Officials held secret talks in Dubai. India denied any contact."
    assert matches("secret NEAR/20 india", text)
    assert not matches("secret NEAR/s india", text)
    assert not matches("secret NEAR/20s india", text)
    assert matches("secret NEAR/s dubai", text)


def test_near_with_distance_and_unit_needs_both() -> None:
    text = "India, after months of quiet work by many people on several fronts, held secret talks."
    assert matches("india NEAR/20s secret", text)
    assert not matches("india NEAR/5s secret", text)
    assert matches("india NEAR/s secret", text)


def test_initials_titles_and_lower_case_do_not_end_a_sentence() -> None:
    assert matches("secret NEAR/s india", "Lt. Gen. Malik held secret talks with India.")
    assert matches("secret NEAR/s india", "Secret talks in the U.S. and India went on.")
    assert matches("secret NEAR/s india", "J. N. Dixit met in secret, etc. and India knew.")
    assert not matches("secret NEAR/s india", "It was secret! India knew.")
    assert not matches("secret NEAR/s india", "Was it secret? India knew.")


def test_hindi_and_urdu_full_stops_end_sentences() -> None:
    assert not matches("गुप्त NEAR/s भारत", "गुप्त वार्ता हुई। भारत ने इनकार किया।")
    assert matches("गुप्त NEAR/s भारत", "भारत के साथ गुप्त वार्ता हुई।")
    assert not matches("خفیہ NEAR/s بھارت", "خفیہ مذاکرات ہوئے۔ بھارت نے تردید کی۔")


def test_near_p_stays_inside_one_paragraph() -> None:
    one = "Secret talks were held. India denied it."
    two = "Secret talks were held.\nIndia denied it."
    assert matches("secret NEAR/p india", one)
    assert not matches("secret NEAR/p india", two)
    assert not matches("secret NEAR/s india", two)


def test_ordered_near_with_a_unit() -> None:
    assert matches("secret ONEAR/s india", "Secret talks with India.")
    assert not matches("india ONEAR/s secret", "Secret talks with India.")


def test_unit_counts_separate_places_within_sentences() -> None:
    q = "COUNT(secret NEAR/s india) >= 2"
    assert matches(q, "Secret talks with India. Then India held more secret talks.")
    assert not matches(q, "Secret talks were held. India denied it. Secret, they said.")


def test_render_and_explain_name_the_unit() -> None:
    q = compile_query("a NEAR/20s b ONEAR/p c OR d NEAR/s e")
    assert str(q) == "((a NEAR/20s b) ONEAR/p c) OR (d NEAR/s e)"
    rs = RuleSet([topic_from_query("secret NEAR/s india")])
    exp = rs.explain(Document(body="Secret talks. India denied."), rs.topics[0].id)
    assert exp["clauses"]["within"] == "sentence" and exp["clauses"]["held"] is False
    assert exp["clauses"]["distance"] is None


@pytest.mark.parametrize(("query", "column", "needle"), [
    ("a NEAR/x b", 3, "NEAR/s for one sentence"),
    ("a NEAR/5q b", 3, "NEAR/20s"),
    ("a NEAR/5000s b", 3, "at most"),
    ("a AND (b NEAR/s) ", 16, "unexpected ')'"),
    ("a NEAR/s (b AND c)", 11, "NEAR/s needs terms"),
])
def test_unit_syntax_errors_point_at_the_operator(query: str, column: int, needle: str) -> None:
    with pytest.raises(RulesSyntaxError) as err:
        compile_query(query)
    assert err.value.column == column, err.value.message
    assert needle in err.value.message


def test_lead_reads_only_the_opening_words() -> None:
    filler = " ".join(["word"] * (LEAD_WORDS + 5))
    assert matches("lead:secret", "Secret talks. " + filler)
    assert not matches("lead:secret", filler + " secret talks.")
    assert matches("body:secret", filler + " secret talks.")
    assert not matches("lead:secret", "", title="Secret talks")


def test_lead_hits_are_shown_in_the_body() -> None:
    rs = RuleSet([topic_from_query('lead:("secret talks" NEAR/s india)')])
    body = "India held secret talks in Dubai. More later."
    exp = rs.explain(Document(body=body), rs.topics[0].id)
    assert exp["matched"]
    assert {h["field"] for h in exp["hits"]} == {"body"}
    assert [body[h["start"]:h["end"]] for h in exp["hits"]] == ["India", "secret talks"]


def test_opening_reads_the_first_sentence_of_the_story() -> None:
    """`opening:` is the body's first sentence of eight words or more, with any shorter
    lines before it (a repeated headline, a dateline); later sentences are not in it."""
    body = ("Talks in Dubai\nISLAMABAD: Officials of India and Pakistan met secretly in Dubai, "
            "two officials said. The budget was secret until Friday.")
    assert matches("opening:(secretly NEAR/s india)", body)
    assert matches("opening:dubai", body)
    assert not matches("opening:budget", body)
    assert matches("lead:budget", body)
    assert not matches("opening:talks", "", title="Talks in Dubai")
    # "J. N. Dixit" does not end the sentence; a first sentence of any length when it is all
    assert matches("opening:(dixit NEAR/s dubai)", "J. N. Dixit met Tariq Aziz in Dubai on Monday. Later.")
    assert matches("opening:short", "Short text only.")
    # a headline repeated as the body's first line, however long, is not the story's first sentence
    body = ("India and Pakistan envoys met in secret before the summit, sources say\n"
            "Under the cover of a cricket match in Lahore, the two envoys met for three hours. Later.")
    assert matches("opening:(cover NEAR/s cricket)", body)
    assert not matches("opening:later", body)


def test_opening_hits_are_shown_in_the_body() -> None:
    rs = RuleSet([topic_from_query("opening:secretly")])
    body = "India and Pakistan officials met secretly in Dubai last month. More."
    exp = rs.explain(Document(body=body), rs.topics[0].id)
    assert exp["matched"] and {h["field"] for h in exp["hits"]} == {"body"}


def test_units_follow_the_gaps_between_words() -> None:
    text = "One two. Three\nfour? five. Mr. Six"
    _, spans = spans_tokens(text)
    sentences, paragraphs = text_units(text, spans)
    # One two | Three | four five ("five" is lower case) | Mr Six ("Mr." is a title)
    assert sentences == [0, 0, 1, 2, 2, 3, 3]
    assert paragraphs == [0, 0, 0, 1, 1, 1, 1]


def _strategies_agree(query_text: str, words: list[str], seed: int) -> int:
    """Pairwise and bisection NEAR on 200 random texts: same occurrences and anchors.

    Returns how many texts put a right-side occurrence strictly inside a left-side span.
    """
    rng = random.Random(seed)
    query = compile_query(query_text)
    near = query.root
    assert isinstance(near, Near)
    rs = RuleSet([topic_from_query(str(query))])
    inside = 0
    for _ in range(200):
        doc = Document(body=" ".join(rng.choice(words) for _ in range(rng.randint(5, 120))))
        ix = DocIndex(doc, rs.vocab)
        left, right = near.left.occurrences(ix), near.right.occurrences(ix)
        a: tuple[set, set] = (set(), set())
        b: tuple[set, set] = (set(), set())
        near._pairs(left, right, *a, ix)
        near._bisect(left, right, *b, ix)
        assert a == b
        inside += any(ls < rs and re_ < le for _, ls, le in left for _, rs, re_ in right)
    return inside


@pytest.mark.parametrize("within", ["s", "p"])
def test_near_strategies_agree_with_units(within: str) -> None:
    """Pairwise and bisection NEAR keep the same occurrences when bounded by sentences."""
    words = ["india", "pakistan", "talks", "secret", "the", "of", "said.", "Then", "\n"]
    _strategies_agree(f"(india OR pakistan) NEAR/6{within} (talks OR secret)", words, 7)


def test_near_strategies_agree_on_nested_spans() -> None:
    """Pairwise and bisection NEAR agree when one side can stand inside the other's span."""
    words = ["ambassadors", "india", "met", "pakistan", "the", "of", "said.", "Then"]
    # (the random texts do put a side inside the other's span)
    assert _strategies_agree("(ambassadors NEAR/4 met) NEAR/3s (india OR pakistan OR met)", words, 11)


def test_vocabulary_is_unchanged_by_units() -> None:
    """A unit is not a word: it adds nothing to what documents are indexed for."""
    assert isinstance(RuleSet([topic_from_query("a NEAR/s b")]).vocab, Vocabulary)
    assert RuleSet([topic_from_query("a NEAR/s b")]).vocab.words == frozenset({"a", "b"})


def test_count_sentences_counts_each_sentence_once() -> None:
    one = "New Delhi and Islamabad are quietly talking through a backchannel, analysts said."
    two = "India held secret talks. Pakistan kept a backchannel open with India."
    q = "COUNT((backchannel OR quietly) NEAR/20s (delhi OR islamabad OR india OR pakistan)) >= 2s"
    assert matches(q.replace(">= 2s", ">= 2"), one)  # two terms in one sentence are two occurrences
    assert not matches(q, one)  # … but one sentence
    assert matches("COUNT((secret OR backchannel) NEAR/20s (india OR pakistan)) >= 2s", two)
    assert matches("COUNT(india) >= 2p", "India.\nIndia.") and not matches("COUNT(india) >= 2p", "India. India.")
    assert str(compile_query("COUNT(a NEAR/s b) >= 2s")) == "COUNT(a NEAR/s b) >= 2s"


@pytest.mark.parametrize("bad", ["COUNT(a) >= 0s", "COUNT(a) >= s", "COUNT(a) >= 2x"])
def test_count_units_reject_bad_numbers(bad: str) -> None:
    with pytest.raises(RulesSyntaxError) as err:
        compile_query(bad)
    assert err.value.column == 13 and "sentences (2s)" in err.value.message


def test_lead_never_reaches_into_the_last_paragraph() -> None:
    story = "India and Pakistan held secret talks in Dubai. " + " ".join(["more"] * 40)
    teaser = "Also read: secret cricket plans"
    assert matches("lead:cricket", story + " cricket")  # one paragraph: it is the story
    assert not matches("lead:cricket", story + "\n" + teaser)
    assert matches("lead:dubai", story + "\n" + teaser)
    assert matches("lead:teaser", "teaser")  # a one-line body is its own lead


def test_a_short_first_paragraph_is_not_the_whole_lead() -> None:
    """A repeated headline or dateline as the first paragraph: the story after it is the lead."""
    body = "Officials confirm a meeting in Doha\nIndian and Pakistani officials met in Doha."
    assert matches("lead:(indian NEAR/s doha)", body)
