"""The flow of one feed: poll → new entries → scrape page → match → store.

Grouping flagged articles into stories happens after the polls, in batches (`daemon.py`),
since each grouping pass loads every stored signature.

This is the only module that knows the order of the stages; each stage knows
nothing of the others. One `poll_feed` call never raises for bad input: a bad
feed or page becomes a logged, counted error in the returned outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from storage import FeedState, NewArticle, PollOutcome, Store

from .extract import SiteProfiles
from .feeds import FeedError, ParsedFeed, parse_feed
from .fetch import Fetcher, FetchError
from .logs import event
from .models import Article, Document, FeedEntry, Match, document_of
from .rules import RuleSet
from .rules.engine import NearMiss, near_miss
from .rules.index import FIELDS, DocIndex
from .rules.nodes import And, AtLeast, Named, Near, Node, Or
from .runtime import Runtime
from .schedule import Policy, failure_weight, next_after_failure, next_after_success
from .scrape import PAGE_ACCEPT, read_page
from .settings import FeedSettings

__all__ = ["FEED_ACCEPT", "FeedReport", "Fetched", "Pipeline", "Workers", "feed_text", "judge_entry", "near_misses_of",
           "page_is_thinner"]

log = logging.getLogger("newswatch.pipeline")

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
"""What a feed poll asks for (`feeds test` asks the same, so it sees what the daemon sees)."""

INLINE_BYTES = 64 * 1024
"""Pages up to this size are judged on the event loop when there is no worker (see `Pipeline.judge`)."""

OnFlagged = Callable[[int, NewArticle, list[Match]], Awaitable[None]]


@dataclass(slots=True)
class FeedReport:
    """What one poll of one feed did (for `poll --once` and the logs)."""

    feed: str
    ok: bool
    status: int | None = None
    error: str | None = None
    not_modified: bool = False
    entries: int = 0
    new_articles: int = 0
    flagged: int = 0
    page_errors: int = 0
    duration: float = 0.0
    flagged_ids: list[int] = field(default_factory=list)
    held_by: str | None = None
    """Not polled: another instance holds this feed's lease (its owner id)."""
    held_until: datetime | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def feed_text(entry: FeedEntry) -> str:
    """The best text the feed itself gives: its full content when it has one, else the summary."""
    content, summary = entry.content.strip(), entry.summary.strip()
    return content if len(content) > len(summary) else summary


def page_is_thinner(page_text: str, feed_text: str) -> bool:
    """Whether extraction got much less than the feed carries (a consent wall, a script-built page).

    Feed summaries are normally teasers far shorter than the page; a page text under
    half the feed's own words means the page was not really read.
    """
    page_words, feed_words = len(page_text.split()), len(feed_text.split())
    return feed_words >= 80 and page_words < feed_words / 2


