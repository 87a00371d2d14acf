"""`poll --once` and `status` as an administrator reads them: a dead network, a stretched interval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import newswatch, rss, write_config
from tests.support.server import LoopbackServer


def test_poll_once_exits_1_only_when_every_feed_failed(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/down.xml", "oops", status=503)
    server.route("/gone.xml", "no", status=404)
    server.route("/ok.xml", rss([]), content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "down", "url": server.url("/down.xml")},
                                  {"name": "gone", "url": server.url("/gone.xml")},
                                  {"name": "ok", "url": server.url("/ok.xml"), "enabled": False}])
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Every feed failed: check the network, DNS and any proxy" in res.stderr
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
    assert res.returncode == 1 and [r["ok"] for r in json.loads(res.stdout)] == [False, False]
    assert newswatch(tmp_path, "feeds", "enable", "ok", "--config", str(cfg)).returncode == 0
    res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    assert res.returncode == 0, res.stdout + res.stderr  # one feed answered: the network is there
    assert "Every feed failed" not in res.stderr


def test_status_shows_why_the_next_poll_is_later(tmp_path: Path, server: LoopbackServer) -> None:
    server.route("/slow.xml", rss([], ttl=120), content_type="application/rss+xml")  # <ttl> in minutes
    server.route("/plain.xml", rss([]), content_type="application/rss+xml")
    server.route("/down.xml", "oops", status=500)
    cfg = write_config(tmp_path, [{"name": "slow", "url": server.url("/slow.xml")},
                                  {"name": "plain", "url": server.url("/plain.xml")},
                                  {"name": "down", "url": server.url("/down.xml"), "interval": "1m"}],
                       schedule='max_interval = "6h"')
    newswatch(tmp_path, "poll", "--once", "--config", str(cfg))
    for _ in range(2):
        newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--feed", "down")
    res = newswatch(tmp_path, "status", "--config", str(cfg), "--json")
    assert res.returncode == 0, res.stderr
    why = {f["name"]: f["next_poll_reason"] for f in json.loads(res.stdout)["feeds"]}
    assert why == {"slow": "RSS <ttl> 2h", "plain": None, "down": "back-off after 3 failures in a row"}
    table = newswatch(tmp_path, "status", "--config", str(cfg)).stdout
    assert "(RSS <ttl> 2h)" in table and "(back-off after 3 failures in a row)" in table
