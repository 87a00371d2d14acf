"""`newswatch feeds …` on real files: the config edited in place, OPML in and out, a feed tried on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from crawler.settings import load_settings
from tests.e2e.helpers import TEST_TOPIC, page, rss
from tests.support.server import LoopbackServer

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "opml"


def _config(tmp: Path, *, private: bool = True, feeds: str = "") -> Path:
    (tmp / "rules").mkdir(exist_ok=True)
    (tmp / "rules" / "test.toml").write_text(TEST_TOPIC, encoding="utf-8")
    path = tmp / "newswatch.toml"
    path.write_text(f"""# hand-written, comments must survive
[storage]
url = "sqlite:///{tmp / 'db.sqlite'}"

[http]
allow_private_networks = {'true' if private else 'false'}
per_host_delay = "0s"
timeout = "3s"

[rules]
files = ["rules/*.toml"]  # relative to this file
{feeds}""", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))


def _run(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.output


def test_add_list_disable_remove(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    code, output = _run("feeds", "add", "https://www.dawn.com/feeds/home", "--source", "Dawn [PK]",
                        "--interval", "5m", "--config", str(cfg))
    assert code == 0, output
    assert "Added feed 'dawn-home'" in output and "No running daemon found" in output
    rows = json.loads(_run("feeds", "list", "--json", "--config", str(cfg))[1])
    assert rows == [{"name": "dawn-home", "url": "https://www.dawn.com/feeds/home", "source": "Dawn [PK]",
                     "enabled": True, "interval": "5m", "fetch_articles": True, "ignore_http_cache": False}]
    code, output = _run("feeds", "list", "--config", str(cfg))
    assert "Dawn [PK]" in output  # Rich markup does not swallow bracketed text
    assert _run("feeds", "disable", "dawn-home", "--config", str(cfg))[0] == 0
    assert load_settings(cfg).settings.feeds[0].enabled is False
    assert "already disabled" in _run("feeds", "disable", "dawn-home", "--config", str(cfg))[1]
    assert _run("feeds", "enable", "dawn-home", "--config", str(cfg))[0] == 0
    assert load_settings(cfg).settings.feeds[0].enabled is True
    assert _run("feeds", "remove", "dawn-home", "--config", str(cfg))[0] == 0
    assert load_settings(cfg).settings.feeds == []
    assert "# hand-written, comments must survive" in cfg.read_text()
    assert "# relative to this file" in cfg.read_text()


def test_refused_edits_exit_2_and_write_nothing(tmp_path: Path) -> None:
    cfg = _config(tmp_path, feeds='[[feeds]]\nname = "dawn"\nurl = "https://www.dawn.com/feeds/home"\n')
    before = cfg.read_text()
    for args, message in [
        (["add", "https://a.example/feed", "--interval", "-5m"], "feeds[1].interval"),
        (["add", "ftp://a.example/feed"], "feeds[1].url: not an http(s) URL"),
        (["add", "https://WWW.dawn.com/feeds/home?utm_source=x"], "is already the feed 'dawn'"),
        (["add", "https://a.example/feed", "--name", "dawn"], "a feed named 'dawn' already exists"),
        (["remove", "dawn", "nope"], "no feed named 'nope'"),
        (["enable", "nope"], "no feed named 'nope'"),
    ]:
        code, output = _run("feeds", *args, "--config", str(cfg))
        assert code == 2, (args, output)
        assert message in output, (args, output)
        assert "Traceback" not in output
        assert cfg.read_text() == before


def test_import_from_other_readers_then_export(tmp_path: Path) -> None:
    cfg = _config(tmp_path, feeds='[[feeds]]\nname = "dawn-home"\nurl = "https://www.dawn.com/feeds/home"\n')
    before = cfg.read_text()
    res = runner.invoke(app, ["feeds", "import", str(FIXTURES / "miniflux.opml"), "--dry-run", "--json",
                              "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert cfg.read_text() == before and "Nothing written: 2 to add, 2 skipped." in res.stderr
    plan = json.loads(res.stdout)
    assert [a["name"] for a in plan["added"]] == ["the-express-tribune", "bbc-news-asia"]
    assert [s["reason"] for s in plan["skipped"]] == ["already in the config", "already in the config"]
    assert plan["written"] is False
    for fixture in ("miniflux.opml", "freshrss.opml", "feedly.opml", "inoreader.xml", "netnewswire.opml"):
        code, output = _run("feeds", "import", str(FIXTURES / fixture), "--config", str(cfg))
        assert code == 0, output
    names = [f.name for f in load_settings(cfg).settings.feeds]
    assert len(names) == len(set(names)) == 15
    feeds = {f.name: f for f in load_settings(cfg).settings.feeds}
    assert feeds["the-hindu-international"].source == "The Hindu - International"
    assert feeds["dawn"].url == "https://www.dawn.com/feeds/pakistan"  # FreshRSS; Feedly's copy skipped
    exported = tmp_path / "out.opml"
    code, output = _run("feeds", "export", "--output", str(exported), "--config", str(cfg))
    assert code == 0 and "Wrote 15 feeds" in output
    (tmp_path / "other").mkdir()
    other = _config(tmp_path / "other")
    assert _run("feeds", "import", str(exported), "--config", str(other))[0] == 0
    assert [f.name for f in load_settings(other).settings.feeds] == names


def test_import_of_a_broken_file_exits_2_with_line_and_column(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    bad = tmp_path / "bad.opml"
    bad.write_text('<opml version="2.0"><body>\n<outline xmlUrl="https://a.example/?a=1&b=2"/></body></opml>')
    code, output = _run("feeds", "import", str(bad), "--config", str(cfg))
    assert code == 2 and f"{bad}:2:" in output and "Traceback" not in output
    assert _run("feeds", "import", str(tmp_path / "missing.opml"), "--config", str(cfg))[0] == 1


def _news_site(server: LoopbackServer) -> str:
    server.route("/a", page("Delhi and Islamabad kept a backchannel open",
                            "Officials in India and Pakistan said the backchannel stayed open.\nMore text here."))
    server.route("/b", page("Cricket", "A match report with no diplomacy in it at all.\nSecond paragraph."))
    server.route("/feed.xml", rss([
        {"title": "Backchannel report", "link": server.url("/a")},
        {"title": "Cricket", "link": server.url("/b"), "description": "india pakistan backchannel"},
    ], title="Loopback News"), content_type="application/rss+xml")
    return server.url("/feed.xml")


def test_feeds_test_shows_what_would_be_flagged_and_stores_nothing(tmp_path: Path, server: LoopbackServer) -> None:
    url = _news_site(server)
    cfg = _config(tmp_path)
    code, output = _run("feeds", "test", url, "--json", "--config", str(cfg))
    assert code == 0, output
    result = json.loads(output)
    assert result["title"] == "Loopback News" and result["entries"] == 2 and result["flagged"] == 1
    by_title = {i["title"]: i for i in result["items"]}
    assert by_title["Delhi and Islamabad kept a backchannel open"]["text_from"] == "page"
    assert by_title["Delhi and Islamabad kept a backchannel open"]["topics"][0]["topic"] == "backchannel-test"
    assert by_title["Cricket"]["topics"] == []  # the page, not the feed's teaser, is what is matched
    assert server.hits("/a") == 1
    # --no-pages matches the feeds' own text, as a feed with fetch_articles = false would be
    result = json.loads(_run("feeds", "test", url, "--no-pages", "--json", "--config", str(cfg))[1])
    assert [i["title"] for i in result["items"] if i["topics"]] == ["Cricket"]
    assert server.hits("/a") == 1
    assert not (tmp_path / "db.sqlite").exists()
    code, output = _run("feeds", "test", url, "--config", str(cfg))
    assert code == 0 and "1 of 2 entries would be flagged. Nothing was stored." in output


def test_feeds_test_keeps_the_private_address_rule(tmp_path: Path, server: LoopbackServer) -> None:
    url = _news_site(server)
    code, output = _run("feeds", "test", url, "--config", str(_config(tmp_path, private=False)))
    assert code == 1 and "not a public address" in output and server.hits("/feed.xml") == 0
    server.route("/page.html", "<html><body>hello</body></html>")
    code, output = _run("feeds", "test", server.url("/page.html"), "--config", str(_config(tmp_path)))
    assert code == 1 and "not a feed" in output


def test_an_edit_reloads_the_daemon_named_in_the_pid_file(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    # a stand-in whose command line is that of `newswatch run`: it records the SIGHUP it gets
    marker = tmp_path / "hup"
    script = ("import signal, sys, time, pathlib\n"
              f"signal.signal(signal.SIGHUP, lambda *a: pathlib.Path({str(marker)!r}).write_text('x'))\n"
              "print('ready', flush=True)\n"
              "time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, "newswatch", "run"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "newswatch.pid").write_text(f"{proc.pid}\n")
        code, output = _run("feeds", "add", "https://a.example/feed", "--config", str(cfg))
        assert code == 0 and f"Asked the running daemon (pid {proc.pid}) to reload." in output
        for _ in range(50):
            if marker.exists():
                break
            subprocess.run(["sleep", "0.05"], check=False)
        assert marker.exists()
    finally:
        proc.kill()
        proc.wait()
    # a stale pid file naming a process that is not newswatch is ignored
    (tmp_path / "data" / "newswatch.pid").write_text(f"{os.getpid()}\n")
    assert "No running daemon found" in _run("feeds", "remove", "a", "--config", str(cfg))[1]
