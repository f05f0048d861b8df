"""Quiet hours: the daily window in which a recipient may be messaged (placeholder: parse only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_FORM = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


@dataclass(frozen=True)
class Window:
    """A daily window [start, end) in minutes after local midnight."""

    start: int
    end: int

    def opening(self, recipient: str, now: datetime) -> datetime | None:
        """Placeholder: always inside."""
        return None


def parse_window(text: str) -> Window:
    """Read "HH:MM-HH:MM"."""
    match = _FORM.fullmatch(text.strip())
    if not match:
        raise ValueError(f'must be "HH:MM-HH:MM" such as "08:00-20:00" (got {text!r})')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise ValueError(f'must be "HH:MM-HH:MM" such as "08:00-20:00" (got {text!r})')
    return Window(h1 * 60 + m1, h2 * 60 + m2)


class WindowNeverOpens(Exception):
    """No moment lies inside the window in every zone of the number."""