class Pipeline:
    """Polls feeds and processes their new entries with one shared fetcher and store."""

    def __init__(self, store: Store, fetcher: Fetcher, runtime: Runtime,
                 on_flagged: OnFlagged | None = None, *, worker: bool = False,
                 worker_after: int = 0) -> None:
        """`worker`: extract and match in a worker process (the daemon, on a machine of several cores),
        once `worker_after` pages have come within `Workers.WINDOW` seconds."""
        self.store = store
        self._workers = Workers(start_after=worker_after) if worker else None
        self.fetcher = fetcher
        self.runtime = runtime
        self.on_flagged = on_flagged
        self._in_flight: set[str] = set()
        """Canonical URLs being processed now, so two feeds carrying one story fetch it once."""
        self._feeds: dict[str, FeedSettings] = {}
        self._feeds_for: Runtime | None = None
        self._writer = _Writer(store)

    # A reload swaps `runtime`; a poll already running may use the new rules for the entries it
    # has not reached yet, which is what the user asked for by reloading.

    def _settings_of(self, feed: FeedState) -> FeedSettings:
        """The feed's config, from a name index built once per runtime (not once per poll)."""
        if self._feeds_for is not self.runtime:
            self._feeds, self._feeds_for = self.runtime.feeds, self.runtime
        return self._feeds.get(feed.name) or FeedSettings(name=feed.name, url=feed.url)

    def _policy(self) -> Policy:
        s = self.runtime.config.settings.schedule
        return Policy(default_interval=s.interval, min_interval=s.min_interval, max_interval=s.max_interval)

    async def poll_feed(self, feed: FeedState) -> FeedReport:
        """Poll one claimed feed, process its new entries, and record the outcome."""
        started = time.monotonic()
        now = _utcnow()
        cfg = self._settings_of(feed)
        report = FeedReport(feed=feed.name, ok=False)
        policy = self._policy()
        try:
            result = await self.fetcher.fetch(
                feed.url,
                etag=None if cfg.ignore_http_cache else feed.etag,
                last_modified=None if cfg.ignore_http_cache else feed.last_modified,
                accept=FEED_ACCEPT,
            )
        except FetchError as exc:
            return await self._failed(feed, cfg, report, now, started, policy, exc.kind, exc.status,
                                      str(exc), exc.retry_after, permanent=exc.permanent)

        report.status = result.status
        if result.not_modified:
            report.ok = report.not_modified = True
            nxt = next_after_success(now, policy, configured=cfg.interval, ttl=feed.ttl,
                                     max_age=result.max_age, retry_after=result.retry_after)
            return await self._record(feed, report, started, PollOutcome(
                ok=True, not_modified=True, status=result.status, polled_at=now, next_poll_at=nxt.at,
                next_poll_reason=nxt.reason))

        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == feed.body_hash and not cfg.ignore_http_cache:
            # the server ignored our validators but sent the same bytes: nothing new
            report.ok = report.not_modified = True
            nxt = next_after_success(now, policy, configured=cfg.interval, ttl=feed.ttl,
                                     max_age=result.max_age)
            return await self._record(feed, report, started, PollOutcome(
                ok=True, not_modified=True, status=result.status, polled_at=now, next_poll_at=nxt.at,
                next_poll_reason=nxt.reason, etag=result.etag, last_modified=result.last_modified,
                body_hash=body_hash, keep_validators=False, ttl=feed.ttl))

        try:
            parsed = await asyncio.to_thread(
                parse_feed, result.body, feed_name=feed.name, feed_url=result.url,
                source=cfg.source or feed.source, content_type=result.content_type)
        except FeedError as exc:
            return await self._failed(feed, cfg, report, now, started, policy, "not_a_feed",
                                      result.status, f"not a feed: {exc}", None)

        report.entries = len(parsed.entries)
        await self._process_entries(cfg, parsed, report)
        report.ok = True
        nxt = next_after_success(now, policy, configured=cfg.interval, ttl=parsed.ttl,
                                 max_age=result.max_age,
                                 published=[e.published for e in parsed.entries if e.published])
        return await self._record(feed, report, started, PollOutcome(
            ok=True, status=result.status, polled_at=now, next_poll_at=nxt.at, next_poll_reason=nxt.reason,
            etag=result.etag,
            last_modified=result.last_modified, body_hash=body_hash, keep_validators=False, ttl=parsed.ttl,
            new_articles=report.new_articles, page_errors=report.page_errors))

    async def record_crash(self, feed: FeedState, exc: BaseException) -> FeedReport:
        """Count an unexpected error in a poll as that feed's failure: backed off, lease released."""
        cfg = self._settings_of(feed)
        return await self._failed(feed, cfg, FeedReport(feed=feed.name, ok=False), _utcnow(),
                                  time.monotonic(), self._policy(), "internal", None,
                                  f"internal error: {type(exc).__name__}: {exc}", None)

    async def _failed(self, feed: FeedState, cfg: FeedSettings, report: FeedReport, now: datetime,
                      started: float, policy: Policy, kind: str, status: int | None, message: str,
                      retry_after: float | None, *, permanent: bool = False) -> FeedReport:
        report.ok = False
        report.status = status
        report.error = message
        nxt = next_after_failure(now, policy, configured=cfg.interval,
                                 failures=feed.consecutive_failures + 1,
                                 weight=failure_weight(kind, status, permanent=permanent),
                                 retry_after=retry_after)
        return await self._record(feed, report, started, PollOutcome(
            ok=False, status=status, error=message, polled_at=now, next_poll_at=nxt.at,
            next_poll_reason=nxt.reason))

    async def _record(self, feed: FeedState, report: FeedReport, started: float,
                      outcome: PollOutcome) -> FeedReport:
        report.duration = outcome.duration = time.monotonic() - started
        await asyncio.to_thread(self.store.record_poll, feed.id, outcome)
        why = {"why": outcome.next_poll_reason} if outcome.next_poll_reason else {}
        if report.ok:
            event(log, "feed.polled", feed=feed.name, status=report.status,
                  not_modified=report.not_modified, entries=report.entries, new=report.new_articles,
                  flagged=report.flagged, page_errors=report.page_errors,
                  seconds=round(report.duration, 3), next=outcome.next_poll_at.isoformat(timespec="seconds"),
                  **why)
        else:
            event(log, "feed.failed", logging.WARNING, feed=feed.name, status=report.status,
                  error=report.error, failures=feed.consecutive_failures + 1,
                  next=outcome.next_poll_at.isoformat(timespec="seconds"), **why)
        return report

    async def _process_entries(self, cfg: FeedSettings, parsed: ParsedFeed, report: FeedReport) -> None:
        known = await asyncio.to_thread(self.store.known_urls, [e.url for e in parsed.entries])
        fresh = [e for e in parsed.entries if e.url not in known and e.url not in self._in_flight]
        if not fresh:
            return
        self._in_flight.update(e.url for e in fresh)
        limit = asyncio.Semaphore(self.runtime.config.settings.schedule.article_concurrency)

        async def one(entry: FeedEntry) -> None:
            try:
                async with limit:
                    await self.process_entry(cfg, entry, report)
            finally:
                self._in_flight.discard(entry.url)

        await asyncio.gather(*(one(e) for e in fresh))

    async def process_entry(self, cfg: FeedSettings, entry: FeedEntry, report: FeedReport) -> int | None:
        """Fetch, extract, match and store one new entry; returns the stored id (None if already stored)."""
        runtime = self.runtime
        fetched: Fetched | None = None
        fetch_error: str | None = None
        http_status: int | None = None
        if entry.opaque or not cfg.fetch_articles:
            fetch_error = "link is a redirect token" if entry.opaque else "article fetching is off for this feed"
        else:
            try:
                page = await self.fetcher.fetch(entry.link, accept=PAGE_ACCEPT)
                fetched = Fetched(page.body, page.url, page.content_type, page.status)
            except FetchError as exc:
                http_status = exc.status
                fetch_error = str(exc)
                report.page_errors += 1
                event(log, "page.failed", logging.WARNING, feed=cfg.name, url=entry.link, error=str(exc))

        # Extraction and matching are the CPU of a poll: in the worker process when there is
        # one (the second core), else on the loop or in a thread by the page's size (`judge`).
        new, found, misses = await self.judge(runtime, cfg, entry, fetched, fetch_error, http_status)
        article_id = await self._writer.add(new, found, misses, runtime.rules.version)
        if article_id is None:
            return None
        report.new_articles += 1
        if found:
            report.flagged += 1
            report.flagged_ids.append(article_id)
            event(log, "article.flagged", feed=cfg.name, id=article_id, title=new.title,
                  topics=",".join(m.topic_id for m in found), text_from=new.text_from)
            if self.on_flagged is not None:
                try:
                    await self.on_flagged(article_id, new, found)
                except Exception:  # a notifier must never break polling
                    log.exception("notify.failed", extra={"fields": {"id": article_id}})
        return article_id

    async def judge(self, runtime: Runtime, cfg: FeedSettings, entry: FeedEntry, fetched: Fetched | None,
                    fetch_error: str | None, http_status: int | None) -> Judged:
        """`judge_entry` in the worker process if this pipeline has one, else here or in a thread.

        Without a worker, a page of up to `INLINE_BYTES` is judged on the event loop: in a
        thread it holds the interpreter lock all the same, and each hand-over of the lock
        between the thread and the loop's I/O cost more than judging a typical page (a
        2,000-page `poll --once`: 33 s wall, 12.8 ms CPU a page in threads; 23 s, 11.2 ms
        here). A page that size blocks the loop for about 7 ms (20 ms at most over the
        extraction bench's pages); a larger one goes to a thread so the loop stays responsive.
        """
        if self._workers is not None and self._workers.wanted():
            pool = self._workers.pool_for(runtime)
            if pool is not None:
                self._workers.busy += 1
                try:
                    return await asyncio.get_running_loop().run_in_executor(
                        pool, _judge_in_worker, cfg, entry, fetched, fetch_error, http_status)
                except BrokenProcessPool as exc:  # killed or out of memory: this entry is done here
                    self._workers.broken(pool, exc)
                finally:
                    self._workers.busy -= 1
                    self._workers.last_used = time.monotonic()
        if fetched is None or len(fetched.body) <= INLINE_BYTES:
            return judge_entry(runtime.rules, runtime.profiles, cfg, entry, fetched, fetch_error, http_status)
        return await asyncio.to_thread(judge_entry, runtime.rules, runtime.profiles, cfg, entry, fetched,
                                       fetch_error, http_status)

    def stop_idle_worker(self, after: float) -> bool:
        """Stop the worker once it has had nothing to do for `after` seconds; True if it was stopped."""
        return self._workers is not None and self._workers.close_if_idle(after)

    async def aclose(self) -> None:
        """Stop the worker process, if one was started."""
        if self._workers is not None:
            await asyncio.to_thread(self._workers.close)


