"""`/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand.

Every number comes from the database, not from process memory: the poll counters
live in `feeds` (updated by whichever instance polled), so one scrape of any review
app shows the whole fleet, and a restart does not reset a counter. The format is
small enough that adding `prometheus_client` would buy nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from storage import REVIEW_STATES, Store

__all__ = ["CONTENT_TYPE", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str, kind: str, help_text: str,
            samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lab = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        num = repr(float(value)) if isinstance(value, float) and not value.is_integer() else str(int(value))
        lines.append(f"{name}{{{lab}}} {num}" if lab else f"{name} {num}")
    return lines


def render_metrics(store: Store) -> str:
    """The whole exposition, one scrape's worth."""
    feeds = store.feed_states(include_disabled=True)
    by_topic = store.matches_by_topic()
    backlog = store.backlog()
    out: list[str] = []

    def per_feed(attr: str) -> list[tuple[dict[str, str], float]]:
        return [({"feed": f.name}, float(getattr(f, attr))) for f in feeds]

    out += _family("newswatch_polls_total", "counter", "Feed polls, by feed.", per_feed("polls_total"))
    out += _family("newswatch_fetches_total", "counter",
                   "Feed fetches that got an answer (including 304 Not Modified), by feed.",
                   [({"feed": f.name}, float(f.polls_total - f.errors_total)) for f in feeds])
    out += _family("newswatch_not_modified_total", "counter", "Polls answered 304 Not Modified, by feed.",
                   per_feed("not_modified_total"))
    out += _family("newswatch_errors_total", "counter", "Failed feed polls, by feed.", per_feed("errors_total"))
    out += _family("newswatch_page_errors_total", "counter", "Article pages that could not be fetched, by feed.",
                   per_feed("page_errors_total"))
    out += _family("newswatch_feed_articles_total", "counter", "New articles found, by feed.",
                   per_feed("articles_total"))
    out += _family("newswatch_feed_consecutive_failures", "gauge",
                   "Failed polls in a row (0 when the last poll worked), by feed.",
                   per_feed("consecutive_failures"))
    out += _family("newswatch_feed_up", "gauge", "1 when the feed's last poll worked, by feed.",
                   [({"feed": f.name}, 0.0 if f.consecutive_failures else 1.0) for f in feeds])
    out += _family("newswatch_feed_last_success_timestamp_seconds", "gauge",
                   "Unix time of the last successful poll, by feed.",
                   [({"feed": f.name}, f.last_success_at.timestamp()) for f in feeds if f.last_success_at])
    out += _family("newswatch_articles_stored", "gauge", "Articles in the database.",
                   [({}, float(store.count_articles()))])
    topics = sorted({t for t, _ in by_topic})
    out += _family("newswatch_matches", "gauge", "Flagged matches, by topic and review state.",
                   [({"topic": t, "state": s}, float(by_topic.get((t, s), 0)))
                    for t in topics for s in REVIEW_STATES])
    out += _family("newswatch_review_backlog", "gauge", "Flagged matches waiting for review.",
                   [({}, float(backlog.counts.get("unreviewed", 0)))])
    out += _family("newswatch_review_backlog_oldest_timestamp_seconds", "gauge",
                   "Unix time the oldest unreviewed match was flagged.",
                   [({}, backlog.oldest_unreviewed.timestamp())] if backlog.oldest_unreviewed else [])
    return "\n".join(out) + "\n"
