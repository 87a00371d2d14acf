"""Rules engine: the query language, matching semantics, explanations, topic files, eval."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crawler.models import Document
from crawler.rules import (
    RuleSet,
    RulesSyntaxError,
    Topic,
    compile_query,
    evaluate,
    load_topics,
    topic_from_query,
)
from crawler.settings import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOPIC = ROOT / "config" / "rules" / "india-pakistan-backchannel.toml"


def shared_dir() -> Path:
    """The shared data folder: `$NEWSWATCH_SHARED`, else the sibling `shared` of the repo root."""
    return Path(os.environ.get("NEWSWATCH_SHARED") or ROOT.parent / "shared")


def matches(query: str, body: str = "", title: str = "", **fields: object) -> bool:
    rs = RuleSet([topic_from_query(query)])
    doc = Document(title=title, body=body, **fields)  # type: ignore[arg-type]
    fast = bool(rs.matching_ids(doc))
    assert rs.explain(doc, "query")["matched"] == fast, "explain and match disagree"
    return fast


def syntax_error(query: str) -> RulesSyntaxError:
    with pytest.raises(RulesSyntaxError) as info:
        compile_query(query)
    return info.value


# ── terms ──────────────────────────────────────────────────────────────────────


def test_term_is_case_insensitive_and_whole_word() -> None:
    assert matches("pakistan", "PAKISTAN said")
    assert not matches("pakistan", "Pakistani troops")
    assert matches("pakistan", "Pakistan's army")


def test_phrase_needs_adjacent_words_in_order() -> None:
    assert matches('"secret talks"', "They held secret talks.")
    assert not matches('"secret talks"', "talks were secret")
    assert not matches('"secret talks"', "secret and talks")
    assert matches("“secret talks”", "secret talks")  # curly quotes in the rule


def test_case_sensitive_term() -> None:
    assert matches("{RAW}", "a former RAW chief")
    assert not matches("{RAW}", "raw materials")
    assert not matches("{RAW}", "Raw sugar")
    assert matches('{"RAW chief"}', "the RAW chief said")
    assert not matches('{"RAW chief"}', "the RAW Chief said")


def test_prefix_wildcard() -> None:
    assert matches("negotiat*", "the negotiators met")
    assert matches("negotiat*", "negotiate")
    assert not matches("negotiat*", "renegotiate")
    assert matches('"secret talk*"', "secret talking")


def test_hyphen_policy() -> None:
    for text in ("back-channel", "back channel", "backchannel", "back‑channel", "back\u00adchannel"):
        assert matches("back-channel", f"a {text} effort"), text
    assert matches('"back-channel talks"', "backchannel talks")
    assert matches('"back-channel talks"', "back channel talks")


# ── Boolean logic ──────────────────────────────────────────────────────────────


def test_and_or_not_and_groups() -> None:
    assert matches("india AND pakistan", "India and Pakistan")
    assert not matches("india AND pakistan", "India alone")
    assert matches("india OR pakistan", "Pakistan alone")
    assert matches("india AND NOT cricket", "India talks")
    assert not matches("india AND NOT cricket", "India cricket")
    assert matches("(india OR delhi) AND (pakistan OR islamabad)", "Delhi and Islamabad")
    assert matches("NOT cricket", "nothing here")


def test_lowercase_and_is_not_an_operator() -> None:
    err = syntax_error("india and pakistan")
    assert "capitals" in err.message


# ── proximity ──────────────────────────────────────────────────────────────────


def test_near_counts_words_between() -> None:
    assert matches("india NEAR/2 talks", "India held talks")
    assert matches("india NEAR/2 talks", "India and Pakistan talks")
    assert not matches("india NEAR/1 talks", "India and Pakistan talks")
    assert matches("talks NEAR/2 india", "India and Pakistan talks")  # unordered
    assert matches("india NEAR/0 talks", "India talks")


def test_onear_is_ordered() -> None:
    assert matches("india ONEAR/3 talks", "India held talks")
    assert not matches("talks ONEAR/3 india", "India held talks")


def test_near_between_groups_and_phrases() -> None:
    q = '(india OR delhi) NEAR/15 (backchannel OR "quiet talks")'
    assert matches(q, "Delhi has held quiet talks")
    assert not matches(q, "Delhi " + "word " * 20 + "quiet talks")
    assert matches('"new delhi" NEAR/3 back-channel*', "New Delhi's back channels")


def test_near_stays_within_one_field() -> None:
    assert not matches("india NEAR/5 talks", body="talks resumed", title="India")
    assert matches("title:india NEAR/5 title:talks", title="India talks")


def test_nested_near() -> None:
    q = "(india NEAR/2 pakistan) NEAR/3 talks"
    assert matches(q, "India and Pakistan held talks")
    assert not matches(q, "India and Pakistan a b c d e talks")


def test_nested_near_finds_a_word_inside_the_inner_span() -> None:
    """The other side may stand between the inner NEAR's two words ("ambassadors from India met")."""
    q = "(ambassadors NEAR/20 met) NEAR/20 india"
    assert matches(q, "Former ambassadors from India met here")
    assert matches("india NEAR/20 (ambassadors NEAR/20 met)", "Former ambassadors from India met here")
    assert matches(q, "India: former ambassadors met here")
    # its own words are not a second side: "met" is inside the span, not near it
    assert not matches("(ambassadors NEAR/5 met) NEAR/5 met", "Former ambassadors from India met here")
    assert not matches("(ambassadors NEAR/5 met) NEAR/5 (met OR ambassadors)", "ambassadors a b met")
    # the distance still counts, to the nearest word of the inner span
    assert not matches("(ambassadors NEAR/20 met) NEAR/1 india",
                       "Former ambassadors of the old states from India a b c d met here")
    assert matches("(ambassadors NEAR/20 met) NEAR/1 india",
                   "Former ambassadors of the old states from India a met here")
    # ONEAR: the left side's first word comes first
    assert matches("(ambassadors NEAR/20 met) ONEAR/20 india", "Former ambassadors from India met here")
    assert not matches("india ONEAR/20 (ambassadors NEAR/20 met)", "Former ambassadors from India met here")
    # and the sentence still bounds it
    assert not matches("(ambassadors NEAR/20 met) NEAR/20s india",
                       "Former ambassadors. From India. They met here")


