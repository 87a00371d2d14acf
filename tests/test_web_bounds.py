"""Every integer in a path or query of the review app is bounded: never a 500.

Walks the app's own route table, so a route added later is covered without editing
this file: each integer path parameter and each integer query parameter gets a value
past 64 bits, a negative one and a word; the answer must be 404 or 422.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from crawler.runtime import Runtime, load_runtime
from crawler.web import create_app
from storage import Store
from tests.test_web import BASE, TOKEN, _config

BAD_INTS = ("99999999999999999999999", str(2**63), "-1", "-99999999999999999999", "abc")


@pytest.fixture(scope="module")
def app_and_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, TestClient]]:
    tmp: Path = tmp_path_factory.mktemp("bounds")
    runtime: Runtime = load_runtime(_config(tmp, token=TOKEN))
    store = Store.open(runtime.config.storage_url())
    app = create_app(runtime.config, store, runtime.rules.topics)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield app, c
    store.close()


def _int_params(route: APIRoute) -> tuple[list[str], list[str]]:
    dep = route.dependant
    path = [p.name for p in dep.path_params if p.field_info.annotation is int]
    query = [p.name for p in _all_query(dep) if p.field_info.annotation is int]
    return path, query


def _all_query(dep) -> list:  # type: ignore[no-untyped-def]
    found = list(dep.query_params)
    for sub in dep.dependencies:
        found += _all_query(sub)
    return found


def _api_routes(routes) -> Iterator[APIRoute]:  # type: ignore[no-untyped-def]
    """The app's endpoints, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _cases(app) -> list[tuple[str, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    cases = []
    for route in _api_routes(app.routes):
        path_ints, query_ints = _int_params(route)
        method = sorted(route.methods - {"HEAD"})[0]
        required = {p.name: "x" for p in _all_query(route.dependant) if p.field_info.is_required() and p.name not in query_ints}
        for bad in BAD_INTS:
            for name in path_ints:
                url = re.sub(r"\{(\w+)\}", lambda m, n=name, b=bad: b if m.group(1) == n else "1", route.path)
                cases.append((method, url, required))
            for name in query_ints:
                url = re.sub(r"\{\w+\}", "1", route.path)
                cases.append((method, url, {**required, name: bad}))
    return cases


def test_the_route_table_has_integer_parameters(app_and_client) -> None:
    app, _ = app_and_client
    covered = {url.split("?")[0] for _, url, _ in _cases(app)}
    assert "/articles/99999999999999999999999" in covered
    assert any(u.startswith("/api/search") for u in covered)
    assert len(_cases(app)) >= 40


def test_huge_negative_or_non_numeric_integers_are_404_or_422(app_and_client) -> None:
    app, client = app_and_client
    failures = []
    for method, url, params in _cases(app):
        body = {"state": "relevant"} if method == "POST" else None
        res = client.request(method, url, params=params, json=body)
        if res.status_code not in (404, 422):
            failures.append(f"{method} {url} {params} -> {res.status_code}")
    assert not failures, "\n".join(failures)


def test_a_page_asked_for_a_huge_id_shows_the_error_page(app_and_client) -> None:
    _, client = app_and_client
    res = client.get("/articles/99999999999999999999999", headers={"Accept": "text/html"})
    assert res.status_code == 422
    assert "text/html" in res.headers["content-type"] and "article_id" in res.text
    assert client.get("/api/search", params={"q": "x", "offset": "99999999999999999999999"}).json()["detail"]
