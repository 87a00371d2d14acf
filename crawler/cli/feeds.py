"""`newswatch feeds list|add|remove|enable|disable|import|export|test`: managing feeds without a text editor.

Every edit goes to the config file itself (comments and layout kept), is
validated before the file is replaced, and is followed by a reload of a running
daemon. `feeds test` tries a feed before it is added: it fetches it as the daemon
would and shows which entries the topics would flag, storing nothing.

Exit statuses: 0 done; 1 a feed or file could not be fetched or read; 2 the edit
was refused (unknown feed, a name or URL already there, an invalid result) and
the file was left as it was.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..settings import ConfigError, format_duration
from .common import (
    ConfigOpt,
    JsonOpt,
    LimitOpt,
    Table,
    err,
    escape,
    fail,
    load_all,
    load_config,
    out,
    print_json,
)

if TYPE_CHECKING:
    from ..configfile import ConfigFile
    from ..feeds import ParsedFeed
    from ..runtime import Runtime

__all__ = ["feeds_app"]

feeds_app = typer.Typer(help="List, add, remove, enable, disable, import, export and test feeds.",
                        no_args_is_help=True)

NamesArg = Annotated[list[str], typer.Argument(help="Feed names, as `feeds list` shows them.")]
NoReloadOpt = Annotated[bool, typer.Option("--no-reload", help="Do not signal a running daemon.")]


def _open(config: Path | None) -> ConfigFile:
    from ..configfile import ConfigFile

    try:
        return ConfigFile.open(config)
    except ConfigError as exc:
        fail(exc.problems)


def _save(cfg: ConfigFile, what: str, reload: bool) -> None:
    """Write the edit (or exit 2, writing nothing) and tell a running daemon."""
    from .reload import reload_daemon

    try:
        cfg.save()
    except ConfigError as exc:
        fail([*exc.problems, f"{cfg.path}: not changed"])
    out.print(f"{escape(what)} ({escape(str(cfg.path))}).", highlight=False)
    if reload:
        out.print(escape(reload_daemon()), highlight=False)


@feeds_app.command("list")
def list_cmd(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The configured feeds, in the config's order."""
    loaded = load_config(config)
    feeds = loaded.settings.feeds
    if as_json:
        print_json([{
            "name": f.name, "url": f.url, "source": f.source, "enabled": f.enabled,
            "interval": format_duration(f.interval) if f.interval is not None else None,
            "fetch_articles": f.fetch_articles, "ignore_http_cache": f.ignore_http_cache,
        } for f in feeds])
        return
    table = Table(title=f"Feeds in {escape(str(loaded.path))}")
    for col in ("name", "source", "url", "interval", "enabled"):
        table.add_column(col, overflow="fold")
    for f in feeds:
        table.add_row(escape(f.name), escape(f.source or ""), escape(f.url),
                      format_duration(f.interval) if f.interval is not None else "default",
                      "yes" if f.enabled else "[yellow]no[/yellow]")
    out.print(table)
    enabled = sum(1 for f in feeds if f.enabled)
    out.print(f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}, {enabled} enabled.")


@feeds_app.command("add")
def add_cmd(
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS or Atom).")],
    name: Annotated[str | None, typer.Option("--name", help="Its name (default: made from the URL).")] = None,
    source: Annotated[str | None, typer.Option(help="The outlet's name, shown in review.")] = None,
    interval: Annotated[str | None, typer.Option(help="Its own polling interval, e.g. 5m.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    no_articles: Annotated[bool, typer.Option("--no-articles",
                                              help="Match entries' title and summary only.")] = False,
    config: ConfigOpt = None,
    no_reload: NoReloadOpt = False,
) -> None:
    """Add a feed to the config file and reload the daemon."""
    from ..configfile import FeedEntryError
    from ..opml import OpmlFeed, feed_key, plan_import

    cfg = _open(config)
    same = [n for n, u in zip(cfg.feed_names(), cfg.feed_urls(), strict=True) if feed_key(u) == feed_key(url)]
    if same:
        fail([f"{cfg.path}: feeds: {url} is already the feed {same[0]!r}"])
    if name is None:
        plan = plan_import([OpmlFeed(url=url, title="")], cfg.feed_names(), cfg.feed_urls())
        name = plan.added[0][1] if plan.added else url
    try:
        cfg.add_feed(name, url, source=source, interval=interval, enabled=False if disabled else None,
                     fetch_articles=False if no_articles else None)
    except FeedEntryError as exc:
        fail([str(exc)])
    _save(cfg, f"Added feed {name!r}", not no_reload)


