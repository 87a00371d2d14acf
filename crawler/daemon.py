"""`newswatch run`: the long-running poller.

APScheduler's clock runs a short job that claims the feeds that are due (the
due times live in the database) and hands them to a bounded pool of poll tasks,
plus maintenance jobs. SIGTERM stops claiming, gives in-flight polls a grace
period, then cancels them: each article is written in one transaction, so a
cancelled poll leaves no partial rows, and released leases let the next start
poll those feeds at once. SIGHUP, or an edit to a rules or sites file, reloads;
an invalid reload is refused and the old config stays in force.

On start every feed is polled promptly, spread over `startup_spread`: the stale
ones because `Store.spread_due` brings them forward, and those in back-off
because the daemon claims them by name, so a restart after fixing the network
retries at once instead of waiting out hours of back-off. A feed tried less than
`min_interval` ago keeps its turn, so a crash loop cannot hammer a failing site.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from storage import FeedConfig, FeedState, Store

from .fetch import Fetcher
from .health import DaemonMetrics, FeedHealth, HealthServer
from .logs import event
from .notify import Notifier
from .pipeline import FeedReport, OnFlagged, Pipeline
from .runtime import Runtime, load_runtime
from .settings import ConfigError
from .stories import assign_stories, group_in_child
from .systemd import notify, watchdog_interval

__all__ = ["Daemon", "backed_off", "feed_configs", "poll_once"]

log = logging.getLogger("newswatch.daemon")

STOP_GRACE = 7.0
"""Seconds in-flight polls get to finish on SIGTERM before they are cancelled (systemd waits 10 s)."""
WORKER_IDLE = 60.0
"""Seconds without a page to judge after which the extraction worker process is stopped."""
POOL_IDLE = 60.0
"""Seconds without a request to a host after which its connections are closed (they would
have expired before their next use: httpx keeps an idle connection 5 s)."""
WORKER_AFTER = 60
"""Pages within 30 s (two a second) before extraction moves to a worker process: below that,
the daemon's threads keep up on one core and the worker's memory would buy nothing."""


def feed_configs(runtime: Runtime) -> list[FeedConfig]:
    return [FeedConfig(name=f.name, url=f.url, source=f.source, enabled=f.enabled, interval=f.interval)
            for f in runtime.config.settings.feeds]


def instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _dead_here(owner: str) -> bool:
    """Whether a lease owner is a process of this host that no longer runs (killed, crashed).

    Owners elsewhere, and this process's own (tests run several instances in one), count as
    alive: their leases run out by themselves, one short lease after their heartbeat stops.
    """
    host, _, rest = owner.rpartition(":")[0].rpartition(":")
    try:
        pid = int(rest)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # killed but not yet reaped by its parent: dead all the same
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def release_dead_leases(store: Store) -> list[str]:
    """Free the leases of this host's dead instances, so a restart after SIGKILL polls their feeds at once."""
    holders = store.lease_holders()
    dead = sorted({owner for owner, _ in holders.values() if _dead_here(owner)})
    for owner in dead:
        store.release_feeds(owner)
    freed = sorted(name for name, (owner, _) in holders.items() if owner in dead)
    if freed:
        event(log, "leases.reclaimed", owners=",".join(dead), feeds=len(freed))
    return freed


async def _heartbeat(store: Store, owner: str, lease: float) -> None:
    """Renew `owner`'s leases every third of a lease while its polls run."""
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await asyncio.to_thread(store.renew_leases, owner, lease=lease)
        except Exception as exc:  # the database briefly away: the next beat tries again
            event(log, "leases.renew_failed", logging.WARNING, error=str(exc))


def backed_off(feeds: Sequence[FeedState], *, now: datetime, spread: float,
               min_interval: float) -> list[str]:
    """The failing feeds a start should poll at once although their back-off says later.

    Due ones (within `spread`) are left to the normal claim; a feed tried less than
    `min_interval` ago, by this instance before a restart or by another one, keeps its turn.
    """
    soon = now + timedelta(seconds=spread)
    recent = now - timedelta(seconds=min_interval)
    return [f.name for f in sorted(feeds, key=lambda f: f.next_poll_at)
            if f.enabled and f.consecutive_failures > 0 and f.next_poll_at > soon
            and (f.last_poll_at is None or f.last_poll_at <= recent)]


