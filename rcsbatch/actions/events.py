"""RCS events (`POST /rcs/events`): READ and IS_TYPING to a number or an inbound message.

One event, or a file of them (columns `to` or `msg_id`, optional `event`), every value checked
before the first request. A file's events go concurrently (bounded), each retried by the send
path's rules (`gateway/retry.py`); every row's outcome is written to `<input>.results.csv`.

Row statuses: `sent` (the gateway said success), `failed` (it said `success: false`, or retries
ran out), `unknown` (the answer was lost: it may have arrived; not retried, an event is not worth
a second one), `not_sent` (the gateway stopped the batch: key, rights).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from rcsbatch.errors import (
    AccountError,
    GatewayError,
    InputError,
)
from rcsbatch.gateway.fanout import bounded
from rcsbatch.gateway.pace import sleep as default_sleep
from rcsbatch.gateway.retry import Attempts, RetryPolicy
from rcsbatch.recipients import phones
from rcsbatch.recipients.read import open_recipients
from rcsbatch.reports.csvfile import STANDARD, Dialect, safe_cell
from rcsbatch.state.status import RowStatus, failure

if TYPE_CHECKING:
    from rcsbatch.gateway.client import GatewayClient

EVENTS = ("READ", "IS_TYPING")
RESULT_FIELDS = ("row", "to", "msg_id", "event", "status", "attempts", "error_code", "error")
MAX_LISTED = 10  # bad rows named in one error message


@dataclass(frozen=True)
class Event:
    """One event to send: to a number (digits with country code) or to an inbound message."""

    row: int
    event: str
    to: str | None = None
    msg_id: str | None = None
    status: RowStatus | Literal[""] = ""  # "": not sent yet
    attempts: int = 0
    error_code: str | None = None
    error: str | None = None

    def params(self, sender: str | None) -> dict[str, str]:
        """The JSON body of `POST /rcs/events`."""
        body = {"event": self.event}
        if self.to is not None:
            body["to"] = self.to
        if self.msg_id is not None:
            body["msg_id"] = self.msg_id
        if sender:
            body["from"] = sender
        return body


def check_event_name(value: str) -> str:
    """The event name in seven's spelling (READ, IS_TYPING); InputError for another."""
    name = value.strip().upper().replace("-", "_")
    if name not in EVENTS:
        raise InputError(f"unknown event {value!r}: use one of {', '.join(EVENTS)}", option="event")
    return name


def check_region(region: str) -> None:
    """InputError when `region` is not a region phonenumbers knows."""
    if not phones.is_known_region(region):
        raise InputError(
            f"region {region!r} is not a known region code (e.g. DE, AT, GB)", option="region"
        )


def one_event(event: str, to: str | None, msg_id: str | None, region: str) -> Event:
    """A checked single event: exactly one of `to` (a valid number) and `msg_id`."""
    check_region(region)
    name = check_event_name(event)
    to = to.strip() if to and to.strip() else None
    msg_id = msg_id.strip() if msg_id and msg_id.strip() else None
    if (to is None) == (msg_id is None):
        raise InputError(
            "give exactly one of `to` (a number) and `msg_id` (the inbound message the event "
            "answers)"
        )
    if to is None:
        return Event(1, name, msg_id=msg_id)
    number, reason = phones.normalise_one(to, region)
    if reason is not None:
        raise InputError(f"`to` {to!r} is not a valid number ({reason})", option="to")
    return Event(1, name, to=str(number))


