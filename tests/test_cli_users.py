"""`newswatch users add|list|remove`: the config edited in place, tokens kept only as hashes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crawler.cli import app
from crawler.reviewers import verify_secret
from crawler.settings import load_settings

CONFIG = """# my reviewers
[storage]
url = "sqlite:///{db}"

[review]
token = "the-old-shared-token"  # still works
"""


def _run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_add_list_remove(tmp_path: Path) -> None:
    cfg = tmp_path / "newswatch.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "n.db"), encoding="utf-8")
    res = _run("users", "add", "alice", "--config", str(cfg))
    assert res.exit_code == 0, res.output
    token = res.stdout.strip().splitlines()[-1]
    text = cfg.read_text(encoding="utf-8")
    assert "# my reviewers" in text and "# still works" in text  # comments kept
    assert token not in text
    users = load_settings(cfg).settings.review.users
    assert set(users) == {"alice"} and verify_secret(token, users["alice"])
    assert _run("users", "add", "alice", "--config", str(cfg)).exit_code == 2  # already there
    assert _run("users", "add", "bob", "--token", "bob-chose-this-token", "--config", str(cfg)).exit_code == 0
    assert verify_secret("bob-chose-this-token", load_settings(cfg).settings.review.users["bob"])
    assert _run("users", "add", "bad name", "--config", str(cfg)).exit_code == 2
    assert _run("users", "add", "carol", "--token", "short", "--config", str(cfg)).exit_code == 2
    listed = _run("users", "list", "--json", "--config", str(cfg))
    assert '"alice"' in listed.stdout and '"bob"' in listed.stdout and "scrypt" not in listed.stdout
    assert _run("users", "remove", "alice", "--config", str(cfg)).exit_code == 0
    assert set(load_settings(cfg).settings.review.users) == {"bob"}
    missing = _run("users", "remove", "alice", "--config", str(cfg))
    assert missing.exit_code == 2 and "no reviewer named 'alice'" in missing.output
