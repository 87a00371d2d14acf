"""What the review app's routers share: the request context, the listing's filters, CSRF, lookups.

The app (`app.py`) builds one `Context` and keeps it on `app.state`; the page and
API routers (`pages.py`, `api.py`) receive it as a dependency, so no route is a
closure and each router can be read on its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from storage import ReviewFilter, ReviewState, Store, StoredArticle

from ..models import document_of
from ..rules import RuleSet
from ..settings import LoadedConfig
from .clauses import clause_tree
from .security import CSRF_COOKIE, Guard

__all__ = ["CSRF", "MAX_ID", "ArticleId", "Context", "Ctx", "Filters", "FiltersDep", "Offset", "Reviewer",
           "StoryId", "Why", "article_or_404", "day_start", "reviewer_of", "wants_json"]

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in PostgreSQL's schema: a larger one cannot exist, and past 64 bits
SQLite cannot even be asked (an OverflowError, a 500), so the app answers 422 before asking."""
MAX_OFFSET = 2**31 - 1

ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="An article's id.")]
StoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="A story's id (its first article's id).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip, for paging.")]

T = TypeVar("T")

WHY_CACHE_SIZE = 128
"""Collapsed clause trees kept (a few KB each): a reviewer going back and forth pays once."""


@dataclass(frozen=True, slots=True)
class Why:
    """Why a stored match matched, as the article page shows it: its clause trees, rendered."""

    clauses: Markup
    exclude: Markup | None
    excluded: bool


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
    _memo: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    _why: OrderedDict[tuple[Any, ...], Why] = field(default_factory=OrderedDict)
    _why_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def page_size(self) -> int:
        return self.config.settings.review.page_size

    def base_url(self, request: Request) -> str:
        return self.config.settings.review.base_url or str(request.base_url).rstrip("/")

    def topic_name(self, topic: str) -> str:
        return self.topic_names.get(topic, topic)

    def derived(self, name: str, compute: Callable[[], T], *, arg: Any = None) -> T:
        """`compute()`, kept until a match is added, removed or marked (`Store.review_version`)
        or `arg` (what `compute` depends on besides the matches, e.g. a day) changes.

        For what every page derives from all the matches (filter menus, dashboard counts):
        at 100,000 articles each read thousands of article rows, while the version is two
        index reads.
        """
        version = (self.store.review_version(), arg)
        kept = self._memo.get(name)
        if kept is not None and kept[0] == version:
            return kept[1]  # type: ignore[no-any-return]
        value = compute()
        self._memo[name] = (version, value)
        return value

    def why(self, art: StoredArticle, *, full: bool = False, more_url: str = "") -> dict[str, Why]:
        """Each match's clause tree (topics in force only), rebuilt from the stored text and rendered.

        Matches store no tree; rebuilding one costs the engine tens of milliseconds, so the
        collapsed trees are kept, keyed by article, its content hash and the rules version
        (an edited article or another rule set is another key). The full tree is asked for
        rarely and is large: it is built each time.
        """
        if self.rules is None:
            return {}
        known = {t.id for t in self.rules.topics}
        out: dict[str, Why] = {}
        doc = None
        for m in art.matches:
            if m.topic_id not in known:
                continue
            link = f"{more_url}#why-{quote(m.topic_id)}" if more_url else ""
            key = (art.id, art.content_hash, self.rules.version, m.topic_id, link)
            if not full:
                with self._why_lock:
                    cached = self._why.get(key)
                    if cached is not None:
                        self._why.move_to_end(key)
                        out[m.topic_id] = cached
                        continue
            doc = doc or document_of(art)
            exp = self.rules.explain(doc, m.topic_id)
            exclude = exp.get("exclude_clauses")
            why = Why(clauses=clause_tree(exp["clauses"], full=full, more_url=link),
                      exclude=clause_tree(exclude, full=full, more_url=link) if exclude else None,
                      excluded=bool(exp.get("excluded")))
            out[m.topic_id] = why
            if not full:
                with self._why_lock:
                    self._why[key] = why
                    while len(self._why) > WHY_CACHE_SIZE:
                        self._why.popitem(last=False)
        return out

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
