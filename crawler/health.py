"""The daemon's own health: one warning when every feed fails, and `/metrics` and `/healthz`.

When the network is gone (no DNS, a proxy in the way, a firewall), every feed
fails and the log fills with one `feed.failed` per feed per round, none of which
says the cause is shared. `FeedHealth` notices that state and logs one summary
line, again at most hourly while it lasts, and once when a feed recovers.

`HealthServer` lets Prometheus scrape the daemon without the review app. It is
prometheus-client's WSGI app on the standard library's `wsgiref` server in one
thread, so `newswatch run` imports no web framework; and because it runs beside
the event loop rather than on it, `/healthz` can tell a stalled loop (no
scheduler tick for a while) from a live one.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .logs import event

__all__ = ["ALL_FAILING_HINT", "DaemonMetrics", "FeedHealth", "HealthCheck", "HealthServer", "ProcessMetrics", "all_failed"]

log = logging.getLogger("newswatch.health")

ALL_FAILING_REPEAT = 3600.0
"""Seconds between two `feeds.all_failing` lines while every feed keeps failing."""

ALL_FAILING_HINT = ("no feed could be fetched, so the cause is likely shared: check DNS (/etc/resolv.conf), "
                    "the network and the firewall (the unit's IPAddressDeny=), and a proxy (HTTPS_PROXY, "
                    "NO_PROXY); `newswatch status` shows each feed's error")

POLL_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds; a poll includes fetching every new article of the feed, so the tail is long."""

OUTCOMES = ("ok", "not_modified", "failed")


class PollResult(Protocol):
    """What health needs of one poll (`crawler.pipeline.FeedReport` has it)."""

    feed: str
    ok: bool
    not_modified: bool
    error: str | None
    duration: float


def all_failed(reports: Iterable[PollResult]) -> bool:
    """True when there was at least one poll and every one failed (for `poll --once`'s exit status)."""
    results = [r.ok for r in reports]
    return bool(results) and not any(results)


