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

__all__ = ["Policy", "failure_weight", "next_after_failure", "next_after_success"]


@dataclass(frozen=True, slots=True)
class Policy:
    default_interval: float
    min_interval: float
    max_interval: float
    jitter: float = 0.1


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
) -> datetime:
    """A healthy feed's next poll.

    A feed's own `interval` is the user's word and is kept (hints may only
    lengthen it, up to `max_interval`). Without one, a feed that publishes
    rarely is polled at half its median publishing gap, between the default
    interval and `max_interval`, and never more often than `min_interval`.
    """
    base = configured if configured is not None else policy.default_interval
    if configured is None:
        gap = publish_gap(published)
        if gap is not None:
            base = min(max(base, gap / 2), policy.max_interval)
    hinted = max(
        min(ttl or 0.0, policy.max_interval),
        min(max_age or 0.0, policy.max_interval),
        min(retry_after or 0.0, policy.max_interval),
    )
    seconds = max(base, hinted)
    if configured is None:  # only a feed's own `interval` may go below the floor
        seconds = max(seconds, policy.min_interval)
    return now + timedelta(seconds=_jittered(seconds, policy.jitter, rng))


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
) -> datetime:
    """A failing feed's next poll: exponential back-off with jitter, capped at `max_interval`, never off.

    `failures` counts consecutive failures including this one; `weight` scales
    how fast the back-off grows, so a timeout slows a feed less than a 404.
    """
    base = configured if configured is not None else policy.default_interval
    exponent = min(max(failures - 1, 0) * (0.5 + weight), 16)
    seconds = min(base * (2 ** exponent), max(policy.max_interval, base))
    if retry_after:
        seconds = max(seconds, min(retry_after, 24 * 3600.0))
    return now + timedelta(seconds=_jittered(seconds, 0.2, rng))
