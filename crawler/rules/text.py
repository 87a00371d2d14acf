"""Text normalisation and tokenisation shared by rule terms and documents.

Rules and articles go through the same function so that what an analyst types
meets what an outlet prints: NFC, case folding, a one-for-one map of look-alike
characters (dotted İ, Arabic/Urdu yeh and kaf, full-width ASCII), soft hyphens and
zero-width characters and optional Arabic-script vowel marks dropped.  A word is a run of letters, digits and combining
marks (Hindi vowel signs and viramas are marks: without them पाकिस्तान would split
into pieces and match inside पाकिस्तानी).  Hyphens, apostrophes, quotes and
spaces of every kind separate words.

Two tokenisers give the same tokens: `fast_tokens` works on the whole string at
C speed (for matching every article) and `spans_tokens` keeps each token's
character offsets in the ORIGINAL string (for highlighting the few that match).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from itertools import accumulate

__all__ = [
    "HYPHENS",
    "IGNORABLE",
    "ascii_spans",
    "fast_tokens",
    "lead_end",
    "normalise",
    "opening_end",
    "spans_tokens",
    "text_units",
    "word_tokens",
]

IGNORABLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff\u0640"
"""Soft hyphen, zero-width space/non-joiner/joiner, word joiner, BOM, Arabic tatweel."""

HYPHENS = "-\u2010\u2011\u2012\u2013\u2212\ufe63\uff0d"
"""Characters a rule author may write between the parts of a compound (`back-channel`)."""


def _mark_class() -> str:
    """A regex character class body with every combining mark (Mn, Mc, Me) in the BMP and beyond."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


_MARKS = _mark_class()
_WORD_RE = re.compile(f"[\\w{_MARKS}]+")
"""Words in normalised text (ignorables already removed)."""
_ORIG_WORD_RE = re.compile(f"[\\w{_MARKS}{IGNORABLE}]+")
"""Words in original text: ignorables count as word characters so `back\u00adchannel` stays whole."""

_MAP: dict[int, int | None] = {ord(c): None for c in IGNORABLE}
# Arabic-script vowel marks (harakat) and the superscript alef are optional in Urdu and
# Arabic writing ("پسِ پردہ" and "پس پردہ" are one phrase), so they are ignored. The hamza
# marks U+0654/U+0655 are kept: NFC fuses them into other letters (ی + ٔ = ئ).
_MAP.update({cp: None for cp in [*range(0x064B, 0x0654), *range(0x0656, 0x0660), 0x0670]})
# The Devanagari nukta is written or left out for the same word (ख़ुफ़िया / खुफिया); NFC
# splits the precomposed nukta letters (क़ U+0958 …) so the nukta itself can be dropped.
_MAP[0x093C] = None
_MAP.update(
    {
        0x0130: ord("I"),  # İ: casefold would make it two characters
        0x0131: ord("i"),  # dotless ı
        0x064A: 0x06CC,  # Arabic yeh -> Farsi/Urdu yeh
        0x0649: 0x06CC,  # alef maksura -> Urdu yeh
        0x0643: 0x06A9,  # Arabic kaf -> keheh
    }
)
_MAP.update({cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)})  # full-width ASCII


def normalise(text: str, fold: bool = True) -> str:
    """The form tokens are compared in: look-alikes mapped, ignorables dropped, NFC, casefolded."""
    if text.isascii():
        return text.lower() if fold else text
    text = text.translate(_MAP)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
        if "\u093c" in text:  # NFC decomposes क़ (U+0958) and its kin into letter + nukta
            text = text.replace("\u093c", "")
    if fold:
        text = text.casefold()
        if not text.isascii() and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    return text


_PLAIN_WORD_RE = re.compile(r"\w+")
_MAY_HAVE_MARKS = re.compile("[^\x00-\u02ff\u2000-\u206f]").search
"""Combining marks start at U+0300; text without such characters (beyond general punctuation:
curly quotes, dashes) can use plain `\\w+`, which is several times faster than the full class."""


def fast_tokens(text: str, fold: bool = True) -> list[str]:
    """Normalised word tokens of `text`, in order (no offsets: the hot path)."""
    norm = normalise(text, fold)
    if _MAY_HAVE_MARKS(norm) is None:
        return _PLAIN_WORD_RE.findall(norm)
    return _WORD_RE.findall(norm)


def ascii_spans(text: str) -> list[tuple[int, int]] | None:
    """Token offsets of a plain ASCII text (folding changes nothing there); None otherwise."""
    if not text.isascii():
        return None
    return [m.span() for m in _PLAIN_WORD_RE.finditer(text)]


def spans_tokens(text: str, fold: bool = True) -> tuple[list[str], list[tuple[int, int]]]:
    """Normalised tokens with their (start, end) character offsets in the original `text`."""
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _ORIG_WORD_RE.finditer(text):
        word = m.group()
        if word.isascii():  # most words of most texts: one token, and only its case can change
            tokens.append(word.lower() if fold else word)
            spans.append(m.span())
            continue
        for piece in _WORD_RE.finditer(normalise(word, fold)):
            # Normally one piece per word; a mark that NFC fuses with a separator may split it.
            tokens.append(piece.group())
            spans.append((m.start(), m.end()))
    return tokens, spans


