"""Stories: flagged articles that are near-duplicates of each other, grouped so they are reviewed once.

Wire copy republished by several outlets, or one report rewritten lightly, shares
most of its word sequences. Each flagged article gets a MinHash signature (datasketch)
of its word 3-grams; locality-sensitive hashing finds earlier articles whose estimated
Jaccard similarity reaches `THRESHOLD`, and the article joins their story (merging
stories it bridges). Signatures are stored, so placing a new article costs one LSH
query, not a comparison with every stored text. A story's id is its first article's id.

`poll --once` places its flagged articles once the pass has stored them; `newswatch run`
does it once a minute in a short-lived child process (`group_in_child`), because datasketch
and the scipy it loads would more than double the daemon's memory for good. `assign_stories`
also places any flagged article stored before (by an older version, or by a backtest
with `--apply`), so `serve` and `export` call it once before they read. datasketch is
imported only when there is an article to place: a poll that flags nothing, and `check`,
never load it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from storage.search import word_list

if TYPE_CHECKING:
    from datasketch import LeanMinHash, MinHash

    from storage import Store

__all__ = ["NUM_PERM", "THRESHOLD", "assign_stories", "group_in_child", "shingles", "signature", "similarity"]

NUM_PERM = 128
SCHEME = "affine32"
THRESHOLD = 0.4
"""Estimated Jaccard similarity of word 3-grams above which two articles are one story.

Unrelated articles on the same topic share well under 0.1 of their 3-grams; lightly
edited copies of one report share 0.5 or more."""
SHINGLE = 3

_lock = threading.Lock()


def shingles(title: str, text: str) -> set[bytes]:
    """Word 3-grams of title and text (single words when the text is too short for 3-grams)."""
    words = word_list(f"{title}\n{text}")
    if len(words) < SHINGLE:
        return {w.encode() for w in words}
    return {" ".join(words[i:i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)}


def signature(title: str, text: str) -> MinHash:
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME)
    m.update_batch(sorted(shingles(title, text)) or [b""])
    return m


def _load(raw: bytes) -> LeanMinHash:
    import numpy as np
    from datasketch import LeanMinHash

    return LeanMinHash(seed=1, hashvalues=np.frombuffer(raw, dtype=np.uint32), scheme=SCHEME)


def similarity(a: tuple[str, str], b: tuple[str, str]) -> float:
    """Estimated Jaccard similarity of two (title, text) pairs (for tests and tuning)."""
    return float(signature(*a).jaccard(signature(*b)))


def assign_stories(store: Store, *, threshold: float = THRESHOLD, batch: int = 2000) -> int:
    """Place every flagged article not yet in a story; returns how many were placed.

    Cheap when there is nothing new (one query). Serialised within the process, and
    idempotent in the database, so concurrent requests cannot place an article twice.
    """
    with _lock:
        placed = 0
        while True:
            pending = store.flagged_without_story(limit=batch)
            if not pending:
                return placed
            placed += _place(store, pending, threshold)
            if len(pending) < batch:
                return placed


def _place(store: Store, pending: list[tuple[int, str, str]], threshold: float) -> int:
    import numpy as np
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    sigs: dict[int, MinHash | LeanMinHash] = {}
    story_of: dict[int, int] = {}
    for aid, sid, raw in store.story_signatures():
        m = _load(raw)
        sigs[aid], story_of[aid] = m, sid
        lsh.insert(aid, m)

    parent: dict[int, int] = {}

    def find(s: int) -> int:
        while parent.get(s, s) != s:
            parent[s] = parent.get(parent[s], parent[s])
            s = parent[s]
        return s

    new: list[tuple[int, bytes]] = []
    for aid, title, text in pending:
        m = signature(title, text)
        near = [c for c in lsh.query(m) if m.jaccard(sigs[c]) >= threshold]
        roots = {find(story_of[c]) for c in near}
        sid = min(roots) if roots else aid
        for r in roots:
            parent[r] = sid
        story_of[aid] = sid
        sigs[aid] = m
        lsh.insert(aid, m)
        new.append((aid, m.hashvalues.astype(np.uint32).tobytes()))
    merges = {s: find(s) for s in set(story_of.values()) if find(s) != s}
    store.save_stories([(aid, find(story_of[aid]), raw) for aid, raw in new], merges)
    return len(new)


def group_in_child(storage_url: str, *, timeout: float = 600.0) -> int:
    """Run `assign_stories` in a child interpreter and return how many it placed.

    The URL goes on stdin, not the command line, where `ps` would show its password.
    """
    proc = subprocess.run([sys.executable, "-m", "crawler.stories"], input=storage_url,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"story grouping failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return int(proc.stdout.strip() or 0)


def _main() -> None:
    from storage import Store

    store = Store.open(sys.stdin.read().strip(), migrate_schema=False)
    try:
        print(assign_stories(store))
    finally:
        store.close()


if __name__ == "__main__":
    _main()
