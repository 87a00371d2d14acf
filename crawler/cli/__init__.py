"""The `newswatch` command: one module per group of commands, each registered here.

A command imports only what it uses: the web framework is loaded inside `serve`
and `export`, so `run`, `poll` and `check` never import it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Annotated

# httpx imports its own command-line tool when click, rich and pygments are installed (4 MB
# in every process, and newswatch never runs it): marked absent here, before anything imports
# httpx, so httpx keeps its stand-in `main` and `run` stays lean.
sys.modules.setdefault("httpx._main", None)

import typer  # noqa: E402

from ..settings import ConfigError  # noqa: E402
from .common import print_problems  # noqa: E402

__all__ = ["app", "build", "main"]

GROUPS: dict[str, tuple[str, str | None]] = {
    "run": ("daemon", None), "poll": ("daemon", None), "check": ("daemon", None), "status": ("daemon", None),
    "review": ("review", "review_app"), "extract": ("tools", None), "demo": ("tools", None),
    "rules": ("rules", "rules_app"), "feeds": ("feeds", "feeds_app"), "users": ("users", "users_app"),
    "serve": ("serve", None), "export": ("serve", None),
}
"""Each command word: the module defining it, and its sub-app for a group (`register(app)` otherwise)."""

_HELP = {"rules": "Test, explain, evaluate and backtest topic rules."}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"newswatch {version('newswatch')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("newswatch (not installed)")
        raise typer.Exit()


def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Monitor news feeds and flag the articles that match your topics."""


def build(command: str | None = None) -> typer.Typer:
    """The `newswatch` command: every command, or only the module that defines `command`.

    `newswatch run` is the long-lived process: registering only its module keeps the other
    commands' modules and what they import (tomlkit, the review and rules tables) out of
    the daemon. Help, completion and an unknown word get every command.
    """
    cli = typer.Typer(
        name="newswatch",
        help="Monitor news feeds and flag the articles that match your topics.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    )
    cli.callback()(_root)
    wanted = {GROUPS[command][0]} if command in GROUPS else None
    done: set[str] = set()
    for word, (module_name, sub_app) in GROUPS.items():
        if (wanted is not None and module_name not in wanted) or (sub_app is None and module_name in done):
            continue
        module = import_module(f".{module_name}", __name__)
        if sub_app is None:
            module.register(cli)
            done.add(module_name)
        else:
            cli.add_typer(getattr(module, sub_app), name=word, **({"help": _HELP[word]} if word in _HELP else {}))
    return cli


def _command_word(args: list[str]) -> str | None:
    """The command a command line asks for: its first word, unless an option comes first."""
    return args[0] if args and not args[0].startswith("-") else None


def __getattr__(name: str) -> typer.Typer:
    """`crawler.cli.app`, with every command (tests and tools that invoke any command)."""
    if name == "app":
        full = build()
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    try:
        build(_command_word(sys.argv[1:]))()
    except ConfigError as exc:  # raised by a command that loaded config lazily
        print_problems(exc.problems)
        sys.exit(2)
