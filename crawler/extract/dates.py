"""Dates as publishers write them, turned into timezone-aware datetimes.

Naive times are taken as UTC: a stored time must be comparable with every other one,
and a wrong hour is less harmful than a crash or a silently naive value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["date_from_url", "parse_date"]

_ISO_LIKE = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}(?!\d))?",
    re.I,
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?=[/\-_.]|$)"
    r"|/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=/)"
)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_date(value: object) -> datetime | None:
    """ISO 8601 (with or without zone), RFC 2822, or a Unix timestamp; None if unreadable."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    if text.isdigit():
        return _from_timestamp(float(text))
    try:
        return _aware(datetime.fromisoformat(text.replace("z", "Z")))
    except ValueError:
        pass
    m = _ISO_LIKE.search(text)
    if m:
        return _from_iso_parts(m)
    try:
        return _aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _from_timestamp(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_iso_parts(m: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, zone = m.groups()
    stamp = f"{year}-{int(month):02d}-{int(day):02d}"
    if hour:
        stamp += f"T{int(hour):02d}:{minute}:{second or '00'}"
        if zone:
            zone = zone.upper()
            if zone != "Z" and len(zone) == 3:
                zone += ":00"
            stamp += zone
    try:
        return _aware(datetime.fromisoformat(stamp))
    except ValueError:
        return None


def date_from_url(url: str) -> datetime | None:
    """The date many news sites put in their paths (`/2019/11/19/`, `/20191119/`), as UTC midnight."""
    m = _URL_DATE.search(url)
    if not m:
        return None
    parts = [p for p in m.groups() if p is not None]
    try:
        return datetime(int(parts[0]), int(parts[1]), int(parts[2]), tzinfo=UTC)
    except ValueError:
        return None
