"""The `newswatch` command.

Every listing prints a Rich table for people and, with `--json`, the complete
data for scripts (only `--limit` shortens it). Bad config or rules exit with
status 2 and one line per problem; nothing a user can cause prints a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .logs import setup_logging
from .settings import ConfigError, LoadedConfig, load_settings, parse_since

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["app", "main"]

app = typer.Typer(
    name="newswatch",
    help="Monitor news feeds and flag the articles that match your topics.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
review_app = typer.Typer(help="Review flagged articles: list, read, mark, export labels.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $NEWSWATCH_CONFIG, ./config/newswatch.toml, "
                 "/etc/newswatch/newswatch.toml).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print complete JSON instead of a table.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Show at most N rows.")]


class ReviewState(StrEnum):
    unreviewed = "unreviewed"
    relevant = "relevant"
    irrelevant = "irrelevant"
    all = "all"


class Mark(StrEnum):
    relevant = "relevant"
    irrelevant = "irrelevant"
    unreviewed = "unreviewed"


def fail(problems: list[str], code: int = 2) -> typer.Exit:
    for p in problems:
        err.print(f"[red]error:[/red] {escape(p)}")
    return typer.Exit(code)


def load_config(config: Path | None) -> LoadedConfig:
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(exc.problems) from None


def load_all(config: Path | None) -> Runtime:
    from .runtime import load_runtime

    try:
        return load_runtime(config)
    except ConfigError as exc:
        raise fail(exc.problems) from None


@contextmanager
def open_store(loaded: LoadedConfig) -> Iterator[Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from storage import Store

    try:
        store = Store.open(loaded.storage_url())
    except (SQLAlchemyError, OSError) as exc:
        raise fail([f"{loaded.path}: storage.url: cannot open the database: {exc}"], 1) from None
    try:
        yield store
    finally:
        store.close()


def _when(dt: datetime | None, now: datetime | None = None) -> str:
    if dt is None:
        return "—"
    now = now or datetime.now(UTC)
    delta = (dt - now).total_seconds()
    span = abs(delta)
    if span < 60:
        rel = f"{int(span)}s"
    elif span < 3600:
        rel = f"{int(span // 60)}m"
    elif span < 86400:
        rel = f"{span / 3600:.1f}h"
    else:
        rel = f"{span / 86400:.1f}d"
    return f"in {rel}" if delta > 0 else f"{rel} ago"


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# ---- daemon ----------------------------------------------------------------

@app.command()
def run(config: ConfigOpt = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info") -> None:
    """Run the daemon in the foreground (systemd runs this)."""
    from .daemon import Daemon

    runtime = load_all(config)
    setup_logging(log_level)
    from sqlalchemy.exc import SQLAlchemyError

    from .notify import make_notifier

    daemon: Daemon

    def current() -> Runtime:  # the notifier follows reloads
        return daemon.runtime

    daemon = Daemon(runtime, notifier=make_notifier(current))
    try:
        raise typer.Exit(asyncio.run(daemon.run()))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (SQLAlchemyError, OSError) as exc:  # e.g. PostgreSQL down at start: systemd retries
        raise fail([f"{runtime.config.path}: storage.url: cannot open the database: {exc}"], 1) from None


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Poll each feed once, then exit (the default).")] = True,
    feed: Annotated[list[str] | None, typer.Option("--feed", "-f", help="Only this feed (repeatable).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Poll the feeds once, store and flag new articles, then exit."""
    from .daemon import poll_once

    runtime = load_all(config)
    setup_logging(log_level)
    names = None
    if feed:
        known = {f.name for f in runtime.config.settings.feeds}
        unknown = [n for n in feed if n not in known]
        if unknown:
            raise fail([f"{runtime.config.path}: feeds: no feed named {n!r}" for n in unknown])
        names = list(feed)
    with open_store(runtime.config) as store:
        reports = asyncio.run(poll_once(runtime, store, names))
    if as_json:
        print_json([{
            "feed": r.feed, "ok": r.ok, "status": r.status, "error": r.error,
            "not_modified": r.not_modified, "entries": r.entries, "new_articles": r.new_articles,
            "flagged": r.flagged, "flagged_ids": r.flagged_ids, "page_errors": r.page_errors,
            "seconds": round(r.duration, 3),
        } for r in reports])
        return
    table = Table(title="Poll", show_lines=False)
    for col in ("feed", "result", "entries", "new", "flagged", "page errors", "time"):
        table.add_column(col, justify="right" if col in ("entries", "new", "flagged", "page errors", "time") else "left")
    for r in sorted(reports, key=lambda r: r.feed):
        result = ("[green]not modified[/green]" if r.not_modified else f"[green]{r.status}[/green]") if r.ok \
            else f"[red]{escape(r.error or 'failed')}[/red]"
        table.add_row(r.feed, result, str(r.entries), str(r.new_articles), str(r.flagged),
                      str(r.page_errors), f"{r.duration:.1f}s")
    out.print(table)
    total_flagged = sum(r.flagged for r in reports)
    failed = sum(1 for r in reports if not r.ok)
    out.print(f"{sum(r.new_articles for r in reports)} new articles, {total_flagged} flagged, "
              f"{failed} feed{'s' if failed != 1 else ''} failed.")


