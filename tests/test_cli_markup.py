"""Text from the user's config and feeds reaches the terminal as written: Rich markup never eats it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crawler.cli import app
from tests.e2e.helpers import TEST_TOPIC
from tests.support.server import LoopbackServer

runner = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # no folding inside table cells
    folder = tmp_path / "[prod]"
    (folder / "rules").mkdir(parents=True)
    (folder / "rules" / "t.toml").write_text(TEST_TOPIC, encoding="utf-8")
    server.route("/f.xml", "down [for maintenance]", status=503)
    path = folder / "newswatch.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                    '[http]\nallow_private_networks = true\n'
                    f'[[feeds]]\nname = "wire [storage]"\nurl = "{server.url("/f.xml")}"\nsource = "[b]Wire[/b]"\n',
                    encoding="utf-8")
    return path


def test_check_poll_status_and_feeds_print_bracketed_text(cfg: Path) -> None:
    res = runner.invoke(app, ["check", "--config", str(cfg)])
    assert res.exit_code == 0 and f"ok {cfg}:" in " ".join(res.output.split()), res.output
    res = runner.invoke(app, ["poll", "--once", "--config", str(cfg)])
    assert "wire [storage]" in res.output and "Every feed failed" in res.output
    res = runner.invoke(app, ["status", "--config", str(cfg)])
    assert "wire [storage]" in res.output
    res = runner.invoke(app, ["feeds", "list", "--config", str(cfg)])
    assert "wire [storage]" in res.output and "[b]Wire[/b]" in res.output
    res = runner.invoke(app, ["feeds", "remove", "nope", "--config", str(cfg)])
    assert res.exit_code == 2 and f"{cfg}: feeds: no feed named 'nope'" in res.output
