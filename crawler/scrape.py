"""One article page: fetch → type check → extract, the same way for the daemon and the CLI.

The pipeline, `newswatch extract URL` and `rules test --url` all read a page through
here, with the config's HTTP settings and site profiles, so what a user tries by
hand is what the daemon would store. A page that is not HTML, or that yields no
article text, comes back with `error` set rather than raising; only the fetch
itself raises (`FetchError`), because callers count and report that differently.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .extract import SiteProfiles, extract_page
from .fetch import Fetcher
from .models import Article
from .settings import HttpSettings

__all__ = ["HTML_TYPES", "PAGE_ACCEPT", "ScrapedPage", "read_page", "scrape", "scrape_now"]

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
"""Content types worth extracting; anything else (PDF, images, JSON) is not an article page."""


@dataclass(slots=True)
class ScrapedPage:
    """What one page gave: the final URL, and an article unless the page was not HTML."""

    url: str
    """Where the body came from, after redirects."""
    status: int | None
    article: Article | None
    """None when the content type is not one of `HTML_TYPES`."""
    error: str | None
    """Why the page gave no article text, if it gave none."""
    profile_failed: str | None = None
    """The site profile that matched this URL but found no body (another method was used)."""


def read_page(body: bytes, url: str, content_type: str | None, profiles: SiteProfiles | None,
              status: int | None = None) -> ScrapedPage:
    """Type check and extract a page already fetched (or read from a file: `content_type=None`)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(HTML_TYPES):
        return ScrapedPage(url=url, status=status, article=None, error=f"not an HTML page ({ctype})")
    result = extract_page(body, url, content_type=content_type, profiles=profiles)
    article = result.article
    error = None if article.text.strip() else "no article text found on the page"
    return ScrapedPage(url=url, status=status, article=article, error=error,
                       profile_failed=result.profile_failed)


async def scrape(fetcher: Fetcher, link: str, profiles: SiteProfiles | None) -> ScrapedPage:
    """Fetch `link` with the daemon's fetcher and read it; raises `FetchError`."""
    page = await fetcher.fetch(link, accept=PAGE_ACCEPT)
    return await asyncio.to_thread(read_page, page.body, page.url, page.content_type, profiles,
                                   page.status)


def scrape_now(link: str, http: HttpSettings, profiles: SiteProfiles | None) -> ScrapedPage:
    """`scrape` outside the daemon, with a fetcher of its own (for the CLI); raises `FetchError`."""

    async def run() -> ScrapedPage:
        async with Fetcher(http) as fetcher:
            return await scrape(fetcher, link, profiles)

    return asyncio.run(run())
