"""Editing newswatch.toml in place: comments kept, invalid results refused, the file replaced whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.configfile import ConfigFile, FeedEntryError
from crawler.settings import ConfigError, load_settings

CONFIG = """\
# my config: keep this comment
[schedule]
interval = "10m"   # the default

# ---- feeds ----
[[feeds]]
name = "dawn"   # the main one
url = "https://www.dawn.com/feeds/home"

[[feeds]]
name = "tribune"
url = "https://tribune.com.pk/feed/latest"
enabled = false

[review]
port = 8081
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    path = tmp_path / "newswatch.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_add_keeps_every_comment_and_validates(cfg: Path) -> None:
    edit = ConfigFile.open(cfg)
    edit.add_feed("geo", "https://www.geo.tv/rss/1/1", source="Geo", interval="5m", enabled=None)
    loaded = edit.save()
    text = cfg.read_text()
    assert text.startswith(CONFIG.split("[review]")[0])  # nothing before the new feed moved
    assert "# the main one" in text and "interval = \"10m\"   # the default" in text
    assert [f.name for f in loaded.settings.feeds] == ["dawn", "tribune", "geo"]
    assert load_settings(cfg).settings.feeds[2].interval == 300
    assert load_settings(cfg).settings.review.port == 8081  # the table after the feeds is still its own
    assert "enabled" not in text.split('name = "geo"')[1]


def test_invalid_edit_is_refused_and_the_file_untouched(cfg: Path) -> None:
    edit = ConfigFile.open(cfg)
    edit.add_feed("bad", "https://a.example/feed", interval="soon")
    with pytest.raises(ConfigError) as exc:
        edit.save()
    assert exc.value.problems == [f"{cfg}: feeds[2].interval: invalid duration 'soon' "
                                  "(use e.g. '30s', '10m', '1h', '7d')"]
    assert cfg.read_text() == CONFIG
    assert [p.name for p in cfg.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_enable_disable_and_remove(cfg: Path) -> None:
    edit = ConfigFile.open(cfg)
    assert edit.set_enabled("tribune", True) and not edit.set_enabled("tribune", True)
    assert edit.set_enabled("dawn", False)
    edit.remove_feed("tribune")
    edit.save()
    feeds = load_settings(cfg).settings.feeds
    assert [(f.name, f.enabled) for f in feeds] == [("dawn", False)]
    assert "# the main one" in cfg.read_text()
    with pytest.raises(FeedEntryError, match="no feed named 'nope'"):
        ConfigFile.open(cfg).remove_feed("nope")
    with pytest.raises(FeedEntryError, match="already exists"):
        ConfigFile.open(cfg).add_feed("dawn", "https://x.example/")


def test_removing_the_last_feed_and_adding_to_a_file_without_feeds(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text('[[feeds]]\nname = "a"\nurl = "https://a.example/"\n', encoding="utf-8")
    edit = ConfigFile.open(path)
    edit.remove_feed("a")
    edit.save()
    assert load_settings(path).settings.feeds == []
    edit = ConfigFile.open(path)
    edit.add_feed("b", "https://b.example/")
    edit.save()
    assert [f.name for f in load_settings(path).settings.feeds] == ["b"]


def test_inline_feeds_array_stays_inline(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.toml"
    path.write_text('feeds = [{name = "a", url = "https://a.example/"}]\n', encoding="utf-8")
    edit = ConfigFile.open(path)
    edit.add_feed("b", "https://b.example/")
    edit.save()
    assert path.read_text().startswith('feeds = [{name = "a", url = "https://a.example/"}, {name = "b"')


def test_an_invalid_file_is_reported_not_edited(cfg: Path) -> None:
    cfg.write_text(CONFIG + "\n[http]\ntimeout = 5x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        ConfigFile.open(cfg)


def test_file_mode_is_kept(cfg: Path) -> None:
    cfg.chmod(0o640)
    edit = ConfigFile.open(cfg)
    edit.add_feed("geo", "https://www.geo.tv/rss/1/1")
    edit.save()
    assert cfg.stat().st_mode & 0o777 == 0o640
