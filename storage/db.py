"""The database itself: the engine per backend, migrations, and what every part of `Store` shares."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Engine,
    create_engine,
    event,
    insert,
)
from sqlalchemy.engine.url import make_url

__all__ = ["StorePart", "content_hash", "create_store_engine", "migrate", "utcnow"]


log = logging.getLogger("newswatch.storage")

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def content_hash(title: str, text: str) -> str:
    """A hash of an article's words, blind to whitespace and case: finds the same text under two URLs."""
    norm = " ".join(f"{title}\n{text}".split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the backend: WAL and a busy timeout on SQLite, a checked pool on PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


_MIGRATION_LOCK_ID = 0x6E657773  # "news": the advisory lock key that serialises migrations


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; run on every start).

    Several instances may start at once against one database: migrations are
    serialised by an advisory lock on PostgreSQL and a file lock beside a SQLite
    file, so the second instance finds the work done instead of racing it.
    """
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    lock_file = None
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        import fcntl

        lock_file = open(f"{database}.migrate.lock", "w")  # noqa: SIM115 - held until the end
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if lock_file is not None:
            lock_file.close()



class StorePart:
    """What every part of `Store` shares: the engine, and an insert that tolerates an existing row."""

    engine: Engine

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def _insert_new(self, table: Any, keys: list[str]) -> Any:
        """An INSERT that leaves an existing row (same `keys`) alone instead of failing."""
        if self.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=keys)
        if self.backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing(index_elements=keys)
        return insert(table)
