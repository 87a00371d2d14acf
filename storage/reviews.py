"""The review queue: flagged (article, topic) pairs, reviewers' marks, stories, and their counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from .articles import expand
from .db import utcnow
from .rows import (
    REVIEW_STATES,
    Backlog,
    PendingNotification,
    ReviewFilter,
    ReviewPage,
    ReviewRow,
    SourceCount,
)
from .schema import articles, marks, matches, story_members
from .searching import SearchPart

__all__ = ["NEIGHBOUR_WINDOW", "READING_MMAP", "ReviewsPart", "mark_rows"]

READING_MMAP = 1 << 30
"""How much of a SQLite file the review app maps (1 GiB: SQLite maps no more than the file's size)."""

NEIGHBOUR_WINDOW = 2000
"""Articles on each side of one, in date order, searched first for the next in a listing."""


def mark_rows(conn: Connection, table: Table, kind: str, article_id: int, state: str, *, note: str | None,
              topic: str | None, now: datetime, reviewer: str | None = None) -> int:
    """Set one article's rows of `table` (matches or near misses) to `state` and keep the decision,
    and who made it, in `marks` (inside the caller's transaction); returns the rows changed."""
    cond = table.c.article_id == article_id
    if topic:
        cond = and_(cond, table.c.topic_id == topic)
    topics = [r[0] for r in conn.execute(select(table.c.topic_id).where(cond))]
    if not topics:
        return 0
    unmarked = state == "unreviewed"
    values: dict[str, Any] = {"state": state, "reviewed_at": None if unmarked else now,
                              "reviewed_by": None if unmarked else reviewer}
    if note is not None:
        values["note"] = note
    conn.execute(update(table).where(cond).values(**values))
    conn.execute(insert(marks), [
        {"article_id": article_id, "topic_id": t, "state": state, "note": note, "created_at": now,
         "reviewer": reviewer, "kind": kind}
        for t in topics
    ])
    return len(topics)


def _mark_in(conn: Connection, article_id: int, state: str, *, note: str | None,
             topic: str | None, now: datetime, reviewer: str | None = None) -> int:
    return mark_rows(conn, matches, "match", article_id, state, note=note, topic=topic, now=now, reviewer=reviewer)


def _day(value: Any) -> date:
    """`date(...)` comes back as text from SQLite and as a date from PostgreSQL."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class ReviewsPart(SearchPart):
    """The review queue: listing, marking, stories, notifications and the dashboard's counts."""

    def list_flagged(self, *, state: str = "unreviewed", topic: str | None = None,
                     source: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int | None = None,
                     offset: int = 0, reviewer: str | None = None) -> list[ReviewRow]:
        """Flagged (article, topic) rows, newest first, an article's best match first; `state='all'`
        includes reviewed ones. The same rows as `review_page`, without the count."""
        f = ReviewFilter(state=state, topic=topic, source=source, since=since, until=until, reviewer=reviewer)
        with self.engine.connect() as conn:
            return self._review_rows(conn, f, limit=limit, offset=offset, details=False,
                                     then=matches.c.score.desc())

    def mark(self, article_id: int, state: str, *, note: str | None = None,
             topic: str | None = None, now: datetime | None = None, reviewer: str | None = None) -> int:
        """Record `reviewer`'s decision on an article's matches (one topic, or all); returns matches changed."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
        now = now or utcnow()
        with self.engine.begin() as conn:
            return _mark_in(conn, article_id, state, note=note, topic=topic, now=now, reviewer=reviewer)

    def reviewers(self) -> list[str]:
        """Everyone who has marked a match, for the reviewer filter."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(marks.c.reviewer).where(marks.c.reviewer.is_not(None))
                                               .distinct().order_by(marks.c.reviewer))]

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

    def _review_conditions(self, f: ReviewFilter) -> list[ColumnElement[bool]]:
        a, m = articles.c, matches.c
        when = func.coalesce(a.published, a.fetched_at)
        cond: list[ColumnElement[bool]] = []
        if f.states is not None:
            cond.append(m.state.in_(f.states))
        elif f.state != "all":
            cond.append(m.state == f.state)
        if f.topic:
            cond.append(m.topic_id == f.topic)
        if f.reviewer:
            cond.append(m.reviewed_by == f.reviewer)
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
        if f.source or f.since or f.until or f.story_id is not None or (f.query and f.query.strip()):
            count_q = select(func.count()).select_from(self._review_from()).where(*self._review_conditions(f))
        else:  # only the match's own columns are filtered: count matches alone, not 100,000 article rows
            count_q = select(func.count()).select_from(matches).where(*self._review_conditions(f))
        with self.engine.connect() as conn:
            rows = self._review_rows(conn, f, limit=limit, offset=offset, details=details,
                                     then=matches.c.topic_id)
            total = int(conn.execute(count_q).scalar_one())
        return ReviewPage(rows=rows, total=total)

    def _review_rows(self, conn: Connection, f: ReviewFilter, *, limit: int | None, offset: int,
                     details: bool, then: Any) -> list[ReviewRow]:
        """The rows of a listing; `then` orders an article's matches (by topic on pages, by score in the CLI)."""
        a, m, sm = articles.c, matches.c, story_members.c
        when = func.coalesce(a.published, a.fetched_at)
        others = story_members.alias("sm2")
        size = (select(func.count()).select_from(others).where(others.c.story_id == sm.story_id)
                .correlate(story_members).scalar_subquery())
        cols: list[Any] = [a.id, a.url, a.link, a.title, a.source, a.feed_name, a.published,
                           a.fetched_at, a.text_from, a.summary, m.topic_id, m.score, m.state,
                           m.matched_terms, m.note, m.reviewed_at, m.reviewed_by, m.created_at, sm.story_id,
                           size.label("story_size")]
        if details:
            cols += [a.text, m.explanation, m.rules_version]
        order = (when.desc(), a.id.desc(), then)
        if limit is None:
            q = select(*cols).select_from(self._review_from()).where(*self._review_conditions(f)).order_by(*order)
            if offset:
                q = q.offset(offset)
        else:
            # The page's keys first, then its rows: sorting thousands of matches carries only
            # (id, topic) instead of every listed column of every article.
            page = (select(a.id.label("article_id"), m.topic_id.label("topic_id")).select_from(self._review_from())
                    .where(*self._review_conditions(f)).order_by(*order).limit(limit).offset(offset or None)
                    .subquery("page"))
            q = (select(*cols).select_from(self._review_from().join(
                page, and_(page.c.article_id == a.id, page.c.topic_id == m.topic_id))).order_by(*order))
        return [ReviewRow(
            id=r["id"], url=r["url"], link=r["link"], title=r["title"], source=r["source"],
            feed_name=r["feed_name"], published=r["published"], fetched_at=r["fetched_at"],
            topic=r["topic_id"], score=r["score"], state=r["state"],
            matched_terms=list(r["matched_terms"] or []), note=r["note"],
            reviewed_at=r["reviewed_at"], reviewed_by=r["reviewed_by"], flagged_at=r["created_at"],
            text_from=r["text_from"],
            summary=r["summary"] or "", story_id=r["story_id"], story_size=int(r["story_size"] or 0),
            text=r["text"] if details else None,
            explanation=expand(r["explanation"], r, {"title": r["title"] or "", "body": r["text"] or ""})
            if details else None,
        ) for r in conn.execute(q).mappings()]

    def neighbours(self, article_id: int, f: ReviewFilter | None = None) -> tuple[int | None, int | None]:
        """The articles before and after this one in a review listing (ids), for next/previous.

        Works when the article itself no longer fits the filter (just marked, so no longer
        unreviewed): its place in the order is all that matters. The next one is looked for
        first among the `NEIGHBOUR_WINDOW` articles beside it in the date index (a few
        milliseconds, where sorting every unreviewed match by date read thousands of article
        rows); only a filter that rare falls back to sorting what it selects.
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
            beside = articles.alias("beside")
            b_when = func.coalesce(beside.c.published, beside.c.fetched_at)
            found: list[int | None] = []
            for newer in (True, False):
                if newer:
                    side = or_(when > w, and_(when == w, a.id > article_id))
                    order = (when.asc(), a.id.asc())
                    window = select(beside.c.id).where(b_when >= w).order_by(b_when.asc(), beside.c.id.asc())
                else:
                    side = or_(when < w, and_(when == w, a.id < article_id))
                    order = (when.desc(), a.id.desc())
                    window = select(beside.c.id).where(b_when <= w).order_by(b_when.desc(), beside.c.id.desc())
                window = window.limit(NEIGHBOUR_WINDOW)
                near = conn.execute(base.where(side, a.id.in_(window)).order_by(*order).limit(1)).scalar()
                if near is None and conn.execute(select(func.count()).select_from(
                        window.subquery())).scalar_one() >= NEIGHBOUR_WINDOW:  # not in the window: further off
                    near = conn.execute(base.where(side).order_by(*order).limit(1)).scalar()
                found.append(near)
        return found[0], found[1]

    def map_for_reading(self, size: int = READING_MMAP) -> None:
        """Let SQLite read the database file through a memory map of up to `size` bytes (the review app).

        A listing or the dashboard reads thousands of article rows; through SQLite's small page
        cache each page is copied from the OS cache on every request, through a map it is read
        in place (the list page's query went from about 45 to 17 ms at 100,000 articles). The
        mapped pages are the OS's file cache, shared by every connection, not the process's
        own memory. Connections opened from now on get it (the pool is emptied).
        """
        if self.backend != "sqlite":
            return

        def mapped(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA mmap_size={int(size)}")
            cur.close()

        event.listen(self.engine, "connect", mapped)
        self.engine.dispose()

    def refresh_planner_statistics(self) -> None:
        """Give SQLite's query planner the tables' statistics (`ANALYZE`, sampled), once at `serve` start.

        Without them SQLite guesses that `matches.state` narrows a search more than an
        article id does, and walks a listing's matches for every article beside the one
        shown. A sampled ANALYZE takes well under a second at 100,000 articles.
        PostgreSQL keeps its own statistics (autovacuum): nothing to do there.
        """
        if self.backend != "sqlite":
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")

    def review_version(self) -> tuple[int, int, int]:
        """Changes whenever a match is added, removed or marked: (matches, newest match id, newest mark id).

        Two index reads; the review app keys what it derives from every match (the filter
        menus, the dashboard's counts) on it, since another process (the daemon) writes.
        """
        with self.engine.connect() as conn:
            n, newest = conn.execute(select(func.count(), func.max(matches.c.id))).one()
            mark = conn.execute(select(func.max(marks.c.id))).scalar()
        return int(n), int(newest or 0), int(mark or 0)

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
                if self.backend == "postgresql":  # imported here: a SQLite daemon never loads the dialect (2 MB)
                    from sqlalchemy.dialects import postgresql as pg_dialect

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
                   topic: str | None = None, now: datetime | None = None, reviewer: str | None = None) -> int:
        """Mark every article of a story at once (one transaction); returns matches changed."""
        if state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)}")
        now = now or utcnow()
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(select(story_members.c.article_id).where(
                story_members.c.story_id == story_id).order_by(story_members.c.article_id))]
            return sum(_mark_in(conn, aid, state, note=note, topic=topic, now=now, reviewer=reviewer)
                       for aid in ids)

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
