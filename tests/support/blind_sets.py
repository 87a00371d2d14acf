"""The default topic's written blind sets, in the order they were written.

Each was written by people who never saw the rules and measured once before any round
tuned on it: blind to blind8 have been tuned on since (regression checks now), blind9 has
not (the estimate for coverage the shipped topic has not seen).  `bench/RESULTS.md` has each
set's first look; `tests/test_topic_real.py` holds the floors.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BLIND", "BLIND2", "BLIND3", "BLIND4", "BLIND5", "BLIND6", "BLIND7", "BLIND8", "BLIND9",
           "BLIND_SETS", "TUNED_ON", "UNSEEN"]

_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "rules"

BLIND_SETS: tuple[Path, ...] = tuple(_DIR / f"blind{n}.jsonl" for n in ("", 2, 3, 4, 5, 6, 7, 8, 9))
"""Every blind set; a set's name is its file's stem."""
BLIND, BLIND2, BLIND3, BLIND4, BLIND5, BLIND6, BLIND7, BLIND8, BLIND9 = BLIND_SETS
UNSEEN = BLIND9
"""The set no round has tuned on."""
TUNED_ON: tuple[Path, ...] = BLIND_SETS[:-1]
"""The sets a tuning round may read the misses of."""
