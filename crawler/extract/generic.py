"""Our own main-content extractor for pages no site profile covers.

The page is cut into *blocks* (runs of text between block-level element boundaries),
each measured for length and link density and marked as boilerplate when it sits
inside page furniture (nav, footer, share bars, related boxes, comments), as told by
tags, ARIA roles and class/id words. Article prose is long, sentence-like and unlinked;
furniture is short, link-heavy or hinted. Every block votes for all of its block-level
ancestors with a signed weight, so the best-scoring element is the one that holds the
most prose and the least furniture: the article container, with the siblings that carry
the same story on (a body split around an ad). Their blocks, minus the furniture inside
them, are the body; leading furniture (headline, byline, dates) before
the first real paragraph and trailing furniture after the last one are trimmed, but
lists, `<br>` lines and the headings that lead into them stay, and promos and a press
release's company boilerplate at the end go. A page footer never wins.

Everything is iterative (no recursion) and bounded, so hostile nesting cannot raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .text import clean_paragraph

__all__ = ["extract_generic", "is_plausible_body", "node_paragraphs"]

# Elements that never carry article text: skipped in the walk.
REMOVE_TAGS = [
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object",
    "embed", "canvas", "button", "select", "textarea", "input", "video", "audio",
    "map", "head", "dialog", "link", "meta",
]

_SKIP_TAGS = frozenset(REMOVE_TAGS)
# Elements that start a new block of text.
_BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "caption", "br", "img"]
)
_VOID_BLOCKS = frozenset(("br", "hr", "img"))
_PAGE_TAGS = frozenset(("html", "body"))
# Table and list cells: their list or table carries the hint, if any.
_UNHINTED = frozenset(("li", "tr", "td", "th", "tbody", "thead", "tfoot", "dd", "dt"))
_INLINE_HINTED = frozenset(("span", "small", "time", "cite"))
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# Furniture by its tag alone.
_BOILER_TAGS = frozenset(("nav", "footer", "aside", "header", "figcaption", "figure", "menu"))
_BOILER_ROLES = frozenset(
    ("navigation", "contentinfo", "complementary", "banner", "menu", "menubar",
     "dialog", "alertdialog", "search", "toolbar", "tablist")
)
# Words in class/id that mark furniture whatever else the attribute says.
# Reader comments can outweigh the article, so their hint holds whatever their size.
_COMMENTS = re.compile(r"comment|disqus|respond|replies|discussion")
_EMBED = re.compile(r"embed|twitter-tweet|instagram-media")
_STRONG_NEG = re.compile(
    r"share|sharing|social|newsletter|related|trending|popular|most-?read|"
    r"mostread|recommend|outbrain|taboola|byline|caption|credit|breadcrumb|footer|sidebar|"
    r"promo|sponsor|subscri|signup|sign-up|paywall|cookie|consent|gdpr|modal|popup|"
    r"read-?more|readnext|read-next|more-?stories|newsfeed|timestamp|dateline|author-?(?:bio|info|box)|"
    r"skip-?link|screen-?reader|sr-only|visually-?hidden|advert|jump-?link|toc\b|pagination|"
    r"pager|tag-?list|tags\b|keywords|print-?only|hidden",
)
# Weaker words: they lose to a content word in the same attribute.
_WEAK_NEG = re.compile(
    r"(?:^|[\s_-])(?:ad|ads|adv|banner|widget|menu|nav|navbar|masthead|header|meta|extra|"
    r"topbar|toolbar|rail|aside|teaser|card|overlay|author|nocontent|hide)(?:$|[\s_\d-])",
)
_POSITIVE = re.compile(
    r"article|body|content|entry|main|post|story|text|prose|rich-?text|column|blog"
)
# A price, a bare link or a shop verb: what a product line has and a related-story link has not.
_PRICE = re.compile(r"[$€£¥₹]\s?\d|\d\s?(?:€|₩|euro|usd|eur)\b")
_PRODUCT_LINE = re.compile(
    r"[$€£¥₹]\s?\d|\d\s?(?:€|euro|usd|eur)\b|^https?://\S+$|\b(?:buy|shop|order|get it)\b", re.I
)
# A class or id word that names a footer ("footer", "site-footer", "article_footer"), not
# one that only mentions it ("footer-wrapper", "has-sticky-footer-layout" can wrap a page).
_FOOTER = re.compile(r"(?:^|\s)(?!(?:has|with|no|show|sticky)[_-])(?:[\w-]*[_-])?footer(?:\s|$)")
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden")
# Short lines that are furniture however they are marked up.
_JUNK_LINE = re.compile(
    r"^(?:advertisement|advertising|advert|sponsored|ad|read more|read next|more|continue reading|"
    r"share|share this|share this article|share on \w+|tweet|email|print|comments?|"
    r"related|related articles|related stories|see also|also read|recommended|"
    r"subscribe|sign up|follow us.*|photo|image|video|click here|loading.*|"
    r"skip to .*|back to top|top|next|previous|close|"
    r"this (?:slideshow|video|content|page) requires javascript)[\s:.…>»|-]*$",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?。！？…\"”’»)\]:;۔।]\s*$")
_MAX_DEPTH = 400
# How much of a block's vote reaches each next ancestor up: the container that holds
# the prose most directly wins over page wrappers that also hold teasers and sidebars.
_DECAY = 0.8
_MAX_BLOCKS = 20000
# Bounds the Python-side walk on absurd pages (a real article page has a few thousand).
_MAX_NODES = 300_000


@dataclass(slots=True, eq=False)
class _Frame:
    """A block-level element seen in the walk; `score` collects its descendants' votes."""

    parent: _Frame | None
    tag: str
    hint: int
    """0: none; 1: furniture unless it holds most of the page's prose; 2: furniture."""
    heading: str = ""
    boiler: bool = False
    score: float = 0.0
    prose: float = 0.0
    furniture: float = 0.0
    paragraphs: int = 0
    """How many real paragraphs (blocks voting `_PARAGRAPH_VOTE` or more) it holds."""
    names: str = ""
    """Its class attribute: a body split around an ad repeats its container's class."""


