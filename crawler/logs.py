"""One line per event on stderr, as `key=value` pairs (logfmt), which journald keeps and grep reads.

Under journald each line starts with its syslog priority (`<4>` for a warning,
as sd-daemon(3) describes), so `journalctl -p warning` finds warnings and
errors. A value spanning several lines (a rules error with its caret) is
written there, and on a terminal, as indented continuation lines under the
event instead of one line full of `\\n`; into a file or a pipe every event
stays on one line.

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

__all__ = ["LogfmtFormatter", "event", "redact", "setup_logging", "syslog_priority", "under_journald"]

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


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level: 3 error, 4 warning, 6 info, 7 debug (2 critical)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


CONTINUATION = "  | "
"""What starts each further line of a multi-line value, so the lines keep their own indentation."""


class LogfmtFormatter(logging.Formatter):
    """`ts=… level=… logger=… event=… k=v …`; journald adds its own time, so `ts` can be dropped.

    `priority` prefixes every line with `<N>` for journald; `multiline` writes
    only the first line of a multi-line value in place and the rest beneath.
    """

    def __init__(self, with_time: bool = True, *, priority: bool = False, multiline: bool = False) -> None:
        super().__init__()
        self.with_time = with_time
        self.priority = priority
        self.multiline = multiline

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.with_time:
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            parts.append(f"ts={ts}.{int(record.msecs):03d}Z")
        parts.append(f"level={record.levelname.lower()}")
        parts.append(f"logger={record.name}")
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        if record.exc_info and record.levelno >= logging.ERROR:
            exc = record.exc_info[1]
            fields["exc"] = f"{type(exc).__name__}: {exc}"
        below: list[str] = []
        message = record.getMessage()
        if self.multiline:
            message, below = self._split(message, below)
            for key, value in fields.items():
                if isinstance(value, str) and "\n" in value:
                    fields[key], below = self._split(value, below)
        parts.append(f"event={_quote(message)}")
        parts.extend(f"{k}={_quote(v)}" for k, v in fields.items())
        lines = [" ".join(parts), *below]
        if self.priority:
            prefix = f"<{syslog_priority(record.levelno)}>"
            lines = [prefix + line for line in lines]
        return "\n".join(lines)

    @staticmethod
    def _split(value: str, below: list[str]) -> tuple[str, list[str]]:
        first, *rest = value.rstrip("\n").split("\n")
        return first, below + [CONTINUATION + line for line in rest]


def under_journald(stream: Any = None) -> bool:
    """Whether `stream` (stderr) is the journal stream systemd set up, per `$JOURNAL_STREAM`.

    systemd passes `device:inode` of the stream it connected; a child whose
    stderr was redirected elsewhere inherits the variable, so it is compared.
    """
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    stream = stream or sys.stderr
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


def setup_logging(level: str = "info") -> None:
    """Route every logger to stderr in logfmt; quieten chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    journal = under_journald(sys.stderr)
    tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    handler.setFormatter(LogfmtFormatter(with_time=not journal, priority=journal, multiline=journal or tty))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "hpack", "alembic", "uvicorn.access", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event with structured fields."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