@feeds_app.command("remove")
def remove_cmd(names: NamesArg, config: ConfigOpt = None, no_reload: NoReloadOpt = False) -> None:
    """Remove feeds from the config (their stored articles are kept)."""
    from ..configfile import FeedEntryError

    cfg = _open(config)
    try:
        for name in names:
            cfg.remove_feed(name)
    except FeedEntryError as exc:
        fail([str(exc), f"{cfg.path}: not changed"])
    _save(cfg, f"Removed {', '.join(map(repr, names))}", not no_reload)


def _switch(names: list[str], enabled: bool, config: Path | None, no_reload: bool) -> None:
    from ..configfile import FeedEntryError

    cfg = _open(config)
    try:
        changed = [n for n in names if cfg.set_enabled(n, enabled)]
    except FeedEntryError as exc:
        fail([str(exc), f"{cfg.path}: not changed"])
    word = "enabled" if enabled else "disabled"
    if not changed:
        out.print(f"Nothing to do: already {word}.")
        return
    _save(cfg, f"{word.capitalize()} {', '.join(map(repr, changed))}", not no_reload)


@feeds_app.command("enable")
def enable_cmd(names: NamesArg, config: ConfigOpt = None, no_reload: NoReloadOpt = False) -> None:
    """Switch feeds on."""
    _switch(names, True, config, no_reload)


@feeds_app.command("disable")
def disable_cmd(names: NamesArg, config: ConfigOpt = None, no_reload: NoReloadOpt = False) -> None:
    """Switch feeds off without removing them (their history stays)."""
    _switch(names, False, config, no_reload)


@feeds_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="An OPML file another feed reader exported.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be added; write nothing.")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add the feeds switched off.")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    no_reload: NoReloadOpt = False,
) -> None:
    """Add the feeds of an OPML file; feeds already configured, or listed twice, are skipped."""
    from ..opml import plan_import, read_opml

    try:
        data = file.read_bytes()
    except OSError as exc:
        fail([f"{file}: cannot read: {exc.strerror}"], 1)
    try:
        found = read_opml(data, str(file))
    except ConfigError as exc:
        fail(exc.problems)
    cfg = _open(config)
    plan = plan_import(found, cfg.feed_names(), cfg.feed_urls())
    for feed, name in plan.added:
        cfg.add_feed(name, feed.url, source=feed.title if feed.title and feed.title != name else None,
                     enabled=False if disabled else None)
    if as_json:
        print_json({
            "added": [{"name": n, "url": f.url, "title": f.title, "category": f.category} for f, n in plan.added],
            "skipped": [{"url": f.url, "title": f.title, "category": f.category, "reason": why}
                        for f, why in plan.skipped],
            "written": bool(plan.added) and not dry_run,
        })
    else:
        table = Table(title=f"{escape(str(file))}: {len(found)} feeds")
        for col in ("name", "title", "folder", "url", "result"):
            table.add_column(col, overflow="fold")
        for f, n in plan.added:
            table.add_row(escape(n), escape(f.title), escape(f.category or ""), escape(f.url),
                          "[green]would add[/green]" if dry_run else "[green]added[/green]")
        for f, why in plan.skipped:
            table.add_row("", escape(f.title), escape(f.category or ""), escape(f.url),
                          f"[yellow]skipped: {escape(why)}[/yellow]")
        out.print(table)
    if dry_run or not plan.added:
        (err if as_json else out).print(f"Nothing written: {len(plan.added)} to add, "
                                        f"{len(plan.skipped)} skipped.")
        return
    if as_json:  # keep stdout pure JSON
        try:
            cfg.save()
        except ConfigError as exc:
            fail([*exc.problems, f"{cfg.path}: not changed"])
        if not no_reload:
            from .reload import reload_daemon

            err.print(escape(reload_daemon()), highlight=False)
        return
    _save(cfg, f"Added {len(plan.added)} feeds, skipped {len(plan.skipped)}", not no_reload)


@feeds_app.command("export")
def export_cmd(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    include_disabled: Annotated[bool, typer.Option("--all", help="Include disabled feeds.")] = False,
    config: ConfigOpt = None,
) -> None:
    """The feeds as OPML 2.0, for another feed reader."""
    import sys

    from ..opml import write_opml

    loaded = load_config(config)
    feeds = [f for f in loaded.settings.feeds if f.enabled or include_disabled]
    data = write_opml(feeds)
    if output is None:
        sys.stdout.buffer.write(data)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail([f"{output}: cannot write: {exc.strerror}"], 1)
    err.print(f"Wrote {len(feeds)} feeds to {escape(str(output))}.", highlight=False)


