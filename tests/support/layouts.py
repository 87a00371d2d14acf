"""Labelled coverage served as real news pages: six layouts, their feeds, and the scoring.

A topic that scores well on clean excerpts can still fail a user once the excerpt sits
inside a real page: the body's extractor may let a "Most read" box or a "Related posts"
teaser into the text, take the headline from the wrong place, or fall back to a feed
summary.  Here each labelled record (read in place from `../shared`) is rendered into
six page templates written for the project in the shapes common CMSs produce:

- `dawn`: a `story__content` page with "More on this" cards reusing the story's classes;
- `wordpress`: `entry-content` with "Also read" lines, Jetpack-style related posts, tags,
  post navigation, comments and a widget sidebar;
- `nextjs`: an Arc/Next.js page with hashed class names, JSON-LD `articleBody` and
  `__NEXT_DATA__`, an inline "More on this" card and a "Most read" rail;
- `divsoup`: no semantic tags at all, teasers as unlinked sentences beside the story;
- `amp`: an AMP page with `amp-sidebar`, `amp-ad` and a "Trending now" list;
- `legacy`: a table layout with `<font>` tags and boxes of headlines in table cells.

The furniture is about the topic on purpose: its headlines and teaser sentences speak
of India–Pakistan secret talks, back channels, NSA meetings and Track II, so any of it
that leaks into a negative's body turns up as a false alarm.  All of it is invented
here.  Every record appears in two layouts, and each layout of each set is its own
feed: RSS 2.0 with a summary, RSS with `content:encoded`, Atom with a summary or full
content, dated as the records are (some from 1999–2010) or undated when they are.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from tests.support.server import LoopbackServer

__all__ = [
    "LAYOUTS",
    "SETS",
    "CoverageSite",
    "Figures",
    "Layout",
    "Story",
    "poll_config",
    "poll_site",
    "read_sets",
    "read_stories",
    "report",
    "score",
]

SETS = ("topic-real", "topic-dev")
"""The labelled sets in `../shared`, each `<name>/articles.jsonl`."""

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------------------
# The records


@dataclass(frozen=True, slots=True)
class Story:
    """One labelled record as a page shows it."""

    set_name: str
    key: str
    """The record's id, made safe for a URL path."""
    record_id: str
    title: str
    paragraphs: tuple[str, ...]
    label: int | None
    """1 or 0; None for a borderline record (served and stored, left out of the figures)."""
    date: str
    """The date as the record gives it: "", "2015", "2015-12" or "2015-12-03"."""
    language: str
    source: str

    @property
    def published(self) -> datetime | None:
        """The record's date at the precision it has (a missing month or day is the first)."""
        parts = [int(p) for p in self.date.split("-")[:3] if p.isdigit()]
        if not parts:
            return None
        parts += [1] * (3 - len(parts))
        return datetime(parts[0], parts[1], parts[2], 6, 30, tzinfo=UTC)


_DEVANAGARI = re.compile("[\u0900-\u097f]")
_ARABIC = re.compile("[\u0600-\u06ff]")
_UNSAFE = re.compile(r"[^a-z0-9]+")


def _language(title: str, text: str) -> str:
    """The page's language: the records gloss non-English titles with "(Hindi)" and such."""
    gloss = title.lower()
    if "(marathi" in gloss:
        return "mr"
    if _DEVANAGARI.search(text):
        return "hi"
    if _ARABIC.search(text):
        return "ur"
    return "en"


def read_stories(path: Path, set_name: str) -> list[Story]:
    """The records of one labelled set, in file order."""
    stories: list[Story] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        raw = row.get("label")
        label = int(raw) if raw in (0, 1, "0", "1") else None
        title, text = str(row.get("title") or ""), str(row.get("text") or "")
        record_id = str(row.get("id") or f"line-{n + 1}")
        stories.append(Story(
            set_name=set_name,
            key=_UNSAFE.sub("-", record_id.lower()).strip("-")[:80] or f"line-{n + 1}",
            record_id=record_id,
            title=title,
            paragraphs=tuple(p.strip() for p in text.split("\n") if p.strip()),
            label=label,
            date=str(row.get("date") or row.get("published") or "")[:10],
            language=_language(title, text),
            source=str(row.get("outlet") or row.get("source") or ""),
        ))
    return stories


# ---------------------------------------------------------------------------------------
# Furniture about the topic (invented for these tests)

