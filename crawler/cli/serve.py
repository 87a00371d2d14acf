"""`newswatch serve` (the review app) and `newswatch export` (flagged articles to a file).

The web app and its framework are imported inside these two commands only, so the
daemon's commands never load them. Both share the CLI's config resolution and exit
codes: a bad config exits 2, a database that cannot be opened exits 1.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    ConfigOpt,
    StateFilter,
    ensure_can_listen,
    err,
    escape,
    load_all,
    load_config,
    open_store,
)

__all__ = ["register"]


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    atom = "atom"


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: [review] host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: [review] port, 8080).")] = None,
    config: ConfigOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the review web app (bound to 127.0.0.1 unless told otherwise)."""
    from ..logs import setup_logging
    from ..web.app import create_app, warm_up
    from ..web.security import is_loopback

    runtime = load_all(config)
    review = runtime.config.settings.review
    bind = host or review.host
    bind_port = port or review.port
    if not is_loopback(bind) and not review.token and not review.users:
        err.print(f"[red]error:[/red] {escape(str(runtime.config.path))}: review.token: refusing to serve on "
                  f"{escape(bind)} without a token. Anyone who can reach that address could read and mark "
                  "articles: add reviewers with `newswatch users add NAME`, or set [review] token = \"…\" "
                  "(a long random string), or bind to 127.0.0.1.")
        raise typer.Exit(2)
    ensure_can_listen(bind, bind_port)  # a busy port: one line, exit 1
    setup_logging(log_level)
    import uvicorn

    from ..stories import assign_stories

    with open_store(runtime.config) as store:
        assign_stories(store)  # flagged articles stored before the pipeline grouped them
        app = create_app(runtime.config, store, runtime.rules.topics)
        warm_up(app)
        where = f"[{bind}]" if ":" in bind else bind
        err.print(f"Review app on http://{where}:{bind_port}/ "
                  f"({'token required' if review.token else 'loopback only, no login'}).")
        uvicorn.run(app, host=bind, port=bind_port, log_config=None, access_log=False,
                    proxy_headers=False, server_header=False)


def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv, json, jsonl or atom.")] = ExportFormat.csv,
    state: Annotated[StateFilter, typer.Option(help="Only this review state.")] = StateFilter.all,
    topic: Annotated[str | None, typer.Option(help="Only this topic id.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Export flagged articles (newest first) as CSV, JSON, JSON lines or an Atom feed."""
    from storage import ReviewFilter

    from ..stories import assign_stories
    from ..web import exports

    loaded = load_config(config)
    base = loaded.settings.review.base_url
    with open_store(loaded) as store:
        assign_stories(store)
        rows = store.review_page(ReviewFilter(state=state.value, topic=topic), limit=None, details=True).rows
    if fmt is ExportFormat.csv:
        data = exports.to_csv(rows, base)
    elif fmt is ExportFormat.json:
        data = exports.to_json(rows, base)
    elif fmt is ExportFormat.jsonl:
        data = exports.to_jsonl(rows, base)
    else:
        names: dict[str, str] = {}
        feed_id = f"urn:newswatch:feed:{topic}" if topic else "urn:newswatch:feed:all"
        self_url = (base.rstrip("/") if base else "http://127.0.0.1") + "/feed.atom" + (f"?topic={topic}" if topic else "")
        data = exports.atom_feed(rows, feed_id=feed_id, title=f"newswatch · {topic or 'flagged articles'}",
                                 self_url=self_url, base_url=base, topic_names=names).decode("utf-8")
    if output:
        # newline="" keeps CSV's CRLF row ends exactly as written
        with output.open("w", encoding="utf-8", newline="") as fh:
            fh.write(data)
        err.print(f"Wrote {len({r.id for r in rows})} articles ({len(rows)} matches) to {escape(str(output))}.")
    else:
        sys.stdout.write(data)


def register(app: typer.Typer) -> None:
    """Add `serve` and `export` to the `newswatch` command."""
    app.command("serve")(serve)
    app.command("export")(export)
