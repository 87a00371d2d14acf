"""Helpers for end-to-end tests: write a config, run the real `newswatch` command."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "crawler.cli"]

TEST_TOPIC = """\
id = "backchannel-test"
name = "Backchannel (test topic)"
description = "A small topic for end-to-end tests, independent of the default topic's tuning."
query = '(india OR delhi) AND (pakistan OR islamabad) AND (backchannel OR "secret talks")'
"""


def rss(items: list[dict[str, str]], *, title: str = "Test feed", ttl: int | None = None) -> str:
    parts = [f"<item><title>{i['title']}</title><link>{i['link']}</link>"
             f"<description>{i.get('description', '')}</description>"
             f"<guid>{i.get('guid', i['link'])}</guid>"
             f"<pubDate>{i.get('date', 'Fri, 27 Nov 2026 08:00:00 +0500')}</pubDate></item>" for i in items]
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.com/</link><description>x</description>{ttl_tag}{''.join(parts)}</channel></rss>")


def page(title: str, body: str, *, sidebar: str = "") -> str:
    paras = "".join(f"<p>{p}</p>" for p in body.split("\n") if p.strip())
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<main><article><h1>{title}</h1><div class='article-body'>{paras}</div></article></main>"
            f"<aside class='related'><h2>Related stories</h2><ul>{sidebar}</ul></aside>"
            f"<footer>Copyright 2026 Test News</footer></body></html>")


def write_config(tmp: Path, feeds: list[dict[str, Any]], *, rules: str | None = TEST_TOPIC,
                 extra: str = "", schedule: str = "") -> Path:
    """A config on loopback with the given feeds; `rules=None` uses the shipped default topic."""
    cfg_dir = tmp / "config"
    (cfg_dir / "rules").mkdir(parents=True, exist_ok=True)
    if rules is not None:
        (cfg_dir / "rules" / "test.toml").write_text(rules, encoding="utf-8")
        rules_files = '["rules/*.toml"]'
    else:
        rules_files = json.dumps([str(ROOT / "config" / "rules" / "*.toml")])
    feed_lines = []
    for f in feeds:
        feed_lines.append("[[feeds]]")
        for k, v in f.items():
            feed_lines.append(f"{k} = {json.dumps(v)}")
    text = f"""
[storage]
url = "sqlite:///{tmp / 'newswatch.db'}"

[http]
allow_private_networks = true
per_host_delay = "0s"
per_host_concurrency = 4
timeout = "3s"
connect_timeout = "2s"

[schedule]
interval = "1s"
min_interval = "1s"
tick = "0.2s"
startup_spread = "0s"
{schedule}

[rules]
files = {rules_files}

[extract]
sites = {json.dumps(str(ROOT / 'config' / 'sites.toml'))}
{extra}
""" + "\n".join(feed_lines) + "\n"
    path = cfg_dir / "newswatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def env(tmp: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.pop("NEWSWATCH_CONFIG", None)
    e["NEWSWATCH_DATA_DIR"] = str(tmp / "data")
    e["PYTHONPATH"] = str(ROOT)
    e["COLUMNS"] = "200"
    return e


def newswatch(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=env(tmp), cwd=tmp)


def db(tmp: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp / "newswatch.db")
    conn.row_factory = sqlite3.Row
    return conn


class Daemon:
    def __init__(self, tmp: Path, cfg: Path) -> None:
        self.log = tmp / "daemon.log"
        self.proc = subprocess.Popen([*CLI, "run", "--config", str(cfg), "--log-level", "debug"],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"),
                                     env=env(tmp), cwd=tmp)

    def logs(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.logs():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.logs()}")
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not logged within {timeout}s:\n{self.logs()[-3000:]}")

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - start

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
