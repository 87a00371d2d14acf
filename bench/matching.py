"""What matching one article costs: `RuleSet.match` and `near_miss`, on and off the topic.

    .venv/bin/python bench/matching.py ../shared [--baseline DIR] [--rules FILE] [--runs 3]

Texts (read in place): `<shared>/topic-real` and `<shared>/topic-dev` (skipped when absent),
`tests/fixtures/rules/blind*.jsonl`, and the pages `bench/pipeline.py` serves (every seventh
on the topic), extracted as `poll --once` extracts them.  A text is "on" the topic when
the topic flags it.  Each contender is a process of its own, timed on CPU
(`time.process_time`), the fastest of `--repeat` passes inside it, the median of `--runs`
interleaved runs; `--baseline DIR` also times another checkout (its packages first on `PYTHONPATH`),
say the code before a change, on the same texts and the same rules file, and checks that
both flag the same texts with the same terms.  Figures are printed, never asserted.

Per text, for each set: `match` on the topic and off it, and off it `match` followed by
`near_miss` of every topic that did not flag the text, which is what the pipeline asks of
every article it stores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RULES = ROOT / "config" / "rules" / "india-pakistan-backchannel.toml"
FIXTURES = ROOT / "tests" / "fixtures" / "rules"

__all__ = ["main"]


def labelled_sets(shared: Path) -> dict[str, Path]:
    """The labelled sets to time, by name: the shared ones present, then the blind fixtures."""
    sets = {name: shared / name / "articles.jsonl" for name in ("topic-real", "topic-dev")}
    sets = {name: p for name, p in sets.items() if p.is_file()}
    sets.update({p.stem: p for p in sorted(FIXTURES.glob("blind*.jsonl"))})
    return sets


def read_rows(path: Path) -> list[dict[str, str]]:
    """Documents of a labelled set, with the fields `rules eval` reads."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append({k: str(row.get(src) or "") for k, src in
                         (("title", "title"), ("body", "text"), ("url", "url"), ("source", "source"))})
    return rows


def pipeline_pages(feeds: int, articles: int) -> list[dict[str, str]]:
    """The articles `bench/pipeline.py` serves, extracted as `poll --once` extracts them."""
    sys.path.insert(0, str(ROOT))
    from bench.pipeline import page
    from crawler.extract import extract

    out = []
    for i in range(feeds):
        for j in range(articles):
            url = f"http://127.0.0.1/story/{i}/{j}"
            art = extract(page(i, j), url)
            out.append({"title": art.title, "body": art.text, "url": url, "source": ""})
    return out