async def poll_once(runtime: Runtime, store: Store, names: list[str] | None = None,
                    on_flagged: OnFlagged | None = None) -> list[FeedReport]:
    """Poll every enabled feed (or the named ones) once, now, and return what each poll did."""
    await asyncio.to_thread(store.sync_feeds, feed_configs(runtime))
    await asyncio.to_thread(release_dead_leases, store)
    owner = instance_id()
    settings = runtime.config.settings
    lease = settings.schedule.lease
    wanted = names if names is not None else [f.name for f in settings.feeds if f.enabled]
    feeds = await asyncio.to_thread(store.claim_due_feeds, owner, limit=max(len(wanted), 1),
                                    lease=lease, names=wanted)
    claimed = {f.name for f in feeds}
    held = await asyncio.to_thread(store.lease_holders) if len(claimed) < len(wanted) else {}
    skipped = [FeedReport(feed=name, ok=False, held_by=held[name][0], held_until=held[name][1])
               for name in wanted if name not in claimed and name in held]
    for r in skipped:
        event(log, "feed.skipped", logging.WARNING, feed=r.feed, held_by=r.held_by,
              until=r.held_until.isoformat(timespec="seconds") if r.held_until else None)
    limit = asyncio.Semaphore(settings.schedule.concurrency)
    beat = asyncio.create_task(_heartbeat(store, owner, lease))
    async with Fetcher(settings.http) as fetcher:
        pipeline = Pipeline(store, fetcher, runtime, on_flagged)

        async def one(feed: FeedState) -> FeedReport:
            async with limit:
                return await pipeline.poll_feed(feed)

        try:
            reports = list(await asyncio.gather(*(one(f) for f in feeds)))
        finally:
            beat.cancel()
            await asyncio.to_thread(store.release_feeds, owner)
    if any(r.flagged for r in reports):
        try:  # one pass for the whole run: each pass loads every stored signature
            await asyncio.to_thread(assign_stories, store)
        except Exception:  # stays unplaced until the next pass or `serve`; never lost
            log.exception("stories.failed")
    return reports + skipped


