"""Migrations without Alembic in the caller's process: the head is read from the files, a child migrates."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage import Store
from storage.db import _MIGRATIONS, _at_head, head_revision


def test_the_head_read_from_the_files_is_alembics() -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


@pytest.mark.parametrize("in_child", [False, True])
def test_a_store_opened_either_way_is_at_head_with_the_date_index(tmp_path: Path, in_child: bool) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}", migrate_in_child=in_child)
    try:
        assert _at_head(store.engine)
        with store.engine.connect() as conn:
            names = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}
        assert "ix_articles_when" in names
    finally:
        store.close()


def test_an_older_database_is_not_taken_for_the_newest(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
        conn.execute(text("DROP INDEX ix_articles_when"))
        conn.execute(text("ALTER TABLE feeds DROP COLUMN ttl"))  # what 0007 adds
    assert not _at_head(store.engine)
    store.close()
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}", migrate_in_child=True)
    try:
        assert _at_head(store.engine)
    finally:
        store.close()


def test_an_in_memory_database_migrates_in_process() -> None:
    store = Store.open("sqlite://", migrate_in_child=True)
    try:
        assert _at_head(store.engine)
    finally:
        store.close()