HEADLINES = (
    "NSAs of India and Pakistan met secretly in Bangkok, officials say",
    "Backchannel talks between New Delhi and Islamabad resume after a long pause",
    "Track II dialogue in Dubai brings retired Indian and Pakistani diplomats together",
    "Pakistan denies any back channel with India ahead of ceasefire anniversary",
    "Secret talks in London: what we know about the India-Pakistan contacts",
    "Former envoys say quiet contacts between India and Pakistan never stopped",
    "DGMO hotline: Indian and Pakistani officers spoke again on Tuesday",
    "Special envoy shuttled between Islamabad and New Delhi in secret, sources claim",
    "Inside the backroom deal that revived the Line of Control truce",
    "Neemrana-style Track II round planned in Colombo next month",
    "Intelligence chiefs of India and Pakistan held covert meeting in Abu Dhabi",
    "Why the India-Pakistan back channel keeps surviving every crisis",
)
TEASERS = (
    "Officials in Islamabad and New Delhi said the national security advisers held secret "
    "talks in a Gulf capital last week, the first such contact in months.",
    "The back channel between India and Pakistan, run by trusted aides of both prime "
    "ministers, has quietly met three times since spring, diplomats told us.",
    "Retired generals and former foreign secretaries from India and Pakistan met behind "
    "closed doors for a Track II round on Kashmir and the ceasefire.",
    "A Pakistani official confirmed that the two NSAs had been in touch by phone and had "
    "met once in a third country, away from the cameras.",
    "Sources said the secret channel between New Delhi and Islamabad helped the two armies "
    "agree on the February ceasefire along the Line of Control.",
    "The envoy's hush-hush trip to New Delhi was arranged through backchannel contacts "
    "between the Indian and Pakistani security establishments.",
)
NAV = ("Home", "Pakistan", "India", "World", "Business", "Opinion", "Sport", "Videos")
PROMO = ("Sign up for our South Asia briefing: backchannel diplomacy, India-Pakistan talks and "
         "the week's security news, in your inbox every Friday.")
COMMENTS = (
    "Good to see the back channel working again. India and Pakistan must keep talking quietly, "
    "whatever the politicians say in public.",
    "Secret talks never achieved anything between Delhi and Islamabad. Make the NSA meetings public.",
    "Track II is where the real diplomacy between Pakistan and India has always happened.",
)


def _pick(items: tuple[str, ...], n: int, k: int) -> list[str]:
    """`k` items starting at a rotating offset, so pages differ from one another."""
    return [items[(n * 5 + i) % len(items)] for i in range(k)]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _cards(seed: int, k: int, item: str) -> str:
    """`k` teaser cards of invented headlines and teasers, each `item` formatted with
    `num` (1, 2, …), `n` (a number for links), `head` and `tease` (both escaped)."""
    pairs = zip(_pick(HEADLINES, seed, k), _pick(TEASERS, seed + 1, k), strict=True)
    return "".join(item.format(num=i + 1, n=seed + i, head=_e(h), tease=_e(t)) for i, (h, t) in enumerate(pairs))


# ---------------------------------------------------------------------------------------
# Page templates


@dataclass(frozen=True, slots=True)
class Page:
    """What a template needs beyond the story: where it lives and its place in the site."""

    url: str
    n: int
    site: str
    """The site's name, as its `<title>` suffix and logo show it."""


def _date_words(story: Story) -> str:
    when = story.published
    return when.strftime("%B %d, %Y") if when else ""


def _iso(story: Story) -> str:
    when = story.published
    return when.isoformat() if when else ""


