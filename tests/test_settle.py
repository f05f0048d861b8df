"""Settling lost answers: strict proof, loose absence, evidence, and what is measured.

These drive `Settler` with a stand-in logbook to pin each rule; tests/test_lost_answers.py runs
the same rules end to end against the simulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rcsbatch.engine.settle import (
    MAX_PAGES,
    WINDOW_READ_AT,
    Known,
    Rules,
    Settler,
    sent_elsewhere,
)
from rcsbatch.errors import AccountError, AnswerLostError
from rcsbatch.gateway.logbook import PAGE
from rcsbatch.recipients.prepare import derived_foreign_id
from rcsbatch.state.claims import AccountClaims
from rcsbatch.state.journal import Journal, Outcome, SampleRow, Unsettled

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, 09:00 in Berlin
TO = 4917610000001
OTHER = 4917610000099
TEXT = "Hi Anna"
RULES = Rules(request_timeout=30, floor=30, margin=10, max_attempts=5)


def stamp(ts: float, zone: ZoneInfo = BERLIN) -> str:
    return dt.datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S")


def entry(ts: float = T0 + 1, zone: ZoneInfo = BERLIN, **kw: Any) -> dict[str, Any]:
    return {
        "id": "77",
        "to": str(TO),
        "text": TEXT,
        "label": None,
        "foreign_id": "c1",
        "channel": "RCS",
        "timestamp": stamp(ts, zone),
        "price": "0.05",
        **kw,
    }


def row(status: str = "unknown", **kw: Any) -> Unsettled:
    values: dict[str, Any] = {
        "recipient": TO,
        "row": 2,
        "status": status,
        "text": TEXT,
        "label": None,
        "foreign_id": "c1",
        "attempts": 1,
        "first_attempt_at": T0,
        "last_attempt_at": T0,
        "taken_at": T0 - 1,
    }
    return Unsettled(**{**values, **kw})


class Logbook:
    """A stand-in client: a logbook of `entries` (newest first) filtered by `to`, or failing;
    its clock `offset` seconds ahead of ours, as the Date headers would measure it."""

    def __init__(
        self,
        entries: list[dict[str, Any]],
        error: Exception | None = None,
        offset: float | None = 0.0,
    ) -> None:
        self.entries = entries
        self.error = error
        self.offset = offset
        self.queries: list[dict[str, Any]] = []

    async def logbook(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        self.queries.append(query)
        if self.error is not None:
            raise self.error
        found = [e for e in self.entries if "to" not in query or e["to"] == query["to"]]
        start = int(query["offset"])
        return found[start : start + int(query["limit"])]

    def clock_offset(self) -> tuple[float, float] | None:
        return None if self.offset is None else (self.offset - 0.5, self.offset + 0.5)


def decide(
    book: Logbook,
    rows: list[Unsettled],
    now: float,
    *,
    known: list[Known] = (),  # type: ignore[assignment]
    settler: Settler | None = None,
    **kw: Any,
) -> Any:
    kw.setdefault("zone", "Europe/Berlin")  # as measured by an earlier run of the account
    settler = settler or Settler(book, kw.pop("rules", RULES), **kw)  # type: ignore[arg-type]
    return asyncio.run(settler.settle(rows, now=now, run_started=T0 - 5, known=known))


def later(at: float, message_id: str = "90", recipient: int = OTHER) -> Known:
    """A message of ours whose request left at `at` and was answered a second later."""
    return Known(message_id, recipient, at, at + 1)


# -- proof that it went -----------------------------------------------------------------------


def test_the_rows_message_in_its_window_is_proof_with_every_id_and_the_summed_price() -> None:
    book = Logbook([entry(id="78", price="0.02"), entry(id="77", price="0.05")])
    result = decide(book, [row()], now=T0 + 5)
    (found,) = result.found
    assert found.status == "sent"
    assert set(found.message_ids) == {"77", "78"}
    assert str(found.price) == "0.07"
    assert not result.resend and not result.waiting


def test_a_rich_message_is_the_same_json_however_the_logbook_spaces_it() -> None:
    sent = '{"richcard": {"title": "Sale", "description": "50 %"}}'
    shown = '{"richcard":{"description":"50 %","title":"Sale"}}'
    result = decide(Logbook([entry(text=shown)]), [row(text=sent)], now=T0 + 5)
    assert [o.message_ids for o in result.found] == [("77",)]


@pytest.mark.parametrize(
    ("change", "what"),
    [
        ({"text": "Hi Anna, see https://s.seven.io/x1"}, "text"),  # a link rewritten
        ({"text": " Hi  Anna "}, "text"),  # trimmed differently
        ({"channel": "SMS"}, "channel"),  # the fallback went instead
        ({"label": "spring"}, "label"),
        ({"foreign_id": "c2"}, "foreign_id"),
    ],
)
def test_an_entry_that_differs_keeps_the_row_unknown_and_says_why(
    change: dict[str, Any], what: str
) -> None:
    result = decide(Logbook([entry(**change)]), [row()], now=T0 + 600, known=[later(T0 + 100)])
    assert not result.found and not result.resend and not result.waiting
    assert what in result.undecided[TO]


def test_another_campaigns_message_with_the_same_foreign_id_is_no_proof() -> None:
    """Issue 10 case 2: the same foreign_id template, another campaign's text."""
    book = Logbook([entry(text="Spring sale, Anna", id="55")])
    result = decide(book, [row()], now=T0 + 600, known=[later(T0 + 100)])
    assert not result.found
    assert TO in result.undecided


