"""What one send request carries: the gateway parameters for one row at one moment.

One function builds them for the sender and for `preview`, so a preview shows exactly what leaves.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rcsbatch.campaign.file import (
    DEFAULT_EVIDENCE_MARGIN,
    DEFAULT_GIVE_UP_AFTER,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SETTLE_FLOOR,
    DEFAULT_SETTLE_SECONDS,
    Campaign,
)
from rcsbatch.campaign.rich import place
from rcsbatch.campaign.window import Window
from rcsbatch.gateway.pace import sleep


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
    settle_seconds: float = DEFAULT_SETTLE_SECONDS  # the longest a run waits for evidence
    on_unknown: str = "reconcile"
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    settle_floor: float = DEFAULT_SETTLE_FLOOR
    evidence_margin: float = DEFAULT_EVIDENCE_MARGIN
    not_after: float | None = None  # Unix seconds: nothing is sent from then on
    window: Window | None = None
    outside_window: str = "wait"
    give_up_after: float = DEFAULT_GIVE_UP_AFTER
    # Where a rich message's RCS object goes (campaign.rich.RICH_FORMS); None: plain text campaign.
    rich_form: str | None = None
    # Time, injectable so tests of validity, windows, not_after and settling need not sleep.
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = sleep

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
            settle_seconds=s.settle_seconds,
            on_unknown=s.on_unknown,
            request_timeout=s.request_timeout,
            settle_floor=s.settle_floor,
            evidence_margin=s.evidence_margin,
            not_after=s.not_after.timestamp() if s.not_after else None,
            window=s.window,
            outside_window=s.outside_window,
            give_up_after=s.give_up_after,
            rich_form=m.rich.form if m.rich is not None else None,
        )

    def deadline(self, first_attempt: float, delay: float | None = None) -> float:
        """When validity ends: it starts at the delay if given (the row's own, for one scheduled
        for its window, else the campaign's), else at the first attempt."""
        planned = delay or self.delay or first_attempt
        return planned + self.ttl_minutes * 60

    def too_late(self, now: float) -> bool:
        """True once `not_after` has passed: nothing more may be sent."""
        return self.not_after is not None and now >= self.not_after


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
    delay: float | None = None,
) -> dict[str, Any]:
    """The JSON body of `POST /rcs/messages` for one row at time `now`; raise Expired if too late.

    `ttl` carries only the validity left (whole minutes); a delay already past is left out, so the
    message goes now. seven's string form of `delay` has no documented time zone, so it is sent as
    Unix seconds.
    """
    s = settings
    delay = delay or s.delay  # a row scheduled for its window's opening has a delay of its own
    left = math.floor((deadline - max(now, delay or 0.0)) / 60)
    if left < 1:
        raise Expired
    params: dict[str, Any] = {"to": str(recipient)}
    if s.rich_form is not None:
        # A rich row's text is its RCS object as JSON: placed where the campaign's form says.
        place(params, text, s.rich_form)
    else:
        params["text"] = text
    if s.sender:
        params["from"] = s.sender
    if label:
        params["label"] = label
    if foreign_id:
        params["foreign_id"] = foreign_id
    if delay is not None and delay > now:
        params["delay"] = int(delay)
    params["ttl"] = min(left, s.ttl_minutes)
    if s.performance_tracking:
        params["performance_tracking"] = True
    if s.fallback:
        params["fallback"] = s.fallback
    return params


def send_body(params: dict[str, Any]) -> bytes:
    """The JSON body of `POST /rcs/messages` with `params`: what `GatewayClient.send` sends, and
    what the payload limit counts."""
    return json.dumps(params, ensure_ascii=False).encode()


def largest_body(
    settings: SendSettings,
    *,
    recipient: int,
    text: str,
    label: str | None,
    foreign_id: str | None,
) -> int:
    """The size in bytes of the largest body a row may be sent with: sent before the campaign's
    delay (or, under `outside_window = "schedule"`, with a delay of its own) and its full ttl."""
    delay = settings.delay
    if delay is None and settings.window is not None and settings.outside_window == "schedule":
        delay = float(_TEN_DIGITS)
    params = message_params(
        settings,
        recipient=recipient,
        text=text,
        label=label,
        foreign_id=foreign_id,
        now=0.0,
        deadline=settings.deadline(0.0, delay),
        delay=delay,
    )
    return len(send_body(params))


_TEN_DIGITS = 9_999_999_999  # a Unix time as long as any until the year 2286


def bodies_over(
    settings: SendSettings,
    limit: int,
    recipients: np.ndarray,
    text: pd.Series,
    label: pd.Series | None,
    foreign_id: pd.Series | None,
) -> dict[int, int]:
    """The rows (by position) whose largest body (see largest_body) is over `limit` bytes, with
    its size.

    A bound first, for all rows at once: the body with an empty text, plus twice the text's
    UTF-8 bytes (JSON escaping at most doubles them: control characters but LF and TAB, which
    would take six, make a row invalid before this; json_string escapes the compact JSON once
    more, again at most doubling it), plus the label's and foreign_id's bytes (their characters
    need no escaping) and the recipient's digits. Only rows whose bound is over the limit are
    built and measured one by one.
    """
    from rcsbatch.campaign.limits import BYTES, sizes

    empty = largest_body(settings, recipient=0, text="", label="x", foreign_id="x")
    bound = empty + 2 + 2 * sizes(text, BYTES) + 20
    for column in (label, foreign_id):
        if column is not None:
            bound += sizes(column, BYTES)
    over: dict[int, int] = {}
    for i in np.flatnonzero(bound > limit).tolist():
        found = largest_body(
            settings,
            recipient=int(recipients[i]),
            text=text.iloc[i],
            label=cell_text(label.iloc[i]) if label is not None else None,
            foreign_id=cell_text(foreign_id.iloc[i]) if foreign_id is not None else None,
        )
        if found > limit:
            over[i] = found
    return over


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