def _paras(story: Story, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return "".join(f"<p{attr}>{_e(p)}</p>" for p in story.paragraphs)


def _head(story: Story, page: Page, extra: str = "", *, og: bool = True, sep: str = " - ") -> str:
    metas = [f'<meta charset="utf-8"><title>{_e(story.title)}{sep}{_e(page.site)}</title>',
             f'<link rel="canonical" href="{_e(page.url)}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">']
    if og:
        metas.append(f'<meta property="og:title" content="{_e(story.title)}">'
                     f'<meta property="og:type" content="article">'
                     f'<meta property="og:site_name" content="{_e(page.site)}">')
        if story.published:
            metas.append(f'<meta property="article:published_time" content="{_iso(story)}">')
    return "<head>" + "".join(metas) + extra + "</head>"


def _html_open(story: Story, extra: str = "") -> str:
    rtl = ' dir="rtl"' if story.language == "ur" else ""
    return f'<!doctype html><html lang="{story.language}"{rtl}{extra}>'


def _nav_links(sep: str = "") -> str:
    return sep.join(f'<a href="/{w.lower()}">{w}</a>' for w in NAV)


def _in_middle(paragraphs: str, story: Story, insert: str) -> str:
    """`insert` placed after the story's first half of paragraphs, as CMSs place inline boxes."""
    cut = max(1, len(story.paragraphs) // 2)
    parts = paragraphs.split("</p>")
    return "</p>".join(parts[:cut]) + "</p>" + insert + "</p>".join(parts[cut:])


def dawn_page(story: Story, page: Page) -> str:
    """A Dawn-like page: the headline in `h2.story__title`, the body in `div.story__content`,
    and "More on this" cards that reuse the story's own `story` and `story__excerpt` classes."""
    cards = "".join(
        f'<article class="box story"><h2 class="story__title"><a class="story__link" href="/news/{page.n + i + 1}">'
        f'{_e(h)}</a></h2><div class="story__excerpt">{_e(t)}</div></article>'
        for i, (h, t) in enumerate(zip(_pick(HEADLINES, page.n, 3), _pick(TEASERS, page.n, 3), strict=True)))
    popular = "".join(
        f'<li><article class="box"><a href="/news/{page.n + 40 + i}">{_e(h)}</a>'
        f'<div class="story__excerpt">{_e(t)}</div></article></li>'
        for i, (h, t) in enumerate(zip(_pick(HEADLINES, page.n + 3, 4), _pick(TEASERS, page.n + 1, 4), strict=True)))
    return (
        _html_open(story) + _head(story, page, sep=" - ")
        + '<body><header class="header"><a class="logo" href="/">' + _e(page.site) + "</a>"
        + '<nav class="nav"><ul>' + "".join(f"<li>{a}</li>" for a in _nav_links("\n").split("\n")) + "</ul></nav></header>"
        + '<div class="container"><div class="flex"><main class="w-full sm:w-8/12">'
        + f'<article class="story" data-id="{page.n}"><h2 class="story__title"><a class="story__link" '
        + f'href="{_e(page.url)}">{_e(story.title)}</a></h2>'
        + '<div class="story__byline"><span class="story__byline__name"><a href="/authors/1">Our Correspondent</a>'
        + f'</span> <span class="story__time"><span class="timestamp--date">{_date_words(story)}</span></span></div>'
        + f'<div class="story__content">{_paras(story)}</div></article>'
        + '<div class="story__tags"><a href="/tags/india">India</a> <a href="/tags/pakistan">Pakistan</a></div>'
        + f'<section class="widget"><h3>More on this</h3>{cards}</section></main>'
        + f'<aside class="sidebar w-4/12"><div class="widget"><h3>Most popular</h3><ol>{popular}</ol></div>'
        + f'<div class="widget newsletter"><h3>Newsletter</h3><p>{_e(PROMO)}</p></div></aside></div></div>'
        + f'<footer class="footer"><p>Copyright © 2026 {_e(page.site)}. All rights reserved.</p></footer></body></html>'
    )


def wordpress_page(story: Story, page: Page) -> str:
    """A WordPress theme: `entry-content` with an "Also read" line, share buttons and
    Jetpack-style related posts inside it; tags, post navigation, comments, widgets after."""
    heads, teas = _pick(HEADLINES, page.n, 5), _pick(TEASERS, page.n, 3)
    also = f'<p><strong>Also read: <a href="/also/{page.n}">{_e(heads[4])}</a></strong></p>'
    related = "".join(
        f'<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title"><a href="/related/{page.n + i}">'
        f'{_e(h)}</a></h4><p class="jp-relatedposts-post-excerpt">{_e(t)}</p>'
        f'<p class="jp-relatedposts-post-context">In "Pakistan"</p></div>'
        for i, (h, t) in enumerate(zip(heads[:3], teas, strict=True)))
    comments = "".join(
        f'<li class="comment"><article class="comment-body"><footer class="comment-meta">'
        f'<b class="fn">Reader {i + 1}</b> says:</footer><div class="comment-content"><p>{_e(c)}</p></div></article></li>'
        for i, c in enumerate(COMMENTS))
    trending = "".join(f'<li><a href="/t/{i}">{_e(h)}</a></li>' for i, h in enumerate(_pick(HEADLINES, page.n + 2, 5)))
    return (
        _html_open(story) + _head(story, page, sep=" &#8211; ")
        + '<body class="post-template-default single single-post"><div id="page" class="site">'
        + f'<header id="masthead" class="site-header"><p class="site-title"><a href="/">{_e(page.site)}</a></p>'
        + f'<nav id="site-navigation" class="main-navigation"><ul><li>{_nav_links("</li><li>")}</li></ul></nav></header>'
        + '<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">'
        + f'<article id="post-{page.n}" class="post-{page.n} post type-post status-publish format-standard hentry">'
        + f'<header class="entry-header"><h1 class="entry-title">{_e(story.title)}</h1><div class="entry-meta">'
        + f'<span class="posted-on"><time class="entry-date published" datetime="{_iso(story)}">{_date_words(story)}'
        + '</time></span><span class="byline"> by <span class="author vcard"><a href="/author/desk">Web Desk</a>'
        + '</span></span></div></header>'
        + '<div class="entry-content">' + _in_middle(_paras(story), story, also)
        + '<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul>'
        + '<li><a href="/share/x">X</a></li><li><a href="/share/fb">Facebook</a></li></ul></div>'
        + '<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>Related</em></h3>'
        + f'<div class="jp-relatedposts-items">{related}</div></div></div>'
        + '<footer class="entry-footer"><span class="cat-links">Posted in <a href="/c/pakistan">Pakistan</a></span> '
        + '<span class="tags-links">Tagged <a href="/t/backchannel">backchannel</a>, <a href="/t/india">India</a></span>'
        + '</footer></article>'
        + f'<nav class="navigation post-navigation"><div class="nav-previous"><a href="/p/{page.n}">{_e(heads[3])}</a></div>'
        + f'<div class="nav-next"><a href="/n/{page.n}">{_e(heads[1])}</a></div></nav>'
        + f'<div id="comments" class="comments-area"><h2 class="comments-title">3 thoughts on “{_e(story.title)}”</h2>'
        + f'<ol class="comment-list">{comments}</ol><div id="respond" class="comment-respond">'
        + '<h3 id="reply-title">Leave a Reply</h3></div></div></main></div>'
        + '<aside id="secondary" class="widget-area"><section class="widget widget_recent_entries">'
        + f'<h2 class="widget-title">Trending</h2><ul>{trending}</ul></section>'
        + '<section class="widget widget_text"><h2 class="widget-title">Newsletter</h2>'
        + f'<div class="textwidget"><p>{_e(PROMO)}</p></div></section></aside></div>'
        + f'<footer id="colophon" class="site-footer"><div class="site-info">© 2026 {_e(page.site)}</div></footer>'
        + '</div></body></html>'
    )


def nextjs_page(story: Story, page: Page) -> str:
    """An Arc/Next.js page: hashed CSS-module classes, JSON-LD with `articleBody`, the
    story and its related list again in `__NEXT_DATA__`, a "More on this" card inside the
    body and a "Most read" rail of whole-card links."""
    heads, teas = _pick(HEADLINES, page.n + 1, 5), _pick(TEASERS, page.n + 2, 4)
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": story.title,
          "mainEntityOfPage": page.url, "author": [{"@type": "Person", "name": "Staff Writer"}],
          "publisher": {"@type": "Organization", "name": page.site},
          "articleBody": " ".join(story.paragraphs), "inLanguage": story.language}
    if story.published:
        ld["datePublished"] = ld["dateModified"] = _iso(story)
    data = {"props": {"pageProps": {"story": {
        "headline": {"basic": story.title},
        "content_elements": [{"type": "text", "content": p} for p in story.paragraphs]},
        "related": [{"headline": h, "description": t} for h, t in zip(heads, teas, strict=False)]}},
        "page": "/[...slug]", "buildId": "b1"}
    card = (f'<div class="styles_inlineRelated__k3Pq"><span class="styles_label__x1">More on this</span>'
            f'<a href="/world/{page.n}"><span>{_e(heads[0])}</span></a></div>')
    rail = "".join(
        f'<li class="styles_item__9f2"><a href="/world/{page.n + i}"><h3>{_e(h)}</h3><p>{_e(t)}</p></a></li>'
        for i, (h, t) in enumerate(zip(heads[1:], teas, strict=True)))
    return (
        _html_open(story)
        + _head(story, page, '<script type="application/ld+json">'
                + json.dumps(ld, ensure_ascii=False).replace("</", "<\\/") + "</script>", sep=" | ")
        + '<body><div id="__next"><div class="styles_layout__Xk29a">'
        + f'<div class="styles_topbar__a1Zq">{_nav_links()}</div>'
        + '<div class="styles_grid__9fLm"><div class="styles_main__2bQe">'
        + f'<div class="styles_head__Qm1"><h1 class="headline_h__Qm1x">{_e(story.title)}</h1>'
        + f'<div class="byline_b__7Kd"><span>By Staff Writer</span> <time datetime="{_iso(story)}">'
        + f'{_date_words(story)}</time></div></div>'
        + '<div class="article-body_body__Zz1" data-testid="article-body">'
        + _in_middle(_paras(story, "b-paragraph"), story, card) + "</div></div>"
        + f'<div class="styles_rail__44xy"><div class="styles_mostRead__1Ab"><h2>Most read</h2><ol>{rail}</ol></div></div>'
        + f'</div><div class="styles_bottom__0p"><p>© 2026 {_e(page.site)}</p></div></div></div>'
        + '<script id="__NEXT_DATA__" type="application/json">'
        + json.dumps(data, ensure_ascii=False).replace("</", "<\\/") + "</script></body></html>"
    )


def divsoup_page(story: Story, page: Page) -> str:
    """A page with no semantic tags and meaningless classes: the story's column also holds
    a "More on this" box of linked headlines, each with an unlinked teaser sentence."""
    item = '<div class="it"><a href="/article.php?id={n}">{head}</a><div class="ds">{tease}</div></div>'
    box, side = _cards(page.n + 2, 3, item), _cards(page.n + 5, 3, item)
    return (
        _html_open(story) + _head(story, page, sep=" :: ")
        + f'<body><div class="wrap"><div class="top"><div class="lg"><a href="/">{_e(page.site)}</a></div>'
        + f'<div class="m">{_nav_links(" | ")}</div></div>'
        + f'<div class="row"><div class="c8"><div class="hd"><h1>{_e(story.title)}</h1></div>'
        + f'<div class="dt">{_date_words(story)} | Our Correspondent</div>'
        + f'<div class="txt">{_paras(story)}</div>'
        + f'<div class="blk"><div class="bh">More on this</div>{box}</div></div>'
        + f'<div class="c4"><div class="blk"><div class="bh">Most read</div>{side}</div>'
        + f'<div class="blk"><div class="bh">Get our newsletter</div><div>{_e(PROMO)}</div></div></div></div>'
        + f'<div class="btm">Copyright 2026 {_e(page.site)}. All rights reserved.</div></div></body></html>'
    )


def amp_page(story: Story, page: Page) -> str:
    """An AMP page: `amp-sidebar` menu, `amp-img`, `amp-ad` in the body, JSON-LD without
    a body, and a "Trending now" list of headlines with teaser sentences."""
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": story.title,
          "description": story.paragraphs[0][:160] if story.paragraphs else ""}
    if story.published:
        ld["datePublished"] = _iso(story)
    trending = _cards(page.n + 4, 4, '<li><a href="/amp/story/t{n}"><amp-img src="/i/{num}.jpg" width="80" '
                      'height="60"></amp-img><span>{head}</span></a><p>{tease}</p></li>')
    ad = ('<amp-ad width="300" height="250" type="doubleclick" data-slot="/123/article">'
          '<div placeholder>Advertisement</div></amp-ad>')
    return (
        _html_open(story, " amp")
        + _head(story, page, '<script async src="https://cdn.ampproject.org/v0.js"></script>'
                '<style amp-boilerplate>body{visibility:hidden}</style>'
                '<script type="application/ld+json">' + json.dumps(ld, ensure_ascii=False).replace("</", "<\\/")
                + "</script>", sep=" | ")
        + '<body><amp-sidebar id="menu" layout="nodisplay" side="left"><nav><ul>'
        + f'<li>{_nav_links("</li><li>")}</li></ul></nav></amp-sidebar>'
        + f'<header class="amp-header"><button on="tap:menu.toggle">Menu</button><a class="amp-logo" href="/">{_e(page.site)}</a></header>'
        + f'<main><article class="amp-article"><h1 class="amp-title">{_e(story.title)}</h1>'
        + f'<div class="amp-meta"><span class="amp-author">By News Desk</span> <time datetime="{_iso(story)}">'
        + f'{_date_words(story)}</time></div><amp-img src="/i/lead.jpg" layout="responsive" width="16" height="9"></amp-img>'
        + f'<div class="amp-article-body">{_in_middle(_paras(story), story, ad)}</div></article>'
        + f'<section class="amp-related"><h2>Trending now</h2><ul>{trending}</ul></section>'
        + '<amp-social-share type="twitter"></amp-social-share></main>'
        + f'<footer class="amp-footer"><p>© 2026 {_e(page.site)}</p></footer></body></html>'
    )


