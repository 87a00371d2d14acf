"""Hostile configs, rules files and queries (issue 11): each gets exit 2 and a position, never a traceback.

These run the real `newswatch` command, as a user would meet the failure.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from crawler.settings import (
    MAX_NESTING,
    ConfigError,
    load_settings,
    load_toml,
    parse_duration,
    parse_since,
    parse_size,
    query_too_deep,
)
from tests.e2e.helpers import TEST_TOPIC, newswatch, write_config


def _refused(proc, *needles: str) -> None:  # type: ignore[no-untyped-def]
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out and "Error:" not in out.replace("error:", ""), out
    for needle in needles:
        assert needle in out, out


# -- defect 2: deep nesting ------------------------------------------------------------

def test_a_toml_config_nested_2000_deep_is_refused_with_its_position(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    cfg.write_text(cfg.read_text() + "\n[notify]\nurls = " + "[" * 2000 + "]" * 2000 + "\n")
    line = cfg.read_text().splitlines().index("urls = " + "[" * 2000 + "]" * 2000) + 1
    _refused(newswatch(tmp_path, "check", "--config", str(cfg)),
             str(cfg), f"line {line}, column {8 + MAX_NESTING}", "levels deep")


def test_a_rules_file_with_a_deep_inline_table_or_query_is_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    rules = cfg.parent / "rules" / "test.toml"
    rules.write_text(TEST_TOPIC + "[notify]\nx = " + "{a = " * 1500 + "1" + "}" * 1500 + "\n")
    _refused(newswatch(tmp_path, "check", "--config", str(cfg)), str(rules), "line 6, column 505", "levels deep")
    deep = "(" * 600 + "india" + ")" * 600
    rules.write_text(f'id = "deep"\nname = "Deep"\nquery = "{deep}"\n')
    _refused(newswatch(tmp_path, "check", "--config", str(cfg)),
             f"{rules}:3:{10 + MAX_NESTING}", "levels deep")
    _refused(newswatch(tmp_path, "run", "--config", str(cfg)),  # the daemon refuses to start on it
             f"{rules}:3:{10 + MAX_NESTING}", "levels deep")


def test_a_sites_file_nested_deep_is_refused(tmp_path: Path) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text("[sites.x]\nhosts = " + "[" * 3000 + "]" * 3000 + "\n")
    cfg = write_config(tmp_path, [], extra="")
    cfg.write_text(cfg.read_text().replace("[extract]\nsites = ", f"[extract]\nsites = {str(sites)!r}\n#"))
    _refused(newswatch(tmp_path, "check", "--config", str(cfg)), str(sites), "line 2", "levels deep")


@pytest.mark.parametrize("query", [
    "(" * 500 + "india" + ")" * 500,
    "NOT " * 2000 + "india",
    "india AND " + "(NOT " * 400 + "pakistan" + ")" * 400,
])
def test_rules_test_refuses_a_deeply_nested_query_with_a_column(tmp_path: Path, query: str) -> None:
    _refused(newswatch(tmp_path, "rules", "test", query, "--text", "india pakistan"),
             "<query>:1:", "levels deep", "^")


def test_nesting_up_to_the_limit_still_works(tmp_path: Path) -> None:
    query = "(" * MAX_NESTING + "india" + ")" * MAX_NESTING
    proc = newswatch(tmp_path, "rules", "test", query, "--text", "India and Pakistan")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_toml("a = " + "[" * MAX_NESTING + "]" * MAX_NESTING)["a"]


def test_depth_scans_skip_strings_comments_and_phrases() -> None:
    assert load_toml('a = "' + "[" * 500 + '"  # ' + "{" * 500 + "\nb = '''" + "[" * 500 + "'''\n") == {
        "a": "[" * 500, "b": "[" * 500}
    assert query_too_deep('"' + "(" * 500 + '" AND {' + "(" * 500 + "}") is None
    assert query_too_deep("a AND NOT b AND NOT c " * 80) is None  # NOTs side by side do not nest


def test_a_daemon_refuses_a_deep_rules_reload_and_keeps_running(tmp_path: Path) -> None:
    import signal

    from tests.e2e.helpers import Daemon

    cfg = write_config(tmp_path, [])
    daemon = Daemon(tmp_path, cfg)
    try:
        daemon.wait_for("event=daemon.started", timeout=30)
        (cfg.parent / "rules" / "test.toml").write_text(
            'id = "deep"\nname = "Deep"\nquery = "' + "(" * 800 + "india" + ")" * 800 + '"\n')
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("levels deep", timeout=30)
        assert daemon.proc.poll() is None
        assert "Traceback" not in daemon.logs() and "RecursionError" not in daemon.logs()
    finally:
        rc, _ = daemon.stop(timeout=20)
    assert rc == 0


# -- defect 3: every duration and size is bounded --------------------------------------

@pytest.mark.parametrize("bad", ["99999999999999999999d", "1" + "0" * 400 + "s", "3651d", "522w", math.inf,
                                 math.nan, 10**30, -1])
def test_durations_have_an_upper_bound(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["99999999999999GB", "9" * 400, "2GiB", 2**31, "0.1", "inf"])
def test_sizes_have_an_upper_bound(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)  # type: ignore[arg-type]


def test_since_far_in_the_past_is_an_error_not_an_overflow() -> None:
    with pytest.raises(ValueError):
        parse_since("99999999999999999999d")


def test_a_huge_lease_fails_check_instead_of_killing_poll(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [], schedule='lease = "99999999999999999999d"\nmax_interval = "1e400s"')
    _refused(newswatch(tmp_path, "check", "--config", str(cfg)), "schedule.lease", "limit")
    cfg = write_config(tmp_path, [], schedule="lease = inf")
    _refused(newswatch(tmp_path, "poll", "--once", "--config", str(cfg)), "schedule.lease")


# -- defect 9: check refuses configs that would fail later -----------------------------

@pytest.mark.parametrize(("snippet", "key"), [
    ('[[feeds]]\nname = "a"\nurl = "https://a.example/feed\\nHost: x"', "feeds[0].url"),
    ('[[feeds]]\nname = "a"\nurl = "https://a.example:99999/feed"', "feeds[0].url"),
    ('[[feeds]]\nname = "a"\nurl = "https://a.example/' + "x" * 3000 + '"', "feeds[0].url"),
    ('[[feeds]]\nname = "a\\nevent=forged"\nurl = "https://a.example/feed"', "feeds[0].name"),
    ('[storage]\nurl = "nonsense://"', "storage.url"),
    ('[storage]\nurl = "mysql://u@h/db"', "storage.url"),
    ('[storage]\nurl = ""', "storage.url"),
    ('[schedule]\ntick = "0s"', "schedule.tick"),
    ('[schedule]\nlease = "0s"', "schedule.lease"),
    ('[schedule]\ninterval = "0s"', "schedule.interval"),
    ('[schedule]\nmin_interval = "2h"\nmax_interval = "1h"', "min_interval"),
    ('[http]\ntimeout = "0s"', "http.timeout"),
    ('[http]\nuser_agent = "a\\r\\nX-Evil: 1"', "http.user_agent"),
    ('[notify]\ndigest_interval = "0s"', "notify.digest_interval"),
])
def test_check_refuses_values_that_would_fail_later(tmp_path: Path, snippet: str, key: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(snippet + "\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert any(key in p and p.startswith(str(cfg)) for p in exc.value.problems), exc.value.problems


def test_reasonable_values_still_pass(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\nurl = "postgresql+psycopg://u:p@127.0.0.1:5432/db"\nretention = "3650d"\n'
                   '[schedule]\ntick = "0.2s"\nlease = "30s"\n[http]\nmax_bytes = "1GiB"\n'
                   '[[feeds]]\nname = "dawn home"\nurl = "https://www.dawn.com/feeds/home?x=1#y"\n')
    s = load_settings(cfg).settings
    assert s.schedule.tick == 0.2 and s.http.max_bytes == 2**30 and s.storage.retention == 3650 * 86400


def test_rules_eval_refuses_a_deeply_nested_json_line_with_its_line(tmp_path: Path) -> None:
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text('{"title": "a", "text": "b", "label": 1}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    cfg = write_config(tmp_path, [])
    _refused(newswatch(tmp_path, "rules", "eval", str(labelled), "--config", str(cfg)),
             f"{labelled}:2:", "nested too deeply")


def _limited(cmd: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run newswatch with 2 GB of address space, so that a regression fails instead of exhausting memory."""
    import resource

    from tests.e2e.helpers import CLI, env

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    return subprocess.run([*CLI, *cmd], capture_output=True, text=True, timeout=60, env=env(tmp), cwd=tmp,
                          preexec_fn=limit)


def test_endless_or_huge_config_rules_and_sites_files_are_refused(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    _refused(_limited(["check", "--config", "/dev/zero"], tmp_path), "/dev/zero", "larger than 4 MiB")
    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 500_000)
    _refused(_limited(["check", "--config", str(huge)], tmp_path), str(huge), "larger than 4 MiB")
    text = cfg.read_text()
    cfg.write_text(text.replace('files = ["rules/*.toml"]', 'files = ["rules/*.toml", "/dev/zero"]')
                   .replace("[extract]\nsites = ", '[extract]\nsites = "/dev/zero"\n#'))
    _refused(_limited(["check", "--config", str(cfg)], tmp_path), "/dev/zero: cannot read: larger than 4 MiB")
    out = _limited(["check", "--config", str(cfg)], tmp_path).stderr
    assert out.count("/dev/zero: cannot read") == 2, out
