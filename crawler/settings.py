"""Load and validate `newswatch.toml`.

Every problem in a config is reported at once, one line each, naming the file and
the key (`feeds[2].interval`), so that a user fixes them in one edit instead of
one restart per mistake. Durations and sizes are strings (`"10m"`, `"5MB"`).
"""

from __future__ import annotations

import errno
import glob
import math
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "MAX_DURATION",
    "MAX_NESTING",
    "MAX_SIZE",
    "MAX_URL_LENGTH",
    "ConfigError",
    "FeedSettings",
    "HttpSettings",
    "Settings",
    "config_candidates",
    "data_dir",
    "find_config",
    "format_duration",
    "load_settings",
    "load_toml",
    "parse_duration",
    "parse_since",
    "parse_size",
    "query_too_deep",
    "read_config_bytes",
]

MAX_DURATION = 3650 * 86400.0
"""Ten years: longer than any interval, lease or retention a user means, and far below
what `timedelta`, `datetime` and the event loop can hold (a bigger value crashed polls)."""
MAX_SIZE = 2**30
"""1 GiB: no response newswatch reads may be bigger (the unit's MemoryMax is 1G)."""
MAX_URL_LENGTH = 2048
"""Longer URLs are refused in config and dropped from feeds: no article needs more."""
MAX_CONFIG_BYTES = 4 * 2**20
"""Config, rules and sites files are read up to this: `sites = "/dev/zero"` must not eat memory."""
MAX_NESTING = 100
"""Deepest nesting of TOML arrays/tables and of query parentheses/NOTs we accept: parsers
recurse, and a few hundred levels would exhaust Python's stack with a RecursionError."""

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.I)
_SIZE_UNITS = {
    "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3, "gib": 1024**3,
}


class ConfigError(Exception):
    """A config or rules file that cannot be used; `problems` holds one message per mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_duration(value: str | int | float) -> float:
    """Seconds in a duration string such as `"0s"`, `"1.5s"`, `"10m"`, `"1h"`, `"30d"`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration string such as '30s', '10m' or '1h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise ValueError(f"invalid duration {value!r} (use e.g. '30s', '10m', '1h', '7d')")
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    if math.isnan(seconds) or seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is longer than the limit of {MAX_DURATION / 86400:g}d")
    return seconds


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """The start of a window given as a duration back from now (`7d`) or a date (`2026-11-01`)."""
    now = now or datetime.now(UTC)
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected a duration such as 7d or a date such as 2026-11-01, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def format_duration(seconds: float) -> str:
    """The shortest exact-ish duration string for a number of seconds (for display)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_size(value: str | int) -> int:
    """Bytes in a size such as `5000000`, `"5MB"` or `"10MiB"`."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '5MB'")
    if isinstance(value, int):
        n = float(value)
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise ValueError(f"invalid size {value!r} (use e.g. '5MB', '512KiB')")
        n = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
    if not n >= 1:
        raise ValueError("a size must be positive")
    if n > MAX_SIZE:
        raise ValueError(f"size {value!r} is bigger than the limit of 1GiB")
    return int(n)


def _toml_too_deep(text: str, limit: int = MAX_NESTING) -> int | None:
    """Offset of the first `[` or `{` nested deeper than `limit`, outside strings and comments."""
    depth, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "[{":
            depth += 1
            if depth > limit:
                return i
        elif ch in "]}":
            depth -= 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif ch in "\"'":
            triple = text.startswith(ch * 3, i)
            quote = ch * 3 if triple else ch
            j = i + len(quote)
            while j < n:
                if ch == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j) or (not triple and text[j] == "\n"):
                    break
                j += 1
            # A closing triple quote may carry up to two more quotes of content.
            i = j + len(quote)
            while triple and i < n and text[i] == ch:
                i += 1
            continue
        i += 1
    return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


class TomlTooDeep(tomllib.TOMLDecodeError):
    """A TOML document nested deeper than `MAX_NESTING`: refused before tomllib recurses."""

    def __init__(self, text: str, offset: int) -> None:
        line, col = _line_col(text, offset)
        ValueError.__init__(
            self, f"nested more than {MAX_NESTING} levels deep (at line {line}, column {col})"
        )
        self.lineno, self.colno, self.pos, self.doc = line, col, offset, text