def legacy_page(story: Story, page: Page) -> str:
    """A 2000s table layout: `<font>` tags, a nav column, the story in a cell that also
    holds a "More on this story" table, and a "Most Read" column of headlines and teasers."""
    more = _cards(page.n + 5, 2, '<tr><td><a href="/{n}.htm">{head}</a><br><font size="1">{tease}</font></td></tr>')
    most = _cards(page.n + 7, 4, '<tr><td>{num}. <a href="/{n}.htm">{head}</a><br>{tease}</td></tr>')
    return (
        _html_open(story) + _head(story, page, og=page.n % 2 == 0, sep=" :: ")
        + '<body bgcolor="#ffffff"><table width="980" border="0" cellpadding="0" cellspacing="0">'
        + f'<tr><td colspan="3"><img src="/logo.gif" alt="{_e(page.site)}"> <font size="1">{_nav_links(" | ")}</font></td></tr>'
        + '<tr><td width="160" valign="top">' + _nav_links("<br>") + "</td>"
        + f'<td width="620" valign="top"><h1><font face="Arial">{_e(story.title)}</font></h1>'
        + f'<font size="2" color="#666666">{_date_words(story)}</font>{_paras(story)}'
        + f'<table width="100%"><tr><td><b>More on this story</b></td></tr>{more}</table></td>'
        + f'<td width="200" valign="top"><table><tr><td><b>Most Read</b></td></tr>{most}</table></td></tr>'
        + f'<tr><td colspan="3" align="center"><font size="1">Copyright © 2009 {_e(page.site)}</font></td></tr>'
        + "</table></body></html>"
    )


