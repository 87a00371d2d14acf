"""The one way into the database.

The daemon, the CLI, the review app and the tests all go through `Store`; no
SQL lives anywhere else. Calls are synchronous and short: the async daemon runs
them in a worker thread. Claiming due feeds takes a lease per feed, row by row
with a guarded UPDATE, so several instances sharing a PostgreSQL database (or
processes sharing a SQLite file) never poll the same feed twice per interval.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    and_,
    case,
    column,
    create_engine,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import IntegrityError

from crawler.models import Match

from .schema import articles, feeds, marks, matches, story_members
from .search import parse_search, to_fts5, to_tsquery

__all__ = [
    "REVIEW_STATES",
    "Backlog",
    "FeedConfig",
    "FeedState",
    "FlaggedArticle",
    "NewArticle",
    "PendingNotification",
    "PollOutcome",
    "ReviewFilter",
    "ReviewPage",
    "ReviewRow",
    "SearchResult",
    "SourceCount",
    "Store",
    "StoredArticle",
    "StoredMatch",
    "content_hash",
]

log = logging.getLogger("newswatch.storage")

REVIEW_STATES = ("unreviewed", "relevant", "irrelevant")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def content_hash(title: str, text: str) -> str:
    """A hash of an article's words, blind to whitespace and case: finds the same text under two URLs."""
    norm = " ".join(f"{title}\n{text}".split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class FeedConfig:
    """What storage needs to know of a configured feed."""

    name: str
    url: str
    source: str | None = None
    enabled: bool = True
    interval: float | None = None


@dataclass(slots=True)
class FeedState:
    """A feed as the poller sees it: where and how to fetch it next."""

    id: int
    name: str
    url: str
    source: str | None
    enabled: bool
    interval: float | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime
    consecutive_failures: int
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    last_new_articles: int = 0
    last_duration: float | None = None
    polls_total: int = 0
    errors_total: int = 0
    not_modified_total: int = 0
    articles_total: int = 0
    page_errors_total: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(slots=True)
class PollOutcome:
    """The result of polling one feed, written back in one statement."""

    ok: bool
    next_poll_at: datetime
    polled_at: datetime
    status: int | None = None
    error: str | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    keep_validators: bool = True
    """On failure or 304 the stored validators stay; on success they are replaced by the new ones."""
    new_articles: int = 0
    page_errors: int = 0
    duration: float | None = None


@dataclass(slots=True)
class NewArticle:
    """An article ready to store; `url` is canonical and unique."""

    url: str
    link: str
    title: str
    text: str
    method: str
    text_from: str
    """`page` when the text was extracted from the article page, `feed` when only the entry's title and summary were available."""
    fetched_at: datetime
    feed_name: str | None = None
    source: str | None = None
    summary: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    description: str | None = None
    fetch_error: str | None = None
    http_status: int | None = None


@dataclass(slots=True)
class StoredMatch:
    topic_id: str
    score: float
    matched_terms: list[str]
    explanation: dict[str, Any]
    rules_version: str
    created_at: datetime
    state: str
    note: str | None
    reviewed_at: datetime | None


@dataclass(slots=True)
class StoredArticle:
    id: int
    url: str
    link: str
    feed_name: str | None
    source: str | None
    title: str
    text: str
    summary: str
    published: datetime | None
    updated: datetime | None
    fetched_at: datetime
    authors: list[str]
    language: str | None
    description: str | None
    method: str
    text_from: str
    fetch_error: str | None
    http_status: int | None
    content_hash: str
    matches: list[StoredMatch] = field(default_factory=list)


@dataclass(slots=True)
class PendingNotification:
    """A flagged match whose notification was never delivered."""

    article_id: int
    topic_id: str
    title: str
    source: str
    link: str
    matched_terms: list[str]


@dataclass(slots=True)
class FlaggedArticle:
    """One row of the review queue: an article and the topic that flagged it."""

    id: int
    url: str
    title: str
    source: str | None
    feed_name: str | None
    published: datetime | None
    fetched_at: datetime
    topic: str
    score: float
    state: str
    matched_terms: list[str]
    note: str | None
    reviewed_at: datetime | None
    text_from: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "source": self.source,
            "feed": self.feed_name,
            "published": self.published.isoformat() if self.published else None,
            "fetched_at": self.fetched_at.isoformat(),
            "topic": self.topic,
            "score": round(self.score, 4),
            "state": self.state,
            "matched_terms": self.matched_terms,
            "note": self.note,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "text_from": self.text_from,
        }


