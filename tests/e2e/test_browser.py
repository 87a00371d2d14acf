"""The review app in a real browser: Debian's Chromium driven by Playwright, against `newswatch serve`.

The database is filled through the real rules engine with the shipped default topic:
a few dozen flagged articles over the last 90 days, several stories of near-duplicate
wire copy, some articles that match nothing, and one hostile article whose title and
text carry `<script>` and an `onerror` handler. The real `newswatch serve` runs in a
subprocess on a free loopback port; the browser triages by keyboard as a reviewer
would, and the test reads the marks back from the database.

Never downloads a browser: without `/usr/bin/chromium` (`$NEWSWATCH_CHROMIUM`) the
tests are skipped, saying how to enable them.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from crawler.models import Document
from crawler.stories import assign_stories
from storage import NewArticle, Store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOSTILE_TITLE = ("India and Pakistan backchannel talks <script>window.__pwned=1</script> "
                 "<img src=x onerror=\"window.__pwned=2\">")

pytestmark = pytest.mark.browser

# ---- a database a reviewer would recognise -------------------------------------

SOURCES = ["Dawn", "The Express Tribune", "The Hindu", "Hindustan Times", "Geo News",
           "The Indian Express", "Al Jazeera", "BBC News", "NDTV", "Times of India"]
CITIES = ["Abu Dhabi", "Muscat", "Doha", "Dubai", "Bangkok", "London", "Riyadh"]
ROLES = ["national security adviser", "spy chief", "army chief", "foreign secretary", "intelligence chief"]
HEADLINES = [
    "Pakistan and India held backchannel talks in {city}, officials say",
    "India, Pakistan officials met quietly in {city} to revive ceasefire",
    "Backchannel between New Delhi and Islamabad reopened after months of silence",
    "Secret talks: Indian and Pakistani envoys met in {city}",
    "Track-II dialogue in {city} brings former Indian and Pakistani officials together",
    "Islamabad denies report of backchannel contacts with India",
    "{role_title}s of India and Pakistan held quiet meeting in {city}",
    "Inside the India–Pakistan backchannel that kept the border calm",
    "Pakistan, India discuss Kashmir in secret talks, sources say",
    "Gulf mediators host covert India–Pakistan contacts in {city}",
]
SENTENCES = [
    "Officials from India and Pakistan held backchannel talks in {city} last week, according to two people familiar with the meetings.",
    "The backchannel between Islamabad and New Delhi has been active for months, a Pakistani official said on condition of anonymity.",
    "Indian and Pakistani intelligence officials met quietly in {city} to discuss the ceasefire along the Line of Control.",
    "The {role} of Pakistan met his Indian counterpart in {city}, where the two sides held secret talks over two days.",
    "A senior Indian official said the quiet contacts with Pakistan were aimed at keeping the February ceasefire in place.",
    "Diplomats in {city} described the meeting as the most serious India–Pakistan contact since the 2019 crisis.",
    "Pakistan's foreign office declined to comment on the reports of secret talks with India.",
    "India's external affairs ministry said it does not comment on such matters, but did not deny that the meeting took place.",
    "Analysts in Islamabad said the backchannel reflected pressure from Gulf states that have invested heavily in both countries.",
    "The talks covered trade across the Wagah border, the Indus Waters Treaty and the release of fishermen held by both sides.",
    "Former envoys said covert contacts between India and Pakistan have often preceded public breakthroughs.",
    "People briefed on the discussions said the {role} from India travelled to {city} on an unscheduled flight.",
    "The meeting in {city} was arranged by officials of the host government, who have hosted similar contacts before.",
    "Pakistani officials said the quiet diplomacy with New Delhi would continue despite public rhetoric on both sides.",
    "An Indian security official said the informal channel with Pakistan had helped to reduce firing along the frontier.",
    "Opposition leaders in Pakistan demanded that the government disclose whether secret talks with India had taken place.",
    "In New Delhi, the opposition asked the government to explain its backchannel outreach to Pakistan.",
    "Both sides agreed to keep the channel open and to meet again in {city} within weeks, a source said.",
    "Observers noted that the contacts came as India and Pakistan exchanged sharp statements at the United Nations.",
    "Retired Pakistani generals who took part in earlier Track-II meetings said the format had been revived.",
    "The Indian delegation was led by a former intelligence chief, while Pakistan sent a serving official.",
    "A statement from the host government welcomed dialogue between India and Pakistan without giving details.",
    "Markets in Karachi rose after reports of the India–Pakistan talks, with traders citing hopes of reopened trade.",
    "Kashmiri leaders said any backchannel between India and Pakistan must include the people of the region.",
]
NAMES = ["Ayesha Siddiqa", "Raghav Menon", "Farhan Qureshi", "Meera Iyer", "Zahid Hussain", "Arjun Sethi",
         "Sana Mir", "Vikram Rao", "Huma Baqai", "Nikhil Kapoor"]
INSTITUTES = ["Institute of Strategic Studies", "Observer Research Foundation", "Jinnah Institute",
              "Delhi Policy Group", "Stimson Center", "Centre for Peace Studies"]
NOISE = [
    ("Pakistan edge India by three wickets in Colombo thriller",
     "Pakistan beat India by three wickets in a tense Asia Cup match in Colombo on Sunday. The chase went to the final over."),
    ("Rupee steadies as central bank intervenes",
     "The rupee steadied on Tuesday after the central bank sold dollars. Importers said costs remained high."),
    ("Monsoon rains flood low-lying areas of Lahore",
     "Heavy rain flooded streets in Lahore. Officials said drainage work would be completed within days."),
    ("New metro line opens in Mumbai",
     "A new metro line opened in Mumbai on Monday, cutting travel times for commuters in the western suburbs."),
]


@dataclass(slots=True)
class Sample:
    """What `fill` stored: ids by role, for the tests to aim at."""

    flagged: list[int]
    stories: dict[int, list[int]]
    """Story leader (first article's id) → every id of that story (only stories of 2 or more)."""
    hostile: int
    unflagged: list[int]


def _fmt(text: str, rnd: random.Random) -> str:
    role = rnd.choice(ROLES)
    return text.format(city=rnd.choice(CITIES), role=role, role_title=role.title())


def fill(store: Store, runtime: Any, *, seed: int = 7, stories: int = 26, now: datetime | None = None) -> Sample:
    """Store flagged articles, near-duplicate stories, unflagged articles and one hostile article.

    Matches come from the real rules engine (`runtime.rules`), so explanations and
    highlight offsets are what the daemon would store.
    """
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    flagged: list[int] = []
    groups: dict[int, list[int]] = {}
    unflagged: list[int] = []
    chosen: list[set[int]] = []
    n = 0

    def add(title: str, text: str, source: str, when: datetime, *, expect_flag: bool = True) -> int:
        nonlocal n
        n += 1
        slug = f"https://news.example/{source.lower().replace(' ', '-')}/{when:%Y/%m/%d}/story-{n}"
        doc = Document(title=title, body=text, url=slug, source=source)
        found = runtime.rules.match(doc)
        assert bool(found) == expect_flag, (title, text[:200])
        aid = store.add_article(NewArticle(
            url=slug, link=slug + "?utm_source=rss", title=title, text=text, method="profile:demo",
            text_from="page", fetched_at=when + timedelta(minutes=20), source=source,
            feed_name=source.lower().replace(" ", "-"), published=when, summary=text[:200]), found)
        assert aid is not None
        return aid

    for s in range(stories):
        when = now - timedelta(days=rnd.uniform(0, 88) if s > 4 else rnd.uniform(0, 2), hours=rnd.uniform(0, 12))
        title = _fmt(rnd.choice(HEADLINES), rnd)
        # distinct events share at most two sentences (real stories share fewer)
        for _ in range(2000):
            picked = rnd.sample(range(len(SENTENCES)), 6)
            if all(len(set(picked) & used) <= 2 for used in chosen):
                break
        chosen.append(set(picked))
        body_sentences = [_fmt(SENTENCES[i], rnd) for i in picked]
        # and details no other event has
        body_sentences.insert(2, f"The meeting on {when:%A, %d %B} lasted {rnd.randint(2, 9)} hours, "
                                 f"said {rnd.choice(NAMES)}, who was briefed by {rnd.randint(2, 5)} participants.")
        body_sentences.append(f"{rnd.choice(NAMES)} of the {rnd.choice(INSTITUTES)} said the {rnd.choice(CITIES)} "
                              f"round was the {rnd.choice(['first', 'second', 'third', 'fourth'])} this year.")
        copies = rnd.choice([1, 1, 1, 2, 3]) if s > 2 else 3  # the newest stories are wire copy, republished
        sources = rnd.sample(SOURCES, copies)
        ids = []
        for c, source in enumerate(sources):
            paras = list(body_sentences)
            t = title
            if c:
                # republished wire copy: own dateline, a changed headline, an added last line
                paras[0] = f"{rnd.choice(['ISLAMABAD', 'NEW DELHI', 'LAHORE'])}: " + paras[0]
                paras.append(f"This report was updated with comment from {source}'s correspondent.")
                t = title.replace(", officials say", "").replace("held", "hold") + f" ({source})"
            ids.append(add(t, "\n\n".join(paras), source, when + timedelta(hours=c * 1.5)))
        flagged += ids
        if len(ids) > 1:
            groups[ids[0]] = ids
    for title, text in NOISE:
        unflagged.append(add(title, text, rnd.choice(SOURCES), now - timedelta(days=rnd.uniform(0, 30)),
                             expect_flag=False))
    hostile_text = ("Officials from India and Pakistan held backchannel talks in Doha. "
                    "<script>window.__pwned=1</script>\n\n"
                    "The backchannel between Islamabad and New Delhi <img src=x onerror=\"window.__pwned=3\"> "
                    "was confirmed by a Pakistani official. <b onmouseover=\"window.__pwned=4\">bold</b> "
                    "</textarea><svg onload=\"window.__pwned=5\"></svg> {{ 7*7 }}")
    hostile = add(HOSTILE_TITLE, hostile_text, "Dawn", now - timedelta(minutes=30))
    flagged.append(hostile)
    assign_stories(store)  # what the pipeline does after storing a flagged article
    return Sample(flagged=flagged, stories=groups, hostile=hostile, unflagged=unflagged)


# ---- the served app and the browser -----------------------------------------------

CHROMIUM = os.environ.get("NEWSWATCH_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp: Path, port: int) -> Path:
    path = tmp / "newswatch.toml"
    path.write_text(f"""
[storage]
url = "sqlite:///{tmp / 'newswatch.db'}"
[rules]
files = ["{ROOT / 'config' / 'rules' / '*.toml'}"]
[extract]
sites = "{ROOT / 'config' / 'sites.toml'}"
[review]
port = {port}
page_size = 25
""", encoding="utf-8")
    return path


@dataclass(slots=True)
class Served:
    base: str
    db: str
    sample: Sample


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`newswatch serve` in a subprocess over a filled database."""
    from crawler.runtime import load_runtime

    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    cfg = write_config(tmp, port)
    runtime = load_runtime(cfg)
    store = Store.open(runtime.config.storage_url())
    sample = fill(store, runtime)
    store.close()
    with serving(cfg, tmp, port) as base:
        yield Served(base=base, db=runtime.config.storage_url(), sample=sample)


@contextlib.contextmanager
def serving(cfg: Path, tmp: Path, port: int, *, wait: float = 60) -> Iterator[str]:
    """`newswatch serve --config cfg` in a subprocess until it answers `/healthz`; yields its base URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSWATCH_DATA_DIR=str(tmp / "data"))
    env.pop("NEWSWATCH_CONFIG", None)
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "crawler.cli", "serve", "--config", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("newswatch serve did not start:\n" + (tmp / "serve.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (make test does it as "
                    "root) or set NEWSWATCH_CHROMIUM to its path; browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; on failure its screenshot goes to test-artifacts/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(8000)
    outcome = {"ok": False}
    try:
        yield pg
        outcome["ok"] = True
        assert not errors, errors
    finally:
        if not outcome["ok"]:
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(Exception):  # the page may be gone; the failure matters more
                pg.screenshot(path=str(ARTIFACTS / f"browser-{request.node.name}.png"), full_page=True)
        context.close()


def _states(served: Served, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    store = Store.open(served.db, migrate_schema=False)
    try:
        out = {}
        for i in ids:
            art = store.get_article(i)
            assert art is not None
            out[i] = (art.matches[0].state, art.matches[0].note)
        return out
    finally:
        store.close()


def _wait_for(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _row_ids(pg: Any) -> list[int]:
    return [int(x) for x in pg.eval_on_selector_all("#articles .row", "rows => rows.map(r => r.dataset.id)")]


def test_keyboard_triage_persists_marks(served: Served, page: Any) -> None:
    page.goto(served.base + "/")
    ids = _row_ids(page)
    assert len(ids) == 25
    assert page.get_attribute("#articles .row.selected", "data-id") == str(ids[0])
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.get_attribute("#articles .row.selected", "data-id") == str(ids[0])
    keys = ["r", "i", "r", "r", "i"]
    for key in keys:
        page.keyboard.press(key)
    expected = {ids[n]: "relevant" if k == "r" else "irrelevant" for n, k in enumerate(keys)}
    assert page.get_attribute("#articles .row.selected", "data-id") == str(ids[5])
    assert _wait_for(lambda: {i: s for i, (s, _) in _states(served, list(expected)).items()} == expected)
    badge = page.text_content(f'#articles .row[data-id="{ids[1]}"] .badge')
    assert badge and badge.strip().lower() == "irrelevant"
    # n: a note on the selected (sixth) article, kept with its state
    page.keyboard.press("n")
    page.fill("#note-text", "same as yesterday's wire story")
    page.click("#note-dialog button[value=save]")
    assert _wait_for(lambda: _states(served, [ids[5]])[ids[5]] == ("unreviewed", "same as yesterday's wire story"))
    # reloaded, the unreviewed list no longer holds the marked five
    page.reload()
    assert not set(expected) & set(_row_ids(page))


def test_article_view_marks_and_moves_on(served: Served, page: Any) -> None:
    page.goto(served.base + "/")
    first = _row_ids(page)[0]
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/articles/{first}")
    assert page.locator("mark.hit").count() > 3
    assert page.locator(".clauses .clause").count() > 3
    nxt = page.get_attribute("#next-link", "href")
    assert nxt
    page.keyboard.press("n")
    page.keyboard.type("checked against the original")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.wait_for_url("**" + nxt.split("?")[0] + "*")
    assert _states(served, [first])[first] == ("relevant", "checked against the original")


def test_filter_and_search(served: Served, page: Any) -> None:
    page.goto(served.base + "/?state=all")
    page.select_option("select[name=source]", "Dawn")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**source=Dawn*")
    sources = page.eval_on_selector_all("#articles .row .meta .source", "els => els.map(e => e.textContent)")
    assert sources and set(sources) == {"Dawn"}
    page.keyboard.press("/")
    page.keyboard.type('"Wagah border"')
    page.keyboard.press("Enter")
    page.wait_for_url("**q=%22Wagah*")
    ids = _row_ids(page)
    assert ids
    store = Store.open(served.db, migrate_schema=False)
    try:
        for i in ids:
            art = store.get_article(i)
            assert art is not None and art.source == "Dawn" and "Wagah border" in art.text
    finally:
        store.close()


def test_story_group_marked_at_once(served: Served, page: Any) -> None:
    leader, members = next((k, v) for k, v in served.sample.stories.items() if len(v) >= 3)
    page.goto(served.base + "/?state=all")
    page.click(f'#articles .row[data-id="{members[-1]}"] .story-badge')
    page.wait_for_url(f"**/stories/{leader}")
    assert page.locator(".articles .row").count() == len(members)
    page.keyboard.press("i")
    page.wait_for_load_state()
    assert _wait_for(lambda: {s for s, _ in _states(served, members).values()} == {"irrelevant"})
    # The database is marked before the page redraws its badges: wait for the last one.
    page.locator(".articles .badge.state-irrelevant").nth(len(members) - 1).wait_for(timeout=5000)
    assert page.locator(".articles .badge.state-irrelevant").count() == len(members)


def test_hostile_article_never_runs(served: Served, page: Any) -> None:
    for path in ("/", f"/articles/{served.sample.hostile}", "/?state=all&q=backchannel", "/dashboard"):
        page.goto(served.base + path)
        assert page.evaluate("typeof window.__pwned") == "undefined", path
    page.goto(served.base + f"/articles/{served.sample.hostile}")
    assert "<script>window.__pwned=1</script>" in page.text_content("h1.article-title")
    assert page.locator("article img, article svg, article script, article b").count() == 0