_SENTENCE_END = re.compile("[.!?\u0964\u06d4\u061f\u2026]")
"""Full stop, ! and ?, the Devanagari danda, the Urdu full stop and question mark, the ellipsis."""
_UNIT_BREAK = re.compile("[\n.!?\u0964\u06d4\u061f\u2026]")
"""What can end a sentence or paragraph: a line break or an end mark."""
_ABBREVIATIONS = frozenset([
    "mr", "mrs", "ms", "dr", "prof", "lt", "gen", "col", "maj", "capt", "brig", "cdr", "adm", "sgt",
    "st", "jr", "sr", "vs", "sen", "rep", "gov", "hon", "rev", "mt", "ft", "inc", "ltd", "co", "corp",
    "dept", "approx", "vol", "pp",
])
"""Words a full stop follows without ending the sentence ("Lt. Gen. Asim Malik")."""


def text_units(text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sentence and paragraph number of each token, from the gaps between token `spans` in `text`.

    A paragraph ends at a line break; a sentence ends there too, or at an end mark followed
    by a space, unless the mark is the full stop of an initial ("J. N. Dixit", "U.S.") or a
    title ("Lt. Gen."), or the next word starts in lower case.  This is what keeps a NEAR/s
    inside one sentence: a "Related:" line never lends its words to the article's last line.
    Only the gaps holding a line break or an end mark are looked at (no word holds one).
    """
    n = len(spans)
    sent_steps = [0] * n
    para_steps = [0] * n
    starts = [s for s, _ in spans]
    judged = -1
    for mark in _UNIT_BREAK.finditer(text):
        i = bisect_right(starts, mark.start())  # the gap before token i holds the mark
        if i == 0 or i >= n or i == judged:
            continue
        judged = i
        (prev_start, prev_end), (start, end) = spans[i - 1], spans[i]
        gap = text[prev_end:start]
        if "\n" in gap:
            sent_steps[i] = para_steps[i] = 1
            continue
        m = _SENTENCE_END.search(gap)
        if m and any(c.isspace() for c in gap[m.end():]):
            prev_word = text[prev_start:prev_end]
            initial = m.group() == "." and (len(prev_word) == 1 or prev_word.casefold() in _ABBREVIATIONS)
            lower = text[start:end][:1].islower()
            if not initial and not lower:
                sent_steps[i] = 1
    return list(accumulate(sent_steps)), list(accumulate(para_steps))


def lead_end(text: str, words: int) -> int:
    """Where the opening of `text` ends: its first `words` words, never into its last paragraph.

    A lead is the opening of a story.  The last paragraph is left out of it when the ones
    before it hold half a lead or more, because that is where page furniture lands: in a
    short text an "Also read" teaser after the story must not become part of its lead.  (A
    first paragraph shorter than that is a headline or dateline repeated, not the story.)
    """
    ends: list[int] = []
    for m in _ORIG_WORD_RE.finditer(text):  # only the opening words: bodies can be long
        ends.append(m.end())
        if len(ends) >= words:
            break
    if not ends:
        return 0
    cut = ends[-1]
    last = text.rstrip().rfind("\n")
    if last >= 0 and cut > last:
        before = [e for e in ends if e <= last]
        if len(before) * 2 >= words:
            cut = before[-1]
    return cut


def opening_end(text: str, min_words: int = 8) -> int:
    """Where the opening sentence of `text` ends: the story's first sentence of `min_words` words or more.

    A report says its news in its first sentence; a passing mention comes later.  A line
    before it that is a paragraph of its own with no full stop (a headline or a dateline
    repeated above the story) is not that sentence, however long, and nor is a shorter
    sentence; both are part of the opening, so the opening is always a prefix of the text,
    as `lead_end`'s is.
    """
    spans = [m.span() for m in _ORIG_WORD_RE.finditer(text[:4000])]
    if not spans:
        return 0
    sentences, paragraphs = text_units(text, spans)
    first = 0  # index of the current sentence's first token
    for i, sent in enumerate(sentences):
        if i + 1 < len(sentences) and sentences[i + 1] == sent:
            continue
        words = i + 1 - first
        whole_paragraph = ((first == 0 or paragraphs[first - 1] != paragraphs[first])
                           and (i + 1 == len(sentences) or paragraphs[i + 1] != paragraphs[i]))
        after = text[spans[i][1]:spans[i + 1][0] if i + 1 < len(spans) else len(text)]
        headline = whole_paragraph and not _SENTENCE_END.search(after) and i + 1 < len(spans)
        if words >= min_words and not headline:
            return spans[i][1]
        first = i + 1
    return spans[-1][1]


def word_tokens(text: str) -> list[str]:
    """Split rule text into normalised words (same rules as documents, folded)."""
    return fast_tokens(text)


if sys.flags.optimize == 0:  # cheap self-check at import: the two tokenisers agree
    _probe = "Pakistan’s back\u00adchannel — İSLAMABAD पाकिस्तानी José"
    assert fast_tokens(_probe) == spans_tokens(_probe)[0], "tokenisers disagree"