# ---------------------------------------------------------------------------------------
# Feeds


def _rfc822(story: Story) -> str:
    return format_datetime(story.published) if story.published else ""


def _summary(story: Story) -> str:
    first = story.paragraphs[0] if story.paragraphs else ""
    return first if len(first) <= 300 else first[:300].rsplit(" ", 1)[0] + " […]"


def rss(items: Iterable[tuple[Story, str]], *, title: str, base: str, full: bool) -> str:
    """RSS 2.0: a summary in `<description>`, and with `full` the story in `content:encoded`."""
    out = []
    for story, url in items:
        date = f"<pubDate>{_rfc822(story)}</pubDate>" if story.published else ""
        content = (f"<content:encoded><![CDATA[{_paras(story)}]]></content:encoded>" if full else "")
        out.append(f"<item><title>{_e(story.title)}</title><link>{_e(url)}</link>"
                   f"<description>{_e(_summary(story))}</description>{content}"
                   f'<guid isPermaLink="true">{_e(url)}</guid>{date}</item>')
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{_e(title)}</title><link>{_e(base)}/</link><description>{_e(title)}</description>"
            + "".join(out) + "</channel></rss>")


def atom(items: Iterable[tuple[Story, str]], *, title: str, base: str, full: bool) -> str:
    """Atom 1.0: `<summary>`, and with `full` the story as HTML `<content>`."""
    out = []
    for story, url in items:
        when = story.published.isoformat() if story.published else ""
        dates = f"<published>{when}</published><updated>{when}</updated>" if when else ""
        content = f'<content type="html">{_e(_paras(story))}</content>' if full else ""
        out.append(f'<entry><title>{_e(story.title)}</title><link rel="alternate" href="{_e(url)}"/>'
                   f"<id>{_e(url)}</id>{dates}<summary>{_e(_summary(story))}</summary>{content}"
                   "<author><name>Staff</name></author></entry>")
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title>{_e(title)}</title><id>{_e(base)}/</id><link href="{_e(base)}/"/>'
            f"<updated>2026-12-01T00:00:00Z</updated>" + "".join(out) + "</feed>")


