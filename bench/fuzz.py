"""Long fuzzing run: the hypothesis targets of tests/test_fuzz.py with many more examples.

`make test` runs a fast profile (150 examples per target, a few seconds each); this runs
the "long" profile, randomised afresh each time, and prints each target's outcome and
time. A failure prints the smallest input hypothesis found; add it as an `@example`.

    .venv/bin/python bench/fuzz.py [--examples 20000] [-k canonicalize]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=20_000, help="examples per target")
    ap.add_argument("-k", default="", help="only targets whose name contains this (pytest -k)")
    args = ap.parse_args()
    env = {**os.environ, "NEWSWATCH_FUZZ": "long", "NEWSWATCH_FUZZ_EXAMPLES": str(args.examples)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
           "--hypothesis-show-statistics", str(ROOT / "tests" / "test_fuzz.py")]
    if args.k:
        cmd += ["-k", args.k]
    print(f"{args.examples} examples per target: {' '.join(cmd[2:])}", flush=True)
    return subprocess.call(cmd, env=env, cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
