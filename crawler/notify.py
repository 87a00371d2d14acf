"""Tell people about flagged articles through apprise URLs, immediately or as a digest.

Polling must never wait for a notifier: `on_flagged` only puts a message on a
queue, and a background task sends it, retrying a failing service with
exponential back-off. Delivery is recorded per match (`notified_at`), and on
start the daemon re-queues the recent matches never delivered, so an outage or
a restart loses no alarm. Notifier URLs carry passwords and tokens, so they
are redacted in every log line.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from storage import NewArticle, Store

from .logs import event, redact
from .models import Match
from .runtime import Runtime

__all__ = ["Message", "Notifier", "make_notifier", "safe_target", "send_apprise"]

log = logging.getLogger("newswatch.notify")
logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it may log URLs with secrets

QUEUE_SIZE = 1000


@dataclass(slots=True)
class Message:
    urls: tuple[str, ...]
    title: str
    body: str
    attempt: int = 0
    keys: list[tuple[int, str]] = field(default_factory=list)
    """The (article id, topic id) matches this message delivers."""


def safe_target(url: str) -> str:
    """How a notifier URL may appear in a log line.

    Apprise URLs carry tokens in the path too (`tgram://BOT_TOKEN/CHAT`), which
    `redact` cannot know about; apprise's own privacy rendering masks them per
    service. Anything apprise cannot parse is shown as its scheme only.
    """
    import apprise

    try:
        plugin = apprise.Apprise.instantiate(url)
    except Exception:  # any parse failure: show nothing but the scheme
        plugin = None
    if plugin is None:
        return url.split("://", 1)[0] + "://***" if "://" in url else "***"
    return redact(str(plugin.url(privacy=True)).split("?", 1)[0])


def send_apprise(urls: tuple[str, ...], title: str, body: str) -> bool:
    """Send one message to every URL; True when all of them accepted it."""
    import apprise

    ap = apprise.Apprise()
    for url in urls:
        if not ap.add(url):
            raise ValueError(f"not a valid notifier URL: {safe_target(url)}")
    return bool(ap.notify(title=title, body=body))


def _line(title: str, where: str, terms: list[str], link: str) -> str:
    return f"{title}\n{where} · {', '.join(dict.fromkeys(terms))}\n{link}"


class Notifier:
    """Queues notifications per topic settings and sends them in the background."""

    def __init__(self, runtime: Callable[[], Runtime], *, store: Store | None = None,
                 sender: Callable[[tuple[str, ...], str, str], bool] = send_apprise,
                 base_delay: float = 5.0) -> None:
        self._runtime = runtime
        self.store = store
        """Where deliveries are recorded; the daemon sets it once the database is open."""
        self._send = sender
        self._base_delay = base_delay
        self._queue: asyncio.Queue[Message] | None = None
        self._digest: dict[tuple[str, ...], list[tuple[str, tuple[int, str]]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        """Messages a notifier accepted (the daemon's `/metrics` counts deliveries from these)."""
        self.failed = 0
        """Messages given up on after `max_retries`."""
        self.retried = 0
        self.dropped = 0
        """Messages pushed out of a full queue by newer ones."""

    def _targets(self, topic_id: str) -> tuple[tuple[str, ...], str]:
        rt = self._runtime()
        defaults = rt.config.settings.notify
        topic = next((t for t in rt.rules.topics if t.id == topic_id), None)
        urls = tuple(topic.notify_urls if topic and topic.notify_urls else defaults.urls)
        mode = (topic.notify_mode if topic and topic.notify_mode else None) or defaults.mode
        return urls, mode

    def _start(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_SIZE)
            self._tasks.append(asyncio.create_task(self._worker(), name="notify-worker"))
            self._tasks.append(asyncio.create_task(self._digester(), name="notify-digest"))

    async def on_flagged(self, article_id: int, article: NewArticle, matches: list[Match]) -> None:
        """Called by the pipeline for each newly flagged article; returns at once."""
        where = article.source or article.feed_name or ""
        for m in matches:
            self._queue_match(article_id, m.topic_id, article.title, where, m.matched_terms, article.link)

    def _queue_match(self, article_id: int, topic_id: str, title: str, where: str,
                     terms: list[str], original: str) -> None:
        urls, mode = self._targets(topic_id)
        if not urls or mode == "off":
            return
        self._start()
        base = self._runtime().config.settings.review.base_url
        link = f"{base.rstrip('/')}/articles/{article_id}" if base else original
        text = _line(title, where, terms, link)
        key = (article_id, topic_id)
        if mode == "digest":
            self._digest.setdefault(urls, []).append((f"[{topic_id}] {text}", key))
            return
        self._put(Message(urls=urls, title=f"newswatch · {topic_id}: {title}"[:250], body=text, keys=[key]))

    async def resume(self, *, window: float = 86400.0) -> int:
        """Re-queue matches of the last `window` seconds never delivered (after a stop or an outage)."""
        if self.store is None:
            return 0
        since = datetime.now(UTC) - timedelta(seconds=window)
        pending = await asyncio.to_thread(self.store.pending_notifications, since)
        for p in pending:
            self._queue_match(p.article_id, p.topic_id, p.title, p.source, p.matched_terms, p.link)
        if pending:
            event(log, "notify.resumed", matches=len(pending))
        return len(pending)

    def _put(self, msg: Message) -> None:
        assert self._queue is not None
        if self._queue.full():  # a dead notifier must not grow memory without bound
            dropped = self._queue.get_nowait()
            self.dropped += 1
            event(log, "notify.dropped", logging.WARNING, title=dropped.title)
        self._queue.put_nowait(msg)

    async def _worker(self) -> None:
        assert self._queue is not None
        while True:
            msg = await self._queue.get()
            try:
                ok = await asyncio.to_thread(self._send, msg.urls, msg.title, msg.body)
                error = None if ok else "the service refused the message"
            except Exception as exc:
                ok, error = False, redact(str(exc))
            targets = ",".join(safe_target(u) for u in msg.urls)
            if ok:
                self.sent += 1
                event(log, "notify.sent", to=targets, title=msg.title)
                if self.store is not None and msg.keys:
                    try:
                        await asyncio.to_thread(self.store.mark_notified, msg.keys)
                    except Exception as exc:  # the database may be briefly away: resent on restart
                        event(log, "notify.unrecorded", logging.WARNING, error=str(exc))
                continue
            retries = self._runtime().config.settings.notify.max_retries
            if msg.attempt >= retries:
                self.failed += 1
                event(log, "notify.gave_up", logging.ERROR, to=targets, attempts=msg.attempt + 1, error=error)
                continue
            delay = min(self._base_delay * 2 ** msg.attempt, 3600) * random.uniform(0.8, 1.2)
            event(log, "notify.retry", logging.WARNING, to=targets, attempt=msg.attempt + 1,
                  in_seconds=round(delay, 1), error=error)
            msg.attempt += 1
            self.retried += 1
            asyncio.get_running_loop().call_later(delay, self._put, msg)

    @property
    def queued(self) -> int:
        """Messages waiting to be sent now (retries waiting out their back-off are not counted)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def _digester(self) -> None:
        while True:
            await asyncio.sleep(self._runtime().config.settings.notify.digest_interval)
            self.flush_digest()

    def flush_digest(self) -> int:
        """Queue one message per notifier with everything collected since the last digest."""
        pending, self._digest = self._digest, {}
        for urls, items in pending.items():
            when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            self._put(Message(urls=urls, title=f"newswatch digest: {len(items)} flagged ({when})",
                              body="\n\n".join(line for line, _ in items), keys=[k for _, k in items]))
        return len(pending)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()


def make_notifier(runtime: Callable[[], Runtime], store: Store | None = None) -> Notifier:
    return Notifier(runtime, store=store)
