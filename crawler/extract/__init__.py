"""Article extraction: from a fetched page to an `Article`.

Three extractors, most precise first: the site's profile from `config/sites.toml`, then
the page's JSON-LD `articleBody`, then our generic main-content extractor. Each result
must look like an article body (enough text) or the next extractor is tried, so a
publisher's layout change degrades to a generic extraction instead of empty text.
Metadata comes from JSON-LD and meta tags whichever extractor wins the body.

`extract` never raises: hostile or broken pages give an empty or partial `Article`.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.models import Article

from .charset import decode_html
from .dates import parse_date
from .generic import extract_generic, is_plausible_body, node_paragraphs
from .jsonld import find_article, json_ld_objects
from .metadata import Metadata, clean_authors, extract_metadata
from .nesting import limit_nesting
from .profiles import (
    SiteProfile,
    SiteProfiles,
    StaleProfile,
    default_profiles,
    load_site_profiles,
    stale_profiles,
)
from .text import clean_paragraph, clean_text

__all__ = [
    "Extraction",
    "SiteProfile",
    "SiteProfiles",
    "StaleProfile",
    "decode_html",
    "extract",
    "extract_page",
    "load_site_profiles",
    "stale_profiles",
]

log = logging.getLogger(__name__)

# Pages larger than this are cut: no article needs more, and it bounds the work.
MAX_HTML_CHARS = 12_000_000
_MIN_JSON_LD_CHARS = 200


@dataclass(slots=True)
class Extraction:
    """An extracted article, and what a site's maintainer needs to know about how."""

    article: Article = field(default_factory=Article)
    profile_failed: str | None = None
    """The site profile that matched the URL but found no body, so another method was
    used: counted per profile, it tells that a site changed its markup."""


def extract(
    html: str | bytes,
    url: str,
    *,
    content_type: str | None = None,
    profiles: SiteProfiles | None = None,
) -> Article:
    """Extract an article's body and metadata from a page; never raises.

    `profiles=None` uses the default profiles (`config/sites.toml`); pass an empty
    `SiteProfiles()` for profile-free extraction.
    """
    return extract_page(html, url, content_type=content_type, profiles=profiles).article


def extract_page(
    html: str | bytes,
    url: str,
    *,
    content_type: str | None = None,
    profiles: SiteProfiles | None = None,
) -> Extraction:
    """`extract`, also saying which site profile, if any, failed on the page; never raises."""
    result = Extraction()
    try:
        _extract(html, url, content_type, profiles, result)
    except Exception:  # the daemon must survive any page; the cause goes to the log
        log.warning("extraction failed for %s", url, exc_info=True)
        result.article = Article()
    return result


def _extract(
    html: str | bytes,
    url: str,
    content_type: str | None,
    profiles: SiteProfiles | None,
    result: Extraction,
) -> None:
    if isinstance(html, bytes | bytearray | memoryview):
        html = decode_html(bytes(html[:MAX_HTML_CHARS]), content_type)
    if not isinstance(html, str) or not html.strip():
        return
    if len(html) > MAX_HTML_CHARS:
        html = html[:MAX_HTML_CHARS]
    if "\x00" in html:
        html = html.replace("\x00", "")
    tree = LexborHTMLParser(limit_nesting(html))
    ld_article = find_article(json_ld_objects(tree))
    meta = extract_metadata(tree, url, ld_article)
    if profiles is None:
        profiles = default_profiles()
    profile = profiles.for_url(url)
    article = result.article = _article(meta)
    if profile is not None:
        article.site = profile.name
        _profile_metadata(tree, profile, article)
        text = _profile_body(tree, profile, article.title)
        if len(text) >= max(profile.min_chars, 1):
            article.text, article.method = text, f"profile:{profile.name}"
            return
        result.profile_failed = profile.name
        log.info("profile %s v%s found no body on %s", profile.name, profile.version, url)
    text = _json_ld_body(ld_article)
    if text:
        page_text = extract_generic(tree, article.title)
        if not _holds_more(page_text, text):
            article.text, article.method = text, "json-ld"
            return
        text = page_text  # the page holds the whole story and `articleBody` was cut short
    else:
        text = extract_generic(tree, article.title)
    if text:
        article.text, article.method = text, "generic"


def _article(meta: Metadata) -> Article:
    return Article(
        title=meta.title,
        published=meta.published,
        updated=meta.updated,
        authors=meta.authors,
        language=meta.language,
        canonical_url=meta.canonical_url,
        description=meta.description,
        site=meta.site_name,
    )


# The page's own text replaces `articleBody` when it is this much longer and holds this
# share of `articleBody`'s word runs: the same story, not cut short.
_FULLER = 1.5
_AGREE = 0.9
_WORD_RUN = re.compile(r"\w+")


