"""Turn fetched bytes into text with the right character set.

Order of trust: a byte-order mark, the HTTP `Content-Type` charset, the page's own
`<meta charset>` / `http-equiv`, then charset-normalizer's guess. Labels are mapped the
way browsers map them (WHATWG): `iso-8859-1` and `ascii` really mean windows-1252.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["decode_html", "normalise_charset"]

_CT_CHARSET_RE = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG encoding-label aliases that Python's codec names disagree with.
_ALIASES = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252", "iso_8859-1": "cp1252",
    "windows-1252": "cp1252", "x-cp1252": "cp1252", "cp1252": "cp1252",
    "iso-8859-9": "cp1254", "latin5": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "shift-jis": "shift_jis", "x-sjis": "shift_jis", "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949", "unicode": "utf-16-le", "utf-16": "utf-16-le",
    "x-user-defined": "cp1252", "utf8": "utf-8",
}
_SNIFF_BYTES = 4096
# Encodings news pages are actually served in; narrowing the guess stops the detector
# picking exotic code pages (mac_latin2, cp775) for plain Western or Arabic-script text.
_LIKELY = [
    "cp1252", "cp1256", "cp1251", "cp1250", "cp1253", "cp1254", "cp1255", "cp874",
    "gb18030", "big5", "shift_jis", "euc_jp", "cp949", "koi8_r", "iso8859_6",
]


def normalise_charset(label: str | bytes | None) -> str | None:
    """A Python codec name for a charset label, or None if the label is unknown."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    name = label.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _CT_CHARSET_RE.search(content_type.encode("latin-1", "ignore"))
    return normalise_charset(m.group(1)) if m else None


def _from_bom(body: bytes) -> str | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    return None


def _from_meta(body: bytes) -> str | None:
    m = _META_CHARSET_RE.search(body[:_SNIFF_BYTES])
    if not m:
        return None
    name = normalise_charset(m.group(1))
    # A page that is served as bytes cannot really be UTF-16 if its meta tag is readable ASCII.
    return "utf-8" if name and name.startswith("utf-16") else name


def _guess(body: bytes) -> str:
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # 2.6 MB, for the rare page that names no charset

    best = from_bytes(body[:200_000], cp_isolation=_LIKELY).best()
    return normalise_charset(best.encoding) if best is not None and best.encoding else "cp1252"


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page body; never raises (undecodable bytes become U+FFFD).

    A byte-order mark wins even over HTTP, as in browsers: it cannot be there by
    accident, while servers often send a stale default charset. A declared UTF-8 that
    the bytes contradict is also not trusted: the next source of evidence is asked.
    """
    if not body:
        return ""
    bom = _from_bom(body)
    if bom:
        skip = len(codecs.BOM_UTF8) if bom == "utf-8" else 2
        return body[skip:].decode(bom, "replace")
    for declared in (_from_content_type(content_type), _from_meta(body)):
        if declared is None:
            continue
        if declared == "utf-8":
            try:
                return body.decode("utf-8")
            except UnicodeDecodeError:
                continue
        return _decode(body, declared)
    return _decode(body, _guess(body))


def _decode(body: bytes, encoding: str) -> str:
    try:
        return body.decode(encoding, "replace")
    except (LookupError, ValueError):
        return body.decode("utf-8", "replace")