# ---------------------------------------------------------------------------------------
# Layouts and the site


@dataclass(frozen=True, slots=True)
class Layout:
    """A page template, where its pages live and the feed that lists them."""

    name: str
    site: str
    render: Callable[[Story, Page], str]
    path: Callable[[Story, int], str]
    feed: Callable[..., str]
    full_feed: bool


def _ymd(story: Story) -> str:
    """The date part of a dated story's path ("2015/12/03"); an undated one lives in the archive."""
    when = story.published
    return when.strftime("%Y/%m/%d") if when else "archive"


LAYOUTS: tuple[Layout, ...] = (
    Layout("dawn", "The Daily Ledger", dawn_page, lambda s, n: f"/news/{1000 + n}/{s.key}", rss, False),
    Layout("wordpress", "Frontier Post Online", wordpress_page,
           lambda s, n: f"/{_ymd(s)}/{s.key}/", rss, True),
    Layout("nextjs", "South Asia Today", nextjs_page,
           lambda s, n: f"/world/asia/{_ymd(s)}/{s.key}-{n}/", atom, False),
    Layout("divsoup", "The Evening Courier", divsoup_page,
           lambda s, n: f"/article.php?id={2000 + n}", rss, False),
    Layout("amp", "Capital Wire", amp_page, lambda s, n: f"/amp/story/{s.key}", atom, True),
    Layout("legacy", "The Frontier Herald", legacy_page,
           lambda s, n: f"/{_ymd(s)}/story{3000 + n}.htm", rss, False),
)


@dataclass(frozen=True, slots=True)
class Placement:
    """One record served in one layout."""

    story: Story
    layout: str
    path: str
    feed: str


