"""What an SMS can hold, decided without I/O: its encoding and the segments it takes, text written as GSM-7
has it, shortening that never cuts inside a letter, and fitting a message into the segments it may take.

One character outside GSM-7 (a Devanagari course title, a reason in Hindi) makes the whole SMS Unicode,
whose segments hold 70 characters (67 when concatenated) rather than 160 (153): a message is measured in
the encoding it will be sent in, never by widths sized for one of them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# GSM 03.38 basic character set; the extension table's characters take two septets each.
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")

# Typographic punctuation that text pasted from a word processor carries (a revocation's reason, a course
# title), as GSM-7 writes it: one such character would make a whole SMS Unicode, and each segment then holds
# 67 characters rather than 153.
_PLAIN_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
})


def plain_punctuation(text: str) -> str:
    """`text` with typographic quotes, dashes, ellipses and spaces written as GSM-7 has them."""
    return text.translate(_PLAIN_PUNCTUATION)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def sms_units(text: str) -> int:
    """Length as the network counts it: septets for GSM-7, UTF-16 code units for Unicode (UCS-2)."""
    if is_gsm7(text):
        return sum(2 if char in GSM7_EXTENDED else 1 for char in text)
    return len(text.encode("utf-16-le")) // 2


def sms_segments(text: str) -> int:
    """Segments an SMS takes: one up to 160 (GSM-7) or 70 (Unicode); concatenated parts hold 153 or 67."""
    units, (single, part) = sms_units(text), ((160, 153) if is_gsm7(text) else (70, 67))
    return 1 if units <= single else -(-units // part)


ELLIPSIS = "..."  # GSM-7 has no ellipsis character
ZWJ, ZWNJ = "\u200d", "\u200c"
WORD = 12  # characters a cut may go back to end at a word's end rather than inside the word
VIRAMA = 9  # the canonical combining class of every Indic virama (Devanagari U+094D, halant)
# What reads badly just before the dots: "Training Centre, ..." or "Ethics:..." say nothing more.
_BEFORE_DOTS = " \t,;:.-/(।"


def starts_letter(text: str, index: int) -> bool:
    """Whether a letter as a reader sees it starts at `index`, so that `text` may be cut there: not a
    combining mark (a nukta, a vowel sign, a virama, an accent) nor a joiner, which belong to the letter
    before them, and not a consonant that a virama or a zero-width joiner ties to the one before it into a
    conjunct (क्ष, न्द्र). Cutting inside one would change the word: फ़ without its nukta is फ."""
    char, before = text[index], text[index - 1]
    if unicodedata.category(char) in ("Mn", "Mc", "Me") or char in (ZWJ, ZWNJ):
        return False
    joined = unicodedata.combining(before) == VIRAMA or before == ZWJ
    return not (joined and unicodedata.category(char).startswith("L"))


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in "..." when cut: cut where a letter starts, at the end
    of a word when one ends near (within a long word's length, WORD, and keeping at least half), and without
    a comma or colon left before the dots."""
    if len(text) <= width:
        return text
    end = max(width - len(ELLIPSIS), 0)
    while end > 0 and not starts_letter(text, end):
        end -= 1
    word_end = next((i for i in range(end, max(end - WORD, end // 2), -1) if text[i].isspace()), end)
    return text[:word_end].rstrip(_BEFORE_DOTS) + ELLIPSIS


# A stop that follows a sentence already ended: a title ending in "." or shortened to "..." before the
# template's own full stop ("...in District.... Your certificate ...").
_DOUBLED_STOP = re.compile(r"(?<!\.)([!?।]?)(\.+)(?=\s|$)")


def _one_stop(match: re.Match[str]) -> str:
    mark, dots = match.group(1), match.group(2)
    return mark + (ELLIPSIS if len(dots) >= 3 else "" if mark else ".")


def single_stops(text: str) -> str:
    """`text` with "...." written "...", ".." as "." and "?." as "?" where a sentence ends."""
    return _DOUBLED_STOP.sub(_one_stop, text)


def fit(render: Callable[[float], str], segments: int, steps: int = 20) -> str | None:
    """The longest `render(room)` that takes at most `segments` segments, None when even the least room
    does not fit. `room` goes from 1 (every variable part as long as its template allows) down to 0 (each
    at its least); a message with less room is no longer, so a bisection of `steps` levels finds it."""
    text = render(1.0)
    if sms_segments(text) <= segments:
        return text
    fits, low, high = None, 0, steps  # render(high / steps) is known not to fit
    while low < high:
        middle = (low + high) // 2
        candidate = render(middle / steps)
        if sms_segments(candidate) <= segments:
            fits, low = candidate, middle + 1
        else:
            high = middle
    return fits
