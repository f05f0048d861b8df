"""Reading seven's logbook (`GET /journal/outbound`): its pages, zone, entries' times and content

Settling lost answers (engine/settle.py) and sync (delivery/sync.py) both read it through here.

The logbook lists the account's messages, newest first, at most `PAGE` a page. Its timestamps are
naive wall times in a zone seven does not state (Europe/Berlin or UTC, `ZONES`), so a stamp is read
in each zone still in question; an entry's `to` may carry a `+` or `00`; a rich message's `text` is
its JSON object, spaced and ordered as seven likes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
# The zones seven's logbook may use (unconfirmed): measured per account from known messages.
ZONES = {"Europe/Berlin": BERLIN, "UTC": UTC}
PAGE = 100  # the logbook's largest page


def entry_moments(value: Any, zones: Sequence[ZoneInfo]) -> list[float]:
    """A logbook timestamp as the Unix seconds it may mean: a naive "YYYY-MM-DD HH:MM:SS[.f]"
    in each of `zones` (both readings of a wall time that happens twice), ISO 8601 with an
    offset or Unix seconds as such; [] when unreadable."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return [_seconds(float(value))]
    if not isinstance(value, str) or not value.strip():
        return []
    text = value.strip()
    if text.isdecimal():
        return [_seconds(float(text))]
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return []
    if moment.tzinfo is not None:
        return [moment.timestamp()]
    found = {moment.replace(tzinfo=z, fold=f).timestamp() for z in zones for f in (0, 1)}
    return sorted(found)


def _seconds(number: float) -> float:
    """Unix seconds, or milliseconds (a number past the year 5000 is read as those)."""
    return number / 1000 if number > 1e11 else number


def entry_time(value: Any, zone: ZoneInfo = BERLIN) -> float | None:
    """One reading of a logbook timestamp (the later of an hour that happens twice); for
    delivery times, which decide nothing about sending."""
    moments = entry_moments(value, [zone])
    return moments[-1] if moments else None


def digits(value: Any) -> str:
    """An entry's number as digits with country code, however the logbook wrote it."""
    text = "".join(ch for ch in str(value or "") if ch.isdigit())
    return text[2:] if text.startswith("00") else text


def same_content(entry_text: Any, sent: str) -> bool:
    """Whether the logbook's text is what was sent: the same string, or (a rich message) the
    same JSON object however it is spaced or ordered."""
    if not isinstance(entry_text, str):
        return False
    if entry_text == sent:
        return True
    if not sent.startswith("{") or not entry_text.lstrip().startswith("{"):
        return False
    try:
        return bool(json.loads(entry_text) == json.loads(sent))
    except ValueError:
        return False
