"""Site profiles: the article's own element, `drop` without side effects, staleness, fallbacks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from crawler.extract import (
    SiteProfile,
    SiteProfiles,
    extract,
    extract_page,
    load_site_profiles,
    stale_profiles,
)

URL = "https://news.example.com/2026/03/talks"
LEAD = "Envoys from both capitals met in a third country and agreed to meet again next month."
MORE = "Officials on both sides described the talks as useful and said trade would be discussed."
CARD = "Related: a teaser for yesterday's story about an entirely different subject."


def _profiles(**fields: object) -> SiteProfiles:
    profile = SiteProfile(name="example", domains=("example.com",), **fields)  # type: ignore[arg-type]
    return SiteProfiles([profile])


def test_a_second_card_with_the_body_class_does_not_leak() -> None:
    html = f"""<html><body><main><div class="story"><p>{LEAD}</p><p>{MORE}</p></div></main>
    <aside><div class="story"><p>{CARD}</p></div></aside></body></html>"""
    article = extract(html, URL, profiles=_profiles(body=(".story",), min_chars=20))
    assert article.method == "profile:example"
    assert LEAD in article.text and MORE in article.text
    assert "teaser" not in article.text


def test_a_body_split_into_sibling_blocks_is_taken_whole() -> None:
    html = f"""<html><body><article><div class="block"><p>{LEAD}</p></div><div class="ad">x</div>
    <div class="block"><p>{MORE}</p></div></article></body></html>"""
    article = extract(html, URL, profiles=_profiles(body=(".block",), min_chars=20))
    assert article.text.split("\n") == [LEAD, MORE]


def test_drop_edits_only_the_profiles_own_result() -> None:
    # The profile's body is too short, so it fails; the generic extractor must still see
    # the paragraph that the profile's `drop` names.
    html = f"""<html><body><article><div class="kicker">Diplomacy</div>
    <p class="lead">{LEAD}</p><p>{MORE}</p><p>{MORE.replace("trade", "visas")}</p>
    <p>{LEAD.replace("next month", "in spring")}</p></article></body></html>"""
    profiles = _profiles(body=(".kicker",), drop=(".lead",), min_chars=150)
    result = extract_page(html, URL, profiles=profiles)
    assert result.article.method == "generic"
    assert LEAD in result.article.text
    assert result.profile_failed == "example"
    assert result.article.site == "example"


def test_drop_still_applies_inside_the_body() -> None:
    html = f"""<html><body><div class="story"><p>{LEAD}</p><p class="promo">Buy our app now,
    it is the best app</p><p>{MORE}</p></div></body></html>"""
    result = extract_page(html, URL, profiles=_profiles(body=(".story",), drop=(".promo",), min_chars=20))
    assert result.article.text.split("\n") == [LEAD, MORE]
    assert result.profile_failed is None


def test_no_profile_means_nothing_failed() -> None:
    result = extract_page(f"<html><body><p>{LEAD} {MORE}</p></body></html>", "https://other.example/a")
    assert result.profile_failed is None
    assert LEAD in result.article.text


def test_stale_profiles_are_those_past_verified_plus_the_allowed_age(tmp_path: Path) -> None:
    sites = tmp_path / "sites.toml"
    sites.write_text(
        """
[sites.fresh]
domains = ["fresh.example"]
body = ".body"
verified = 2026-06-01

[sites.old]
domains = ["old.example"]
body = ".body"
verified = 2025-01-15

[sites.never]
domains = ["never.example"]
body = ".body"
""",
        encoding="utf-8",
    )
    profiles = load_site_profiles(sites)
    stale = stale_profiles(profiles, dt.date(2026, 7, 1), dt.timedelta(days=180))
    assert [(s.name, s.verified, s.due) for s in stale] == [
        ("never", None, None),
        ("old", dt.date(2025, 1, 15), dt.date(2025, 7, 14)),
    ]
    assert [s.name for s in stale_profiles(profiles, dt.date(2027, 1, 1), dt.timedelta(days=180))] == [
        "fresh", "never", "old",
    ]
    # on the last allowed day a profile is not yet stale
    assert "fresh" not in [s.name for s in stale_profiles(profiles, dt.date(2026, 11, 28), dt.timedelta(days=180))]