@dataclass(slots=True, eq=False)
class _Block:
    """Text between two block boundaries, owned by its nearest block-level element."""

    owner: _Frame
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    chars: int = 0
    heading: str = ""
    text: str = ""
    linky: bool = False
    """Mostly link text, kept only between real paragraphs."""


def _hint_level(tag: str, attrs: dict[str, str | None]) -> int:
    """How surely an element's tag, role, hiding or class/id words mark it as furniture.

    A footer is furniture whatever its share of a short page's prose: on a three-sentence
    brief the footer's contact block can hold more text than the story.
    """
    if tag == "footer":
        return 2
    if tag in _PAGE_TAGS:
        return 0  # their classes describe the page ("has-footer"), not a part of it
    if not attrs:
        return 1 if tag in _BOILER_TAGS else 0
    cls = attrs.get("class")
    ident = attrs.get("id")
    if cls or ident:
        level = _hint_words(f"{cls} {ident}" if cls and ident else cls or ident or "")
        if level:
            return level
    if len(attrs) > 1 or not (cls or ident):
        if "hidden" in attrs or attrs.get("aria-hidden") == "true":
            return 2
        style = attrs.get("style")
        if style and _DISPLAY_NONE.search(style.lower()):
            return 2
        role = attrs.get("role")
        if role and role.lower() in _BOILER_ROLES:
            return 2 if role.lower() == "contentinfo" else 1
    return 1 if tag in _BOILER_TAGS else 0


_hint_cache: dict[str, int] = {}


def _is_footer(attrs: dict[str, str | None]) -> bool:
    """A page footer by its class/id words or ARIA role (`contentinfo`)."""
    if not attrs:
        return False
    if (attrs.get("role") or "").lower() == "contentinfo":
        return True
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return bool(_FOOTER.search(names)) and not _guarded_positive(names)


def _hint_words(names: str) -> int:
    """Class/id words verdict, memoised because sites repeat the same classes everywhere."""
    hit = _hint_cache.get(names)
    if hit is None:
        key = names
        names = names.lower()
        if _COMMENTS.search(names):
            hit = 2
        elif _EMBED.search(names):
            hit = 0  # a post quoted in the story ("social-media-embed") is the story's
        elif _STRONG_NEG.search(names):
            hit = 0 if _guarded_positive(names) else 2 if _FOOTER.search(names) else 1
        else:
            hit = int(bool(_WEAK_NEG.search(names)) and not _POSITIVE.search(names))
        if len(_hint_cache) > 50000:
            _hint_cache.clear()
        _hint_cache[key] = hit
    return hit


