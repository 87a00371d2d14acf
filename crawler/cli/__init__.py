"""The `newswatch` command: one module per group of commands, each registered here.

A command imports only what it uses: the web framework is loaded inside `serve`
and `export`, so `run`, `poll` and `check` never import it.
"""

from __future__ import annotations

import sys
from typing import Annotated

# httpx imports its own command-line tool when click, rich and pygments are installed (4 MB
# in every process, and newswatch never runs it): marked absent here, before anything imports
# httpx, so httpx keeps its stand-in `main` and `run` stays lean.
sys.modules.setdefault("httpx._main", None)

import typer  # noqa: E402

from ..settings import ConfigError  # noqa: E402
from . import daemon, serve, tools  # noqa: E402
from .common import print_problems  # noqa: E402
from .feeds import feeds_app  # noqa: E402
from .review import review_app  # noqa: E402
from .rules import rules_app  # noqa: E402
from .users import users_app  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(
    name="newswatch",
    help="Monitor news feeds and flag the articles that match your topics.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"newswatch {version('newswatch')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("newswatch (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Monitor news feeds and flag the articles that match your topics."""
daemon.register(app)
app.add_typer(review_app, name="review")
tools.register(app)
app.add_typer(rules_app, name="rules", help="Test, explain, evaluate and backtest topic rules.")
app.add_typer(feeds_app, name="feeds")
app.add_typer(users_app, name="users")
serve.register(app)


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # raised by a command that loaded config lazily
        print_problems(exc.problems)
        sys.exit(2)
