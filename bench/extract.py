"""Benchmark: our extractor (generic mode, no site profiles) against trafilatura.

Both run over the extraction benchmark's `dev/` split in the same process, on one core,
timed the way the benchmark README times its baselines: pages decoded to `str` first,
one untimed warm-up call, each page's time the median of `--passes` passes, pages/s =
pages / sum of per-page times. The two take turns on every page, so that load from
other work on the machine falls on both alike. Quality is scored with the benchmark's own `score.py`.

    .venv/bin/python bench/extract.py [BENCH_DIR] [--split all|tune|held-out] [--passes 3]
        [--worst N] [--recall N] [--no-trafilatura] [--perturb]

`--split` estimates what happens on pages the extractor was never tuned on: the dev pages
are split deterministically by a hash of their ids into a tuning part (two thirds) and
a held-out part (a third). Tune while looking only at `tune` (its `--worst`
list included); report `held-out` beside trafilatura's figure from the same run.

`--perturb` (tune pages only) re-scores the pages after editing the element that holds
most of the truth's paragraphs the way unseen layouts differ: the body split in two
around an ad or an image, the rest in a class-less sibling, paragraphs turned into list
items or `<br>` lines. The truth text stays the same, so what a rule loses there it
would lose on pages built that way.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selectolax.lexbor import LexborHTMLParser, LexborNode

from crawler.extract import SiteProfiles, extract

__all__ = ["main"]

DEFAULT_BENCH = Path(__file__).resolve().parents[2] / "shared" / "extraction-bench"


def _load_scorer(bench: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_score", bench / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{bench / 'score.py'}: cannot load the scorer")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SPLITS = ("all", "tune", "held-out")


def held_out_ids(page_ids: list[str]) -> set[str]:
    """A third of the pages, fixed by a hash of their ids: the ones never looked at while tuning."""
    ranked = sorted(page_ids, key=lambda i: hashlib.sha256(f"newswatch-split:{i}".encode()).digest())
    return set(ranked[: round(len(ranked) / 3)])


def _load_pages(bench: Path, split: str) -> tuple[dict[str, Any], dict[str, str]]:
    truth = json.loads((bench / "dev" / "ground-truth.json").read_text(encoding="utf-8"))
    if split != "all":
        held_out = held_out_ids(list(truth))
        truth = {i: item for i, item in truth.items() if (i in held_out) == (split == "held-out")}
    pages = {
        page_id: gzip.decompress((bench / "dev" / "html" / f"{page_id}.html.gz").read_bytes()).decode(
            "utf-8"
        )
        for page_id in sorted(truth)
    }
    return truth, pages


def _run(
    fns: list[Callable[[str, str], str]], truth: dict[str, Any], pages: dict[str, str], passes: int
) -> list[tuple[dict[str, str], list[float]]]:
    """Predictions and per-page times (median of `passes`) for each extractor.

    The extractors take turns on each page, so on a machine shared with other work a
    burst of load slows both alike and the ratio stays fair.
    """
    first = next(iter(pages))
    for fn in fns:
        fn(pages[first], truth[first].get("url", ""))  # warm-up, untimed
    results: list[tuple[dict[str, str], list[float]]] = [({}, []) for _ in fns]
    for page_id, html in pages.items():
        url = truth[page_id].get("url", "")
        samples: list[list[float]] = [[] for _ in fns]
        for _ in range(passes):
            for i, fn in enumerate(fns):
                start = time.perf_counter()
                text = fn(html, url)
                samples[i].append(time.perf_counter() - start)
                results[i][0][page_id] = text or ""
        for i in range(len(fns)):
            results[i][1].append(statistics.median(samples[i]))
    return results


def _ours(profiles: SiteProfiles) -> Callable[[str, str], str]:
    def run(html: str, url: str) -> str:
        return extract(html, url, profiles=profiles).text

    return run


def _trafilatura() -> Callable[[str, str], str]:
    import trafilatura

    def run(html: str, url: str) -> str:
        return trafilatura.extract(html, include_comments=False) or ""

    return run


def _row(name: str, scorer: ModuleType, truth: dict[str, Any], pred: dict[str, str], times: list[float]) -> dict[str, Any]:
    pages = [scorer.page_scores(truth[i].get("articleBody", ""), pred.get(i, "")) for i in sorted(truth)]
    result = scorer.aggregate(pages)
    ordered = sorted(times)
    return {
        "name": name,
        **result,
        "empty": sum(p is None for p, _, _ in pages),
        "median_ms": statistics.median(times) * 1000,
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] * 1000,
        "pages_s": len(times) / sum(times),
    }


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"{'extractor':<24} {'F1':>6} {'P':>6} {'R':>6} {'exact':>6} {'empty':>5} "
          f"{'ms med':>7} {'ms p90':>7} {'pages/s':>8}")
    for r in rows:
        print(f"{r['name']:<24} {r['f1']:6.3f} {r['precision']:6.3f} {r['recall']:6.3f} "
              f"{r['exact']:6.3f} {r['empty']:5d} {r['median_ms']:7.2f} {r['p90_ms']:7.2f} "
              f"{r['pages_s']:8.0f}")
    if len(rows) > 1:
        ours, ref = rows[0], rows[-1]
        print(f"\nspeed ratio (pages/s, {ours['name']} / {ref['name']}): "
              f"{ours['pages_s'] / ref['pages_s']:.1f}x; median ms ratio: "
              f"{ref['median_ms'] / ours['median_ms']:.1f}x; "
              f"F1 difference: {ours['f1'] - ref['f1']:+.3f}")


def _print_recall(
    scorer: ModuleType,
    truth: dict[str, Any],
    results: list[tuple[dict[str, str], list[float]]],
    names: list[str],
    n: int,
) -> None:
    """Our lowest-recall pages, with the reference extractor's recall on the same page.

    Recall is what we lose on unseen pages, so this is the list to study on `tune`.
    """
    scores = {
        page_id: [scorer.page_scores(item.get("articleBody", ""), pred.get(page_id, ""))
                  for pred, _ in results]
        for page_id, item in truth.items()
    }
    print(f"\nlowest recall ({names[0]}): recall precision" + (f" | {names[-1]} recall" if len(names) > 1 else ""))
    ranked = sorted(scores, key=lambda i: (scores[i][0][1] is None, scores[i][0][1] or 0.0))
    for page_id in ranked[:n]:
        ours = scores[page_id][0]
        line = f"{_fmt(ours[1])} {_fmt(ours[0])}"
        if len(names) > 1:
            line += f" | {_fmt(scores[page_id][-1][1])}"
        print(f"{line}  {page_id}")


_WORD = re.compile(r"\w+")
_AD = '<div class="ad-slot"><span>Advertisement</span></div>'
_FIGURE = '<figure><img src="photo.jpg"><figcaption>A photo and its credit</figcaption></figure>'


def _runs(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text)
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}


def _truth_paragraphs(tree: LexborHTMLParser, truth_text: str) -> tuple[LexborNode | None, list[LexborNode]]:
    """The element holding most of the `<p>` whose text is the truth's, and those `<p>`."""
    truth_runs = _runs(truth_text)
    by_parent: dict[int, list[LexborNode]] = {}
    parents: dict[int, LexborNode] = {}
    for p in tree.css("p"):
        runs = _runs(p.text())
        if len(runs) >= 5 and len(runs & truth_runs) > 0.8 * len(runs) and p.parent is not None:
            by_parent.setdefault(p.parent.mem_id, []).append(p)
            parents[p.parent.mem_id] = p.parent
    if not by_parent:
        return None, []
    key = max(by_parent, key=lambda k: len(by_parent[k]))
    return parents[key], by_parent[key]


