"""Precision and recall of topics against labelled articles (`newswatch rules eval`).

Each row is matched exactly as the pipeline would match an article, so the
figures an analyst tunes against are the figures the daemon will produce.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from crawler.models import Document
from crawler.rules.engine import RuleSet

__all__ = ["evaluate", "read_labelled"]


def read_labelled(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON-lines file of labelled articles; raises ValueError naming a bad line."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON: {exc.msg}") from None
            except RecursionError:  # json's scanner recurses once per level
                raise ValueError(f"{path}:{n}: JSON nested too deeply") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object")
            yield row


def _label(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if value in (1, 0):
        return int(value)
    if isinstance(value, str) and value.strip() in ("1", "0"):
        return int(value.strip())
    return None


def _ratio(num: int, den: int, empty: float) -> float:
    return round(num / den, 4) if den else empty


def evaluate(ruleset: RuleSet, rows: Iterable[dict[str, Any]], topic_id: str | None = None) -> dict[str, Any]:
    """Confusion counts, precision, recall and F1 per topic; rows labelled neither 1 nor 0 are skipped."""
    topics = [ruleset.topic(topic_id)] if topic_id is not None else list(ruleset.topics)
    stats = {t.id: {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "false_positives": [], "false_negatives": []}
             for t in topics}
    skipped = 0
    for row in rows:
        label = _label(row.get("label"))
        if label is None:
            skipped += 1
            continue
        doc = Document(title=str(row.get("title") or ""), body=str(row.get("text") or ""),
                       url=str(row.get("url") or ""), source=str(row.get("source") or ""))
        name = doc.title or str(row.get("id") or "")
        flagged = set(ruleset.matching_ids(doc))
        for tid, s in stats.items():
            hit = tid in flagged
            if hit and label:
                s["tp"] += 1
            elif hit:
                s["fp"] += 1
                s["false_positives"].append(name)
            elif label:
                s["fn"] += 1
                s["false_negatives"].append(name)
            else:
                s["tn"] += 1
    out = []
    for tid, s in stats.items():
        tp, fp, fn = s["tp"], s["fp"], s["fn"]
        precision = _ratio(tp, tp + fp, 1.0 if tp + fn == 0 else 0.0)
        recall = _ratio(tp, tp + fn, 1.0)
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        out.append({"topic": tid, "precision": precision, "recall": recall, "f1": f1,
                    "tp": tp, "fp": fp, "fn": fn, "tn": s["tn"],
                    "false_positives": s["false_positives"], "false_negatives": s["false_negatives"]})
    return {"topics": out, "skipped": skipped}
