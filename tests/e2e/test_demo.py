"""The demo news site through the real pipeline with the shipped default topic."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.demo import DemoSite
from tests.e2e.helpers import db, newswatch, write_config


def test_default_topic_on_the_demo_site(tmp_path: Path) -> None:
    with DemoSite() as site:
        feeds = [{"name": f.name, "url": site.base_url + f.path, **({"source": f.source} if f.source else {})}
                 for f in site.feeds()]
        cfg = write_config(tmp_path, feeds, rules=None)
        res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json")
        assert res.returncode == 0, res.stderr
        labels = site.labels()
        reports = json.loads(res.stdout)
    assert all(r["ok"] for r in reports), reports
    with db(tmp_path) as conn:
        stored = {r["url"]: r for r in conn.execute("select * from articles")}
        flagged = {r["url"] for r in conn.execute(
            "select a.url from articles a join matches m on m.article_id = a.id")}
    assert set(labels) <= set(stored)  # every page and search item stored, each once
    assert len(stored) == len(labels)
    assert not [u for u in stored if "utm_" in u]
    positives = {u for u, lab in labels.items() if lab == 1}
    tp = len(positives & flagged)
    precision = tp / len(flagged) if flagged else 0.0
    recall = tp / len(positives)
    assert precision >= 0.9 and recall >= 0.9, (sorted(flagged - positives), sorted(positives - flagged))


def test_demo_command_prints_flagged_articles(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    res = newswatch(tmp_path, "demo", "--config", str(root / "config" / "newswatch.toml"), timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Flagged articles" in res.stdout and "0 false alarms" in res.stdout
