"""An independently written "unseen" news site, polled through the real pipeline with the shipped
default topic (India-Pakistan backchannel contacts). Precision and recall must both be >= 0.9.

The site (tests/fixtures/unseen_site/) was written without looking at the demo site, the rules or
the extractor: four feeds (RSS 2.0 with content:encoded, Atom with Blogger-style link order, RSS 1.0
RDF, and an RSS feed whose links carry tracking parameters and fragments) and 24 pages in
WordPress, Arc, Drupal, Next.js, AMP, legacy-table (windows-1252), live-blog, long-read, Urdu and
Hindi layouts. Most negatives carry on-topic furniture (sidebars, related boxes, comments, author
bios, recommended grids); most positives carry off-topic furniture.
"""

from __future__ import annotations

import json
from pathlib import Path

from crawler.demo import DemoSite
from tests.e2e.helpers import db, newswatch, write_config

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "unseen_site"


def _describe(rows: dict[str, dict], urls: set[str], labels: dict[str, int]) -> str:
    out = []
    for u in sorted(urls):
        r = rows.get(u)
        if r is None:
            out.append(f"  {u}  (label {labels.get(u)}): NOT STORED")
            continue
        text = " ".join((r["text"] or "").split())[:300]
        out.append(f"  {u}\n    label={labels.get(u)} text_from={r['text_from']} method={r['method']} "
                   f"fetch_error={r['fetch_error']!r} words={len((r['text'] or '').split())}\n"
                   f"    title: {r['title']}\n    text: {text}")
    return "\n".join(out)


def test_default_topic_on_an_unseen_site(tmp_path: Path) -> None:
    with DemoSite(root=SITE) as site:
        feeds = [{"name": f.name, "url": site.base_url + f.path, **({"source": f.source} if f.source else {})}
                 for f in site.feeds()]
        cfg = write_config(tmp_path, feeds, rules=None)
        res = newswatch(tmp_path, "poll", "--once", "--config", str(cfg), "--json", timeout=180)
        assert res.returncode == 0, res.stderr
        labels = site.labels()
        reports = json.loads(res.stdout)
    assert all(r["ok"] for r in reports), reports

    with db(tmp_path) as conn:
        rows = {r["url"]: dict(r) for r in conn.execute("select * from articles")}
        flagged = {r["url"] for r in conn.execute(
            "select a.url from articles a join matches m on m.article_id = a.id")}

    positives = {u for u, lab in labels.items() if lab == 1}
    tp = len(positives & flagged)
    precision = tp / len(flagged) if flagged else 0.0
    recall = tp / len(positives)
    fps, fns = flagged - positives, positives - flagged
    missing = set(labels) - set(rows)
    extra = set(rows) - set(labels)
    report = (f"precision={precision:.3f} recall={recall:.3f} (tp={tp}, flagged={len(flagged)}, "
              f"positives={len(positives)}, stored={len(rows)}, expected={len(labels)})\n"
              f"FALSE POSITIVES ({len(fps)}):\n{_describe(rows, fps, labels)}\n"
              f"FALSE NEGATIVES ({len(fns)}):\n{_describe(rows, fns, labels)}\n"
              f"NOT STORED: {sorted(missing)}\nUNEXPECTED URLS: {sorted(extra)}")
    print(report)
    assert not missing and not extra, report  # each page stored once, under its canonical URL
    assert not [u for u in rows if "utm_" in u or "#" in u], report
    assert precision >= 0.9 and recall >= 0.9, report