def _guarded_positive(names: str) -> bool:
    """A wrapper like `article-body has-share-bar` is content: its own first word decides."""
    first = names.split()[0]
    return bool(_POSITIVE.search(first)) and not _STRONG_NEG.search(first)


def _walk(root: LexborNode, use_hints: bool) -> tuple[list[_Block], list[_Frame]]:
    """Cut the tree under `root` into blocks, in document order, without recursion."""
    blocks: list[_Block] = []
    top = _Frame(None, root.tag or "", 0)
    frames: list[_Frame] = [top]
    current: _Block | None = None
    # (node, owning frame, inside a link, depth); children pushed last-first.
    stack: list[tuple[LexborNode, _Frame, bool, int]] = []
    push = stack.append
    child = root.last_child
    while child is not None:
        push((child, top, False, 1))
        child = child.prev
    budget = _MAX_NODES
    while stack:
        budget -= 1
        if budget < 0:
            break
        node, owner, in_link, depth = stack.pop()
        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if not text:
                continue
            if current is None or current.owner is not owner:
                if text.isspace():
                    continue
                if len(blocks) >= _MAX_BLOCKS:
                    break
                current = _Block(owner)
                blocks.append(current)
            current.parts.append(text)
            n = len(text)
            current.chars += n
            if in_link:
                current.link_chars += n
            continue
        if tag in _BLOCK_TAGS:
            current = None
            if tag in _VOID_BLOCKS:
                continue
            names = ""
            if tag in _UNHINTED or owner.hint == 2:
                hint = 0
            elif use_hints:
                attrs = node.attributes
                hint = _hint_level(tag, attrs)
                names = attrs.get("class") or "" if attrs else ""
            elif tag in _PAGE_TAGS:
                hint = 0
            else:  # even a page whose class words mislead has its footer last
                hint = 2 if tag == "footer" or _is_footer(node.attributes) else 0
            owner = _Frame(owner, tag, hint, tag if tag in _HEADINGS else owner.heading, names=names)
            frames.append(owner)
        elif tag == "a":
            in_link = True
        elif tag is None or tag[0] in "-!" or tag in _SKIP_TAGS:
            continue
        elif use_hints and tag in _INLINE_HINTED:
            attrs = node.attributes
            if attrs and _hint_level(tag, attrs):
                continue  # inline furniture: share counters, timestamps, credits
        if depth >= _MAX_DEPTH:
            text = node.text(deep=True)
            if text.strip():
                current = _Block(owner, [text], chars=len(text))
                blocks.append(current)
            continue
        depth += 1
        child = node.last_child
        while child is not None:
            push((child, owner, in_link, depth))
            child = child.prev
    return blocks, frames


def _weight(block: _Block) -> float:
    """A block's vote: prose counts for, links and furniture count against."""
    n = len(block.text)
    if block.owner.boiler:
        return -0.5 * n
    density = block.link_chars / block.chars if block.chars else 0.0
    if density > 0.5:
        return -0.7 * n
    if n < 25:
        return -2.0
    w = n * (1.0 - density)
    if _SENTENCE_END.search(block.text):
        w *= 1.5
    if block.owner.tag == "p":
        w *= 1.5
    return w


# A weakly hinted element holding more than this share of the page's prose is content.
_HINT_SHARE = 0.4
# Climbing from the best container to a parent needs the parent to add this share of
# prose, with furniture at most _CLIMB_CLEAN of what it adds, at most _CLIMB_MAX times.
_CLIMB_SHARE = 0.15
_CLIMB_CLEAN = 0.35
_CLIMB_MAX = 4


