"""Unicode term-matching conformance: the shared cases and our own extra ones.

The shared cases live in `../shared/rules-conformance/unicode.jsonl` (the sibling
`shared` folder of the repo root, or `$NEWSWATCH_SHARED`); ours in
`tests/fixtures/rules/unicode_extra.jsonl`.  Each case is matched both through the
fast path (`matching_ids`) and the precise one (`explain`, with offsets), and every
hit's offsets must slice the original text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from crawler.models import Document
from crawler.rules import RuleSet, topic_from_query
from crawler.rules.text import fast_tokens, spans_tokens

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSWATCH_SHARED") or ROOT.parent / "shared")
SHARED_CASES = SHARED / "rules-conformance" / "unicode.jsonl"
EXTRA_CASES = ROOT / "tests" / "fixtures" / "rules" / "unicode_extra.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def as_query(term: str) -> str:
    return f'"{term}"' if any(c.isspace() for c in term) else term


def check(case: dict[str, Any]) -> None:
    rs = RuleSet([topic_from_query(as_query(case["term"]))])
    doc = Document(body=case["text"])
    assert bool(rs.matching_ids(doc)) is case["match"], case["why"]
    exp = rs.explain(doc, "query")
    assert exp["matched"] is case["match"], case["why"]
    for h in exp["hits"]:
        assert case["text"][h["start"]:h["end"]] == h["text"]
    assert fast_tokens(case["text"]) == spans_tokens(case["text"])[0]


@pytest.mark.shared
@pytest.mark.parametrize("case", load(SHARED_CASES) or [None], ids=lambda c: c["id"] if c else "absent")
def test_shared_unicode_cases(case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.skip(f"shared conformance cases not found at {SHARED_CASES} (set NEWSWATCH_SHARED)")
    check(case)


@pytest.mark.parametrize("case", load(EXTRA_CASES), ids=lambda c: c["id"])
def test_extra_unicode_cases(case: dict[str, Any]) -> None:
    check(case)


def test_shared_cases_are_all_there() -> None:
    cases = load(SHARED_CASES)
    if not cases:
        pytest.skip(f"shared conformance cases not found at {SHARED_CASES}")
    assert len(cases) >= 20


def test_terms_in_quotes_and_bare_agree() -> None:
    for case in load(EXTRA_CASES):
        if " " not in case["term"]:
            rs_bare = RuleSet([topic_from_query(case["term"])])
            rs_phrase = RuleSet([topic_from_query(f'"{case["term"]}"')])
            doc = Document(body=case["text"])
            assert rs_bare.matching_ids(doc) == rs_phrase.matching_ids(doc), case["id"]
