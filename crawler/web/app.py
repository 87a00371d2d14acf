"""The review web app: server-rendered pages, a JSON API, an Atom feed, metrics.

Reviewers read flagged articles with the matched terms highlighted and why they
matched, and mark them with one key. Everything is rendered on the server (Jinja2,
autoescaped); the page's JavaScript only adds keyboard shortcuts. Article content
is untrusted: it is escaped before highlighting (see `render.highlight`), and the
Content-Security-Policy forbids inline scripts, so even a mistake could not run one.

Endpoints are plain (sync) functions: FastAPI runs them in its thread pool, and the
`Store` API is synchronous and short.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field

from storage import REVIEW_STATES, ReviewFilter, Store

from ..settings import LoadedConfig
from . import exports
from .charts import PALETTE, bar_svg, daily_chart
from .metrics import CONTENT_TYPE, render_metrics
from .render import highlight, highlight_paragraphs, relative_time
from .security import CSRF_COOKIE, SESSION_COOKIE, Guard

__all__ = ["create_app"]

log = logging.getLogger("newswatch.web")

HERE = Path(__file__).resolve().parent
FEED_LIMIT = 100
CHART_DAYS = 90
PUBLIC_PATHS = ("/healthz", "/login", "/static/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
STATE_LABELS = {"unreviewed": "Unreviewed", "relevant": "Relevant", "irrelevant": "Irrelevant", "all": "All"}


# ---- API models (they make the OpenAPI description useful) ---------------------

class MarkIn(BaseModel):
    """A reviewer's decision."""

    state: Literal["unreviewed", "relevant", "irrelevant"]
    note: str | None = Field(default=None, max_length=5000)
    topic: str | None = Field(default=None, description="Only this topic's match (default: all of the article's).")


class MarkOut(BaseModel):
    changed: int = Field(description="Matches whose state changed.")
    state: str
    next_id: int | None = Field(default=None, description="The next article in the listing, if any.")


class ReviewItem(BaseModel):
    id: int
    url: str
    link: str
    title: str
    source: str | None
    feed: str | None
    published: str | None
    fetched_at: str
    flagged_at: str
    topic: str
    score: float
    state: str
    matched_terms: list[str]
    note: str | None
    reviewed_at: str | None
    text_from: str
    story_id: int | None
    story_size: int


class ReviewList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ReviewItem]


# ---- the app --------------------------------------------------------------------

@dataclass(slots=True)
class Context:
    """What every request needs: config, storage, credentials, topic names."""

    config: LoadedConfig
    store: Store
    guard: Guard
    topic_names: dict[str, str]
    templates: Jinja2Templates

    @property
    def page_size(self) -> int:
        return self.config.settings.review.page_size

    def base_url(self, request: Request) -> str:
        return self.config.settings.review.base_url or str(request.base_url).rstrip("/")


def _config_of(source: Any) -> tuple[LoadedConfig, dict[str, str]]:
    """Accept a `Runtime` (topic names from its rules) or a bare `LoadedConfig`."""
    if isinstance(source, LoadedConfig):
        return source, {}
    config = getattr(source, "config", None)
    if not isinstance(config, LoadedConfig):
        raise TypeError("create_app needs a Runtime or a LoadedConfig")
    rules = getattr(source, "rules", None)
    names = {t.id: (t.name or t.id) for t in getattr(rules, "topics", [])}
    return config, names


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["ago"] = relative_time
    env.filters["stamp"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "—"
    env.filters["iso"] = lambda dt: dt.isoformat() if dt else ""
    env.globals["STATE_LABELS"] = STATE_LABELS
    return Jinja2Templates(env=env)


def default_allowed_hosts(config: LoadedConfig) -> list[str] | None:
    """Host names accepted in requests; on loopback, a guard against DNS rebinding."""
    review = config.settings.review
    if review.token:
        return None  # anything may reach it; the token protects it
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]"]
    if review.base_url:
        hosts.append(urlsplit(review.base_url).hostname or "")
    if review.host not in ("0.0.0.0", "::"):
        hosts.append(review.host)
    return [h for h in hosts if h]