class FeedHealth:
    """Each feed's latest poll in this process, to notice when every enabled feed is failing.

    Polls are recorded on the event loop and read by the metrics server's thread, hence the lock.
    """

    def __init__(self, *, repeat: float = ALL_FAILING_REPEAT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._repeat = repeat
        self._clock = clock
        self._latest: dict[str, tuple[bool, str | None]] = {}
        self._enabled: frozenset[str] = frozenset()
        self._since: float | None = None
        """When every feed started failing (None while one works)."""
        self._logged_at: float | None = None
        self._lock = threading.Lock()

    def record(self, result: PollResult, enabled: Collection[str]) -> None:
        """Note one poll; log when this poll makes, keeps or ends the all-failing state."""
        enabled = frozenset(enabled)  # the same object when a frozenset is passed: no copy per poll
        with self._lock:
            if enabled is not self._enabled:
                self._enabled = enabled
                for gone in set(self._latest) - enabled:  # removed or disabled by a reload
                    del self._latest[gone]
            if result.feed in enabled:
                self._latest[result.feed] = (result.ok, result.error)
            failing = self._every_one_failing()
        now = self._clock()
        if failing:
            if self._since is None:
                self._since = now
            if self._logged_at is None or now - self._logged_at >= self._repeat:
                self._log_all_failing(now)
        elif self._since is not None and result.ok:
            event(log, "feeds.recovered", feed=result.feed, failing_for=round(now - self._since, 1))
            self._since = self._logged_at = None

    def _log_all_failing(self, now: float) -> None:
        with self._lock:
            errors = Tally(err or "failed" for ok, err in self._latest.values() if not ok)
        common, count = errors.most_common(1)[0]
        event(log, "feeds.all_failing", logging.WARNING, feeds=len(self._latest),
              still=self._logged_at is not None, failing_for=round(now - (self._since or now), 1),
              error=common, with_that_error=count, check=ALL_FAILING_HINT)
        self._logged_at = now

    @property
    def counts(self) -> dict[str, int]:
        """Enabled feeds by the outcome of their latest poll here: `ok`, `failing`, `unpolled`."""
        with self._lock:
            ok = sum(1 for good, _ in self._latest.values() if good)
            return {"ok": ok, "failing": len(self._latest) - ok,
                    "unpolled": len(self._enabled) - len(self._latest)}

    @property
    def all_failing(self) -> bool:
        """Every enabled feed has been polled and its latest poll failed."""
        with self._lock:
            return self._every_one_failing()

    def _every_one_failing(self) -> bool:
        # the polled feeds are always among the enabled ones, so equal counts mean every one
        return (bool(self._enabled) and len(self._latest) == len(self._enabled)
                and not any(good for good, _ in self._latest.values()))


class DeliveryCounts(Protocol):
    """What metrics read of the notifier (`crawler.notify.Notifier`)."""

    sent: int
    failed: int
    retried: int
    dropped: int

    @property
    def queued(self) -> int: ...


class ProcessMetrics(ProcessCollector):
    """prometheus-client's `process_*` metrics, also inside the systemd sandbox.

    The library reads the boot time from `/proc/stat` and reports no process metric
    at all without it; `ProcSubset=pid` hides that file (and `/proc/uptime`) while
    leaving `/proc/self`. The boot time follows from the clocks just as well.
    """

    def _boot_time(self) -> float | None:
        try:
            return super()._boot_time()
        except OSError:
            return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


class _LiveCollector(Collector):
    """Values that live elsewhere (the notifier's counts, the feeds' health), read at scrape time."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        feeds = GaugeMetricFamily("newswatch_feeds", "Enabled feeds by the latest poll this daemon made of "
                                  "each: ok, failing, or not polled yet.", labels=["state"])
        for state, n in m.feeds.counts.items():
            feeds.add_metric([state], n)
        yield feeds
        yield GaugeMetricFamily("newswatch_all_feeds_failing",
                                "1 while the latest poll of every enabled feed failed (no DNS, a proxy).",
                                value=1 if m.feeds.all_failing else 0)
        yield GaugeMetricFamily("newswatch_scheduler_last_tick_timestamp_seconds",
                                "Unix time the scheduler last looked for due feeds.", value=m.last_tick)
        notifier = m.notifier
        if notifier is None:
            return
        sent = CounterMetricFamily("newswatch_notifications", "Notification messages by what became "
                                   "of them: sent, retried, failed (given up) or dropped (queue full).",
                                   labels=["outcome"])
        for outcome in ("sent", "retried", "failed", "dropped"):
            sent.add_metric([outcome], getattr(notifier, outcome))
        yield sent
        yield GaugeMetricFamily("newswatch_notifications_queued", "Notification messages waiting to be sent.",
                                value=notifier.queued)


class DaemonMetrics:
    """The daemon's own metrics, in a registry of their own (not the process-wide default)."""

    def __init__(self, feeds: FeedHealth, notifier: DeliveryCounts | None = None) -> None:
        self.feeds = feeds
        self.notifier = notifier
        self.last_tick = time.time()
        self.registry = registry = CollectorRegistry()
        ProcessMetrics(registry=registry)
        PlatformCollector(registry=registry)
        self.poll_duration = Histogram(
            "newswatch_poll_duration_seconds", "Time one poll of one feed took, its new articles included, "
            "by outcome.", ["outcome"], buckets=POLL_BUCKETS, registry=registry)
        for outcome in OUTCOMES:
            self.poll_duration.labels(outcome)
        self.reloads = Counter("newswatch_reloads", "Config reloads by outcome: done or refused.",
                               ["outcome"], registry=registry)
        for outcome in ("done", "refused"):
            self.reloads.labels(outcome)
        registry.register(_LiveCollector(self))

    def observe_poll(self, result: PollResult) -> None:
        outcome = "failed" if not result.ok else "not_modified" if result.not_modified else "ok"
        self.poll_duration.labels(outcome).observe(result.duration)

    def tick(self) -> None:
        """Called by each scheduler tick; `/healthz` reports a daemon whose ticks stopped."""
        self.last_tick = time.time()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    timeout = 10  # a client that sends nothing does not hold a thread for ever

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are routine; the daemon's log is for events."""


HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]
"""Returns (healthy, details) for `/healthz`."""


class HealthServer:
    """`/metrics` and `/healthz` on `[metrics] listen`, served from a thread beside the event loop."""

    def __init__(self, host: str, port: int, metrics: DaemonMetrics, check: HealthCheck) -> None:
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._check = check
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("_HealthServer", (_Server,), {"address_family": family})
        self._server = make_server(host, port, self._app, server_class=server_class,
                                   handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="metrics-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port (blocks up to half a second)."""
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"use GET\n", [("Allow", "GET, HEAD")])
        if path == "/metrics":
            try:
                return self._metrics_app(environ, start_response)
            except Exception as exc:  # logged as an event: wsgiref would print a traceback
                event(log, "metrics.failed", logging.ERROR, error=f"{type(exc).__name__}: {exc}")
                return _reply(start_response, "500 Internal Server Error", b"metrics failed: see the daemon's log\n")
        if path == "/healthz":
            try:
                healthy, details = self._check()
            except Exception as exc:  # a check that breaks means unhealthy, never a traceback
                healthy, details = False, {"error": type(exc).__name__}
            details = {"status": "ok" if healthy else "error", **details}
            body = (json.dumps(details) + "\n").encode()
            return _reply(start_response, "200 OK" if healthy else "503 Service Unavailable", body,
                          [("Content-Type", "application/json")])
        return _reply(start_response, "404 Not Found", b"not found: this port serves /metrics and /healthz\n")


def _reply(start_response: Callable[..., Any], status: str, body: bytes,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    base = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")]
    extra = headers or []
    names = {k.lower() for k, _ in extra}
    start_response(status, [h for h in base if h[0].lower() not in names] + extra
                   + [("Content-Length", str(len(body)))])
    return [body]