def _fragment(html: str) -> list[LexborNode]:
    holder = LexborHTMLParser(f"<div>{html}</div>").css_first("div")
    return list(holder.iter(include_text=False)) if holder is not None else []


def _split(container: LexborNode, paragraphs: list[LexborNode], share: float, between: str, same_class: bool) -> None:
    """Close the container before paragraph `share` of the way in; the rest goes to a sibling."""
    cut = paragraphs[max(1, min(len(paragraphs) - 1, round(share * len(paragraphs))))]
    rest: list[LexborNode] = []
    node, seen = container.first_child, False
    while node is not None:
        seen = seen or node.mem_id == cut.mem_id
        if seen:
            rest.append(node)
        node = node.next
    cls = container.attributes.get("class") if same_class else None
    opening = f'<{container.tag} class="{cls}">' if cls else f"<{container.tag}>"
    last = container
    for node in _fragment(f"{between}{opening}</{container.tag}>"):
        last.insert_after(node)
        last = last.next
    for node in rest:
        last.insert_child(node)
        node.decompose()


def _replace(paragraphs: list[LexborNode], start: int, count: int, html: str) -> None:
    run = paragraphs[start : start + count]
    for node in _fragment(html):
        run[0].insert_before(node)
    for p in run:
        p.decompose()


