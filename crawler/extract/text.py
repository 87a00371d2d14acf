"""Text clean-up that keyword matching depends on.

Publishers sprinkle soft hyphens and zero-width characters inside words (Dawn does it
on purpose), so "back\u00adchannel" would never match "backchannel" unless they are
removed. ZWNJ/ZWJ are different: in Urdu, Hindi and Persian they change how letters
join and are part of the spelling, so they are kept between letters of those scripts.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_paragraph", "clean_text", "strip_invisible"]

# Always noise: soft hyphen, zero-width space, word joiner, BOM / zero-width no-break space.
_INVISIBLE_RE = re.compile("[\u00ad\u200b\u2060\ufeff\u180e]")

# Letters of scripts in which ZWNJ/ZWJ are orthographic: Arabic (incl. Urdu, Persian
# supplements and presentation forms), Syriac, Thaana, and the Indic blocks
# (Devanagari through Malayalam, Sinhala).
_JOINING_SCRIPT = (
    "\u0600-\u06ff\u0700-\u074f\u0750-\u077f\u0780-\u07bf\u08a0-\u08ff"
    "\u0900-\u0dff\ufb50-\ufdff\ufe70-\ufefe"
)
_STRAY_JOINER_RE = re.compile(
    f"(?<![{_JOINING_SCRIPT}])[\u200c\u200d]+|[\u200c\u200d]+(?![{_JOINING_SCRIPT}])"
)
# Any run of whitespace, including NBSP and the other Unicode spaces `\s` knows.
_SPACE_RE = re.compile(r"\s+")
_ENTITY_RE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def strip_invisible(text: str) -> str:
    """Drop characters that split words invisibly, keeping script-internal ZWNJ/ZWJ."""
    text = _INVISIBLE_RE.sub("", text)
    if "\u200c" in text or "\u200d" in text:
        text = _STRAY_JOINER_RE.sub("", text)
    return text


def clean_paragraph(text: str) -> str:
    """One paragraph as one line: entities left escaped twice are unescaped, spaces collapsed."""
    if "&" in text and _ENTITY_RE.search(text):
        text = html.unescape(text)
    return _SPACE_RE.sub(" ", strip_invisible(text)).strip()


def clean_text(text: str) -> str:
    """Several paragraphs: each cleaned, empty ones dropped, joined by one newline."""
    lines = (clean_paragraph(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
