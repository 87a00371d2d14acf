"""Notifications through real apprise `json://` URLs to the loopback test server.

What matters to a user: a flagged article reaches the service (at once, or in a
digest), a service that fails is retried with back-off until it accepts, secrets in
notifier URLs never reach a log line, and a slow or broken notifier never holds up
polling (`on_flagged` returns at once).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.logs import LogfmtFormatter
from crawler.models import Match
from crawler.notify import Notifier, safe_target
from crawler.runtime import Runtime, load_runtime
from storage import NewArticle
from tests.support.server import LoopbackServer, RecordedRequest, Response

ROOT = Path(__file__).resolve().parents[1]
SECRET = "hunter2-very-secret"


TOPIC = """\
id = "backchannel"
name = "Backchannel"
query = '(india OR delhi) AND (pakistan OR islamabad) AND (backchannel OR "secret talks")'
"""


def _runtime(tmp: Path, urls: list[str], *, mode: str = "immediate", retries: int = 5,
             topic_notify: str = "") -> Runtime:
    (tmp / "rules").mkdir(exist_ok=True)
    (tmp / "rules" / "t.toml").write_text(TOPIC + topic_notify, encoding="utf-8")
    cfg = tmp / "newswatch.toml"
    cfg.write_text(f"""
[rules]
files = ["rules/*.toml"]
[extract]
sites = {json.dumps(str(ROOT / 'config' / 'sites.toml'))}
[notify]
urls = {json.dumps(urls)}
mode = "{mode}"
digest_interval = "1h"
max_retries = {retries}
[review]
base_url = "http://review.example:8080"
""", encoding="utf-8")
    return load_runtime(cfg)


def _article(n: int = 1) -> NewArticle:
    return NewArticle(url=f"https://news.example/{n}", link=f"https://news.example/{n}?utm=x",
                      title=f"India and Pakistan held backchannel talks ({n})", text="…", method="generic",
                      text_from="page", fetched_at=datetime.now(UTC), source="Dawn")


def _match() -> Match:
    return Match("backchannel", 3.0, ["backchannel", "india"], {"hits": []}, "v1")


def _hook(server: LoopbackServer, path: str, statuses: list[int]) -> list[dict]:
    """Answer POSTs to `path` with the given statuses in turn (the last one repeats); collect bodies."""
    received: list[dict] = []

    def handle(req: RecordedRequest) -> Response:
        received.append(json.loads(req.body or b"{}"))
        status = statuses[min(len(received) - 1, len(statuses) - 1)]
        return Response(status=status, body=b"{}", headers={"Content-Type": "application/json"})

    server.handler(path, handle)
    return received


async def _until(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_immediate_notification_reaches_the_service(server: LoopbackServer, tmp_path: Path) -> None:
    received = _hook(server, "/hook", [200])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/hook"])
    notifier = Notifier(lambda: rt)
    await notifier.on_flagged(42, _article(), [_match()])
    await _until(lambda: notifier.sent == 1)
    await notifier.aclose()
    assert len(received) == 1
    msg = received[0]
    assert "India and Pakistan held backchannel talks (1)" in msg["title"]
    assert "http://review.example:8080/articles/42" in msg["message"]  # the review page, not just the outlet
    assert "backchannel, india" in msg["message"]


async def test_digest_collects_and_sends_one_message(server: LoopbackServer, tmp_path: Path) -> None:
    received = _hook(server, "/digest", [200])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/digest"], mode="digest")
    notifier = Notifier(lambda: rt)
    for n in (1, 2, 3):
        await notifier.on_flagged(n, _article(n), [_match()])
    await asyncio.sleep(0.2)
    assert received == []  # nothing until the digest is due
    assert notifier.flush_digest() == 1
    await _until(lambda: notifier.sent == 1)
    await notifier.aclose()
    assert len(received) == 1
    assert "3 flagged" in received[0]["title"]
    for n in (1, 2, 3):
        assert f"talks ({n})" in received[0]["message"]


async def test_failing_service_is_retried_with_backoff_then_succeeds(server: LoopbackServer, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    received = _hook(server, "/flaky", [500, 500, 200])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/flaky"])
    notifier = Notifier(lambda: rt, base_delay=0.1)
    caplog.set_level(logging.INFO, logger="newswatch.notify")
    await notifier.on_flagged(7, _article(), [_match()])
    await _until(lambda: notifier.sent == 1)
    await notifier.aclose()
    assert len(received) == 3 and notifier.failed == 0 and notifier.retried == 2
    times = [r.time for r in server.requests_for("/flaky")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.07 and gaps[1] >= 0.14  # ~0.1 s then ~0.2 s (±20 % jitter): exponential
    events = [r.getMessage() for r in caplog.records]
    assert events.count("notify.retry") == 2 and events[-1] == "notify.sent"


async def test_gives_up_after_max_retries(server: LoopbackServer, tmp_path: Path) -> None:
    received = _hook(server, "/down", [500])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/down"], retries=2)
    notifier = Notifier(lambda: rt, base_delay=0.05)
    await notifier.on_flagged(1, _article(), [_match()])
    await _until(lambda: notifier.failed == 1)
    await notifier.aclose()
    assert len(received) == 3 and notifier.sent == 0 and notifier.retried == 2


async def test_secrets_never_reach_the_logs(server: LoopbackServer, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    _hook(server, "/secret", [500, 200])
    _hook(server, "/secret2", [200])
    url = f"json://alice:{SECRET}@127.0.0.1:{server.port}/secret?token={SECRET}"
    rt = _runtime(tmp_path, [url, f"json://127.0.0.1:{server.port}/secret2?password={SECRET}"])
    notifier = Notifier(lambda: rt, base_delay=0.05)
    caplog.set_level(logging.DEBUG)
    await notifier.on_flagged(1, _article(), [_match()])
    await _until(lambda: notifier.sent == 1)
    # and a URL apprise rejects outright, whose error message quotes it
    bad = _runtime(tmp_path, [f"nosuchscheme://bob:{SECRET}@example.org/{SECRET}"], retries=0)
    failing = Notifier(lambda: bad, base_delay=0.01)
    await failing.on_flagged(2, _article(2), [_match()])
    await _until(lambda: failing.failed == 1)
    await notifier.aclose()
    await failing.aclose()
    fmt = LogfmtFormatter()
    lines = [fmt.format(r) for r in caplog.records]
    assert any("notify.retry" in line for line in lines) and any("notify.gave_up" in line for line in lines)
    assert not [line for line in lines if SECRET in line], lines
    assert server.requests_for("/secret")[0].headers.get("authorization")  # the password was still sent


async def test_a_failing_notifier_never_blocks_on_flagged(server: LoopbackServer, tmp_path: Path) -> None:
    # a service that takes 3 s to answer, and a sender that hangs or raises
    server.route("/slow", b"{}", content_type="application/json", delay=3.0)
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/slow"])
    notifiers = [Notifier(lambda: rt)]

    def hang(urls: tuple[str, ...], title: str, body: str) -> bool:
        time.sleep(3)
        return False

    def boom(urls: tuple[str, ...], title: str, body: str) -> bool:
        raise RuntimeError("service exploded")

    notifiers += [Notifier(lambda: rt, sender=hang), Notifier(lambda: rt, sender=boom, base_delay=0.01)]
    for notifier in notifiers:
        started = time.monotonic()
        for n in range(50):
            await notifier.on_flagged(n, _article(n), [_match()])
        # a sender that blocked the caller would take 3 s for the first alarm alone; the
        # bound leaves room for a loaded machine
        assert time.monotonic() - started < 1.5
    # the event loop stays free for polling while the senders struggle in their threads
    started = time.monotonic()
    await asyncio.sleep(0.05)
    assert time.monotonic() - started < 0.5
    for notifier in notifiers:
        await notifier.aclose()


async def test_mode_off_and_no_urls_send_nothing(server: LoopbackServer, tmp_path: Path) -> None:
    received = _hook(server, "/off", [200])
    for rt in (_runtime(tmp_path, [f"json://127.0.0.1:{server.port}/off"], mode="off"), _runtime(tmp_path, [])):
        notifier = Notifier(lambda rt=rt: rt)
        await notifier.on_flagged(1, _article(), [_match()])
        await asyncio.sleep(0.1)
        assert notifier.sent == 0 and notifier._queue is None
        await notifier.aclose()
    assert received == []


def test_safe_target_masks_path_tokens() -> None:
    for url in (f"tgram://123456789:{SECRET}/987654", f"discord://4174216298/{SECRET}",
                f"json://alice:{SECRET}@127.0.0.1:8000/hook?token={SECRET}", f"bogus://{SECRET}/x"):
        shown = safe_target(url)
        assert SECRET not in shown and "://" in shown, shown


async def test_a_topic_can_choose_its_own_mode(server: LoopbackServer, tmp_path: Path) -> None:
    received = _hook(server, "/topic", [200])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/topic"], mode="immediate",
                  topic_notify='[notify]\nmode = "digest"\n')
    notifier = Notifier(lambda: rt)
    await notifier.on_flagged(1, _article(), [_match()])
    await asyncio.sleep(0.2)
    assert received == []
    notifier.flush_digest()
    await _until(lambda: notifier.sent == 1)
    await notifier.aclose()


async def test_deliveries_are_recorded_and_undelivered_ones_resent_after_a_restart(
        server: LoopbackServer, tmp_path: Path) -> None:
    """A notifier down when an article is flagged gets it on the next start; a delivered one is not resent."""
    from datetime import UTC, datetime

    from storage import Store

    received = _hook(server, "/hook", [500] * 50)
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/hook"], retries=0)
    store = Store.open(f"sqlite:///{tmp_path / 'n.db'}")
    first = _article(1)
    first.fetched_at = datetime.now(UTC)
    aid = store.add_article(first, [_match()])
    down = Notifier(lambda: rt, store=store, base_delay=0.05)
    await down.on_flagged(aid, first, [_match()])
    await _until(lambda: down.failed == 1)
    await down.aclose()
    assert [p.article_id for p in store.pending_notifications(datetime(2000, 1, 1, tzinfo=UTC))] == [aid]

    received.clear()
    server.remove("/hook")
    _hook(server, "/hook", [200] * 50)
    restarted = Notifier(lambda: rt, store=store, base_delay=0.05)
    assert await restarted.resume() == 1
    await _until(lambda: restarted.sent == 1)
    await _until(lambda: not store.pending_notifications(datetime(2000, 1, 1, tzinfo=UTC)))
    again = Notifier(lambda: rt, store=store)
    assert await again.resume() == 0  # delivered: never twice
    await restarted.aclose()
    await again.aclose()
    store.close()


async def test_a_full_queue_drops_the_oldest_and_counts_it(server: LoopbackServer, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import crawler.notify

    received = _hook(server, "/hook", [200])
    rt = _runtime(tmp_path, [f"json://127.0.0.1:{server.port}/hook"])
    monkeypatch.setattr(crawler.notify, "QUEUE_SIZE", 2)
    notifier = Notifier(lambda: rt)
    for n in range(1, 6):  # queued before the sender gets a turn: three push older ones out
        await notifier.on_flagged(n, _article(n), [_match()])
    assert notifier.dropped == 3 and notifier.queued == 2
    await _until(lambda: notifier.sent == 2)
    await notifier.aclose()
    assert [m["title"][-3:] for m in received] == ["(4)", "(5)"] and notifier.queued == 0
