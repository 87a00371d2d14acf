"""What the CLI and the review app both show: highlight spans and relative times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crawler.display import hit_spans, hits_of, relative_time

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_hit_spans_keep_valid_hits_of_one_field_and_merge_overlaps() -> None:
    hits = [
        {"term": "talks", "field": "body", "start": 7, "end": 12},
        {"term": "secret", "field": "body", "start": 0, "end": 6},
        {"term": "secret talks", "field": "body", "start": 0, "end": 12},
        {"term": "india", "field": "title", "start": 0, "end": 5},
        {"term": "bad", "field": "body", "start": 10, "end": 99},
        {"term": "broken", "field": "body", "start": "x", "end": 3},
    ]
    assert hit_spans(hits, "body", len("secret talks")) == [(0, 12, ["secret", "secret talks", "talks"])]
    assert hit_spans(hits, "title", 5) == [(0, 5, ["india"])]
    assert hits_of([{"hits": hits[:2]}, {}, {"hits": None}]) == hits[:2]


def test_relative_time_reads_both_ways() -> None:
    assert relative_time(None) == "—"
    assert relative_time(NOW - timedelta(seconds=40), NOW) == "40 s ago"
    assert relative_time(NOW - timedelta(minutes=5, seconds=10), NOW) == "5 min ago"
    assert relative_time(NOW + timedelta(hours=3, minutes=20), NOW) == "in 3 h"
    assert relative_time(NOW - timedelta(days=2, hours=5), NOW) == "2 d ago"
    assert relative_time(NOW - timedelta(days=90), NOW) == "02 Sep 2026"