def test_an_identical_message_after_the_window_is_no_proof_and_no_absence() -> None:
    """A daily cron with the same text, label and foreign_id: yesterday's lost row is never
    settled with today's message; nor is it sent again, since the gateway may have queued it
    that long."""
    yesterday = row(first_attempt_at=T0 - 86_400, last_attempt_at=T0 - 86_400, taken_at=None)
    seen = entry(id="90", to=str(OTHER), ts=T0 + 101, text="x", foreign_id="o")
    book = Logbook([seen, entry(ts=T0 + 2, id="today")])
    result = decide(book, [yesterday], now=T0 + 600, known=[later(T0 + 100)])
    assert not result.found and not result.resend
    assert "stamped after its attempt's window" in result.undecided[TO]


def test_an_id_another_campaign_of_the_account_holds_is_not_ours(tmp_path: Path) -> None:
    account = tmp_path / "acct"
    with Journal(account / "other" / "journal.sqlite") as other:
        other.add_rows([(TO, 2, TEXT, None, "c1")])
        other.record("r1", [Outcome(TO, "sent", 1, T0, T0, message_ids=("77",))])
    claims = AccountClaims(account, "mine", account / "mine" / "journal.sqlite")
    result = decide(Logbook([entry()]), [row()], now=T0 + 5, claims=claims)
    assert not result.found
    assert result.waiting  # not proof, and absence still needs evidence


def test_an_entry_two_campaigns_lost_rows_could_own_settles_neither(tmp_path: Path) -> None:
    account = tmp_path / "acct"
    with Journal(account / "other" / "journal.sqlite") as other:
        other.add_rows([(TO, 2, TEXT, None, "c1")])
        other.record("r1", [Outcome(TO, "unknown", 1, T0, T0)])
    claims = AccountClaims(account, "mine", account / "mine" / "journal.sqlite")
    result = decide(Logbook([entry()]), [row()], now=T0 + 5, claims=claims)
    assert not result.found
    assert "another campaign" in result.undecided[TO]


def test_a_claim_is_first_come_first_served(tmp_path: Path) -> None:
    account = tmp_path / "acct"
    first = AccountClaims(account, "a", account / "a" / "journal.sqlite")
    second = AccountClaims(account, "b", account / "b" / "journal.sqlite")
    assert first.claim(["77"], TO)
    assert first.claim(["77"], TO)  # again: still ours
    assert not second.claim(["77", "80"], TO)
    assert second.held_elsewhere(["77", "80"]) == {"77"}
    assert (account / "claims.sqlite").stat().st_mode & 0o077 == 0


# -- proof that it did not go ------------------------------------------------------------------


def test_absence_waits_for_the_floor_after_the_client_timeout() -> None:
    result = decide(Logbook([]), [row()], now=T0 + 40, known=[later(T0 + 45)])
    assert result.waiting == {TO: T0 + 30 + 30}
    assert result.evidence_after == T0 + 30 + 10


def test_absence_without_later_messages_of_ours_in_the_logbook_is_not_proven() -> None:
    """Issue 10 cases 3 and 6: with no evidence the row waits, whatever the time."""
    result = decide(Logbook([]), [row()], now=T0 + 3600)
    assert result.waiting and not result.resend


def test_absence_with_a_later_message_of_ours_visible_sends_again() -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    result = decide(Logbook([seen]), [row()], now=T0 + 61, known=[later(T0 + 45)])
    assert result.resend == [TO]


def test_a_later_message_not_yet_visible_is_no_evidence() -> None:
    """A lagging logbook: our later message is not listed yet, so neither might the lost one."""
    result = decide(Logbook([]), [row()], now=T0 + 3600, known=[later(T0 + 45)])
    assert not result.resend
    assert result.waiting


def test_a_message_sent_too_soon_after_the_lost_one_is_no_evidence() -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 20, text="x", foreign_id="o")
    result = decide(Logbook([seen]), [row()], now=T0 + 3600, known=[later(T0 + 15)])
    assert not result.resend


def test_out_of_attempts_gives_up_instead_of_sending_again() -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    result = decide(Logbook([seen]), [row(attempts=5)], now=T0 + 61, known=[later(T0 + 45)])
    assert result.gave_up == [TO] and not result.resend


