"""What the review app's routers share: the request context, the listing's filters, CSRF, lookups.

The app (`app.py`) builds one `Context` and keeps it on `app.state`; the page and
API routers (`pages.py`, `api.py`) receive it as a dependency, so no route is a
closure and each router can be read on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from storage import ReviewFilter, ReviewState, Store, StoredArticle

from ..models import document_of
from ..rules import RuleSet
from ..settings import LoadedConfig
from .security import CSRF_COOKIE, Guard

__all__ = ["CSRF", "MAX_ID", "ArticleId", "Context", "Ctx", "Filters", "FiltersDep", "Offset", "Reviewer",
           "StoryId", "article_or_404", "day_start", "reviewer_of", "wants_json"]

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL's schema: a larger one cannot exist, and past 64 bits
SQLite cannot even be asked (an OverflowError, a 500), so the app answers 422 before asking."""
MAX_OFFSET = 2**31 - 1

ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="An article's id.")]
StoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="A story's id (its first article's id).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip, for paging.")]


@dataclass(slots=True)
class Context:
    """What every request needs: config, storage, credentials, topic names."""

    config: LoadedConfig
    store: Store
    guard: Guard
    topic_names: dict[str, str]
    templates: Jinja2Templates
    rules: RuleSet | None = None
    """The topics in force, to rebuild a match's clause tree (matches store none)."""

    @property
    def page_size(self) -> int:
        return self.config.settings.review.page_size

    def base_url(self, request: Request) -> str:
        return self.config.settings.review.base_url or str(request.base_url).rstrip("/")

    def topic_name(self, topic: str) -> str:
        return self.topic_names.get(topic, topic)

    def add_clauses(self, art: StoredArticle) -> None:
        """Give each match its clause tree, rebuilt from the stored text under the rules in force."""
        if self.rules is None:
            return
        known = {t.id for t in self.rules.topics}
        for m in art.matches:
            if m.topic_id in known and "clauses" not in m.explanation:
                full = self.rules.explain(document_of(art), m.topic_id)
                m.explanation = {**m.explanation, "clauses": full["clauses"],
                                 "exclude_clauses": full["exclude_clauses"]}

    def render(self, request: Request, name: str, data: dict[str, Any], status: int = 200) -> HTMLResponse:
        """A page, with what every page needs (CSRF token, backlog count); sets the CSRF cookie once."""
        nonce = request.cookies.get(CSRF_COOKIE)
        fresh = not nonce
        if fresh:
            nonce = self.guard.new_nonce()
        assert nonce is not None
        who = reviewer_of(request)
        # someone not logged in (the login page) learns nothing of the database, not even a count
        backlog = self.store.review_counts().get("unreviewed", 0) if who is not None else 0
        near = self.store.near_miss_counts().get("unreviewed", 0) if who is not None else 0
        data = {"csrf_token": self.guard.csrf_token(nonce), "topic_names": self.topic_names,
                "auth": self.guard.enabled, "reviewer": who, "nav_backlog": backlog,
                "nav_near_misses": near, "nav": name, **data}
        response = self.templates.TemplateResponse(request, name, data, status_code=status)
        if fresh:
            response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                                secure=request.url.scheme == "https", path="/")
        return response


def _parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(400, f"{name}: expected a date such as 2026-11-01, got {value!r}") from None


def day_start(d: date) -> datetime:
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
    reviewer: str = ""

    def review_filter(self) -> ReviewFilter:
        since = _parse_day(self.since, "since")
        until = _parse_day(self.until, "until")
        return ReviewFilter(
            state=self.state, topic=self.topic or None, source=self.source or None,
            since=day_start(since) if since else None,
            until=day_start(until) + timedelta(days=1) if until else None,  # inclusive
            query=self.q or None, reviewer=self.reviewer or None,
        )

    def query(self, **change: Any) -> str:
        """The filters as a query string (defaults left out), with some values changed."""
        data = {"state": self.state, "topic": self.topic, "source": self.source,
                "since": self.since, "until": self.until, "q": self.q, "reviewer": self.reviewer} | change
        return urlencode({k: v for k, v in data.items()
                          if v not in ("", None) and not (k == "state" and v == "unreviewed")})

    @property
    def active(self) -> bool:
        return bool(self.topic or self.source or self.since or self.until or self.q or self.reviewer
                    or self.state != "unreviewed")


def filters_dep(
    state: Annotated[ReviewState | Literal["all"], Query()] = "unreviewed",
    topic: Annotated[str, Query(max_length=200)] = "",
    source: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(description="YYYY-MM-DD", max_length=10)] = "",
    until: Annotated[str, Query(description="YYYY-MM-DD, inclusive", max_length=10)] = "",
    q: Annotated[str, Query(description='Full-text search: words, "phrases", prefix*, a OR b, -excluded',
                            max_length=500)] = "",
    reviewer: Annotated[str, Query(description="Only matches this reviewer marked last.", max_length=64)] = "",
) -> Filters:
    f = Filters(state=str(state), topic=topic.strip(), source=source.strip(), since=since.strip(),
                until=until.strip(), q=q.strip(), reviewer=reviewer.strip())
    f.review_filter()  # reject bad dates with a 400 before any work
    return f


FiltersDep = Annotated[Filters, Depends(filters_dep)]


def reviewer_of(request: Request) -> str | None:
    """Who sent the request, as the app's middleware found (None: not logged in)."""
    return getattr(request.state, "reviewer", None)


def _reviewer_dep(request: Request) -> str:
    who = reviewer_of(request)
    if who is None:  # the middleware lets no such request through to a marking route
        raise HTTPException(401, "authentication required")
    return who


Reviewer = Annotated[str, Depends(_reviewer_dep)]
"""The reviewer making a request, recorded with each mark."""


def context_of(request: Request) -> Context:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[Context, Depends(context_of)]


async def require_csrf(request: Request, ctx: Ctx) -> None:
    """POSTs must carry the token of this browser's CSRF cookie (bearer-token clients are exempt)."""
    if ctx.guard.enabled and ctx.guard.bearer(request):
        return
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        token = str((await request.form()).get("csrf_token") or "")
    if not ctx.guard.csrf_ok(request, token):
        raise HTTPException(403, "The form's security token is missing or stale: reload the page and try again.")


CSRF = Depends(require_csrf)


def article_or_404(ctx: Context, article_id: int) -> StoredArticle:
    art = ctx.store.get_article(article_id)
    if art is None:
        raise HTTPException(404, f"no article with id {article_id}")
    return art


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")
