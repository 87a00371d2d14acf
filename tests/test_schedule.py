import random
from datetime import UTC, datetime, timedelta

from crawler.schedule import (
    NextPoll,
    Policy,
    failure_weight,
    next_after_failure,
    next_after_success,
    publish_gap,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
P = Policy(default_interval=600, min_interval=60, max_interval=6 * 3600, jitter=0.0)


def secs(nxt: NextPoll) -> float:
    return (nxt.at - NOW).total_seconds()


def test_configured_interval_is_kept_even_if_short() -> None:
    assert secs(next_after_success(NOW, P, configured=5)) == 5


def test_ttl_and_max_age_only_lengthen() -> None:
    assert secs(next_after_success(NOW, P, configured=None, ttl=3600)) == 3600
    assert secs(next_after_success(NOW, P, configured=None, max_age=30)) == 600
    assert secs(next_after_success(NOW, P, configured=None, ttl=10 * 86400)) == 6 * 3600


def test_rare_publishers_are_polled_less_often() -> None:
    daily = [NOW - timedelta(days=i) for i in range(10)]
    assert publish_gap(daily) == 86400
    assert secs(next_after_success(NOW, P, configured=None, published=daily)) == 6 * 3600
    busy = [NOW - timedelta(minutes=i) for i in range(10)]
    assert secs(next_after_success(NOW, P, configured=None, published=busy)) == 600


def test_backoff_grows_and_is_capped_never_disabled() -> None:
    delays = [secs(next_after_failure(NOW, P, configured=None, failures=n, weight=1.0,
                                      rng=random.Random(0))) for n in range(1, 12)]
    assert delays[0] < delays[1] < delays[2]
    assert max(delays) <= 6 * 3600 * 1.2
    assert all(d > 0 for d in delays)


def test_soft_failures_back_off_slower_than_hard_ones() -> None:
    soft = secs(next_after_failure(NOW, P, configured=60, failures=4, weight=failure_weight("timeout", None),
                                   rng=random.Random(1)))
    hard = secs(next_after_failure(NOW, P, configured=60, failures=4, weight=failure_weight("http", 404, permanent=True),
                                   rng=random.Random(1)))
    assert soft < hard


def test_retry_after_is_honoured() -> None:
    assert secs(next_after_failure(NOW, P, configured=60, failures=1, retry_after=7200,
                                   rng=random.Random(0))) >= 7200 * 0.8


def test_hard_failures_are_what_the_fetcher_calls_permanent() -> None:
    from crawler.fetch import FetchError

    gone = FetchError("HTTP 410 Gone", kind="http", url="https://x.example/feed", status=410)
    forbidden = FetchError("HTTP 403 Forbidden", kind="http", url="https://x.example/feed", status=403)
    assert failure_weight(gone.kind, gone.status, permanent=gone.permanent) == 1.0
    assert failure_weight(forbidden.kind, forbidden.status, permanent=forbidden.permanent) == 0.5
    assert failure_weight("not_a_feed", 200) == 1.0


def test_min_interval_floors_feeds_without_their_own_interval() -> None:
    fast_default = Policy(default_interval=30, min_interval=60, max_interval=3600, jitter=0.0)
    assert secs(next_after_success(NOW, fast_default, configured=None)) == 60
    assert secs(next_after_success(NOW, fast_default, configured=5)) == 5  # the user's own word


def test_the_reason_says_which_hint_stretched_the_interval() -> None:
    assert next_after_success(NOW, P, configured=None).reason is None
    assert next_after_success(NOW, P, configured=None, ttl=300).reason is None  # shorter than usual: no stretch
    assert next_after_success(NOW, P, configured=None, ttl=7200).reason == "RSS <ttl> 2h"
    assert next_after_success(NOW, P, configured=None, max_age=3600, ttl=1800).reason == "Cache-Control max-age 1h"
    assert next_after_success(NOW, P, configured=60, retry_after=900).reason == "Retry-After 15m"
    assert next_after_success(NOW, P, configured=None, ttl=10 * 86400).reason == \
        "RSS <ttl> 10d (capped at max_interval 6h)"
    daily = [NOW - timedelta(days=i) for i in range(5)]
    assert next_after_success(NOW, P, configured=None, published=daily).reason == \
        "publishing gap: an entry every 1d (capped at max_interval 6h)"
    every_2h = [NOW - timedelta(hours=2 * i) for i in range(5)]
    assert next_after_success(NOW, P, configured=None, published=every_2h).reason == \
        "publishing gap: an entry every 2h"
    assert next_after_success(NOW, P, configured=5, published=daily).reason is None  # the user's interval rules


def test_the_reason_of_a_failing_feed() -> None:
    assert next_after_failure(NOW, P, configured=60, failures=1).reason is None
    assert next_after_failure(NOW, P, configured=60, failures=3).reason == "back-off after 3 failures in a row"
    assert next_after_failure(NOW, P, configured=60, failures=1, retry_after=7200).reason == "Retry-After 2h"
