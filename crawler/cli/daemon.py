"""`newswatch run|poll|check|status`: running the service and seeing how its feeds are doing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ..display import plural, relative_time
from ..logs import setup_logging
from ..settings import format_duration
from .common import (
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    Table,
    err,
    escape,
    fail,
    iso,
    load_all,
    load_config,
    open_store,
    out,
    print_json,
)

if TYPE_CHECKING:
    from storage import FeedState

    from ..pipeline import FeedReport
    from ..runtime import Runtime

__all__ = ["check", "poll", "register", "run", "status"]

def run(config: ConfigOpt = None,
        log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info") -> None:
    """Run the daemon in the foreground (systemd runs this)."""
    from ..daemon import Daemon

    runtime = load_all(config)
    setup_logging(log_level)
    from sqlalchemy.exc import SQLAlchemyError

    from ..notify import make_notifier

    daemon: Daemon

    def current() -> Runtime:  # the notifier follows reloads
        return daemon.runtime

    from .reload import pid_file_written

    daemon = Daemon(runtime, notifier=make_notifier(current))
    try:
        with pid_file_written():  # so that `feeds add` can find and reload this daemon
            code = asyncio.run(daemon.run())
        raise typer.Exit(code)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (SQLAlchemyError, OSError) as exc:  # e.g. PostgreSQL down at start: systemd retries
        fail([f"{runtime.config.path}: storage.url: cannot open the database: {exc}"], 1)


def poll(
    once: Annotated[bool, typer.Option("--once", help="Poll each feed once, then exit (the default).")] = True,
    feed: Annotated[list[str] | None, typer.Option("--feed", "-f", help="Only this feed (repeatable).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "warning",
) -> None:
    """Poll the feeds once, store and flag new articles, then exit.

    Exits 0 when at least one feed answered (or none was due), 1 when every feed
    polled failed (no network, a proxy, DNS) or the database cannot be opened, and 2
    on an invalid config or rules.
    """
    from ..daemon import poll_once

    runtime = load_all(config)
    setup_logging(log_level)
    names = None
    if feed:
        known = {f.name for f in runtime.config.settings.feeds}
        unknown = [n for n in feed if n not in known]
        if unknown:
            fail([f"{runtime.config.path}: feeds: no feed named {n!r}" for n in unknown])
        names = list(feed)
    with open_store(runtime.config) as store:
        reports = asyncio.run(poll_once(runtime, store, names))
    status = _poll_status(reports)
    if as_json:
        print_json([{
            "feed": r.feed, "ok": r.ok, "status": r.status, "error": r.error,
            "not_modified": r.not_modified, "entries": r.entries, "new_articles": r.new_articles,
            "flagged": r.flagged, "flagged_ids": r.flagged_ids, "page_errors": r.page_errors,
            "seconds": round(r.duration, 3), "held_by": r.held_by,
        } for r in reports])
        raise typer.Exit(status)
    table = Table(title="Poll", show_lines=False)
    for col in ("feed", "result", "entries", "new", "flagged", "page errors", "time"):
        table.add_column(col, justify="right" if col in ("entries", "new", "flagged", "page errors", "time") else "left")
    for r in sorted(reports, key=lambda r: r.feed):
        result = ("[green]not modified[/green]" if r.not_modified else f"[green]{r.status}[/green]") if r.ok \
            else f"[yellow]skipped: {escape(r.held_by)} holds it[/yellow]" if r.held_by \
            else f"[red]{escape(r.error or 'failed')}[/red]"
        table.add_row(escape(r.feed), result, str(r.entries), str(r.new_articles), str(r.flagged),
                      str(r.page_errors), f"{r.duration:.1f}s")
    out.print(table)
    total_flagged = sum(r.flagged for r in reports)
    failed = sum(1 for r in reports if not r.ok and not r.held_by)
    held = sorted(r.feed for r in reports if r.held_by)
    out.print(f"{sum(r.new_articles for r in reports)} new articles, {total_flagged} flagged, "
              f"{failed} feed{'s' if failed != 1 else ''} failed.")
    if held:
        out.print(f"Skipped {len(held)} feed{'s' if len(held) != 1 else ''} another instance is polling: "
                  f"{escape(', '.join(held))}.")
    if status:
        err.print("Every feed failed: check the network, DNS and any proxy (see `newswatch status`).")
    raise typer.Exit(status)


def _poll_status(reports: list[FeedReport]) -> int:
    """1 when every feed polled failed, so a script or timer notices a dead network.

    Feeds skipped because another instance holds them were not polled here: they count neither way.
    """
    polled = [r for r in reports if not r.held_by]
    return 1 if polled and not any(r.ok for r in polled) else 0


def check(config: ConfigOpt = None) -> None:
    """Validate the config, the rules (with their examples) and the site profiles."""
    runtime = load_all(config)
    s = runtime.config.settings
    out.print(f"[green]ok[/green] {escape(str(runtime.config.path))}: {plural(len(s.feeds), 'feed')} "
              f"({sum(1 for f in s.feeds if f.enabled)} enabled), {plural(len(runtime.rules.topics), 'topic')} "
              f"(rules version {runtime.rules.version[:12]}), {plural(len(runtime.profiles), 'site profile')}")
    _warn_stale_profiles(runtime)


def _warn_stale_profiles(runtime: Runtime) -> None:
    """A warning (not an error) per site profile nobody has checked against its site for too long."""
    from datetime import date, timedelta

    from ..extract import stale_profiles

    max_age = runtime.config.settings.extract.profile_max_age
    sites = escape(str(runtime.config.sites_file()))
    for p in stale_profiles(runtime.profiles, date.today(), timedelta(seconds=max_age)):
        when = (f"last verified {p.verified}, due again {p.due}" if p.verified
                else "never verified (no `verified` date)")
        err.print(f"[yellow]warning:[/yellow] {sites}: profile {escape(p.name)}: {when}; check its selectors "
                  f"against the site and update `verified` (extract.profile_max_age = "
                  f"{format_duration(max_age)})", highlight=False)


def status(config: ConfigOpt = None, as_json: JsonOpt = False, limit: LimitOpt = None) -> None:
    """Each feed's health: last poll, HTTP status, new articles, errors, next poll."""
    loaded = load_config(config)
    with open_store(loaded) as store:
        feeds = store.feed_states()
        counts = store.review_counts()
        fallbacks = store.profile_fallbacks()
    feeds = feeds[:limit] if limit else feeds
    if as_json:
        print_json({"feeds": [{
            "name": f.name, "url": f.url, "source": f.source, "last_poll": iso(f.last_poll_at),
            "last_success": iso(f.last_success_at), "http_status": f.last_status,
            "new_articles": f.last_new_articles, "articles_total": f.articles_total,
            "polls": f.polls_total, "not_modified": f.not_modified_total, "errors": f.errors_total,
            "consecutive_failures": f.consecutive_failures, "failing_since": iso(f.failing_since),
            "page_errors": f.page_errors_total, "last_error": f.last_error,
            "next_poll": iso(f.next_poll_at), "next_poll_reason": f.next_poll_reason,
        } for f in feeds], "review": counts, "profile_fallbacks": fallbacks})
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
        table.add_row(f"[{health}]{escape(f.name)}[/{health}]", relative_time(f.last_poll_at, now),
                      str(f.last_status or "—"), str(f.last_new_articles), str(f.articles_total),
                      errors, _next_poll(f, now), escape((f.last_error or "")[:80]))
    out.print(table)
    out.print(f"Review queue: {counts['unreviewed']} unreviewed, {counts['relevant']} relevant, "
              f"{counts['irrelevant']} irrelevant.")
    if fallbacks:
        out.print("Site profiles that found no body, so another method was used: "
                  + ", ".join(f"{escape(name)} {n}×" for name, n in fallbacks.items())
                  + " (their site may have changed its markup: `newswatch extract URL` shows it).")



def _next_poll(feed: FeedState, now: datetime) -> str:
    """When, and why later than usual when a hint or back-off stretched the interval."""
    when = relative_time(feed.next_poll_at, now)
    return f"{when} [dim]({escape(feed.next_poll_reason)})[/dim]" if feed.next_poll_reason else when


def register(app: typer.Typer) -> None:
    """Add the service's commands to `newswatch`."""
    for command in (run, poll, check, status):
        app.command()(command)
