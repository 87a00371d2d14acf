"""Figures of a topic on labelled coverage: overall, per phrasing class, under page furniture.

    .venv/bin/python bench/topic.py ../shared [--rules config/rules/india-pakistan-backchannel.toml]

Reads `<shared>/topic-real/articles.jsonl` (real excerpts) and `<shared>/topic-dev/articles.jsonl`
(written for the project) in place.  Prints, for the rules file given (the default topic
unless told), precision and recall on the real set (all of it, the tuning part and the
held-out part: lines whose 0-based index % 3 == 2), on the dev set, recall per phrasing
class, the same figures with an "Also read" cricket line, a "Related" line about another
pair's secret talks, or no headline, and the near-miss safety net.  The same for the
blind set `tests/fixtures/rules/blind.jsonl` (written for us by someone who never saw the
rules; each article names its phrasing class): all of it, the tuning half (even lines)
and the held-out half (odd lines), and recall or precision per class; and the same for
the second blind set `tests/fixtures/rules/blind2.jsonl` (written later, by someone who
never saw the rules: its even lines were tuned on in the third round, its odd lines held out);
and the third, `tests/fixtures/rules/blind3.jsonl` (150 excerpts by two more writers, 6
borderline and skipped: its even lines were tuned on in the fourth round, its odd lines held
out; the fifth round read all three sets, so none of them is held out any more), and the
fourth to eighth (`blind4.jsonl` 150, `blind5.jsonl` 150, `blind6.jsonl` to `blind8.jsonl`
300 each, by two or four more writers each), each measured once by the rules of its day
and then tuned on in rounds 6 to 9; and the ninth, `blind9.jsonl` (300), which no round has
tuned on: its figures are the estimate for coverage the rules have never seen.
`--no-held-out` leaves out the figures of blind3's odd lines, as the fourth round's tuning
runs did.  `--misses` lists every article of the tuned blind sets (not blind9) that the
topic gets wrong, with and without its headline, by id and class: what a round of tuning
starts from.
Nothing is asserted: `tests/test_topic_real.py` holds the targets.

Phrasing classes are found by what a positive says, with our own patterns, not by hand:
an article is in every class whose words it uses.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.models import Document
from crawler.rules.engine import RuleSet, near_miss
from crawler.rules.evaluate import evaluate, read_labelled
from crawler.rules.topics import load_topics
from tests.support.blind_sets import BLIND3, BLIND_SETS, TUNED_ON
from tests.support.furniture import ALSO_READ, RELATED, variants

__all__ = ["CLASSES", "main"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RULES = ROOT / "config" / "rules" / "india-pakistan-backchannel.toml"

_BACK_CHANNEL = re.compile(r"back[\s\-\u2010\u2011]?channel|बैक[\s-]?चैनल|بیک چینل", re.I)


def _says(pattern: str) -> Callable[[str], bool]:
    rx = re.compile(pattern, re.I)
    return lambda text: rx.search(text) is not None


CLASSES: dict[str, Callable[[str], bool]] = {
    "says back channel": lambda t: _BACK_CHANNEL.search(t) is not None,
    "never says back channel": lambda t: _BACK_CHANNEL.search(t) is None,
    "direct channel, neutral words": _says(
        r"hotline|in touch|in contact|phone call|phoned|reached out|counterpart|lines? of communication"
        r"|फोन|हॉटलाइन|समकक्ष|فون|ہاٹ لائن"),
    "secrecy words (no back channel)": lambda t: _BACK_CHANNEL.search(t) is None and _says(
        r"secret|hush|backroom|back-?door|behind[\s-]the[\s-]scenes?|behind closed doors|covert|quiet"
        r"|neutral venue|in camera|feeler|गुप्त|गोपनीय|خفیہ")(t),
    "Track II by name": _says(r"track[\s\-\u2011]*(ii|2|two)|neemrana|chaophraya|pugwash|ottawa dialogue"),
    "not in English": _says(r"[\u0900-\u097f\u0600-\u06ff]{3,}.*[\u0900-\u097f\u0600-\u06ff]{3,}"),
}


def _labelled(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows labelled 0 or 1 (a borderline row is neither)."""
    return [r for r in rows if r.get("label") in (0, 1, "0", "1")]


def _rows(path: Path) -> list[dict[str, Any]]:
    return _labelled(read_labelled(path))


