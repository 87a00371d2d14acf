"""Daemon internals that end-to-end tests cannot reach: an unexpected error inside one poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from crawler.daemon import Daemon, backed_off, feed_configs
from crawler.fetch import Fetcher
from crawler.pipeline import Pipeline
from crawler.runtime import load_runtime
from storage import FeedState, Store
from tests.e2e.helpers import write_config


async def test_a_crashing_poll_backs_off_its_feed_and_keeps_other_leases(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [{"name": "bad", "url": "http://127.0.0.1:9/bad.xml"},
                                  {"name": "busy", "url": "http://127.0.0.1:9/busy.xml"}])
    runtime = load_runtime(cfg)
    store = Store.open(runtime.config.storage_url())
    store.sync_feeds(feed_configs(runtime))
    daemon = Daemon(runtime, watch_files=False)
    daemon.store = store
    claimed = {f.name: f for f in store.claim_due_feeds(daemon.owner, limit=2, lease=300)}

    class Broken(Pipeline):
        async def poll_feed(self, feed):  # type: ignore[no-untyped-def]
            raise RuntimeError("a bug")

    async with Fetcher(runtime.config.settings.http) as fetcher:
        daemon.pipeline = Broken(store, fetcher, runtime)
        await daemon._poll(claimed["bad"])

    bad, busy = store.get_feed("bad"), store.get_feed("busy")
    assert bad.consecutive_failures == 1 and "internal error: RuntimeError: a bug" in bad.last_error
    assert bad.lease_owner is None and bad.next_poll_at > datetime.now(UTC)  # backed off, not re-polled at once
    assert busy.lease_owner == daemon.owner  # another poll in flight keeps its lease
    store.close()


def _state(name: str, *, failures: int, next_in: float, polled_ago: float | None,
           enabled: bool = True) -> FeedState:
    now = datetime.now(UTC)
    return FeedState(id=1, name=name, url=f"http://news.example/{name}", source=None, enabled=enabled,
                     interval=None, etag=None, last_modified=None, body_hash=None,
                     next_poll_at=now + timedelta(seconds=next_in), consecutive_failures=failures,
                     last_poll_at=None if polled_ago is None else now - timedelta(seconds=polled_ago))


def test_backed_off_feeds_are_polled_on_start_unless_just_tried() -> None:
    feeds = [
        _state("later", failures=3, next_in=7200, polled_ago=600),
        _state("sooner", failures=1, next_in=1800, polled_ago=600),
        _state("healthy", failures=0, next_in=1800, polled_ago=600),
        _state("due", failures=2, next_in=2, polled_ago=600),  # the normal claim takes it
        _state("just-tried", failures=2, next_in=7200, polled_ago=10),  # by another instance, say
        _state("off", failures=2, next_in=7200, polled_ago=600, enabled=False),
    ]
    names = backed_off(feeds, now=datetime.now(UTC), spread=5, min_interval=60)
    assert names == ["sooner", "later"]


def test_healthz_reports_a_stalled_scheduler_and_a_stop(tmp_path: Path) -> None:
    import time

    runtime = load_runtime(write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/a.xml"}]))
    daemon = Daemon(runtime, watch_files=False)
    daemon.store = store = Store.open(runtime.config.storage_url())
    try:
        healthy, details = daemon._healthz()
        assert healthy and details["database"] == "ok" and details["scheduler"] == "ticking"
        daemon.metrics.last_tick = time.time() - 61  # no tick for a minute: the loop is stuck
        healthy, details = daemon._healthz()
        assert not healthy and details["scheduler"] == "stalled"
        daemon.metrics.tick()
        daemon.stop()
        healthy, details = daemon._healthz()
        assert not healthy and details["stopping"] is True
    finally:
        store.close()
    daemon.store = None  # the database gone
    assert daemon._healthz()[1]["database"] == "unavailable"


async def test_an_edit_made_while_the_watcher_starts_still_reloads(tmp_path: Path) -> None:
    """A rules file saved between reading the runtime and the watcher going live is not missed."""
    import asyncio

    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/a.xml"}])
    runtime = load_runtime(cfg)
    daemon = Daemon(runtime)
    daemon._files_seen = daemon._file_states()  # as `run` does before announcing start
    rules = runtime.config.rule_files()[0]
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    reasons: list[str] = []

    async def reload(reason: str) -> bool:
        reasons.append(reason)
        daemon._stopping.set()
        return True

    daemon.reload = reload  # type: ignore[method-assign]
    await asyncio.wait_for(daemon._watch_files(), timeout=10)
    assert reasons == ["file changed"]