def read_config_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a config, rules or sites file; `OSError` (EFBIG) past `MAX_CONFIG_BYTES`.

    Callers report an `OSError` as "cannot read: <reason>", so an endless or huge file
    (a device, a log picked by a glob) becomes one clear line instead of an OOM.
    """
    with open(path, "rb") as fh:
        data = fh.read(MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_CONFIG_BYTES // 2**20} MiB, so not a config file")
    return data


def load_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads`, refusing deep nesting with a `TOMLDecodeError` that says where.

    Every TOML file newswatch reads goes through here: tomllib is recursive, and a file
    nested a thousand levels deep would otherwise crash the loader with a RecursionError.
    """
    offset = _toml_too_deep(text)
    if offset is not None:
        raise TomlTooDeep(text, offset)
    return tomllib.loads(text)


def query_too_deep(text: str, limit: int = MAX_NESTING) -> int | None:
    """Offset where a rule query nests parentheses and NOTs deeper than `limit`, else None.

    The rule parser and matcher recurse once per level; this bounds them before they
    start. Quoted phrases and `{cased}` terms are skipped.
    """
    stack: list[int] = []
    pending_nots = 0
    depth = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"“":
            end = min((j for j in (text.find('"', i + 1), text.find("”", i + 1)) if j >= 0), default=n)
            i = end + 1
            continue
        if ch == "{":
            end = text.find("}", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == "(":
            stack.append(1 + pending_nots)
            depth += 1 + pending_nots
            pending_nots = 0
            if depth > limit:
                return i
        elif ch == ")":
            if stack:
                depth -= stack.pop()
            pending_nots = 0
        elif text.startswith("NOT", i) and (i == 0 or not text[i - 1].isalnum()) and (
            i + 3 >= n or not (text[i + 3].isalnum() or text[i + 3] in "_-*")
        ):
            pending_nots += 1
            if depth + pending_nots > limit:
                return i
            i += 3
            continue
        elif ch.isalnum():
            j = i
            while j < n and (text[j].isalnum() or text[j] in "_-*:/@"):
                j += 1
            if not text[i:j].startswith(("ATLEAST", "COUNT")):
                pending_nots = 0
            i = j
            continue
        i += 1
    return None


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


def _positive_duration(value: float) -> float:
    if value <= 0:
        raise ValueError("must be more than 0s")
    return value


def _printable(value: str) -> str:
    """Refuse control characters: they would forge log lines or HTTP headers."""
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise ValueError(f"contains a control character (newline, tab, …): {value!r}")
    return value


def check_http_url(value: str) -> str:
    """`value` if it is an absolute http(s) URL with a host, no whitespace and a sane length."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"URL is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"URL contains whitespace or a control character: {value!r}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}): {value!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if port == 0:
        raise ValueError(f"port 0 is not a port: {value!r}")
    return value


PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive_duration)]
Text = Annotated[str, AfterValidator(_printable)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Section):
    url: str | None = None
    """SQLAlchemy URL; default a SQLite file in the data directory."""
    retention: Duration = 0.0
    """How long to keep articles that matched nothing; `0s` keeps them forever."""

    @field_validator("url")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        """Only SQLite and PostgreSQL are stored to: anything else fails here, not at start-up."""
        if v is None:
            return v
        from sqlalchemy.engine import make_url  # imported here: settings load on every command
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(v)
            url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError(
                f"not a database URL newswatch can use: {v!r} "
                "(use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB)"
            ) from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"newswatch stores to SQLite or PostgreSQL, not {url.get_backend_name()!r}")
        if url.get_backend_name() == "postgresql" and not (url.host or url.query.get("host")):
            raise ValueError(f"a PostgreSQL URL needs a host: {v!r}")
        return v


class HttpSettings(_Section):
    user_agent: Text = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)"
    timeout: PositiveDuration = 20.0
    """Deadline for one whole request (connect, headers and body)."""
    connect_timeout: PositiveDuration = 10.0
    max_bytes: Size = 5_000_000
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    per_host_delay: Duration = 1.0
    allow_private_networks: bool = False
    respect_robots: bool = True
    http2: bool = True


class ScheduleSettings(_Section):
    interval: PositiveDuration = 900.0
    """Default polling interval of a feed."""
    min_interval: Duration = 60.0
    """No feed without its own `interval` is polled more often than this."""
    max_interval: PositiveDuration = 6 * 3600.0
    """Ceiling for back-off and adaptation: a failing feed is slowed to this, never disabled."""
    tick: PositiveDuration = 2.0
    """How often the daemon looks for due feeds."""
    concurrency: int = Field(default=64, ge=1, le=256)
    """How many feeds are polled at once. Politeness, not this, should set the pace: a poll
    waiting for its host's turn costs a little memory, and with 100 hosts at 1 s apart 8 polls
    at once could not keep 10,000 feeds on a 10-minute interval."""
    lease: PositiveDuration = 60.0
    """How long a claimed feed stays claimed without a heartbeat: polls renew it every third of
    it, so this is how soon other instances take over the feeds of one that crashed."""
    startup_spread: Duration = 5.0
    """On start, due feeds are spread over this window instead of all firing at once."""
    article_concurrency: int = Field(default=8, ge=1, le=256)

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleSettings:
        if self.min_interval > self.max_interval:
            raise ValueError(
                f"min_interval ({format_duration(self.min_interval)}) must not be longer than "
                f"max_interval ({format_duration(self.max_interval)})"
            )
        return self


class FeedSettings(_Section):
    name: Text = Field(min_length=1, max_length=200)
    url: str
    interval: Duration | None = None
    source: Text | None = None
    enabled: bool = True
    fetch_articles: bool = True
    """False for feeds whose links cannot be fetched (news-search redirect tokens): match title and summary."""
    ignore_http_cache: bool = False
    """Some servers answer 304 although the feed changed; this stops sending validators."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        return check_http_url(v)

    @field_validator("interval")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("interval must be more than 0s")
        return v


class RulesSettings(_Section):
    files: list[str] = ["rules/*.toml"]
    """Globs relative to the config file."""


class ExtractSettings(_Section):
    sites: str = "sites.toml"
    """Site profiles, relative to the config file."""
    profile_max_age: Duration = 180 * 86400.0
    """`check` warns about a site profile whose `verified` date is older than this."""


class NotifySettings(_Section):
    urls: list[Text] = []
    """Apprise URLs notified of every flagged article unless a topic sets its own."""
    mode: str = Field(default="immediate", pattern="^(immediate|digest|off)$")
    digest_interval: PositiveDuration = 3600.0
    max_retries: int = Field(default=5, ge=0, le=50)


class ReviewSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    token: Text | None = None
    """Required when `host` is not loopback: sent as a password or bearer token."""
    base_url: Text | None = None
    page_size: int = Field(default=50, ge=1, le=1000)
    users: dict[str, str] = {}
    """Reviewers by name, each with the scrypt hash of its token (`newswatch users add NAME` writes it)."""

    @field_validator("users")
    @classmethod
    def _hashed_tokens(cls, v: dict[str, str]) -> dict[str, str]:
        from .reviewers import HASH_PATTERN, NAME_PATTERN

        for name, hashed in v.items():
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"{name!r}: a reviewer's name is letters, digits, '.', '_' or '-' (64 at most)")
            if not re.match(HASH_PATTERN, hashed):
                raise ValueError(f"{name}: not a hashed token; write it with `newswatch users add {name}`")
        return v