@app.command()
def check(config: ConfigOpt = None) -> None:
    """Validate the config, the rules (with their examples) and the site profiles."""
    runtime = load_all(config)
    s = runtime.config.settings
    out.print(f"[green]ok[/green] {runtime.config.path}: {len(s.feeds)} feeds "
              f"({sum(1 for f in s.feeds if f.enabled)} enabled), {len(runtime.rules.topics)} topics "
              f"(rules version {runtime.rules.version[:12]}), {len(runtime.profiles)} site profiles")


@app.command()
def status(config: ConfigOpt = None, as_json: JsonOpt = False, limit: LimitOpt = None) -> None:
    """Each feed's health: last poll, HTTP status, new articles, errors, next poll."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        feeds = store.feed_states()
        counts = store.review_counts()
    feeds = feeds[:limit] if limit else feeds
    if as_json:
        print_json({"feeds": [{
            "name": f.name, "url": f.url, "source": f.source, "last_poll": _iso(f.last_poll_at),
            "last_success": _iso(f.last_success_at), "http_status": f.last_status,
            "new_articles": f.last_new_articles, "articles_total": f.articles_total,
            "polls": f.polls_total, "not_modified": f.not_modified_total, "errors": f.errors_total,
            "consecutive_failures": f.consecutive_failures, "failing_since": _iso(f.failing_since),
            "page_errors": f.page_errors_total, "last_error": f.last_error,
            "next_poll": _iso(f.next_poll_at),
        } for f in feeds], "review": counts})
        return
    now = datetime.now(UTC)
    table = Table(title=f"Feeds ({loaded.storage_url().split('://')[0]})")
    for col in ("feed", "last poll", "HTTP", "new", "total", "errors", "next poll", "last error"):
        table.add_column(col, overflow="fold")
    for f in feeds:
        health = "green" if f.consecutive_failures == 0 else "red"
        errors = f"{f.errors_total}" + (f" ({f.consecutive_failures} in a row)" if f.consecutive_failures else "")
        if f.page_errors_total:
            errors += f", {f.page_errors_total} page"
        table.add_row(f"[{health}]{escape(f.name)}[/{health}]", _when(f.last_poll_at, now),
                      str(f.last_status or "—"), str(f.last_new_articles), str(f.articles_total),
                      errors, _when(f.next_poll_at, now), escape((f.last_error or "")[:80]))
    out.print(table)
    out.print(f"Review queue: {counts['unreviewed']} unreviewed, {counts['relevant']} relevant, "
              f"{counts['irrelevant']} irrelevant.")


# ---- review ----------------------------------------------------------------

def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise fail([f"--since: {exc}"]) from None


@review_app.command("list")
def review_list(
    state: Annotated[ReviewState, typer.Option(help="Which review state to list.")] = ReviewState.unreviewed,
    topic: Annotated[str | None, typer.Option(help="Only this topic id.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source or feed name.")] = None,
    since: Annotated[str | None, typer.Option(help="Only newer than a duration (7d) or date.")] = None,
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Flagged articles, newest first (unreviewed by default)."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        rows = store.list_flagged(state=state.value, topic=topic, source=source, since=_since(since),
                                  limit=limit)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    if not rows:
        out.print(f"No {'' if state is ReviewState.all else state.value + ' '}flagged articles.")
        return
    table = Table(title=f"Flagged articles ({state.value})")
    for col in ("id", "published", "source", "topic", "score", "state", "title", "matched"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = (r.published or r.fetched_at).strftime("%Y-%m-%d %H:%M")
        table.add_row(str(r.id), when, escape(r.source or r.feed_name or ""), escape(r.topic),
                      f"{r.score:.2f}", r.state, escape(r.title), escape(", ".join(r.matched_terms[:6])))
    out.print(table)


def highlight(text: str, spans: list[tuple[int, int]]) -> Text:
    """Rich text with the given character spans in bold yellow."""
    rich = Text(text)
    for start, end in spans:
        if 0 <= start < end <= len(text):
            rich.stylize("bold black on yellow", start, end)
    return rich


def _spans(explanation: dict[str, Any], field: str) -> list[tuple[int, int]]:
    return [(int(h["start"]), int(h["end"])) for h in explanation.get("hits", [])
            if h.get("field") == field and "start" in h and "end" in h]


@review_app.command("show")
def review_show(article_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """One stored article with its matched terms highlighted and why it matched."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        art = store.get_article(article_id)
    if art is None:
        raise fail([f"no article with id {article_id}"], 1)
    if as_json:
        data = {k: getattr(art, k) for k in art.__slots__ if k != "matches"}
        data["matches"] = [{k: getattr(m, k) for k in m.__slots__} for m in art.matches]
        print_json(data)
        return
    spans_title: list[tuple[int, int]] = []
    spans_body: list[tuple[int, int]] = []
    for m in art.matches:
        spans_title += _spans(m.explanation, "title")
        spans_body += _spans(m.explanation, "body")
    out.print(highlight(art.title, spans_title), style="bold")
    when = (art.published or art.fetched_at).strftime("%Y-%m-%d %H:%M %Z")
    out.print(f"[dim]{escape(art.source or art.feed_name or '')} · {when} · {escape(art.link)}[/dim]")
    out.print(f"[dim]text from {art.text_from} ({art.method})"
              + (f"; {escape(art.fetch_error)}" if art.fetch_error else "") + "[/dim]\n")
    out.print(highlight(art.text, spans_body))
    for m in art.matches:
        out.print(f"\n[bold]{escape(m.topic_id)}[/bold] score {m.score:.2f} · {m.state}"
                  + (f" · note: {escape(m.note)}" if m.note else ""))
        out.print("  matched: " + escape(", ".join(m.matched_terms)))
    if not art.matches:
        out.print("\n[dim]No topic flagged this article.[/dim]")