@dataclass(slots=True)
class CoverageSite:
    """The labelled sets spread over the layouts: every record in two of them, each layout
    of each set its own feed, under `/<set>/<layout>/…`."""

    stories: list[Story]
    layouts: tuple[Layout, ...] = LAYOUTS
    placements: list[Placement] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = len(self.layouts)
        by_set: dict[str, int] = {}
        for story in self.stories:
            i = by_set.get(story.set_name, 0)
            by_set[story.set_name] = i + 1
            first = i % k
            second = (first + 1 + (i // k) % (k - 1)) % k  # never `first`; pairs vary
            for j in (first, second):
                layout = self.layouts[j]
                path = f"/{story.set_name}/{layout.name}" + layout.path(story, i)
                self.placements.append(Placement(story, layout.name, path, self.feed_name(story.set_name, layout)))

    @staticmethod
    def feed_name(set_name: str, layout: Layout) -> str:
        return f"{set_name}-{layout.name}"

    def feeds(self, base_url: str) -> list[dict[str, str]]:
        """The site's feeds, as `[[feeds]]` entries of a config."""
        names = dict.fromkeys(p.feed for p in self.placements)
        return [{"name": name, "url": f"{base_url}/feeds/{name}.xml", "source": name} for name in names]

    def serve(self, server: LoopbackServer) -> None:
        """Route every page and feed on `server` (already started)."""
        base = server.base_url
        layouts = {layout.name: layout for layout in self.layouts}
        items: dict[str, list[tuple[Story, str]]] = {}
        for n, p in enumerate(self.placements):
            layout = layouts[p.layout]
            url = base + p.path
            server.route(p.path, layout.render(p.story, Page(url=url, n=n, site=layout.site)))
            items.setdefault(p.feed, []).append((p.story, url))
        for name, entries in items.items():
            layout = layouts[name.rsplit("-", 1)[1]]
            body = layout.feed(entries, title=f"{layout.site}: {name}", base=base, full=layout.full_feed)
            kind = "application/atom+xml" if layout.feed is atom else "application/rss+xml"
            server.route(f"/feeds/{name}.xml", body, content_type=f"{kind}; charset=utf-8")


# ---------------------------------------------------------------------------------------
# Running and scoring


def poll_config(tmp: Path, feeds: list[dict[str, str]]) -> Path:
    """The shipped `config/newswatch.toml` with the site's feeds, a SQLite file in `tmp`,
    and politeness relaxed for the loopback host (no per-host delay, more at once).

    Everything else (rules, site profiles, timeouts, robots.txt, size caps) is as shipped.
    """
    import tomlkit

    shipped = ROOT / "config" / "newswatch.toml"
    doc = tomlkit.parse(shipped.read_text(encoding="utf-8"))
    doc.pop("feeds", None)
    for section in ("storage", "http", "schedule", "rules", "extract", "notify"):
        if section not in doc:
            doc[section] = tomlkit.table()
    doc["storage"]["url"] = f"sqlite:///{tmp / 'newswatch.db'}"  # type: ignore[index]
    http = doc["http"]
    http["allow_private_networks"] = True  # type: ignore[index]
    http["per_host_delay"] = "0s"  # type: ignore[index]
    http["per_host_concurrency"] = 8  # type: ignore[index]
    doc["schedule"]["startup_spread"] = "0s"  # type: ignore[index]
    doc["rules"]["files"] = [str(ROOT / "config" / "rules" / "*.toml")]  # type: ignore[index]
    doc["extract"]["sites"] = str(ROOT / "config" / "sites.toml")  # type: ignore[index]
    doc["notify"]["urls"] = []  # type: ignore[index]
    feed_tables = tomlkit.aot()
    for f in feeds:
        t = tomlkit.table()
        t.update(f)
        feed_tables.append(t)
    doc["feeds"] = feed_tables
    path = tmp / "newswatch.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return path


@dataclass(slots=True)
class Figures:
    """Precision, recall and the near-miss safety net over some placements."""

    positives: int = 0
    negatives: int = 0
    tp: int = 0
    fp: int = 0
    flagged: int = 0
    """Every stored article of these placements that a topic flagged (borderline too)."""
    near_misses: int = 0
    held: int = 0
    """Positives flagged or listed as near misses."""

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 0.0

    @property
    def safety_net(self) -> float:
        return self.held / self.positives if self.positives else 0.0

    def line(self) -> str:
        return (f"P {self.precision:.3f}  R {self.recall:.3f}  (tp {self.tp}, fp {self.fp}, "
                f"positives {self.positives}, negatives {self.negatives})  flagged {self.flagged}  "
                f"near misses {self.near_misses}  flagged+near misses hold {self.safety_net:.3f} of positives")


@dataclass(slots=True)
class Outcome:
    """What a poll of the site stored, scored per layout, per set and overall."""

    by_layout: dict[str, Figures]
    by_set: dict[str, Figures]
    overall: Figures
    missing: list[Placement]
    misses: list[str]
    """One diagnostic line per false positive and false negative."""
    faults: list[str] = field(default_factory=list)
    """What was stored wrong whatever the topic said: furniture in the body, a body cut
    short or taken from the feed, the wrong headline, date or language."""


def score(site: CoverageSite, base_url: str, db_file: Path, near_miss_urls: set[str]) -> Outcome:
    """Read the database a poll of `site` wrote and score it against the records' labels."""
    conn = sqlite3.connect(db_file)
    conn.row_factory = sqlite3.Row
    try:
        rows = {r["url"]: dict(r) for r in conn.execute(
            "select url, title, text, text_from, method, fetch_error, published, language from articles")}
        flagged = {r[0] for r in conn.execute(
            "select distinct a.url from articles a join matches m on m.article_id = a.id")}
    finally:
        conn.close()
    from crawler.urls import canonicalize

    by_layout: dict[str, Figures] = {}
    by_set: dict[str, Figures] = {}
    overall = Figures()
    missing: list[Placement] = []
    misses: list[str] = []
    outcome_faults: list[str] = []
    for p in site.placements:
        url = canonicalize(base_url + p.path)
        row = rows.get(url)
        if row is None:
            missing.append(p)
            continue
        hit, nm = url in flagged, url in near_miss_urls
        for fig in (by_layout.setdefault(p.layout, Figures()), by_set.setdefault(p.story.set_name, Figures()),
                    overall):
            fig.flagged += hit
            fig.near_misses += nm and not hit
            if p.story.label == 1:
                fig.positives += 1
                fig.tp += hit
                fig.held += hit or nm
            elif p.story.label == 0:
                fig.negatives += 1
                fig.fp += hit
        outcome_faults.extend(_faults(p, row))
        if p.story.label is not None and hit != bool(p.story.label):
            words = " ".join((row["text"] or "").split()[:40])
            misses.append(
                f"{'FALSE POSITIVE' if hit else 'FALSE NEGATIVE'} {p.story.set_name}/{p.layout} "
                f"{p.story.record_id}: text_from={row['text_from']} method={row['method']} "
                f"near_miss={nm} fetch_error={row['fetch_error']!r}\n"
                f"    title: {row['title']}\n    text: {words} …")
    return Outcome(by_layout, by_set, overall, missing, misses, outcome_faults)


FURNITURE = (*HEADLINES, *TEASERS, PROMO, *COMMENTS)
# A body keeps at least this share of the record's words (the headline line and soft
# hyphens aside: the extractor drops a repeated headline and invisible characters).  Not
# more: a one-paragraph story whose cell also holds a box of teasers loses its short
# standfirst (0.88 of its words), a known limit of the generic extractor's climb.
_KEPT = 0.85
_WORDS = re.compile(r"\w+")


def _faults(p: Placement, row: dict[str, Any]) -> list[str]:
    where = f"{p.story.set_name}/{p.layout} {p.story.record_id}"
    text, story, out = row["text"] or "", p.story, []
    leaked = [f for f in FURNITURE if f[:50] in text]
    if leaked:
        out.append(f"FURNITURE IN BODY {where}: {leaked[0][:70]!r}")
    title_key = " ".join(story.title.split())
    words = {w for para in story.paragraphs if " ".join(para.split()) != title_key
             for w in _WORDS.findall(para.replace("\u00ad", ""))}
    kept = len(words & set(_WORDS.findall(text))) / len(words) if words else 1.0
    if kept < _KEPT:
        out.append(f"BODY CUT {where}: {kept:.2f} of the record's words (method {row['method']})")
    if " ".join((row["title"] or "").split()) != title_key:
        out.append(f"WRONG TITLE {where}: {row['title']!r}")
    stored = str(row["published"] or "")[:10]
    expected = story.published.strftime("%Y-%m-%d") if story.published else ""
    if stored != expected:
        out.append(f"WRONG DATE {where}: stored {stored or 'none'}, the record says {story.date or 'none'}")
    if row["text_from"] != "page":
        out.append(f"NOT FROM THE PAGE {where}: {row['fetch_error']!r}")
    if (row["language"] or "").split("-")[0].lower() != story.language:
        out.append(f"WRONG LANGUAGE {where}: stored {row['language']!r}, the page says {story.language!r}")
    return out


def read_sets(shared: Path, names: Iterable[str] = SETS) -> list[Story]:
    """Every record of the named sets that exist under `shared`."""
    out: list[Story] = []
    for name in names:
        path = shared / name / "articles.jsonl"
        if path.is_file():
            out.extend(read_stories(path, name))
    return out


def report(outcome: Outcome) -> str:
    """Figures per layout, per set and overall, then one diagnostic per miss."""
    lines = [f"  {name:<10} {fig.line()}" for name, fig in sorted(outcome.by_layout.items())]
    lines += [f"  {name:<10} {fig.line()}" for name, fig in sorted(outcome.by_set.items())]
    lines.append(f"  {'overall':<10} {outcome.overall.line()}")
    lines += [f"NOT STORED {p.story.set_name}/{p.layout} {p.story.record_id} {p.path}" for p in outcome.missing]
    return "\n".join(lines + outcome.faults + outcome.misses)


@dataclass(slots=True)
class PollRun:
    """One `newswatch poll --once` over the site, scored, with what the commands said."""

    outcome: Outcome
    feeds: list[dict[str, Any]]
    """`poll --once --json`'s report of each feed."""
    returncode: int
    stderr: str
    pages: int


def poll_site(tmp: Path, stories: list[Story], *, timeout: float = 300) -> PollRun:
    """Serve `stories` on 127.0.0.1, run the real `newswatch poll --once --json` with the
    shipped config, list `newswatch review near-misses --json`, and score what was stored."""
    from tests.e2e.helpers import newswatch

    site = CoverageSite(stories)
    with LoopbackServer() as server:
        site.serve(server)
        cfg = poll_config(tmp, site.feeds(server.base_url))
        res = newswatch(tmp, "poll", "--once", "--config", str(cfg), "--json", timeout=timeout)
        base = server.base_url
    feeds: list[dict[str, Any]] = []
    if res.returncode in (0, 1) and res.stdout.strip().startswith("["):
        feeds = json.loads(res.stdout)
    near = newswatch(tmp, "review", "near-misses", "--config", str(cfg), "--json", "--state", "all",
                     "--limit", "100000", timeout=timeout)
    if near.returncode != 0:
        raise AssertionError(f"review near-misses failed ({near.returncode}):\n{near.stderr}")
    near_urls = {str(r["url"]) for r in json.loads(near.stdout)}
    outcome = score(site, base, tmp / "newswatch.db", near_urls)
    return PollRun(outcome, feeds, res.returncode, res.stderr, len(site.placements))