class Daemon:
    """The scheduler, the poll pool and the signal handling around one `Pipeline`."""

    def __init__(self, runtime: Runtime, config_path: Path | None = None,
                 on_flagged: OnFlagged | None = None, *, watch_files: bool = True,
                 notifier: Notifier | None = None) -> None:
        self.runtime = runtime
        self.config_path = config_path or runtime.config.path
        self.owner = instance_id()
        self.notifier = notifier
        self.on_flagged = on_flagged or (notifier.on_flagged if notifier else None)
        self.watch_files = watch_files
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._files_seen: dict[Path, tuple[int, int] | None] = {}
        self._reload_lock = asyncio.Lock()
        self._claim_lock = asyncio.Lock()
        self._claim_again = False
        self._claim_task: asyncio.Future[None] | None = None
        self._claim_failures = 0
        """Ticks in a row whose claim failed (a full disk): logged once a minute, not every tick."""
        self.store: Store | None = None
        self.pipeline: Pipeline | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.health = FeedHealth()
        self.metrics = DaemonMetrics(self.health, notifier)
        self._server: HealthServer | None = None
        self._prompt: dict[str, float] = {}
        self._enabled: frozenset[str] = frozenset()
        self._enabled_for: Runtime | None = None
        """Feeds in back-off to poll on start, by name, with the monotonic time each is due."""

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        settings = self.runtime.config.settings
        self.store = store = await asyncio.to_thread(
            Store.open, self.runtime.config.storage_url(), migrate_in_child=True)  # Alembic stays out of the daemon
        await asyncio.to_thread(store.sync_feeds, feed_configs(self.runtime),
                                spread=settings.schedule.startup_spread)
        await asyncio.to_thread(store.spread_due, default_interval=settings.schedule.interval,
                                spread=settings.schedule.startup_spread)
        await self._plan_backed_off(store)
        await asyncio.to_thread(release_dead_leases, store)
        fetcher = Fetcher(settings.http)
        # Extraction and matching move to a worker process when there is a core for it.
        self.pipeline = Pipeline(store, fetcher, self.runtime, self.on_flagged,
                                 worker=(os.cpu_count() or 1) > 1, worker_after=WORKER_AFTER)
        if self.notifier is not None:
            self.notifier.store = store
            await self.notifier.resume()  # alarms a stop or an outage kept from going out

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload("SIGHUP")))

        self.scheduler = scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(self._tick, "interval", seconds=settings.schedule.tick, id="claim-due",
                          max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        scheduler.add_job(self._renew, "interval", seconds=settings.schedule.lease / 3, id="renew-leases",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self._group_stories, "interval", minutes=1, id="stories", max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC) + timedelta(seconds=5))
        scheduler.add_job(self._idle_worker, "interval", seconds=WORKER_IDLE / 2, id="idle-worker",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self._maintenance, "interval", hours=1, id="maintenance", max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        wd = watchdog_interval()
        if wd:
            scheduler.add_job(self._watchdog, "interval", seconds=wd, id="watchdog",
                              max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
        scheduler.start()
        # What the files were when the runtime was read: an edit made before the watcher is
        # live (right after `daemon.started`) is caught by comparing against this.
        self._files_seen = self._file_states()
        watcher = asyncio.create_task(self._watch_files()) if self.watch_files else None
        await self._serve_health()

        enabled = sum(1 for f in settings.feeds if f.enabled)
        event(log, "daemon.started", instance=self.owner, feeds=enabled, backed_off=len(self._prompt),
              topics=len(self.runtime.rules.topics), storage=store.backend, config=str(self.config_path),
              metrics=settings.metrics.listen)
        notify("READY=1", f"STATUS=polling {enabled} feeds")

        await self._stopping.wait()
        notify("STOPPING=1")
        event(log, "daemon.stopping", in_flight=len(self._tasks))
        scheduler.shutdown(wait=False)
        if watcher:
            watcher.cancel()
        await self._drain()
        if self.notifier is not None:
            await self.notifier.aclose()
        await asyncio.to_thread(store.release_feeds, self.owner)
        if self._server is not None:
            await asyncio.to_thread(self._server.close)
        await self.pipeline.fetcher.aclose()
        await self.pipeline.aclose()
        await asyncio.to_thread(store.close)
        event(log, "daemon.stopped")
        return 0

    def stop(self) -> None:
        self._stopping.set()

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2.0)
            event(log, "daemon.cancelled_polls", logging.WARNING, count=len(pending))

    async def _plan_backed_off(self, store: Store) -> None:
        """Queue the feeds in back-off for a prompt poll, spread over `startup_spread`."""
        schedule = self.runtime.config.settings.schedule
        states = await asyncio.to_thread(store.feed_states)
        names = backed_off(states, now=datetime.now(UTC), spread=schedule.startup_spread,
                           min_interval=schedule.min_interval)
        start = time.monotonic()
        self._prompt = {name: start + schedule.startup_spread * i / len(names)
                        for i, name in enumerate(names)}

    async def _tick(self) -> None:
        self.metrics.tick()
        await self._claim()

    async def _renew(self) -> None:
        """The heartbeat: extend the leases of the polls in flight, so none outlives a dead process."""
        if self.store is None or not self._tasks:
            return
        try:
            await asyncio.to_thread(self.store.renew_leases, self.owner,
                                    lease=self.runtime.config.settings.schedule.lease)
        except Exception as exc:  # the database briefly away: the next beat tries again
            event(log, "leases.renew_failed", logging.WARNING, error=str(exc))

    def _slot_freed(self, task: asyncio.Task[None]) -> None:
        """A poll ended: claim its successor now rather than at the next tick."""
        self._tasks.discard(task)
        if not self._stopping.is_set():
            self._claim_task = asyncio.ensure_future(self._claim())

    async def _claim(self) -> None:
        """Claim as many due feeds as the pool has room for; one claim at a time, re-run if asked meanwhile."""
        if self._claim_lock.locked():
            self._claim_again = True
            return
        async with self._claim_lock:
            self._claim_again = True
            while self._claim_again:
                self._claim_again = False
                await self._claim_room()

    async def _claim_room(self) -> None:
        if self._stopping.is_set() or self.store is None:
            return
        schedule = self.runtime.config.settings.schedule
        room = schedule.concurrency - len(self._tasks)
        if room <= 0:
            return
        now = time.monotonic()
        prompt = [name for name, due in self._prompt.items() if due <= now][:room]
        try:
            feeds = []
            if prompt:  # back-off waived once, on start: claimed by name, whatever their due time
                feeds = await asyncio.to_thread(self.store.claim_due_feeds, self.owner, limit=len(prompt),
                                                lease=schedule.lease, names=prompt)
                for name in prompt:
                    self._prompt.pop(name, None)
            if room > len(feeds):
                feeds += await asyncio.to_thread(self.store.claim_due_feeds, self.owner,
                                                 limit=room - len(feeds), lease=schedule.lease)
        except Exception as exc:  # database briefly unavailable: try again next tick
            self._claim_failures += 1
            if self._claim_failures == 1 or self._claim_failures % max(1, round(60 / schedule.tick)) == 0:
                event(log, "claim.failed", logging.ERROR, error=str(exc), ticks=self._claim_failures)
            return
        if self._claim_failures:
            event(log, "claim.recovered", ticks=self._claim_failures)
            self._claim_failures = 0
        for feed in feeds:
            task = asyncio.create_task(self._poll(feed), name=f"poll:{feed.name}")
            self._tasks.add(task)
            task.add_done_callback(self._slot_freed)

    async def _poll(self, feed: FeedState) -> None:
        assert self.pipeline is not None
        self._prompt.pop(feed.name, None)
        try:
            report = await self.pipeline.poll_feed(feed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one poll must not stop the daemon
            log.error("poll.crashed", exc_info=exc, extra={"fields": {"feed": feed.name}})
            try:
                report = await self.pipeline.record_crash(feed, exc)
            except Exception as again:  # the database too: the lease runs out by itself
                event(log, "poll.crash_unrecorded", logging.ERROR, feed=feed.name, error=str(again))
                return
        self.metrics.observe_poll(report)
        self.health.record(report, self._enabled_feeds())

    def _enabled_feeds(self) -> frozenset[str]:
        """The enabled feeds' names, computed once per runtime (not per poll: 10,000 feeds make it count)."""
        if self._enabled_for is not self.runtime:
            self._enabled = frozenset(f.name for f in self.runtime.config.settings.feeds if f.enabled)
            self._enabled_for = self.runtime
        return self._enabled

    async def _serve_health(self) -> None:
        """Start `/metrics` and `/healthz` on `[metrics] listen`; a port in use is logged, polling goes on."""
        settings = self.runtime.config.settings
        address = settings.metrics.address()
        if address is None:
            return
        try:
            self._server = await asyncio.to_thread(HealthServer, *address, self.metrics, self._healthz)
        except OSError as exc:
            event(log, "metrics.unavailable", logging.ERROR, listen=settings.metrics.listen,
                  error=exc.strerror or str(exc), config=str(self.config_path))
            return
        self._server.start()
        event(log, "metrics.listening", listen=settings.metrics.listen, port=self._server.port)

    def _healthz(self) -> tuple[bool, dict[str, object]]:
        """For `/healthz` (runs in the server's thread): database answers, scheduler ticking, not stopping."""
        schedule = self.runtime.config.settings.schedule
        since_tick = time.time() - self.metrics.last_tick
        ticking = since_tick <= max(60.0, 10 * schedule.tick)
        try:
            database = "ok" if self.store is not None and self.store.ping() else "unavailable"
        except Exception as exc:  # any database failure means unhealthy
            database = f"error: {type(exc).__name__}"
        stopping = self._stopping.is_set()
        details: dict[str, object] = {
            "database": database, "scheduler": "ticking" if ticking else "stalled",
            "seconds_since_tick": round(since_tick, 1), "stopping": stopping,
            "feeds": self.health.counts, "all_feeds_failing": self.health.all_failing,
        }
        return database == "ok" and ticking and not stopping, details

    async def _idle_worker(self) -> None:
        """Stop the extraction worker and close unused hosts' connections between bursts of
        work, so an idle daemon stays small."""
        if self.pipeline is None:
            return
        if self.pipeline.stop_idle_worker(WORKER_IDLE):
            event(log, "worker.stopped", idle_for=WORKER_IDLE)
        closed = await self.pipeline.fetcher.close_unused(POOL_IDLE)
        if closed:
            event(log, "connections.closed", logging.DEBUG, hosts=closed, unused_for=POOL_IDLE)

    async def _maintenance(self) -> None:
        retention = self.runtime.config.settings.storage.retention
        if retention <= 0 or self.store is None:
            return
        before = datetime.now(UTC) - timedelta(seconds=retention)
        removed = await asyncio.to_thread(self.store.prune, before)
        event(log, "maintenance.pruned", articles=removed, before=before.isoformat(timespec="seconds"))

    async def _group_stories(self) -> None:
        """Place newly flagged articles in stories, in a child process so the daemon never loads datasketch."""
        if self.store is None or self._stopping.is_set():
            return
        try:
            if not await asyncio.to_thread(self.store.flagged_without_story, limit=1):
                return
            placed = await asyncio.to_thread(group_in_child, self.runtime.config.storage_url())
        except Exception as exc:  # stays unplaced until the next minute, or `serve`; never lost
            event(log, "stories.failed", logging.WARNING, error=str(exc))
            return
        event(log, "stories.grouped", articles=placed)

    async def _watchdog(self) -> None:
        notify("WATCHDOG=1")

    async def reload(self, reason: str) -> bool:
        """Load config, rules and profiles anew; swap them in only if all are valid."""
        async with self._reload_lock:
            notify("RELOADING=1")
            try:
                new = await asyncio.to_thread(load_runtime, self.config_path)
            except ConfigError as exc:
                for problem in exc.problems:
                    event(log, "reload.refused", logging.ERROR, reason=reason, problem=problem)
                self.metrics.reloads.labels("refused").inc()
                notify("READY=1", "STATUS=reload refused; old config in force")
                return False
            old = self.runtime
            if new.config.storage_url() != old.config.storage_url():
                event(log, "reload.storage_unchanged", logging.WARNING,
                      note="storage.url changes take effect on restart")
            if new.config.settings.metrics != old.config.settings.metrics:
                event(log, "reload.metrics_unchanged", logging.WARNING,
                      note="metrics.listen changes take effect on restart")
            assert self.pipeline is not None and self.store is not None
            if new.config.settings.http != old.config.settings.http:
                old_fetcher = self.pipeline.fetcher
                self.pipeline.fetcher = Fetcher(new.config.settings.http)
                asyncio.get_running_loop().call_later(
                    120, lambda: asyncio.ensure_future(old_fetcher.aclose()))
            self.runtime = new
            self.pipeline.runtime = new
            await asyncio.to_thread(self.store.sync_feeds, feed_configs(new))
            self.metrics.reloads.labels("done").inc()
            event(log, "reload.done", reason=reason, feeds=len(new.config.settings.feeds),
                  topics=len(new.rules.topics), rules_version=new.rules.version)
            notify("READY=1", f"STATUS=polling {len(new.feeds)} feeds")
            return True

    def _file_states(self) -> dict[Path, tuple[int, int] | None]:
        """Modification time and size of each watched file (None when it is missing)."""
        states: dict[Path, tuple[int, int] | None] = {}
        for path in {*self.runtime.watched_files(), self.config_path}:
            try:
                st = path.stat()
                states[path] = (st.st_mtime_ns, st.st_size)
            except OSError:
                states[path] = None
        return states

    async def _watch_files(self) -> None:
        """Reload when a rules or site-profile file changes on disk (editors save often: debounce)."""
        from watchfiles import awatch

        while not self._stopping.is_set():
            paths = {p.parent for p in self.runtime.watched_files() if p.parent.exists()}
            paths.add(self.config_path.parent)
            watched = {p.resolve() for p in self.runtime.watched_files()} | {self.config_path.resolve()}
            live = False
            try:
                # yield_on_timeout: the first (possibly empty) batch says the watcher is set up,
                # which is when edits made while it was starting can be looked for.
                async for changes in awatch(*paths, debounce=500, stop_event=self._stopping,
                                            recursive=False, rust_timeout=1000,
                                            yield_on_timeout=True):
                    touched = {Path(p).resolve() for _, p in changes}
                    missed = not live and self._file_states() != self._files_seen
                    live = True
                    if missed or touched & watched or any(p.suffix == ".toml" for p in touched):
                        await self.reload("file changed")
                        self._files_seen = self._file_states()
                        break  # the set of rules files may have changed: watch anew
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                event(log, "watch.failed", logging.WARNING, error=str(exc))
                await asyncio.sleep(30)