def _widen(best: _Frame) -> _Frame:
    """Climb to an ancestor when it adds clean prose: an article split into sections.

    Decay favours the element that holds paragraphs most directly, which cuts an article
    whose body is split over sibling wrappers; an ancestor that adds a fair share of
    prose and little furniture is the real container.
    """
    node = best
    climbs = 0
    for _ in range(64):
        parent = node.parent
        if parent is None:
            break
        more_prose = parent.prose - node.prose
        more_furniture = parent.furniture - node.furniture
        if more_prose > 0 or more_furniture > 0:
            # a wrapper that adds nothing is climbed for free
            if (
                climbs >= _CLIMB_MAX
                or more_prose < _CLIMB_SHARE * node.prose
                or more_furniture > _CLIMB_CLEAN * more_prose
            ):
                break
            climbs += 1
        node = parent
    return node if node.prose > 0 else best


# A sibling of the container that holds a block voting this much holds a real paragraph
# (about 80 characters of sentence in a `<p>`, or 120 of text).
_PARAGRAPH_VOTE = 150.0
_SIBLING_PARAGRAPHS = 2


def _sibling_parts(best: _Frame, frames: list[_Frame]) -> set[int]:
    """The container and its siblings that carry the same article on.

    An article is often split over sibling elements, around an inline ad, an image or a
    newsletter slot. Decay makes the largest part win, and climbing to the parent is
    refused when the other part is small or the parent holds furniture too. A sibling that
    repeats the container's tag and class, or holds two real paragraphs and little
    furniture, is the rest of the story; one lone paragraph beside it (an author's bio, a
    caption, a standfirst the reader sees as furniture) is not enough.
    """
    parts = {id(best)}
    parent = best.parent
    if parent is None or parent.tag in _PAGE_TAGS:
        return parts  # the page's own sections are not one article
    twins: set[int] = set()
    for f in frames:
        if f.parent is not parent or f is best:
            continue
        if best.names and f.tag == best.tag and f.names == best.names:
            # the same class words get the same verdict: a weak hint that the container
            # outgrew by its share of the page's prose does not make its other part furniture
            if f.boiler and f.hint == 1 and best.hint == 1:
                twins.add(id(f))
            elif not f.boiler and f.prose > 0 and (f.score > 0 or f.paragraphs):
                parts.add(id(f))  # its share bar and tags may outweigh a last paragraph
        elif (
            not f.boiler
            and f.paragraphs >= _SIBLING_PARAGRAPHS
            and f.furniture <= _CLIMB_CLEAN * f.prose
        ):
            parts.add(id(f))
    if twins:
        _free(frames, twins)
        parts |= twins
    return parts


def _in_parts(block: _Block, parts: set[int], parent: _Frame | None) -> bool:
    """Inside one of the article's parts, or a real paragraph set directly in their parent."""
    f: _Frame | None = block.owner
    if f is parent and parent is not None:
        return len(block.text) >= 80 and block.link_chars * 4 < block.chars
    while f is not None and f is not parent:
        if id(f) in parts:
            return True
        f = f.parent
    return False


def _is_inside(frame: _Frame | None, container: _Frame) -> bool:
    while frame is not None:
        if frame is container:
            return True
        frame = frame.parent
    return False


def _is_substantial(block: _Block) -> bool:
    """Prose-like enough that furniture cannot be mistaken for it."""
    if block.linky:
        return False
    n = len(block.text)
    return n >= 120 or (n >= 40 and bool(_SENTENCE_END.search(block.text)) and not block.heading)


def _keep(block: _Block, title_key: str) -> bool:
    if block.owner.boiler or not block.text:
        return False
    if block.chars and block.link_chars / block.chars > 0.5:
        if _is_linked_sentence(block):
            return True
        # a product line ("Get it on Amazon for $39") between paragraphs is the article's;
        # `_trim` drops such lines at either end, where link lists are furniture
        tag = block.owner.tag
        block.linky = (tag == "p" and bool(_PRODUCT_LINE.search(block.text))) or (
            tag == "li" and bool(_PRICE.search(block.text))
        )
        return block.linky
    if block.heading == "h1":
        return False
    if title_key and _key(block.text) == title_key:
        return False
    return not (len(block.text) < 60 and _JUNK_LINE.match(block.text))


# Unlinked words a paragraph needs around its link to be a sentence that cites a source.
_UNLINKED_SENTENCE = 30


