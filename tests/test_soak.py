"""A short fault soak (`bench/soak.py`) in every test run: the daemon against a hostile loopback site.

Resets, timeouts, slow drip, 429/503 with Retry-After, truncated bodies, bad charsets,
gzip and brotli bombs and deep nesting, on feeds and on pages. The long run (30 minutes)
is the same script by hand; its figures are in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_short_fault_soak_loses_nothing_and_never_crashes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.4", "--feeds", "6",
         "--drain", "20", "--json"],
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    served = report["faults_served"]
    for fault in ("reset", "timeout", "drip", "429", "503", "truncated", "charset", "gzip-bomb",
                  "br-bomb", "deep"):
        assert served.get(f"feed:{fault}", 0) + served.get(f"page:{fault}", 0) > 0, (fault, served)
    assert report["crashed"] is None and report["exit_status"] == 0, report
    assert report["tracebacks"] == 0, report
    assert report["articles_offered"] > 20, report
    assert report["lost"] == [] and report["duplicated"] == [], report
    assert report["rss_peak_mb"] < 400, report
