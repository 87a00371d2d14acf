from pathlib import Path

import pytest

from crawler.settings import ConfigError, find_config, load_settings, parse_duration, parse_size

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("text", "seconds"), [("0s", 0), ("1.5s", 1.5), ("10m", 600), ("1h", 3600),
                                               ("7d", 604800), ("250ms", 0.25), (" 2 h ", 7200)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "10", "ten minutes", "-5s", "5y", "1h30m"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes() -> None:
    assert parse_size("5MB") == 5_000_000 and parse_size("1KiB") == 1024 and parse_size(10) == 10
    with pytest.raises(ValueError):
        parse_size("0")


def test_shipped_config_is_valid() -> None:
    loaded = load_settings(ROOT / "config" / "newswatch.toml")
    s = loaded.settings
    names = {f.name for f in s.feeds}
    assert {"dawn-home", "geo", "thenews", "thehindu-national", "bbc-urdu", "bbc-hindi", "aljazeera"} <= names
    assert any(not f.fetch_articles and "news.google.com" in f.url for f in s.feeds)
    assert s.http.allow_private_networks is False
    assert loaded.rule_files() and loaded.sites_file().name == "sites.toml"


def test_every_mistake_is_reported_with_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("""
[http]
timeout = "soon"
unknown_key = 1
[schedule]
concurrency = 0
[[feeds]]
name = "a"
url = "https://a.example/feed"
[[feeds]]
name = "a"
url = "nope"
interval = "0s"
""")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    problems = exc.value.problems
    text = "\n".join(problems)
    for key in ("http.timeout", "http.unknown_key", "schedule.concurrency", "feeds[1].url", "feeds[1].interval"):
        assert key in text, text
    assert all(p.startswith(str(cfg)) for p in problems)


def test_duplicate_feed_names(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[feeds]]\nname="a"\nurl="https://x/1"\n[[feeds]]\nname="a"\nurl="https://x/2"\n')
    with pytest.raises(ConfigError, match=r"feeds\[1\]\.name"):
        load_settings(cfg)


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSWATCH_CONFIG", "/env/path.toml")
    assert find_config("explicit.toml") == Path("explicit.toml")
    assert find_config() == Path("/env/path.toml")
    monkeypatch.delenv("NEWSWATCH_CONFIG")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "newswatch.toml").write_text("")
    assert find_config() == Path("config/newswatch.toml")


def test_not_utf8_and_syntax_errors(tmp_path: Path) -> None:
    bad = tmp_path / "b.toml"
    bad.write_bytes(b"\xff\xfe[x]")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_settings(bad)
    bad.write_text("[http\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_settings(bad)


def test_since_is_a_duration_back_or_a_date() -> None:
    from datetime import UTC, datetime

    from crawler.settings import parse_since

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_since("36h", now=now) == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert parse_since("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="duration such as 7d"):
        parse_since("last week", now=now)