def _is_linked_sentence(block: _Block) -> bool:
    """A paragraph whose sentence runs through a link ("He was <a>sentenced to life</a>.").

    Its own words around the link make it prose; a related-story link ("Read more:
    <a>…</a>") has too few of them, and a bare list of links has none.
    """
    return (
        block.owner.tag == "p"
        and block.chars - block.link_chars >= _UNLINKED_SENTENCE
        and block.link_chars < 0.8 * block.chars
        and bool(_SENTENCE_END.search(block.text))
    )


def _key(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _trim(blocks: list[_Block]) -> list[_Block]:
    """Drop the furniture before the first and after the last real paragraph.

    Not every short line is furniture: a list, a spec sheet or tour dates set as
    `<br>` lines are runs of similar short lines, and a heading that leads into such a
    run or into prose belongs to the article too. What is dropped at either end is what
    looks like metadata (bylines, dates) or stands alone without a sentence.
    """
    first = next((i for i, b in enumerate(blocks) if _is_substantial(b)), None)
    if first is None:
        return blocks
    last = max(i for i, b in enumerate(blocks) if _is_substantial(b))
    keys = [_run_key(b) for b in blocks]
    runs: dict[int, int] = {}
    for key in keys:
        runs[key] = runs.get(key, 0) + 1
    start = first
    while start > 0:
        b = blocks[start - 1]
        if (b.linky and not _continues_run(keys, runs, start - 1, start)) or _is_metadata(b.text):
            break
        in_run = keys[start - 1] == keys[start] or runs[keys[start - 1]] >= _RUN
        if not (in_run or b.owner.tag in _LEAD_TAGS):
            break
        start -= 1
    end = last + 1
    while end < len(blocks):
        b = blocks[end]
        if (b.linky and not _continues_run(keys, runs, end, end - 1)) or _is_metadata(b.text):
            break  # product lines stay only where they carry on a run of lines
        if b.heading:
            nxt = blocks[end + 1] if end + 1 < len(blocks) else None
            if nxt is None or nxt.heading or not _tail_like(nxt, keys[end + 1], runs):
                break
        elif not (
            keys[end] == keys[end - 1] or _tail_like(b, keys[end], runs) or _in_short_lines(blocks, end)
        ):
            break
        end += 1
    return _cut_closing_promos(blocks[start:end])


# This many lines in one element, or items in one list, make a run that is content.
_RUN = 3
# Short lines in these elements before the first paragraph are the article's opening.
_LEAD_TAGS = frozenset(("p", "li", "pre", "blockquote", "h2", "h3", "h4", "h5", "h6", "dd", "dt"))
# Clauses end with these too (a comma ends lines in CJK lists and verse).
_CLAUSE_END = re.compile(r"[.!?。！？…\"”’»)\]:;۔।,，、]\s*$")
_BYLINE = re.compile(r"^(?:by|posted|published|updated|written|last updated)\b", re.I)
_DATE_PART = re.compile(r"\b(?:1[89]|20)\d\d\b|\b\d{1,2}:\d\d\b")


def _is_metadata(text: str) -> bool:
    """A byline or a date line: furniture at either end of the body.

    Both are short; the words are kept few so that a closing sentence that happens to
    hold a year or start with "By" is not taken for one.
    """
    words = len(text.split())
    if _BYLINE.match(text):
        return words <= 10
    return words <= 6 and bool(_DATE_PART.search(text))


def _run_key(block: _Block) -> int:
    """Blocks with the same key are lines of one element or items of one list."""
    owner = block.owner
    if owner.tag in ("li", "dd", "dt") and owner.parent is not None:
        return id(owner.parent)
    return id(owner)


def _in_short_lines(blocks: list[_Block], i: int) -> bool:
    """Block `i` is one of a stretch of short `<p>` lines side by side (a ticket box, a
    spec sheet set one paragraph a line), at least a run long."""
    parent = blocks[i].owner.parent

    def short_line(b: _Block) -> bool:
        return b.owner.tag == "p" and b.owner.parent is parent and not b.linky and not _is_substantial(b)

    n = 0
    j = i
    while j < len(blocks) and n < _RUN and short_line(blocks[j]):
        n, j = n + 1, j + 1
    j = i - 1
    while j >= 0 and n < _RUN and short_line(blocks[j]):
        n, j = n + 1, j - 1
    return n >= _RUN


def _continues_run(keys: list[int], runs: dict[int, int], i: int, kept: int) -> bool:
    """Block `i` is a line of the same element as its kept neighbour, or that neighbour is
    one of a run of lines (a numbered product list split over several `<p>`)."""
    return keys[i] == keys[kept] or runs[keys[kept]] >= _RUN


def _tail_like(block: _Block, key: int, runs: dict[int, int]) -> bool:
    """Past the last paragraph, still the article: part of a run, long, or a whole clause."""
    return (
        runs[key] >= _RUN
        or len(block.text) >= 50
        or bool(_CLAUSE_END.search(block.text))
    )


# The publisher's own messages inside a story: promos for subscriptions, newsletters and
# social accounts. A short line that opens so is dropped wherever it stands.
_PROMO_LINE = re.compile(
    r"^(?:subscribe\b|sign up\b|get the latest\b|follow (?:us|him|her|me|them)\b|have a tip\b)",
    re.I,
)
_PROMO_MAX = 200
# Where a story ends and furniture begins: "more stories" lists, citation and copyright
# notes, and the "about the company" boilerplate under press releases. Everything from
# such a line on is dropped, but only in the last quarter of the text, where it cannot
# cut the story.
_CLOSING_LINE = re.compile(
    r"^(?:more (?:great )?[\w ]{0,20}stories|explore further|this document is subject to copyright|"
    r"citation:)",
    re.I,
)
_ABOUT_HEADING = re.compile(r"^About (?:the |our )?[A-Z][\w.&'’ -]{0,40}$")
# "<Name> is a leading provider of ..." is boilerplate only with the facts a press
# release closes with; a news story's last line may well describe a company too.
_ABOUT_COMPANY = re.compile(
    r"^[A-Z][\w&.-]*(?: [A-Z][\w&.-]*){0,3},? (?:is|are) (?:a|an|the) (?:[\w'’-]+ ){0,4}"
    r"(?:provider|company|leader|developer|manufacturer|supplier|firm|organi[sz]ation|group)\b"
)
_COMPANY_FACTS = re.compile(
    r"headquartered|\bemploys\b|employees|listed on|stock exchange|for more information|"
    r"investor relations|\bnasdaq\b|\bnyse\b",
    re.I,
)
_CLOSING_SHARE = 0.25


def _cut_closing_promos(blocks: list[_Block]) -> list[_Block]:
    """The body without promo lines, and without a closing section in its last quarter."""
    blocks = [
        b for b in blocks if b.linky or len(b.text) > _PROMO_MAX or not _PROMO_LINE.match(b.text)
    ]
    total = sum(len(b.text) for b in blocks)
    left = total
    start = len(blocks)
    for i, b in enumerate(blocks):
        if left <= _CLOSING_SHARE * total:
            start = max(i, 1)
            break
        left -= len(b.text)
    tail = blocks[start:]
    facts_after: list[bool] = []  # computed once, at the first company line: it is slow
    for i, b in enumerate(tail):
        if _CLOSING_LINE.match(b.text) or _ABOUT_HEADING.match(b.text):
            return blocks[: start + i]
        if _ABOUT_COMPANY.match(b.text):
            if not facts_after:
                # whether a block at or after each tail position states a company's facts
                facts_after = [False] * (len(tail) + 1)
                for j in range(len(tail) - 1, i - 1, -1):
                    facts_after[j] = facts_after[j + 1] or bool(_COMPANY_FACTS.search(tail[j].text))
            if facts_after[i]:
                return blocks[: start + i]
    return blocks


def _resolve_hints(blocks: list[_Block], frames: list[_Frame]) -> None:
    """Decide which hinted elements are furniture.

    Class words mislead on wrappers (`theiaStickySidebar`, `header-style-2` around a
    whole post), so a weakly hinted element that holds most of the page's prose is
    content after all.
    """
    if not any(f.hint == 1 for f in frames):
        for f in frames:
            f.boiler = f.hint > 0 or (f.parent is not None and f.parent.boiler)
        return
    for f in frames:
        f.prose = 0.0
    for block in blocks:
        n = len(block.text)
        if n >= 25 and block.link_chars * 2 <= block.chars:
            f: _Frame | None = block.owner
            while f is not None:
                f.prose += n
                f = f.parent
    limit = _HINT_SHARE * frames[0].prose
    for f in frames:  # parents come before their children
        if f.parent is not None and f.parent.boiler:
            f.boiler = True
        else:
            f.boiler = f.hint == 2 or (f.hint == 1 and f.prose <= limit)


# A weakly hinted element inside the article is the article's (a recipe or spec card)
# when it holds this many unlinked characters in this many lines, almost no links.
_CARD_CHARS = 300
_CARD_LINES = 5
_CARD_LINKS = 0.1


def _rescue_inner_cards(blocks: list[_Block], frames: list[_Frame], best: _Frame) -> None:
    """Un-mark weakly hinted cards inside the chosen container that read like content.

    Class words such as `card` or `widget` name furniture on the page at large, but inside
    the article a card of many unlinked lines (ingredients and steps, a spec sheet) is
    part of the story: related-story cards are links, ads and promos are a line or two.
    """
    candidates = {
        id(f): f
        for f in frames
        if f.hint == 1 and f.boiler and f.tag not in _BOILER_TAGS and f.parent is not None
        and not f.parent.boiler and _is_inside(f, best)
    }
    if not candidates:
        return
    stats: dict[int, list[int]] = {}
    for block in blocks:
        f: _Frame | None = block.owner
        # a candidate is furniture under content: above the first content frame, none
        while f is not None and f.boiler:
            if id(f) in candidates:
                row = stats.setdefault(id(f), [0, 0, 0])
                row[0] += block.chars
                row[1] += block.link_chars
                row[2] += 1
                break
            f = f.parent
    rescued = {
        key for key, (chars, links, lines) in stats.items()
        if chars - links >= _CARD_CHARS and lines >= _CARD_LINES and links <= _CARD_LINKS * chars
    }
    if not rescued:
        return
    _free(frames, rescued)


def _free(frames: list[_Frame], freed: set[int]) -> None:
    """Un-mark the frames in `freed` as furniture, and their unhinted descendants."""
    for f in frames:  # parents come before their children
        if id(f) in freed or (f.parent is not None and id(f.parent) in freed and f.hint == 0):
            f.boiler = False
            freed.add(id(f))


# A teaser card: a linked headline of this many characters over one unlinked teaser of
# this many, with at most _CARD_EXTRA more (a date, a section name) in its element.
_HEADLINE_CHARS = (15, 200)
_TEASER_CHARS = (25, 320)
_CARD_EXTRA = 60


def _mark_teaser_cards(blocks: list[_Block]) -> None:
    """Mark boxes of other stories as furniture by their shape, whatever they are named.

    "More on this", "Most read" and "Trending" boxes are cards of a linked headline over
    a one-sentence teaser, two or more side by side. Class words miss them on div-soup
    and table layouts, and a teaser list can outweigh a short story; the article's own
    paragraphs are not linked headlines each in an element of its own.
    """
    inside: dict[int, int] = {}  # characters of text under each frame
    for block in blocks:
        f: _Frame | None = block.owner
        while f is not None:
            inside[id(f)] = inside.get(id(f), 0) + len(block.text)
            f = f.parent
    cards: dict[int, _Frame] = {}
    for head, teaser in pairwise(blocks):
        if not (head.chars and head.link_chars * 2 > head.chars
                and _HEADLINE_CHARS[0] <= len(head.text) <= _HEADLINE_CHARS[1]):
            continue
        if teaser.link_chars or not _TEASER_CHARS[0] <= len(teaser.text) <= _TEASER_CHARS[1]:
            continue
        card = _common_frame(head.owner, teaser.owner)
        if card is None or card.parent is None or card.tag in _PAGE_TAGS:
            continue
        if inside.get(id(card), 0) <= len(head.text) + len(teaser.text) + _CARD_EXTRA:
            cards[id(card)] = card
    groups: dict[int, list[_Frame]] = {}
    for card in cards.values():
        slot = card  # climb wrappers that hold nothing but the card (a table row)
        while slot.parent is not None and inside.get(id(slot.parent), 0) == inside.get(id(slot), 0):
            slot = slot.parent
        if slot.parent is not None:
            groups.setdefault(id(slot.parent), []).append(card)
    for group in groups.values():
        if len(group) >= 2:
            for card in group:
                card.hint = 2


def _common_frame(a: _Frame, b: _Frame) -> _Frame | None:
    ancestors: set[int] = set()
    f: _Frame | None = a
    while f is not None:
        ancestors.add(id(f))
        f = f.parent
    f = b
    while f is not None and id(f) not in ancestors:
        f = f.parent
    return f


def _select(blocks: list[_Block], frames: list[_Frame], title: str) -> list[_Block]:
    """Score containers and return the body blocks of the best one, in order."""
    for block in blocks:
        block.text = "".join(block.parts).strip()
        block.heading = block.owner.heading
    _mark_teaser_cards(blocks)
    _resolve_hints(blocks, frames)
    for frame in frames:
        frame.score = frame.prose = frame.furniture = 0.0
        frame.paragraphs = 0
    for block in blocks:
        if not block.text:
            continue
        w = _weight(block)
        f: _Frame | None = block.owner
        raw = w
        if w > 0:
            while f is not None:
                f.score += w
                f.prose += raw
                if raw >= _PARAGRAPH_VOTE:
                    f.paragraphs += 1
                w *= _DECAY
                f = f.parent
        else:
            while f is not None:
                f.score += w
                f.furniture -= raw
                w *= _DECAY
                f = f.parent
    best = max(frames, key=lambda f: f.score)
    if best.score <= 0:
        return []
    best = _widen(best)
    _rescue_inner_cards(blocks, frames, best)
    title_key = _key(title) if title else ""
    parts = _sibling_parts(best, frames)
    chosen = [b for b in blocks if _in_parts(b, parts, best.parent)]
    for b in chosen:
        b.text = clean_paragraph(b.text)
    return _trim(_drop_teasers([b for b in chosen if _keep(b, title_key)]))


_ELLIPSIS = ("...", "…", "[…]")


def _drop_teasers(blocks: list[_Block]) -> list[_Block]:
    """Without lists of teasers: linked headlines whose excerpt is cut off with an ellipsis.

    A "breaking news" ticker or a "latest" list inside the article's container reads like
    prose, but its items link away and stop mid-sentence; two such lines of one list are
    enough to tell it from a story that quotes one truncated line.
    """
    teasers = [b for b in blocks if b.link_chars and b.text.endswith(_ELLIPSIS)]
    if len(teasers) < 2:
        return blocks
    # items of one list, or sibling elements (teaser cards) under one parent
    keys = [_run_key(b) if b.owner.tag in ("li", "dd", "dt") else id(b.owner.parent) for b in teasers]
    counts: dict[int, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    drop = {id(b) for b, key in zip(teasers, keys, strict=True) if counts[key] >= 2}
    return [b for b in blocks if id(b) not in drop] if drop else blocks


def extract_generic(tree: LexborHTMLParser, title: str = "") -> str:
    """The article body of a parsed page as paragraphs joined by newlines ("" if none).

    The tree is only read, so metadata and other extractors can still use it.
    """
    root = tree.body or tree.root
    if root is None:
        return ""
    text = ""
    for use_hints in (True, False):
        blocks, frames = _walk(root, use_hints)
        chosen = _select(blocks, frames, title)
        text = "\n".join(b.text for b in chosen)
        if is_plausible_body(text):
            return text
    return text


def node_paragraphs(node: LexborNode, title: str = "") -> list[str]:
    """Paragraphs of one element already known to hold the body (a profile's match).

    Furniture inside it (share bars, captions, inline promos) is still left out.
    """
    blocks, frames = _walk(node, True)
    for block in blocks:
        block.text = "".join(block.parts).strip()
        block.heading = block.owner.heading
    _resolve_hints(blocks, frames)
    title_key = _key(title) if title else ""
    out: list[str] = []
    for block in blocks:
        block.text = clean_paragraph(block.text)
        if _keep(block, title_key):
            out.append(block.text)
    return out


def is_plausible_body(text: str, minimum: int = 200) -> bool:
    """Enough text to be an article body rather than a teaser or leftover furniture."""
    return len(text) >= minimum