def _parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: expected a date such as 2026-11-01, got {value!r}") from None


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@dataclass(slots=True)
class Filters:
    """The listing's query parameters, parsed once and carried from page to page."""

    state: str = "unreviewed"
    topic: str = ""
    source: str = ""
    since: str = ""
    until: str = ""
    q: str = ""

    def review_filter(self) -> ReviewFilter:
        since = _parse_day(self.since, "since")
        until = _parse_day(self.until, "until")
        return ReviewFilter(
            state=self.state, topic=self.topic or None, source=self.source or None,
            since=_day_start(since) if since else None,
            until=_day_start(until) + timedelta(days=1) if until else None,  # inclusive
            query=self.q or None,
        )

    def query(self, **change: Any) -> str:
        """The filters as a query string (defaults left out), with some values changed."""
        data = {"state": self.state, "topic": self.topic, "source": self.source,
                "since": self.since, "until": self.until, "q": self.q} | change
        return urlencode({k: v for k, v in data.items()
                          if v not in ("", None) and not (k == "state" and v == "unreviewed")})

    @property
    def active(self) -> bool:
        return bool(self.topic or self.source or self.since or self.until or self.q or self.state != "unreviewed")


def filters_dep(
    state: Annotated[Literal["unreviewed", "relevant", "irrelevant", "all"], Query()] = "unreviewed",
    topic: Annotated[str, Query(max_length=200)] = "",
    source: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(description="YYYY-MM-DD", max_length=10)] = "",
    until: Annotated[str, Query(description="YYYY-MM-DD, inclusive", max_length=10)] = "",
    q: Annotated[str, Query(description='Full-text search: words, "phrases", prefix*, a OR b, -excluded',
                            max_length=500)] = "",
) -> Filters:
    f = Filters(state=state, topic=topic.strip(), source=source.strip(), since=since.strip(),
                until=until.strip(), q=q.strip())
    f.review_filter()  # reject bad dates with a 400 before any work
    return f


FiltersDep = Annotated[Filters, Depends(filters_dep)]


