"""The review web app: server-rendered pages, a JSON API, an Atom feed, metrics.

Reviewers read flagged articles with the matched terms highlighted and why they
matched, and mark them with one key. Everything is rendered on the server (Jinja2,
autoescaped); the page's JavaScript only adds keyboard shortcuts. Article content
is untrusted: it is escaped before highlighting (see `render.highlight`), and the
Content-Security-Policy forbids inline scripts, so even a mistake could not run one.

This module builds the app: the context every route gets, the middleware (host check,
authentication, security headers) and the error pages; the routes are in `pages.py`
and `api.py`. Endpoints are plain (sync) functions: FastAPI runs them in its thread
pool, and the `Store` API is synchronous and short.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import SQLAlchemyError

from storage import FILTER_STATES, Store

from ..display import plural, relative_time
from ..reviewers import local_user
from ..rules import RuleSet
from ..settings import LoadedConfig
from . import api, pages
from .context import Context, wants_json
from .security import Guard

if TYPE_CHECKING:
    from ..rules import Topic

__all__ = ["create_app", "default_allowed_hosts", "warm_up"]

log = logging.getLogger("newswatch.web")

HERE = Path(__file__).resolve().parent
PUBLIC_PATHS = ("/healthz", "/login", "/static/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
"""Swagger UI sets inline styles; its scripts, like everything else, come from the app itself."""
SWAGGER_UI = files("fastapi_offline") / "static"
"""Swagger UI's files, as the fastapi-offline package ships them (kept current with Swagger UI 5)."""
STATE_LABELS = {state: state.capitalize() for state in FILTER_STATES}
"""How the pages name a review state (and the `all` filter)."""


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["ago"] = relative_time
    env.filters["plural"] = plural
    env.filters["quoted"] = quoted
    env.filters["stamp"] = lambda dt: dt.strftime("%Y-%m-%d %H:%M UTC") if dt else "—"
    env.filters["iso"] = lambda dt: dt.isoformat() if dt else ""
    env.globals["STATE_LABELS"] = STATE_LABELS
    return Jinja2Templates(env=env)


def quoted(query: str) -> str:
    """A search as the subtitle shows it: in quotes, unless it brings its own (`"a phrase"`)."""
    query = query.strip()
    return query if '"' in query else f"“{query}”"


def default_allowed_hosts(config: LoadedConfig) -> list[str] | None:
    """Host names accepted in requests; on loopback, a guard against DNS rebinding."""
    review = config.settings.review
    if review.token or review.users:
        return None  # anything may reach it; the tokens protect it
    hosts = ["127.0.0.1", "localhost", "::1", "[::1]"]
    if review.base_url:
        hosts.append(urlsplit(review.base_url).hostname or "")
    if review.host not in ("0.0.0.0", "::"):
        hosts.append(review.host)
    return [h for h in hosts if h]


def create_app(config: LoadedConfig, store: Store, topics: Sequence[Topic] = (), *,
               allowed_hosts: list[str] | None = None, secret: bytes | None = None) -> FastAPI:
    """The review app over `store`, with `topics`' names shown for their ids.

    `allowed_hosts` overrides the Host-header allow-list (None: loopback names when no
    token is set, any host otherwise). `secret` fixes the CSRF key (tests; default random).
    """
    names = {t.id: (t.name or t.id) for t in topics}
    review = config.settings.review
    guard = Guard(review.token, users=review.users, local=local_user(), secret=secret)
    ctx = Context(config=config, store=store, guard=guard, topic_names=names, templates=_templates(),
                  rules=RuleSet(list(topics)) if topics else None)
    hosts = allowed_hosts if allowed_hosts is not None else default_allowed_hosts(config)

    app = FastAPI(
        title="newswatch review API",
        version="1",
        description="Flagged articles, near misses, review marks, stories and feed health. When "
                    "`review.token` or `[review.users]` is set, send a token as `Authorization: Bearer "
                    "<token>` (a reviewer's own as `<name>:<token>`); marks record who made them.",
        openapi_url="/api/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/api/docs/assets", StaticFiles(directory=str(SWAGGER_UI)), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        """Swagger UI over `/api/openapi.json`, working offline: no file comes from a CDN."""
        return ctx.templates.TemplateResponse(request, "docs.html", {
            "title": app.title, "openapi_url": app.openapi_url})
    app.include_router(pages.router)
    app.include_router(api.router)

    @app.middleware("http")
    async def guard_requests(request: Request, call_next: Any) -> Response:
        if hosts is not None and _host_name(request.headers.get("host", "")) not in hosts:
            return PlainTextResponse("unknown host name\n", status_code=400)
        path = request.url.path
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse("cross-origin request refused\n", status_code=403)
        request.state.reviewer = ctx.guard.reviewer(request)
        if not path.startswith(PUBLIC_PATHS) and request.state.reviewer is None:
            wants_html = request.method == "GET" and not path.startswith(("/api/", "/metrics", "/feed.atom"))
            if wants_html:
                return RedirectResponse("/login?" + urlencode({"next": request.url.path + (
                    "?" + request.url.query if request.url.query else "")}), status_code=303)
            challenge = 'Basic realm="newswatch"' if path.startswith("/feed.atom") else 'Bearer realm="newswatch"'
            return JSONResponse({"detail": "authentication required"}, status_code=401,
                                headers={"WWW-Authenticate": challenge})
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if path.startswith("/api/docs") else CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if ctx.guard.enabled and not path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if path.startswith("/api/") or wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        if path in ("/feed.atom", "/metrics", "/healthz"):
            return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)
        return ctx.render(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                          status=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> Response:
        """A page asked with a bad id or offset gets the error page; the API keeps FastAPI's detail."""
        path = request.url.path
        if path.startswith("/api/") or wants_json(request) or request.method != "GET":
            return await request_validation_exception_handler(request, exc)
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                          for e in exc.errors())
        return ctx.render(request, "error.html", {"status": 422, "detail": where or "invalid request"},
                          status=422)

    return app


def warm_up(app: FastAPI) -> None:
    """Pay at start what the first requests would: compiled templates, planner statistics, cold pages.

    `serve` calls it before listening. Without it the first list page took 0.8 s at 100,000
    articles (every template compiled, the database's pages read from disk for the first
    time), and SQLite planned listings without statistics.
    """
    ctx: Context = app.state.ctx
    env = ctx.templates.env
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    store = ctx.store
    store.map_for_reading()
    try:
        store.refresh_planner_statistics()
    except SQLAlchemyError as exc:  # a read-only or busy file: slower plans, but the app still serves
        log.warning("web.statistics_skipped", extra={"fields": {"error": str(exc).splitlines()[0]}})
    first = store.review_page(limit=ctx.page_size).rows  # the list page's queries, as a reviewer's first look
    store.facets()
    store.review_counts()
    store.near_miss_counts()
    store.feed_states(include_disabled=False)
    if first:
        store.neighbours(first[0].id)
        if ctx.rules is not None:
            art = store.get_article(first[0].id)
            if art is not None:
                ctx.why(art)  # the engine's first explanation builds its indexes


def _host_name(header: str) -> str:
    """The host part of a Host header: `127.0.0.1:8080` → `127.0.0.1`, `[::1]:80` → `[::1]`."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]
