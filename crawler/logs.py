"""One line per event on stderr, as `key=value` pairs (logfmt), which journald keeps and grep reads.

Secrets never reach a log line: values that look like URLs have their userinfo
and query-string secrets masked by `redact`.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from typing import Any

__all__ = ["LogfmtFormatter", "event", "redact", "setup_logging"]

_SAFE = re.compile(r"^[A-Za-z0-9_.:/@+\-,%]+$")
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^/@\s:]*)(?::[^/@\s]*)?@", re.I)
_SECRET_PARAM = re.compile(r"(?P<k>[?&](?:token|key|apikey|api_key|password|pass|secret|sig)=)[^&\s]+", re.I)


def redact(value: str) -> str:
    """Mask passwords and tokens in URLs (apprise URLs carry them in the userinfo and path)."""
    value = _USERINFO.sub(lambda m: f"{m['scheme']}***@", value)
    return _SECRET_PARAM.sub(lambda m: f"{m['k']}***", value)


def _quote(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    text = str(value)
    if text and _SAFE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """`ts=… level=… logger=… event=… k=v …`; journald adds its own time, so `ts` can be dropped."""

    def __init__(self, with_time: bool = True) -> None:
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.with_time:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            parts.append(f"ts={ts}.{int(record.msecs):03d}Z")
        parts.append(f"level={record.levelname.lower()}")
        parts.append(f"logger={record.name}")
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        parts.append(f"event={_quote(record.getMessage())}")
        parts.extend(f"{k}={_quote(v)}" for k, v in fields.items())
        if record.exc_info and record.levelno >= logging.ERROR:
            exc = record.exc_info[1]
            parts.append(f"exc={_quote(f'{type(exc).__name__}: {exc}')}")
        return " ".join(parts)


def setup_logging(level: str = "info") -> None:
    """Route every logger to stderr in logfmt; quieten chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    under_journald = "JOURNAL_STREAM" in os.environ
    handler.setFormatter(LogfmtFormatter(with_time=not under_journald))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "hpack", "alembic", "uvicorn.access", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with structured fields."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
