"""Text read from files (model names, metadata, run names, folder names) made safe to print.

A file can carry ANSI escape sequences that recolour, move the cursor, set the window title or
rewrite earlier lines; control characters that beep or erase; bidirectional overrides that make
text read differently from what it is. `printable` removes all of them and keeps the text on one
line, so whatever a file says reaches the terminal as plain characters.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-started sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes;
# and the 8-bit CSI/OSC introducers (U+009B, U+009D) with their parameters.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated by BEL or ST (or cut off)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other escape (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?"  # 8-bit OSC
)
_WHITESPACE_CONTROLS = {"\n", "\r", "\t", "\v", "\f", "\x85", "\u2028", "\u2029"}


def _visible(char: str) -> str:
    if char in _WHITESPACE_CONTROLS:
        return " "  # one line: a newline in a name must not fake a line of our output
    # Cc: C0/C1 controls, DEL. Cf: format characters (bidi overrides, zero-width marks).
    # Cs/Co/Cn: surrogates, private use and unassigned code points have no business in a name.
    return "" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") else char


def printable(text: object, limit: int = 1000) -> str:
    """`text` as plain, single-line characters, at most `limit` characters (then "…")."""
    raw = str(text)
    cleaned = "".join(_visible(c) for c in _ESCAPE_SEQUENCE.sub("", raw))
    if len(cleaned) > limit:
        cleaned = cleaned[: max(0, limit - 1)] + "…"
    return cleaned


def percent(value: float | None, digits: int = 2) -> str:
    """A percentage as every table and label writes it ("99.42%"); "–" when there is none."""
    return "–" if value is None else f"{value:.{digits}f}%"


def plural(n: int, word: str, many: str = "") -> str:
    """'1 epoch', '0 epochs', '3 runs': the count and the word, in the plural unless n is 1
    (`many`: a plural not made with an s, e.g. plural(n, "its", "their") is not a count)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
