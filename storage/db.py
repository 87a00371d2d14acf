"""The database itself: the engine per backend, migrations, and what every part of `Store` shares."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine.url import make_url

__all__ = ["StorePart", "content_hash", "create_store_engine", "head_revision", "migrate", "migrate_apart", "utcnow"]


log = logging.getLogger("newswatch.storage")

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def content_hash(title: str, text: str) -> str:
    """A hash of an article's words, blind to whitespace and case: finds the same text under two URLs."""
    norm = " ".join(f"{title}\n{text}".split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL with `synchronous=NORMAL`: a commit appends to the log without waiting for the disk.

    What a crash can lose: if the process dies (killed, out of memory), nothing committed;
    if the machine loses power or the OS crashes, the last transactions committed before
    it (the database itself stays consistent). A poll records a feed as polled only after
    its articles are committed, so what is lost is fetched again on the next poll. An
    article being judged or waiting for its group commit (`crawler.pipeline`) when the
    process dies is not stored, and is fetched again the same way.
    """
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


_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*"([^"]+)"', re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration's id, read from the migration files' `revision` lines (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """True when the database already has the newest schema: then Alembic (11 MB) is never loaded."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            versions = [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))]
    except Exception:  # no version table yet (a new database): Alembic creates it
        return False
    return versions == [head]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; run on every start).

    Several instances may start at once against one database: migrations are
    serialised by an advisory lock on PostgreSQL and a file lock beside a SQLite
    file, so the second instance finds the work done instead of racing it. A
    database already at the newest revision is recognised without importing Alembic,
    which keeps an idle daemon's memory small.
    """
    if _at_head(engine):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

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



_MIGRATE_URL = "NEWSWATCH_MIGRATE_URL"


def migrate_apart(engine: Engine) -> None:
    """`migrate`, run in a short-lived child process so that a long-running one never loads Alembic.

    An in-memory database has no other process to share it, and a child that fails is
    not explained here: in both cases the migration runs in this process, which raises
    the error the caller already handles.
    """
    if _at_head(engine):
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and (not database or database == ":memory:"):
        migrate(engine)
        return
    env = {**os.environ, _MIGRATE_URL: engine.url.render_as_string(hide_password=False)}
    try:
        done = subprocess.run([sys.executable, "-m", "storage.db"], env=env, capture_output=True,
                              timeout=3600, check=False)
        ok = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok or not _at_head(engine):
        migrate(engine)


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


if __name__ == "__main__":  # the child of `migrate_apart`
    _engine = create_store_engine(os.environ[_MIGRATE_URL])
    try:
        migrate(_engine)
    except Exception:  # the parent migrates again and reports the error itself
        sys.exit(1)
    finally:
        _engine.dispose()
