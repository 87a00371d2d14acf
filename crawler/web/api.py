"""The review app's machine side: the JSON API, the Atom feed, `/metrics` and `/healthz`.

The models below make the OpenAPI description (`/api/docs`) useful; writes need
the CSRF token of a browser session or a bearer token (`context.CSRF`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from storage import REVIEW_STATES, ReviewFilter, ReviewState

from . import exports
from .context import (
    CSRF,
    ArticleId,
    Ctx,
    FiltersDep,
    Offset,
    Reviewer,
    StoryId,
    article_or_404,
    day_start,
)
from .metrics import CONTENT_TYPE, render_metrics
from .pages import CHART_DAYS

__all__ = ["router"]

FEED_LIMIT = 100
FEED_STATES = ("unreviewed", "relevant")
"""What the Atom feed carries unless asked: never what a reviewer called irrelevant."""

router = APIRouter()


class MarkIn(BaseModel):
    """A reviewer's decision."""

    state: ReviewState
    note: str | None = Field(default=None, max_length=5000)
    topic: str | None = Field(default=None, description="Only this topic's match (default: all of the article's).")


class MarkOut(BaseModel):
    changed: int = Field(description="Matches whose state changed.")
    state: str
    next_id: int | None = Field(default=None, description="The next article in the listing, if any.")


class ReviewList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]] = Field(description="Each a review row (`storage.ReviewRow.to_json`): id, url, "
                                        "link, title, source, feed, published, fetched_at, flagged_at, topic, score, "
                                        "state, matched_terms, note, reviewed_at, reviewed_by, text_from, story_id, story_size.")


@router.get("/feed.atom", tags=["outputs"], response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}}, 404: {"description": "Unknown topic."}})
def atom(ctx: Ctx, request: Request, topic: Annotated[str | None, Query(max_length=200)] = None,
         state: Annotated[ReviewState | Literal["all"] | None, Query(
             description="Only this review state, or `all`; by default unreviewed and relevant articles, "
                         "never the ones marked irrelevant.")] = None) -> Response:
    """The latest 100 flagged articles (all topics, or one) as an Atom feed.

    An entry's `<updated>` is when it was flagged, so marking an article does not
    make a feed reader show it again as new.
    """
    if topic and topic not in ctx.topic_names and topic not in ctx.derived("facets", ctx.store.facets)[0]:
        raise HTTPException(404, f"no topic {topic!r}")
    f = (ReviewFilter(states=FEED_STATES, topic=topic or None) if state is None
         else ReviewFilter(state=str(state), topic=topic or None))
    rows = ctx.store.review_page(f, limit=FEED_LIMIT, details=True).rows
    base = ctx.base_url(request)
    title = f"newswatch · {ctx.topic_name(topic)}" if topic else "newswatch · flagged articles"
    feed_id = f"urn:newswatch:feed:{topic}" if topic else "urn:newswatch:feed:all"
    query = {k: v for k, v in (("topic", topic), ("state", state)) if v}
    self_url = f"{base}/feed.atom" + (f"?{urlencode(query)}" if query else "")
    body = exports.atom_feed(rows, feed_id=feed_id, title=title, self_url=self_url, base_url=base,
                             topic_names=ctx.topic_names)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/metrics", tags=["outputs"], response_class=PlainTextResponse)
def metrics(ctx: Ctx) -> Response:
    """Prometheus metrics (text format 0.0.4), all read from the database."""
    return Response(render_metrics(ctx.store), media_type=CONTENT_TYPE)


@router.get("/healthz", tags=["outputs"])
def healthz(ctx: Ctx) -> JSONResponse:
    """200 when the app and its database answer; 503 otherwise."""
    try:
        ctx.store.ping()
    except Exception as exc:  # any database failure means unhealthy
        return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "backend": ctx.store.backend})


@router.get("/api/articles", tags=["review"], response_model=ReviewList)
def api_list(ctx: Ctx, f: FiltersDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
             offset: Offset = 0) -> dict[str, Any]:
    """Flagged articles, newest first, with the list page's filters and search."""
    result = ctx.store.review_page(f.review_filter(), limit=limit, offset=offset)
    return {"total": result.total, "limit": limit, "offset": offset,
            "items": [r.to_json() for r in result.rows]}


@router.get("/api/articles/{article_id}", tags=["review"])
def api_article(ctx: Ctx, article_id: ArticleId) -> dict[str, Any]:
    """One stored article: text, metadata, every match with its explanation and review state, its story."""
    art = article_or_404(ctx, article_id)
    data = {k: getattr(art, k) for k in art.__slots__ if k != "matches"}
    for k in ("published", "updated", "fetched_at"):
        data[k] = data[k].isoformat() if data[k] else None
    data["matches"] = [{
        "topic": m.topic_id, "score": m.score, "matched_terms": m.matched_terms,
        "explanation": m.explanation, "rules_version": m.rules_version,
        "flagged_at": m.created_at.isoformat(), "state": m.state, "note": m.note,
        "reviewed_at": m.reviewed_at.isoformat() if m.reviewed_at else None, "reviewed_by": m.reviewed_by,
    } for m in art.matches]
    data["story_id"] = ctx.store.story_of(article_id)
    return data


