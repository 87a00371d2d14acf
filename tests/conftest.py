"""Shared fixtures: a real loopback HTTP server, real SQLite files, PostgreSQL when available."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _load_services_env() -> None:
    """Read what scripts/test-services.sh found (PostgreSQL URL, Chromium path)."""
    env = ROOT / "test-artifacts" / "services.env"
    if env.is_file():
        for line in env.read_text().splitlines():
            key, _, value = line.partition("=")
            if key and value:
                os.environ.setdefault(key.strip(), value.strip())


_load_services_env()


def shared_dir() -> Path | None:
    """The project's shared data (`../shared`), or `$NEWSWATCH_SHARED`; None on a user's clone."""
    raw = os.environ.get("NEWSWATCH_SHARED")
    path = Path(raw) if raw else ROOT.parent / "shared"
    return path if path.is_dir() else None


@pytest.fixture
def shared() -> Path:
    path = shared_dir()
    if path is None:
        pytest.skip("../shared is absent (it exists only in the project's workspace and CI)")
    return path


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newswatch.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A clean PostgreSQL database for one test (schema dropped before and after)."""
    url = os.environ.get("NEWSWATCH_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL: run `make test` as root or set NEWSWATCH_TEST_PG_URL")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)

    def reset() -> None:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))

    reset()
    yield url
    reset()
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on a real SQLite file and, when available, a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'newswatch.db'}"
    return request.getfixturevalue("pg_url")
