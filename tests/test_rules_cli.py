"""`newswatch rules test|eval` through Typer's runner: output, JSON shape, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crawler.cli.rules import rules_app

runner = CliRunner()


def write_config(tmp_path: Path, topic: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "t.toml").write_text(topic, encoding="utf-8")
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[rules]\nfiles = ["rules/*.toml"]\n', encoding="utf-8")
    return cfg


def labelled(tmp_path: Path) -> Path:
    p = tmp_path / "labelled.jsonl"
    rows = [
        {"title": "Hit", "text": "a backchannel with Pakistan", "label": 1},
        {"title": "Miss", "text": "cricket", "label": 1},
        {"title": "False alarm", "text": "a backchannel with Iran", "label": 0},
        {"title": "Quiet", "text": "nothing", "label": 0},
        {"title": "Unsure", "text": "backchannel", "label": "borderline"},
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return p


def test_test_command_match_and_tree() -> None:
    r = runner.invoke(rules_app, ["test", "backchannel NEAR/3 pakistan", "--text", "The backchannel with Pakistan"])
    assert r.exit_code == 0, r.output
    assert "MATCH" in r.output and "NO MATCH" not in r.output
    assert "within 3 words of each other — found 1 time" in r.output
    assert "NEAR" not in r.output.split("\n", 1)[1]


def test_test_command_no_match_json(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("nothing relevant", encoding="utf-8")
    r = runner.invoke(rules_app, ["test", "backchannel", "--file", str(f), "--json"])
    assert r.exit_code == 1  # like grep: no match
    data = json.loads(r.output)
    assert data["matched"] is False and data["clauses"]["held"] is False


def test_test_command_syntax_error_exits_2() -> None:
    r = runner.invoke(rules_app, ["test", "a AND b OR c", "--text", "x"])
    assert r.exit_code == 2
    assert "<query>:1:9:" in r.output and "^" in r.output
    assert "Traceback" not in r.output


def test_test_command_needs_text_or_file() -> None:
    r = runner.invoke(rules_app, ["test", "a"])
    assert r.exit_code == 2


def test_eval_json(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'id = "t"\nquery = "backchannel"\n')
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {
        "topics": [{"topic": "t", "precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1,
                    "tn": 1, "false_positives": ["False alarm"], "false_negatives": ["Miss"]}],
        "skipped": 1,
    }


def test_eval_table(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'id = "t"\nquery = "backchannel"\n')
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--config", str(cfg), "--topic", "t"])
    assert r.exit_code == 0, r.output
    assert "precision" in r.output and "0.500" in r.output
    assert "false positive: False alarm" in r.output
    assert "skipped 1" in r.output


def test_eval_invalid_rules_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'id = "t"\nquery = "india AND"\n')
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--config", str(cfg)])
    assert r.exit_code == 2
    assert "t.toml:2:19: query: the query ends too early" in r.output
    assert "Traceback" not in r.output


def test_eval_unknown_topic_and_missing_files_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, 'id = "t"\nquery = "x"\n')
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--config", str(cfg), "--topic", "nope"])
    assert r.exit_code == 2 and "no topic 'nope'" in r.output
    r = runner.invoke(rules_app, ["eval", str(tmp_path / "none.jsonl"), "--config", str(cfg)])
    assert r.exit_code == 2 and "file not found" in r.output
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--config", str(tmp_path / "no.toml")])
    assert r.exit_code == 2 and "config file not found" in r.output


def test_eval_with_rules_files(tmp_path: Path) -> None:
    t = tmp_path / "x.toml"
    t.write_text('id = "x"\nquery = "pakistan"\n', encoding="utf-8")
    r = runner.invoke(rules_app, ["eval", str(labelled(tmp_path)), "--rules", str(t), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["topics"][0]["tp"] == 1


TOPIC = """\
id = "bc"
query = '@india AND @pakistan AND title:(backchannel OR talks)'
exclude = 'cricket'
[terms]
india = 'india OR delhi OR indian* OR "new delhi" OR bharat'
pakistan = "pakistan* OR islamabad"
"""


def test_test_topic_uses_its_lists_and_exclude(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, TOPIC)
    args = ["test", "--topic", "bc", "--config", str(cfg), "--title", "Backchannel [analysis]"]
    r = runner.invoke(rules_app, [*args, "--text", "Delhi and Islamabad kept talking."])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("MATCH  topic bc")
    assert "Backchannel [analysis]" in r.output  # Rich markup does not eat bracketed text
    assert "title: 1 hit (backchannel) · body: 2 hits (delhi, pakistan*)" not in r.output  # the list's terms
    assert "title: 1 hit (backchannel) · body: 2 hits (delhi, islamabad)" in r.output
    assert "a term of the list “india” (5 terms) — found delhi" in r.output
    assert "one of backchannel, talks in the title — found backchannel" in r.output
    assert "not excluded, because this did not hold:" in r.output
    for jargon in ("LIST", "ANY OF", " OR ", " AND ", "@india"):
        assert jargon not in r.output
    r = runner.invoke(rules_app, [*args, "--text", "Delhi and Islamabad talked cricket."])
    assert r.exit_code == 1
    assert "the exclude clause removed it" in r.output and "excluded, because this held:" in r.output
    r = runner.invoke(rules_app, [*args, "--text", "Delhi and Islamabad talked cricket.", "--json"])
    assert r.exit_code == 1 and json.loads(r.output)["excluded"] is True


def test_test_topic_errors_exit_2(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, TOPIC)
    r = runner.invoke(rules_app, ["test", "--topic", "nope", "--config", str(cfg), "--text", "x"])
    assert r.exit_code == 2 and "no topic 'nope' (topics: bc)" in r.output
    r = runner.invoke(rules_app, ["test", "india", "--topic", "bc", "--config", str(cfg), "--text", "x"])
    assert r.exit_code == 2 and "one of them" in r.output
    r = runner.invoke(rules_app, ["test", "--topic", "bc", "--config", str(tmp_path / "none.toml"), "--text", "x"])
    assert r.exit_code == 2 and "config file not found" in r.output
    r = runner.invoke(rules_app, ["test", "india", "--file", str(tmp_path / "missing.txt")])
    assert r.exit_code == 2 and "cannot read" in r.output
