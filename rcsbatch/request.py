"""What one send request carries: the gateway parameters for one row at one moment.

One function builds them for the sender and for `preview`, so a preview shows exactly what leaves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from rcsbatch.campaign import Campaign


@dataclass(frozen=True)
class SendSettings:
    """How to send: the gateway options every request shares, and the pace."""

    concurrency: int = 16
    rate: float = 0.0
    max_attempts: int = 5
    ttl_minutes: int = 2880
    delay: float | None = None  # Unix seconds
    sender: str | None = None
    performance_tracking: bool = False
    fallback: str | None = None
    backoff_max: float = 30.0
    clock: Callable[[], float] = time.time

    @classmethod
    def of(cls, campaign: Campaign) -> SendSettings:
        """The settings a campaign file asks for."""
        m, s = campaign.message, campaign.send
        return cls(
            concurrency=s.concurrency,
            rate=s.rate,
            max_attempts=s.max_attempts,
            ttl_minutes=m.ttl,
            delay=m.delay.timestamp() if m.delay else None,
            sender=m.sender,
            performance_tracking=m.performance_tracking,
            fallback=m.fallback,
        )

    def deadline(self, first_attempt: float) -> float:
        """When validity ends: it starts at the delay if given, else at the first attempt."""
        planned = self.delay if self.delay is not None else first_attempt
        return planned + self.ttl_minutes * 60


class Expired(Exception):
    """The message's validity passed before it could be sent."""


def message_params(
    settings: SendSettings,
    *,
    recipient: int,
    text: str,
    label: str | None,
    foreign_id: str | None,
    now: float,
    deadline: float,
) -> dict[str, Any]:
    """The JSON body of `POST /rcs/messages` for one row at time `now`; raise Expired if too late.

    `ttl` carries only the validity left (whole minutes); a delay already past is left out, so the
    message goes now. seven's string form of `delay` has no documented time zone, so it is sent as
    Unix seconds.
    """
    s = settings
    left = math.floor((deadline - max(now, s.delay or 0.0)) / 60)
    if left < 1:
        raise Expired
    params: dict[str, Any] = {"to": str(recipient), "text": text}
    if s.sender:
        params["from"] = s.sender
    if label:
        params["label"] = label
    if foreign_id:
        params["foreign_id"] = foreign_id
    if s.delay is not None and s.delay > now:
        params["delay"] = int(s.delay)
    params["ttl"] = min(left, s.ttl_minutes)
    if s.performance_tracking:
        params["performance_tracking"] = True
    if s.fallback:
        params["fallback"] = s.fallback
    return params


def request_params(campaign: Campaign, row: pd.Series) -> dict[str, Any]:
    """The parameters a checked row (prepare.COLUMNS) would be sent with if it went now."""
    settings = SendSettings.of(campaign)
    now = time.time()
    return message_params(
        settings,
        recipient=int(row["recipient"]),
        text=row["text"],
        label=cell_text(row["label"]),
        foreign_id=cell_text(row["foreign_id"]),
        now=now,
        deadline=settings.deadline(now),
    )


def cell_text(value: Any) -> str | None:
    """A merged cell as text; None for an empty one (NA, NaN or "")."""
    return None if value is None or pd.isna(value) or value == "" else str(value)
