"""`newswatch demo`: the whole pipeline on a sample news site, with no network.

The site (`crawler/demo_site/`, written for the project in the markup styles of
real outlets) is served on 127.0.0.1; one poll pass runs into a temporary
database with the default rules, and the flagged articles are printed next to
what a careful reader would have flagged.
"""

from __future__ import annotations

import asyncio
import mimetypes
import shlex
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .settings import ConfigError, FeedSettings, LoadedConfig

__all__ = ["DEMO_SITE", "DemoSite", "run_demo"]

DEMO_SITE = Path(__file__).resolve().parent / "demo_site"


@dataclass(slots=True)
class DemoFeed:
    name: str
    path: str
    source: str | None
    fetch_articles: bool = True


class DemoSite:
    """Serves a folder on 127.0.0.1, writing the server's own address over `{{BASE}}`."""

    def __init__(self, root: Path = DEMO_SITE) -> None:
        self.root = root
        self.manifest: dict[str, Any] = tomllib.loads((root / "manifest.toml").read_text("utf-8"))
        self.routes: dict[str, Path] = {}
        for feed in self.manifest.get("feeds", []):
            if "file" in feed:
                self.routes[feed["path"]] = root / feed["file"]
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def feeds(self) -> list[DemoFeed]:
        return [DemoFeed(name=f["name"], path=f["path"], source=f.get("source"),
                         fetch_articles=f.get("fetch_articles", True))
                for f in self.manifest.get("feeds", [])]

    def labels(self) -> dict[str, int]:
        """Expected label of each article page and news-search item, keyed by canonical URL."""
        from .urls import canonicalize

        labels = {canonicalize(self.base_url + a["path"]): int(a["label"])
                  for a in self.manifest.get("articles", [])}
        for item in self.manifest.get("search_items", []):
            labels[canonicalize(item["link"])] = int(item["label"])
        return labels

    def resolve(self, path: str) -> Path | None:
        if path in self.routes:
            return self.routes[path]
        rel = unquote(path).lstrip("/")
        for candidate in (rel, rel + ".html", rel + ".xml", rel.rstrip("/") + "/index.html"):
            full = (self.root / candidate).resolve()
            if full.is_file() and full.is_relative_to(self.root.resolve()) and full.name != "manifest.toml":
                return full
        return None

    def __enter__(self) -> DemoSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                file = site.resolve(path)
                if file is None:
                    self.send_error(404)
                    return
                body = file.read_bytes().replace(b"{{BASE}}", site.base_url.encode())
                if file.suffix == ".xml":
                    ctype = "application/xml; charset=utf-8"
                else:
                    ctype = (mimetypes.guess_type(file.name)[0] or "text/html") + "; charset=utf-8"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def demo_config(base: LoadedConfig, site: DemoSite, db_url: str) -> LoadedConfig:
    """The user's config (rules, profiles) with the demo site's feeds and a throwaway database."""
    s = base.settings.model_copy(deep=True)
    s.feeds = [FeedSettings(name=f.name, url=site.base_url + f.path, source=f.source,
                            fetch_articles=f.fetch_articles) for f in site.feeds()]
    s.storage.url = db_url
    s.http.allow_private_networks = True
    s.http.per_host_delay = 0.0
    s.http.per_host_concurrency = 8
    s.notify.urls = []
    return LoadedConfig(settings=s, path=base.path)


DEMO_DB = "newswatch.db"


def write_review_config(base: LoadedConfig, folder: Path) -> Path:
    """A config beside the kept demo database, so that `newswatch serve --config THAT` shows it.

    It is the user's own file (comments and all) with the storage pointed at the demo
    database, rules and site profiles made absolute (they were relative to the
    original), and no feeds or notifications: it is for reviewing, not polling.
    """
    import tomlkit

    from .settings import load_settings

    doc = tomlkit.parse(base.path.read_text(encoding="utf-8"))
    doc.pop("feeds", None)
    for section in ("storage", "rules", "extract", "notify"):
        if section not in doc:
            doc[section] = tomlkit.table()
    doc["storage"]["url"] = f"sqlite:///{folder / DEMO_DB}"  # type: ignore[index]
    doc["rules"]["files"] = [str(p.resolve()) for p in base.rule_files()]  # type: ignore[index]
    doc["extract"]["sites"] = str(base.sites_file().resolve())  # type: ignore[index]
    doc["notify"]["urls"] = []  # type: ignore[index]
    path = folder / "newswatch.toml"
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    load_settings(path)  # what is printed as a hint must work: fail here, not in the user's hands
    return path


def run_demo(config: Path | None, *, keep: bool = False, console: Console | None = None,
             into: Path | None = None) -> int:
    """Serve, poll once, print. Returns the exit status.

    With `keep` (or a folder `into`), the database stays, with a config beside it that
    `newswatch serve --config …` and `newswatch review list --config …` open as printed.
    """
    from storage import Store

    from .daemon import poll_once
    from .runtime import load_runtime

    console = console or Console()
    try:
        runtime = load_runtime(config)
    except ConfigError as exc:
        for p in exc.problems:
            console.print(f"[red]error:[/red] {escape(p)}")
        return 2
    keep = keep or into is not None
    tmp = into or Path(tempfile.mkdtemp(prefix="newswatch-demo-"))
    user_config = runtime.config
    with DemoSite() as site:
        runtime.config = demo_config(runtime.config, site, f"sqlite:///{tmp / DEMO_DB}")
        console.print(f"Serving the demo news site at [bold]{escape(site.base_url)}[/bold] "
                      f"({len(site.feeds())} feeds); polling once into {escape(str(tmp / DEMO_DB))} …")
        store = Store.open(runtime.config.storage_url())
        try:
            reports = asyncio.run(poll_once(runtime, store))
            flagged = store.list_flagged(state="all")
            stored = store.count_articles()
        finally:
            store.close()
        labels = site.labels()

    table = Table(title="Flagged articles", show_lines=True)
    for col in ("id", "source", "title", "matched terms", "text from", "expected"):
        table.add_column(col, overflow="fold")
    for r in flagged:
        expected = labels.get(r.url)
        mark = "[green]✓ relevant[/green]" if expected == 1 else (
            "[red]✗ not relevant[/red]" if expected == 0 else "[dim]unlabelled[/dim]")
        table.add_row(str(r.id), escape(r.source or r.feed_name or ""), escape(r.title),
                      escape(", ".join(r.matched_terms[:6])), r.text_from, mark)
    console.print(table)
    flagged_urls = {r.url for r in flagged}
    tp = sum(1 for u, lab in labels.items() if lab == 1 and u in flagged_urls)
    fp = sum(1 for u, lab in labels.items() if lab == 0 and u in flagged_urls)
    fn = sum(1 for u, lab in labels.items() if lab == 1 and u not in flagged_urls)
    failed = [r for r in reports if not r.ok]
    console.print(f"{stored} articles stored from {len(reports)} feeds; {len(flagged)} flagged. "
                  f"Against the site's labels: {tp} right, {fp} false alarms, {fn} missed.")
    for r in failed:
        console.print(f"[red]feed {escape(r.feed)} failed: {escape(r.error or '')}[/red]")
    if keep:
        cfg = shlex.quote(str(write_review_config(user_config, tmp)))
        console.print(f"Database kept at {escape(str(tmp / DEMO_DB))}. Review it with:\n"
                      f"  newswatch serve --config {escape(cfg)}\n"
                      f"  newswatch review list --config {escape(cfg)}", highlight=False)
    else:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return 1 if failed else 0
