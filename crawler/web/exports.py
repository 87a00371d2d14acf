"""Flagged articles as CSV, JSON, JSON lines and Atom: what the review page shows, for other tools.

`newswatch export` and the app's `/feed.atom` share these writers, so the file a
reviewer exports and the feed a reader subscribes to carry the same fields.

CSV is opened by spreadsheets, which run a cell starting with `=`, `+`, `-`, `@`,
tab or carriage return as a formula: article titles come from the web, so every
such cell is prefixed with `'` (OWASP's advice for CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from storage import ReviewRow

from .render import snippet

__all__ = ["CSV_COLUMNS", "FORMATS", "atom_feed", "csv_safe", "to_csv", "to_json", "to_jsonl"]

FORMATS = ("csv", "json", "jsonl", "atom")
CSV_COLUMNS = ("id", "published", "fetched_at", "source", "feed", "topic", "score", "state",
               "title", "url", "link", "matched_terms", "note", "reviewed_at", "story_id",
               "snippet", "review_url")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ATOM_NS = "http://www.w3.org/2005/Atom"


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will show as text, never evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def review_url(base: str | None, article_id: int) -> str | None:
    return f"{base.rstrip('/')}/articles/{article_id}" if base else None


def record(row: ReviewRow, base_url: str | None = None, *, with_text: bool = True) -> dict[str, Any]:
    """One exported row: the listing's fields plus a snippet, the review link and (JSON) the text."""
    data = row.to_json()
    data.pop("text", None)
    data["snippet"] = snippet(row.explanation, row.text or row.summary)
    data["review_url"] = review_url(base_url, row.id)
    if with_text and row.text is not None:
        data["text"] = row.text
    return data


def to_csv(rows: Iterable[ReviewRow], base_url: str | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        rec = record(row, base_url, with_text=False)
        rec["matched_terms"] = "; ".join(rec["matched_terms"])
        writer.writerow([csv_safe(rec.get(col)) for col in CSV_COLUMNS])
    return buf.getvalue()


def to_json(rows: Iterable[ReviewRow], base_url: str | None = None) -> str:
    return json.dumps([record(r, base_url) for r in rows], ensure_ascii=False, indent=2) + "\n"


def to_jsonl(rows: Iterable[ReviewRow], base_url: str | None = None) -> str:
    return "".join(json.dumps(record(r, base_url), ensure_ascii=False) + "\n" for r in rows)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _xml_text(value: str) -> str:
    """Drop characters XML 1.0 cannot carry at all (control characters in scraped text)."""
    return "".join(ch for ch in value if ch in "\t\n\r" or (ord(ch) >= 0x20 and ord(ch) not in (0xFFFE, 0xFFFF)))


def atom_feed(rows: Sequence[ReviewRow], *, feed_id: str, title: str, self_url: str,
              base_url: str | None, topic_names: dict[str, str] | None = None) -> bytes:
    """An Atom 1.0 document (RFC 4287), one entry per article (topics as categories).

    Entry ids are stable URNs, so a reader never shows an article twice; `updated` is
    when the article was first flagged, so a review mark does not re-publish it.
    """
    ET.register_namespace("", ATOM_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: _xml_text(v) for k, v in attrs.items()})
        if text is not None:
            node.text = _xml_text(text)
        return node

    by_article: dict[int, list[ReviewRow]] = {}
    for r in rows:
        by_article.setdefault(r.id, []).append(r)

    def updated(group: list[ReviewRow]) -> datetime:
        return min(r.flagged_at for r in group)

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    el(feed, "id", feed_id)
    el(feed, "title", title)
    el(feed, "updated", _stamp(max((updated(g) for g in by_article.values()),
                                   default=datetime(2000, 1, 1, tzinfo=UTC))))
    el(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    if base_url:
        el(feed, "link", rel="alternate", href=base_url.rstrip("/") + "/", type="text/html")
    el(feed, "generator", "newswatch")
    author = el(feed, "author")
    el(author, "name", "newswatch")
    names = topic_names or {}
    for aid, group in by_article.items():
        first = group[0]
        entry = el(feed, "entry")
        el(entry, "id", f"urn:newswatch:article:{aid}")
        el(entry, "title", first.title or "(untitled)", type="text")
        el(entry, "updated", _stamp(updated(group)))
        if first.published:
            el(entry, "published", _stamp(first.published))
        el(entry, "link", rel="alternate", href=first.link, type="text/html")
        link = review_url(base_url, aid)
        if link:
            el(entry, "link", rel="related", href=link, type="text/html", title="Review in newswatch")
        who = el(entry, "author")
        el(who, "name", first.source or first.feed_name or "unknown source")
        for r in group:
            el(entry, "category", term=r.topic, label=names.get(r.topic, r.topic))
        terms = ", ".join(dict.fromkeys(t for r in group for t in r.matched_terms))
        states = ", ".join(f"{r.topic}: {r.state}" for r in group)
        body = f"{snippet(first.explanation, first.text or first.summary, 600)}\n\nMatched: {terms}\nReview: {states}"
        el(entry, "summary", body, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode").encode("utf-8")
