"""`newswatch extract` and `newswatch demo`: trying extraction on one page, and the offline demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..extract import extract
from ..settings import ConfigError, load_settings
from .common import (
    ConfigOpt,
    JsonOpt,
    escape,
    fail,
    iso,
    out,
    print_json,
    profiles_of,
    scrape_or_fail,
)

__all__ = ["register"]

def extract_cmd(
    target: Annotated[str, typer.Argument(help="An article URL or a saved HTML file.")],
    url: Annotated[str | None, typer.Option(help="The page's URL, when TARGET is a file (picks the site profile).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract an article from a URL or file and show which method won."""
    try:
        loaded = load_settings(config)
    except ConfigError:
        loaded = None  # extraction works without a config; profiles then come from the defaults
    if target.startswith(("http://", "https://")):
        page = scrape_or_fail(target, loaded)
        assert page.article is not None
        art, page_url = page.article, page.url
    else:
        path = Path(target)
        try:
            body = path.read_bytes()
        except OSError as exc:
            fail([f"{target}: cannot read: {exc.strerror}"], 1)
        page_url = url or path.resolve().as_uri()
        art = extract(body, page_url, profiles=profiles_of(loaded))
    if as_json:
        print_json({
            "url": page_url, "method": art.method, "site": art.site, "title": art.title,
            "published": iso(art.published), "updated": iso(art.updated), "authors": art.authors,
            "language": art.language, "canonical_url": art.canonical_url,
            "description": art.description, "text": art.text,
        })
        return
    out.print(f"[bold]{escape(art.title or '(no title)')}[/bold]")
    meta = [f"method: {art.method}", f"published: {iso(art.published) or '—'}",
            f"authors: {', '.join(art.authors) or '—'}", f"language: {art.language or '—'}"]
    out.print("[dim]" + escape(" · ".join(meta)) + "[/dim]\n")
    out.print(escape(art.text) if art.text else "[yellow](no article text found)[/yellow]")


def demo(keep: Annotated[bool, typer.Option(help="Keep the database and print how to review it.")] = False,
         serve: Annotated[bool, typer.Option("--serve", help="Then open the review app on the demo's "
                                             "articles (Ctrl-C stops it).")] = False,
         port: Annotated[int | None, typer.Option(min=1, max=65535,
                                                  help="Port for --serve (default: [review] port).")] = None,
         config: ConfigOpt = None) -> None:
    """Serve a sample news site on 127.0.0.1, poll it once, and show what was flagged."""
    import tempfile

    from ..demo import run_demo

    if not serve:
        raise typer.Exit(run_demo(config, keep=keep, console=out))
    from . import serve as serve_cmd

    folder = Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    code = run_demo(config, console=out, into=folder)
    if code == 2:
        raise typer.Exit(code)
    serve_cmd.serve(host="127.0.0.1", port=port, config=folder / "newswatch.toml")



def register(app: typer.Typer) -> None:
    """Add `extract` and `demo` to `newswatch`."""
    app.command("extract")(extract_cmd)
    app.command()(demo)