@router.post("/api/articles/{article_id}/mark", tags=["review"], response_model=MarkOut,
          dependencies=[CSRF])
def api_mark(ctx: Ctx, article_id: ArticleId, body: MarkIn, f: FiltersDep, who: Reviewer) -> dict[str, Any]:
    """Mark an article's matches (one topic, or all); kept with time, note and reviewer for `export-labels`."""
    article_or_404(ctx, article_id)
    changed = ctx.store.mark(article_id, body.state, note=body.note, topic=body.topic, reviewer=who)
    if not changed:  # an unflagged article's near miss takes a review like a match
        changed = ctx.store.mark_near_miss(article_id, body.state, note=body.note, topic=body.topic, reviewer=who)
    if not changed:
        raise HTTPException(404, "the article has no match or near miss"
                            + (f" for topic {body.topic!r}" if body.topic else ""))
    _, next_id = ctx.store.neighbours(article_id, f.review_filter())
    return {"changed": changed, "state": body.state, "next_id": next_id}


@router.get("/api/near-misses", tags=["review"])
def api_near_misses(ctx: Ctx, topic: Annotated[str | None, Query(max_length=200)] = None,
                    state: Annotated[ReviewState | Literal["all"], Query()] = ReviewState.unreviewed,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Offset = 0) -> dict[str, Any]:
    """Unflagged articles that fail a topic by one clause (`failed`, as `rules explain` words it), closest first.

    Mark one with `POST /api/articles/{id}/mark`: a near miss marked relevant is a label.
    """
    rows, total = ctx.store.near_miss_rows(topic=topic, state=None if state == "all" else str(state),
                                           limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [r.to_json() for r in rows]}


@router.get("/api/stories/{story_id}", tags=["review"])
def api_story(ctx: Ctx, story_id: StoryId) -> dict[str, Any]:
    """The flagged articles of one story (near-duplicate coverage of one event)."""
    rows = ctx.store.story_rows(story_id)
    if not rows:
        raise HTTPException(404, f"no story {story_id}")
    return {"id": story_id, "articles": len({r.id for r in rows}), "items": [r.to_json() for r in rows]}


@router.post("/api/stories/{story_id}/mark", tags=["review"], response_model=MarkOut, dependencies=[CSRF])
def api_story_mark(ctx: Ctx, story_id: StoryId, body: MarkIn, who: Reviewer) -> dict[str, Any]:
    """Mark every article of a story at once."""
    if not ctx.store.story_rows(story_id):
        raise HTTPException(404, f"no story {story_id}")
    return {"changed": ctx.store.mark_story(story_id, body.state, note=body.note, topic=body.topic, reviewer=who),
            "state": body.state}


@router.get("/api/search", tags=["review"])
def api_search(ctx: Ctx, q: Annotated[str, Query(min_length=1, max_length=500)],
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Offset = 0) -> dict[str, Any]:
    """Full-text search over every stored article, flagged or not (FTS5 / PostgreSQL full-text)."""
    found, total = ctx.store.search_articles(q, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [r.to_json() for r in found]}


@router.get("/api/topics", tags=["review"])
def api_topics(ctx: Ctx) -> list[dict[str, Any]]:
    """Topics with flagged articles (and configured ones), with counts by review state."""
    by = ctx.store.matches_by_topic()
    ids = sorted({t for t, _ in by} | set(ctx.topic_names))
    return [{"id": t, "name": ctx.topic_name(t),
             "counts": {s: by.get((t, s), 0) for s in REVIEW_STATES}} for t in ids]


@router.get("/api/feeds", tags=["health"])
def api_feeds(ctx: Ctx) -> list[dict[str, Any]]:
    """Each feed's health: last poll and success, failures and since when, counters."""
    return [{
        "name": fd.name, "url": fd.url, "source": fd.source, "enabled": fd.enabled,
        "last_poll": _iso(fd.last_poll_at), "last_success": _iso(fd.last_success_at),
        "http_status": fd.last_status, "failing_since": _iso(fd.failing_since),
        "consecutive_failures": fd.consecutive_failures, "last_error": fd.last_error,
        "polls": fd.polls_total, "errors": fd.errors_total, "articles": fd.articles_total,
        "next_poll": _iso(fd.next_poll_at),
    } for fd in ctx.store.feed_states(include_disabled=True)]


@router.get("/api/stats", tags=["health"])
def api_stats(ctx: Ctx, days: Annotated[int, Query(ge=1, le=3650)] = CHART_DAYS) -> dict[str, Any]:
    """The dashboard's numbers: flagged per day per topic, counts by source, review backlog."""
    since = day_start(datetime.now(UTC).date() - timedelta(days=days - 1))
    backlog = ctx.store.backlog()
    return {
        "per_day": [{"day": d.isoformat(), "topic": t, "flagged": n} for d, t, n in ctx.store.flagged_per_day(since)],
        "sources": [{"source": s.source, "flagged": s.flagged, "unreviewed": s.unreviewed,
                     "relevant": s.relevant, "irrelevant": s.irrelevant} for s in ctx.store.source_counts()],
        "backlog": {"counts": backlog.counts, "oldest_unreviewed": _iso(backlog.oldest_unreviewed),
                    "by_topic": backlog.by_topic},
    }


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None
