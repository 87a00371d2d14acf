"""FeedHealth's rate limit and the health server's answers, with a clock and checks we control."""

from __future__ import annotations

import logging

import httpx
import pytest

from crawler.health import DaemonMetrics, FeedHealth, HealthCheck, HealthServer, all_failed
from crawler.pipeline import FeedReport


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _failed(name: str, error: str = "cannot resolve news.example") -> FeedReport:
    return FeedReport(feed=name, ok=False, error=error, duration=0.2)


def _summaries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "feeds.all_failing"]


def test_all_failing_is_logged_once_then_hourly_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newswatch.health")
    clock = Clock()
    health = FeedHealth(clock=clock)
    feeds = ["a", "b", "c"]
    health.record(_failed("a"), feeds)
    health.record(_failed("b", "HTTP 407 Proxy Authentication Required"), feeds)
    assert not health.all_failing and _summaries(caplog) == []  # c not tried yet
    health.record(_failed("c"), feeds)
    assert health.all_failing and health.counts == {"ok": 0, "failing": 3, "unpolled": 0}
    first = _summaries(caplog)
    assert len(first) == 1 and first[0].levelno == logging.WARNING
    assert first[0].fields["error"] == "cannot resolve news.example" and first[0].fields["with_that_error"] == 2
    for _ in range(50):  # round after round, within the hour: quiet
        clock.now += 60
        for name in feeds:
            health.record(_failed(name), feeds)
    assert len(_summaries(caplog)) == 1
    clock.now += 600  # past the hour
    health.record(_failed("a"), feeds)
    again = _summaries(caplog)
    assert len(again) == 2 and again[1].fields["still"] is True
    health.record(FeedReport(feed="b", ok=True), feeds)
    recovered = [r for r in caplog.records if r.getMessage() == "feeds.recovered"]
    assert len(recovered) == 1 and recovered[0].fields["feed"] == "b"
    assert not health.all_failing
    health.record(_failed("b"), feeds)  # failing again later: said again at once
    assert len(_summaries(caplog)) == 3


def test_a_feed_removed_by_reload_no_longer_counts() -> None:
    health = FeedHealth()
    health.record(FeedReport(feed="gone", ok=True), ["gone", "x"])
    health.record(_failed("x"), ["x"])  # a reload dropped "gone"
    assert health.all_failing and health.counts == {"ok": 0, "failing": 1, "unpolled": 0}


def test_all_failed_needs_at_least_one_poll() -> None:
    assert all_failed([_failed("a"), _failed("b")])
    assert not all_failed([_failed("a"), FeedReport(feed="b", ok=True)])
    assert not all_failed([])


def _get(path: str, metrics: DaemonMetrics, check: HealthCheck = lambda: (True, {}),
         host: str = "127.0.0.1") -> httpx.Response:
    """One request to a health server started for it on a free loopback port."""
    server = HealthServer(host, 0, metrics, check)
    server.start()
    try:
        where = f"[{host}]" if ":" in host else host
        return httpx.get(f"http://{where}:{server.port}{path}", timeout=5)
    finally:
        server.close()


@pytest.mark.parametrize("check, status", [
    (lambda: (True, {"database": "ok"}), 200),
    (lambda: (False, {"database": "error: OperationalError"}), 503),
    (lambda: 1 / 0, 503),
])
def test_healthz_answers_from_the_check(check, status) -> None:  # type: ignore[no-untyped-def]
    res = _get("/healthz", DaemonMetrics(FeedHealth()), check)
    assert res.status_code == status and res.headers["content-type"] == "application/json"
    assert res.json()["status"] == ("ok" if status == 200 else "error")


def test_metrics_count_polls_by_outcome() -> None:
    metrics = DaemonMetrics(FeedHealth())
    metrics.observe_poll(FeedReport(feed="a", ok=True, duration=0.3))
    metrics.observe_poll(FeedReport(feed="a", ok=True, not_modified=True, duration=0.05))
    metrics.observe_poll(_failed("b"))
    get = metrics.registry.get_sample_value
    assert get("newswatch_poll_duration_seconds_count", {"outcome": "ok"}) == 1
    assert get("newswatch_poll_duration_seconds_bucket", {"outcome": "ok", "le": "0.25"}) == 0
    assert get("newswatch_poll_duration_seconds_bucket", {"outcome": "ok", "le": "0.5"}) == 1
    assert get("newswatch_poll_duration_seconds_count", {"outcome": "not_modified"}) == 1
    assert get("newswatch_poll_duration_seconds_count", {"outcome": "failed"}) == 1
    assert get("newswatch_reloads_total", {"outcome": "refused"}) == 0
    assert get("newswatch_notifications_total", {"outcome": "sent"}) is None  # no notifier, no family


def test_metrics_listen_addresses() -> None:
    from pydantic import ValidationError

    from crawler.settings import MetricsSettings

    assert MetricsSettings().address() is None
    assert MetricsSettings(listen="127.0.0.1:9108").address() == ("127.0.0.1", 9108)
    assert MetricsSettings(listen="[::1]:9108").address() == ("::1", 9108)
    assert MetricsSettings(listen="localhost:9108").address() == ("localhost", 9108)
    for bad in ("9108", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "::1:9108", "http://x:1"):
        with pytest.raises(ValidationError):
            MetricsSettings(listen=bad)


def test_health_server_on_ipv6_loopback() -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    res = _get("/metrics", DaemonMetrics(FeedHealth()), host="::1")
    assert res.status_code == 200 and "newswatch_poll_duration_seconds_count" in res.text


def test_process_metrics_survive_a_hidden_proc_stat(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """systemd's ProcSubset=pid (both units set it) hides /proc/stat but not /proc/self."""
    import shutil

    from prometheus_client import CollectorRegistry

    from crawler.health import ProcessMetrics

    (tmp_path / "self" / "fd").mkdir(parents=True)
    shutil.copy("/proc/self/stat", tmp_path / "self" / "stat")
    shutil.copy("/proc/self/limits", tmp_path / "self" / "limits")
    assert not (tmp_path / "stat").exists()
    hidden, full = CollectorRegistry(), CollectorRegistry()
    ProcessMetrics(proc=str(tmp_path), registry=hidden)
    ProcessMetrics(registry=full)  # the whole of /proc, as outside the sandbox
    started = hidden.get_sample_value("process_start_time_seconds")
    assert started is not None and abs(started - full.get_sample_value("process_start_time_seconds")) < 2
    assert hidden.get_sample_value("process_resident_memory_bytes") > 0
    assert hidden.get_sample_value("process_max_fds") > 0


def test_a_broken_metric_is_a_500_and_a_log_line_not_a_traceback(caplog: pytest.LogCaptureFixture,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenNotifier:
        sent = failed = retried = dropped = 0

        @property
        def queued(self) -> int:
            raise RuntimeError("queue gone")

    caplog.set_level(logging.ERROR, logger="newswatch.health")
    # only pytest's capture on the root logger: a CLI test may have left a handler on a closed stream
    monkeypatch.setattr(logging.getLogger(), "handlers", [caplog.handler])
    res = _get("/metrics", DaemonMetrics(FeedHealth(), BrokenNotifier()))
    assert res.status_code == 500 and "daemon's log" in res.text
    assert [r.fields["error"] for r in caplog.records if r.getMessage() == "metrics.failed"] == [
        "RuntimeError: queue gone"]
    assert "Traceback" not in capsys.readouterr().err
