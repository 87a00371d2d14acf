"""The review web app (`newswatch serve`): pages, JSON API, Atom feed, metrics."""

from .app import create_app

__all__ = ["create_app"]
