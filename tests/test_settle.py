"""Settling lost answers: reading logbook entries, matching them to a row, and the decision."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rcsbatch.errors import AccountError, AnswerLostError
from rcsbatch.journal import Unsettled
from rcsbatch.settle import CLOCK_SKEW, PAGE, entry_time, found_in, matches, settle

BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, 09:00 in Berlin
TO = 4917610000001


def stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, BERLIN).strftime("%Y-%m-%d %H:%M:%S")


def entry(ts: float = T0, **kw: Any) -> dict[str, Any]:
    return {
        "id": "77",
        "to": str(TO),
        "foreign_id": "c1",
        "timestamp": stamp(ts),
        "price": "0.05",
        **kw,
    }


def row(status: str = "unknown", **kw: Any) -> Unsettled:
    values: dict[str, Any] = {
        "recipient": TO,
        "row": 1,
        "status": status,
        "foreign_id": "c1",
        "attempts": 1,
        "first_attempt_at": T0,
        "last_attempt_at": T0,
        "taken_at": T0 - 1,
    }
    return Unsettled(**{**values, **kw})


class Logbook:
    """A stand-in client whose logbook holds `entries` (newest first) or fails."""

    def __init__(self, entries: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.entries = entries
        self.error = error
        self.queries: list[dict[str, Any]] = []

    async def logbook(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        start = int(query["offset"])
        return self.entries[start : start + int(query["limit"])]


def decide(book: Logbook, rows: list[Unsettled], now: float, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "now": now,
        "run_started": T0,
        "settle_seconds": 300,
        "max_attempts": 5,
        **kw,
    }
    return asyncio.run(settle(book, rows, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-15 09:00:00", T0),  # the gateway's local time (assumed Berlin)
        ("2027-01-15 09:00:00.250000", T0 + 0.25),
        ("2027-01-15T08:00:00+00:00", T0),
        (int(T0), T0),
        (str(int(T0)), T0),
        ("yesterday", None),
        (None, None),
    ],
)
def test_entry_time_reads_every_plausible_form(value: Any, expected: float | None) -> None:
    """Berlin wall time, ISO with offset and Unix seconds are read; anything else is None."""
    assert entry_time(value) == expected


@pytest.mark.parametrize(
    ("change", "hit"),
    [
        ({}, True),
        ({"to": "+49 176 10000001"}, True),
        ({"to": "004917610000001"}, True),
        ({"to": "4917610000002"}, False),
        ({"foreign_id": "c2"}, False),
        ({"foreign_id": None}, False),
        ({"timestamp": stamp(T0 - CLOCK_SKEW + 1)}, True),
        ({"timestamp": stamp(T0 - CLOCK_SKEW - 60)}, False),
        ({"timestamp": "garbage"}, False),
    ],
)
def test_an_entry_matches_only_by_recipient_foreign_id_and_time(
    change: dict[str, Any], hit: bool
) -> None:
    """Same recipient (in any written form), same foreign_id, sent no earlier than the first
    attempt less the clock skew."""
    assert matches({**entry(), **change}, TO, "c1", T0) is hit


def test_found_sums_every_id_and_price_and_a_zero_price_is_unknown() -> None:
    """Two entries: both ids, the summed price; any 0 or missing price makes it unknown."""
    both = found_in([entry(id="1", price="0.05"), entry(T0 + 5, id="2", price=Decimal("0.07"))])
    assert (both.message_ids, both.price, both.sent_at) == (("1", "2"), Decimal("0.12"), T0)
    assert found_in([entry(price="0"), entry(price="0.05")]).price is None


def test_found_in_the_logbook_is_sent() -> None:
    """A matching entry settles the row as sent with the logbook's id and price."""
    book = Logbook([entry()])
    result = decide(book, [row()], now=T0 + 10)
    (outcome,) = result.found
    assert (outcome.status, outcome.message_ids, outcome.price) == (
        "sent",
        ("77",),
        Decimal("0.05"),
    )
    assert result.resend == [] and result.waiting == {}
    assert book.queries[0]["to"] == str(TO) and book.queries[0]["date_from"] == "2027-01-15"


def test_the_logbook_is_paged_to_its_end() -> None:
    """The row's entry on the third page (100 a page) is found."""
    others = [entry(T0 + 60, id=str(i), foreign_id="other") for i in range(2 * PAGE)]
    book = Logbook([*others, entry()])
    result = decide(book, [row()], now=T0 + 10)
    assert [o.message_ids for o in result.found] == [("77",)]
    assert [q["offset"] for q in book.queries] == [0, PAGE, 2 * PAGE]


@pytest.mark.parametrize(
    ("now", "attempts", "verdict"),
    [
        (T0 + 299, 1, "waiting"),  # the settle period since the last attempt is not over
        (T0 + 300, 1, "resend"),
        (T0 + 300, 5, "gave_up"),  # answers lost max_attempts times: failed, not again
    ],
)
def test_not_found_waits_for_the_settle_period_then_goes_again(
    now: float, attempts: int, verdict: str
) -> None:
    """Not in the logbook: wait until settle_seconds after the last attempt, then send again."""
    result = decide(Logbook([]), [row(attempts=attempts)], now=now)
    decided = {"waiting": list(result.waiting), "resend": result.resend, "gave_up": result.gave_up}
    assert decided[verdict] == [TO]
    assert sum(len(v) for v in decided.values()) == 1
    if verdict == "waiting":
        assert result.waiting[TO] == T0 + 300


def test_a_row_a_dead_run_left_in_flight_counts_from_this_runs_start() -> None:
    """In flight, last attempt unknown: the settle period runs from the start of this run."""
    dead = row("in_flight", first_attempt_at=None, last_attempt_at=None, attempts=0)
    result = decide(Logbook([]), [dead], now=T0 + 10, run_started=T0 + 5)
    assert result.waiting == {TO: T0 + 305}


def test_an_unreadable_logbook_leaves_the_row_unsettled() -> None:
    """The logbook answers garbage: the row is neither sent nor sent again."""
    result = decide(Logbook([], AnswerLostError("garbled")), [row()], now=T0 + 999)
    assert result.unreadable == [TO] and not result.found and not result.resend


def test_a_refused_key_on_the_logbook_stops_the_run() -> None:
    """An account error while looking up propagates: the run stops."""
    with pytest.raises(AccountError):
        decide(Logbook([], AccountError("key", code="900")), [row()], now=T0)


def test_resend_and_skip_do_not_look() -> None:
    """on_unknown resend: every row in the file goes again; skip: nothing is decided."""
    book = Logbook([entry()])
    assert decide(book, [row(), row(row=None)], now=T0, on_unknown="resend").resend == [TO]
    skipped = decide(book, [row()], now=T0, on_unknown="skip")
    assert not (skipped.found or skipped.resend or skipped.waiting)
    assert book.queries == []


def test_an_unknown_row_whose_last_attempt_predates_its_taking_counts_from_the_run() -> None:
    """last_attempt_at older than taken_at (an earlier attempt; the last request was cut off):
    the settle period runs from this run's start, not from that old attempt."""
    stale = row("unknown", last_attempt_at=T0 - 3600, taken_at=T0 - 5)
    result = decide(Logbook([]), [stale], now=T0 + 10, run_started=T0)
    assert result.waiting == {TO: T0 + 300} and result.resend == []


def test_a_time_in_the_hour_set_back_is_read_as_the_later_one() -> None:
    """ "2026-10-25 02:30:00" in Berlin happens twice: the later (CET, 01:30 UTC) is taken."""
    assert entry_time("2026-10-25 02:30:00") == 1_792_891_800.0
