"""Helpers shared by the test suite (a real loopback HTTP server)."""

from .server import LoopbackServer, RecordedRequest, Response

__all__ = ["LoopbackServer", "RecordedRequest", "Response"]
