"""Near misses: unflagged articles a topic failed by one clause, kept so the list is a query.

The pipeline (and `rules backtest --apply`) computes them when it matches an article
and stores them here; the review page's tab and `review near-misses` read them back,
closest first. A reviewer's mark on a near miss is a label like a mark on a match:
`review export-labels` and `rules eval` see it, and `rules stats` counts, per failed
clause, the relevant articles the topic lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, update

from .db import StorePart, utcnow
from .reviews import mark_rows
from .rows import REVIEW_STATES, NearMissData, NearMissRow
from .schema import articles, matches, near_misses

__all__ = ["NearMissesPart"]


class NearMissesPart(StorePart):
    """Storing, listing and marking near misses."""

    def save_near_misses(self, article_id: int, found: Sequence[NearMissData], *, rules_version: str,
                         topics: Sequence[str] | None = None, now: datetime | None = None) -> None:
        """Set the article's near misses for `topics` (default: every topic) to `found`.

        A near miss that is still one keeps its review mark; one whose topic now flags
        the article, or that it now misses by more, is dropped.
        """
        now = now or utcnow()
        nm = near_misses.c
        cond = nm.article_id == article_id
        if topics is not None:
            cond = and_(cond, nm.topic_id.in_(list(topics)))
        with self.engine.begin() as conn:
            existing = {r[0] for r in conn.execute(select(nm.topic_id).where(cond))}
            keep = {m.topic for m in found}
            gone = existing - keep
            if gone:
                conn.execute(delete(near_misses).where(and_(cond, nm.topic_id.in_(gone))))
            for m in found:
                values = {"failed": m.failed, "detail": m.detail, "closeness": float(m.closeness),
                          "rules_version": rules_version}
                if m.topic in existing:
                    conn.execute(update(near_misses).where(and_(nm.article_id == article_id,
                                                                nm.topic_id == m.topic)).values(**values))
                else:
                    conn.execute(insert(near_misses).values(article_id=article_id, topic_id=m.topic,
                                                            created_at=now, state="unreviewed", **values))

    def add_near_misses(self, found: Sequence[tuple[int, Sequence[NearMissData]]], *, rules_version: str,
                        now: datetime | None = None) -> None:
        """Store the near misses of articles just added, in one transaction.

        New articles have none stored yet, so nothing is looked up first; a near miss stored
        already (same article and topic) is left as it is. `save_near_misses` replaces them.
        """
        now = now or utcnow()
        rows = [{"article_id": article_id, "topic_id": m.topic, "failed": m.failed, "detail": m.detail,
                 "closeness": float(m.closeness), "rules_version": rules_version, "created_at": now,
                 "state": "unreviewed"} for article_id, misses in found for m in misses]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._insert_new(near_misses, ["article_id", "topic_id"]), rows)

    def near_miss_rows(self, *, topic: str | None = None, since: datetime | None = None,
                       state: str | None = "unreviewed", limit: int | None = 50,
                       offset: int = 0, article_id: int | None = None) -> tuple[list[NearMissRow], int]:
        """Near misses closest first (then newest), with the total for paging.

        `state` None lists every state. Articles a topic flags are never listed for it.
        """
        a, nm = articles.c, near_misses.c
        when = func.coalesce(a.published, a.fetched_at)
        flagged = select(matches.c.id).where(and_(matches.c.article_id == nm.article_id,
                                                  matches.c.topic_id == nm.topic_id)).exists()
        cond = [~flagged]
        if topic:
            cond.append(nm.topic_id == topic)
        if since is not None:
            cond.append(when >= since)
        if state is not None:
            cond.append(nm.state == state)
        if article_id is not None:
            cond.append(nm.article_id == article_id)
        src = articles.join(near_misses, nm.article_id == a.id)
        q = (select(a.id, a.url, a.link, a.title, a.source, a.feed_name, a.published, a.fetched_at, a.summary,
                    nm.topic_id, nm.failed, nm.detail, nm.closeness, nm.state, nm.note, nm.reviewed_at,
                    nm.reviewed_by)
             .select_from(src).where(*cond).order_by(nm.closeness.desc(), when.desc(), a.id.desc()))
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.engine.connect() as conn:
            rows = [NearMissRow(
                id=r.id, url=r.url, link=r.link, title=r.title, source=r.source, feed_name=r.feed_name,
                published=r.published, fetched_at=r.fetched_at, topic=r.topic_id, failed=r.failed,
                detail=r.detail, closeness=r.closeness, state=r.state, note=r.note, reviewed_at=r.reviewed_at,
                reviewed_by=r.reviewed_by, summary=r.summary or "") for r in conn.execute(q)]
            total = int(conn.execute(select(func.count()).select_from(src).where(*cond)).scalar_one())
        return rows, total

    def near_misses_for(self, article_id: int) -> list[NearMissRow]:
        """One article's near misses (for its page), closest first."""
        return self.near_miss_rows(article_id=article_id, state=None, limit=None)[0]

    def mark_near_miss(self, article_id: int, state: str, *, topic: str | None = None, note: str | None = None,
                       reviewer: str | None = None, now: datetime | None = None) -> int:
        """Record a reviewer's decision on an article's near misses (one topic, or all); returns how many."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
        now = now or utcnow()
        with self.engine.begin() as conn:
            return mark_rows(conn, near_misses, "near_miss", article_id, state, note=note, topic=topic, now=now,
                             reviewer=reviewer)

    def near_miss_counts(self) -> dict[str, int]:
        """Near misses per review state (the tab's count shows only the unreviewed)."""
        nm = near_misses.c
        flagged = select(matches.c.id).where(and_(matches.c.article_id == nm.article_id,
                                                  matches.c.topic_id == nm.topic_id)).exists()
        with self.engine.connect() as conn:
            rows = conn.execute(select(nm.state, func.count()).where(~flagged).group_by(nm.state)).all()
        counts = dict.fromkeys(REVIEW_STATES, 0)
        counts.update({s: int(n) for s, n in rows})
        return counts

    def lost_by_clause(self, topic: str | None = None) -> list[tuple[str, str, int]]:
        """(topic, failed clause, relevant articles lost) from near misses reviewers marked relevant."""
        nm = near_misses.c
        q = (select(nm.topic_id, nm.failed, func.count()).where(nm.state == "relevant")
             .group_by(nm.topic_id, nm.failed).order_by(nm.topic_id, func.count().desc(), nm.failed))
        if topic:
            q = q.where(nm.topic_id == topic)
        with self.engine.connect() as conn:
            return [(t, f, int(n)) for t, f, n in conn.execute(q)]