def test_a_lookup_cut_short_is_never_absence() -> None:
    """Issue 10 case 10: a test number with thousands of messages."""
    many = [entry(id=str(i), text="other", ts=T0 - 100) for i in range(MAX_PAGES * PAGE)]
    result = decide(Logbook(many), [row()], now=T0 + 3600, known=[later(T0 + 45)])
    assert not result.resend
    assert "cut short" in result.undecided[TO]


def test_a_short_page_is_not_the_end_when_the_gateway_caps_its_pages() -> None:
    """A gateway that answers 50 entries a page, whatever `limit` says: the lookup goes on from
    where the short page ended, and finds the row's message on the second page."""

    class Capped(Logbook):
        async def logbook(self, query: dict[str, Any]) -> list[dict[str, Any]]:
            return (await super().logbook(query))[:50]

    others = [entry(id=str(i), text="other", ts=T0 + 100 + i) for i in range(60)]
    book = Capped([*reversed(others), entry(id="77")])
    result = decide(book, [row()], now=T0 + 600, known=[later(T0 + 45)])
    assert [o.message_ids for o in result.found] == [("77",)]


@pytest.mark.parametrize("stamp", ["15.01.2027 09:00:01", None, "", "yesterday"])
def test_an_entry_whose_time_cannot_be_read_is_never_absence(stamp: Any) -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    result = decide(
        Logbook([seen, entry(timestamp=stamp)]), [row()], now=T0 + 61, known=[later(T0 + 45)]
    )
    assert not result.resend and not result.found
    assert "cannot be read" in result.undecided[TO] or "stamped after" in result.undecided[TO]


def test_without_a_date_header_absence_is_not_judged() -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    result = decide(Logbook([seen], offset=None), [row()], now=T0 + 61, known=[later(T0 + 45)])
    assert not result.resend and "Date header" in result.undecided[TO]


def test_a_later_message_listed_before_an_older_one_of_ours_is_no_evidence() -> None:
    """Out of order: our message sent at T0+45 is listed, the one sent at T0+42 not yet: the
    logbook is shown current only up to before T0+42."""
    seen = entry(id="91", to=str(OTHER), ts=T0 + 46, text="x", foreign_id="o")
    known = [later(T0 + 42, "90", OTHER + 1), later(T0 + 45, "91")]
    result = decide(Logbook([seen]), [row()], now=T0 + 61, known=known)
    assert not result.resend and TO in result.waiting


def test_a_scheduled_message_of_ours_is_no_evidence() -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    scheduled = Known("90", OTHER, T0 + 45, T0 + 46, delay=T0 + 86_400)
    result = decide(Logbook([seen]), [row()], now=T0 + 61, known=[scheduled])
    assert not result.resend


def test_an_unreadable_logbook_decides_nothing() -> None:
    book = Logbook([], error=AnswerLostError("the logbook answered HTTP 502"))
    result = decide(book, [row()], now=T0 + 3600, known=[later(T0 + 45)])
    assert not result.resend and not result.found
    assert "could not be read" in result.undecided[TO]


def test_a_refused_key_on_the_logbook_stops_the_run() -> None:
    book = Logbook([], error=AccountError("the gateway refused the API key", code="900"))
    with pytest.raises(AccountError):
        decide(book, [row()], now=T0 + 3600)


def test_skip_does_not_look() -> None:
    book = Logbook([])
    rules = Rules(30, 30, 10, 5, on_unknown="skip")
    assert decide(book, [row()], now=T0 + 3600, rules=rules).waiting == {}
    assert book.queries == []


# -- what is measured --------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [UTC, BERLIN])
def test_the_logbooks_zone_is_measured_from_a_known_message(zone: ZoneInfo) -> None:
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, zone=zone, text="x", foreign_id="o")
    settler = Settler(Logbook([seen]), RULES)  # type: ignore[arg-type]
    decide(settler.client, [row()], now=T0 + 61, known=[later(T0 + 45)], settler=settler)  # type: ignore[arg-type]
    assert settler.facts.zone == zone.key
    assert settler.facts.zone_source == "measured"


def test_proof_that_hangs_on_the_unknown_zone_waits_for_it() -> None:
    """Read as UTC, an identical message an hour before the attempt falls inside its window:
    until the zone is measured nothing is decided."""
    book = Logbook([entry(ts=T0 - 3600)])
    result = decide(book, [row()], now=T0 + 5, zone=None)
    assert not result.found and not result.resend
    assert TO in result.zone_pending and "time zone" in result.undecided[TO]