def create_app(runtime_or_config: Any, store: Store, *, allowed_hosts: list[str] | None = None,
               secret: bytes | None = None) -> FastAPI:
    """The review app over `store`; `runtime_or_config` is a `Runtime` or a `LoadedConfig`.

    `allowed_hosts` overrides the Host-header allow-list (None: loopback names when no
    token is set, any host otherwise). `secret` fixes the CSRF key (tests; default random).
    """
    config, names = _config_of(runtime_or_config)
    ctx = Context(config=config, store=store, guard=Guard(config.settings.review.token, secret=secret),
                  topic_names=names, templates=_templates())
    hosts = allowed_hosts if allowed_hosts is not None else default_allowed_hosts(config)

    app = FastAPI(
        title="newswatch review API",
        version="1",
        description="Flagged articles, review marks, stories and feed health. When `review.token` "
                    "is set, send it as `Authorization: Bearer <token>`.",
        openapi_url="/api/openapi.json", docs_url="/api/docs", redoc_url=None,
    )
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # -- middleware: host check, authentication, security headers ------------

    @app.middleware("http")
    async def guard_requests(request: Request, call_next: Any) -> Response:
        if hosts is not None and _host_name(request.headers.get("host", "")) not in hosts:
            return PlainTextResponse("unknown host name\n", status_code=400)
        path = request.url.path
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse("cross-origin request refused\n", status_code=403)
        if not path.startswith(PUBLIC_PATHS) and not ctx.guard.authenticated(request):
            wants_html = request.method == "GET" and not path.startswith(("/api/", "/metrics", "/feed.atom"))
            if wants_html:
                return RedirectResponse("/login?" + urlencode({"next": request.url.path + (
                    "?" + request.url.query if request.url.query else "")}), status_code=303)
            challenge = 'Basic realm="newswatch"' if path.startswith("/feed.atom") else 'Bearer realm="newswatch"'
            return JSONResponse({"detail": "authentication required"}, status_code=401,
                                headers={"WWW-Authenticate": challenge})
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if path == "/api/docs" else CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if ctx.guard.enabled and not path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    async def require_csrf(request: Request) -> None:
        """POSTs must carry the token of this browser's CSRF cookie (bearer-token clients are exempt)."""
        if ctx.guard.enabled and ctx.guard.bearer(request):
            return
        token = request.headers.get("x-csrf-token")
        if token is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            token = str((await request.form()).get("csrf_token") or "")
        if not ctx.guard.csrf_ok(request, token):
            raise HTTPException(403, "The form's security token is missing or stale: reload the page and try again.")

    Csrf = Depends(require_csrf)

    # -- helpers ----------------------------------------------------------------

    def render(request: Request, name: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
        nonce = request.cookies.get(CSRF_COOKIE)
        fresh = not nonce
        if fresh:
            nonce = ctx.guard.new_nonce()
        assert nonce is not None
        counts = store.review_counts()
        data = {"csrf_token": ctx.guard.csrf_token(nonce), "topic_names": ctx.topic_names,
                "auth": ctx.guard.enabled, "nav_backlog": counts.get("unreviewed", 0), "nav": name, **data}
        response = ctx.templates.TemplateResponse(request, name, data, status_code=status)
        if fresh:
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                                secure=request.url.scheme == "https", path="/")
        return response

    def topic_name(topic: str) -> str:
        return ctx.topic_names.get(topic, topic)

    def article_or_404(article_id: int) -> Any:
        art = store.get_article(article_id)
        if art is None:
            raise HTTPException(404, f"no article with id {article_id}")
        return art

    def wants_json(request: Request) -> bool:
        return "application/json" in request.headers.get("accept", "")

    # -- pages ------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def list_page(request: Request, f: FiltersDep, page: Annotated[int, Query(ge=1, le=100000)] = 1) -> HTMLResponse:
        size = ctx.page_size
        result = store.review_page(f.review_filter(), limit=size, offset=(page - 1) * size)
        topics, sources = store.facets()
        pages = max(1, -(-result.total // size))
        return render(request, "list.html", {
            "rows": result.rows, "total": result.total, "page": page, "pages": pages, "f": f,
            "topics": topics, "sources": sources, "states": ["unreviewed", "relevant", "irrelevant", "all"],
            "ctx_query": f.query(), "topic_name": topic_name,
            "prev_url": "/?" + f.query(page=page - 1 if page > 2 else "") if page > 1 else None,
            "next_url": "/?" + f.query(page=page + 1) if page < pages else None,
        })

    @app.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(request: Request, article_id: int, f: FiltersDep) -> HTMLResponse:
        art = article_or_404(article_id)
        hits = [h for m in art.matches for h in (m.explanation.get("hits") or [])]
        prev_id, next_id = store.neighbours(article_id, f.review_filter())
        story_id = store.story_of(article_id)
        story = store.story_rows(story_id) if story_id is not None else []
        return render(request, "article.html", {
            "art": art, "title_html": highlight(art.title, hits, "title"),
            "body_paragraphs": highlight_paragraphs(art.text, hits, "body"), "f": f, "ctx_query": f.query(),
            "prev_id": prev_id, "next_id": next_id, "topic_name": topic_name,
            "story": [r for r in story if r.id != article_id], "story_id": story_id,
            "story_articles": len({r.id for r in story}),
        })

    @app.post("/articles/{article_id}/mark", include_in_schema=False, dependencies=[Csrf])
    def mark_form(request: Request, article_id: int, f: FiltersDep,
                  state: Annotated[Literal["unreviewed", "relevant", "irrelevant"], Form()],
                  note: Annotated[str | None, Form(max_length=5000)] = None,
                  topic: Annotated[str | None, Form(max_length=200)] = None) -> Response:
        article_or_404(article_id)
        # an absent note keeps the stored one; an emptied note field clears it
        changed = store.mark(article_id, state, note=note.strip() if note is not None else None,
                             topic=topic or None)
        _, next_id = store.neighbours(article_id, f.review_filter())
        qs = f.query()
        if wants_json(request):
            return JSONResponse({"changed": changed, "state": state, "next_id": next_id,
                                 "next_url": f"/articles/{next_id}?{qs}" if next_id else None})
        target = f"/articles/{next_id}?{qs}" if next_id else f"/?{qs}"
        return RedirectResponse(target, status_code=303)

    @app.get("/stories/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def story_page(request: Request, story_id: int) -> HTMLResponse:
        rows = store.story_rows(story_id)
        if not rows:
            raise HTTPException(404, f"no story {story_id}")
        return render(request, "story.html", {"story_id": story_id, "rows": rows,
                                              "articles": len({r.id for r in rows}), "topic_name": topic_name})

    @app.post("/stories/{story_id}/mark", include_in_schema=False, dependencies=[Csrf])
    def story_mark_form(request: Request, story_id: int,
                        state: Annotated[Literal["unreviewed", "relevant", "irrelevant"], Form()],
                        note: Annotated[str | None, Form(max_length=5000)] = None,
                        topic: Annotated[str | None, Form(max_length=200)] = None) -> Response:
        if not store.story_rows(story_id):
            raise HTTPException(404, f"no story {story_id}")
        changed = store.mark_story(story_id, state, note=note or None, topic=topic or None)
        if wants_json(request):
            return JSONResponse({"changed": changed, "state": state})
        return RedirectResponse(f"/stories/{story_id}", status_code=303)

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        now = datetime.now(UTC)
        today = now.date()
        since = _day_start(today - timedelta(days=CHART_DAYS - 1))
        per_day = store.flagged_per_day(since)
        topics = sorted({t for _, t, _ in per_day} | set(store.facets()[0]))
        sources = store.source_counts()
        feeds = store.feed_states(include_disabled=False)
        failing = sorted((fd for fd in feeds if fd.consecutive_failures), key=lambda fd: fd.failing_since or now)
        backlog = store.backlog()
        peak = max((s.flagged for s in sources), default=0)
        return render(request, "dashboard.html", {
            "chart": daily_chart(per_day, topics, end=today, days=CHART_DAYS, topic_names=ctx.topic_names),
            "legend": [(t, topic_name(t), PALETTE[i % len(PALETTE)]) for i, t in enumerate(topics)],
            "total_90d": sum(n for _, _, n in per_day),
            "sources": [(s, bar_svg(s.flagged, peak)) for s in sources[:25]],
            "feeds": feeds, "failing": failing, "backlog": backlog, "now": now,
            "topic_name": topic_name,
        })

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> Response:
        if not ctx.guard.enabled:
            return RedirectResponse("/", status_code=303)
        return render(request, "login.html", {"next": _safe_next(next), "error": None})

    @app.post("/login", include_in_schema=False, dependencies=[Csrf])
    def login(request: Request, password: Annotated[str, Form(max_length=1000)],
              next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
        if not ctx.guard.enabled:
            return RedirectResponse("/", status_code=303)
        if not ctx.guard.check_password(password):
            log.warning("web.login_failed", extra={"fields": {"client": request.client.host if request.client else "-"}})
            return render(request, "login.html", {"next": _safe_next(next), "error": "Wrong password."}, status=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(SESSION_COOKIE, ctx.guard.session_value(), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/", max_age=30 * 86400)
        return response

    @app.post("/logout", include_in_schema=False, dependencies=[Csrf])
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- feeds, metrics, health ------------------------------------------------

    @app.get("/feed.atom", tags=["outputs"], response_class=Response,
             responses={200: {"content": {"application/atom+xml": {}}}})
    def atom(request: Request, topic: Annotated[str | None, Query(max_length=200)] = None) -> Response:
        """The latest 100 flagged articles (all topics, or one) as an Atom feed."""
        rows = store.review_page(ReviewFilter(state="all", topic=topic or None), limit=FEED_LIMIT,
                                 details=True).rows
        base = ctx.base_url(request)
        title = f"newswatch · {topic_name(topic)}" if topic else "newswatch · flagged articles"
        feed_id = f"urn:newswatch:feed:{topic}" if topic else "urn:newswatch:feed:all"
        self_url = f"{base}/feed.atom" + (f"?{urlencode({'topic': topic})}" if topic else "")
        body = exports.atom_feed(rows, feed_id=feed_id, title=title, self_url=self_url, base_url=base,
                                 topic_names=ctx.topic_names)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    @app.get("/metrics", tags=["outputs"], response_class=PlainTextResponse)
    def metrics() -> Response:
        """Prometheus metrics (text format 0.0.4), all read from the database."""
        return Response(render_metrics(store), media_type=CONTENT_TYPE)

    @app.get("/healthz", tags=["outputs"])
    def healthz() -> JSONResponse:
        """200 when the app and its database answer; 503 otherwise."""
        try:
            store.ping()
        except Exception as exc:  # any database failure means unhealthy
            return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok", "backend": store.backend})

    # -- JSON API -----------------------------------------------------------------

    @app.get("/api/articles", tags=["review"], response_model=ReviewList)
    def api_list(f: FiltersDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                 offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        """Flagged articles, newest first, with the list page's filters and search."""
        result = store.review_page(f.review_filter(), limit=limit, offset=offset)
        return {"total": result.total, "limit": limit, "offset": offset,
                "items": [r.to_json() for r in result.rows]}

    @app.get("/api/articles/{article_id}", tags=["review"])
    def api_article(article_id: int) -> dict[str, Any]:
        """One stored article: text, metadata, every match with its explanation and review state, its story."""
        art = article_or_404(article_id)
        data = {k: getattr(art, k) for k in art.__slots__ if k != "matches"}
        for k in ("published", "updated", "fetched_at"):
            data[k] = data[k].isoformat() if data[k] else None
        data["matches"] = [{
            "topic": m.topic_id, "score": m.score, "matched_terms": m.matched_terms,
            "explanation": m.explanation, "rules_version": m.rules_version,
            "flagged_at": m.created_at.isoformat(), "state": m.state, "note": m.note,
            "reviewed_at": m.reviewed_at.isoformat() if m.reviewed_at else None,
        } for m in art.matches]
        data["story_id"] = store.story_of(article_id)
        return data

    @app.post("/api/articles/{article_id}/mark", tags=["review"], response_model=MarkOut,
              dependencies=[Csrf])
    def api_mark(article_id: int, body: MarkIn, f: FiltersDep) -> dict[str, Any]:
        """Mark an article's matches (one topic, or all); kept with time and note for `export-labels`."""
        article_or_404(article_id)
        changed = store.mark(article_id, body.state, note=body.note, topic=body.topic)
        if not changed:
            raise HTTPException(404, "the article has no match" + (f" for topic {body.topic!r}" if body.topic else ""))
        _, next_id = store.neighbours(article_id, f.review_filter())
        return {"changed": changed, "state": body.state, "next_id": next_id}

    @app.get("/api/stories/{story_id}", tags=["review"])
    def api_story(story_id: int) -> dict[str, Any]:
        """The flagged articles of one story (near-duplicate coverage of one event)."""
        rows = store.story_rows(story_id)
        if not rows:
            raise HTTPException(404, f"no story {story_id}")
        return {"id": story_id, "articles": len({r.id for r in rows}), "items": [r.to_json() for r in rows]}

    @app.post("/api/stories/{story_id}/mark", tags=["review"], response_model=MarkOut, dependencies=[Csrf])
    def api_story_mark(story_id: int, body: MarkIn) -> dict[str, Any]:
        """Mark every article of a story at once."""
        if not store.story_rows(story_id):
            raise HTTPException(404, f"no story {story_id}")
        return {"changed": store.mark_story(story_id, body.state, note=body.note, topic=body.topic),
                "state": body.state}

    @app.get("/api/search", tags=["review"])
    def api_search(q: Annotated[str, Query(min_length=1, max_length=500)],
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        """Full-text search over every stored article, flagged or not (FTS5 / PostgreSQL full-text)."""
        found, total = store.search_articles(q, limit=limit, offset=offset)
        return {"total": total, "limit": limit, "offset": offset, "items": [r.to_json() for r in found]}

    @app.get("/api/topics", tags=["review"])
    def api_topics() -> list[dict[str, Any]]:
        """Topics with flagged articles (and configured ones), with counts by review state."""
        by = store.matches_by_topic()
        ids = sorted({t for t, _ in by} | set(ctx.topic_names))
        return [{"id": t, "name": topic_name(t),
                 "counts": {s: by.get((t, s), 0) for s in REVIEW_STATES}} for t in ids]

    @app.get("/api/feeds", tags=["health"])
    def api_feeds() -> list[dict[str, Any]]:
        """Each feed's health: last poll and success, failures and since when, counters."""
        return [{
            "name": fd.name, "url": fd.url, "source": fd.source, "enabled": fd.enabled,
            "last_poll": _iso(fd.last_poll_at), "last_success": _iso(fd.last_success_at),
            "http_status": fd.last_status, "failing_since": _iso(fd.failing_since),
            "consecutive_failures": fd.consecutive_failures, "last_error": fd.last_error,
            "polls": fd.polls_total, "errors": fd.errors_total, "articles": fd.articles_total,
            "next_poll": _iso(fd.next_poll_at),
        } for fd in store.feed_states(include_disabled=True)]

    @app.get("/api/stats", tags=["health"])
    def api_stats(days: Annotated[int, Query(ge=1, le=3650)] = CHART_DAYS) -> dict[str, Any]:
        """The dashboard's numbers: flagged per day per topic, counts by source, review backlog."""
        since = _day_start(datetime.now(UTC).date() - timedelta(days=days - 1))
        backlog = store.backlog()
        return {
            "per_day": [{"day": d.isoformat(), "topic": t, "flagged": n} for d, t, n in store.flagged_per_day(since)],
            "sources": [{"source": s.source, "flagged": s.flagged, "unreviewed": s.unreviewed,
                         "relevant": s.relevant, "irrelevant": s.irrelevant} for s in store.source_counts()],
            "backlog": {"counts": backlog.counts, "oldest_unreviewed": _iso(backlog.oldest_unreviewed),
                        "by_topic": backlog.by_topic},
        }

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if path.startswith("/api/") or wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if path in ("/feed.atom", "/metrics", "/healthz"):
            return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)
        return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                      status=exc.status_code)

    return app


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _safe_next(target: str) -> str:
    """Only same-site paths after login (no open redirect to another site)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _host_name(header: str) -> str:
    """The host part of a Host header: `127.0.0.1:8080` → `127.0.0.1`, `[::1]:80` → `[::1]`."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]
