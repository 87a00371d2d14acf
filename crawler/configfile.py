"""Editing `newswatch.toml` in place: the feeds, with the user's comments and layout kept.

`newswatch feeds add|remove|enable|disable|import` change one file a person also
edits by hand, so the edit goes through tomlkit (which keeps comments, order and
spacing) and the result is checked by the same validator the daemon uses before
it replaces the file. A change that would make the config invalid is refused with
every problem named, and the file on disk stays as it was; the replacement is
atomic (a temporary file beside it, then a rename), so a running daemon never
reads half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array, InlineTable, Table

from .settings import ConfigError, LoadedConfig, find_config, load_settings

__all__ = ["ConfigFile", "FeedEntryError"]


class FeedEntryError(Exception):
    """An edit that names a feed that is not there, or one that is already there."""


@dataclass(slots=True)
class ConfigFile:
    """One config file opened for editing: `doc` is the tomlkit document, `path` where it lives."""

    path: Path
    doc: tomlkit.TOMLDocument

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> ConfigFile:
        """Read the config for editing (resolved like every command); raise `ConfigError` when unreadable."""
        cfg_path = find_config(path)
        load_settings(cfg_path)  # an already invalid file is reported as it is, not edited
        try:
            doc = tomlkit.parse(cfg_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
            raise ConfigError([f"{cfg_path}: cannot be edited: {exc}"]) from None
        return cls(path=cfg_path, doc=doc)

    # ---- reading ----------------------------------------------------------------------------

    def _feeds(self, create: bool = False) -> AoT | Array | None:
        feeds = self.doc.get("feeds")
        if feeds is None and create:
            feeds = tomlkit.aot()
            self.doc.append("feeds", feeds)
        return feeds

    def feed_names(self) -> list[str]:
        return [str(t.get("name", "")) for t in self._feeds() or []]

    def feed_urls(self) -> list[str]:
        return [str(t.get("url", "")) for t in self._feeds() or []]

    def _index(self, name: str) -> int:
        for i, table in enumerate(self._feeds() or []):
            if table.get("name") == name:
                return i
        raise FeedEntryError(f"{self.path}: feeds: no feed named {name!r}")

    def feed(self, name: str) -> Table | InlineTable:
        feeds = self._feeds()
        assert feeds is not None
        return feeds[self._index(name)]

    # ---- editing ----------------------------------------------------------------------------

    def add_feed(self, name: str, url: str, **options: Any) -> None:
        """Append a `[[feeds]]` table; options left as None are not written (their defaults apply)."""
        if name in self.feed_names():
            raise FeedEntryError(f"{self.path}: feeds: a feed named {name!r} already exists")
        feeds = self._feeds(create=True)
        assert feeds is not None
        table: Table | InlineTable = tomlkit.inline_table() if isinstance(feeds, Array) else tomlkit.table()
        if isinstance(table, Table) and not self.text().endswith("\n\n"):
            table.trivia.indent = "\n"  # a blank line before `[[feeds]]`, as people write them
        table["name"] = name
        table["url"] = url
        for key, value in options.items():
            if value is not None:
                table[key] = value
        feeds.append(table)

    def remove_feed(self, name: str) -> None:
        feeds = self._feeds()
        index = self._index(name)
        assert feeds is not None
        del feeds[index]
        if not feeds and isinstance(feeds, AoT):
            del self.doc["feeds"]  # an empty array of tables cannot be written back

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Turn a feed on or off; False when it already was (nothing to write)."""
        table = self.feed(name)
        if bool(table.get("enabled", True)) == enabled:
            return False
        if enabled and "enabled" in table:
            del table["enabled"]  # the default; `enabled = true` would only be noise
        else:
            table["enabled"] = enabled
        return True

    # ---- writing ----------------------------------------------------------------------------

    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    def save(self) -> LoadedConfig:
        """Validate the edited config as the daemon would, then atomically replace the file.

        Raises `ConfigError` (naming the real file) and leaves it untouched when the
        result is invalid.
        """
        with self._temporary(self.text()) as tmp:
            try:
                loaded = load_settings(tmp)
            except ConfigError as exc:
                raise ConfigError([p.replace(str(tmp), str(self.path)) for p in exc.problems]) from None
            with contextlib.suppress(OSError):
                os.chmod(tmp, self.path.stat().st_mode & 0o7777)
            os.replace(tmp, self.path)
        loaded.path = self.path
        return loaded

    @contextlib.contextmanager
    def _temporary(self, text: str) -> Iterator[Path]:
        """A file beside the config (same directory, so rules globs resolve and the rename is atomic)."""
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            yield tmp
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