class _Writer:
    """Group commit: the articles judged while one write is under way are stored by the next, together.

    A poll of many feeds judges pages faster than one transaction per article stores them
    (each costs a commit, a connection checkout and a thread hop); here one transaction
    stores every article waiting, and one more their near misses. A light load waits for
    nothing: the first article is written at once, alone. Each caller still gets its own
    article's id only once it is committed, so a feed's poll is recorded after its
    articles, and an article that cannot be stored fails alone (the batch is retried one
    by one) without taking the others with it.
    """

    MAX_BATCH = 100

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: list[tuple[NewArticle, list[Match], list[NearMiss], str, asyncio.Future[int | None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, new: NewArticle, found: list[Match], misses: list[NearMiss],
                  rules_version: str) -> int | None:
        """Store one article with its matches and near misses; its id, or None if its URL is stored."""
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((new, found, misses, rules_version, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
            self._task.add_done_callback(self._drained)
        return await done

    def _drained(self, task: asyncio.Task[None]) -> None:
        """A writer cancelled (the loop closing), even before it began, leaves no caller waiting for ever."""
        if task.cancelled():
            for *_, done in self._waiting:
                done.cancel()
            self._waiting = []

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:self.MAX_BATCH], self._waiting[self.MAX_BATCH:]
            results: list[int | BaseException | None]
            try:
                results = list(await asyncio.to_thread(self._write, [(n, f, m, v) for n, f, m, v, _ in batch]))
            except Exception as exc:  # no thread to be had (the loop is closing): these fail, the rest is tried
                results = [exc] * len(batch)
            except BaseException:  # cancelled mid-write: so are its callers (`_drained` does the rest)
                for *_, done in batch:
                    done.cancel()
                raise
            for (*_, done), result in zip(batch, results, strict=True):
                if done.done():  # its caller was cancelled
                    continue
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

    def _write(self, batch: list[tuple[NewArticle, list[Match], list[NearMiss], str]]
               ) -> list[int | Exception | None]:
        results: list[int | Exception | None]
        try:
            results = list(self.store.add_articles([(new, found) for new, found, _, _ in batch]))
        except Exception:
            results = []
            for new, found, _, _ in batch:  # one bad article must not cost the others theirs
                try:
                    results.append(self.store.add_article(new, found))
                except Exception as exc:
                    results.append(exc)
        by_version: dict[str, list[tuple[int, list[NearMiss]]]] = {}
        for (_, _, misses, version), result in zip(batch, results, strict=True):
            if isinstance(result, int) and misses:
                by_version.setdefault(version, []).append((result, misses))
        for version, found_misses in by_version.items():
            try:  # a lost near miss costs the safety net one entry, never the article
                self.store.add_near_misses(found_misses, rules_version=version)
            except Exception:
                log.exception("near_misses.failed", extra={"fields": {"ids": [i for i, _ in found_misses]}})
        return results


@dataclass(slots=True)
class Fetched:
    """An article page as fetched: what extraction needs, small enough to send to a worker."""

    body: bytes
    url: str
    content_type: str | None
    status: int | None


Judged = tuple[NewArticle, list[Match], list[NearMiss]]


def judge_entry(rules: RuleSet, profiles: SiteProfiles, cfg: FeedSettings, entry: FeedEntry,
                fetched: Fetched | None, fetch_error: str | None, http_status: int | None) -> Judged:
    """Extract the page (or fall back to the feed's text), match it, and find its near misses.

    Pure CPU with no I/O, so the daemon can run it in another process.
    """
    article: Article | None = None
    profile_failed: str | None = None
    final_url = entry.url
    if fetched is not None:
        page = read_page(fetched.body, fetched.url, fetched.content_type, profiles, fetched.status)
        http_status, article, fetch_error = page.status, page.article, page.error
        profile_failed = page.profile_failed
        if article is not None:
            final_url = page.url
        if article is not None and fetch_error is None and page_is_thinner(article.text, feed_text(entry)):
            fetch_error = (f"the page gave {len(article.text.split())} words, "
                           "fewer than the feed's own text")
            article.text = ""
    use_page = article is not None and bool(article.text.strip())
    title = (article.title if article and article.title else "") or entry.title
    if use_page:
        assert article is not None
        text, method, text_from = article.text, article.method, "page"
    else:
        text, method, text_from = feed_text(entry), "feed", "feed"
    new = NewArticle(
        url=entry.url,
        link=entry.link if entry.opaque else final_url,
        title=title.strip(),
        text=text,
        summary=entry.summary,
        method=method,
        text_from=text_from,
        fetched_at=_utcnow(),
        feed_name=cfg.name,
        source=entry.source or cfg.source,
        published=(article.published if article and article.published else None) or entry.published,
        updated=article.updated if article else None,
        authors=(article.authors if article and article.authors else entry.authors),
        language=(article.language if article else None) or entry.language,
        description=article.description if article else None,
        fetch_error=None if use_page else fetch_error,
        http_status=http_status,
        profile_failed=profile_failed,
    )
    doc = document_of(new)
    found = rules.match(doc)
    return new, found, near_misses_of(rules, doc, {m.topic_id for m in found})


_WORKER: tuple[RuleSet, SiteProfiles] | None = None
"""In a worker process: the rules and site profiles it judges with."""


def _worker_start(rules: RuleSet, profiles: SiteProfiles, parent: int) -> None:
    """Set up a worker: keep what it judges with, leave Ctrl+C and SIGTERM to the daemon, die with it."""
    global _WORKER
    _WORKER = (rules, profiles)
    # Ctrl+C and systemd's stop reach the whole process group: the daemon stops its worker
    # once the polls in flight are done, so none loses its page and no traceback is printed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def orphaned() -> None:  # a SIGKILLed daemon cannot stop its worker: the worker notices
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=orphaned, name="watch-parent", daemon=True).start()


def _judge_in_worker(cfg: FeedSettings, entry: FeedEntry, fetched: Fetched | None,
                     fetch_error: str | None, http_status: int | None) -> Judged:
    assert _WORKER is not None, "worker started without rules"
    return judge_entry(*_WORKER, cfg, entry, fetched, fetch_error, http_status)


class Workers:
    """One worker process that extracts and matches pages, so polling uses a second core.

    A daemon's CPU goes mostly to extraction and matching, which hold the interpreter
    lock; in one process they share one core with the event loop. The worker holds the
    rules and site profiles of the runtime it was started for: a reload starts a new
    one (the old finishes what it was given). A worker that dies (killed, out of memory)
    is replaced a minute later; meanwhile pages are judged in the daemon's own threads.
    An idle daemon stops its worker (`close_if_idle`), so it costs memory only while busy.
    """

    RETRY = 60.0
    WINDOW = 30.0
    """Seconds over which pages are counted to decide whether a worker pays for itself."""

    def __init__(self, *, start_after: int = 0) -> None:
        self.start_after = start_after
        """Pages within `WINDOW` seconds before a worker is started: a light load stays in threads,
        so a daemon with a few feeds never pays for a second interpreter (and multiprocessing's
        resource tracker, which stays once started)."""
        self._recent: deque[float] = deque()
        self._pool: ProcessPoolExecutor | None = None
        self._for: Runtime | None = None
        self._retry_at = 0.0
        self.busy = 0
        """Pages being judged by the worker now."""
        self.last_used = time.monotonic()

    def wanted(self) -> bool:
        """Count this page; True while a worker runs or once the load has earned one."""
        if self._pool is not None or not self.start_after:
            return True
        now = time.monotonic()
        self._recent.append(now)
        while self._recent and self._recent[0] < now - self.WINDOW:
            self._recent.popleft()
        if len(self._recent) < self.start_after:
            return False
        self._recent.clear()
        return True

    def pool_for(self, runtime: Runtime) -> ProcessPoolExecutor | None:
        """The worker for `runtime` (started now if needed), or None while one cannot be had."""
        if self._pool is not None and self._for is runtime:
            return self._pool
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
        if time.monotonic() < self._retry_at:
            return None
        try:
            self._pool = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start,
                initargs=(runtime.rules, runtime.profiles, os.getpid()))
        except Exception as exc:  # no processes to be had: the threads do the work
            self.broken(None, exc)
            return None
        self._for = runtime
        return self._pool

    def broken(self, pool: ProcessPoolExecutor | None, exc: BaseException) -> None:
        if pool is not None and pool is not self._pool:
            return  # an old worker, already replaced
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        self._pool = None
        self._retry_at = time.monotonic() + self.RETRY
        event(log, "worker.failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}",
              retry_in=self.RETRY)

    def close_if_idle(self, after: float) -> bool:
        if self._pool is None or self.busy or time.monotonic() - self.last_used < after:
            return False
        self._pool.shutdown(wait=False)
        self._pool = self._for = None
        return True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def near_misses_of(rules: RuleSet, doc: Document, flagged: set[str]) -> list[NearMiss]:
    """The topics that did not flag `doc` but nearly did, each with the one clause it failed.

    Most articles are nowhere near a topic: `_NearMissCheck` rules those out from the words
    the document holds, before `near_miss` evaluates the whole clause tree (which cost more
    than matching itself). What it finds is exactly what `near_miss` alone would find.
    """
    unflagged = [t for t in rules.topics if t.id not in flagged]
    if not unflagged:
        return []
    check = _NearMissCheck.of(rules)
    words = _DocWords(DocIndex(doc, rules.vocab))
    found = (near_miss(rules, doc, t.id) for t in unflagged if check.possible(t.query.root, words))
    return [m for m in found if m is not None]


class _DocWords:
    """The words of a document over every field a query can read, and (when asked) its wildcards."""

    __slots__ = ("_ix", "_prefixes", "words")

    def __init__(self, ix: DocIndex) -> None:
        self._ix = ix
        self._prefixes: set[str] | None = None
        self.words: set[str] = set()
        for name in FIELDS:
            fi = ix.field(name)
            if fi is not None:
                self.words |= fi.present

    @property
    def prefixes(self) -> set[str]:
        """The rule-set wildcards with an expansion in some field (found only when a clause has one)."""
        if self._prefixes is None:
            self._prefixes = set()
            for name in FIELDS:
                fi = self._ix.field(name)
                if fi is not None:
                    self._prefixes.update(fi.matched_prefixes())
        return self._prefixes


class _NearMissCheck:
    """A cheap test, from which words occur, that a topic cannot be a near miss of a document.

    `near_miss` needs a topic to fail by exactly one clause. A clause whose trigger words
    (`Node.triggers`, the words one of which it needs to hold, which the engine already
    relies on to skip topics when matching) are all absent cannot hold; two such conjuncts
    of an AND, or one side of a NEAR, mean more than one clause fails. The test only ever
    answers "cannot" when `_shortfall` would answer None, so the results stay identical.
    One check per rule set keeps the trigger sets of the clauses it has reached.
    """

    _BY_RULES: ClassVar[weakref.WeakKeyDictionary[RuleSet, _NearMissCheck]] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self._triggers: dict[int, tuple[frozenset[str], frozenset[str]] | None] = {}

    @classmethod
    def of(cls, rules: RuleSet) -> _NearMissCheck:
        check = cls._BY_RULES.get(rules)
        if check is None:
            check = cls._BY_RULES[rules] = cls()
        return check

    def _trigger_sets(self, node: Node) -> tuple[frozenset[str], frozenset[str]] | None:
        """(words, wildcards) one of which `node` needs to hold, or None; asked once per node.

        Only the clauses a check reaches are asked (the top ones, mostly): building the sets
        of every clause of the default topic up front cost five times as much.
        """
        key = id(node)  # the rule set keeps its nodes alive, and this check lives only as long as it
        if key not in self._triggers:
            trig = node.triggers()
            self._triggers[key] = None if trig is None else (
                frozenset(v for k, v in trig if k == "w"), frozenset(v for k, v in trig if k != "w"))
        return self._triggers[key]

    def cannot_hold(self, node: Node, doc: _DocWords) -> bool:
        """True only when `node` certainly does not hold on a document with these words."""
        trig = self._trigger_sets(node)
        if trig is not None:
            words, prefixes = trig
            if words.isdisjoint(doc.words) and (not prefixes or prefixes.isdisjoint(doc.prefixes)):
                return True
        if isinstance(node, And):
            return any(self.cannot_hold(c, doc) for c in node.children)
        if isinstance(node, Named):
            return self.cannot_hold(node.child, doc)
        if isinstance(node, Or) and trig is None:
            return all(self.cannot_hold(c, doc) for c in node.children)
        return False  # some trigger word occurs: it may hold

    def possible(self, node: Node, doc: _DocWords) -> bool:
        """False only when a failing `node` certainly fails by more than one clause (no near miss)."""
        if isinstance(node, And):
            failing = [c for c in node.children if self.cannot_hold(c, doc)]
            if len(failing) > 1:
                return False
            return self.possible(failing[0], doc) if failing else True
        if isinstance(node, AtLeast):
            could_hold = sum(1 for c in node.children if not self.cannot_hold(c, doc))
            return could_hold >= node.n - 1
        if isinstance(node, Near):
            return not (self.cannot_hold(node.left, doc) or self.cannot_hold(node.right, doc))
        if isinstance(node, Named):
            return self.possible(node.child, doc)
        if isinstance(node, Or) and not node.positional:
            return any(self.possible(c, doc) for c in node.children)
        return True
