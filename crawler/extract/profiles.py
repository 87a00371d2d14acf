"""Site profiles: per-outlet CSS selectors from `config/sites.toml`.

A profile is the most precise extractor for a site it knows, and the most brittle:
publishers change layouts. So each profile carries a `version` and a `verified` date,
and an extraction whose selectors find nothing falls through to the next method
instead of yielding silently empty text. Loading validates every selector and reports
all problems at once, one line each, naming the file and key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from crawler.settings import ConfigError, load_toml, read_config_bytes

__all__ = [
    "SiteProfile",
    "SiteProfiles",
    "StaleProfile",
    "default_profiles",
    "load_site_profiles",
    "stale_profiles",
]

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SELECTOR_KEYS = ("body", "drop", "title", "byline", "date")
_KNOWN_KEYS = frozenset((*_SELECTOR_KEYS, "domains", "version", "verified", "notes", "min_chars"))
_PROBE_HTML = "<html><body><p>probe</p></body></html>"
"""A page to try selectors on: parsed per check, not kept (Lexbor holds about 0.6 MB per document)."""


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """How to read one outlet's article pages."""

    name: str
    domains: tuple[str, ...]
    body: tuple[str, ...]
    drop: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    byline: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    version: str = "1"
    verified: dt.date | None = None
    min_chars: int = 150
    """Less body text than this means the layout changed: fall through."""


@dataclass(slots=True)
class SiteProfiles:
    """All profiles, looked up by the URL's host (a profile's domain covers its subdomains)."""

    profiles: list[SiteProfile] = field(default_factory=list)
    _by_domain: dict[str, SiteProfile] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for profile in self.profiles:
            for domain in profile.domains:
                self._by_domain.setdefault(domain, profile)

    def __len__(self) -> int:
        return len(self.profiles)

    def for_url(self, url: str) -> SiteProfile | None:
        """The profile whose domain is the URL's host or a parent of it."""
        try:
            host = (urlsplit(url).hostname or "").lower().rstrip(".")
        except ValueError:
            return None
        while host:
            profile = self._by_domain.get(host)
            if profile is not None:
                return profile
            _, _, host = host.partition(".")
        return None


@dataclass(frozen=True, slots=True)
class StaleProfile:
    """A profile whose selectors nobody has checked against the site for too long."""

    name: str
    verified: dt.date | None
    """When it was last checked; None if never."""
    due: dt.date | None
    """When it should have been checked again (`verified` plus the allowed age)."""


def stale_profiles(
    profiles: SiteProfiles, today: dt.date, max_age: dt.timedelta
) -> list[StaleProfile]:
    """Profiles last verified more than `max_age` before `today`, or never, by name.

    Sites change their markup without notice; a profile past its date is where a
    silent fall back to generic extraction is most likely, so `check` names them.
    """
    stale: list[StaleProfile] = []
    for profile in sorted(profiles.profiles, key=lambda p: p.name):
        if profile.verified is None:
            stale.append(StaleProfile(profile.name, None, None))
            continue
        due = profile.verified + max_age
        if today > due:
            stale.append(StaleProfile(profile.name, profile.verified, due))
    return stale


