"""OPML, the file every feed reader imports and exports its subscriptions as.

Readers write it differently: OPML 1.0, 1.1 or 2.0; feeds nested in folders
(`<outline text="News">`) or flat; the feed's name in `title`, in `text` or in
both; `type="rss"` or no type at all; extension namespaces (FreshRSS's `frss:`).
`read_opml` accepts all of these and returns each feed once with the folder it
was in; `plan_import` turns them into new config entries with unique, readable
names, skipping what the config already has; `write_opml` writes OPML 2.0.
The parser is defusedxml's: an OPML file comes from elsewhere and must not be
able to expand entities or reach the network.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .settings import ConfigError, FeedSettings
from .urls import canonicalize, host_of

__all__ = ["ImportPlan", "OpmlFeed", "feed_key", "plan_import", "read_opml", "slug", "write_opml"]

MAX_OPML_BYTES = 4 * 1024 * 1024
"""Subscription lists run to kilobytes; a file this large is not one."""


@dataclass(slots=True)
class OpmlFeed:
    """One subscription in an OPML file."""

    url: str
    title: str
    """What the reader called it (`title`, else `text`); may be empty."""
    category: str | None = None
    """The folder it was in, innermost last, joined with ` / `."""
    site: str | None = None
    """`htmlUrl`: the site the feed belongs to."""


@dataclass(slots=True)
class ImportPlan:
    """What importing a file would do: feeds to add, and what was skipped with the reason."""

    added: list[tuple[OpmlFeed, str]] = field(default_factory=list)
    """Each feed with the config name chosen for it."""
    skipped: list[tuple[OpmlFeed, str]] = field(default_factory=list)
    """Each feed left out, with why (already in the config, listed twice, not http(s))."""


def _attr(el: ET.Element, name: str) -> str:
    """An attribute by name, in any letter case (some exporters write `xmlurl` or `XMLURL`)."""
    value = el.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in el.attrib.items() if k.lower() == lowered), None)
    return " ".join((value or "").split())


def read_opml(data: bytes, source: str = "OPML file") -> list[OpmlFeed]:
    """Every outline with an `xmlUrl`, in document order; raise `ConfigError` naming line:column.

    Folders are outlines without `xmlUrl`; a feed outline nested inside another
    feed outline (seen in hand-edited files) is still read.
    """
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError([f"{source}: too large for a subscription list ({len(data)} bytes)"])
    try:
        root = fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ConfigError([f"{source}:{line}:{column + 1}: not well-formed XML: "
                           f"{str(exc).split(':')[0]}"]) from None
    except DefusedXmlException as exc:
        raise ConfigError([f"{source}: refused: {exc}"]) from None
    if _local(root.tag) != "opml":
        raise ConfigError([f"{source}: not an OPML file (its root element is <{_local(root.tag)}>)"])
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise ConfigError([f"{source}: not an OPML file (no <body>)"])
    found: list[OpmlFeed] = []

    def walk(el: ET.Element, folders: list[str]) -> None:
        for child in el:
            if _local(child.tag) != "outline":
                continue
            url = _attr(child, "xmlUrl")
            label = _attr(child, "title") or _attr(child, "text")
            if url:
                found.append(OpmlFeed(url=url, title=label, category=" / ".join(folders) or None,
                                      site=_attr(child, "htmlUrl") or None))
                walk(child, folders)
            else:
                walk(child, [*folders, label] if label else folders)

    walk(body, [])
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def feed_key(url: str) -> str:
    """What makes two feed URLs the same feed: their canonical form (case, default port, tracking)."""
    try:
        return canonicalize(url)
    except ValueError:
        return url.strip()


def slug(text: str) -> str:
    """A config name from a title: lower case, words joined by `-`, letters of any script kept."""
    text = unicodedata.normalize("NFKC", text).casefold()
    words = re.findall(r"[^\W_]+", text)
    return "-".join(words)[:60].strip("-")


_FEED_WORDS = frozenset({"rss", "rss2", "feed", "feeds", "atom", "xml", "index", "www", "syndication"})
"""Words in a feed URL that say it is a feed, not which one: left out of a name made from it."""


_GENERIC_DOMAINS = frozenset({"co", "com", "org", "net", "gov", "ac", "edu"})


def _name_for(feed: OpmlFeed) -> str:
    """A name from the reader's title, else from the URL (`example.org/rss/world.xml` → `example-world`)."""
    base = slug(feed.title)
    if not base:
        host = host_of(feed.url)
        labels = [part for part in host.split(".")[:-1]
                  if part not in _FEED_WORDS and part not in _GENERIC_DOMAINS]
        site = labels[-1] if labels and not re.fullmatch(r"[\d.]+|[0-9a-f:]+", host) else host
        path = urlsplit(feed.url).path.strip("/")
        words = [w for w in re.split(r"[/._-]+", path) if w and w.lower() not in _FEED_WORDS]
        base = slug(" ".join([site, *words[:3]])) or "feed"
    return base


def plan_import(feeds: Iterable[OpmlFeed], existing_names: Sequence[str],
                existing_urls: Sequence[str]) -> ImportPlan:
    """Which feeds to add under which names; duplicates of the config or of each other skipped.

    A name already taken gets `-2`, `-3`, … so every feed stays addressable by
    `--feed NAME`.
    """
    plan = ImportPlan()
    taken = set(existing_names)
    known = {feed_key(u): "already in the config" for u in existing_urls}
    for feed in feeds:
        try:
            FeedSettings(name="x", url=feed.url)
        except ValueError:
            plan.skipped.append((feed, "not an http(s) URL"))
            continue
        key = feed_key(feed.url)
        if key in known:
            plan.skipped.append((feed, known[key]))
            continue
        base = _name_for(feed)
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        known[key] = f"listed twice in the file (added as {name!r})"
        plan.added.append((feed, name))
    return plan


def write_opml(feeds: Sequence[FeedSettings], title: str = "newswatch feeds",
               now: datetime | None = None) -> bytes:
    """OPML 2.0: one folder per source (feeds without one at the top), each feed under its name."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for f in feeds:
        parent = body
        if f.source:
            if f.source not in folders:
                folders[f.source] = ET.SubElement(body, "outline", text=f.source, title=f.source)
            parent = folders[f.source]
        ET.SubElement(parent, "outline", type="rss", text=f.name, title=f.name, xmlUrl=f.url)
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"
