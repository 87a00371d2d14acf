"""Full-text search in the database: SQLite's FTS5 or PostgreSQL's tsvector index.

The query language itself (words, "phrases", prefix*, OR, -excluded) is parsed in
`storage.search`, which knows no SQL."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    column,
    false,
    func,
    select,
    text,
)

from .db import StorePart
from .rows import (
    SearchResult,
)
from .schema import articles, matches
from .search import parse_search, to_fts5, to_tsquery

__all__ = ["PG_TSVECTOR", "SearchPart"]


PG_TSVECTOR = ("to_tsvector('simple'::regconfig, left(coalesce(articles.title, '') || ' ' || "
               "coalesce(articles.text, ''), 200000))")
"""The indexed expression of migration 0002; queries must spell it the same to use the index."""


class SearchPart(StorePart):
    """Full-text search over every stored article, through the backend's own index."""

    def _search_condition(self, query: str, *, walk_dates: bool = False) -> ColumnElement[bool]:
        """Articles whose title or text match `query`, through the backend's full-text index.

        `walk_dates` (SQLite) tests each article's id against the hits instead of looking the
        hits up by id, so a query ordered by date walks the date index (0006) and stops after
        one page, instead of sorting every hit of a common word.
        """
        terms = parse_search(query)
        if self.backend == "sqlite":
            expr = to_fts5(terms)
            if expr is None:
                return false()
            ids = (text("SELECT rowid FROM articles_fts WHERE articles_fts MATCH :fts_query")
                   .bindparams(fts_query=expr).columns(column("rowid", Integer)))
            return (articles.c.id + 0 if walk_dates else articles.c.id).in_(ids)
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

    def search_articles(self, query: str, *, limit: int = 50, offset: int = 0) -> tuple[list[SearchResult], int]:
        """Every stored article (flagged or not) matching `query`, newest first, and how many there are."""
        a = articles.c
        cond = self._search_condition(query, walk_dates=True)
        when = func.coalesce(a.published, a.fetched_at)
        q = (select(a.id, a.url, a.link, a.title, a.source, a.feed_name, a.published, a.fetched_at)
             .where(cond).order_by(when.desc(), a.id.desc()).limit(limit).offset(offset))
        count_q = select(func.count()).select_from(articles).where(cond)
        expr = to_fts5(parse_search(query)) if self.backend == "sqlite" else None
        if expr is not None:
            # The FTS table holds exactly the stored articles (0002's triggers), so it counts
            # the hits alone, without reading 100,000 article rows for a common word.
            count_q = (text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH :fts_query")
                       .bindparams(fts_query=expr))  # type: ignore[assignment]
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            total = int(conn.execute(count_q).scalar_one())
            topics: dict[int, list[str]] = {}
            if rows:
                for aid, tid in conn.execute(select(matches.c.article_id, matches.c.topic_id).where(
                        matches.c.article_id.in_([r["id"] for r in rows])).order_by(matches.c.topic_id)):
                    topics.setdefault(aid, []).append(tid)
        return [SearchResult(id=r["id"], url=r["url"], link=r["link"], title=r["title"],
                             source=r["source"] or r["feed_name"], published=r["published"],
                             fetched_at=r["fetched_at"], topics=topics.get(r["id"], []))
                for r in rows], total
