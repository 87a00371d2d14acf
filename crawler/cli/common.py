"""What every `newswatch` command shares: the console, the common options, config and storage loading.

Every listing prints a Rich table for people and, with `--json`, the complete data
for scripts (only `--limit` shortens it). Bad config or rules exit with status 2 and
one line per problem; a database that cannot be opened exits 1; nothing a user can
cause prints a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from storage.rows import FILTER_STATES

from ..display import hit_spans
from ..settings import ConfigError, LoadedConfig, load_settings, parse_since

if TYPE_CHECKING:
    from rich.console import Console as RichConsole
    from rich.table import Table as RichTable
    from rich.text import Text
    from rich.tree import Tree as RichTree

    from storage import Store

    from ..extract import SiteProfiles
    from ..runtime import Runtime
    from ..scrape import ScrapedPage

__all__ = [
    "ConfigOpt",
    "Console",
    "JsonOpt",
    "LazyConsole",
    "LimitOpt",
    "StateFilter",
    "Table",
    "Tree",
    "ensure_can_listen",
    "err",
    "escape",
    "fail",
    "highlighted",
    "iso",
    "load_all",
    "load_config",
    "open_store",
    "out",
    "parse_since_option",
    "print_json",
    "print_problems",
    "profiles_of",
    "scrape_or_fail",
]

class LazyConsole:
    """A rich `Console` made on its first use: `run` prints nothing through one, so it never loads rich (6 MB)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: RichConsole | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console as RichConsole

            self._console = RichConsole(**self._options)
        return getattr(self._console, name)


def Console(**options: Any) -> Any:
    """A console for a command's output, loading rich only when something is printed."""
    return LazyConsole(**options)


def Table(*args: Any, **kwargs: Any) -> RichTable:
    """A rich table, rich imported when a command builds one."""
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


def Tree(*args: Any, **kwargs: Any) -> RichTree:
    """A rich tree, rich imported when a command builds one."""
    from rich.tree import Tree as RichTree

    return RichTree(*args, **kwargs)


def escape(markup: str) -> str:
    """Text made safe to print as rich markup (rich imported on first use)."""
    from rich.markup import escape as rich_escape

    return rich_escape(markup)


out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $NEWSWATCH_CONFIG, ./config/newswatch.toml, "
                 "$XDG_CONFIG_HOME/newswatch/newswatch.toml, /etc/newswatch/newswatch.toml).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print complete JSON instead of a table.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Show at most N rows.")]

StateFilter = StrEnum("StateFilter", [(state, state) for state in FILTER_STATES])  # type: ignore[misc]
"""`--state` of a listing: a review state (`storage.ReviewState`) or `all`."""


def fail(problems: list[str], code: int = 2) -> NoReturn:
    """Print each problem on stderr and exit: 2 for usage, config or rules, 1 for what happened at run time."""
    print_problems(problems)
    raise typer.Exit(code)


def print_problems(problems: list[str]) -> None:
    """One line per problem on stderr, each naming its file and key or line:column."""
    for p in problems:
        err.print(f"[red]error:[/red] {escape(p)}")


def load_config(config: Path | None) -> LoadedConfig:
    """The config, or exit 2 with its problems."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        fail(exc.problems)


def load_all(config: Path | None) -> Runtime:
    """Config, rules and site profiles together, or exit 2 with every problem."""
    from ..runtime import load_runtime

    try:
        return load_runtime(config)
    except ConfigError as exc:
        fail(exc.problems)


@contextmanager
def open_store(loaded: LoadedConfig) -> Iterator[Store]:
    """The configured database, closed afterwards; exit 1 when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import Store

    try:
        store = Store.open(loaded.storage_url())
    except (SQLAlchemyError, OSError) as exc:
        fail([f"{loaded.path}: storage.url: cannot open the database: {exc}"], 1)
    try:
        yield store
    finally:
        store.close()


def profiles_of(loaded: LoadedConfig | None) -> SiteProfiles | None:
    """The site profiles the daemon would use for this config (None: the shipped ones)."""
    from ..extract import load_site_profiles

    if loaded is None or not loaded.sites_file().exists():
        return None
    try:
        return load_site_profiles(loaded.sites_file())
    except ConfigError as exc:
        fail(exc.problems)


def scrape_or_fail(url: str, loaded: LoadedConfig | None, code: int = 1) -> ScrapedPage:
    """Read one article page as the daemon would (its HTTP settings and site profiles); exit `code`
    (1 unless the command gives 1 another meaning) when it cannot be fetched or is not HTML.
    Without a config, the defaults apply."""
    from ..fetch import FetchError
    from ..scrape import scrape_now
    from ..settings import HttpSettings

    profiles = profiles_of(loaded)
    try:
        page = scrape_now(url, loaded.settings.http if loaded else HttpSettings(), profiles)
    except FetchError as exc:
        fail([f"{url}: {exc}"], code)
    if page.article is None:
        fail([f"{url}: {page.error}"], code)
    return page


def ensure_can_listen(host: str, port: int) -> None:
    """Exit 1 with one line when `host:port` cannot be listened on (another server has it, or no
    such address), instead of the web server's own multi-line error after start-up."""
    import errno
    import socket

    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself will
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = "; another program is listening there (choose another --port)" \
            if exc.errno == errno.EADDRINUSE else ""
        fail([f"cannot listen on {where}: {reason}{hint}"], 1)


def parse_since_option(value: str | None) -> datetime | None:
    """`--since` as a duration (7d) or a date; exit 2 on anything else."""
    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        fail([f"--since: {exc}"])


def highlighted(text: str, hits: list[dict[str, Any]], field: str) -> Text:
    """`text` with the hits of one field in bold black on yellow (offsets into the original string)."""
    from rich.text import Text

    rich = Text(text)
    for start, end, _ in hit_spans(hits, field, len(text)):
        rich.stylize("bold black on yellow", start, end)
    return rich


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def print_json(data: Any) -> None:
    """Complete data on stdout, UTF-8 as is, for scripts."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
