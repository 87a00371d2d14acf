"""The `newswatch` command's listings, review marks and extraction, on a real SQLite file."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from crawler.models import Match
from storage import FeedConfig, NewArticle, Store

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "newswatch.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                    f'[rules]\nfiles = ["{ROOT / "config" / "rules" / "*.toml"}"]\n'
                    '[[feeds]]\nname = "dawn"\nurl = "https://www.dawn.com/feeds/home"\nsource = "Dawn"\n')
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.sync_feeds([FeedConfig("dawn", "https://www.dawn.com/feeds/home", "Dawn")])
    title = "Pakistan, India kept a back channel open"
    text = "ISLAMABAD: Officials said the back channel between Pakistan and India stayed open."
    start = text.index("back channel")
    for i in range(3):
        store.add_article(NewArticle(
            url=f"https://www.dawn.com/news/{i}", link=f"https://www.dawn.com/news/{i}", title=f"{title} {i}",
            text=text, method="profile:dawn", text_from="page", fetched_at=datetime.now(UTC), source="Dawn",
            feed_name="dawn", published=datetime(2026, 11, 20 + i, tzinfo=UTC)),
            [Match("india-pakistan-backchannel", 2.5, ["back-channel*"],
                   {"hits": [{"term": "back-channel*", "field": "body", "start": start, "end": start + 12}]}, "v1")])
    store.close()
    return path


def test_review_list_json_is_complete(cfg: Path) -> None:
    res = runner.invoke(app, ["review", "list", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 3 and rows[0]["url"] == "https://www.dawn.com/news/2"  # newest first
    for key in ("id", "url", "title", "source", "published", "topic", "score", "state", "matched_terms"):
        assert key in rows[0]
    assert len(json.loads(runner.invoke(app, ["review", "list", "--config", str(cfg), "--json", "--limit", "2"]).output)) == 2


def test_mark_then_filter_by_state(cfg: Path) -> None:
    res = runner.invoke(app, ["review", "mark", "1", "relevant", "--note", "NSA talks", "--config", str(cfg)])
    assert res.exit_code == 0 and "relevant" in res.output
    rows = json.loads(runner.invoke(app, ["review", "list", "--state", "relevant", "--config", str(cfg), "--json"]).output)
    assert [(r["id"], r["note"]) for r in rows] == [(1, "NSA talks")]
    assert len(json.loads(runner.invoke(app, ["review", "list", "--config", str(cfg), "--json"]).output)) == 2
    assert runner.invoke(app, ["review", "mark", "99", "relevant", "--config", str(cfg)]).exit_code == 1
    assert runner.invoke(app, ["review", "mark", "1", "maybe", "--config", str(cfg)]).exit_code == 2


def test_export_labels_feeds_rules_eval(cfg: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["review", "mark", "1", "relevant", "--config", str(cfg)])
    runner.invoke(app, ["review", "mark", "2", "irrelevant", "--config", str(cfg)])
    out = tmp_path / "labels.jsonl"
    assert runner.invoke(app, ["review", "export-labels", "-o", str(out), "--config", str(cfg)]).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["label"] for r in rows) == [0, 1] and all(r["title"] and r["text"] for r in rows)
    res = runner.invoke(app, ["rules", "eval", str(out), "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["topics"][0]["tp"] + json.loads(res.output)["topics"][0]["fn"] == 1


def test_show_highlights_and_json(cfg: Path) -> None:
    res = runner.invoke(app, ["review", "show", "1", "--config", str(cfg)])
    assert res.exit_code == 0 and "back channel" in res.output and "india-pakistan-backchannel" in res.output
    data = json.loads(runner.invoke(app, ["review", "show", "1", "--config", str(cfg), "--json"]).output)
    assert data["matches"][0]["topic_id"] == "india-pakistan-backchannel"
    assert runner.invoke(app, ["review", "show", "42", "--config", str(cfg)]).exit_code == 1


def test_status_json(cfg: Path) -> None:
    data = json.loads(runner.invoke(app, ["status", "--config", str(cfg), "--json"]).output)
    (feed,) = data["feeds"]
    assert feed["name"] == "dawn" and feed["next_poll"] and data["review"]["unreviewed"] == 3


def test_check_passes_on_the_shipped_config() -> None:
    res = runner.invoke(app, ["check", "--config", str(ROOT / "config" / "newswatch.toml")])
    assert res.exit_code == 0, res.output
    assert "ok" in res.output and re.search(r"\b1 topic\b|\d+ topics", res.output)


def test_extract_file_json() -> None:
    page = ROOT / "tests" / "fixtures" / "extract" / "dawn.html"
    res = runner.invoke(app, ["extract", str(page), "--url", "https://www.dawn.com/news/1900001/x", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["method"] == "profile:dawn" and data["text"] and data["title"]
    assert runner.invoke(app, ["extract", "/nonexistent.html"]).exit_code == 1


def test_poll_unknown_feed_is_a_usage_error(cfg: Path) -> None:
    res = runner.invoke(app, ["poll", "--once", "--feed", "nope", "--config", str(cfg)])
    assert res.exit_code == 2 and "nope" in res.output


def test_check_reports_config_and_rules_mistakes_together(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "t.toml").write_text('id = "t"\nname = "T"\nquery = "india AND pakistan OR delhi"\n')
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[rules]\nfiles = ["rules/*.toml"]\n[http]\ntimeout = "x"\n[schedule]\nconcurrency = 0\n')
    res = runner.invoke(app, ["check", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "http.timeout" in res.output and "schedule.concurrency" in res.output
    assert "t.toml:3:" in res.output and "^" in res.output
