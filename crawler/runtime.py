"""Everything the daemon and the CLI load from the config directory, validated together.

A reload builds a new `Runtime` and swaps it in only if the whole of it is
valid, so a bad edit to any file (config, rules, site profiles) leaves the
running daemon on the old one.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .extract import SiteProfiles, load_site_profiles
from .extract.profiles import default_profiles
from .rules import RuleSet, load_topics
from .settings import (
    ConfigError,
    ExtractSettings,
    FeedSettings,
    LoadedConfig,
    RulesSettings,
    Settings,
    find_config,
    load_settings,
    load_toml,
    read_config_bytes,
)

__all__ = ["Runtime", "load_runtime"]


@dataclass(slots=True)
class Runtime:
    config: LoadedConfig
    rules: RuleSet
    profiles: SiteProfiles

    @property
    def feeds(self) -> dict[str, FeedSettings]:
        return {f.name: f for f in self.config.settings.feeds}

    def watched_files(self) -> list[Path]:
        """Files whose change should trigger a reload (rules and site profiles)."""
        return [*self.config.rule_files(), self.config.sites_file()]


def _fallback_config(path: str | os.PathLike[str] | None) -> LoadedConfig | None:
    """Defaults plus the file's own `[rules]` and `[extract]`, when the rest of it is invalid.

    So that one `newswatch check` reports the rules' mistakes along with the
    config's, instead of one file per run.
    """
    cfg_path = find_config(path)
    try:
        raw = load_toml(read_config_bytes(cfg_path).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    try:
        settings = Settings(rules=RulesSettings.model_validate(raw.get("rules", {})),
                            extract=ExtractSettings.model_validate(raw.get("extract", {})))
    except ValidationError:
        return None
    return LoadedConfig(settings=settings, path=cfg_path)


def load_runtime(path: str | os.PathLike[str] | None = None) -> Runtime:
    """Load config, rules and site profiles; raise one `ConfigError` with every problem found."""
    try:
        config = load_settings(path)
    except ConfigError as exc:
        fallback = _fallback_config(path)
        if fallback is None:
            raise
        try:
            load_runtime_from(fallback)
        except ConfigError as more:
            raise ConfigError(exc.problems + more.problems) from None
        raise
    return load_runtime_from(config)


def load_runtime_from(config: LoadedConfig) -> Runtime:
    """Rules and site profiles for an already validated config."""
    problems: list[str] = []
    rules = profiles = None
    files = config.rule_files()
    if not files:
        problems.append(f"{config.path}: rules.files: no rules file matches {config.settings.rules.files}")
    try:
        rules = load_topics(files)
    except ConfigError as exc:
        problems.extend(exc.problems)
    sites = config.sites_file()
    explicit = "sites" in config.settings.extract.model_fields_set
    try:
        if sites.exists():
            profiles = load_site_profiles(sites)
        elif explicit:
            problems.append(f"{config.path}: extract.sites: file not found: {sites}")
        else:  # no sites.toml beside this config: the shipped profiles
            profiles = default_profiles()
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    assert rules is not None and profiles is not None
    return Runtime(config=config, rules=rules, profiles=profiles)
