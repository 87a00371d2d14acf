"""Feeds in the database: which are due, who holds their lease, how each poll went.

Claiming due feeds takes a lease per feed, row by row with a guarded UPDATE, so
several instances sharing a PostgreSQL database (or processes sharing a SQLite
file) never poll the same feed twice per interval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from .db import StorePart, utcnow
from .rows import (
    FeedConfig,
    FeedState,
    PollOutcome,
)
from .schema import feeds

__all__ = ["FeedsPart"]


def _feed_state(row: RowMapping) -> FeedState:
    return FeedState(**{k: row[k] for k in FeedState.__slots__})  # type: ignore[attr-defined]



class FeedsPart(StorePart):
    """Feeds: syncing the config, claiming the due ones with a lease, recording each poll."""

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
                        values |= {"etag": None, "last_modified": None, "body_hash": None, "ttl": None,
                                   "next_poll_at": now, "next_poll_reason": None}
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
                                 .values(next_poll_at=target, next_poll_reason=None))

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

    def renew_leases(self, owner: str, *, lease: float, now: datetime | None = None) -> int:
        """Extend every lease `owner` still holds (the heartbeat of polls in flight); return how many.

        Leases are short so that a crashed instance's feeds move on quickly; a poll that
        runs longer than one lease keeps its feed by renewing, not by a long lease.
        """
        now = now or utcnow()
        with self.engine.begin() as conn:
            res = conn.execute(update(feeds).where(feeds.c.lease_owner == owner)
                               .values(lease_until=now + timedelta(seconds=lease)))
        return res.rowcount or 0

    def lease_holders(self, *, now: datetime | None = None) -> dict[str, tuple[str, datetime]]:
        """Feeds whose lease is still running: name → (owner, until)."""
        now = now or utcnow()
        c = feeds.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.name, c.lease_owner, c.lease_until)
                                .where(and_(c.lease_owner.is_not(None), c.lease_until >= now)))
            return {name: (owner, until) for name, owner, until in rows}

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
            "next_poll_reason": outcome.next_poll_reason[:200] if outcome.next_poll_reason else None,
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
                           "body_hash": outcome.body_hash, "ttl": outcome.ttl}
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
