"""The review app's pages: the list, an article, a story, the dashboard, login.

Server-rendered (Jinja2, autoescaped); article content is escaped before the
matched terms are highlighted (`render.highlight`), so nothing from an article
can become markup. Every form POST carries the CSRF token (`context.CSRF`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from storage import FILTER_STATES, ReviewState

from ..display import hits_of
from .charts import PALETTE, bar_svg, daily_chart
from .context import (
    CSRF,
    ArticleId,
    Ctx,
    FiltersDep,
    Reviewer,
    StoryId,
    article_or_404,
    day_start,
    wants_json,
)
from .render import highlight, highlight_paragraphs
from .security import SESSION_COOKIE

__all__ = ["CHART_DAYS", "router"]

log = logging.getLogger("newswatch.web")

CHART_DAYS = 90

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def list_page(ctx: Ctx, request: Request, f: FiltersDep, page: Annotated[int, Query(ge=1, le=100000)] = 1) -> HTMLResponse:
    size = ctx.page_size
    result = ctx.store.review_page(f.review_filter(), limit=size, offset=(page - 1) * size)
    topics, sources = ctx.derived("facets", ctx.store.facets)
    pages = max(1, -(-result.total // size))
    failing = [fd for fd in ctx.store.feed_states(include_disabled=False) if fd.consecutive_failures]
    return ctx.render(request, "list.html", {
        "failing": failing, "reviewers": ctx.store.reviewers(),
        "rows": result.rows, "total": result.total, "page": page, "pages": pages, "f": f,
        "topics": topics, "sources": sources, "states": list(FILTER_STATES),
        "ctx_query": f.query(), "topic_name": ctx.topic_name,
        "prev_url": "/?" + f.query(page=page - 1 if page > 2 else "") if page > 1 else None,
        "next_url": "/?" + f.query(page=page + 1) if page < pages else None,
    })


@router.get("/near-misses", response_class=HTMLResponse, include_in_schema=False)
def near_misses_page(ctx: Ctx, request: Request, topic: Annotated[str, Query(max_length=200)] = "",
                     page: Annotated[int, Query(ge=1, le=100000)] = 1) -> HTMLResponse:
    """Unflagged articles a topic failed by one clause, closest first: a glance, not a second inbox."""
    size = ctx.page_size
    rows, total = ctx.store.near_miss_rows(topic=topic or None, limit=size, offset=(page - 1) * size)
    pages = max(1, -(-total // size))
    query = {"topic": topic} if topic else {}
    return ctx.render(request, "near_misses.html", {
        "rows": rows, "total": total, "page": page, "pages": pages, "topic": topic,
        "topics": ctx.derived("facets", ctx.store.facets)[0], "topic_name": ctx.topic_name,
        "prev_url": "/near-misses?" + urlencode({**query, **({"page": page - 1} if page > 2 else {})})
        if page > 1 else None,
        "next_url": "/near-misses?" + urlencode({**query, "page": page + 1}) if page < pages else None,
    })


@router.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
def article_page(ctx: Ctx, request: Request, article_id: ArticleId, f: FiltersDep,
                 clauses: Annotated[Literal["", "full"], Query(description="`full`: every clause of the tree")] = "",
                 ) -> HTMLResponse:
    art = article_or_404(ctx, article_id)
    full = clauses == "full"
    more_url = f"/articles/{article_id}?" + urlencode([*parse_qsl(f.query()), ("clauses", "full")])
    why = ctx.why(art, full=full, more_url=more_url)
    hits = hits_of(m.explanation for m in art.matches)
    prev_id, next_id = ctx.store.neighbours(article_id, f.review_filter())
    story_id = ctx.store.story_of(article_id)
    story = ctx.store.story_rows(story_id) if story_id is not None else []
    return ctx.render(request, "article.html", {
        "art": art, "title_html": highlight(art.title, hits, "title"),
        "body_paragraphs": highlight_paragraphs(art.text, hits, "body"), "f": f, "ctx_query": f.query(),
        "prev_id": prev_id, "next_id": next_id, "topic_name": ctx.topic_name,
        "why": why, "full_tree": full, "more_url": more_url,
        "story": [r for r in story if r.id != article_id], "story_id": story_id,
        "story_articles": len({r.id for r in story}),
        "near_misses": [] if art.matches else ctx.store.near_misses_for(article_id),
    })


@router.post("/articles/{article_id}/mark", include_in_schema=False, dependencies=[CSRF])
def mark_form(ctx: Ctx, request: Request, article_id: ArticleId, f: FiltersDep, who: Reviewer,
              state: Annotated[ReviewState, Form()],
              note: Annotated[str | None, Form(max_length=5000)] = None,
              topic: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    article_or_404(ctx, article_id)
    # an absent note keeps the stored one; an emptied note field clears it
    kept_note = note.strip() if note is not None else None
    changed = ctx.store.mark(article_id, state, note=kept_note, topic=topic or None, reviewer=who)
    near = not changed and bool(ctx.store.mark_near_miss(article_id, state, note=kept_note, topic=topic or None,
                                                         reviewer=who))
    _, next_id = ctx.store.neighbours(article_id, f.review_filter())
    qs = f.query()
    if near and not wants_json(request):
        return RedirectResponse("/near-misses", status_code=303)
    if wants_json(request):
        # what the page's counters show, so a keyboard mark updates them without a reload
        total = (ctx.store.near_miss_rows(limit=0)[1] if near
                 else ctx.store.review_page(f.review_filter(), limit=0).total)
        return JSONResponse({"changed": changed, "state": state, "next_id": next_id,
                             "next_url": f"/articles/{next_id}?{qs}" if next_id else None,
                             "backlog": ctx.store.review_counts()["unreviewed"], "total": total})
    target = f"/articles/{next_id}?{qs}" if next_id else f"/?{qs}"
    return RedirectResponse(target, status_code=303)


@router.get("/stories/{story_id}", response_class=HTMLResponse, include_in_schema=False)
def story_page(ctx: Ctx, request: Request, story_id: StoryId) -> HTMLResponse:
    rows = ctx.store.story_rows(story_id)
    if not rows:
        raise HTTPException(404, f"no story {story_id}")
    return ctx.render(request, "story.html", {"story_id": story_id, "rows": rows,
                                          "articles": len({r.id for r in rows}), "topic_name": ctx.topic_name})


@router.post("/stories/{story_id}/mark", include_in_schema=False, dependencies=[CSRF])
def story_mark_form(ctx: Ctx, request: Request, story_id: StoryId, who: Reviewer,
                    state: Annotated[ReviewState, Form()],
                    note: Annotated[str | None, Form(max_length=5000)] = None,
                    topic: Annotated[str | None, Form(max_length=200)] = None) -> Response:
    if not ctx.store.story_rows(story_id):
        raise HTTPException(404, f"no story {story_id}")
    changed = ctx.store.mark_story(story_id, state, note=note or None, topic=topic or None, reviewer=who)
    if wants_json(request):
        return JSONResponse({"changed": changed, "state": state})
    return RedirectResponse(f"/stories/{story_id}", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard(ctx: Ctx, request: Request) -> HTMLResponse:
    now = datetime.now(UTC)
    today = now.date()
    since = day_start(today - timedelta(days=CHART_DAYS - 1))
    per_day = ctx.derived("per_day", lambda: ctx.store.flagged_per_day(since), arg=since)
    topics = sorted({t for _, t, _ in per_day} | set(ctx.derived("facets", ctx.store.facets)[0]))
    sources = ctx.derived("sources", ctx.store.source_counts)
    feeds = ctx.store.feed_states(include_disabled=False)
    failing = sorted((fd for fd in feeds if fd.consecutive_failures), key=lambda fd: fd.failing_since or now)
    backlog = ctx.derived("backlog", ctx.store.backlog)
    peak = max((s.flagged for s in sources), default=0)
    return ctx.render(request, "dashboard.html", {
        "chart": daily_chart(per_day, topics, end=today, days=CHART_DAYS, topic_names=ctx.topic_names),
        "legend": [(t, ctx.topic_name(t), PALETTE[i % len(PALETTE)]) for i, t in enumerate(topics)],
        "total_90d": sum(n for _, _, n in per_day),
        "sources": [(s, bar_svg(s.flagged, peak)) for s in sources[:25]],
        "feeds": feeds, "failing": failing, "backlog": backlog, "now": now,
        "topic_name": ctx.topic_name,
    })


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(ctx: Ctx, request: Request, next: str = "/") -> Response:
    if not ctx.guard.enabled:
        return RedirectResponse("/", status_code=303)
    return ctx.render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False, dependencies=[CSRF])
def login(ctx: Ctx, request: Request, password: Annotated[str, Form(max_length=1000)],
          next: Annotated[str, Form(max_length=2000)] = "/",
          name: Annotated[str, Form(max_length=64)] = "") -> Response:
    if not ctx.guard.enabled:
        return RedirectResponse("/", status_code=303)
    who = ctx.guard.check_password(password, name.strip() or None)
    if who is None:
        log.warning("web.login_failed", extra={"fields": {"client": request.client.host if request.client else "-",
                                                          "name": name.strip() or "-"}})
        return ctx.render(request, "login.html", {"next": _safe_next(next), "error": "Wrong name or token."},
                          status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, ctx.guard.session_value(who), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/", max_age=30 * 86400)
    return response


@router.post("/logout", include_in_schema=False, dependencies=[CSRF])
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _safe_next(target: str) -> str:
    """Only same-site paths after login (no open redirect to another site)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"
