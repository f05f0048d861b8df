"""Control characters in recipient data: found (a row holding one is invalid) and shown harmlessly.

A cell is data, never terminal commands: an ESC sequence in a name must not recolour, move the
cursor in or retitle the terminal of whoever runs `preview` or `validate`, and a NUL or BEL has
no place in a message either. LF and TAB are ordinary text in a message and stay allowed.
"""

from __future__ import annotations

import re

# C0 (but LF and TAB), DEL and C1: DEL and C1 control a terminal as C0 does (C1 CSI is ESC [).
CONTROL_RE = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
_CONTROL = re.compile(CONTROL_RE)

# Their usual abbreviations, by code point (unicodedata names no control character).
_C0 = (  # noqa: SIM905 (one line per 16 reads better than 32 list items)
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()
_C1 = (  # noqa: SIM905
    "PAD HOP BPH NBH IND NEL SSA ESA HTS HTJ VTS PLD PLU RI SS2 SS3 "
    "DCS PU1 PU2 STS CCH MW SPA EPA SOS SGCI SCI CSI ST OSC PM APC"
).split()


def control_name(ch: str) -> str:
    """`U+001B (ESC)`: the code point and its usual abbreviation (unicodedata has no names for
    control characters)."""
    code = ord(ch)
    if code < 0x20:
        name = _C0[code]
    elif code == 0x7F:
        name = "DEL"
    else:
        name = _C1[code - 0x80]
    return f"U+{code:04X} ({name})"


def first_control(value: str) -> str | None:
    """The first control character in value that a row may not hold, or None."""
    found = _CONTROL.search(value)
    return found.group() if found else None


def visible(value: str) -> str:
    """value with each control character written out (`\\x1b`), so printing it is harmless."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