@review_app.command("mark")
def review_mark(
    article_id: int,
    state: Annotated[Mark, typer.Argument(help="relevant, irrelevant or unreviewed")],
    note: Annotated[str | None, typer.Option(help="A note kept with the mark.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only this topic's match (default: all).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Mark a flagged article relevant or irrelevant (kept with time and note)."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        changed = store.mark(article_id, state.value, note=note, topic=topic)
    if not changed:
        raise fail([f"article {article_id} has no match" + (f" for topic {topic!r}" if topic else "")], 1)
    out.print(f"Marked article {article_id} {state.value} ({changed} match{'es' if changed > 1 else ''}).")


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
        for state, label in (("relevant", 1), ("irrelevant", 0)):
            for r in store.list_flagged(state=state, topic=topic):
                if r.id in seen:
                    continue
                seen.add(r.id)
                art = store.get_article(r.id)
                if art is None:
                    continue
                lines.append(json.dumps({
                    "id": str(art.id), "title": art.title, "text": art.text, "label": label,
                    "url": art.url, "source": art.source or art.feed_name, "topic": r.topic,
                    "note": r.note, "marked_at": _iso(r.reviewed_at),
                }, ensure_ascii=False))
    data = "".join(line + "\n" for line in lines)
    if output:
        output.write_text(data, encoding="utf-8")
        err.print(f"Wrote {len(lines)} labelled articles to {output}.")
    else:
        sys.stdout.write(data)


# ---- tools -----------------------------------------------------------------

@app.command("extract")
def extract_cmd(
    target: Annotated[str, typer.Argument(help="An article URL or a saved HTML file.")],
    url: Annotated[str | None, typer.Option(help="The page's URL, when TARGET is a file (picks the site profile).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract an article from a URL or file and show which method won."""
    from .extract import extract, load_site_profiles

    loaded = None
    try:
        loaded = load_settings(config)
    except ConfigError:
        loaded = None  # extraction works without a config; profiles then come from the defaults
    profiles = None
    if loaded is not None and loaded.sites_file().exists():
        try:
            profiles = load_site_profiles(loaded.sites_file())
        except ConfigError as exc:
            raise fail(exc.problems) from None
    if target.startswith(("http://", "https://")):
        from .fetch import FetchError, fetch_page
        from .settings import HttpSettings

        try:
            page = fetch_page(target, loaded.settings.http if loaded else HttpSettings())
        except FetchError as exc:
            raise fail([f"{target}: {exc}"], 1) from None
        body, page_url, ctype = page.body, page.url, page.content_type
    else:
        path = Path(target)
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise fail([f"{target}: cannot read: {exc.strerror}"], 1) from None
        page_url, ctype = url or path.resolve().as_uri(), None
    art = extract(body, page_url, content_type=ctype, profiles=profiles)
    if as_json:
        print_json({
            "url": page_url, "method": art.method, "site": art.site, "title": art.title,
            "published": _iso(art.published), "updated": _iso(art.updated), "authors": art.authors,
            "language": art.language, "canonical_url": art.canonical_url,
            "description": art.description, "text": art.text,
        })
        return
    out.print(f"[bold]{escape(art.title or '(no title)')}[/bold]")
    meta = [f"method: {art.method}", f"published: {_iso(art.published) or '—'}",
            f"authors: {', '.join(art.authors) or '—'}", f"language: {art.language or '—'}"]
    out.print("[dim]" + escape(" · ".join(meta)) + "[/dim]\n")
    out.print(escape(art.text) if art.text else "[yellow](no article text found)[/yellow]")


@app.command()
def demo(keep: Annotated[bool, typer.Option(help="Keep the temporary database and print its path.")] = False,
         config: ConfigOpt = None) -> None:
    """Serve a sample news site on 127.0.0.1, poll it once, and show what was flagged."""
    from .demo import run_demo

    raise typer.Exit(run_demo(config, keep=keep, console=out))


def _mount_optional() -> None:
    """Sub-commands that live beside their own module."""
    from .rules import history  # noqa: F401 - adds explain, backtest and stats to rules_app
    from .rules.cli import rules_app

    app.add_typer(rules_app, name="rules", help="Test, explain, evaluate and backtest topic rules.")
    try:
        from .web.cli import register as register_web
    except ImportError:  # the review app is optional in a minimal install
        return
    register_web(app)


_mount_optional()


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # raised by a command that loaded config lazily
        for p in exc.problems:
            err.print(f"[red]error:[/red] {escape(p)}")
        sys.exit(2)


if __name__ == "__main__":
    main()
