"""Reviewers have names: per-reviewer tokens from `[review.users]`, marks that record who, a filter by reviewer.

The real app (TestClient) over a real SQLite database; tokens hashed with the same
`crawler.reviewers.hash_secret` that `newswatch users add` writes to the config.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crawler.reviewers import TOKEN_REVIEWER, hash_secret, local_user, verify_secret
from crawler.runtime import Runtime
from crawler.settings import LoadedConfig
from crawler.web import create_app
from storage import ReviewFilter, Store
from tests.test_web import TOKEN, world  # noqa: F401 - the shared filled database

ALICE, BOB = "alice-token-0123456789", "bob-token-9876543210"


def test_hash_and_verify() -> None:
    stored = hash_secret(ALICE)
    assert stored.startswith("scrypt$") and ALICE not in stored
    assert verify_secret(ALICE, stored) and not verify_secret(BOB, stored)
    assert hash_secret(ALICE) != stored  # salted
    assert not verify_secret(ALICE, "scrypt$99999999$8$1$AAAA$AAAA")  # a hostile cost is refused, not run
    assert not verify_secret(ALICE, "plain")


@pytest.fixture(scope="module")
def users_app(world) -> Iterator[tuple[TestClient, Store]]:  # noqa: F811
    runtime, store, _, _ = world
    cfg = runtime.config.settings.model_copy(deep=True)
    cfg.review.token = TOKEN
    cfg.review.users = {"alice": hash_secret(ALICE), "bob": hash_secret(BOB)}
    app = create_app(LoadedConfig(settings=cfg, path=runtime.config.path), store, runtime.rules.topics)
    with TestClient(app, base_url="http://review.example.org") as c:
        yield c, store


def _login(c: TestClient, name: str, token: str) -> TestClient:
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    res = c.post("/login", data={"name": name, "password": token, "csrf_token": csrf}, follow_redirects=False)
    assert res.status_code == 303, res.text
    return c


def _csrf(c: TestClient) -> str:
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', c.get("/").text).group(1)


def test_each_mark_records_who_made_it(users_app) -> None:
    c, store = users_app
    rows = store.review_page(ReviewFilter(state="unreviewed"), limit=4).rows
    ids = list(dict.fromkeys(r.id for r in rows))[:3]
    app = c.app
    with TestClient(app, base_url="http://review.example.org") as a, \
            TestClient(app, base_url="http://review.example.org") as b:
        _login(a, "alice", ALICE)
        _login(b, "bob", BOB)
        assert "alice" in a.get("/").text and "bob" in b.get("/").text  # the top bar says who is logged in
        assert a.post(f"/articles/{ids[0]}/mark", data={"state": "relevant", "csrf_token": _csrf(a)},
                      headers={"Accept": "application/json"}).status_code == 200
        assert b.post(f"/articles/{ids[1]}/mark", data={"state": "irrelevant", "csrf_token": _csrf(b)},
                      headers={"Accept": "application/json"}).status_code == 200
        # the API with a reviewer's own bearer token, `name:token`, and with the shared token
        assert c.post(f"/api/articles/{ids[2]}/mark", json={"state": "relevant"},
                      headers={"Authorization": f"Bearer bob:{BOB}"}).status_code == 200
        try:
            by = {r.id: r.reviewed_by for r in store.review_page(ReviewFilter(state="all"), limit=None).rows
                  if r.id in ids}
            assert by == {ids[0]: "alice", ids[1]: "bob", ids[2]: "bob"}
            listed = a.get("/api/articles", params={"state": "all", "reviewer": "bob"}).json()
            assert {i["id"] for i in listed["items"]} == {ids[1], ids[2]}
            assert all(i["reviewed_by"] == "bob" for i in listed["items"])
            page = a.get("/", params={"state": "all", "reviewer": "alice"}).text
            assert re.findall(r'data-id="(\d+)"', page) == [str(ids[0])]
            assert c.post(f"/api/articles/{ids[2]}/mark", json={"state": "irrelevant"},
                          headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            assert store.get_article(ids[2]).matches[0].reviewed_by == TOKEN_REVIEWER
        finally:
            for i in ids:
                store.mark(i, "unreviewed")


def test_wrong_or_other_reviewers_token_is_refused(users_app) -> None:
    c, _ = users_app
    assert c.get("/api/articles", headers={"Authorization": f"Bearer alice:{BOB}"}).status_code == 401
    assert c.get("/api/articles", headers={"Authorization": f"Bearer {BOB}"}).status_code == 200
    assert c.get("/feed.atom", auth=("alice", ALICE)).status_code == 200
    assert c.get("/feed.atom", auth=("alice", BOB)).status_code == 401
    page = c.get("/login")
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    bad = c.post("/login", data={"name": "alice", "password": BOB, "csrf_token": csrf})
    assert bad.status_code == 401


def test_login_page_shows_no_backlog_count(users_app) -> None:
    c, store = users_app
    assert store.review_counts()["unreviewed"] > 0
    html = TestClient(c.app, base_url="http://review.example.org").get("/login").text
    assert 'class="pill"' not in html


def test_loopback_without_tokens_records_the_local_user(world) -> None:  # noqa: F811
    runtime, store, sample, _ = world
    with TestClient(create_app(runtime.config, store, runtime.rules.topics), base_url="http://127.0.0.1") as c:
        aid = sample.flagged[5]
        res = c.post(f"/api/articles/{aid}/mark", json={"state": "relevant"}, headers={"X-CSRF-Token": _csrf(c)})
        assert res.status_code == 200
        try:
            assert store.get_article(aid).matches[0].reviewed_by == local_user()
        finally:
            store.mark(aid, "unreviewed")


def test_users_in_config_must_be_hashed(tmp_path: Path) -> None:
    from crawler.settings import ConfigError, load_settings

    cfg = tmp_path / "newswatch.toml"
    cfg.write_text('[review.users]\nalice = "plain-text-token"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    problems = " ".join(exc.value.problems)
    assert "review.users" in problems and "newswatch users add alice" in problems


_ = Runtime  # the fixture's type
