"""Replaying topics over stored history (`backtest`) and per-term precision from reviews (`term_stats`).

`backtest` is what makes a rules change safe: it replays edited topics over the
stored articles and says exactly which a change would newly flag or stop flagging,
before the daemon is reloaded (`apply` writes the new matches). `term_stats` turns
reviewers' marks into per-term precision, to find the terms that bring false alarms.
Both take the store as a parameter: the engine imports no storage.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import Match, document_of
from .engine import RuleSet, near_miss

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["backtest", "term_stats"]


def backtest(store: Any, rs: RuleSet, *, since: datetime | None, apply: bool = False,
             progress: Progress | None = None) -> dict[str, Any]:
    """Replay `rs` over stored articles; return per-topic differences with the stored matches.

    Only the topics in `rs` are compared (and, with `apply`, rewritten): a
    backtest of one edited topic file leaves every other topic's matches alone.
    """
    topic_ids = {t.id for t in rs.topics}
    diff: dict[str, dict[str, list[dict[str, Any]]]] = {
        t: {"newly_flagged": [], "no_longer_flagged": []} for t in topic_ids}
    kept: Counter[str] = Counter()
    total = 0
    task = progress.add_task("replaying", total=store.count_articles(since=since)) if progress else None
    for art in store.iter_articles(since=since, with_matches=True):
        total += 1
        doc = document_of(art)
        now = set(rs.matching_ids(doc))
        before = {m.topic_id for m in art.matches} & topic_ids
        row = {"id": art.id, "title": art.title, "url": art.url, "source": art.source}
        for t in now - before:
            diff[t]["newly_flagged"].append(row)
        for t in before - now:
            diff[t]["no_longer_flagged"].append(row)
        for t in now & before:
            kept[t] += 1
        if apply and now != before:
            others = [Match(topic_id=m.topic_id, score=m.score, matched_terms=m.matched_terms,
                            explanation=m.explanation, rules_version=m.rules_version)
                      for m in art.matches if m.topic_id not in topic_ids]
            store.replace_matches(art.id, others + rs.match(doc))
        if apply:  # near misses are stored when an article is matched, so the list is a query
            misses = (near_miss(rs, doc, t) for t in topic_ids - now)
            store.save_near_misses(art.id, [m for m in misses if m is not None], rules_version=rs.version,
                                   topics=sorted(topic_ids))
        if progress is not None and task is not None:
            progress.advance(task)
    return {
        "articles": total,
        "rules_version": rs.version,
        "applied": apply,
        "topics": [{"topic": t, "still_flagged": kept[t], **diff[t]} for t in sorted(topic_ids)],
    }


def term_stats(flagged: list[Any]) -> list[dict[str, Any]]:
    """Per topic and per matched term: hits, relevant, irrelevant, precision (None before any review)."""
    per_topic: dict[str, Counter[str]] = defaultdict(Counter)
    per_term: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for f in flagged:
        per_topic[f.topic]["hits"] += 1
        per_topic[f.topic][f.state] += 1
        for term in dict.fromkeys(f.matched_terms):
            per_term[(f.topic, term)]["hits"] += 1
            per_term[(f.topic, term)][f.state] += 1

    def row(c: Counter[str]) -> dict[str, Any]:
        reviewed = c["relevant"] + c["irrelevant"]
        return {"hits": c["hits"], "relevant": c["relevant"], "irrelevant": c["irrelevant"],
                "unreviewed": c["unreviewed"],
                "precision": round(c["relevant"] / reviewed, 4) if reviewed else None}

    out = []
    for topic in sorted(per_topic):
        terms = [{"term": term, **row(c)} for (t, term), c in per_term.items() if t == topic]
        terms.sort(key=lambda r: (-r["irrelevant"], r["precision"] if r["precision"] is not None else 2, -r["hits"]))
        out.append({"topic": topic, **row(per_topic[topic]), "terms": terms})
    return out
