"""Canonical article URLs.

The canonical URL is the key that dedupes an article across feeds: Dawn's home and
Pakistan feeds, and a news-search feed, may all link the same story with different
tracking parameters, fragments, host case or ports. w3lib does the RFC 3986 work
(percent-encoding, IDNA, dot segments, query order); this module adds what is
specific to news links: tracking parameters and opaque redirect tokens.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, url_query_cleaner

from crawler.settings import MAX_URL_LENGTH

__all__ = ["TRACKING_PARAMS", "canonicalize", "host_of", "is_opaque_link"]

TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # ad-click and social identifiers
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "li_fat_id", "igshid", "igsh", "srsltid", "_ga", "_gl",
        # mail campaigns (Mailchimp, HubSpot, Marketo, Vero)
        "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "vero_id", "vero_conv",
        # campaign tags used by publishers and analytics suites
        "cmpid", "cmp", "icid", "ocid", "ncid", "s_cid", "s_kwcid", "xtor", "wt.mc_id",
        "ito", "sr_share", "ref_src", "ref_url", "ns_source", "ns_mchannel", "ns_campaign",
        "ns_linkname", "ns_fee", "at_medium", "at_campaign", "at_custom1", "at_custom2",
        "at_custom3", "at_custom4", "__twitter_impression", "smid", "spm", "trk",
        "trkcampaign",
    }
)
"""Query parameters that identify a campaign or a click, never the article (case-insensitive)."""

_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "hsa_", "piwik_", "matomo_", "oly_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = frozenset(_DEFAULT_PORTS)

# Links that a reader's browser resolves with JavaScript or a click-through page: fetching
# them yields an interstitial, not the article.
_OPAQUE = (
    re.compile(r"^news\.google\.[a-z.]+$"),
    re.compile(r"^(?:/__i)?/rss/articles/|^/articles/|^/read/|^/__i/rss/rd/articles/"),
)
_OPAQUE_OTHER = {
    ("www.bing.com", "/news/apiclick.aspx"),
    ("bing.com", "/news/apiclick.aspx"),
    ("www.google.com", "/url"),
    ("google.com", "/url"),
}


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical form of `url`, resolved against `base` when relative.

    Lower-cases scheme and host (IDNA-encoded), drops the default port, the fragment and
    tracking parameters, sorts the remaining query and normalises percent-encoding.
    Raises `ValueError` for anything but an absolute http(s) URL of at most
    `MAX_URL_LENGTH` characters: a `file:`, `ftp:` or `javascript:` link in a feed must
    never be stored, let alone shown to a reviewer as the original.
    """
    raw = url.strip()
    if not raw:
        raise ValueError("empty URL")
    if len(raw) > MAX_URL_LENGTH:
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters")
    if base:
        raw = urljoin(base.strip(), raw)
    elif raw.startswith("//"):
        raw = "https:" + raw
    parts = urlsplit(raw)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url[:100]!r}")
    if parts.scheme.lower() not in _SCHEMES:
        raise ValueError(f"not an http(s) URL: {url[:100]!r}")
    if parts.query:
        names = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        tracking = [name for name in names if _is_tracking(name)]
        if tracking:
            raw = url_query_cleaner(raw, tracking, remove=True, unique=False, keep_fragments=True)
    canon = canonicalize_url(raw, keep_fragments=False)
    parts = urlsplit(canon)
    netloc = parts.netloc
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in URL: {url!r}") from exc
    if port is not None and _DEFAULT_PORTS.get(parts.scheme) == port:
        netloc = netloc.rsplit(":", 1)[0]
    host = parts.hostname or ""
    if host.endswith("."):
        netloc = netloc.replace(host, host.rstrip("."), 1)
    canon = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    if len(canon) > MAX_URL_LENGTH:  # percent-encoding can lengthen a URL
        raise ValueError(f"URL longer than {MAX_URL_LENGTH} characters")
    return canon


def host_of(url: str) -> str:
    """The lower-case, IDNA-encoded host of `url` without port or trailing dot ('' if none).

    `www.` is kept: politeness limits are per host, and `www.x` and `x` may be
    different servers.
    """
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if not host or host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def is_opaque_link(url: str) -> bool:
    """True for redirect tokens (Google News `/rss/articles/…`) that cannot be fetched usefully.

    Such entries are matched on their title and summary instead of their page.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".")
    path = parts.path or "/"
    if _OPAQUE[0].match(host) and _OPAQUE[1].match(path):
        return True
    return (host, path.rstrip("/").lower()) in _OPAQUE_OTHER