# ── fields ─────────────────────────────────────────────────────────────────────


def test_field_scoping() -> None:
    assert matches("title:pakistan", title="Pakistan today", body="nothing")
    assert not matches("title:pakistan", title="Today", body="Pakistan")
    assert matches("body:pakistan", body="Pakistan")
    assert matches("url:dawn", url="https://www.dawn.com/news/1")
    assert matches("source:dawn", source="Dawn")
    assert matches('author:"mariana baabar"', authors=["Mariana Baabar"])
    assert matches("title:(india OR pakistan)", title="Pakistan")
    assert not matches("pakistan", url="https://pakistan.example/")  # default: title and body


# ── counting ───────────────────────────────────────────────────────────────────


def test_atleast() -> None:
    q = "ATLEAST(2, india, pakistan, talks)"
    assert matches(q, "India talks")
    assert not matches(q, "India only")


def test_count() -> None:
    assert matches("COUNT(pakistan) >= 3", "Pakistan, Pakistan and Pakistan")
    assert not matches("COUNT(pakistan) >= 3", "Pakistan and Pakistan")
    assert matches("COUNT(pakistan) >= 2", title="Pakistan", body="Pakistan")  # fields add up
    # one sentence's pairs count once: the same place, not two
    assert not matches("COUNT(talks NEAR/5 (india OR pakistan)) >= 2", "India and Pakistan talks")
    assert matches("COUNT(talks NEAR/5 (india OR pakistan)) >= 2",
                   "India talks. " + "x " * 10 + "Pakistan talks.")


# ── syntax errors ──────────────────────────────────────────────────────────────


def test_mixing_and_or_is_an_error_pointing_at_the_operator() -> None:
    err = syntax_error("india AND pakistan OR talks")
    assert (err.line, err.column) == (1, 20)
    assert "parentheses" in err.message
    assert "    india AND pakistan OR talks\n" + " " * 23 + "^" in str(err)
    compile_query("(india AND pakistan) OR talks")  # fine with parentheses


