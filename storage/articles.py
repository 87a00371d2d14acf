"""Articles and their matches: stored once per canonical URL, with every match in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping

from .db import StorePart, content_hash, utcnow
from .rows import (
    MatchData,
    NewArticle,
    StoredArticle,
    StoredMatch,
)
from .schema import articles, matches

__all__ = ["ArticlesPart", "expand"]


def _compact(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation as stored: hits keep their offsets but not their words (the words are
    in the stored text), and the copies of `matched_terms` and `rules_version` stay out
    (they have columns). A broad topic records a dozen hits per match; this keeps a match
    row under 2 KB. `expand` puts everything back on read."""
    out = {k: v for k, v in explanation.items() if k not in ("matched_terms", "rules_version")}
    out["hits"] = [{k: v for k, v in h.items() if k != "text"} for h in explanation.get("hits") or []]
    return out


def expand(explanation: dict[str, Any], row: RowMapping, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """A stored explanation as the engine made it: the columns' copies back, and each hit's
    words cut from `fields` (title and body text) when given. Rows stored before the
    compact form carry them already and pass through unchanged."""
    exp = dict(explanation or {})
    if "matched_terms" in row:
        exp.setdefault("matched_terms", list(row["matched_terms"] or []))
    if "rules_version" in row:
        exp.setdefault("rules_version", row["rules_version"])
    if fields is not None and exp.get("hits"):
        exp["hits"] = [h if "text" in h else {**h, "text": _words_at(h, fields)} for h in exp["hits"]]
    return exp


def _words_at(hit: dict[str, Any], fields: dict[str, str]) -> str:
    """The words a stored hit's offsets point at (`lead` hits are stored as `body` ones)."""
    text = fields.get(str(hit.get("field")), "")
    start, end = hit.get("start"), hit.get("end")
    ok = isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)
    return text[start:end] if ok else ""


def _stored_match(row: RowMapping, fields: dict[str, str] | None = None) -> StoredMatch:
    return StoredMatch(
        topic_id=row["topic_id"],
        score=row["score"],
        matched_terms=list(row["matched_terms"] or []),
        explanation=expand(row["explanation"], row, fields),
        rules_version=row["rules_version"],
        created_at=row["created_at"],
        state=row["state"],
        note=row["note"],
        reviewed_at=row["reviewed_at"],
        reviewed_by=row.get("reviewed_by"),
    )


def _stored_article(row: RowMapping) -> StoredArticle:
    data = {k: row[k] for k in StoredArticle.__slots__ if k != "matches"}  # type: ignore[attr-defined]
    data["authors"] = list(data["authors"] or [])
    return StoredArticle(**data)


def _match_row(article_id: int, m: MatchData, now: datetime) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "topic_id": m.topic_id,
        "score": float(m.score),
        "matched_terms": list(m.matched_terms),
        "explanation": json.loads(json.dumps(_compact(m.explanation), default=str)),
        "rules_version": m.rules_version,
        "created_at": now,
        "state": "unreviewed",
    }



class ArticlesPart(StorePart):
    """Stored articles and their matches: adding, reading, replaying, pruning."""

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of these canonical URLs are stored already (so they are never fetched again)."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                found.update(r[0] for r in conn.execute(select(articles.c.url).where(articles.c.url.in_(chunk))))
        return found

    def add_article(self, article: NewArticle, found: Sequence[MatchData] = ()) -> int | None:
        """Store an article and its matches in one transaction.

        Returns the new id, or None when the canonical URL is stored already
        (re-storing is a no-op, so two feeds or two instances racing on one
        story cannot duplicate it).
        """
        return self.add_articles([(article, found)])[0]

    def add_articles(self, batch: Sequence[tuple[NewArticle, Sequence[MatchData]]]) -> list[int | None]:
        """Store several articles with their matches in one transaction (a poll's group commit).

        One id per article, in order, None where the canonical URL is stored already (or
        earlier in `batch`). Any error stores none of them: a caller that wants the others
        kept stores them one by one. The insert skips a stored URL itself, so a race with
        another writer is a no-op, and any other integrity error is raised.
        """
        if not batch:
            return []
        now = utcnow()
        ids: list[int | None] = []
        match_rows: list[dict[str, Any]] = []
        add = self._insert_new(articles, ["url"]).returning(articles.c.id)
        with self.engine.begin() as conn:
            for article, found in batch:
                row = {k: getattr(article, k) for k in NewArticle.__slots__}  # type: ignore[attr-defined]
                row["content_hash"] = content_hash(article.title, article.text)
                article_id = conn.execute(add, row).scalar()
                ids.append(None if article_id is None else int(article_id))
                if article_id is not None:
                    match_rows.extend(_match_row(article_id, m, now) for m in found)
            if match_rows:
                conn.execute(insert(matches), match_rows)
        return ids

    def get_article(self, article_id: int) -> StoredArticle | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).mappings().first()
            if row is None:
                return None
            art = _stored_article(row)
            fields = {"title": art.title or "", "body": art.text or ""}
            art.matches = [_stored_match(m, fields) for m in conn.execute(
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
                        a = by_id[m["article_id"]]
                        a.matches.append(_stored_match(m, {"title": a.title or "", "body": a.text or ""}))
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

    def profile_fallbacks(self) -> dict[str, int]:
        """Per site profile, how many stored pages it matched but found no body on (most first)."""
        c = articles.c
        q = (select(c.profile_failed, func.count()).where(c.profile_failed.is_not(None))
             .group_by(c.profile_failed).order_by(func.count().desc(), c.profile_failed))
        with self.engine.connect() as conn:
            return {name: int(n) for name, n in conn.execute(q)}

    def replace_matches(self, article_id: int, found: Sequence[MatchData]) -> None:
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
