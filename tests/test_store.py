"""Store API against a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from crawler.models import Match
from storage import FeedConfig, NewArticle, PollOutcome, Store, content_hash


def _article(url: str = "https://example.com/a", **kw) -> NewArticle:
    data = dict(url=url, link=url, title="Title", text="Body text", method="generic",
                text_from="page", fetched_at=datetime.now(UTC), source="Dawn", feed_name="dawn")
    data.update(kw)
    return NewArticle(**data)


def _match(topic: str = "t1", score: float = 1.0) -> Match:
    return Match(topic_id=topic, score=score, matched_terms=["backchannel"],
                 explanation={"hits": [{"term": "backchannel", "field": "body", "start": 0, "end": 4}]},
                 rules_version="v1")


@pytest.fixture
def store(store_url: str):
    s = Store.open(store_url)
    yield s
    s.close()


def test_migrations_are_idempotent(store_url: str) -> None:
    Store.open(store_url).close()
    s = Store.open(store_url)  # second start: nothing to do, no error
    assert s.count_articles() == 0
    s.close()


def test_add_article_is_idempotent_on_url(store: Store) -> None:
    first = store.add_article(_article(), [_match()])
    assert isinstance(first, int)
    assert store.add_article(_article(title="Other"), [_match("t2")]) is None
    art = store.get_article(first)
    assert art is not None and art.title == "Title"
    assert [m.topic_id for m in art.matches] == ["t1"]
    assert art.content_hash == content_hash("Title", "Body text")
    assert store.known_urls(["https://example.com/a", "https://example.com/b"]) == {"https://example.com/a"}


def test_article_and_matches_in_one_transaction(store: Store) -> None:
    bad = Match(topic_id="t1", score=1.0, matched_terms=["x"], explanation={}, rules_version="v")
    with pytest.raises(IntegrityError):
        store.add_article(_article(), [bad, bad])  # duplicate (article, topic) violates uniqueness
    assert store.count_articles() == 0  # the article row was rolled back with its matches


def test_add_articles_stores_a_batch_in_order_and_skips_stored_urls(store: Store) -> None:
    stored = store.add_article(_article("https://example.com/old"))
    ids = store.add_articles([
        (_article("https://example.com/1"), [_match("t1")]),
        (_article("https://example.com/old"), [_match("t1")]),  # stored before: skipped, no match row
        (_article("https://example.com/2"), []),
        (_article("https://example.com/1", title="Again"), [_match("t2")]),  # earlier in the batch
    ])
    assert ids[1] is None and ids[3] is None
    assert isinstance(ids[0], int) and isinstance(ids[2], int) and stored not in ids and ids[0] != ids[2]
    assert [m.topic_id for m in store.get_article(ids[0]).matches] == ["t1"]
    assert store.get_article(stored).matches == []
    assert store.get_article(ids[0]).title == "Title"


def test_a_batch_is_one_transaction(store: Store) -> None:
    bad = Match(topic_id="t1", score=1.0, matched_terms=["x"], explanation={}, rules_version="v")
    with pytest.raises(IntegrityError):
        store.add_articles([(_article("https://example.com/1"), [_match()]),
                            (_article("https://example.com/2"), [bad, bad])])
    assert store.count_articles() == 0
    assert store.add_articles([]) == []


def test_near_misses_of_new_articles_are_added_in_one_go(store: Store) -> None:
    from crawler.rules.engine import NearMiss

    a, b = store.add_articles([(_article("https://example.com/1"), []), (_article("https://example.com/2"), [])])
    miss = NearMiss(topic="t1", failed="backchannel", detail="does not occur", closeness=0.25)
    store.add_near_misses([(a, [miss]), (b, [miss, NearMiss("t2", "x", "does not occur", 0.5)])],
                          rules_version="v1")
    store.add_near_misses([(a, [NearMiss("t1", "other", "does not occur", 0.9)])], rules_version="v1")
    rows, total = store.near_miss_rows(state=None)
    assert total == 3
    assert {(r.id, r.topic, r.failed) for r in rows} == {(a, "t1", "backchannel"), (b, "t1", "backchannel"),
                                                       (b, "t2", "x")}  # a stored one is left as it was


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    pk = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    aid = store.add_article(_article(published=pk.astimezone(ZoneInfo("Asia/Karachi"))))
    art = store.get_article(aid)
    assert art.published == pk and art.published.tzinfo is not None
    with pytest.raises(StatementError, match="naive datetime"):
        store.add_article(_article(url="https://example.com/naive", published=datetime(2026, 1, 1)))


def test_claims_are_exclusive_and_leases_expire(store: Store) -> None:
    now = datetime.now(UTC)
    store.sync_feeds([FeedConfig("a", "https://a.example/feed"), FeedConfig("b", "https://b.example/feed")], now=now)
    first = store.claim_due_feeds("one", limit=10, lease=60, now=now)
    assert sorted(f.name for f in first) == ["a", "b"]
    assert store.claim_due_feeds("two", limit=10, lease=60, now=now) == []
    later = now + timedelta(seconds=61)  # the first instance died: its leases run out
    assert sorted(f.name for f in store.claim_due_feeds("two", limit=10, lease=60, now=later)) == ["a", "b"]


def test_concurrent_claims_never_overlap(store: Store) -> None:
    store.sync_feeds([FeedConfig(f"f{i}", f"https://x.example/{i}") for i in range(40)])
    got: dict[str, list[str]] = {}

    def claim(owner: str) -> None:
        got[owner] = [f.name for f in store.claim_due_feeds(owner, limit=40, lease=60)]

    threads = [threading.Thread(target=claim, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = [n for v in got.values() for n in v]
    assert len(names) == len(set(names)) == 40


def test_record_poll_tracks_health_and_validators(store: Store) -> None:
    now = datetime.now(UTC)
    store.sync_feeds([FeedConfig("a", "https://a.example/feed")], now=now)
    (feed,) = store.claim_due_feeds("me", limit=1, lease=60, now=now)
    store.record_poll(feed.id, PollOutcome(ok=False, error="HTTP 500", status=500, polled_at=now,
                                           next_poll_at=now + timedelta(minutes=5)))
    store.record_poll(feed.id, PollOutcome(ok=False, error="HTTP 500", status=500, polled_at=now + timedelta(minutes=5),
                                           next_poll_at=now + timedelta(minutes=15)))
    f = store.get_feed("a")
    assert f.consecutive_failures == 2 and f.errors_total == 2 and f.failing_since == now
    assert f.lease_owner is None
    store.record_poll(feed.id, PollOutcome(ok=True, status=200, etag='"abc"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT",
                                           keep_validators=False, new_articles=3, polled_at=now, next_poll_at=now))
    f = store.get_feed("a")
    assert (f.consecutive_failures, f.failing_since, f.etag, f.articles_total) == (0, None, '"abc"', 3)
    store.record_poll(feed.id, PollOutcome(ok=True, not_modified=True, status=304, polled_at=now, next_poll_at=now))
    f = store.get_feed("a")
    assert f.etag == '"abc"' and f.not_modified_total == 1 and f.polls_total == 4


def test_sync_feeds_disables_removed_and_resets_changed_url(store: Store) -> None:
    store.sync_feeds([FeedConfig("a", "https://a.example/feed"), FeedConfig("b", "https://b.example/feed")])
    (a,) = store.claim_due_feeds("me", limit=1, lease=1, names=["a"])
    now = datetime.now(UTC)
    store.record_poll(a.id, PollOutcome(ok=True, etag="x", keep_validators=False, polled_at=now,
                                        next_poll_at=now + timedelta(hours=1)))
    store.sync_feeds([FeedConfig("a", "https://a.example/other")])
    assert [f.name for f in store.feed_states()] == ["a"]
    a2 = store.get_feed("a")
    assert a2.etag is None and a2.next_poll_at <= datetime.now(UTC)
    assert store.get_feed("b").enabled is False


def test_review_queue_filters_and_marks(store: Store) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    ids = []
    for i in range(5):
        ids.append(store.add_article(_article(f"https://e.example/{i}", published=t0 + timedelta(hours=i),
                                              source="Dawn" if i % 2 else "BBC"),
                                     [_match("t1" if i < 4 else "t2")]))
    store.add_article(_article("https://e.example/unflagged"))
    rows = store.list_flagged()
    assert [r.id for r in rows] == list(reversed(ids))  # newest first
    assert {r.id for r in store.list_flagged(topic="t2")} == {ids[4]}
    assert {r.id for r in store.list_flagged(source="Dawn")} == {ids[1], ids[3]}
    assert len(store.list_flagged(limit=2)) == 2
    assert store.mark(ids[0], "relevant", note="good") == 1
    assert store.mark(ids[1], "irrelevant") == 1
    assert ids[0] not in {r.id for r in store.list_flagged()}
    assert [r.note for r in store.list_flagged(state="relevant")] == ["good"]
    assert len(store.list_flagged(state="all")) == 5
    assert store.review_counts() == {"unreviewed": 3, "relevant": 1, "irrelevant": 1}
    with pytest.raises(ValueError):
        store.mark(ids[0], "maybe")
    assert store.mark(999999, "relevant") == 0


def test_replace_matches_keeps_marks_on_topics_still_matching(store: Store) -> None:
    aid = store.add_article(_article(), [_match("t1"), _match("t2")])
    store.mark(aid, "relevant", topic="t1")
    store.replace_matches(aid, [_match("t1", score=5.0), _match("t3")])
    art = store.get_article(aid)
    by_topic = {m.topic_id: m for m in art.matches}
    assert set(by_topic) == {"t1", "t3"}
    assert by_topic["t1"].state == "relevant" and by_topic["t1"].score == 5.0


def test_prune_keeps_flagged_articles(store: Store) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    keep = store.add_article(_article("https://e.example/flagged", fetched_at=old), [_match()])
    store.add_article(_article("https://e.example/old", fetched_at=old))
    store.add_article(_article("https://e.example/new"))
    assert store.prune(datetime.now(UTC) - timedelta(days=30)) == 1
    assert store.get_article(keep) is not None
    assert store.count_articles() == 2


def test_iter_articles_batches(store: Store) -> None:
    for i in range(25):
        store.add_article(_article(f"https://e.example/{i}"), [_match()] if i % 5 == 0 else [])
    arts = list(store.iter_articles(batch=7, with_matches=True))
    assert len(arts) == 25
    assert sum(1 for a in arts if a.matches) == 5


def test_sqlite_uses_wal(sqlite_url: str) -> None:
    s = Store.open(sqlite_url)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    s.close()


def test_spread_due_brings_forward_only_stale_feeds(store: Store) -> None:
    now = datetime.now(UTC)
    store.sync_feeds([FeedConfig("stale", "https://a.example/f"), FeedConfig("fresh", "https://b.example/f")], now=now)
    for f in store.claim_due_feeds("me", limit=2, lease=60, now=now):
        polled = now - timedelta(hours=2) if f.name == "stale" else now - timedelta(seconds=10)
        store.record_poll(f.id, PollOutcome(ok=True, polled_at=polled, next_poll_at=now + timedelta(hours=5)))
    store.spread_due(default_interval=600, now=now, spread=0)
    assert store.get_feed("stale").next_poll_at == now  # restart: polled promptly
    assert store.get_feed("fresh").next_poll_at == now - timedelta(seconds=10) + timedelta(seconds=600)


def test_instances_starting_together_add_feeds_once(store_url: str) -> None:
    stores = [Store.open(store_url) for _ in range(4)]
    configured = [FeedConfig(f"f{i}", f"https://x.example/{i}") for i in range(20)]
    errors: list[BaseException] = []

    def sync(s: Store) -> None:
        try:
            s.sync_feeds(configured)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores[0].feed_states()) == 20
    for s in stores:
        s.close()


def test_a_match_is_stored_compact_and_read_back_whole(store: Store) -> None:
    """Hits keep offsets, not words, and the columns' copies stay out of the stored explanation;
    every reader still sees the explanation the engine made (issue 10, target 4)."""
    from pathlib import Path

    from crawler.models import Document
    from crawler.rules.topics import load_topics

    rules = load_topics([Path(__file__).resolve().parents[1] / "config" / "rules" / "india-pakistan-backchannel.toml"])
    text = ("ISLAMABAD: India and Pakistan kept a quiet back-channel open through the winter, officials in "
            "Delhi said. The national security advisers met secretly in Abu Dhabi, away from the media.")
    doc = Document(title="India, Pakistan NSAs held secret talks", body=text)
    (m,) = rules.match(doc)
    art_id = store.add_article(_article(title=doc.title, text=text), [m])
    with store.engine.connect() as conn:
        from sqlalchemy import text as sql
        raw = conn.execute(sql("SELECT explanation FROM matches WHERE article_id = :i"), {"i": art_id}).scalar()
    stored = raw if isinstance(raw, dict) else __import__("json").loads(raw)
    assert stored["hits"] and all("text" not in h for h in stored["hits"])
    assert "matched_terms" not in stored and "rules_version" not in stored
    art = store.get_article(art_id)
    assert art is not None
    (got,) = art.matches
    assert got.explanation == m.explanation  # words, terms and version back as the engine made them
    (row,) = store.review_page(details=True).rows
    assert row.explanation == m.explanation
