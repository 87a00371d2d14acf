"""The default topic end to end: labelled coverage served in six layouts, polled by the real command.

    .venv/bin/python bench/topic_poll.py ../shared [--sets topic-real,topic-dev]

Serves the records of `<shared>/topic-real` and `<shared>/topic-dev` (read in place) on
127.0.0.1 with `tests/support/layouts.py`: every record in two of six layouts (Dawn-like,
WordPress, Next.js/Arc, div soup, AMP, legacy table) whose sidebars and boxes speak of
India–Pakistan secret talks, each layout of each set its own feed.  Runs `newswatch poll
--once --json` with the shipped config (politeness relaxed for the loopback host) into a
temporary SQLite file and `newswatch review near-misses --json`, then prints precision,
recall and the near-miss safety net per layout, per set and overall.

The anchor is the same topic on the same records as text (title and text straight from
the file, `rules eval`'s figures), measured in the same run: the ratios say what the
pages, the feeds and the extractor cost.  Nothing is asserted here;
`tests/e2e/test_real_coverage_poll.py` holds the targets.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.models import Document
from crawler.rules.engine import RuleSet, near_miss
from crawler.rules.topics import load_topics
from tests.support.layouts import SETS, Figures, Story, poll_site, read_sets

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = ROOT / "config" / "rules"


def text_only(ruleset: RuleSet, stories: list[Story]) -> Figures:
    """The anchor: each record matched as `rules eval` matches it, once."""
    fig = Figures()
    for s in stories:
        doc = Document(title=s.title, body="\n".join(s.paragraphs))
        hit = bool(ruleset.matching_ids(doc))
        nm = not hit and any(near_miss(ruleset, doc, t.id) is not None for t in ruleset.topics)
        fig.flagged += hit
        fig.near_misses += nm
        if s.label == 1:
            fig.positives += 1
            fig.tp += hit
            fig.held += hit or nm
        elif s.label == 0:
            fig.negatives += 1
            fig.fp += hit
    return fig


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("shared", type=Path, help="the folder holding topic-real/ and topic-dev/")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    args = ap.parse_args(argv)
    names = [n for n in args.sets.split(",") if n]
    stories = read_sets(args.shared, names)
    if not stories:
        print(f"no articles.jsonl under {args.shared} for {', '.join(names)}", file=sys.stderr)
        return 2
    ruleset = load_topics(sorted(DEFAULT_RULES.glob("*.toml")))
    with tempfile.TemporaryDirectory(prefix="topic-poll-") as tmp:
        started = time.monotonic()
        run = poll_site(Path(tmp), stories)
        seconds = time.monotonic() - started
    out = run.outcome
    if run.returncode != 0 or not all(f.get("ok") for f in run.feeds):
        print(f"poll --once exited {run.returncode}:\n{run.stderr[-2000:]}", file=sys.stderr)
    print(f"{run.pages} pages ({len(stories)} records x 2 layouts) in {len(run.feeds)} feeds, "
          f"polled and reviewed in {seconds:.1f} s; {len(out.missing)} not stored, "
          f"{len(out.faults)} stored wrong (furniture in the body, body cut or from the feed, "
          "title, date or language)\n")
    print("end to end (poll --once)")
    for name, fig in sorted(out.by_layout.items()):
        print(f"  {name:<11} {fig.line()}")
    print()
    print(f"{'set':<11} {'':>9} {'P':>6} {'R':>6} {'flagged':>8} {'near':>5} {'held':>6}   "
          f"ratio to text only: P, R")
    for name in names:
        fig = out.by_set.get(name)
        if fig is None:
            continue
        anchor = text_only(ruleset, [s for s in stories if s.set_name == name])
        for label, f in (("text only", anchor), ("poll", fig)):
            print(f"{name:<11} {label:>9} {f.precision:6.3f} {f.recall:6.3f} {f.flagged:8d} "
                  f"{f.near_misses:5d} {f.safety_net:6.3f}", end="")
            print(f"   {_ratio(f.precision, anchor.precision)}, {_ratio(f.recall, anchor.recall)}"
                  if f is fig else "")
    print("\n(poll counts each record twice, once per layout; 'held' is flagged + near misses over positives)")
    for line in out.faults + out.misses:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