PG_TSVECTOR = ("to_tsvector('simple'::regconfig, left(coalesce(articles.title, '') || ' ' || "
               "coalesce(articles.text, ''), 200000))")
"""The indexed expression of migration 0002; queries must spell it the same to use the index."""


@dataclass(slots=True)
class ReviewFilter:
    """What a review listing shows; the page, the API, the Atom feed and exports share it."""

    state: str = "unreviewed"
    """A review state, or `all`."""
    topic: str | None = None
    source: str | None = None
    """An outlet (`source`) or a feed name."""
    since: datetime | None = None
    until: datetime | None = None
    query: str | None = None
    """Full-text search: words, "phrases", prefix*, a OR b, -excluded (see `storage.search`)."""
    story_id: int | None = None


@dataclass(slots=True)
class ReviewRow:
    """One flagged (article, topic) pair as the review app lists it, with its story."""

    id: int
    url: str
    link: str
    title: str
    source: str | None
    feed_name: str | None
    published: datetime | None
    fetched_at: datetime
    topic: str
    score: float
    state: str
    matched_terms: list[str]
    note: str | None
    reviewed_at: datetime | None
    flagged_at: datetime
    text_from: str
    summary: str
    story_id: int | None
    story_size: int
    text: str | None = None
    """Only with `details=True`."""
    explanation: dict[str, Any] | None = None
    """Only with `details=True`."""

    @property
    def when(self) -> datetime:
        return self.published or self.fetched_at

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "url": self.url, "link": self.link, "title": self.title,
            "source": self.source, "feed": self.feed_name,
            "published": self.published.isoformat() if self.published else None,
            "fetched_at": self.fetched_at.isoformat(), "flagged_at": self.flagged_at.isoformat(),
            "topic": self.topic, "score": round(self.score, 4), "state": self.state,
            "matched_terms": self.matched_terms, "note": self.note,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "text_from": self.text_from, "story_id": self.story_id, "story_size": self.story_size,
        }
        if self.text is not None:
            data["text"] = self.text
        return data


@dataclass(slots=True)
class ReviewPage:
    rows: list[ReviewRow]
    total: int
    """Rows matching the filter, ignoring limit and offset (for pagination)."""


@dataclass(slots=True)
class SearchResult:
    """A stored article found by full-text search, flagged or not."""

    id: int
    url: str
    link: str
    title: str
    source: str | None
    published: datetime | None
    fetched_at: datetime
    topics: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "link": self.link, "title": self.title,
                "source": self.source,
                "published": self.published.isoformat() if self.published else None,
                "fetched_at": self.fetched_at.isoformat(), "topics": self.topics}


@dataclass(slots=True)
class SourceCount:
    source: str
    flagged: int
    unreviewed: int
    relevant: int
    irrelevant: int


@dataclass(slots=True)
class Backlog:
    """How much review work is waiting, and since when."""

    counts: dict[str, int]
    oldest_unreviewed: datetime | None
    by_topic: dict[str, int]
    """Unreviewed matches per topic."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite, a checked pool on PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


_MIGRATION_LOCK_ID = 0x6E657773  # "news": the advisory lock key that serialises migrations


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; run on every start).

    Several instances may start at once against one database: migrations are
    serialised by an advisory lock on PostgreSQL and a file lock beside a SQLite
    file, so the second instance finds the work done instead of racing it.
    """
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    lock_file = None
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        import fcntl

        lock_file = open(f"{database}.migrate.lock", "w")  # noqa: SIM115 - held until the end
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if lock_file is not None:
            lock_file.close()


def _feed_state(row: RowMapping) -> FeedState:
    return FeedState(**{k: row[k] for k in FeedState.__slots__})  # type: ignore[attr-defined]


def _stored_match(row: RowMapping) -> StoredMatch:
    return StoredMatch(
        topic_id=row["topic_id"],
        score=row["score"],
        matched_terms=list(row["matched_terms"] or []),
        explanation=dict(row["explanation"] or {}),
        rules_version=row["rules_version"],
        created_at=row["created_at"],
        state=row["state"],
        note=row["note"],
        reviewed_at=row["reviewed_at"],
    )


def _stored_article(row: RowMapping) -> StoredArticle:
    data = {k: row[k] for k in StoredArticle.__slots__ if k != "matches"}  # type: ignore[attr-defined]
    data["authors"] = list(data["authors"] or [])
    return StoredArticle(**data)