@pytest.mark.parametrize(
    ("query", "line", "col", "fragment"),
    [
        ("india AND\n  (pakistan", 2, 12, "expected ')'"),
        ('india AND "secret talks', 1, 11, "closing quote"),
        ("india AND {RAW", 1, 11, "closing '}'"),
        ("india pakistan", 1, 7, "quotes"),
        ("india NEAR pakistan", 1, 7, "NEAR/5"),
        ("tittle:pakistan", 1, 1, "unknown field"),
        ("india AND", 1, 10, "ends too early"),
        ("india AND ()", 1, 12, "expected a term"),
        ('""', 1, 1, "can never match"),
        ("india AND ---", 1, 11, "can never match"),
        ("ne*", 1, 1, "too short"),
        ("neg*tiate", 1, 4, "wildcard"),
        ("ATLEAST(4, a, b)", 1, 9, "between 1 and 2"),
        ("ATLEAST(x, a, b)", 1, 9, "number"),
        ("COUNT(a) >= 0", 1, 13, "at least 1"),
        ("COUNT(a AND b) >= 2", 1, 7, "COUNT counts"),
        ("(a AND b) NEAR/3 c", 1, 2, "NEAR/3 needs"),
        ("india NOT pakistan", 1, 7, "AND NOT"),
        ("a NEAR/5000 b", 1, 3, "at most"),
        ("india: pakistan", 1, 1, "unknown field"),
        ("", 1, 1, "empty"),
        ("# only a comment", 1, 1, "empty"),
    ],
)
def test_syntax_errors_have_position_and_expectation(query: str, line: int, col: int, fragment: str) -> None:
    err = syntax_error(query)
    assert (err.line, err.column) == (line, col), str(err)
    assert fragment in err.message, err.message
    text = str(err)
    assert text.startswith(f"<query>:{line}:{col}: ")
    caret_line = text.splitlines()[-1]
    assert caret_line.rstrip().endswith("^") and len(caret_line) - 5 == col - 1


def test_syntax_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        compile_query("a AND")


def test_comments_in_queries() -> None:
    q = "india  # the country\nAND pakistan # the other"
    assert matches(q, "India and Pakistan")


def test_canonical_text_round_trips() -> None:
    q = 'title:(a OR "b c") AND (x NEAR/3 yes*) AND NOT {RAW} AND ATLEAST(1, p, q) AND COUNT(z) >= 2'
    canon = str(compile_query(q))
    assert str(compile_query(canon)) == canon


# ── explanations and offsets ───────────────────────────────────────────────────


def test_hit_offsets_point_into_the_original_strings() -> None:
    title = "Pakistan’s back\u00adchannel with India"
    body = "Officials said the back‑channel to New Delhi and José’s role… backchannel."
    rs = RuleSet([topic_from_query('back-channel AND (india OR "new delhi" OR josé)')])
    (m,) = rs.match(Document(title=title, body=body))
    texts = {"title": title, "body": body}
    assert m.explanation["hits"]
    for h in m.explanation["hits"]:
        assert texts[h["field"]][h["start"]:h["end"]] == h["text"]
    got = {(h["field"], h["text"]) for h in m.explanation["hits"]}
    assert ("title", "back\u00adchannel") in got
    assert ("body", "back‑channel") in got
    assert ("body", "New Delhi") in got
    assert m.rules_version == rs.version
    json.dumps(m.explanation)  # JSON-serialisable


def test_nfd_offsets_cover_the_combining_marks() -> None:
    body = "Talks with Jose\u0301 Marti\u0301nez resumed."
    rs = RuleSet([topic_from_query('"José Martínez"')])
    (m,) = rs.match(Document(body=body))
    (h,) = m.explanation["hits"]
    assert body[h["start"]:h["end"]] == "Jose\u0301 Marti\u0301nez"


def test_snippets_and_score() -> None:
    body = ("filler " * 60) + "the backchannel with Pakistan " + ("filler " * 60)
    rs = RuleSet([topic_from_query("backchannel AND pakistan")])
    (m,) = rs.match(Document(title="Pakistan", body=body))
    snip = m.explanation["snippets"]["body"][0]
    assert "backchannel" in snip["text"] and len(snip["text"]) <= 200
    assert body[snip["start"]:snip["end"]] == snip["text"]
    (m_body_only,) = rs.match(Document(title="News", body=body))
    assert m.score > m_body_only.score  # title hits weigh more
    assert set(m.matched_terms) == {"backchannel", "pakistan"}