def _pr(ruleset: RuleSet, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return evaluate(ruleset, rows)["topics"][0]


def _fmt(s: dict[str, Any]) -> str:
    return f"P {s['precision']:.3f}  R {s['recall']:.3f}  (tp {s['tp']}, fp {s['fp']}, fn {s['fn']})"


def _doc(row: dict[str, Any]) -> Document:
    return Document(title=str(row.get("title") or ""), body=str(row.get("text") or ""))


def safety_net(ruleset: RuleSet, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Flagged articles, near misses, and how many positives the two hold together."""
    flagged = misses = positives = held = 0
    for row in rows:
        doc = _doc(row)
        hit = bool(ruleset.matching_ids(doc))
        miss = not hit and near_miss(ruleset, doc) is not None
        flagged += hit
        misses += miss
        if int(row["label"]) == 1:
            positives += 1
            held += hit or miss
    return {"flagged": flagged, "near_misses": misses, "positives": positives, "held": held}


def by_class(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows grouped by `class` and label: a class such as spy-fiction holds both."""
    rows = _labelled(rows)
    labels: dict[str, set[int]] = {}
    for row in rows:
        labels.setdefault(str(row.get("class") or "?"), set()).add(int(row["label"]))
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        key = str(row.get("class") or "?")
        if len(labels[key]) > 1:
            key += " (relevant)" if int(row["label"]) == 1 else " (not)"
        out.setdefault(key, []).append(row)
    return out


def print_misses(ruleset: RuleSet) -> None:
    """Every blind-set article the topic gets wrong, as it is and with no headline."""
    for path in TUNED_ON:
        for row in _rows(path):
            relevant = int(row["label"]) == 1
            for headline in (True, False):
                doc = Document(title=str(row.get("title") or "") if headline else "",
                               body=str(row.get("text") or ""))
                if bool(ruleset.matching_ids(doc)) == relevant:
                    continue
                miss = near_miss(ruleset, doc) if relevant else None
                print(f"{path.stem:7s} {'missed' if relevant else 'flagged wrongly':15s} "
                      f"{'' if headline else '(no headline) '}{row.get('id')} [{row.get('class')}]"
                      + (f"  failed: {miss.failed}" if miss else ""))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", type=Path, help="the shared data folder (../shared)")
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES, help="the topic file to measure")
    ap.add_argument("--no-held-out", action="store_true",
                    help="leave out blind3's odd lines (held out in the fourth round)")
    ap.add_argument("--misses", action="store_true",
                    help="list the blind sets' wrong answers, with and without headlines, and stop")
    args = ap.parse_args(argv)
    ruleset = load_topics([args.rules])
    if args.misses:
        print_misses(ruleset)
        return
    real = _rows(args.shared / "topic-real" / "articles.jsonl")
    every = list(read_labelled(args.shared / "topic-real" / "articles.jsonl"))
    tuning = [r for i, r in enumerate(every) if i % 3 != 2 and r.get("label") in (0, 1, "0", "1")]
    held_out = [r for i, r in enumerate(every) if i % 3 == 2 and r.get("label") in (0, 1, "0", "1")]
    dev = _rows(args.shared / "topic-dev" / "articles.jsonl")

    print(f"rules: {args.rules}")
    print(f"topic-real, all ({len(real)}):      {_fmt(_pr(ruleset, real))}")
    print(f"topic-real, tuning ({len(tuning)}):    {_fmt(_pr(ruleset, tuning))}")
    print(f"topic-real, held-out ({len(held_out)}):  {_fmt(_pr(ruleset, held_out))}")
    print(f"topic-dev ({len(dev)}):             {_fmt(_pr(ruleset, dev))}")

    print("\nrecall per phrasing class (topic-real positives; an article may be in several)")
    for name, test in CLASSES.items():
        pos = [r for r in real if int(r["label"]) == 1 and test(f"{r.get('title') or ''}\n{r.get('text') or ''}")]
        hit = sum(1 for r in pos if ruleset.matching_ids(_doc(r)))
        print(f"  {name:34s} {hit:3d}/{len(pos):<3d} = {hit / len(pos) if pos else 1:.3f}")
    neg = [r for r in real if int(r["label"]) == 0 and CLASSES["says back channel"](str(r.get("text")))]
    fp = sum(1 for r in neg if ruleset.matching_ids(_doc(r)))
    print(f"  negatives that say back channel: {fp}/{len(neg)} flagged")

    # halves by line number, borderline lines included, as the protocol splits them
    blinds: dict[str, list[dict[str, Any]]] = {}
    for path in BLIND_SETS:
        rows = list(read_labelled(path))
        blinds[path.stem] = rows[0::2] if path == BLIND3 and args.no_held_out else rows
    for name, data in blinds.items():
        if name == "blind3" and args.no_held_out:
            print(f"\nblind3, even half only ({len(_labelled(data))} labelled): {_fmt(_pr(ruleset, data))}")
        else:
            print(f"\n{name}, all ({len(_labelled(data))}):           {_fmt(_pr(ruleset, data))}")
            print(f"{name}, even half ({len(_labelled(data[0::2]))}):     {_fmt(_pr(ruleset, data[0::2]))}")
            print(f"{name}, odd half ({len(_labelled(data[1::2]))}):      {_fmt(_pr(ruleset, data[1::2]))}")
        print(f"\n{name} per class (its `class` field): positives caught, or negatives kept out")
        for cls, rows in sorted(by_class(data).items()):
            kind = "caught" if int(rows[0]["label"]) == 1 else "kept out"
            right = sum(1 for r in rows if bool(ruleset.matching_ids(_doc(r))) == (int(r["label"]) == 1))
            print(f"  {cls:24s} {kind:8s} {right:3d}/{len(rows):<3d} = {right / len(rows):.3f}")

    print("\npage furniture (one line appended to every article, variants in turn)")
    every_set = {"topic-real": real, "topic-dev": dev, **{n: _labelled(d) for n, d in blinds.items()}}
    for name, data in every_set.items():
        for label, lines, headline in (("plain", (), True), ("+ Also read (cricket)", ALSO_READ, True),
                                       ("+ Related (other pair)", RELATED, True), ("no headline", (), False),
                                       ("no headline + Also read", ALSO_READ, False),
                                       ("no headline + Related", RELATED, False)):
            print(f"  {name:10s} {label:26s} {_fmt(_pr(ruleset, variants(data, lines, headline=headline)))}")

    print("\nnear misses (the safety net: flagged + near misses should hold >= 97% of positives,"
          " near misses <= flagged)")
    for name, data in every_set.items():
        if name in ("blind", "blind2"):  # the net has been reported from blind3 on
            continue
        s = safety_net(ruleset, data)
        print(f"  {name:10s} flagged {s['flagged']}, near misses {s['near_misses']}, positives held "
              f"{s['held']}/{s['positives']} = {s['held'] / s['positives']:.3f}")


if __name__ == "__main__":
    main()
