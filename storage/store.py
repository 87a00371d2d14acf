"""The one way into the database.

The daemon, the CLI, the review app and the tests all go through `Store`; no
SQL lives anywhere else. Calls are synchronous and short: the async daemon runs
them in a worker thread. `Store` is composed of one part per entity: feeds
(`storage.feeds`), articles and matches (`storage.articles`), the review queue
(`storage.reviews`), near misses (`storage.near_misses`) and full-text search (`storage.searching`); the rows they hand
out are in `storage.rows`.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from .articles import ArticlesPart
from .db import _MIGRATIONS, content_hash, create_store_engine, migrate, migrate_apart
from .feeds import FeedsPart
from .near_misses import NearMissesPart
from .reviews import ReviewsPart

__all__ = ["_MIGRATIONS", "Store", "content_hash", "create_store_engine", "migrate"]


class Store(FeedsPart, ArticlesPart, ReviewsPart, NearMissesPart):
    """Persistence for feeds, articles, matches and review marks (one part per entity)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True, migrate_in_child: bool = False) -> Store:
        """A store over `url`, migrated to the newest schema; `migrate_in_child` keeps Alembic out of this process."""
        engine = create_store_engine(url)
        if migrate_schema and migrate_in_child:
            migrate_apart(engine)
        elif migrate_schema:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers (for `/healthz`)."""
        with self.engine.connect() as conn:
            return conn.execute(select(1)).scalar_one() == 1

