"""`newswatch review list|show|mark|export-labels|near-misses`: reviewing flagged articles from a terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from storage import ReviewState, StoredArticle

from ..display import hits_of
from ..reviewers import local_user
from .common import (
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    StateFilter,
    Table,
    err,
    escape,
    fail,
    highlighted,
    iso,
    load_config,
    open_store,
    out,
    parse_since_option,
    print_json,
)

__all__ = ["review_app"]

LIST_FIELDS = ("id", "url", "title", "source", "feed", "published", "fetched_at", "topic", "score", "state",
               "matched_terms", "note", "reviewed_at", "reviewed_by", "text_from")
"""What `review list --json` prints of each row (the API's rows also carry link, flag time and story)."""

review_app = typer.Typer(help="Review flagged articles: list, read, mark, export labels.",
                         no_args_is_help=True)


@review_app.command("list")
def review_list(
    state: Annotated[StateFilter, typer.Option(help="Which review state to list.")] = StateFilter.unreviewed,
    topic: Annotated[str | None, typer.Option(help="Only this topic id.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source or feed name.")] = None,
    since: Annotated[str | None, typer.Option(help="Only newer than a duration (7d) or date.")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Only matches this reviewer marked last.")] = None,
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flagged articles, newest first (unreviewed by default)."""
    loaded = load_config(config)
    if reviewer and state is StateFilter.unreviewed:
        state = StateFilter.all  # an unreviewed match was marked by nobody
    with open_store(loaded) as store:
        rows = store.list_flagged(state=state.value, topic=topic, source=source, since=parse_since_option(since),
                                  limit=limit, reviewer=reviewer)
    if as_json:
        print_json([{k: v for k, v in r.to_json().items() if k in LIST_FIELDS} for r in rows])
        return
    if not rows:
        out.print(f"No {'' if state is StateFilter.all else state.value + ' '}flagged articles.")
        return
    table = Table(title=f"Flagged articles ({state.value})")
    for col in ("id", "published", "source", "topic", "score", "state", "by", "title", "matched"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = (r.published or r.fetched_at).strftime("%Y-%m-%d %H:%M")
        table.add_row(str(r.id), when, escape(r.source or r.feed_name or ""), escape(r.topic),
                      f"{r.score:.2f}", r.state, escape(r.reviewed_by or ""), escape(r.title),
                      escape(", ".join(r.matched_terms[:6])))
    out.print(table)


@review_app.command("show")
def review_show(article_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """One stored article with its matched terms highlighted and why it matched."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        art = store.get_article(article_id)
    if art is None:
        fail([f"no article with id {article_id}"], 1)
    if as_json:
        data = {k: getattr(art, k) for k in art.__slots__ if k != "matches"}
        data["matches"] = [{k: getattr(m, k) for k in m.__slots__} for m in art.matches]
        print_json(data)
        return
    hits = hits_of(m.explanation for m in art.matches)
    out.print(highlighted(art.title, hits, "title"), style="bold")
    when = (art.published or art.fetched_at).strftime("%Y-%m-%d %H:%M %Z")
    out.print(f"[dim]{escape(art.source or art.feed_name or '')} · {when} · {escape(art.link)}[/dim]")
    out.print(f"[dim]text from {art.text_from} ({art.method})"
              + (f"; {escape(art.fetch_error)}" if art.fetch_error else "") + "[/dim]\n")
    out.print(highlighted(art.text, hits, "body"))
    for m in art.matches:
        out.print(f"\n[bold]{escape(m.topic_id)}[/bold] score {m.score:.2f} · {m.state}"
                  + (f" · note: {escape(m.note)}" if m.note else ""))
        out.print("  matched: " + escape(", ".join(m.matched_terms)))
    if not art.matches:
        out.print("\n[dim]No topic flagged this article.[/dim]")


@review_app.command("mark")
def review_mark(
    article_id: int,
    state: Annotated[ReviewState, typer.Argument(help="relevant, irrelevant or unreviewed")],
    note: Annotated[str | None, typer.Option(help="A note kept with the mark.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic's match (default: all).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Mark a flagged article relevant or irrelevant (kept with time and note)."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        changed = store.mark(article_id, state.value, note=note, topic=topic, reviewer=local_user())
        if not changed:  # an unflagged article can carry a review too: its near miss
            changed = store.mark_near_miss(article_id, state.value, note=note, topic=topic, reviewer=local_user())
    if not changed:
        fail([f"article {article_id} has no match or near miss" + (f" for topic {topic!r}" if topic else "")], 1)
    out.print(f"Marked article {article_id} {state.value} ({changed} match{'es' if changed > 1 else ''}).")


def _label_line(art: StoredArticle, label: int, topic: str, note: str | None, marked_at: datetime | None,
                **extra: str) -> str:
    """One labelled article as `rules eval` reads it, with the review's topic, note and time."""
    return json.dumps({"id": str(art.id), "title": art.title, "text": art.text, "label": label, "url": art.url,
                       "source": art.source or art.feed_name, "topic": topic, "note": note,
                       "marked_at": iso(marked_at), **extra}, ensure_ascii=False)


@review_app.command("export-labels")
def review_export_labels(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic's marks.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Write reviewed articles as labelled JSON lines, the format `rules eval` reads."""
    loaded = load_config(config)
    lines: list[str] = []
    with open_store(loaded) as store:
        seen: set[int] = set()
        states = (("relevant", 1), ("irrelevant", 0))
        # flagged articles first, then marks on near misses (labels too); an article counts once
        marked = [(r, label, None) for state, label in states
                  for r in store.list_flagged(state=state, topic=topic)]
        marked += [(nm, label, nm.failed) for state, label in states
                   for nm in store.near_miss_rows(topic=topic, state=state, limit=None)[0]]
        for row, label, failed in marked:
            if row.id in seen:
                continue
            seen.add(row.id)
            art = store.get_article(row.id)
            if art is None:
                continue
            extra = {"near_miss": failed} if failed is not None else {}
            lines.append(_label_line(art, label, row.topic, row.note, row.reviewed_at, **extra))
    data = "".join(line + "\n" for line in lines)
    if output:
        output.write_text(data, encoding="utf-8")
        err.print(f"Wrote {len(lines)} labelled articles to {escape(str(output))}.")
    else:
        sys.stdout.write(data)


NEAR_MISS_FIELDS = ("id", "url", "title", "source", "published", "topic", "failed", "detail", "closeness",
                    "state", "reviewed_by")


@review_app.command("near-misses")
def review_near_misses(
    topic: Annotated[str | None, typer.Option(help="Only this topic id.")] = None,
    since: Annotated[str | None, typer.Option(help="Only newer than a duration (7d) or date.")] = None,
    state: Annotated[StateFilter, typer.Option(help="Which review state to list.")] = StateFilter.unreviewed,
    limit: Annotated[int, typer.Option(min=1, max=100000, help="At most this many (closest first).")] = 50,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored articles no topic flagged that fail one by a single clause, closest first.

    A safety net, not a second inbox: glance at the top of it; mark one relevant
    (`review mark ID relevant`) and it becomes a label for `rules eval` and `rules stats`.
    """
    loaded = load_config(config)
    with open_store(loaded) as store:
        rows, total = store.near_miss_rows(topic=topic, since=parse_since_option(since), limit=limit,
                                           state=None if state is StateFilter.all else state.value)
    if as_json:
        print_json([{k: v for k, v in r.to_json().items() if k in NEAR_MISS_FIELDS} for r in rows])
        return
    if not rows:
        out.print("No near misses" + (f" for topic {escape(topic)}" if topic else "") + ".")
        return
    table = Table(title=f"Near misses ({len(rows)} of {total}, closest first)")
    for col in ("id", "published", "source", "topic", "failed", "how", "title"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = (r.published or r.fetched_at).strftime("%Y-%m-%d %H:%M")
        table.add_row(str(r.id), when, escape(r.source or r.feed_name or ""), escape(r.topic), escape(r.failed),
                      escape(r.detail), escape(r.title))
    out.print(table)
