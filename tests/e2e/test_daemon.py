"""`newswatch run` as a real process: faults, SIGTERM, SIGHUP, against loopback feeds."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

from tests.e2e.helpers import TEST_TOPIC, Daemon, db, newswatch, page, rss, write_config
from tests.support.server import LoopbackServer, RecordedRequest, Response


def _growing_feed(server: LoopbackServer, path: str) -> None:
    """A feed that gains one new article on every request."""
    count = {"n": 0}
    lock = threading.Lock()

    def fn(_req: RecordedRequest) -> Response:
        with lock:
            count["n"] += 1
            n = count["n"]
        items = [{"title": f"Story {i}", "link": server.url(f"/story/{i}")} for i in range(1, n + 1)]
        return Response(200, rss(items).encode(), {"Content-Type": "application/rss+xml"})

    server.handler(path, fn)
    for i in range(1, 200):
        server.route(f"/story/{i}", page(f"Story {i}", f"Paragraph one of story {i}.\nParagraph two."))


def test_daemon_polls_healthy_feeds_while_others_fail(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    _growing_feed(server, "/good.xml")
    server.route("/error.xml", "oops", status=500)
    server.route("/junk.xml", "<html><body>not a feed</body></html>")
    server.route("/slow.xml", rss([]), delay=5.0)
    server.route("/loop.xml", "", status=302, headers={"Location": "/loop.xml"})
    cfg = write_config(tmp_path, [
        {"name": "good", "url": server.url("/good.xml")},
        {"name": "error", "url": server.url("/error.xml")},
        {"name": "junk", "url": server.url("/junk.xml")},
        {"name": "slow", "url": server.url("/slow.xml")},
        {"name": "loop", "url": server.url("/loop.xml")},
    ], schedule='max_interval = "2s"')
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("daemon.started")
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        if server.hits("/good.xml") >= 4 and server.hits("/error.xml") >= 2:
            break
        time.sleep(0.2)
    rc, took = d.stop()
    assert rc == 0 and took < 10
    logs = d.logs()
    for name in ("error", "junk", "slow", "loop"):
        assert f"event=feed.failed feed={name}" in logs, logs[-3000:]
    assert "Traceback" not in logs
    status = {f["name"]: f for f in json.loads(newswatch(tmp_path, "status", "--config", str(cfg), "--json").stdout)["feeds"]}
    assert status["good"]["articles_total"] >= 3 and status["good"]["consecutive_failures"] == 0
    assert status["error"]["errors"] >= 2 and status["error"]["http_status"] == 500
    assert "not a feed" in status["junk"]["last_error"]
    assert status["slow"]["last_error"] and status["loop"]["last_error"]
    assert all(f["next_poll"] for f in status.values())  # slowed, never disabled


def test_sigterm_mid_poll_leaves_database_consistent(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    items = [{"title": f"Slow story {i}", "link": server.url(f"/slow/{i}")} for i in range(30)]
    server.route("/feed.xml", rss(items))
    for i in range(30):
        server.route(f"/slow/{i}", page(f"Slow story {i}", "India and Pakistan kept a backchannel open.\nMore."),
                     delay=0.7)
    cfg = write_config(tmp_path, [{"name": "slow", "url": server.url("/feed.xml")}],
                       schedule="article_concurrency = 2")
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("event=article.flagged")
    rc, took = d.stop()
    assert rc == 0 and took < 10, d.logs()[-2000:]
    with db(tmp_path) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("pragma foreign_key_check").fetchall() == []
        n = conn.execute("select count(*) from articles").fetchone()[0]
        flagged = conn.execute("select count(*) from matches").fetchone()[0]
        assert 0 < n < 30 and flagged == n  # every stored article came with its match
        assert conn.execute("select count(*) from articles where text = ''").fetchone()[0] == 0
        assert conn.execute("select count(*) from feeds where lease_owner is not null").fetchone()[0] == 0
    # a later pass picks up where the stopped one left off, without duplicates
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    with db(tmp_path) as conn:
        assert conn.execute("select count(*) from articles").fetchone()[0] == 30


def test_sighup_refuses_bad_rules_and_applies_good_ones(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    server.route("/a.xml", rss([]))
    server.route("/b.xml", rss([{"title": "Story", "link": server.url("/s")}]))
    server.route("/s", page("Story", "Text."))
    cfg = write_config(tmp_path, [{"name": "a", "url": server.url("/a.xml")}])
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("event=feed.polled feed=a")
    rules = tmp_path / "config" / "rules" / "test.toml"
    rules.write_text(TEST_TOPIC.replace("query = '", "query = '(( "), encoding="utf-8")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for("event=reload.refused")
    assert d.proc.poll() is None  # still running on the old rules
    rules.write_text(TEST_TOPIC, encoding="utf-8")
    cfg.write_text(cfg.read_text() + f'\n[[feeds]]\nname = "b"\nurl = "{server.url("/b.xml")}"\n')
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for("event=reload.done")
    d.wait_for("event=feed.polled feed=b")
    rc, _ = d.stop()
    assert rc == 0


def test_bad_pages_are_counted_and_the_poll_goes_on(tmp_path: Path, server: LoopbackServer) -> None:
    big = b"<html><body><p>" + b"x" * (6 * 1024 * 1024) + b"</p></body></html>"
    server.route("/big", big)
    server.route("/pdf", b"%PDF-1.4 binary", content_type="application/pdf")
    server.route("/loop", "", status=302, headers={"Location": "/loop"})
    server.route("/err", "", status=500)
    legacy = page("Caf\xe9 talks", "The caf\xe9 in Lahore served na\xefve r\xe9sum\xe9s.\nSecond paragraph here.")
    server.route("/legacy", legacy.encode("windows-1252"), content_type="text/html; charset=windows-1252")
    server.route("/ok", page("Fine", "LAHORE: The provincial cabinet approved a new budget for schools on Friday, "
                                     "raising spending on teachers' salaries and textbooks by a fifth.\n"
                                     "The finance minister said the money would reach districts by January, and that "
                                     "an audit of the previous year's spending would be published next month."))
    items = [{"title": t, "link": server.url(p)} for t, p in
             [("Big", "/big"), ("Pdf", "/pdf"), ("Loop", "/loop"), ("Err", "/err"), ("Legacy", "/legacy"), ("Ok", "/ok")]]
    server.route("/feed.xml", rss(items))
    cfg = write_config(tmp_path, [{"name": "mixed", "url": server.url("/feed.xml")}])
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json", "--log-level", "info")
    assert res.returncode == 0 and "Traceback" not in res.stderr
    (report,) = json.loads(res.stdout)
    assert report["ok"] and report["new_articles"] == 6 and report["page_errors"] == 3  # big, loop, err
    assert "event=page.failed feed=mixed" in res.stderr
    with db(tmp_path) as conn:
        rows = {r["link"].rsplit("/", 1)[-1]: r for r in conn.execute("select * from articles")}
    assert rows["legacy"]["text_from"] == "page" and "café in Lahore" in rows["legacy"]["text"]
    assert rows["pdf"]["text_from"] == "feed" and "not an HTML page" in rows["pdf"]["fetch_error"]
    assert rows["ok"]["text_from"] == "page"
    status = json.loads(newswatch(tmp_path, "status", "--config", str(cfg), "--json").stdout)
    assert status["feeds"][0]["page_errors"] == 3


def test_editing_a_rules_file_reloads_without_a_signal(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    server.route("/a.xml", rss([]))
    cfg = write_config(tmp_path, [{"name": "a", "url": server.url("/a.xml")}])
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("event=daemon.started")
    rules = tmp_path / "config" / "rules" / "test.toml"
    rules.write_text(TEST_TOPIC.replace('"secret talks")', '"secret talks" OR "quiet talks")'), encoding="utf-8")
    d.wait_for('event=reload.done reason="file changed"')
    # an edit whose example fails is refused, and the running rules stay
    rules.write_text(TEST_TOPIC + '\n[examples]\nmatch = ["nothing about the topic"]\n', encoding="utf-8")
    d.wait_for("event=reload.refused")
    assert "nothing about the topic" in d.logs()
    assert d.proc.poll() is None
    assert d.stop()[0] == 0


def test_a_restart_polls_feeds_in_back_off_promptly(tmp_path: Path, server: LoopbackServer, daemons) -> None:
    server.route("/flaky.xml", "down", status=500)
    server.route("/fine.xml", rss([]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "flaky", "url": server.url("/flaky.xml"), "interval": "1h"},
                                  {"name": "fine", "url": server.url("/fine.xml"), "interval": "1h"}])
    first = Daemon(tmp_path, cfg)
    daemons.append(first)
    first.wait_for("event=feed.failed feed=flaky")
    first.wait_for("event=feed.polled feed=fine")
    assert first.stop()[0] == 0  # flaky now backs off for about an hour
    time.sleep(1.2)  # longer than min_interval: the last try is not "a moment ago"
    server.route("/flaky.xml", rss([]), content_type="application/rss+xml")  # the outage is over
    second = Daemon(tmp_path, cfg)
    daemons.append(second)
    second.wait_for("backed_off=1")
    second.wait_for("event=feed.polled feed=flaky", timeout=10)
    time.sleep(0.5)
    assert second.stop()[0] == 0
    assert server.hits("/flaky.xml") == 2
    assert server.hits("/fine.xml") == 1  # a healthy feed polled a moment ago keeps its turn


def test_feeds_add_reloads_a_running_daemon_which_polls_the_new_feed(tmp_path: Path, server: LoopbackServer,
                                                                     daemons) -> None:
    server.route("/old.xml", rss([]), content_type="application/rss+xml")
    server.route("/new.xml", rss([{"title": "New feed's story", "link": server.url("/story/new")}]),
                 content_type="application/rss+xml")
    server.route("/story/new", page("New feed's story", "One paragraph.\nAnother paragraph."))
    cfg = write_config(tmp_path, [{"name": "old", "url": server.url("/old.xml")}])
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("daemon.started")
    assert (tmp_path / "data" / "newswatch.pid").read_text().strip() == str(d.proc.pid)
    res = newswatch(tmp_path, "feeds", "add", server.url("/new.xml"), "--name", "new", "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    assert f"Asked the running daemon (pid {d.proc.pid}) to reload." in res.stdout
    d.wait_for("event=reload.done")
    d.wait_for("event=feed.polled feed=new")
    assert server.hits("/new.xml") >= 1
    rc, _ = d.stop()
    assert rc == 0 and not (tmp_path / "data" / "newswatch.pid").exists()
    assert db(tmp_path).execute("SELECT count(*) FROM articles WHERE feed_name = 'new'").fetchone()[0] == 1


def test_the_daemon_groups_stories_without_loading_datasketch(tmp_path: Path, server: LoopbackServer,
                                                              daemons) -> None:
    """Two outlets' copies of one report become one story, grouped in a child process."""
    body = ("India and Pakistan kept a backchannel open through their national security advisers, "
            "officials in Delhi and Islamabad said on Friday, after weeks of quiet contacts in a third "
            "country that neither government has acknowledged in public.\n"
            "The talks covered the ceasefire along the Line of Control and the return of prisoners, "
            "according to two people briefed on the meetings who asked not to be named.")
    for name in ("a", "b"):
        server.route(f"/{name}/story", page("Backchannel talks resume", body))
        server.route(f"/{name}.xml", rss([{"title": "Backchannel talks resume", "link": server.url(f"/{name}/story")}]))
    cfg = write_config(tmp_path, [{"name": n, "url": server.url(f"/{n}.xml"), "interval": "1h"} for n in ("a", "b")])
    d = Daemon(tmp_path, cfg)
    daemons.append(d)
    d.wait_for("event=stories.grouped", timeout=30)
    with db(tmp_path) as conn:
        stories = conn.execute("select story_id from story_members").fetchall()
    assert len(stories) == 2 and stories[0][0] == stories[1][0], stories
    maps = Path(f"/proc/{d.proc.pid}/maps").read_text()
    assert "/scipy/" not in maps and "/datasketch/" not in maps
