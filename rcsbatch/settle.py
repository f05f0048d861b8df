"""Settling lost answers through the gateway's logbook, so nothing is reported unsent that went out
and nothing is sent twice.

seven has no idempotency key. A row whose answer was lost (`unknown`), or that a dead run left
`in_flight`, may have been accepted. Before it may be sent again it is looked up in the logbook
(`GET /journal/outbound?to=…`, paged): an entry for the same recipient with the row's `foreign_id`
and a send time no earlier than the row's first attempt proves it went (a user's `foreign_id`, such
as a customer id, repeats across campaigns, so the id alone proves nothing). Found: the row is
`sent` with the logbook's ids and price. Not found once `settle_seconds` have passed since its last
attempt: it surely did not go (unless the logbook lags more than that: the README says so) and is
sent again. Not found sooner: it waits.

For a row a dead run left in flight the last attempt was not recorded; the dead run's attempts all
lie before the lock was free again, so the settle period counts from the start of the run that
finds it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rcsbatch.answers import to_decimal
from rcsbatch.errors import AccountError, GatewayError
from rcsbatch.journal import Outcome, Unsettled

if TYPE_CHECKING:
    from rcsbatch.client import GatewayClient

# Unconfirmed: the logbook's `timestamp` and its `date_from` filter are assumed to be in the
# gateway's local time (seven is in Germany). A timestamp with an offset, or Unix seconds, is
# read as such.
GATEWAY_TZ = ZoneInfo("Europe/Berlin")
# Our clock and the gateway's may differ, and the logbook keeps whole seconds: an entry up to this
# much older than the row's first attempt still counts as its message.
CLOCK_SKEW = 120.0
PAGE = 100  # the logbook's largest page
MAX_PAGES = 50  # 5,000 messages to one recipient since the first attempt: give up looking
LOOKUPS_AT_ONCE = 8


@dataclass(frozen=True)
class Found:
    """The logbook's record of a row's message(s)."""

    message_ids: tuple[str, ...]
    price: Decimal | None  # None: the logbook has no price (0 or missing) for some of them
    sent_at: float


@dataclass
class Settlement:
    """What settling a set of rows decided."""

    found: list[Outcome] = field(default_factory=list)  # record these as sent
    resend: list[int] = field(default_factory=list)  # surely not accepted: send again
    waiting: dict[int, float] = field(default_factory=dict)  # recipient → when to look again
    unreadable: list[int] = field(default_factory=list)  # the logbook could not be read
    # Not accepted, but its answers were lost max_attempts times: not tried again in this run.
    gave_up: list[int] = field(default_factory=list)


def entry_time(value: Any) -> float | None:
    """A logbook timestamp as Unix seconds: "YYYY-MM-DD HH:MM:SS[.ffffff]" in the gateway's zone,
    ISO 8601 with an offset, or Unix seconds; None when unreadable."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdecimal():
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # In the hour a clock is set back, a wall time happens twice: take the later, so an
        # entry is never judged older than it is (it might then not settle its row).
        return max(moment.replace(tzinfo=GATEWAY_TZ, fold=f).timestamp() for f in (0, 1))
    return moment.timestamp()


def _digits(value: Any) -> str:
    text = "".join(ch for ch in str(value or "") if ch.isdigit())
    return text[2:] if text.startswith("00") else text


def matches(entry: Mapping[str, Any], recipient: int, foreign_id: str | None, since: float) -> bool:
    """True when a logbook entry is this row's message: same recipient, same foreign_id, and
    sent no earlier than the row's first attempt (less the clock skew)."""
    if _digits(entry.get("to")) != str(recipient):
        return False
    if (entry.get("foreign_id") or None) != (foreign_id or None):
        return False
    at = entry_time(entry.get("timestamp"))
    return at is not None and at >= since - CLOCK_SKEW


def found_in(entries: Iterable[Mapping[str, Any]]) -> Found:
    """Sum what the matching entries say: every id, the total price, the earliest send time."""
    entries = list(entries)
    ids = tuple(str(e["id"]) for e in entries if e.get("id") is not None)
    prices = [to_decimal(e.get("price")) for e in entries]
    known = all(p is not None and p > 0 for p in prices)
    times = [t for t in (entry_time(e.get("timestamp")) for e in entries) if t is not None]
    return Found(
        message_ids=ids,
        price=sum((p for p in prices if p is not None), Decimal(0)) if known else None,
        sent_at=min(times),
    )


async def look_up(client: GatewayClient, row: Unsettled, since: float) -> Found | None:
    """Page through the logbook's entries for the row's recipient; None when none is its message."""
    day = dt.datetime.fromtimestamp(since - CLOCK_SKEW, GATEWAY_TZ).date()
    hits: list[Mapping[str, Any]] = []
    for page in range(MAX_PAGES):
        entries = await client.logbook(
            {
                "to": str(row.recipient),
                "date_from": day.isoformat(),
                "limit": PAGE,
                "offset": page * PAGE,
            }
        )
        hits += [e for e in entries if matches(e, row.recipient, row.foreign_id, since)]
        if len(entries) < PAGE:
            break
    return found_in(hits) if hits else None


async def settle(
    client: GatewayClient,
    rows: list[Unsettled],
    *,
    now: float,
    run_started: float,
    settle_seconds: float,
    max_attempts: int,
    on_unknown: str = "reconcile",
) -> Settlement:
    """Decide each unsettled row; see the module docstring. An account error (the key was
    refused, …) propagates: the run stops."""
    result = Settlement()
    if on_unknown == "skip":
        return result
    if on_unknown == "resend":
        result.resend = [r.recipient for r in rows if r.row is not None]
        return result
    gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def one(row: Unsettled) -> None:
        since = row.first_attempt_at or row.taken_at or run_started
        async with gate:
            try:
                found = await look_up(client, row, since)
            except AccountError:
                raise
            except GatewayError:
                result.unreadable.append(row.recipient)
                return
        if found is not None:
            result.found.append(
                Outcome(
                    row.recipient,
                    "sent",
                    max(row.attempts, 1),
                    row.first_attempt_at or found.sent_at,
                    row.last_attempt_at or found.sent_at,
                    message_ids=found.message_ids,
                    price=found.price,
                )
            )
            return
        if row.row is None:
            return  # no longer in the file: not sent again, stays unknown
        # The last attempt counts only if it was recorded after the row was last taken: a row
        # cut off in flight keeps an older attempt's time (journal.mark_unknown moves it on).
        recorded = row.last_attempt_at is not None and (
            row.taken_at is None or row.last_attempt_at >= row.taken_at
        )
        last = row.last_attempt_at if row.status == "unknown" and recorded else None
        due = (last if last is not None else run_started) + settle_seconds
        if now < due:
            result.waiting[row.recipient] = due
        elif row.attempts >= max_attempts:
            result.gave_up.append(row.recipient)
        else:
            result.resend.append(row.recipient)

    await asyncio.gather(*(one(r) for r in rows))
    return result