@dataclass(slots=True)
class _Tried:
    """One entry of a tried feed: where its text came from and what it would flag."""

    title: str
    link: str
    text_from: str
    words: int
    page_error: str | None
    topics: list[tuple[str, list[str]]]


async def _try_feed(runtime: Runtime, url: str, fetch_pages: bool,
                    limit: int | None) -> tuple[ParsedFeed, list[_Tried]]:
    """Fetch and parse the feed, then read and match each entry as a poll would; store nothing."""
    from ..feeds import parse_feed
    from ..fetch import Fetcher, FetchError
    from ..models import Document
    from ..pipeline import FEED_ACCEPT, feed_text, page_is_thinner
    from ..scrape import scrape

    async with Fetcher(runtime.config.settings.http) as fetcher:
        result = await fetcher.fetch(url, accept=FEED_ACCEPT)
        parsed = await asyncio.to_thread(parse_feed, result.body, feed_name="feeds-test", feed_url=result.url,
                                         content_type=result.content_type)
        entries = parsed.entries[:limit] if limit else parsed.entries

        async def one(entry: Any) -> _Tried:
            text, text_from, error, title = feed_text(entry), "feed", None, entry.title
            if fetch_pages and not entry.opaque:
                try:
                    page = await scrape(fetcher, entry.link, runtime.profiles)
                except FetchError as exc:
                    error = str(exc)
                else:
                    art = page.article
                    error = page.error
                    if art is not None and not error and page_is_thinner(art.text, text):
                        error = "the page gave fewer words than the feed's own text"
                    elif art is not None and not error:
                        text, text_from, title = art.text, "page", art.title or entry.title
            found = runtime.rules.match(Document(title=title, body=text, url=entry.url,
                                                 source=entry.source or "", authors=list(entry.authors)))
            return _Tried(title=title, link=entry.link, text_from=text_from, words=len(text.split()),
                          page_error=error, topics=[(m.topic_id, m.matched_terms) for m in found])

        limit_pages = asyncio.Semaphore(runtime.config.settings.schedule.article_concurrency)

        async def bounded(entry: Any) -> _Tried:
            async with limit_pages:
                return await one(entry)

        return parsed, list(await asyncio.gather(*(bounded(e) for e in entries)))


@feeds_app.command("test")
def test_cmd(
    url: Annotated[str, typer.Argument(help="A feed URL to try before adding it.")],
    no_pages: Annotated[bool, typer.Option("--no-pages", help="Match the feed's own text; fetch no pages.")] = False,
    limit: LimitOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch a feed as the daemon would and show its entries and which the topics would flag; stores nothing."""
    from ..feeds import FeedError
    from ..fetch import FetchError

    runtime = load_all(config)
    try:
        parsed, tried = asyncio.run(_try_feed(runtime, url, not no_pages, limit))
    except FetchError as exc:
        fail([f"{url}: {exc}"], 1)
    except FeedError as exc:
        fail([f"{url}: not a feed: {exc}"], 1)
    flagged = [t for t in tried if t.topics]
    if as_json:
        print_json({"url": url, "title": parsed.title, "entries": len(parsed.entries), "flagged": len(flagged),
                    "items": [{"title": t.title, "link": t.link, "text_from": t.text_from, "words": t.words,
                               "page_error": t.page_error,
                               "topics": [{"topic": tid, "matched_terms": terms} for tid, terms in t.topics]}
                              for t in tried]})
        return
    table = Table(title=f"{escape(parsed.title or url)}: {len(parsed.entries)} entries")
    for col in ("title", "text from", "words", "flagged by"):
        table.add_column(col, overflow="fold", justify="right" if col == "words" else "left")
    for t in tried:
        where = t.text_from + (f" [dim]({escape(t.page_error)})[/dim]" if t.page_error else "")
        topics = "; ".join(f"[bold]{escape(tid)}[/bold]: {escape(', '.join(terms[:4]))}" for tid, terms in t.topics)
        table.add_row(escape(t.title), where, str(t.words), topics or "[dim]—[/dim]")
    out.print(table)
    out.print(f"{len(flagged)} of {len(tried)} entries would be flagged. Nothing was stored.")
