"""Several `newswatch run` instances sharing one PostgreSQL database split the work."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from tests.e2e.helpers import Daemon, page, rss
from tests.support.server import LoopbackServer


def test_two_instances_poll_each_feed_once_per_interval(tmp_path: Path, server: LoopbackServer,
                                                         pg_url: str, daemons) -> None:
    n_feeds = 6
    for i in range(n_feeds):
        server.route(f"/f{i}.xml", rss([{"title": f"Story {i}", "link": server.url(f"/s/{i}")}]))
        server.route(f"/s/{i}", page(f"Story {i}", "India and Pakistan held secret talks through a backchannel.\n"
                                                   "Officials in Delhi and Islamabad declined to comment."))
    feeds = "".join(f'\n[[feeds]]\nname = "f{i}"\nurl = "{server.url(f"/f{i}.xml")}"\ninterval = "2s"\n'
                    for i in range(n_feeds))
    (tmp_path / "config" / "rules").mkdir(parents=True)
    (tmp_path / "config" / "rules" / "t.toml").write_text(
        'id = "t"\nname = "t"\nquery = \'backchannel AND (india OR delhi)\'\n')
    cfg = tmp_path / "config" / "newswatch.toml"
    cfg.write_text(f"""
[storage]
url = "{pg_url}"
[http]
allow_private_networks = true
per_host_delay = "0s"
per_host_concurrency = 8
[schedule]
interval = "2s"
min_interval = "1s"
tick = "0.2s"
startup_spread = "0s"
concurrency = 2
[rules]
files = ["rules/*.toml"]
{feeds}""")
    a, b = Daemon(tmp_path, cfg), Daemon(tmp_path / "config", cfg)
    daemons.extend([a, b])
    a.wait_for("daemon.started")
    b.wait_for("daemon.started")
    time.sleep(9)
    assert a.stop()[0] == 0 and b.stop()[0] == 0

    polled_by = {"a": 0, "b": 0}
    for name, d in (("a", a), ("b", b)):
        polled_by[name] = len(re.findall(r"event=feed\.polled", d.logs()))
    # with two polls in flight each, six due feeds cannot all go to one instance
    assert polled_by["a"] > 0 and polled_by["b"] > 0, polled_by

    for i in range(n_feeds):
        times = [r.time for r in server.requests_for(f"/f{i}.xml")]
        gaps = [t2 - t1 for t1, t2 in itertools.pairwise(times)]
        assert len(times) >= 3
        # each feed is polled once per interval (2 s, 10% jitter) across the fleet, never twice
        assert min(gaps) > 1.5, (i, gaps)
    # each article stored once, whichever instance fetched it
    for i in range(n_feeds):
        assert server.hits(f"/s/{i}") == 1
