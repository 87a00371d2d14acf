"""When to poll a feed next: the adaptive part of the poller, as pure functions.

The next due time lives in the database, so this policy is the whole of the
scheduling logic: it honours the feed's own hints (RSS `<ttl>`, Cache-Control
`max-age`, `Retry-After`), slows feeds that publish rarely, and backs a failing
feed off exponentially with jitter — slowed, never disabled.
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["NextPoll", "Policy", "failure_weight", "next_after_failure", "next_after_success"]


@dataclass(frozen=True, slots=True)
class Policy:
    default_interval: float
    min_interval: float
    max_interval: float
    jitter: float = 0.1


@dataclass(frozen=True, slots=True)
class NextPoll:
    """When a feed is polled next, and why later than its interval if a hint or back-off stretched it."""

    at: datetime
    reason: str | None = None
    """E.g. "RSS <ttl> 2h", "publishing gap: every 9h", "back-off after 3 failures"; None at the usual interval."""


def _about(seconds: float) -> str:
    """A rough, readable duration for a reason shown to people (`2h`, `45m`, `3d`)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size or (seconds >= size and (unit == "m" or seconds % size == 0)):
            return f"{round(seconds / size)}{unit}"
    return f"{round(seconds)}s"


def _jittered(seconds: float, jitter: float, rng: random.Random | None = None) -> float:
    r = (rng or random).uniform(1 - jitter, 1 + jitter)
    return seconds * r


def publish_gap(published: Sequence[datetime]) -> float | None:
    """Median seconds between a feed's entries, from their publication times (None if unknowable)."""
    times = sorted({p for p in published if p is not None}, reverse=True)[:20]
    if len(times) < 3:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(times)]
    gaps = [g for g in gaps if g > 0]
    return statistics.median(gaps) if gaps else None


def next_after_success(
    now: datetime,
    policy: Policy,
    *,
    configured: float | None,
    ttl: float | None = None,
    max_age: float | None = None,
    retry_after: float | None = None,
    published: Sequence[datetime] = (),
    rng: random.Random | None = None,
) -> NextPoll:
    """A healthy feed's next poll, with the hint that stretched it (if one did).

    A feed's own `interval` is the user's word and is kept (hints may only
    lengthen it, up to `max_interval`). Without one, a feed that publishes
    rarely is polled at half its median publishing gap, between the default
    interval and `max_interval`, and never more often than `min_interval`.
    """
    base = configured if configured is not None else policy.default_interval
    usual = base
    reason: str | None = None
    if configured is None:
        gap = publish_gap(published)
        if gap is not None:
            stretched = min(max(base, gap / 2), policy.max_interval)
            if stretched > base:
                reason = f"publishing gap: an entry every {_about(gap)}"
            base = stretched
    hinted, hint = 0.0, None
    for name, value in (("RSS <ttl>", ttl), ("Cache-Control max-age", max_age), ("Retry-After", retry_after)):
        if value and min(value, policy.max_interval) > hinted:
            hinted, hint = min(value, policy.max_interval), f"{name} {_about(value)}"
    seconds = max(base, hinted)
    if hint is not None and hinted > base:
        reason = hint
    if configured is None:  # only a feed's own `interval` may go below the floor
        seconds = max(seconds, policy.min_interval)
    if reason is not None and seconds >= policy.max_interval > usual:
        reason += f" (capped at max_interval {_about(policy.max_interval)})"
    return NextPoll(now + timedelta(seconds=_jittered(seconds, policy.jitter, rng)), reason)


def failure_weight(kind: str, status: int | None, *, permanent: bool = False) -> float:
    """How much one failure counts towards back-off: hard failures 1, soft 0.5, passing ones 0.25.

    Whether a fetch failure is hard is the fetcher's call (`FetchError.permanent`);
    a body that is not a feed at all counts as hard too.
    """
    if permanent or kind == "not_a_feed":
        return 1.0
    if kind in ("timeout", "connect") or status in (429, 502, 503, 504):
        return 0.25
    return 0.5


def next_after_failure(
    now: datetime,
    policy: Policy,
    *,
    configured: float | None,
    failures: int,
    weight: float = 0.5,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> NextPoll:
    """A failing feed's next poll: exponential back-off with jitter, capped at `max_interval`, never off.

    `failures` counts consecutive failures including this one; `weight` scales
    how fast the back-off grows, so a timeout slows a feed less than a 404.
    """
    base = configured if configured is not None else policy.default_interval
    exponent = min(max(failures - 1, 0) * (0.5 + weight), 16)
    seconds = min(base * (2 ** exponent), max(policy.max_interval, base))
    reason = f"back-off after {failures} failures in a row" if seconds > base else None
    if retry_after and min(retry_after, 24 * 3600.0) > seconds:
        seconds = min(retry_after, 24 * 3600.0)
        reason = f"Retry-After {_about(seconds)}"
    return NextPoll(now + timedelta(seconds=_jittered(seconds, 0.2, rng)), reason)
