"""The review web app (`newswatch serve`): pages, JSON API, Atom feed, metrics.

Imported only by `serve` and `export` (and tests): the daemon's commands never load it.
"""

from .app import create_app

__all__ = ["create_app"]