def _holds_more(page_text: str, ld_text: str) -> bool:
    """Whether the page's body is `articleBody` and more: publishers often truncate it.

    The two must agree where they overlap (nearly all of `articleBody`'s four-word runs
    are on the page), so a page whose generic pick went wrong never replaces it.
    """
    if len(page_text) < _FULLER * len(ld_text):
        return False
    ld_words = _WORD_RUN.findall(ld_text)
    if len(ld_words) < 4:
        return False
    ld_runs = {tuple(ld_words[i : i + 4]) for i in range(len(ld_words) - 3)}
    page_words = _WORD_RUN.findall(page_text)
    page_runs = {tuple(page_words[i : i + 4]) for i in range(len(page_words) - 3)}
    return len(ld_runs & page_runs) >= _AGREE * len(ld_runs)


def _json_ld_body(ld_article: dict[str, Any] | None) -> str:
    """`articleBody` if it is a real body, not a teaser or an ellipsised excerpt."""
    if not ld_article:
        return ""
    body = ld_article.get("articleBody")
    if not isinstance(body, str):
        return ""
    if "<" in body and ">" in body:
        body = LexborHTMLParser(limit_nesting(body)).text(separator="\n")
    elif "&" in body:
        # A JSON string holds text, not HTML: its entities were escaped by mistake, and
        # pages that escape twice leave `&amp;quot;` that one unescape would not undo.
        body = html_lib.unescape(body)
    text = clean_text(body)
    if not is_plausible_body(text, _MIN_JSON_LD_CHARS):
        return ""
    if text.endswith(("...", "…", "[…]")) and len(text) < 1000:
        return ""
    return text


def _profile_body(tree: LexborHTMLParser, profile: SiteProfile, title: str) -> str:
    """Paragraphs of the article's own element, after the profile's `drop` selectors.

    `drop` edits a copy of that element, so when the profile fails, JSON-LD and the
    generic extractor still see the page as it was.
    """
    matched: list[LexborNode] = []
    for selector in profile.body:
        matched = tree.css(selector)
        if matched:
            break  # later selectors are fallbacks for older or alternative layouts
    paragraphs: list[str] = []
    for node in _article_elements(_outermost(matched)):
        if profile.drop:
            copy = LexborHTMLParser(node.html or "")
            for selector in profile.drop:
                for junk in copy.css(selector):
                    junk.decompose()
            node = copy.body or copy.root
            if node is None:
                continue
        paragraphs.extend(node_paragraphs(node, title))
    return "\n".join(paragraphs)


def _article_elements(nodes: list[LexborNode]) -> list[LexborNode]:
    """The article's own elements among a selector's matches.

    A second card with the same class elsewhere on the page (a teaser, a related story)
    must not leak into the body: the match with the most text is the article's, and
    matches beside it under the same parent are the rest of it (a body split into
    blocks, or a selector that names the paragraphs themselves).
    """
    if len(nodes) <= 1:
        return nodes
    best = max(nodes, key=lambda n: len(n.text(deep=True, strip=True)))
    parent = best.parent
    if parent is None:
        return [best]
    return [n for n in nodes if n.parent is not None and n.parent.mem_id == parent.mem_id]


def _outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """Drop matches nested in other matches so no paragraph is taken twice."""
    ids = {n.mem_id for n in nodes}
    out: list[LexborNode] = []
    seen: set[int] = set()
    for node in nodes:
        if node.mem_id in seen:
            continue
        seen.add(node.mem_id)
        parent, inside, hops = node.parent, False, 0
        while parent is not None and hops < 200:
            if parent.mem_id in ids:
                inside = True
                break
            parent, hops = parent.parent, hops + 1
        if not inside:
            out.append(node)
    return out


def _first_text(tree: LexborHTMLParser, selectors: tuple[str, ...]) -> list[LexborNode]:
    for selector in selectors:
        nodes = tree.css(selector)
        if nodes:
            return nodes
    return []


def _profile_metadata(tree: LexborHTMLParser, profile: SiteProfile, article: Article) -> None:
    """Fill fields that JSON-LD and meta tags left empty from the profile's selectors."""
    if not article.title and profile.title:
        nodes = _first_text(tree, profile.title)
        if nodes:
            article.title = clean_paragraph(nodes[0].text())
    if not article.authors and profile.byline:
        article.authors = clean_authors([n.text() for n in _first_text(tree, profile.byline)[:5]])
    if article.published is None and profile.date:
        for node in _first_text(tree, profile.date)[:3]:
            attrs = node.attributes
            for raw in (attrs.get("datetime"), attrs.get("title"), attrs.get("content"), node.text()):
                article.published = parse_date(raw)
                if article.published is not None:
                    return