class MetricsSettings(_Section):
    listen: str | None = None
    """`HOST:PORT` where the daemon itself serves `/metrics` and `/healthz` (`[::1]:9108` for IPv6); off when unset."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None:
            return v
        m = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$", v)
        if not m or not 1 <= int(m.group(2)) <= 65535:
            raise ValueError(f"expected HOST:PORT such as '127.0.0.1:9108', got {v!r}")
        return v

    def address(self) -> tuple[str, int] | None:
        """(host, port) to bind, brackets of an IPv6 host removed; None when off."""
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


class Settings(_Section):
    metrics: MetricsSettings = MetricsSettings()
    storage: StorageSettings = StorageSettings()
    http: HttpSettings = HttpSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    feeds: list[FeedSettings] = []
    rules: RulesSettings = RulesSettings()
    extract: ExtractSettings = ExtractSettings()
    notify: NotifySettings = NotifySettings()
    review: ReviewSettings = ReviewSettings()

    @model_validator(mode="after")
    def _unique_feed_names(self) -> Settings:
        seen: dict[str, int] = {}
        for i, feed in enumerate(self.feeds):
            if feed.name in seen:
                raise ValueError(
                    f"feeds[{i}].name: {feed.name!r} is already the name of feeds[{seen[feed.name]}]"
                )
            seen[feed.name] = i
        return self


@dataclass(slots=True)
class LoadedConfig:
    """Validated settings plus where they came from, for resolving relative paths."""

    settings: Settings
    path: Path

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def rule_files(self) -> list[Path]:
        """The rules files the globs name, sorted, deduplicated."""
        found: dict[Path, None] = {}
        for pattern in self.settings.rules.files:
            # the folder is a literal path: `[prod]` in it is not a glob character class
            full = pattern if os.path.isabs(pattern) else os.path.join(glob.escape(str(self.base_dir)), pattern)
            for p in sorted(glob.glob(full, recursive=True)):
                found[Path(p)] = None
        return list(found)

    def sites_file(self) -> Path:
        p = Path(self.settings.extract.sites)
        return p if p.is_absolute() else self.base_dir / p

    def storage_url(self) -> str:
        if self.settings.storage.url:
            return self.settings.storage.url
        return f"sqlite:///{data_dir() / 'newswatch.db'}"


def data_dir() -> Path:
    """Where the SQLite database lives: `$NEWSWATCH_DATA_DIR`, systemd's `$STATE_DIRECTORY`, else `./data`."""
    raw = os.environ.get("NEWSWATCH_DATA_DIR") or os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    path = Path(raw) if raw else Path.cwd() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_candidates() -> list[Path]:
    """Where a config is looked for when neither `--config` nor `$NEWSWATCH_CONFIG` names one, in order."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path("config/newswatch.toml"), Path(xdg) / "newswatch" / "newswatch.toml",
            Path("/etc/newswatch/newswatch.toml")]


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the config path: `--config`, `$NEWSWATCH_CONFIG`, then the first of `config_candidates()`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NEWSWATCH_CONFIG")
    if env:
        return Path(env)
    for candidate in config_candidates():
        if candidate.is_file():
            return candidate
    return config_candidates()[0]


def _not_found(cfg_path: Path, explicit: str | os.PathLike[str] | None) -> str:
    """'config file not found', saying where it was looked for, so a user knows where to put one."""
    if explicit:
        return f"{cfg_path}: config file not found"
    if os.environ.get("NEWSWATCH_CONFIG"):
        return f"{cfg_path}: config file not found (named by $NEWSWATCH_CONFIG)"
    places = ", ".join(str(p) for p in config_candidates())
    return (f"{cfg_path}: config file not found; looked in {places}. "
            "Give --config PATH or set $NEWSWATCH_CONFIG")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return "unknown key (check its spelling)"
    if err.get("type") == "missing":
        return "required key is missing"
    if "input" in err and err.get("type") not in ("value_error",) and not isinstance(err["input"], dict | list):
        msg += f" (got {err['input']!r})"
    return msg


def load_settings(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    """Read and validate a config file; raise `ConfigError` listing every problem."""
    cfg_path = find_config(path)
    try:
        raw = read_config_bytes(cfg_path)
    except FileNotFoundError:
        raise ConfigError([_not_found(cfg_path, path)]) from None
    except OSError as exc:
        raise ConfigError([f"{cfg_path}: cannot read: {exc.strerror}"]) from None
    try:
        data = load_toml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{cfg_path}: not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{cfg_path}: TOML syntax error: {exc}"]) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _loc(err["loc"])
            if err.get("type") == "value_error" and not loc and ": " in str(err.get("msg")):
                # model-level checks already name the key
                problems.append(f"{cfg_path}: {_describe(err)}")
            else:
                problems.append(f"{cfg_path}: {loc or '(top level)'}: {_describe(err)}")
        raise ConfigError(problems) from None
    return LoadedConfig(settings=settings, path=cfg_path)