def read_events(path: Path, default_event: str | None, region: str) -> list[Event]:
    """Every row of an events file, checked; InputError naming the bad rows (nothing is sent).

    Columns: `to` and/or `msg_id` (each row fills exactly one), `event` (optional when
    `default_event` is given; a row's own value wins).
    """
    check_region(region)
    default = check_event_name(default_event) if default_event else None
    file = open_recipients(path)
    wanted = [c for c in ("to", "msg_id", "event") if c in file.columns]
    if "to" not in wanted and "msg_id" not in wanted:
        file.require(["to"], "events: a column `to` (numbers) or `msg_id` (inbound message ids)")
    if "event" not in wanted and default is None:
        file.require(["event"], "events without a default event", option="event")
    events: list[Event] = []
    problems: list[str] = []
    no_event = False  # a default event would fix those rows
    for chunk in file.chunks(wanted):
        to = chunk["to"] if "to" in chunk else pd.Series(pd.NA, index=chunk.index, dtype="str")
        numbers, reasons = phones.normalise_many(to, region)
        for i, row in enumerate(chunk.index.tolist()):
            raw_to = _cell(to.iloc[i])
            msg_id = _cell(chunk["msg_id"].iloc[i]) if "msg_id" in chunk else None
            raw_event = _cell(chunk["event"].iloc[i]) if "event" in chunk else None
            try:
                name = check_event_name(raw_event) if raw_event else default
            except InputError as exc:
                problems.append(f"row {row}: {exc}")
                continue
            if name is None:
                no_event = True
                problems.append(f"row {row}: no event (fill the `event` cell, or give a default)")
            elif (raw_to is None) == (msg_id is None):
                problems.append(f"row {row}: fill exactly one of `to` and `msg_id`")
            elif raw_to is not None and reasons[i] is not None:
                problems.append(f"row {row}: `to` {raw_to!r} is not a valid number ({reasons[i]})")
            elif raw_to is not None:
                events.append(Event(row, name, to=str(int(numbers[i]))))
            else:
                events.append(Event(row, name, msg_id=msg_id))
    if problems:
        more = len(problems) - MAX_LISTED
        listed = "; ".join(problems[:MAX_LISTED]) + (f"; and {more} more" if more > 0 else "")
        raise InputError(
            f"{path.name}: nothing was sent, {len(problems)} bad rows: {listed}",
            option="event" if no_event else None,
        )
    return events


def _cell(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def results_path(path: Path) -> Path:
    """Where a file's results go: beside it, `replies.csv` → `replies.results.csv`."""
    return path.with_name(path.stem + ".results.csv")


async def send_events(
    client: GatewayClient,
    events: list[Event],
    *,
    sender: str | None = None,
    concurrency: int = 8,
    max_attempts: int = 5,
    sleep: Callable[[float], Awaitable[None]] = default_sleep,
) -> tuple[list[Event], str | None]:
    """Send every event, at most `concurrency` at a time; the events with their outcome, and
    why the gateway stopped the batch (None when it did not)."""
    stop: list[str] = []
    policy = RetryPolicy(max_attempts, sleep=sleep)

    async def one(item: Event) -> Event:
        if stop:
            return replace(item, status="not_sent", error=f"not sent: {stop[0]}")
        attempts = Attempts()
        try:
            await policy.call(lambda: client.event(item.params(sender)), attempts=attempts)
        except GatewayError as exc:
            found = failure(exc, attempts.count)
            if isinstance(exc, AccountError):
                stop.append(str(exc))
                # Its results row has always shown 0 attempts: kept so.
                return replace(item, status=found.status, error_code=found.code, error=found.text)
            return _done(item, found.status, attempts, found.code, found.text)
        return _done(item, "sent", attempts, None, None)

    done = await bounded(events, concurrency, one)
    return done, stop[0] if stop else None


def _done(
    item: Event, status: RowStatus, attempts: Attempts, code: str | None, text: str | None
) -> Event:
    return replace(item, status=status, attempts=attempts.count, error_code=code, error=text)


def write_results(path: Path, events: list[Event], dialect: Dialect = STANDARD) -> Path:
    """Write one row per event (RESULT_FIELDS) to `path` as CSV in `dialect`; returns `path`."""
    temp = path.with_name(path.name + ".tmp")
    with dialect.open(temp) as handle:
        writer = dialect.writer(handle)
        writer.writerow(RESULT_FIELDS)
        for e in sorted(events, key=lambda e: e.row):
            cells = [
                e.row,
                e.to or "",
                e.msg_id or "",
                e.event,
                e.status,
                e.attempts,
                e.error_code or "",
                e.error or "",
            ]
            writer.writerow([safe_cell(c) for c in cells])
    temp.replace(path)
    return path
