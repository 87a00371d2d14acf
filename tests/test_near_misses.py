"""Near misses end to end: the pipeline stores them, `review near-misses` and the app list them,
a mark on one is a label for `export-labels`, and `rules stats` counts what each clause lost.

A real pipeline polls a loopback feed into real SQLite, with the end-to-end test topic
`(india OR delhi) AND (pakistan OR islamabad) AND (backchannel OR "secret talks")`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crawler.cli import app as cli
from crawler.fetch import Fetcher
from crawler.models import Document
from crawler.pipeline import Pipeline, near_misses_of
from crawler.runtime import load_runtime
from crawler.web import create_app
from storage import FeedConfig, Store
from tests.e2e.helpers import page, rss, write_config
from tests.support.server import LoopbackServer

FLAGGED = "India and Pakistan kept a backchannel open through the winter, officials in Delhi said."
ONE_SHORT = "India and Pakistan held quiet contacts through the winter, officials in Delhi said."
TWO_SHORT = "Officials in Delhi said the monsoon arrived early this year."
SECRET = "Delhi officials said secret talks were held in Dubai; nobody named the other side."


async def _poll(tmp_path: Path, server: LoopbackServer) -> tuple[Path, Store, dict[str, int]]:
    articles = {"flagged": FLAGGED, "one-short": ONE_SHORT, "two-short": TWO_SHORT, "secret": SECRET}
    for slug, body in articles.items():
        server.route(f"/{slug}", page(f"Story {slug}", body))
    server.route("/f.xml", rss([{"title": f"Story {s}", "link": server.url(f"/{s}")} for s in articles]))
    cfg = write_config(tmp_path, [{"name": "f", "url": server.url("/f.xml")}])
    runtime = load_runtime(cfg)
    store = Store.open(runtime.config.storage_url())
    store.sync_feeds([FeedConfig("f", server.url("/f.xml"))])
    fetcher = Fetcher(runtime.config.settings.http)
    (feed,) = store.claim_due_feeds("t", limit=1, lease=60, names=["f"])
    report = await Pipeline(store, fetcher, runtime).poll_feed(feed)
    await fetcher.aclose()
    assert report.ok and report.new_articles == 4 and report.flagged == 1
    ids = {a.title.removeprefix("Story "): a.id for a in store.iter_articles()}
    return cfg, store, ids


def test_near_misses_of_skips_flagged_topics(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    rules = load_runtime(cfg).rules
    miss = near_misses_of(rules, Document(body=ONE_SHORT), set())
    assert len(miss) == 1 and miss[0].topic == "backchannel-test" and "backchannel" in miss[0].failed
    assert near_misses_of(rules, Document(body=ONE_SHORT), {"backchannel-test"}) == []
    assert near_misses_of(rules, Document(body=TWO_SHORT), set()) == []


@pytest.fixture
async def polled(tmp_path: Path, server: LoopbackServer):
    cfg, store, ids = await _poll(tmp_path, server)
    yield cfg, store, ids
    store.close()


async def test_the_pipeline_stores_near_misses_and_the_cli_lists_them(polled) -> None:
    cfg, store, ids = polled
    rows, total = store.near_miss_rows()
    assert total == 2 and {r.id for r in rows} == {ids["one-short"], ids["secret"]}
    assert rows[0].closeness >= rows[1].closeness  # closest first
    res = CliRunner().invoke(cli, ["review", "near-misses", "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    assert [r["id"] for r in listed] == [r.id for r in rows]
    for r in listed:
        assert {"id", "url", "title", "source", "published", "topic", "failed"} <= set(r)
        assert r["topic"] == "backchannel-test" and r["failed"]
    one = next(r for r in listed if r["id"] == ids["one-short"])
    assert "backchannel" in one["failed"]
    secret = next(r for r in listed if r["id"] == ids["secret"])
    assert "pakistan" in secret["failed"]
    table = CliRunner().invoke(cli, ["review", "near-misses", "--config", str(cfg)])
    assert table.exit_code == 0 and "Near misses (2 of 2, closest first)" in table.stdout


async def test_a_near_miss_marked_relevant_is_a_label_and_a_loss(polled) -> None:
    cfg, store, ids = polled
    runner = CliRunner()
    res = runner.invoke(cli, ["review", "mark", str(ids["one-short"]), "relevant", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert runner.invoke(cli, ["review", "mark", str(ids["secret"]), "irrelevant", "--config", str(cfg)]).exit_code == 0
    assert store.near_miss_rows()[1] == 0  # both reviewed: the list is empty again
    labels = [json.loads(line) for line in runner.invoke(
        cli, ["review", "export-labels", "--config", str(cfg)]).stdout.splitlines()]
    by_id = {int(x["id"]): x for x in labels}
    assert by_id[ids["one-short"]]["label"] == 1 and by_id[ids["secret"]]["label"] == 0
    assert "backchannel" in by_id[ids["one-short"]]["near_miss"]
    stats = json.loads(runner.invoke(cli, ["rules", "stats", "--json", "--config", str(cfg)]).stdout)
    (topic,) = stats["topics"]
    assert topic["lost"] == [{"clause": by_id[ids["one-short"]]["near_miss"], "relevant_lost": 1}]
    human = runner.invoke(cli, ["rules", "stats", "--config", str(cfg)])
    assert "relevant lost" in human.stdout


async def test_the_review_page_has_a_near_miss_tab(polled) -> None:
    cfg, store, ids = polled
    runtime = load_runtime(cfg)
    with TestClient(create_app(runtime.config, store, runtime.rules.topics), base_url="http://127.0.0.1") as c:
        home = c.get("/").text
        assert 'href="/near-misses"' in home and re.search(r'Near misses <span class="count">2</span>', home)
        tab = c.get("/near-misses").text
        assert re.findall(r'data-id="(\d+)"', tab) == [str(r.id) for r in store.near_miss_rows()[0]]
        assert 'class="failed-clause"' in tab and "backchannel" in tab
        csrf = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', tab).group(1)
        res = c.post(f"/articles/{ids['one-short']}/mark", data={"state": "relevant", "csrf_token": csrf},
                     headers={"Accept": "application/json"})
        assert res.status_code == 200 and res.json()["total"] == 1
        api = c.get("/api/near-misses", params={"state": "relevant"}).json()
        assert [i["id"] for i in api["items"]] == [ids["one-short"]] and api["items"][0]["reviewed_by"]
        assert c.get("/api/near-misses").json()["total"] == 1
        # its own page names the failed clause and takes a mark, which goes back to the tab
        art = c.get(f"/articles/{ids['secret']}").text
        assert 'class="failed-clause"' in art and 'id="mark-form"' in art
        csrf = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', art).group(1)
        done = c.post(f"/articles/{ids['secret']}/mark", data={"state": "irrelevant", "csrf_token": csrf},
                      follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/near-misses"
        assert c.get("/api/near-misses").json()["total"] == 0


async def test_backtest_apply_drops_a_near_miss_the_topic_now_flags(polled, tmp_path: Path) -> None:
    cfg, store, ids = polled
    wider = tmp_path / "config" / "rules" / "test.toml"
    wider.write_text(wider.read_text(encoding="utf-8").replace('"secret talks")', '"secret talks" OR contacts)'),
                     encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "backtest", "--apply", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    rows, _ = store.near_miss_rows()
    assert ids["one-short"] not in {r.id for r in rows}  # flagged now
    assert ids["secret"] in {r.id for r in rows}
