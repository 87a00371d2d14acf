"""rules explain / backtest / stats over a real SQLite store, and `rules test --url`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from crawler.models import document_of
from crawler.rules import load_topics
from storage import NewArticle, Store
from tests.support.server import LoopbackServer

runner = CliRunner()

TOPIC = """id = "bc"
name = "Backchannel"
query = '(india OR delhi) AND (pakistan OR islamabad) AND backchannel'
"""
EDITED = """id = "bc"
name = "Backchannel"
query = '(india OR delhi) AND (pakistan OR islamabad) AND (backchannel OR "secret talks")'
"""
OTHER = """id = "cricket"
name = "Cricket"
query = 'cricket'
"""

ARTICLES = [
    ("India and Pakistan keep a backchannel open", "Officials in Delhi and Islamabad kept a backchannel open."),
    ("India, Pakistan in secret talks", "Officials from India and Pakistan held secret talks in Dubai."),
    ("Cricket: India beat Pakistan", "A cricket match in Colombo; no backchannel here, India won."),
    ("Markets rise", "Stocks in Karachi rose on Friday."),
]


@pytest.fixture
def setup(tmp_path: Path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bc.toml").write_text(TOPIC)
    (rules / "cricket.toml").write_text(OTHER)
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[rules]\nfiles = ["rules/*.toml"]\n'
                   '[http]\nallow_private_networks = true\n')
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    rs = load_topics(sorted(rules.glob("*.toml")))
    ids = []
    for i, (title, text) in enumerate(ARTICLES):
        art = NewArticle(url=f"https://news.example/{i}", link=f"https://news.example/{i}", title=title, text=text,
                         method="generic", text_from="page", source="Example",
                         fetched_at=datetime.now(UTC) - timedelta(days=i))
        ids.append(store.add_article(art, rs.match(document_of(art))))
    yield tmp_path, cfg, store, ids
    store.close()


def test_explain_shows_why_and_which_clause_failed(setup) -> None:
    _, cfg, _, ids = setup
    res = runner.invoke(app, ["rules", "explain", str(ids[0]), "--topic", "bc", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "MATCHES" in res.output and "✓" in res.output
    flat = " ".join(res.output.split())  # the console wraps at 80 columns
    scopes = "title: 3 hits (india, pakistan, backchannel) · body: 3 hits (delhi, islamabad, backchannel)"
    assert flat.index("MATCHES") < flat.index(scopes) < flat.index(ARTICLES[0][1])  # in the header
    assert "one of india, delhi — found india, delhi" in res.output and " OR " not in res.output
    res = runner.invoke(app, ["rules", "explain", str(ids[1]), "--topic", "bc", "--config", str(cfg)])
    assert "✗ backchannel — not found" in res.output
    res = runner.invoke(app, ["rules", "explain", str(ids[1]), "--topic", "bc", "--config", str(cfg), "--json"])
    data = json.loads(res.output)
    (exp,) = data["explanations"]
    assert exp["matched"] is False
    failed = [c for c in exp["clauses"]["children"] if not c["held"]]
    assert failed and "backchannel" in json.dumps(failed)
    assert runner.invoke(app, ["rules", "explain", "9999", "--config", str(cfg)]).exit_code == 1


def test_backtest_shows_the_difference_and_apply_writes_it(setup) -> None:
    tmp, cfg, store, ids = setup
    (tmp / "rules" / "bc.toml").write_text(EDITED)  # the analyst's edit, not yet applied
    res = runner.invoke(app, ["rules", "backtest", "--since", "all", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    bc = next(t for t in result["topics"] if t["topic"] == "bc")
    assert [r["id"] for r in bc["newly_flagged"]] == [ids[1]] and bc["no_longer_flagged"] == []
    assert result["articles"] == 4
    # only the edited file: the other topic is neither compared nor touched
    res = runner.invoke(app, ["rules", "backtest", "--since", "all", "--config", str(cfg),
                              "--rules", str(tmp / "rules" / "bc.toml"), "--apply"])
    assert res.exit_code == 0 and "+1" in res.output and "Applied" in res.output
    assert {m.topic_id for m in store.get_article(ids[1]).matches} == {"bc"}
    assert {m.topic_id for m in store.get_article(ids[2]).matches} == {"bc", "cricket"}
    again = json.loads(runner.invoke(app, ["rules", "backtest", "--since", "all", "--config", str(cfg), "--json"]).output)
    assert all(not t["newly_flagged"] and not t["no_longer_flagged"] for t in again["topics"])


def test_backtest_since_limits_the_window(setup) -> None:
    _, cfg, _, _ = setup
    res = runner.invoke(app, ["rules", "backtest", "--since", "36h", "--config", str(cfg), "--json"])
    assert json.loads(res.output)["articles"] == 2
    assert runner.invoke(app, ["rules", "backtest", "--since", "soon", "--config", str(cfg)]).exit_code == 2


def test_backtest_refuses_a_broken_edit(setup) -> None:
    tmp, cfg, _, _ = setup
    (tmp / "rules" / "bc.toml").write_text(TOPIC.replace("backchannel'", "backchannel OR'"))
    res = runner.invoke(app, ["rules", "backtest", "--config", str(cfg)])
    assert res.exit_code == 2 and "bc.toml" in res.output


def test_stats_per_term_precision_from_marks(setup) -> None:
    _, cfg, store, ids = setup
    store.mark(ids[0], "relevant")
    store.mark(ids[2], "irrelevant", topic="bc")
    res = runner.invoke(app, ["rules", "stats", "--topic", "bc", "--config", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    (bc,) = json.loads(res.output)["topics"]
    assert (bc["hits"], bc["relevant"], bc["irrelevant"], bc["precision"]) == (2, 1, 1, 0.5)
    terms = {t["term"]: t for t in bc["terms"]}
    assert terms["backchannel"]["precision"] == 0.5
    assert bc["terms"][0]["irrelevant"] == 1  # false-alarm terms first
    table = runner.invoke(app, ["rules", "stats", "--config", str(cfg)])
    assert "false alarms first" in table.output


def test_rules_test_url_fetches_and_extracts(setup, server: LoopbackServer) -> None:
    _, cfg, _, _ = setup
    server.route("/a", "<html><body><nav>Home backchannel</nav><article><h1>Talks</h1>"
                       "<p>India and Pakistan kept a backchannel open through the winter, officials said on Friday "
                       "in Islamabad, describing months of careful contacts between the two capitals.</p>"
                       "<p>Neither foreign office would comment on the record about the talks.</p></article></body></html>")
    res = runner.invoke(app, ["rules", "test", "india NEAR/5 backchannel", "--url", server.url("/a"),
                              "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "MATCH" in res.output and "NO MATCH" not in res.output
    typo = runner.invoke(app, ["rules", "test", "india NEAR/5 (backchannel", "--text", "x"])
    assert typo.exit_code == 2 and "^" in typo.output