def worker(docs_file: str, rules_file: str, repeat: int) -> None:
    """Time one checkout (whichever `crawler` imports first) and print its figures as JSON."""
    from crawler.models import Document
    from crawler.rules.engine import near_miss
    from crawler.rules.topics import load_topics

    rules = load_topics([Path(rules_file)])
    groups: dict[str, list[Document]] = {}
    for line in Path(docs_file).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        groups.setdefault(row.pop("group"), []).append(Document(**row))
    digest = hashlib.sha256()
    figures: dict[str, dict[str, Any]] = {}
    for name, docs in groups.items():
        found = [rules.match(d) for d in docs]
        for ms in found:
            digest.update(json.dumps(sorted((m.topic_id, sorted(m.matched_terms)) for m in ms)).encode())
        on = [d for d, ms in zip(docs, found, strict=True) if ms]
        off = [d for d, ms in zip(docs, found, strict=True) if not ms]
        fig: dict[str, Any] = {"on": len(on), "off": len(off)}
        def judged(d: Document) -> None:  # as `poll --once` judges an article
            flagged = {m.topic_id for m in rules.match(d)}
            for t in rules.topics:
                if t.id not in flagged:
                    near_miss(rules, d, t.id)

        for key, fn, subset in (("match_on", rules.match, on), ("match_off", rules.match, off),
                                ("near_miss_off", judged, off)):
            if not subset:
                continue
            passes = []
            for _ in range(repeat):
                t0 = time.process_time()
                for d in subset:
                    fn(d)
                passes.append((time.process_time() - t0) / len(subset) * 1000)
            fig[key] = min(passes)
        figures[name] = fig
    print(json.dumps({"groups": figures, "digest": digest.hexdigest()}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", nargs="?", default=str(ROOT.parent / "shared"),
                    help="the folder holding topic-real/ and topic-dev/ (default ../shared)")
    ap.add_argument("--rules", default=str(DEFAULT_RULES), help="the topic file both contenders load")
    ap.add_argument("--baseline", metavar="DIR", help="also time another checkout of newswatch")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of each contender")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the texts inside one run")
    ap.add_argument("--pages", type=int, default=10, help="feeds of bench/pipeline.py's site (50 pages each)")
    ap.add_argument("--worker", nargs=3, metavar=("DOCS", "RULES", "REPEAT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return

    groups: dict[str, list[dict[str, str]]] = {n: read_rows(p) for n, p in labelled_sets(Path(args.shared)).items()}
    if args.pages:
        groups["pipeline pages"] = pipeline_pages(args.pages, 50)
    contenders = {"newswatch": None} | ({"baseline": str(Path(args.baseline).resolve())} if args.baseline else {})
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        docs_file = Path(tmp) / "docs.jsonl"
        docs_file.write_text("".join(json.dumps({"group": g, **row}) + "\n" for g, rows in groups.items()
                                     for row in rows), encoding="utf-8")
        for run in range(args.runs):
            order = list(contenders) if run % 2 == 0 else list(reversed(contenders))
            for name in order:
                env = dict(os.environ)
                env.pop("PYTHONPATH", None)
                if contenders[name]:  # the other checkout's packages shadow this one's
                    env["PYTHONPATH"] = contenders[name]
                # cwd outside both checkouts, so that only PYTHONPATH decides which `crawler` loads
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(docs_file),
                                       str(Path(args.rules).resolve()), str(args.repeat)],
                                      env=env, cwd=tmp, capture_output=True, text=True, check=False)
                if proc.returncode:
                    sys.exit(f"{name} failed:\n{proc.stderr}")
                results[name].append(json.loads(proc.stdout))
                print(f"run {run + 1} {name} done", flush=True)

    digests = {name: {r["digest"] for r in rs} for name, rs in results.items()}
    if args.baseline:
        same = digests["newswatch"] == digests["baseline"]
        print("flagged texts and matched terms: " + ("the same in both" if same else "DIFFERENT"))
    print(f"\nrules {args.rules}; CPU ms per text, medians of {args.runs} runs of the fastest of "
          f"{args.repeat} passes")
    header = f"{'set':<16}{'on/off':>9}  {'contender':<10}{'match on':>9}{'match off':>10}{'+near_miss':>14}"
    print(header)
    keys = ("match_on", "match_off", "near_miss_off")
    for group in groups:
        med: dict[str, dict[str, float]] = {}
        for name, rs in results.items():
            figs = [r["groups"][group] for r in rs]
            med[name] = {k: statistics.median(f[k] for f in figs) for k in keys if k in figs[0]}
            counts = f"{figs[0]['on']}/{figs[0]['off']}"
            cells = "".join(f"{med[name][k]:>{w}.3f}" if k in med[name] else f"{'-':>{w}}"
                            for k, w in zip(keys, (9, 10, 14), strict=True))
            print(f"{group:<16}{counts:>9}  {name:<10}{cells}")
        if args.baseline:
            cells = "".join(f"{med['baseline'][k] / med['newswatch'][k]:>{w - 1}.1f}x" if k in med["newswatch"]
                            else f"{'-':>{w}}" for k, w in zip(keys, (9, 10, 14), strict=True))
            print(f"{'':<25}  {'speed-up':<10}{cells}")
    if args.baseline:
        print("(+near_miss: match, then near_miss of each topic that did not flag the text, as the "
              "pipeline does; speed-up: the baseline's CPU time per text divided by this checkout's)")


if __name__ == "__main__":
    main()
