"""Reviewing in a real browser (Debian's Chromium, Playwright) against `newswatch serve` with two reviewers.

Two reviewers, each with a token from `[review.users]`, log in in separate browser
contexts and mark the same list by keyboard; the database says who made each mark
and the reviewer filter shows each one's. The near-miss tab lists the unflagged
article that fails a topic by one clause; the nav badge counts down after a keyboard
mark; `/api/docs` renders with no request leaving the app; the top bar fits a phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from crawler.models import Document
from crawler.pipeline import near_misses_of
from crawler.reviewers import hash_secret
from storage import NewArticle, ReviewFilter, Store
from tests.e2e.test_browser import (
    ARTIFACTS,
    Sample,
    _free_port,
    _wait_for,
    browser,
    fill,
    serving,
)
from tests.e2e.test_browser import write_config as _base_config

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the shared Chromium fixture

ALICE, BOB = "alice-browser-token-000111", "bob-browser-token-222333"
NEAR_TEXT = ("Officials in Delhi said the national security advisers held talks in Dubai. "
             "The talks were not announced, and no date was set for another round.")


@dataclass(slots=True)
class Served:
    base: str
    db: str
    sample: Sample
    near_id: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from crawler.runtime import load_runtime

    tmp = tmp_path_factory.mktemp("browser-review")
    port = _free_port()
    cfg = _base_config(tmp, port)
    cfg.write_text(cfg.read_text(encoding="utf-8") + f"""
[review.users]
alice = "{hash_secret(ALICE)}"
bob = "{hash_secret(BOB)}"
""", encoding="utf-8")
    runtime = load_runtime(cfg)
    store = Store.open(runtime.config.storage_url())
    sample = fill(store, runtime, stories=8)
    doc = Document(title="Advisers met in Dubai", body=NEAR_TEXT)
    assert not runtime.rules.match(doc)
    misses = near_misses_of(runtime.rules, doc, set())
    assert misses, "the near-miss text no longer fails the default topic by one clause"
    near_id = store.add_article(NewArticle(
        url="https://news.example/near/1", link="https://news.example/near/1", title=doc.title, text=NEAR_TEXT,
        method="profile:demo", text_from="page", fetched_at=sample_time(), source="Dawn"))
    assert near_id is not None
    store.save_near_misses(near_id, misses, rules_version=runtime.rules.version)
    store.close()
    with serving(cfg, tmp, port) as base:
        yield Served(base=base, db=runtime.config.storage_url(), sample=sample, near_id=near_id)


def sample_time() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _context(browser: Any, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(8000)
    return context


def _login(context: Any, served: Served, name: str, token: str) -> Any:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served.base + "/")
    page.wait_for_url("**/login**")
    assert page.locator(".pill").count() == 0  # no backlog count before logging in
    page.fill("#name", name)
    page.fill("#password", token)
    page.click("form.login button[type=submit]")
    page.wait_for_url(served.base + "/")
    assert page.text_content(".whoami") == name
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _reviewed_by(served: Served) -> dict[int, str | None]:
    store = Store.open(served.db, migrate_schema=False)
    try:
        return {r.id: r.reviewed_by for r in store.review_page(ReviewFilter(state="all"), limit=None).rows}
    finally:
        store.close()


def _row_ids(page: Any) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("#articles .row", "rows => rows.map(r => r.dataset.id)")]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


def test_two_reviewers_mark_the_same_list(served: Served, browser: Any) -> None:
    ca, cb = _context(browser), _context(browser)
    try:
        alice, bob = _login(ca, served, "alice", ALICE), _login(cb, served, "bob", BOB)
        ids = _row_ids(alice)
        assert ids == _row_ids(bob) and len(ids) >= 4
        before = int(alice.text_content("#nav-backlog"))
        alice.keyboard.press("r")  # alice: the first one relevant
        assert _wait_for(lambda: alice.text_content("#nav-backlog") == str(before - 1))  # the badge follows
        assert alice.text_content("#list-total").startswith(str(before - 1))
        bob.keyboard.press("j")
        bob.keyboard.press("i")  # bob: the second one irrelevant
        assert _wait_for(lambda: (lambda by: by.get(ids[0]) == "alice" and by.get(ids[1]) == "bob")(
            _reviewed_by(served)))
        bob.reload()  # bob's list no longer holds either
        assert not {ids[0], ids[1]} & set(_row_ids(bob))
        bob.goto(served.base + "/?state=all&reviewer=alice")
        assert _row_ids(bob) == [ids[0]]
        assert "by alice" in bob.text_content(f'#articles .row[data-id="{ids[0]}"] .meta')
        assert not alice.errors and not bob.errors  # type: ignore[attr-defined]
    finally:
        ca.close()
        cb.close()


def test_near_miss_tab(served: Served, browser: Any) -> None:
    context = _context(browser)
    try:
        page = _login(context, served, "alice", ALICE)
        page.click("a.near-tab")
        page.wait_for_url("**/near-misses")
        assert _row_ids(page) == [served.near_id]
        assert "Failed" in page.text_content(".failed-clause")
        page.keyboard.press("r")
        assert _wait_for(lambda: page.text_content("#list-total").startswith("0 "))
        store = Store.open(served.db, migrate_schema=False)
        try:
            (row,) = store.near_miss_rows(state="relevant")[0]
            assert row.id == served.near_id and row.reviewed_by == "alice"
        finally:
            store.close()
    finally:
        context.close()


def test_api_docs_render_offline(served: Served, browser: Any) -> None:
    context = _context(browser)
    try:
        page = _login(context, served, "bob", BOB)
        outside: list[str] = []
        page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(served.base) else None)
        page.goto(served.base + "/api/docs")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "newswatch review API" in page.text_content(".swagger-ui .info .title")
        assert page.locator(".opblock").count() > 5
        assert outside == []
    finally:
        context.close()


def test_the_top_bar_fits_a_phone(served: Served, browser: Any) -> None:
    context = _context(browser, width=375)
    try:
        page = _login(context, served, "alice", ALICE)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page is {width}px wide on a 375px screen"
        bar = page.locator(".topbar").bounding_box()
        assert bar is not None and bar["width"] <= 375
        _shot(page, "mobile-375.png")
    finally:
        context.close()