def _match_row(article_id: int, m: Match, now: datetime) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "topic_id": m.topic_id,
        "score": float(m.score),
        "matched_terms": list(m.matched_terms),
        "explanation": json.loads(json.dumps(m.explanation, default=str)),
        "rules_version": m.rules_version,
        "created_at": now,
        "state": "unreviewed",
    }


def _mark_in(conn: Connection, article_id: int, state: str, *, note: str | None,
             topic: str | None, now: datetime) -> int:
    """Set one article's matches to `state` and keep the decision in `marks` (inside the caller's transaction)."""
    cond = matches.c.article_id == article_id
    if topic:
        cond = and_(cond, matches.c.topic_id == topic)
    topics = [r[0] for r in conn.execute(select(matches.c.topic_id).where(cond))]
    if not topics:
        return 0
    values: dict[str, Any] = {"state": state, "reviewed_at": None if state == "unreviewed" else now}
    if note is not None:
        values["note"] = note
    conn.execute(update(matches).where(cond).values(**values))
    conn.execute(insert(marks), [
        {"article_id": article_id, "topic_id": t, "state": state, "note": note, "created_at": now}
        for t in topics
    ])
    return len(topics)


def _day(value: Any) -> date:
    """`date(...)` comes back as text from SQLite and as a date from PostgreSQL."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class Store:
    """Persistence for feeds, articles, matches and review marks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        engine = create_store_engine(url)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # ---- feeds ---------------------------------------------------------

    def _insert_new(self, table: Any, keys: list[str]) -> Any:
        """An INSERT that leaves an existing row (same `keys`) alone instead of failing."""
        if self.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=keys)
        if self.backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
        return insert(table)


    def sync_feeds(self, configured: Sequence[FeedConfig], *, now: datetime | None = None,
                   spread: float = 0.0) -> None:
        """Make the feeds table agree with the config.

        New feeds are due at once (spread over `spread` seconds so a start does not
        fire every request in the same instant); feeds gone from the config are
        disabled, not deleted, so their history stays.
        """
        now = now or utcnow()
        names = [f.name for f in configured]
        with self.engine.begin() as conn:
            existing = {r.name: r for r in conn.execute(select(feeds.c.name, feeds.c.url))}
            n = max(len(configured), 1)
            for i, f in enumerate(configured):
                values = {"url": f.url, "source": f.source, "enabled": f.enabled, "interval": f.interval}
                if f.name in existing:
                    if existing[f.name].url != f.url:  # a new URL: old validators mean nothing
                        values |= {"etag": None, "last_modified": None, "body_hash": None,
                                   "next_poll_at": now}
                    conn.execute(update(feeds).where(feeds.c.name == f.name).values(**values))
                else:
                    due = now + timedelta(seconds=spread * i / n)
                    # another instance starting at the same moment may add it first: fine
                    conn.execute(self._insert_new(feeds, ["name"]).values(
                        name=f.name, next_poll_at=due, created_at=now, consecutive_failures=0,
                        last_new_articles=0, polls_total=0, errors_total=0, not_modified_total=0,
                        articles_total=0, page_errors_total=0, **values,
                    ))
            conn.execute(update(feeds).where(feeds.c.name.not_in(names)).values(enabled=False))

    def spread_due(self, *, default_interval: float, now: datetime | None = None,
                   spread: float = 0.0) -> None:
        """On start, bring forward feeds not polled within their interval, spread over `spread` seconds.

        A restart thus polls promptly the feeds that are stale (or were backed
        off), while a feed another instance polled a moment ago keeps its turn.
        """
        now = now or utcnow()
        c = feeds.c
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(c.id, c.interval, c.last_poll_at, c.next_poll_at)
                .where(c.enabled.is_(True)).order_by(c.next_poll_at)
            ).all()
            n = max(len(rows), 1)
            for i, (fid, interval, last, due) in enumerate(rows):
                fresh_until = last + timedelta(seconds=interval or default_interval) if last else None
                if fresh_until is None or fresh_until <= now:
                    target = now + timedelta(seconds=spread * i / n)
                else:
                    target = fresh_until
                if target < due:
                    conn.execute(update(feeds).where(and_(c.id == fid, c.next_poll_at > target))
                                 .values(next_poll_at=target))

    def claim_due_feeds(self, owner: str, *, limit: int, lease: float,
                        now: datetime | None = None, names: Sequence[str] | None = None) -> list[FeedState]:
        """Lease up to `limit` due feeds to `owner`; each feed goes to one claimant only."""
        now = now or utcnow()
        until = now + timedelta(seconds=lease)
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
        cond = and_(feeds.c.enabled.is_(True), free)
        if names is None:
            cond = and_(cond, feeds.c.next_poll_at <= now)
        else:
            cond = and_(cond, feeds.c.name.in_(list(names)))
        claimed: list[FeedState] = []
        with self.engine.begin() as conn:
            q = select(feeds.c.id).where(cond).order_by(feeds.c.next_poll_at).limit(limit)
            if self.backend == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = [r[0] for r in conn.execute(q)]
            for fid in ids:
                res = conn.execute(update(feeds).where(and_(feeds.c.id == fid, free))
                                   .values(lease_owner=owner, lease_until=until))
                if res.rowcount == 1:
                    row = conn.execute(select(feeds).where(feeds.c.id == fid)).mappings().one()
                    claimed.append(_feed_state(row))
        return claimed

    def release_feeds(self, owner: str) -> None:
        """Give back every lease `owner` holds (on shutdown), so another instance may poll at once."""
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.lease_owner == owner)
                         .values(lease_owner=None, lease_until=None))

    def record_poll(self, feed_id: int, outcome: PollOutcome) -> None:
        """Write one poll's result, move the feed's next due time and release its lease."""
        c = feeds.c
        values: dict[str, Any] = {
            "last_poll_at": outcome.polled_at,
            "next_poll_at": outcome.next_poll_at,
            "last_status": outcome.status,
            "last_duration": outcome.duration,
            "polls_total": c.polls_total + 1,
            "lease_owner": None,
            "lease_until": None,
            "page_errors_total": c.page_errors_total + outcome.page_errors,
        }
        if outcome.ok:
            values |= {
                "last_success_at": outcome.polled_at,
                "last_error": None,
                "failing_since": None,
                "consecutive_failures": 0,
                "last_new_articles": outcome.new_articles,
                "articles_total": c.articles_total + outcome.new_articles,
            }
            if outcome.not_modified:
                values["not_modified_total"] = c.not_modified_total + 1
            if not outcome.keep_validators:
                values |= {"etag": outcome.etag, "last_modified": outcome.last_modified,
                           "body_hash": outcome.body_hash}
        else:
            values |= {
                "last_error": (outcome.error or "error")[:2000],
                "errors_total": c.errors_total + 1,
                "consecutive_failures": c.consecutive_failures + 1,
                "failing_since": func.coalesce(c.failing_since, outcome.polled_at),
                "last_new_articles": 0,
            }
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(c.id == feed_id).values(**values))

    def get_feed(self, name: str) -> FeedState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.name == name)).mappings().first()
        return _feed_state(row) if row else None

    def feed_states(self, *, include_disabled: bool = False) -> list[FeedState]:
        q = select(feeds).order_by(feeds.c.name)
        if not include_disabled:
            q = q.where(feeds.c.enabled.is_(True))
        with self.engine.connect() as conn:
            return [_feed_state(r) for r in conn.execute(q).mappings()]

    # ---- articles ------------------------------------------------------

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of these canonical URLs are stored already (so they are never fetched again)."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                found.update(r[0] for r in conn.execute(select(articles.c.url).where(articles.c.url.in_(chunk))))
        return found

    def add_article(self, article: NewArticle, found: Sequence[Match] = ()) -> int | None:
        """Store an article and its matches in one transaction.

        Returns the new id, or None when the canonical URL is stored already
        (re-storing is a no-op, so two feeds or two instances racing on one
        story cannot duplicate it).
        """
        row = {k: getattr(article, k) for k in NewArticle.__slots__}  # type: ignore[attr-defined]
        row["content_hash"] = content_hash(article.title, article.text)
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(articles.c.id).where(articles.c.url == article.url)).first():
                    return None
                article_id = conn.execute(insert(articles).values(**row)).inserted_primary_key[0]
                if found:
                    now = utcnow()
                    conn.execute(insert(matches), [_match_row(article_id, m, now) for m in found])
                return int(article_id)
        except IntegrityError:
            # another writer stored the same URL between our check and insert: a no-op;
            # any other integrity error is a bug and must not pass silently
            if self.known_urls([article.url]):
                return None
            raise

    def get_article(self, article_id: int) -> StoredArticle | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).mappings().first()
            if row is None:
                return None
            art = _stored_article(row)
            art.matches = [_stored_match(m) for m in conn.execute(
                select(matches).where(matches.c.article_id == article_id).order_by(matches.c.score.desc())
            ).mappings()]
        return art

    def iter_articles(self, *, since: datetime | None = None, batch: int = 1000,
                      with_matches: bool = False) -> Iterator[StoredArticle]:
        """Every stored article (oldest first), in batches by id so memory stays flat."""
        last_id = 0
        while True:
            q = select(articles).where(articles.c.id > last_id).order_by(articles.c.id).limit(batch)
            if since is not None:
                q = q.where(articles.c.fetched_at >= since)
            with self.engine.connect() as conn:
                rows = [_stored_article(r) for r in conn.execute(q).mappings()]
                if with_matches and rows:
                    by_id = {a.id: a for a in rows}
                    for m in conn.execute(select(matches).where(
                            matches.c.article_id.in_(list(by_id)))).mappings():
                        by_id[m["article_id"]].matches.append(_stored_match(m))
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id

    def count_articles(self, *, since: datetime | None = None) -> int:
        q = select(func.count()).select_from(articles)
        if since is not None:
            q = q.where(articles.c.fetched_at >= since)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def replace_matches(self, article_id: int, found: Sequence[Match]) -> None:
        """Set an article's matches to `found` (backtest --apply); review marks on topics that still match are kept."""
        now = utcnow()
        keep = {m.topic_id for m in found}
        with self.engine.begin() as conn:
            conn.execute(delete(matches).where(and_(matches.c.article_id == article_id,
                                                    matches.c.topic_id.not_in(keep))))
            existing = {r[0] for r in conn.execute(
                select(matches.c.topic_id).where(matches.c.article_id == article_id))}
            for m in found:
                row = _match_row(article_id, m, now)
                if m.topic_id in existing:
                    row.pop("state")
                    row.pop("created_at")
                    conn.execute(update(matches).where(and_(
                        matches.c.article_id == article_id, matches.c.topic_id == m.topic_id)).values(**row))
                else:
                    conn.execute(insert(matches).values(**row))

    def prune(self, before: datetime) -> int:
        """Delete articles fetched before `before` that no topic flagged; return how many."""
        flagged = select(matches.c.article_id)
        with self.engine.begin() as conn:
            res = conn.execute(delete(articles).where(and_(articles.c.fetched_at < before,
                                                           articles.c.id.not_in(flagged))))
        return res.rowcount or 0

    # ---- review --------------------------------------------------------

    def list_flagged(self, *, state: str = "unreviewed", topic: str | None = None,
                     source: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int | None = None,
                     offset: int = 0) -> list[FlaggedArticle]:
        """Flagged articles, newest first; `state='all'` includes reviewed ones."""
        a, m = articles.c, matches.c
        cond = self._review_conditions(ReviewFilter(state=state, topic=topic, source=source,
                                                    since=since, until=until))
        q = (select(a.id, a.url, a.title, a.source, a.feed_name, a.published, a.fetched_at, a.text_from,
                    m.topic_id, m.score, m.state, m.matched_terms, m.note, m.reviewed_at)
             .select_from(articles.join(matches, m.article_id == a.id)).where(*cond))
        q = q.order_by(func.coalesce(a.published, a.fetched_at).desc(), a.id.desc(), m.score.desc())
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.engine.connect() as conn:
            return [FlaggedArticle(
                id=r["id"], url=r["url"], title=r["title"], source=r["source"], feed_name=r["feed_name"],
                published=r["published"], fetched_at=r["fetched_at"], topic=r["topic_id"], score=r["score"],
                state=r["state"], matched_terms=list(r["matched_terms"] or []), note=r["note"],
                reviewed_at=r["reviewed_at"], text_from=r["text_from"],
            ) for r in conn.execute(q).mappings()]

    def mark(self, article_id: int, state: str, *, note: str | None = None,
             topic: str | None = None, now: datetime | None = None) -> int:
        """Record a reviewer's decision on an article's matches (one topic, or all); returns matches changed."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
        now = now or utcnow()
        with self.engine.begin() as conn:
            return _mark_in(conn, article_id, state, note=note, topic=topic, now=now)

    def mark_notified(self, keys: Sequence[tuple[int, str]], *, now: datetime | None = None) -> None:
        """Record that the matches `(article_id, topic_id)` were delivered to their notifiers."""
        if not keys:
            return
        now = now or utcnow()
        with self.engine.begin() as conn:
            for article_id, topic_id in keys:
                conn.execute(update(matches).where(and_(matches.c.article_id == article_id,
                                                        matches.c.topic_id == topic_id))
                             .values(notified_at=now))

    def pending_notifications(self, since: datetime, *, limit: int = 500) -> list[PendingNotification]:
        """Matches of articles fetched since `since` that were never delivered (oldest first).

        A restart resends these, so a notifier outage or a stop does not lose an
        alarm; articles flagged later by a backtest are older and stay quiet.
        """
        a, m = articles.c, matches.c
        q = (select(a.id, a.title, a.source, a.feed_name, a.link, m.topic_id, m.matched_terms)
             .select_from(articles.join(matches, m.article_id == a.id))
             .where(and_(m.notified_at.is_(None), a.fetched_at >= since))
             .order_by(a.fetched_at, a.id).limit(limit))
        with self.engine.connect() as conn:
            return [PendingNotification(article_id=r.id, topic_id=r.topic_id, title=r.title,
                                        source=r.source or r.feed_name or "", link=r.link,
                                        matched_terms=list(r.matched_terms or []))
                    for r in conn.execute(q)]

    def review_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(matches.c.state, func.count()).group_by(matches.c.state)).all()
        counts = dict.fromkeys(REVIEW_STATES, 0)
        counts.update({s: int(n) for s, n in rows})
        return counts

    # ---- review app: listing, search, stories -------------------------

    def ping(self) -> bool:
        """True when the database answers (for `/healthz`)."""
        with self.engine.connect() as conn:
            return conn.execute(select(1)).scalar_one() == 1

    def _search_condition(self, query: str) -> ColumnElement[bool]:
        """Articles whose title or text match `query`, through the backend's full-text index."""
        terms = parse_search(query)
        if self.backend == "sqlite":
            expr = to_fts5(terms)
            if expr is None:
                return false()
            ids = (text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts_query")
                   .bindparams(fts_query=expr).columns(column("rowid", Integer)))
            return articles.c.id.in_(ids)
        if self.backend == "postgresql":
            expr = to_tsquery(terms)
            if expr is None:
                return false()
            return text(f"{PG_TSVECTOR} @@ to_tsquery('simple'::regconfig, :ts_query)").bindparams(
                ts_query=expr)
        # another backend: no index, but the same meaning (every positive term, as a substring)
        pos = [" ".join(t.words) for t in terms if not t.negated]
        if not pos:
            return false()
        hay = func.lower(articles.c.title + " " + articles.c.text)
        return and_(*[hay.contains(p) for p in pos])

    def _review_conditions(self, f: ReviewFilter) -> list[ColumnElement[bool]]:
        a, m = articles.c, matches.c
        when = func.coalesce(a.published, a.fetched_at)
        cond: list[ColumnElement[bool]] = []
        if f.state != "all":
            cond.append(m.state == f.state)
        if f.topic:
            cond.append(m.topic_id == f.topic)
        if f.source:
            cond.append(or_(a.source == f.source, a.feed_name == f.source))
        if f.since:
            cond.append(when >= f.since)
        if f.until:
            cond.append(when < f.until)
        if f.story_id is not None:
            cond.append(story_members.c.story_id == f.story_id)
        if f.query and f.query.strip():
            cond.append(self._search_condition(f.query))
        return cond

    @staticmethod
    def _review_from() -> Any:
        return articles.join(matches, matches.c.article_id == articles.c.id).outerjoin(
            story_members, story_members.c.article_id == articles.c.id)

    def review_page(self, f: ReviewFilter | None = None, *, limit: int | None = 50, offset: int = 0,
                    details: bool = False) -> ReviewPage:
        """Flagged (article, topic) rows, newest first, with their story and the total for paging.

        `details` adds each article's text and the match's explanation (for the Atom feed and exports).
        """
        f = f or ReviewFilter()
        a, m, sm = articles.c, matches.c, story_members.c
        when = func.coalesce(a.published, a.fetched_at)
        others = story_members.alias("sm2")
        size = (select(func.count()).select_from(others).where(others.c.story_id == sm.story_id)
                .correlate(story_members).scalar_subquery())
        cols: list[Any] = [a.id, a.url, a.link, a.title, a.source, a.feed_name, a.published,
                           a.fetched_at, a.text_from, a.summary, m.topic_id, m.score, m.state,
                           m.matched_terms, m.note, m.reviewed_at, m.created_at, sm.story_id,
                           size.label("story_size")]
        if details:
            cols += [a.text, m.explanation]
        cond = self._review_conditions(f)
        q = (select(*cols).select_from(self._review_from()).where(*cond)
             .order_by(when.desc(), a.id.desc(), m.topic_id))
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        count_q = select(func.count()).select_from(self._review_from()).where(*cond)
        with self.engine.connect() as conn:
            rows = [ReviewRow(
                id=r["id"], url=r["url"], link=r["link"], title=r["title"], source=r["source"],
                feed_name=r["feed_name"], published=r["published"], fetched_at=r["fetched_at"],
                topic=r["topic_id"], score=r["score"], state=r["state"],
                matched_terms=list(r["matched_terms"] or []), note=r["note"],
                reviewed_at=r["reviewed_at"], flagged_at=r["created_at"], text_from=r["text_from"],
                summary=r["summary"] or "", story_id=r["story_id"], story_size=int(r["story_size"] or 0),
                text=r["text"] if details else None,
                explanation=dict(r["explanation"] or {}) if details else None,
            ) for r in conn.execute(q).mappings()]
            total = int(conn.execute(count_q).scalar_one())
        return ReviewPage(rows=rows, total=total)

    def neighbours(self, article_id: int, f: ReviewFilter | None = None) -> tuple[int | None, int | None]:
        """The articles before and after this one in a review listing (ids), for next/previous.

        Works when the article itself no longer fits the filter (just marked, so no longer
        unreviewed): its place in the order is all that matters.
        """
        f = f or ReviewFilter()
        a = articles.c
        when = func.coalesce(a.published, a.fetched_at)
        with self.engine.connect() as conn:
            cur = conn.execute(select(when.label("w")).where(a.id == article_id)).first()
            if cur is None:
                return None, None
            w = cur[0]
            if isinstance(w, str):  # SQLite returns coalesce() of two datetimes as text
                w = datetime.fromisoformat(w).replace(tzinfo=UTC)
            cond = [*self._review_conditions(f), a.id != article_id]
            base = select(a.id).select_from(self._review_from()).where(*cond)
            later = or_(when > w, and_(when == w, a.id > article_id))
            earlier = or_(when < w, and_(when == w, a.id < article_id))
            prev = conn.execute(base.where(later).order_by(when.asc(), a.id.asc()).limit(1)).scalar()
            nxt = conn.execute(base.where(earlier).order_by(when.desc(), a.id.desc()).limit(1)).scalar()
        return prev, nxt

    def search_articles(self, query: str, *, limit: int = 50, offset: int = 0) -> tuple[list[SearchResult], int]:
        """Every stored article (flagged or not) matching `query`, newest first, and how many there are."""
        a = articles.c
        cond = self._search_condition(query)
        when = func.coalesce(a.published, a.fetched_at)
        q = (select(a.id, a.url, a.link, a.title, a.source, a.feed_name, a.published, a.fetched_at)
             .where(cond).order_by(when.desc(), a.id.desc()).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            total = int(conn.execute(select(func.count()).select_from(articles).where(cond)).scalar_one())
            topics: dict[int, list[str]] = {}
            if rows:
                for aid, tid in conn.execute(select(matches.c.article_id, matches.c.topic_id).where(
                        matches.c.article_id.in_([r["id"] for r in rows])).order_by(matches.c.topic_id)):
                    topics.setdefault(aid, []).append(tid)
        return [SearchResult(id=r["id"], url=r["url"], link=r["link"], title=r["title"],
                             source=r["source"] or r["feed_name"], published=r["published"],
                             fetched_at=r["fetched_at"], topics=topics.get(r["id"], []))
                for r in rows], total

    def facets(self) -> tuple[list[str], list[str]]:
        """The topics and sources that have flagged articles (for the filter menus)."""
        src = func.coalesce(articles.c.source, articles.c.feed_name)
        with self.engine.connect() as conn:
            topics = [r[0] for r in conn.execute(
                select(matches.c.topic_id).distinct().order_by(matches.c.topic_id))]
            sources = [r[0] for r in conn.execute(
                select(src).select_from(articles.join(matches, matches.c.article_id == articles.c.id))
                .where(src.is_not(None)).distinct().order_by(src))]
        return topics, sources

    def flagged_without_story(self, *, limit: int = 1000) -> list[tuple[int, str, str]]:
        """(id, title, text) of flagged articles not yet placed in a story, oldest first."""
        a = articles.c
        flagged = exists().where(matches.c.article_id == a.id)
        placed = exists().where(story_members.c.article_id == a.id)
        q = select(a.id, a.title, a.text).where(flagged, ~placed).order_by(a.id).limit(limit)
        with self.engine.connect() as conn:
            return [(r[0], r[1] or "", r[2] or "") for r in conn.execute(q)]

    def story_signatures(self) -> list[tuple[int, int, bytes]]:
        """(article id, story id, MinHash signature) of every placed article."""
        sm = story_members.c
        with self.engine.connect() as conn:
            return [(r[0], r[1], bytes(r[2])) for r in conn.execute(
                select(sm.article_id, sm.story_id, sm.signature).order_by(sm.article_id))]

    def save_stories(self, members: Sequence[tuple[int, int, bytes]],
                     merges: Mapping[int, int] | None = None, *, now: datetime | None = None) -> None:
        """Place articles in stories and fold merged stories into one, in one transaction.

        Placing is idempotent: an article another writer placed first keeps its story.
        """
        now = now or utcnow()
        with self.engine.begin() as conn:
            if members:
                rows = [{"article_id": a, "story_id": s, "signature": sig, "created_at": now}
                        for a, s, sig in members]
                if self.backend == "postgresql":
                    stmt: Any = pg_dialect.insert(story_members).on_conflict_do_nothing()
                elif self.backend == "sqlite":
                    stmt = sqlite_dialect.insert(story_members).on_conflict_do_nothing()
                else:
                    stmt = insert(story_members)
                conn.execute(stmt, rows)
            for old, new in (merges or {}).items():
                if old != new:
                    conn.execute(update(story_members).where(story_members.c.story_id == old)
                                 .values(story_id=new))

    def story_of(self, article_id: int) -> int | None:
        """The story an article was placed in, if any."""
        with self.engine.connect() as conn:
            return conn.execute(select(story_members.c.story_id).where(
                story_members.c.article_id == article_id)).scalar()

    def story_rows(self, story_id: int) -> list[ReviewRow]:
        """Every flagged (article, topic) row of one story, newest first."""
        return self.review_page(ReviewFilter(state="all", story_id=story_id), limit=None).rows

    def mark_story(self, story_id: int, state: str, *, note: str | None = None,
                   topic: str | None = None, now: datetime | None = None) -> int:
        """Mark every article of a story at once (one transaction); returns matches changed."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
        now = now or utcnow()
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(story_members.c.article_id).where(
                story_members.c.story_id == story_id).order_by(story_members.c.article_id))]
            return sum(_mark_in(conn, aid, state, note=note, topic=topic, now=now) for aid in ids)

    # ---- dashboard and metrics -----------------------------------------

    def flagged_per_day(self, since: datetime) -> list[tuple[date, str, int]]:
        """(day, topic, flagged matches) by publication day (UTC) since `since`."""
        a, m = articles.c, matches.c
        when = func.coalesce(a.published, a.fetched_at)
        day = func.date(when)
        q = (select(day.label("day"), m.topic_id, func.count())
             .select_from(articles.join(matches, m.article_id == a.id))
             .where(when >= since).group_by(day, m.topic_id).order_by(day, m.topic_id))
        with self.engine.connect() as conn:
            return [(_day(d), t, int(n)) for d, t, n in conn.execute(q)]

    def source_counts(self, *, since: datetime | None = None) -> list[SourceCount]:
        """Flagged matches per outlet (or feed, for outlets without a name), most first."""
        a, m = articles.c, matches.c
        src = func.coalesce(a.source, a.feed_name, "—")

        def n(state: str) -> Any:
            return func.sum(case((m.state == state, 1), else_=0))

        q = (select(src.label("source"), func.count(), n("unreviewed"), n("relevant"), n("irrelevant"))
             .select_from(articles.join(matches, m.article_id == a.id)).group_by(src)
             .order_by(func.count().desc(), src))
        if since is not None:
            q = q.where(func.coalesce(a.published, a.fetched_at) >= since)
        with self.engine.connect() as conn:
            return [SourceCount(source=r[0], flagged=int(r[1]), unreviewed=int(r[2] or 0),
                                relevant=int(r[3] or 0), irrelevant=int(r[4] or 0))
                    for r in conn.execute(q)]

    def backlog(self) -> Backlog:
        m = matches.c
        with self.engine.connect() as conn:
            oldest = conn.execute(select(func.min(m.created_at)).where(m.state == "unreviewed")).scalar()
            by_topic = {t: int(n) for t, n in conn.execute(
                select(m.topic_id, func.count()).where(m.state == "unreviewed")
                .group_by(m.topic_id).order_by(m.topic_id))}
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return Backlog(counts=self.review_counts(), oldest_unreviewed=oldest, by_topic=by_topic)

    def matches_by_topic(self) -> dict[tuple[str, str], int]:
        """Matches per (topic, review state), for `/metrics`."""
        m = matches.c
        with self.engine.connect() as conn:
            return {(t, s): int(n) for t, s, n in conn.execute(
                select(m.topic_id, m.state, func.count()).group_by(m.topic_id, m.state))}
