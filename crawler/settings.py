"""Load and validate `newswatch.toml`.

Every problem in a config is reported at once, one line each, naming the file and
the key (`feeds[2].interval`), so that a user fixes them in one edit instead of
one restart per mistake. Durations and sizes are strings (`"10m"`, `"5MB"`).
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ConfigError",
    "FeedSettings",
    "HttpSettings",
    "Settings",
    "data_dir",
    "find_config",
    "format_duration",
    "load_settings",
    "parse_duration",
    "parse_since",
    "parse_size",
]

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
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"invalid duration {value!r} (use e.g. '30s', '10m', '1h', '7d')")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


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
        if value <= 0:
            raise ValueError("a size must be positive")
        return value
    m = _SIZE_RE.match(str(value))
    if not m:
        raise ValueError(f"invalid size {value!r} (use e.g. '5MB', '512KiB')")
    n = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    if n <= 0:
        raise ValueError("a size must be positive")
    return n


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Section):
    url: str | None = None
    """SQLAlchemy URL; default a SQLite file in the data directory."""
    retention: Duration = 0.0
    """How long to keep articles that matched nothing; `0s` keeps them forever."""


class HttpSettings(_Section):
    user_agent: str = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitoring)"
    timeout: Duration = 20.0
    """Deadline for one whole request (connect, headers and body)."""
    connect_timeout: Duration = 10.0
    max_bytes: Size = 5_000_000
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    per_host_delay: Duration = 1.0
    allow_private_networks: bool = False
    respect_robots: bool = True
    http2: bool = True


class ScheduleSettings(_Section):
    interval: Duration = 900.0
    """Default polling interval of a feed."""
    min_interval: Duration = 60.0
    """No feed without its own `interval` is polled more often than this."""
    max_interval: Duration = 6 * 3600.0
    """Ceiling for back-off and adaptation: a failing feed is slowed to this, never disabled."""
    tick: Duration = 2.0
    """How often the daemon looks for due feeds."""
    concurrency: int = Field(default=8, ge=1, le=256)
    """How many feeds are polled at once."""
    lease: Duration = 300.0
    """How long a claimed feed stays claimed by one instance before others may take it."""
    startup_spread: Duration = 5.0
    """On start, due feeds are spread over this window instead of all firing at once."""
    article_concurrency: int = Field(default=8, ge=1, le=256)


class FeedSettings(_Section):
    name: str = Field(min_length=1)
    url: str
    interval: Duration | None = None
    source: str | None = None
    enabled: bool = True
    fetch_articles: bool = True
    """False for feeds whose links cannot be fetched (news-search redirect tokens): match title and summary."""
    ignore_http_cache: bool = False
    """Some servers answer 304 although the feed changed; this stops sending validators."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v

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


class NotifySettings(_Section):
    urls: list[str] = []
    """Apprise URLs notified of every flagged article unless a topic sets its own."""
    mode: str = Field(default="immediate", pattern="^(immediate|digest|off)$")
    digest_interval: Duration = 3600.0
    max_retries: int = Field(default=5, ge=0, le=50)


class ReviewSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    token: str | None = None
    """Required when `host` is not loopback: sent as a password or bearer token."""
    base_url: str | None = None
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


class Settings(_Section):
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
            full = pattern if os.path.isabs(pattern) else str(self.base_dir / pattern)
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


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the config path: `--config`, `$NEWSWATCH_CONFIG`, `./config/newswatch.toml`, `/etc/newswatch/newswatch.toml`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("NEWSWATCH_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path("config/newswatch.toml"), Path("/etc/newswatch/newswatch.toml")):
        if candidate.is_file():
            return candidate
    return Path("config/newswatch.toml")


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
        raw = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{cfg_path}: config file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{cfg_path}: cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
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