def _as_list(c: LexborNode, ps: list[LexborNode]) -> None:
    run = ps[len(ps) // 2 : len(ps) // 2 + 3]
    _replace(ps, len(ps) // 2, 3, "<ul>" + "".join(f"<li>{p.inner_html}</li>" for p in run) + "</ul>")


def _as_br_lines(c: LexborNode, ps: list[LexborNode]) -> None:
    run = ps[len(ps) // 2 : len(ps) // 2 + 3]
    _replace(ps, len(ps) // 2, 3, "<div>" + "<br><br>".join(p.inner_html or "" for p in run) + "</div>")


def _last_as_short_lines(c: LexborNode, ps: list[LexborNode]) -> None:
    words = ps[-1].text().split()
    lines = "<br>".join(" ".join(words[i : i + 4]) for i in range(0, len(words), 4))
    _replace(ps, len(ps) - 1, 1, f"<p>{lines}</p>")


PERTURBATIONS: dict[str, Callable[[LexborNode, list[LexborNode]], None]] = {
    "split at 10 % around an ad": lambda c, ps: _split(c, ps, 0.1, _AD, True),
    "split at 90 % around an ad": lambda c, ps: _split(c, ps, 0.9, _AD, True),
    "split at 10 % around an image": lambda c, ps: _split(c, ps, 0.1, _FIGURE, True),
    "rest in a class-less sibling (30 %)": lambda c, ps: _split(c, ps, 0.3, _AD, False),
    "three paragraphs as list items": _as_list,
    "three paragraphs as <br> lines": _as_br_lines,
    "last paragraph as short lines": _last_as_short_lines,
}


def _print_perturbed(scorer: ModuleType, truth: dict[str, Any], pages: dict[str, str]) -> None:
    """F1/P/R of our extractor on the pages as they are and under each perturbation."""
    edited: dict[str, dict[str, str]] = {name: {} for name in PERTURBATIONS}
    for page_id, html in pages.items():
        for name, edit in PERTURBATIONS.items():
            tree = LexborHTMLParser(html)
            container, paragraphs = _truth_paragraphs(tree, truth[page_id].get("articleBody", ""))
            if container is None or len(paragraphs) < 4:
                break  # too few paragraphs in one element to edit: the page is left out
            edit(container, paragraphs)
            edited[name][page_id] = tree.html or ""
    ids = sorted(edited[next(iter(PERTURBATIONS))])
    run = _ours(SiteProfiles())

    def row(name: str, source: dict[str, str]) -> None:
        scores = [scorer.page_scores(truth[i].get("articleBody", ""), run(source[i], truth[i].get("url", ""))) for i in ids]
        r = scorer.aggregate(scores)
        print(f"{name:<38} {r['f1']:6.3f} {r['precision']:6.3f} {r['recall']:6.3f}")

    print(f"\nperturbed layouts ({len(ids)} pages with 4+ truth paragraphs in one element):")
    print(f"{'layout':<38} {'F1':>6} {'P':>6} {'R':>6}")
    row("as published", pages)
    for name in PERTURBATIONS:
        row(name, edited[name])


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", nargs="?", default=str(DEFAULT_BENCH), help="extraction-bench folder")
    ap.add_argument("--split", choices=SPLITS, default="all", help="which dev pages (default all)")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--worst", type=int, default=0, metavar="N", help="list our N worst pages")
    ap.add_argument("--recall", type=int, default=0, metavar="N",
                    help="list the N pages of the split where we keep least of the reference text")
    ap.add_argument("--no-trafilatura", action="store_true", help="skip the reference run")
    ap.add_argument("--save", metavar="FILE", help="write our predictions as JSON for score.py")
    ap.add_argument("--perturb", action="store_true",
                    help="also score the tune pages with their body split or reshaped")
    args = ap.parse_args(argv)
    if args.perturb and args.split != "tune":
        print("--perturb reads the pages' truth to edit them: tune pages only", file=sys.stderr)
        return 2

    bench = Path(args.bench)
    if not (bench / "dev" / "ground-truth.json").is_file():
        print(f"{bench}: not an extraction-bench folder (no dev/ground-truth.json)", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as documented
    scorer = _load_scorer(bench)
    truth, pages = _load_pages(bench, args.split)
    print(f"{len(pages)} pages ({args.split}) from {bench / 'dev'}; "
          f"{args.passes} passes per page, one core\n")

    named = [("newswatch (generic mode)", _ours(SiteProfiles()))]
    if not args.no_trafilatura:
        named.append(("trafilatura nocomments", _trafilatura()))
    results = _run([fn for _, fn in named], truth, pages, args.passes)
    rows = [_row(name, scorer, truth, pred, times) for (name, _), (pred, times) in zip(named, results, strict=True)]
    ours = results[0][0]
    _print(rows)
    if args.save:
        Path(args.save).write_text(json.dumps(ours, ensure_ascii=False), encoding="utf-8")
    if args.perturb:
        _print_perturbed(scorer, truth, pages)
    if args.recall:
        _print_recall(scorer, truth, results, [name for name, _ in named], args.recall)
    if args.worst:
        print()
        with tempfile.TemporaryDirectory() as tmp:
            # the scorer reads files; the truth is cut to the split so other pages stay unseen
            truth_file, pred_file = Path(tmp) / "truth.json", Path(tmp) / "pred.json"
            truth_file.write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
            pred_file.write_text(json.dumps(ours, ensure_ascii=False), encoding="utf-8")
            scorer.main([str(truth_file), str(pred_file), "--bootstrap", "0",
                         "--worst", str(args.worst)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
