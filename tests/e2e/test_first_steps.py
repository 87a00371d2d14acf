"""A new user's first commands, run as real processes: the demo into the review app, --version,
completion, where the config is looked for, and a busy port."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.helpers import CLI, ROOT, env, newswatch

CONFIG = str(ROOT / "config" / "newswatch.toml")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_page(proc: subprocess.Popen[str], url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            res = httpx.get(url, timeout=2)
            if res.status_code == 200:
                return res.text
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_demo_keep_hint_works_exactly_as_printed(tmp_path: Path) -> None:
    res = newswatch(tmp_path, "demo", "--keep", "--config", CONFIG, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    hints = re.findall(r"^  (newswatch .+)$", res.stdout, re.M)
    assert [h.split()[1] for h in hints] == ["serve", "review"], res.stdout
    other_dir = tmp_path / "elsewhere"  # the hint works from any directory, without the demo's env
    other_dir.mkdir()
    listed = subprocess.run([*CLI, *shlex.split(hints[1])[1:], "--json"], capture_output=True, text=True,
                            timeout=60, env=env(other_dir), cwd=other_dir)
    assert listed.returncode == 0, listed.stderr
    titles = re.findall(r'"title": "([^"]+)"', listed.stdout)
    assert len(titles) == 7, listed.stdout
    port = _free_port()
    proc = subprocess.Popen([*CLI, *shlex.split(hints[0])[1:], "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env(other_dir), cwd=other_dir)
    try:
        page = _wait_for_page(proc, f"http://127.0.0.1:{port}/?state=all")
    finally:
        _stop(proc)
    assert sum(1 for t in titles if t.replace("'", "&#39;").split(" ")[0] in page) == 7


def test_demo_serve_opens_the_review_app_on_the_demo(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([*CLI, "demo", "--serve", "--port", str(port), "--config", CONFIG],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(tmp_path), cwd=tmp_path)
    try:
        page = _wait_for_page(proc, f"http://127.0.0.1:{port}/?state=all", timeout=120)
    finally:
        _stop(proc)
    assert "Pakistan" in page and "Abu Dhabi" in page


def test_serve_on_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = newswatch(tmp_path, "serve", "--port", str(port), "--config", CONFIG)
    assert res.returncode == 1
    assert res.stderr == (f"error: cannot listen on 127.0.0.1:{port}: Address already in use; another "
                          "program is listening there (choose another --port)\n")


def test_version_and_completion(tmp_path: Path) -> None:
    res = newswatch(tmp_path, "--version")
    assert res.returncode == 0 and re.fullmatch(r"newswatch \d+\.\d+\.\d+\S*\n", res.stdout)
    script = Path(sys.executable).parent / "newswatch"  # completion is keyed to the installed command's name
    # Typer finds the shell from the parent process, so ask from inside bash as a user would
    res = subprocess.run(["bash", "-c", f"{shlex.quote(str(script))} --show-completion; true"], capture_output=True,
                         text=True, timeout=30, env=env(tmp_path), cwd=tmp_path)
    assert res.returncode == 0 and "complete -o default -F _newswatch_completion newswatch" in res.stdout
    e = env(tmp_path) | {"_NEWSWATCH_COMPLETE": "complete_bash", "COMP_WORDS": "newswatch feeds im",
                         "COMP_CWORD": "2"}
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=30, env=e, cwd=tmp_path)
    assert done.stdout.split() == ["import"]


def test_config_not_found_names_every_place_searched(tmp_path: Path) -> None:
    e = env(tmp_path) | {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    done = subprocess.run([*CLI, "check"], capture_output=True, text=True, timeout=30, env=e, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("error: config/newswatch.toml: config file not found; looked in config/newswatch.toml, "
                           f"{tmp_path}/xdg/newswatch/newswatch.toml, /etc/newswatch/newswatch.toml. "
                           "Give --config PATH or set $NEWSWATCH_CONFIG\n")
    (tmp_path / "xdg" / "newswatch").mkdir(parents=True)
    (tmp_path / "xdg" / "newswatch" / "newswatch.toml").write_text(
        f'[rules]\nfiles = ["{ROOT}/config/rules/*.toml"]\n', encoding="utf-8")
    done = subprocess.run([*CLI, "check"], capture_output=True, text=True, timeout=30, env=e, cwd=tmp_path)
    assert done.returncode == 0 and f"{tmp_path}/xdg/newswatch/newswatch.toml" in done.stdout
