"""`newswatch users add|list|remove`: reviewers with their own tokens, kept hashed in `[review.users]`.

The config file gets only a scrypt hash of each token (`crawler.reviewers`); the
token itself is printed once, when it is made, for the reviewer to keep. The file is
edited in place (comments kept, validated before it is replaced). The review app
reads its reviewers when it starts: restart `newswatch serve` after a change.

Exit statuses: 0 done; 2 the edit was refused (a bad name, a reviewer already there
or not there) and the file was left as it was.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import tomlkit
import typer

from ..reviewers import NAME_PATTERN, hash_secret, new_token
from ..settings import ConfigError
from .common import ConfigOpt, JsonOpt, err, escape, fail, load_config, out, print_json

if TYPE_CHECKING:
    from ..configfile import ConfigFile

__all__ = ["users_app"]

users_app = typer.Typer(help="Reviewers and their tokens (kept hashed in [review.users]).", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="The reviewer's name, as marks will record it.")]
RESTART = "Restart the review app (newswatch serve, or systemctl restart newswatch-review) to apply it."


def _open(config: Path | None) -> ConfigFile:
    from ..configfile import ConfigFile

    try:
        return ConfigFile.open(config)
    except ConfigError as exc:
        fail(exc.problems)


def _users(cfg: ConfigFile) -> tomlkit.items.Table:
    review = cfg.doc.get("review")
    if review is None:
        review = tomlkit.table()
        cfg.doc.append("review", review)
    users = review.get("users")
    if users is None:
        users = tomlkit.table()
        review.append("users", users)
    return users


def _save(cfg: ConfigFile) -> None:
    try:
        cfg.save()
    except ConfigError as exc:
        fail([*exc.problems, f"{cfg.path}: not changed"])


@users_app.command("add")
def add_cmd(
    name: NameArg,
    token: Annotated[str | None, typer.Option(help="Use this token instead of a new random one (16+ characters).",
                                              envvar="NEWSWATCH_REVIEWER_TOKEN")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Give an existing reviewer a new token.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Add a reviewer and print its token (once: only its hash is kept)."""
    if not re.match(NAME_PATTERN, name):
        fail([f"{name!r}: a reviewer's name is letters, digits, '.', '_' or '-' (64 at most)"])
    if token is not None and len(token) < 16:
        fail(["--token: at least 16 characters, so it cannot be guessed"])
    cfg = _open(config)
    users = _users(cfg)
    if name in users and not replace:
        fail([f"{cfg.path}: review.users: {name!r} is already a reviewer (--replace gives a new token)"])
    secret = token or new_token()
    users[name] = hash_secret(secret)
    _save(cfg)
    err.print(f"{'New token for' if replace else 'Added reviewer'} {escape(name)} in {escape(str(cfg.path))}. "
              f"{RESTART}", highlight=False)
    if token is None:
        err.print("Their token (shown once; log in with the name and this token, or send "
                  f"`Authorization: Bearer {escape(name)}:<token>`):", highlight=False)
        out.print(secret, highlight=False)


@users_app.command("list")
def list_cmd(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The reviewers in the config (names only; tokens are never shown again)."""
    loaded = load_config(config)
    names = sorted(loaded.settings.review.users)
    if as_json:
        print_json([{"name": n} for n in names])
        return
    if not names:
        out.print("No reviewers: add one with `newswatch users add NAME`.")
        return
    for n in names:
        out.print(escape(n), highlight=False)
    if loaded.settings.review.token:
        out.print("[dim](the shared review.token also works; its marks record `token`)[/dim]")


@users_app.command("remove")
def remove_cmd(name: NameArg, config: ConfigOpt = None) -> None:
    """Remove a reviewer: their token stops working (their marks are kept)."""
    cfg = _open(config)
    users = _users(cfg)
    if name not in users:
        fail([f"{cfg.path}: review.users: no reviewer named {name!r}"])
    del users[name]
    _save(cfg)
    err.print(f"Removed reviewer {escape(name)} from {escape(str(cfg.path))}. {RESTART}", highlight=False)