def test_explain_on_a_non_match_shows_the_failing_clause() -> None:
    rs = RuleSet([topic_from_query("(india OR delhi) AND backchannel NEAR/5 pakistan")])
    exp = rs.explain(Document(body="India said the backchannel was closed. " + "x " * 20 + "Pakistan"), "query")
    assert exp["matched"] is False
    root = exp["clauses"]
    assert root["op"] == "AND" and root["held"] is False
    first, near = root["children"]
    assert first["held"] is True
    assert near["op"] == "NEAR" and near["held"] is False
    assert [c["held"] for c in near["children"]] == [True, True]
    assert {h["term"] for h in exp["hits"]} >= {"india", "backchannel", "pakistan"}


def test_exclude_query_blocks_a_match() -> None:
    from crawler.rules import Topic

    t = Topic(id="t", query=compile_query("pakistan"), exclude=compile_query("cricket"))
    rs = RuleSet([t])
    assert rs.match(Document(body="Pakistan talks")) != []
    assert rs.match(Document(body="Pakistan cricket")) == []
    exp = rs.explain(Document(body="Pakistan cricket"), "t")
    assert exp["query_held"] and exp["excluded"] and not exp["matched"]


def test_version_is_stable_and_tracks_the_queries() -> None:
    a = RuleSet([topic_from_query("india AND pakistan")])
    b = RuleSet([topic_from_query("india   AND\n pakistan")])
    c = RuleSet([topic_from_query("india AND islamabad")])
    assert a.version == b.version != c.version


def test_many_topics_one_pass() -> None:
    topics = [topic_from_query(q, f"t{i}") for i, q in enumerate(
        ["india", "negotiat*", "NOT cricket", "title:pakistan", '"secret talks" NEAR/3 delhi'])]
    rs = RuleSet(topics)
    doc = Document(title="Pakistan", body="Negotiators in Delhi held secret talks")
    assert [m.topic_id for m in rs.match(doc)] == ["t1", "t2", "t3", "t4"]


# ── topic files ────────────────────────────────────────────────────────────────


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_topic_file(tmp_path: Path) -> None:
    p = write(tmp_path, "t.toml", '''
id = "t"
name = "Test"
query = """india AND pakistan"""
exclude = "cricket"
[notify]
urls = ["json://localhost"]
mode = "digest"
[examples]
match = ["India and Pakistan", { title = "India", text = "Pakistan" }]
no_match = ["India and Pakistan cricket"]
''')
    rs = load_topics([p])
    (t,) = rs.topics
    assert (t.id, t.name, t.notify_urls, t.notify_mode) == ("t", "Test", ["json://localhost"], "digest")
    assert len(t.examples_match) == 2 and t.path == p


