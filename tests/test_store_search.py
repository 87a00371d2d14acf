"""The review app's storage: full-text search, listings, stories, dashboard aggregates.

Every test runs on a real SQLite file (FTS5) and, when available, a real PostgreSQL
(tsvector GIN index): the search language must mean the same on both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import MetaData, Table, insert, text

from crawler.models import Match
from crawler.stories import assign_stories
from storage import NewArticle, ReviewFilter, Store
from storage.search import parse_search, to_fts5, to_tsquery
from storage.store import _MIGRATIONS, create_store_engine

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _add(store: Store, n: int, title: str, body: str, *, source: str = "Dawn", topic: str | None = "t1",
         when: datetime | None = None, state: str | None = None) -> int:
    found = [Match(topic, 1.0 + n / 100, ["x"], {"hits": []}, "v")] if topic else []
    aid = store.add_article(NewArticle(
        url=f"https://news.example/{n}", link=f"https://news.example/{n}", title=title, text=body,
        method="generic", text_from="page", fetched_at=when or NOW - timedelta(hours=n), source=source,
        feed_name=source.lower(), published=when or NOW - timedelta(hours=n)), found)
    assert aid is not None
    if state:
        store.mark(aid, state)
    return aid


@pytest.fixture
def store(store_url: str):
    s = Store.open(store_url)
    _add(s, 1, "India and Pakistan held backchannel talks", "Officials met quietly in Muscat to talk about the border.")
    _add(s, 2, "Secret talks in Abu Dhabi", "The national security advisers of India and Pakistan met in Abu Dhabi.",
         source="The Hindu")
    _add(s, 3, "Cricket: Pakistan edge India", "A thriller in Colombo went to the last over.", topic=None)
    _add(s, 4, "بھارت اور پاکستان کے درمیان خفیہ مذاکرات", "اسلام آباد میں بیک چینل رابطے", source="BBC Urdu")
    _add(s, 5, "भारत पाकिस्तान गुप्त वार्ता", "दिल्ली और इस्लामाबाद के बीच बैक चैनल", source="BBC Hindi")
    _add(s, 6, "Negotiators' quiet channel: what's next?", "Back-channel diplomacy resumed in Doha; officials said "
         "\"it's early\".", source="The Hindu", state="relevant")
    yield s
    s.close()


def _titles(store: Store, q: str, **kw) -> set[str]:
    return {r.title for r in store.review_page(ReviewFilter(state="all", query=q, **kw), limit=None).rows}


def _found(store: Store, q: str) -> set[str]:
    results, total = store.search_articles(q, limit=100)
    assert total == len(results)
    return {r.title for r in results}


def test_words_phrases_prefixes_or_and_exclusion(store: Store) -> None:
    assert _titles(store, "muscat") == {"India and Pakistan held backchannel talks"}
    assert _titles(store, "MUSCAT border") == {"India and Pakistan held backchannel talks"}
    assert _titles(store, '"secret talks"') == {"Secret talks in Abu Dhabi"}
    assert _titles(store, '"talks secret"') == set()
    assert _titles(store, "negotiat*") == {"Negotiators' quiet channel: what's next?"}
    assert _titles(store, "muscat OR doha") == {"India and Pakistan held backchannel talks",
                                                "Negotiators' quiet channel: what's next?"}
    assert _titles(store, "talks -muscat") == {"Secret talks in Abu Dhabi"}
    assert _titles(store, "india", source="The Hindu") == {"Secret talks in Abu Dhabi"}
    rows = store.review_page(ReviewFilter(state="relevant", query="doha")).rows
    assert [r.title for r in rows] == ["Negotiators' quiet channel: what's next?"]


def test_search_reaches_unflagged_articles_only_through_search_articles(store: Store) -> None:
    assert _titles(store, "colombo") == set()  # the review list holds flagged articles only
    found, total = store.search_articles("colombo")
    assert total == 1 and found[0].title == "Cricket: Pakistan edge India" and found[0].topics == []
    assert _found(store, "abu dhabi")
    assert next(iter(store.search_articles("abu dhabi")[0])).topics == ["t1"]


def test_urdu_and_hindi_words_are_whole(store: Store) -> None:
    assert _found(store, "مذاکرات") == {"بھارت اور پاکستان کے درمیان خفیہ مذاکرات"}
    assert _found(store, "वार्ता") == {"भारत पाकिस्तान गुप्त वार्ता"}
    assert _found(store, '"बैक चैनल"') == {"भारत पाकिस्तान गुप्त वार्ता"}


@pytest.mark.parametrize("hostile", [
    '"', "'", '"unclosed', "a'b", "NEAR(a b)", "title:india", "col:*", "AND", "OR", "NOT", "-", "*",
    "'; DROP TABLE articles; --", "\\", "!!!", "&|!", "(", ")", "india OR", "OR india", "-india",
    "x" * 400, "\x00", "{RAW}", "a:b:c", "'india'", "india & pakistan", "<-> india",
])
def test_any_input_is_a_query_never_an_error(store: Store, hostile: str) -> None:
    store.review_page(ReviewFilter(state="all", query=hostile))
    store.search_articles(hostile)
    assert store.count_articles() == 6


def test_quotes_and_apostrophes_are_separators(store: Store) -> None:
    assert _found(store, "what's") == {"Negotiators' quiet channel: what's next?"}
    assert _found(store, '"it\'s early"') == {"Negotiators' quiet channel: what's next?"}
    assert _found(store, "back-channel") == {"Negotiators' quiet channel: what's next?"}


def test_index_follows_updates_and_deletes(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE articles SET text = 'Moved to Riyadh' WHERE url = 'https://news.example/1'"))
    assert _found(store, "riyadh") == {"India and Pakistan held backchannel talks"}
    assert _found(store, "muscat") == set()
    assert store.prune(NOW + timedelta(days=1)) == 1  # the unflagged cricket report goes
    assert _found(store, "colombo") == set()


def test_paging_and_totals(store: Store) -> None:
    page = store.review_page(ReviewFilter(state="all"), limit=2, offset=0)
    assert page.total == 5 and len(page.rows) == 2
    rest = store.review_page(ReviewFilter(state="all"), limit=10, offset=2)
    assert [r.id for r in page.rows + rest.rows] == [r.id for r in store.review_page(
        ReviewFilter(state="all"), limit=None).rows]
    whens = [r.when for r in page.rows + rest.rows]
    assert whens == sorted(whens, reverse=True)  # newest first


def test_neighbours_follow_the_listing_even_after_a_mark(store: Store) -> None:
    ids = [r.id for r in store.review_page(ReviewFilter(), limit=None).rows]  # unreviewed, newest first
    assert store.neighbours(ids[1]) == (ids[0], ids[2])
    store.mark(ids[1], "relevant")  # no longer in the unreviewed listing, but its place is known
    assert store.neighbours(ids[1]) == (ids[0], ids[2])
    assert store.neighbours(ids[0])[0] is None
    assert store.neighbours(ids[-1])[1] is None
    assert store.neighbours(424242) == (None, None)


def test_neighbours_beyond_the_date_window_match_the_listing(store_url: str, monkeypatch) -> None:
    """Flagged articles far apart in the date index (unflagged ones between, equal dates too) are
    found past the window, the same as the listing's order says, for a common and a rare filter."""
    import storage.reviews

    monkeypatch.setattr(storage.reviews, "NEIGHBOUR_WINDOW", 3)
    s = Store.open(store_url)
    for n in range(1, 41):
        flagged = n % 7 == 0 or n in (20, 21)
        _add(s, n, f"Article {n}", "Text.", topic="t1" if flagged else None, state="relevant" if n == 14 else None,
             when=NOW - timedelta(hours=n // 2), source="Rare" if n in (7, 35) else "Dawn")
    for f in (ReviewFilter(), ReviewFilter(state="all"), ReviewFilter(state="all", source="Rare"),
              ReviewFilter(state="relevant")):
        ids = [r.id for r in s.review_page(f, limit=None).rows]
        assert ids, f
        for i, aid in enumerate(ids):
            assert s.neighbours(aid, f) == (ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None), (f, i)
    s.close()


def test_stories_are_placed_merged_and_marked_together(store_url: str) -> None:
    s = Store.open(store_url)
    wire = ("Officials from India and Pakistan held backchannel talks in Muscat last week, according to two "
            "people familiar with the meetings. The talks covered trade across the Wagah border and the "
            "release of fishermen held by both sides. Both sides agreed to meet again within weeks.")
    a = _add(s, 1, "Backchannel talks in Muscat", wire)
    b = _add(s, 2, "Other", "Pakistan beat India by three wickets in Colombo; the chase went to the last over.")
    assert assign_stories(s) == 2 and assign_stories(s) == 0
    c = _add(s, 3, "Backchannel talks in Muscat (Dawn)", "ISLAMABAD: " + wire + " Updated with comment.")
    assert assign_stories(s) == 1
    assert s.story_of(a) == s.story_of(c) == a and s.story_of(b) == b
    rows = s.story_rows(a)
    assert {r.id for r in rows} == {a, c} and all(r.story_size == 2 for r in rows)
    assert s.mark_story(a, "relevant", note="one event") == 2
    assert {(r.state, r.note) for r in s.story_rows(a)} == {("relevant", "one event")}
    assert s.review_counts()["relevant"] == 2
    # placing is idempotent and merges fold whole stories
    s.save_stories([(a, 999, b"x")], {b: a})
    assert s.story_of(a) == a and s.story_of(b) == a
    with pytest.raises(ValueError):
        s.mark_story(a, "maybe")
    s.close()


def test_dashboard_aggregates(store: Store) -> None:
    days = store.flagged_per_day(NOW - timedelta(days=1))
    assert sum(n for _, _, n in days) == 5
    assert all(isinstance(d, date) and t == "t1" for d, t, _ in days)
    by_source = {c.source: c for c in store.source_counts()}
    assert by_source["The Hindu"].flagged == 2 and by_source["The Hindu"].relevant == 1
    assert by_source["Dawn"].unreviewed == 1 and "—" not in by_source
    backlog = store.backlog()
    assert backlog.counts == {"unreviewed": 4, "relevant": 1, "irrelevant": 0}
    assert backlog.by_topic == {"t1": 4} and backlog.oldest_unreviewed is not None
    assert backlog.oldest_unreviewed.tzinfo is not None
    assert store.matches_by_topic() == {("t1", "unreviewed"): 4, ("t1", "relevant"): 1}
    topics, sources = store.facets()
    assert topics == ["t1"] and "BBC Urdu" in sources and "Dawn" in sources
    assert store.ping()


def test_upgrade_from_0001_indexes_existing_articles(store_url: str) -> None:
    engine = create_store_engine(store_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    # an article and its match as 0001's tables hold them (today's Store writes columns added since)
    with engine.begin() as conn:
        old = MetaData()
        articles = Table("articles", old, autoload_with=conn)
        matches = Table("matches", old, autoload_with=conn)
        row = {"url": "https://news.example/1", "link": "https://news.example/1", "feed_name": "dawn",
               "source": "Dawn", "title": "Stored before the upgrade", "text": "Quiet contacts in Bangkok.",
               "summary": "", "fetched_at": NOW, "published": NOW, "authors": [], "method": "generic",
               "text_from": "page", "content_hash": "x"}
        aid = conn.execute(insert(articles).values(**row)).inserted_primary_key[0]
        match = {"article_id": aid, "topic_id": "t1", "score": 1.0, "matched_terms": ["x"],
                 "explanation": {"hits": []}, "rules_version": "v", "created_at": NOW, "state": "unreviewed"}
        conn.execute(insert(matches).values(**{k: v for k, v in match.items() if k in matches.c}))
    engine.dispose()
    s = Store.open(store_url)  # applies 0002
    assert _found(s, "bangkok") == {"Stored before the upgrade"}
    assert assign_stories(s) == 1
    s.close()


def test_postgres_search_uses_the_gin_index(pg_url: str) -> None:
    s = Store.open(pg_url)
    _add(s, 1, "Backchannel", "Quiet contacts in Bangkok.")
    cond = s._search_condition("bangkok")
    from sqlalchemy import select

    from storage.schema import articles

    sql = select(articles.c.id).where(cond).compile(s.engine, compile_kwargs={"literal_binds": True})
    with s.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_articles_fts" in plan, plan
    s.close()


def test_query_rendering() -> None:
    terms = parse_search('india "secret talks" negotiat* muscat OR doha -cricket')
    assert to_fts5(terms) == '(("india") AND ("secret talks") AND ("negotiat"*) AND ("muscat" OR "doha")) NOT "cricket"'
    assert to_tsquery(terms) == ("('india') & (('secret' <-> 'talks')) & ('negotiat':*) & ('muscat' | 'doha') "
                                 "& !'cricket'")
    assert to_fts5(parse_search("-only -negative")) is None and to_tsquery(parse_search("!!!")) is None
    assert to_tsquery(parse_search("it's")) == "(('it' <-> 's'))"
