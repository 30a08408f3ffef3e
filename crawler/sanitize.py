"""Text from the web or from files, made safe to show: the one place for what reaches a terminal,
a log line, a spreadsheet or a page.

    text(value)   one line of plain text: control characters (C0, DEL, C1, line and paragraph
                  separators) become a space, invisible format characters (bidi embeddings,
                  overrides, isolates and marks, zero-width space, BOM, tags...) are removed,
                  lone surrogates become U+FFFD
    lines(value)  the same, keeping line feeds and tabs: a whole output made of our own lines
    data(value)   text() applied to every string of JSON-ready data (dicts, lists, tuples)
    cell(value)   a spreadsheet cell: text(), and text a spreadsheet would run as a formula
                  (=, +, -, @ first) quoted with '
    href(url)     the URL when a link may point there (http or https), else None

An escape sequence (ESC [2J clears the screen, ESC ] 0; sets the window title), a carriage
return (overwrites the line), a line feed inside a value (a fake row) or a right-to-left override
(reverses what follows) all lose their effect: the rest of the text stays readable. HTML escaping
is not done here: the Jinja2 templates autoescape, and their `finalize` calls text().
Zero-width joiners (U+200C, U+200D) stay: emoji and several scripts need them, and they move nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# Cc (C0, DEL, C1) and Zl/Zp: they move the cursor or break the line; each becomes a space.
_BREAKING = "\x00-\x1f\x7f-\x9f\u2028\u2029"
# Cf, the invisible format characters, except the joiners U+200C and U+200D (Unicode 15).
_FORMAT = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
           "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
           "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
           "\U000e0001\U000e0020-\U000e007f")
_SURROGATE = "\ud800-\udfff"  # a lone one cannot be written as UTF-8: printing it raises

_UNSAFE = re.compile(f"[{_BREAKING}{_FORMAT}{_SURROGATE}]")
# lines(): the line feeds and tabs of our own output stay; with crlf, CSV's CRLF too.
_UNSAFE_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}{_SURROGATE}]")
_UNSAFE_IN_CRLF_LINES = re.compile(f"\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029{_FORMAT}{_SURROGATE}]")

# What a spreadsheet reads as the start of a formula (also in full width, which some accept).
FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    if char <= "\x9f" or char in "\u2028\u2029":
        return " "
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return ""


def is_clean(value: str) -> bool:
    """True when text() would leave `value` as it is."""
    return _UNSAFE.search(value) is None


def text(value: Any) -> str:
    """One line of plain text, safe for a terminal, a CSV cell or an HTML text node ("" for None)."""
    if value is None:
        return ""
    value = value if isinstance(value, str) else str(value)
    return value if _UNSAFE.search(value) is None else _UNSAFE.sub(_replace, value)


def lines(value: Any, crlf: bool = False) -> str:
    """Text of several lines (an output we built): as text(), but line feeds and tabs stay, and with
    `crlf` a carriage return before a line feed (a CSV file's line ends)."""
    value = value if isinstance(value, str) else str(value)
    pattern = _UNSAFE_IN_CRLF_LINES if crlf else _UNSAFE_IN_LINES
    return value if pattern.search(value) is None else pattern.sub(_replace, value)


def data(value: Any) -> Any:
    """JSON-ready data with text() applied to every string (keys too); other values unchanged."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k) if isinstance(k, str) else k: data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [data(v) for v in value]
    return value


def cell(value: Any) -> Any:
    """A spreadsheet cell (CSV, xlsx): text() for text, quoted with ' when a spreadsheet would run it
    as a formula; numbers, dates and None unchanged."""
    if not isinstance(value, str):
        return value
    value = text(value)
    if value.lstrip()[:1] in FORMULA_START:
        return "'" + value
    return value


def href(url: Any) -> str | None:
    """`url` as a link target when it is http(s) (after text()); None for javascript:, data:, file:,
    relative or empty URLs, which may be shown as text but never followed."""
    if not isinstance(url, str):
        return None
    cleaned = text(url).strip()
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    return cleaned if parts.scheme.lower() in ("http", "https") and parts.netloc else None
