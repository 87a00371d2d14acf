"""Tests for crawler.extract: profiles, JSON-LD, generic extraction, charsets, hostile pages."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.extract import SiteProfiles, decode_html, extract, load_site_profiles
from crawler.extract.text import clean_paragraph
from crawler.settings import ConfigError

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "extract"
PROFILES = load_site_profiles(REPO / "config" / "sites.toml")
NONE = SiteProfiles()

FIRST = "Officials from both countries met quietly in a third country last month"
LAST = "Analysts said the contacts followed a familiar pattern"
# Page furniture in every fixture; on-topic words so that a leak would cause false matches.
FURNITURE = [
    "Trending: backchannel talks stall",
    "quiet history of India-Pakistan backchannel",
    "decades of secret envoys",
    "Sign up for our morning briefing",
    "Reader Asif",
    "Share on Facebook",
    "Copyright 2026 Example Media",
    "Pakistan\nWorld",
]

SITE_URLS = {
    "dawn": "https://www.dawn.com/news/1900001/pakistan-india-held-secret-talks",
    "tribune": "https://tribune.com.pk/story/2500001/envoys-meet-in-doha",
    "geo": "https://www.geo.tv/latest/600001-pakistan-welcomes-dialogue-offer",
    "thenews": "https://www.thenews.com.pk/print/1300001-talks-resume-quietly",
    "thehindu": "https://www.thehindu.com/news/national/india-pakistan/article70000001.ece",
    "toi": "https://timesofindia.indiatimes.com/india/pak-envoy/articleshow/120000001.cms",
    "hindustantimes": "https://www.hindustantimes.com/india-news/backchannel-101700000000001.html",
    "indianexpress": "https://indianexpress.com/article/explained/envoy-channel-9800001/",
    "ndtv": "https://www.ndtv.com/india-news/secret-talks-between-india-pak-envoys-7000001",
    "aljazeera": "https://www.aljazeera.com/news/2026/3/4/india-and-pakistan-hold-talks",
    "bbc": "https://www.bbc.com/news/articles/c0000000001o",
}


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.html").read_text(encoding="utf-8")


def test_every_profile_has_a_fixture() -> None:
    names = {p.name for p in PROFILES.profiles}
    assert names == set(SITE_URLS)
    for profile in PROFILES.profiles:
        assert profile.verified is not None and profile.version


@pytest.mark.parametrize("site", sorted(SITE_URLS))
def test_profile_extracts_body_without_furniture(site: str) -> None:
    article = extract(fixture(site), SITE_URLS[site], profiles=PROFILES)
    assert article.method == f"profile:{site}"
    assert article.site == site
    paragraphs = article.text.split("\n")
    assert paragraphs[0].startswith(FIRST.split(" last")[0])
    assert paragraphs[-1].startswith(LAST)
    assert len(paragraphs) == 4
    for junk in FURNITURE:
        assert junk not in article.text
    assert article.title and article.title not in article.text
    assert "Advertisement" not in article.text


def test_profile_subdomains_and_bbc_languages() -> None:
    assert PROFILES.for_url("https://urdu.bbc.co.uk/x").name == "bbc"  # type: ignore[union-attr]
    assert PROFILES.for_url("https://m.dawn.com/news/1") is not None
    assert PROFILES.for_url("https://notdawn.com/news/1") is None
    assert PROFILES.for_url("not a url") is None


def test_dawn_soft_hyphens_and_metadata() -> None:
    article = extract(fixture("dawn"), SITE_URLS["dawn"], profiles=PROFILES)
    assert "\u00ad" not in article.text
    assert "backchannel was kept so secret" in article.text
    assert "Other Columnist" not in article.text  # sidebar byline
    assert "Baqir Sajjad Syed" not in article.text
    assert article.authors == ["Baqir Sajjad Syed"]
    assert article.published == datetime(2026, 3, 2, 4, 15, tzinfo=UTC)
    assert article.published.tzinfo is not None
    assert article.language == "en"


def test_profile_metadata_fallback_selectors() -> None:
    html = fixture("dawn").replace('<script type="application/ld+json">', '<script type="x">')
    article = extract(html, SITE_URLS["dawn"], profiles=PROFILES)
    assert article.authors == ["Baqir Sajjad Syed"]  # from `byline` selector
    assert article.published == datetime(2026, 3, 2, 4, 15, tzinfo=UTC)  # `date` title attr


def test_layout_change_falls_through_to_generic() -> None:
    html = fixture("dawn").replace("story__content", "story-body-v2")
    article = extract(html, SITE_URLS["dawn"], profiles=PROFILES)
    assert article.method == "generic"
    assert FIRST in article.text
    assert "Reader Asif" not in article.text


def test_bbc_urdu_and_hindi_keep_script_joiners() -> None:
    urdu = extract(fixture("bbc_urdu"), "https://www.bbc.com/urdu/articles/c1", profiles=PROFILES)
    assert urdu.method == "profile:bbc"
    assert "بیک چینل" in urdu.text
    assert "می\u200cخواہند" in urdu.text  # ZWNJ between Arabic-script letters kept
    assert urdu.language == "ur"
    hindi = extract(fixture("bbc_hindi"), "https://www.bbc.com/hindi/articles/c2", profiles=PROFILES)
    assert "बैकचैनल" in hindi.text and "क्\u200dष" in hindi.text
    assert hindi.published == datetime(2026, 3, 5, 4, 30, tzinfo=UTC)


def test_clean_paragraph_invisible_characters() -> None:
    assert clean_paragraph("back\u00adchan\u200bnel\u2060 talks\ufeff") == "backchannel talks"
    assert clean_paragraph("back\u200cchannel  and\u200dtalks") == "backchannel andtalks"
    assert clean_paragraph("می\u200cخواهم") == "می\u200cخواهم"
    assert clean_paragraph("  a\u00a0\t b \n c  ") == "a b c"
    assert clean_paragraph("Tom &amp;amp; Jerry &quot;x&quot;") == 'Tom &amp; Jerry "x"'


JSON_LD_PAGE = """<html lang="en-GB"><head><title>T | Site</title>
<link rel="canonical" href="/world/secret-talks">
<meta property="article:published_time" content="2026-01-01T00:00:00Z">
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[
 {"@type":"WebSite","name":"Example"},
 {"@type":["NewsArticle"],"headline":"Secret talks &amp; more","datePublished":"2026-02-01T10:00:00+05:00",
  "dateModified":"2026-02-02T10:00:00+05:00","author":[{"@type":"Person","name":"By Jane Roe"},{"name":"John Doe"}],
  "description":"Short","articleBody":"%s"}]}</script></head>