def _selectors(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        problems.append(f"{where}: expected a CSS selector or a list of them")
        return ()
    good: list[str] = []
    probe = LexborHTMLParser(_PROBE_HTML)
    for i, sel in enumerate(items):
        key = where if isinstance(value, str) else f"{where}[{i}]"
        if not sel.strip():
            problems.append(f"{key}: empty CSS selector")
            continue
        try:
            probe.css(sel)
        except Exception:  # selectolax raises its own error type for bad syntax
            problems.append(f"{key}: invalid CSS selector {sel!r}")
            continue
        if re.search(r"\[class\s*=", sel):
            problems.append(
                f"{key}: matches the whole class attribute ({sel!r}); use a class token like .name"
            )
            continue
        good.append(sel)
    return tuple(good)


def _profile(name: str, raw: Any, where: str, problems: list[str]) -> SiteProfile | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return None
    before = len(problems)
    if not _NAME_RE.match(name):
        problems.append(f"{where}: site names use lower-case letters, digits, '-' and '_'")
    for key in sorted(set(raw) - _KNOWN_KEYS):
        problems.append(f"{where}.{key}: unknown key (check its spelling)")
    domains = raw.get("domains")
    if not isinstance(domains, list) or not domains:
        problems.append(f"{where}.domains: required, a non-empty list of host names")
        domains = []
    for i, domain in enumerate(domains):
        if not isinstance(domain, str) or not _DOMAIN_RE.match(domain.lower()):
            problems.append(f"{where}.domains[{i}]: not a host name: {domain!r}")
    if "body" not in raw:
        problems.append(f"{where}.body: required key is missing")
    sels = {k: _selectors(raw[k], f"{where}.{k}", problems) for k in _SELECTOR_KEYS if k in raw}
    version = raw.get("version", "1")
    if not isinstance(version, str | int) or isinstance(version, bool):
        problems.append(f"{where}.version: expected a string or integer")
    verified = raw.get("verified")
    if verified is not None and not (
        isinstance(verified, dt.date) and not isinstance(verified, dt.datetime)
    ):
        problems.append(f"{where}.verified: expected a date such as 2026-06-30")
    min_chars = raw.get("min_chars", 150)
    if not isinstance(min_chars, int) or isinstance(min_chars, bool) or min_chars < 0:
        problems.append(f"{where}.min_chars: expected a non-negative integer")
    if len(problems) > before:
        return None
    return SiteProfile(
        name=name,
        domains=tuple(d.lower() for d in domains),
        body=sels.get("body", ()),
        drop=sels.get("drop", ()),
        title=sels.get("title", ()),
        byline=sels.get("byline", ()),
        date=sels.get("date", ()),
        version=str(version),
        verified=verified,
        min_chars=min_chars,
    )


def load_site_profiles(path: str | os.PathLike[str]) -> SiteProfiles:
    """Read and validate a sites file; raise `ConfigError` listing every problem."""
    path = Path(path)
    try:
        data = load_toml(read_config_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: site profiles file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: TOML syntax error: {exc}"]) from None
    problems: list[str] = []
    for key in sorted(set(data) - {"sites"}):
        problems.append(f"{path}: {key}: unknown key (profiles go under [sites.<name>])")
    sites = data.get("sites", {})
    if not isinstance(sites, dict):
        raise ConfigError([f"{path}: sites: expected tables such as [sites.dawn]"])
    profiles: list[SiteProfile] = []
    owner: dict[str, str] = {}
    local: list[str] = []
    for name, raw in sites.items():
        profile = _profile(name, raw, f"sites.{name}", local)
        if profile is None:
            continue
        for i, domain in enumerate(profile.domains):
            if domain in owner:
                local.append(f"sites.{name}.domains[{i}]: {domain} is already in sites.{owner[domain]}")
            owner.setdefault(domain, name)
        profiles.append(profile)
    problems.extend(f"{path}: {p}" for p in local)
    if problems:
        raise ConfigError(problems)
    return SiteProfiles(profiles)


_default: SiteProfiles | None = None


def default_profiles() -> SiteProfiles:
    """The profiles of `./config/sites.toml`, else the repo's own, else none; loaded once."""
    global _default
    if _default is None:
        candidates = (
            Path.cwd() / "config" / "sites.toml",
            Path(__file__).resolve().parents[2] / "config" / "sites.toml",
        )
        _default = SiteProfiles()
        for candidate in candidates:
            if candidate.is_file():
                try:
                    _default = load_site_profiles(candidate)
                except ConfigError as exc:  # extraction must go on; `newswatch check` reports it
                    log.warning("ignoring invalid site profiles: %s", exc)
                break
    return _default
