"""Size limits of a message, checked per row before anything is sent: the `[limits]` table.

seven publishes no limits of its own; the defaults are RBM's (seven-gateway.md, "Size limits"),
and a campaign may change any of them. Each limit counts one unit, named in every message:
characters are Unicode code points; bytes are UTF-8 bytes (the card title and description,
which Google's RBM types count in bytes, and the request body, counted as rcsbatch sends it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsbatch.errors import CampaignError

if TYPE_CHECKING:  # only the per-row functions need them; they import them when called
    import numpy as np
    import pandas as pd

CHARACTERS, BYTES = "characters", "bytes"


@dataclass(frozen=True)
class Limits:
    """The limits a campaign's messages are held to; see `UNITS` for what each counts."""

    text: int = 3072  # the text of a text message
    card_title: int = 200
    card_description: int = 2000
    suggestions: int = 11  # per message
    card_suggestions: int = 4  # per card
    suggestion_text: int = 25
    postback_data: int = 2048
    url: int = 2000  # every URL: file, thumbnail, openUrl
    carousel_cards: int = 10
    # 250 KB read as 250,000 bytes, the smaller reading of RBM's "250 KB".
    payload: int = 250_000  # the JSON request body
    sms_fallback: int = 1600  # the text, when `fallback = "sms"`

    def reason(self, what: str, key: str, size: int, *, after: str = "", to: str = "") -> str:
        """`{what} {size} {unit}{after}; the limit{to} is {limit} {unit} (limits.{key})`, e.g.
        `text is 5,000 characters; the limit is 3,072 characters (limits.text)`."""
        unit, limit = UNITS[key], getattr(self, key)
        return (
            f"{what} {size:,} {_unit(unit, size)}{after}; the limit{to} is "
            f"{limit:,} {_unit(unit, limit)} (limits.{key})"
        )


#: The unit each limit counts.
UNITS: Mapping[str, str] = {
    "text": CHARACTERS,
    "card_title": BYTES,
    "card_description": BYTES,
    "suggestions": "suggestions",
    "card_suggestions": "suggestions",
    "suggestion_text": CHARACTERS,
    "postback_data": CHARACTERS,
    "url": CHARACTERS,
    "carousel_cards": "cards",
    "payload": BYTES,
    "sms_fallback": CHARACTERS,
}


def _unit(unit: str, n: int) -> str:
    return unit[:-1] if n == 1 else unit


def parse_limits(table: Any, path: Path) -> Limits:
    """Read the `[limits]` table (None: every default); raise CampaignError naming the key."""
    if table is None:
        return Limits()
    if not isinstance(table, dict):
        raise CampaignError(f"{path}: `limits` must be a table (`[limits]`)")
    known = {f.name for f in fields(Limits)}
    values: dict[str, int] = {}
    for key, value in table.items():
        if key not in known:
            raise CampaignError(
                f"{path}: `limits.{key}` is not a campaign setting "
                f"(known here: {', '.join(sorted(known))})"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CampaignError(
                f"{path}: `limits.{key}` must be a whole number of {UNITS[key]} above 0 "
                f"(got {value!r})"
            )
        values[key] = value
    return Limits(**values)


def size(value: str, unit: str) -> int:
    """The size of one value in `unit` (characters or bytes)."""
    return len(value.encode()) if unit == BYTES else len(value)


def sizes(values: pd.Series, unit: str) -> np.ndarray:
    """The size of each string in `unit` (characters or bytes), counted by Arrow, not per row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values)
    counted = pc.binary_length(array) if unit == BYTES else pc.utf8_length(array)
    return np.asarray(counted.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