def test_query_error_points_at_the_toml_line(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.toml", 'id = "bad"\nname = "x"\nquery = """\nindia\n  AND pakistan OR talks\n"""\n')
    with pytest.raises(ConfigError) as info:
        load_topics([p])
    (problem,) = info.value.problems
    assert problem.startswith(f"{p}:5:16: query: OR after AND")
    assert problem.splitlines()[1] == "      AND pakistan OR talks"
    assert problem.splitlines()[2] == "    " + " " * 15 + "^"


def test_all_problems_across_files_are_reported(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", 'id = "a"\nquery = "india AND"\nexclude = "x y"\n')
    b = write(tmp_path, "b.toml", 'id = "b"\nquery = "india"\ncolour = "red"\n[notify]\nmode = "loud"\n')
    c = write(tmp_path, "c.toml", 'id = "c"\nquery = "india"\n[examples]\nmatch = ["Pakistan only"]\nno_match = ["India"]\n')
    d = write(tmp_path, "d.toml", 'id = "a"\nquery = "india"\n')
    e = write(tmp_path, "e.toml", 'id = "e"\nquery = [\n')
    with pytest.raises(ConfigError) as info:
        load_topics([a, b, c, d, e, tmp_path / "missing.toml"])
    text = "\n".join(info.value.problems)
    assert f"{a}:2:19: query: the query ends too early" in text
    assert f"{a}:3:14: exclude: unexpected term 'y'" in text
    assert f"{b}: colour: unknown key" in text
    assert f"{b}: notify.mode:" in text
    assert f"{c}: examples.match[0] 'Pakistan only' does not match the topic (clause not satisfied: india)" in text
    assert f"{c}: examples.no_match[0] 'India' matches the topic" in text
    assert f"{d}: id: 'a' is already the id" not in text  # a.toml failed, so 'a' is free
    assert f"{e}: TOML syntax error" in text
    assert "missing.toml: rules file not found" in text


def test_duplicate_ids(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", 'id = "same"\nquery = "india"\n')
    b = write(tmp_path, "b.toml", 'id = "same"\nquery = "pakistan"\n')
    with pytest.raises(ConfigError, match="already the id"):
        load_topics([a, b])


# ── eval ───────────────────────────────────────────────────────────────────────


def test_evaluate_counts_and_shape() -> None:
    rs = RuleSet([topic_from_query("backchannel", "bc")])
    rows = [
        {"title": "A", "text": "a backchannel", "label": 1},
        {"title": "B", "text": "a backchannel", "label": 0},
        {"title": "C", "text": "nothing", "label": 1},
        {"title": "D", "text": "nothing", "label": 0},
        {"title": "E", "text": "nothing", "label": "0"},
        {"title": "F", "text": "backchannel", "label": "borderline"},
        {"title": "G", "text": "backchannel"},
    ]
    out = evaluate(rs, rows)
    assert out == {
        "topics": [{"topic": "bc", "precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1,
                    "tn": 2, "false_positives": ["B"], "false_negatives": ["C"]}],
        "skipped": 2,
    }
    assert evaluate(rs, rows, "bc") == out
    with pytest.raises(KeyError):
        evaluate(rs, rows, "nope")


# ── the default topic ──────────────────────────────────────────────────────────


def test_default_topic_loads_with_its_examples() -> None:
    rs = load_topics([DEFAULT_TOPIC])
    (t,) = rs.topics
    assert t.id == "india-pakistan-backchannel" == DEFAULT_TOPIC.stem
    assert len(t.examples_match) >= 3 and len(t.examples_no_match) >= 3


@pytest.mark.shared
def test_default_topic_on_the_dev_set() -> None:
    path = shared_dir() / "topic-dev" / "articles.jsonl"
    if not path.is_file():
        pytest.skip(f"shared dev set not found at {path} (set NEWSWATCH_SHARED)")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = evaluate(load_topics([DEFAULT_TOPIC]), rows)
    (t,) = out["topics"]
    assert t["precision"] >= 0.95 and t["recall"] >= 0.95, t
    assert out["skipped"] == sum(1 for r in rows if r["label"] not in (0, 1))


def test_near_strategies_agree_on_random_texts() -> None:
    """The pairwise and the bisection NEAR give the same occurrences and anchors."""
    import random

    from crawler.rules.index import DocIndex
    from crawler.rules.nodes import Near

    rng = random.Random(3)
    words = ["india", "pakistan", "talks", "secret", "quiet", "met", "delhi", "the", "of", "and", "a"]
    for ordered in (False, True):
        query = compile_query(f'(india OR pakistan OR delhi) {"ONEAR" if ordered else "NEAR"}/4 '
                              '(secret OR "quiet talks" OR met)')
        rs = RuleSet([Topic(id="t", query=query)])
        near = query.root
        assert isinstance(near, Near)
        for _ in range(200):
            doc = Document(title=" ".join(rng.choice(words) for _ in range(6)),
                           body=" ".join(rng.choice(words) for _ in range(rng.randint(5, 120))))
            ix = DocIndex(doc, rs.vocab)
            left, right = near.left.occurrences(ix), near.right.occurrences(ix)
            a: tuple[set, set] = (set(), set())
            b: tuple[set, set] = (set(), set())
            near._pairs(left, right, *a)
            near._bisect(left, right, *b)
            assert a == b