<body><h1>Secret talks</h1><nav><a href="/">Home</a></nav><p>Teaser only.</p></body></html>"""


def test_json_ld_article_body_and_metadata() -> None:
    body = "Envoys met in secret to discuss the backchannel. " * 8
    article = extract(JSON_LD_PAGE % body, "https://example.com/a", profiles=NONE)
    assert article.method == "json-ld"
    assert article.text.startswith("Envoys met in secret")
    assert article.title == "Secret talks & more"
    assert article.authors == ["Jane Roe", "John Doe"]
    assert article.published == datetime(2026, 2, 1, 5, tzinfo=UTC)
    assert article.updated == datetime(2026, 2, 2, 5, tzinfo=UTC)
    assert article.canonical_url == "https://example.com/world/secret-talks"
    assert article.language == "en-GB"
    assert article.description == "Short"


def test_json_ld_teaser_is_not_plausible() -> None:
    article = extract(JSON_LD_PAGE % "Envoys met in secret…", "https://example.com/a", profiles=NONE)
    assert article.method != "json-ld"


def test_a_truncated_article_body_gives_way_to_the_whole_story_on_the_page() -> None:
    paragraphs = [
        f"Envoys met in secret for the {n} time to discuss the backchannel, officials said on Monday."
        for n in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")
    ]
    cut = " ".join(paragraphs[:3])  # the publisher's articleBody stops after three paragraphs
    page = JSON_LD_PAGE % cut
    page = page.replace("<p>Teaser only.</p>", "<article>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>")
    article = extract(page, "https://example.com/a", profiles=NONE)
    assert article.method == "generic"
    assert article.text.split("\n") == paragraphs


def test_a_whole_article_body_wins_over_a_page_that_holds_other_text() -> None:
    body = "Envoys met in secret to discuss the backchannel. " * 8
    other = "".join(f"<p>An unrelated story number {n} fills the page with other prose about the weather.</p>"
                    for n in range(12))
    page = (JSON_LD_PAGE % body).replace("<p>Teaser only.</p>", f"<article>{other}</article>")
    article = extract(page, "https://example.com/a", profiles=NONE)
    assert article.method == "json-ld"
    assert article.text.startswith("Envoys met in secret")


GENERIC_PAGE = """<!doctype html><html><head><title>Border trade to reopen - Example Times</title>
<meta property="og:title" content="Border trade to reopen"></head><body>
<div id="page"><header><a href="/">Example Times</a><ul class="menu"><li><a href="/a">India</a></li>
<li><a href="/b">Pakistan</a></li></ul></header>
<div class="layout"><div class="main-column"><article>
<h1>Border trade to reopen</h1><p class="byline">By Staff Reporter</p><p class="dateline">March 9, 2026</p>
<div class="social-share"><a href="#">Tweet</a><a href="#">Share</a></div>
<div class="entry-content">
<p>Trade through the land border will reopen next week after a two-year closure, officials in both capitals said on Monday.</p>
<p>The decision followed months of quiet contacts, described by one official as a backchannel that neither government wanted to acknowledge publicly.</p>
<h2>What changes</h2>
<p>Trucks carrying fruit, cement and pharmaceuticals will be allowed to cross on weekdays, and traders will need new permits from the commerce ministry.</p>
<figure><img src="a.jpg"><figcaption>Trucks wait at the crossing in 2024.</figcaption></figure>
<p>Business groups welcomed the move but warned that the permit system could slow the first shipments considerably.</p>
<div class="related-links"><h4>Related</h4><ul><li><a href="/x">Backchannel diplomacy: a history</a></li><li><a href="/y">Trade figures for 2025</a></li></ul></div>
</div></article>
<div id="comments"><h3>3 comments</h3><p>Commenter: The backchannel should have been public from the start, this is long overdue.</p></div>
</div><aside class="sidebar"><h3>Most read</h3><p><a href="/m">Backchannel talks collapse</a> and other stories that readers followed this week in great numbers.</p></aside></div>
<footer><p>About us. Contact. Terms. Example Times 2026, all rights reserved for everything.</p></footer></div>
</body></html>"""


def test_generic_extraction_keeps_paragraphs_and_drops_furniture() -> None:
    article = extract(GENERIC_PAGE, "https://example.com/2026/03/09/border-trade", profiles=NONE)
    assert article.method == "generic"
    lines = article.text.split("\n")
    assert lines[0].startswith("Trade through the land border")
    assert "What changes" in lines
    assert lines[-1].startswith("Business groups welcomed")
    for junk in ("By Staff Reporter", "Border trade to reopen", "Tweet", "Trucks wait",
                 "a history", "Commenter", "Most read", "collapse", "rights reserved", "India"):
        assert junk not in article.text
    assert article.published == datetime(2026, 3, 9, tzinfo=UTC)  # from the URL
    assert article.title == "Border trade to reopen"


def test_default_profiles_are_used_when_none_given() -> None:
    article = extract(fixture("tribune"), SITE_URLS["tribune"])
    assert article.method == "profile:tribune"


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("پاکستان بيک چينل".encode("cp1256"), "text/html; charset=windows-1256", "پاکستان بيک چينل"),
        (b'<meta charset="windows-1256">' + "اردو خبر".encode("cp1256"), None, "اردو خبر"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">caf\xe9 \x93q\x94', None, "café “q”"),
        ("caf\u00e9".encode("cp1252"), "text/html; charset=ISO-8859-1", "café"),
        ("\ufeffहिंदी समाचार".encode(), "text/html; charset=iso-8859-1", "हिंदी समाचार"),
        ("हिंदी समाचार बैकचैनल वार्ता".encode(), None, "हिंदी समाचार बैकचैनल वार्ता"),
        ("utf-8 ok é".encode(), "text/html; charset=utf-8", "utf-8 ok é"),
        (
            ("<p>Le café était très animé, déjà plein à midi; à côté, une élève lisait. " * 3).encode("cp1252"),
            "text/html; charset=utf-8",  # mislabelled: the bytes are not UTF-8
            "Le café était très animé, déjà plein à midi",
        ),
    ],
)
def test_decode_html(body: bytes, content_type: str | None, expected: str) -> None:
    assert expected in decode_html(body, content_type)


def test_extract_from_legacy_bytes() -> None:
    html = (
        '<html lang="ur"><head><meta charset="windows-1256"></head><body><article>'
        # windows-1256 has Arabic yeh (U+064A) but not Farsi yeh: legacy Urdu pages use it
        + "<p>پاکستان اور انڈيا کے درميان بيک چينل رابطے جاري ہيں اور دونوں ممالک کے حکام نے ملاقات کي.</p>" * 5
        + "</article></body></html>"
    ).encode("cp1256")
    article = extract(html, "https://example.pk/a", profiles=NONE)
    assert "بيک چينل" in article.text


HOSTILE = {
    "empty": "",
    "spaces": "   \n ",
    "binary": bytes(range(256)) * 400,
    "nul": "<p>\x00\x00" * 1000,
    "truncated": "<html><body><div class='story'><p>Half a para",
    "no_body": "<p>" + "Text without any html or body element. " * 20,
    "deep": "<div>" * 10_000 + "deep text " * 50 + "</div>" * 10_000,
    "deep_unclosed": "<span><div>" * 10_000,
    "huge": "<html><body>" + "<div><p>" + "word " * 200 + "</p><a href='#'>x</a></div>" * 9_000,
    "table_soup": "<table>" * 3_000 + "<td>cell" * 3_000,
    "bad_json_ld": '<script type="application/ld+json">{"@type": "NewsArticle", "articleBody": [1,</script>',
    "nested_json_ld": '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>",
    "comment_only": "<!--" * 1000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_never_raises(name: str) -> None:
    start = time.perf_counter()
    article = extract(HOSTILE[name], "https://www.dawn.com/news/1", profiles=PROFILES)
    assert time.perf_counter() - start < 2.0
    assert isinstance(article.text, str)
    assert article.method in ("none", "generic", "json-ld", "profile:dawn")


def test_hostile_url_and_types_never_raise() -> None:
    assert extract("<p>x</p>", "http://[::1").method in ("none", "generic")
    assert extract(b"", "").text == ""


def test_load_site_profiles_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "sites.toml"
    bad.write_text(
        """