@pytest.mark.parametrize("offset", [-600.0, 600.0])
def test_a_gateway_clock_ten_minutes_off_still_settles_the_row(offset: float) -> None:
    """Issue 10 case 3: the gateway stamps with its own clock; Date headers measure it."""
    book = Logbook([entry(ts=T0 + 1 + offset)], offset=offset)
    result = decide(book, [row()], now=T0 + 5)
    assert [o.message_ids for o in result.found] == [("77",)]


def test_without_a_measured_clock_a_shifted_entry_still_counts_as_loose() -> None:
    """No Date header: the window widens, so a nearby entry keeps the row unknown."""
    book = Logbook([entry(ts=T0 + 200, text="Hi Anna, https://s.seven.io/x")], offset=None)
    result = decide(book, [row()], now=T0 + 3600, known=[later(T0 + 1000)])
    assert TO in result.undecided and not result.resend


def test_a_message_stamped_at_dispatch_widens_the_window() -> None:
    """seven queues above the account's rate: a known message stamped 5 minutes after its
    request tells that the lost one may be stamped that late too."""
    known = later(T0 + 40, "90")
    seen = entry(id="90", to=str(OTHER), ts=T0 + 340, text="x", foreign_id="o")
    ours = entry(id="77", ts=T0 + 300)
    result = decide(Logbook([seen, ours]), [row()], now=T0 + 400, known=[known])
    assert [o.message_ids for o in result.found] == [("77",)]


# -- scheduled messages -------------------------------------------------------------------------


def test_a_lost_scheduled_row_is_decided_only_after_its_delay() -> None:
    """Issue 10 case 4: the logbook may list a scheduled message only once it goes."""
    delay = T0 + 3600
    seen = entry(id="90", to=str(OTHER), ts=T0 + 50, text="x", foreign_id="o")
    early = decide(Logbook([seen]), [row(delay=delay)], now=T0 + 100, known=[later(T0 + 45)])
    assert not early.resend and early.waiting[TO] >= delay
    seen_late = entry(id="91", to=str(OTHER), ts=delay + 20, text="x", foreign_id="o")
    after = decide(
        Logbook([seen_late]),
        [row(delay=delay)],
        now=delay + 60,
        known=[later(delay + 15, "91")],
    )
    assert after.resend == [TO]


def test_a_scheduled_message_stamped_at_its_delay_is_proof() -> None:
    delay = T0 + 3600
    result = decide(Logbook([entry(ts=delay)]), [row(delay=delay)], now=T0 + 100)
    assert [o.message_ids for o in result.found] == [("77",)]


# -- many rows: one read by time ---------------------------------------------------------------


def test_many_lost_answers_are_read_from_the_logbook_once_by_time() -> None:
    rows = [row(recipient=TO + i, row=i + 2) for i in range(WINDOW_READ_AT)]
    entries = [entry(id=str(100 + i), to=str(TO + i)) for i in range(WINDOW_READ_AT)]
    book = Logbook(entries)
    result = decide(book, rows, now=T0 + 5)
    assert len(result.found) == WINDOW_READ_AT
    assert all("to" not in q for q in book.queries)
    # Four pages at once, then (after the short first page) the page after it, found empty.
    assert len(book.queries) <= 5


# -- a campaign's first run ----------------------------------------------------------------------


def sample(recipient: int = TO, **kw: Any) -> SampleRow:
    return SampleRow(
        **{
            "recipient": recipient,
            "text": TEXT,
            "label": None,
            "foreign_id": derived_foreign_id("spring", recipient),
            **kw,
        }
    )


def test_a_first_run_finds_its_derived_foreign_id_in_the_logbook() -> None:
    book = Logbook([entry(foreign_id=derived_foreign_id("spring", TO), text="other text")])
    found = asyncio.run(sent_elsewhere(book, "spring", [sample()]))  # type: ignore[arg-type]
    assert found is not None and "foreign_id" in found


def test_a_first_run_is_not_stopped_by_another_campaigns_identical_text() -> None:
    """A weekly campaign under a new name: same text, another derived foreign_id."""
    book = Logbook([entry(foreign_id=derived_foreign_id("spring-wk1", TO))])
    assert asyncio.run(sent_elsewhere(book, "spring-wk2", [sample()])) is None  # type: ignore[arg-type]


def test_a_first_run_with_a_users_foreign_id_is_stopped_by_the_same_text_and_label() -> None:
    book = Logbook([entry(foreign_id="c1")])
    found = asyncio.run(sent_elsewhere(book, "spring", [sample(foreign_id="c1")]))  # type: ignore[arg-type]
    assert found is not None and "same text" in found


def test_derived_foreign_ids_of_long_names_differ_and_fit() -> None:
    """Issue 10 case 2: names alike in their first 48 characters."""
    base = "a-very-long-campaign-name-for-the-spring-sale-in-all-stores"
    one, two = (derived_foreign_id(base + s, 491761234567890) for s in ("-wave1", "-wave2"))
    assert one != two
    assert max(len(one), len(two)) <= 64