[sites.dawn]
domains = ["dawn.com"]
body = "div.story__content p["
drop = ["[class='story__content text-4']"]
verified = "soon"
colour = "blue"

[sites.copy]
domains = ["dawn.com", "not a host"]

[sites.ok]
domains = ["ok.example"]
body = ["article p"]
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_site_profiles(bad)
    problems = err.value.problems
    assert all(p.startswith(f"{bad}: sites.") for p in problems)
    text = "\n".join(problems)
    assert "sites.dawn.body: invalid CSS selector" in text
    assert "sites.dawn.drop[0]: matches the whole class attribute" in text
    assert "sites.dawn.verified: expected a date" in text
    assert "sites.dawn.colour: unknown key" in text
    assert "sites.copy.body: required key is missing" in text
    assert "sites.copy.domains[1]: not a host name" in text


def test_load_site_profiles_syntax_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_site_profiles(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[sites.x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        load_site_profiles(broken)


def _shared_dir() -> Path:
    env = os.environ.get("NEWSWATCH_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.mark.shared
def test_generic_mode_f1_on_extraction_bench_dev() -> None:
    """Regression guard (not the benchmark: see bench/extract.py): generic mode F1 ≥ 0.90."""
    bench = _shared_dir() / "extraction-bench"
    if not (bench / "dev" / "ground-truth.json").is_file() or not (bench / "score.py").is_file():
        pytest.skip(f"extraction benchmark not found at {bench} (set NEWSWATCH_SHARED)")
    spec = importlib.util.spec_from_file_location("bench_score", bench / "score.py")
    assert spec is not None and spec.loader is not None
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    truth = json.loads((bench / "dev" / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items()):
        html = gzip.decompress((bench / "dev" / "html" / f"{page_id}.html.gz").read_bytes())
        text = extract(html.decode("utf-8"), item.get("url", ""), profiles=NONE).text
        pages.append(scorer.page_scores(item.get("articleBody", ""), text))
    result = scorer.aggregate(pages)
    assert result["f1"] >= 0.90, result
    assert result["precision"] >= 0.90, result
