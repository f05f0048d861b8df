"""The SQLite journal: durable in-flight marks, outcomes, release, re-loads and result order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rcsbatch.errors import ReportError
from rcsbatch.state.journal import RESULT_COLUMNS, SCHEMA_VERSION, Journal, Outcome, Pending

A, B, C, D, E = 4917610000001, 4917610000002, 4917610000003, 4917610000004, 4917610000005
RUN = "20260301T120000Z"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "campaign" / "journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal(path) as j:
        yield j


Row = tuple[int, int, str, str | None, str | None]
Reject = tuple[int, int | None, str, str, str | None]


def load(journal: Journal, rows: list[Row], rejects: list[Reject] | None = None) -> None:
    """Record one read of the recipient file, as the runner does."""
    journal.begin_load()
    journal.add_rows(rows)
    journal.add_rejects(rejects or [])
    journal.end_load()


def row(
    recipient: int,
    n: int,
    text: str = "Hi",
    label: str | None = "spring",
    foreign_id: str | None = None,
) -> Row:
    return (recipient, n, text, label, foreign_id or f"c{n}")


def status_of(path: Path) -> dict[int, str]:
    """The statuses as another connection sees them (what is on disk, committed)."""
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT recipient, status FROM messages").fetchall())


def sent(
    recipient: int,
    price: Decimal | None = Decimal("0.05"),
    ids: tuple[str, ...] = ("m1",),
    at: float = 1_772_366_400.0,
) -> Outcome:
    return Outcome(recipient, "sent", 1, at, at, message_ids=ids, price=price, trace_id="t1")


def results(journal: Journal) -> list[dict[str, Any]]:
    return [dict(zip(RESULT_COLUMNS, r, strict=True)) for r in journal.result_rows()]


def test_wal_mode_and_full_sync_are_on(journal: Journal, path: Path) -> None:
    """The journal runs in WAL mode with synchronous=FULL (fsync at every commit)."""
    assert journal.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    with closing(sqlite3.connect(path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_take_batch_marks_rows_in_flight_durably(journal: Journal, path: Path) -> None:
    """take_batch commits its in-flight marks before returning: another connection sees them."""
    load(journal, [row(A, 1), row(B, 2)])
    taken = journal.take_batch(RUN, 10)
    assert [p.recipient for p in taken] == [A, B]
    assert status_of(path) == {A: "in_flight", B: "in_flight"}


def test_take_batch_records_earlier_outcomes_in_the_same_commit(
    journal: Journal, path: Path
) -> None:
    """Outcomes handed to take_batch are on disk with the new batch's in-flight marks; a batch
    that cannot be taken (a failing write) leaves both undone."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3)])
    journal.take_batch(RUN, 1)
    taken = journal.take_batch(RUN, 1, outcomes=[sent(A, ids=("m1",))])
    assert [p.recipient for p in taken] == [B]
    assert status_of(path) == {A: "sent", B: "in_flight", C: "pending"}
    assert journal.db.execute("SELECT recipient FROM message_ids WHERE id='m1'").fetchone() == (A,)
    journal.db.execute(
        "CREATE TRIGGER no_takes BEFORE UPDATE OF taken_at ON messages "
        "BEGIN SELECT RAISE(FAIL, 'disk says no'); END"
    )
    with pytest.raises(sqlite3.DatabaseError, match="disk says no"):
        journal.take_batch(RUN, 1, outcomes=[sent(B, ids=("m2",))])
    assert status_of(path) == {A: "sent", B: "in_flight", C: "pending"}
    assert not journal.db.in_transaction


def test_in_flight_survives_reopening_the_file(path: Path) -> None:
    """After closing and reopening the journal file, rows taken stay in flight (not resent)."""
    with Journal(path) as j:
        load(j, [row(A, 1), row(B, 2), row(C, 3)])
        j.take_batch(RUN, 2)
    with Journal(path) as j:
        assert j.count_sendable() == 1
        assert [p.recipient for p in j.take_batch("next", 10)] == [C]
        assert status_of(path) == {A: "in_flight", B: "in_flight", C: "in_flight"}


def test_take_batch_follows_file_order_and_limit(journal: Journal) -> None:
    """Rows are taken in file order (not recipient order), at most `size` at a time."""
    load(journal, [row(C, 1), row(A, 3), row(B, 2), row(E, 5), row(D, 4)])
    first = journal.take_batch(RUN, 2)
    second = journal.take_batch(RUN, 2)
    third = journal.take_batch(RUN, 2)
    assert [p.row for p in first] == [1, 2]
    assert [p.recipient for p in first] == [C, B]
    assert [p.row for p in second] == [3, 4]
    assert [p.row for p in third] == [5]
    assert journal.take_batch(RUN, 2) == []


def test_pending_carries_what_the_request_needs(journal: Journal) -> None:
    """A taken row carries its text, label, foreign_id and earlier attempts."""
    load(journal, [(A, 1, "Hi Ann", "spring", "c-17")])
    assert journal.take_batch(RUN, 1) == [Pending(A, 1, "Hi Ann", "spring", "c-17", 0, None)]


def test_take_batch_marks_the_run(journal: Journal) -> None:
    """Rows taken carry the run id that took them."""
    load(journal, [row(A, 1)])
    journal.take_batch(RUN, 1)
    assert journal.db.execute("SELECT run_id FROM messages").fetchone()[0] == RUN


@pytest.mark.parametrize("status", ["sent", "failed", "unknown", "expired"])
def test_finished_rows_are_not_taken_again(journal: Journal, status: str) -> None:
    """A row with an outcome other than not_sent is never taken again."""
    load(journal, [row(A, 1), row(B, 2)])
    journal.take_batch(RUN, 2)
    journal.record(RUN, [Outcome(A, status, 1, 1.0, 1.0), Outcome(B, "not_sent", 0, None, None)])
    assert journal.count_sendable() == 1
    assert [p.recipient for p in journal.take_batch(RUN, 10)] == [B]


def test_record_stores_outcomes_with_exact_price_text(journal: Journal) -> None:
    """record() stores status, ids, exact decimal price text, codes, attempts and times."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3)])
    journal.take_batch(RUN, 3)
    journal.record(
        RUN,
        [
            sent(A, Decimal("0.0475") + Decimal("0.0475"), ids=("m1", "m2"), at=100.0),
            Outcome(B, "failed", 1, 50.0, 60.0, error_code="202", error_text="invalid number"),
            Outcome(C, "unknown", 2, 40.0, 70.0, error_code="502", trace_id="t9"),
        ],
    )
    rows = {
        r[0]: r
        for r in journal.db.execute(
            """SELECT recipient, status, message_ids, price, price_known, error_code, error_text,
                  attempts, first_attempt_at, last_attempt_at, sent_at, run_id, trace_id
           FROM messages"""
        )
    }
    assert rows[A] == (
        A,
        "sent",
        "m1 m2",
        "0.0950",
        1,
        None,
        None,
        1,
        100.0,
        100.0,
        100.0,
        RUN,
        "t1",
    )
    assert rows[B] == (
        B,
        "failed",
        None,
        None,
        None,
        "202",
        "invalid number",
        1,
        50.0,
        60.0,
        None,
        RUN,
        None,
    )
    assert rows[C][1:4] == ("unknown", None, None)
    assert rows[C][10] is None  # sent_at only for sent rows
    assert rows[C][12] == "t9"


@pytest.mark.parametrize(
    ("price", "text"),
    [
        (Decimal("0.1") + Decimal("0.2"), "0.3"),
        (Decimal("0.047500"), "0.047500"),
        (Decimal("123456789.123456789"), "123456789.123456789"),
    ],
)
def test_price_round_trips_exactly(journal: Journal, price: Decimal, text: str) -> None:
    """A price is stored as its exact decimal text and reads back as the same Decimal."""
    load(journal, [row(A, 1)])
    journal.take_batch(RUN, 1)
    journal.record(RUN, [sent(A, price)])
    stored = journal.db.execute("SELECT price FROM messages").fetchone()[0]
    assert stored == text
    assert Decimal(stored) == price


def test_sent_without_price_is_marked_unknown_price(journal: Journal) -> None:
    """A sent row without a price is stored with price NULL and price_known 0."""
    load(journal, [row(A, 1)])
    journal.take_batch(RUN, 1)
    journal.record(RUN, [sent(A, None)])
    assert journal.db.execute("SELECT price, price_known FROM messages").fetchone() == (None, 0)


def test_record_nothing_is_a_no_op(journal: Journal) -> None:
    """Recording an empty group changes nothing and opens no transaction."""
    journal.record(RUN, [])
    assert not journal.db.in_transaction


def test_outcomes_survive_reopening(path: Path) -> None:
    """Recorded outcomes are on disk: a reopened journal reads them back."""
    with Journal(path) as j:
        load(j, [row(A, 1)])
        j.take_batch(RUN, 1)
        j.record(RUN, [sent(A, Decimal("0.05"))])
    with Journal(path) as j:
        (r,) = results(j)
        assert (r["status"], r["price"], r["message_ids"]) == ("sent", "0.05", "m1")


def test_release_returns_unattempted_rows_to_not_sent(journal: Journal) -> None:
    """release() puts rows still in flight back to not_sent; rows with an outcome keep it."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3)])
    journal.take_batch(RUN, 3)
    journal.record(RUN, [sent(A)])
    journal.release([A, B])
    assert status_of(journal.path) == {A: "sent", B: "not_sent", C: "in_flight"}
    assert [p.recipient for p in journal.take_batch(RUN, 10)] == [B]


def test_release_is_durable(path: Path) -> None:
    """Released rows are not_sent after reopening the file."""
    with Journal(path) as j:
        load(j, [row(A, 1)])
        j.take_batch(RUN, 1)
        j.release([A])
    assert status_of(path) == {A: "not_sent"}


@pytest.mark.parametrize("status", ["sent", "failed", "unknown", "in_flight", "expired"])
def test_row_with_a_state_keeps_its_text_when_seen_again(journal: Journal, status: str) -> None:
    """A recipient already attempted keeps its text, label, foreign_id and state on a new load."""
    load(journal, [(A, 1, "old text", "old", "f-old")])
    journal.take_batch(RUN, 1)
    if status != "in_flight":
        journal.record(RUN, [Outcome(A, status, 1, 1.0, 1.0)])
    load(journal, [(B, 1, "other", None, None), (A, 7, "new text", "new", "f-new")])
    assert journal.db.execute(
        "SELECT row, text, label, foreign_id, status FROM messages WHERE recipient=?", (A,)
    ).fetchone() == (7, "old text", "old", "f-old", status)


@pytest.mark.parametrize("release", [False, True])
def test_row_never_attempted_takes_the_new_text(journal: Journal, release: bool) -> None:
    """A pending or not_sent recipient takes the text of the latest read of the file."""
    load(journal, [(A, 1, "old text", "old", "f-old")])
    if release:
        journal.take_batch(RUN, 1)
        journal.release([A])
    load(journal, [(A, 2, "new text", "new", "f-new")])
    assert journal.take_batch(RUN, 1) == [Pending(A, 2, "new text", "new", "f-new", 0, None)]


def test_rows_dropped_from_the_file_are_not_sent(journal: Journal) -> None:
    """A recipient no longer in the file is not taken, even if never attempted."""
    load(journal, [row(A, 1), row(B, 2)])
    load(journal, [row(B, 1)])
    assert journal.count_sendable() == 1
    assert [p.recipient for p in journal.take_batch(RUN, 10)] == [B]


def test_result_rows_order(journal: Journal) -> None:
    """Rows in file order with rejects interleaved; rows sent but no longer in the file last."""
    load(journal, [row(D, 1), row(E, 2)])
    journal.take_batch(RUN, 2)
    journal.record(RUN, [sent(D), sent(E)])
    load(
        journal,
        [row(A, 4), row(B, 1), row(C, 5)],
        [
            (2, None, "invalid", "not a phone number", "=cmd"),
            (3, B, "duplicate", "dup of row 1", "+49 176 10000002"),
        ],
    )
    journal.take_batch(RUN, 1)  # B in flight
    got = results(journal)
    assert [(r["row"], r["recipient"], r["status"]) for r in got] == [
        (1, B, "in_flight"),
        (2, None, "invalid"),
        (3, B, "duplicate"),
        (4, A, "pending"),
        (5, C, "pending"),
        (None, D, "sent"),
        (None, E, "sent"),
    ]
    assert got[1]["error_text"] == "not a phone number"
    assert got[1]["input_phone"] == "=cmd"
    assert got[1]["attempts"] == 0


def test_result_rows_leave_out_unsent_rows_no_longer_in_the_file(journal: Journal) -> None:
    """A row dropped from the file and never sent does not appear in the results."""
    load(journal, [row(A, 1), row(B, 2)])
    journal.take_batch(RUN, 2)
    journal.release([A, B])
    load(journal, [row(B, 1)])
    assert [r["recipient"] for r in results(journal)] == [B]


def test_result_rows_carry_the_recorded_fields(journal: Journal) -> None:
    """result_rows gives each column of RESULT_COLUMNS for a sent row."""
    load(journal, [(A, 1, "Hi", "spring", "c-1")])
    journal.take_batch(RUN, 1)
    journal.record(RUN, [sent(A, Decimal("0.0475"), ids=("m1", "m2"), at=1000.0)])
    (r,) = results(journal)
    assert r == {
        "row": 1,
        "recipient": A,
        "status": "sent",
        "message_ids": "m1 m2",
        "price": "0.0475",
        "price_known": 1,
        "foreign_id": "c-1",
        "label": "spring",
        "error_code": None,
        "error_text": None,
        "attempts": 1,
        "sent_at": 1000.0,
        "run_id": RUN,
        "input_phone": None,
        "text_changed": 0,
        "hold_until": None,
        "delivery_status": None,
        "delivered_at": None,
        "channel": "rcs",
    }


def test_load_is_one_transaction_that_rolls_back(journal: Journal) -> None:
    """A failed load rolls back: the earlier read of the file stays as it was."""
    load(journal, [row(A, 1)])
    journal.begin_load()
    journal.add_rows([row(B, 1)])
    journal.rollback()
    assert [p.recipient for p in journal.take_batch(RUN, 10)] == [A]


def test_average_price_counts_only_known_prices(journal: Journal) -> None:
    """average_price is the exact mean of known sent prices; None when none is known."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3)])
    assert journal.average_price() is None
    journal.take_batch(RUN, 3)
    journal.record(RUN, [sent(A, Decimal("0.04")), sent(B, Decimal("0.06")), sent(C, None)])
    assert journal.average_price() == Decimal("0.05")


def test_runs_are_recorded(journal: Journal) -> None:
    """start_run/finish_run keep each run's exit code and summary."""
    journal.start_run(RUN)
    journal.finish_run(RUN, 1, '{"rows": 3}')
    assert journal.db.execute("SELECT exit_code, summary FROM runs").fetchone() == (
        1,
        '{"rows": 3}',
    )


# ---- resuming, settling, holds ----------------------------------------------------------------


def failed(recipient: int, code: str | None) -> Outcome:
    return Outcome(recipient, "failed", 1, 1000.0, 1000.0, error_code=code, error_text="no")


def test_retry_failed_reopens_only_refusals_that_may_pass(journal: Journal) -> None:
    """403, 600 and retries exhausted (no code) are re-opened with a fresh validity and the new
    text; 202 and 301 (the number itself is wrong) are not."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3), row(D, 4), row(E, 5)])
    journal.take_batch(RUN, 5)
    journal.record(RUN, [failed(A, "403"), failed(B, "600"), failed(C, None)])
    journal.record(RUN, [failed(D, "202"), failed(E, "301")])
    journal.begin_load()
    assert journal.reopen_failed() == 3
    journal.add_rows([row(A, 1, text="Hi again")])
    journal.end_load()
    assert status_of(journal.path) == {
        A: "pending",
        B: "pending",
        C: "pending",
        D: "failed",
        E: "failed",
    }
    (taken,) = journal.take_batch(RUN, 1)
    assert (taken.recipient, taken.text, taken.first_attempt_at) == (A, "Hi again", None)


def test_a_sent_row_whose_text_changed_is_flagged_not_reopened(journal: Journal) -> None:
    """A new read with another text leaves a sent row sent, with its old text, and flags it."""
    load(journal, [row(A, 1, text="Hi"), row(B, 2, text="Hi")])
    journal.take_batch(RUN, 2)
    journal.record(RUN, [sent(A)])
    journal.release([B])
    load(journal, [row(A, 1, text="Hello"), row(B, 2, text="Hello")])
    got = {r["recipient"]: r for r in results(journal)}
    assert (got[A]["status"], got[A]["text_changed"]) == ("sent", 1)
    assert (got[B]["status"], got[B]["text_changed"]) == ("not_sent", 0)
    assert journal.db.execute("SELECT text FROM messages WHERE recipient=?", (A,)).fetchone() == (
        "Hi",
    )


def test_held_rows_wait_until_their_hold_ends(journal: Journal) -> None:
    """A held row is not taken before its time, is taken after it, and a new read clears it."""
    load(journal, [row(A, 1), row(B, 2)])
    journal.take_batch(RUN, 2, now=100.0)
    journal.hold([(A, 500.0)])
    journal.release([B])
    assert journal.next_hold() == 500.0
    assert [p.recipient for p in journal.take_batch(RUN, 5, now=200.0)] == [B]
    assert journal.count_sendable() == 1 and journal.count_sendable(held=False) == 0
    assert [p.recipient for p in journal.take_batch(RUN, 5, now=500.0)] == [A]
    assert journal.next_hold() is None


def test_unsettled_lists_unknown_and_in_flight_rows_with_their_times(journal: Journal) -> None:
    """A dead run's in-flight rows and lost answers are listed with what settling them needs;
    resend makes them sendable, mark_unknown turns the in-flight ones unknown."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3)])
    journal.take_batch(RUN, 3, now=100.0)
    journal.record(RUN, [Outcome(A, "unknown", 1, 110.0, 120.0, error_code="500")])
    journal.record(RUN, [sent(C)])
    found = {u.recipient: u for u in journal.unsettled()}
    assert set(found) == {A, B}
    assert (found[A].status, found[A].first_attempt_at, found[A].last_attempt_at) == (
        "unknown",
        110.0,
        120.0,
    )
    assert (found[B].status, found[B].taken_at, found[B].foreign_id) == ("in_flight", 100.0, "c2")
    journal.mark_unknown([B], "died")
    journal.resend([A])
    assert status_of(journal.path) == {A: "not_sent", B: "unknown", C: "sent"}


def test_a_schema_1_journal_is_migrated_in_place(path: Path) -> None:
    """A journal written by rcsbatch 0.1 gains the new columns and keeps its rows."""
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as db:
        db.executescript(
            """CREATE TABLE messages (recipient INTEGER PRIMARY KEY, row INTEGER,
                 text TEXT NOT NULL, label TEXT, foreign_id TEXT,
                 status TEXT NOT NULL DEFAULT 'pending', message_ids TEXT, price TEXT,
                 price_known INTEGER, error_code TEXT, error_text TEXT,
                 attempts INTEGER NOT NULL DEFAULT 0, first_attempt_at REAL,
                 last_attempt_at REAL, sent_at REAL, run_id TEXT, trace_id TEXT);
               CREATE INDEX sendable_by_row ON messages(row)
                 WHERE row IS NOT NULL AND status IN ('pending', 'not_sent');
               INSERT INTO messages (recipient, row, text, status) VALUES (4917610000001, 1,
                 'Hi', 'sent');"""
        )
    with Journal(path) as j:
        assert [r[:3] for r in j.result_rows()] == [(1, A, "sent")]
        assert j.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )


def make_schema_3(path: Path) -> None:
    """A schema 3 journal (rows in recipient order), made by hand from today's: C, A, then B
    (no longer in the file)."""
    with Journal(path) as j:
        j.db.executescript(
            """DROP TABLE messages;
               CREATE TABLE messages (recipient INTEGER PRIMARY KEY, row INTEGER,
                 text TEXT NOT NULL, label TEXT, foreign_id TEXT,
                 status TEXT NOT NULL DEFAULT 'pending', message_ids TEXT, price TEXT,
                 price_known INTEGER, error_code TEXT, error_text TEXT,
                 attempts INTEGER NOT NULL DEFAULT 0, first_attempt_at REAL,
                 last_attempt_at REAL, sent_at REAL, run_id TEXT, trace_id TEXT, taken_at REAL,
                 text_changed INTEGER NOT NULL DEFAULT 0, hold_until REAL,
                 delivery_status TEXT, delivered_at REAL, delay REAL, revoke TEXT);
               INSERT INTO messages (recipient, row, text, status, message_ids, price,
                 price_known, sent_at, delivery_status)
                 VALUES (4917610000003, 1, 'Hi C', 'sent', 'm3', '0.05', 1, 1000.5, 'DELIVERED'),
                        (4917610000001, 2, 'Hi A', 'pending', NULL, NULL, NULL, NULL, NULL),
                        (4917610000002, NULL, 'Hi B', 'not_sent', NULL, NULL, NULL, NULL, NULL);
               UPDATE meta SET value = '3' WHERE key = 'schema_version';"""
        )


def test_a_schema_3_journal_is_renumbered_into_file_order(path: Path) -> None:
    """Schema 3 kept rows in recipient order; schema 4 copies them into file order, every
    column kept, and the journal goes on working (take, record, upsert by recipient)."""
    make_schema_3(path)
    with Journal(path) as j:
        order = j.db.execute("SELECT recipient FROM messages ORDER BY id").fetchall()
        assert order == [(C,), (A,), (B,)]  # file order; rows no longer in the file last
        kept = j.db.execute(
            "SELECT status, message_ids, price, sent_at, delivery_status FROM messages "
            "WHERE recipient = ?",
            (C,),
        ).fetchone()
        assert kept == ("sent", "m3", "0.05", 1000.5, "DELIVERED")
        load(j, [row(A, 1, "Hi A"), row(D, 2)])
        taken = j.take_batch(RUN, 5)
        assert [p.recipient for p in taken] == [A, D]
        j.record(RUN, [sent(A), sent(D, ids=("m4",))])
        assert status_of(path) == {A: "sent", B: "not_sent", C: "sent", D: "sent"}


def test_an_upgrade_that_fails_changes_nothing(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up half way through the upgrade: the error says nothing changed and what
    to do (not to move the journal away), and the journal is as it was."""
    make_schema_3(path)
    real = Journal._renumber

    def half_then_full(self: Journal) -> None:
        real(self)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Journal, "_renumber", half_then_full)
    with pytest.raises(ReportError, match="nothing in it was changed") as raised:
        Journal(path)
    assert "move it away" not in str(raised.value)
    with closing(sqlite3.connect(path)) as db:
        columns = {r[1]: r[5] for r in db.execute("PRAGMA table_info(messages)")}
        assert columns["recipient"] == 1 and "id" not in columns  # still schema 3
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (3,)
    monkeypatch.undo()
    with Journal(path) as j:  # once there is room, it upgrades
        assert j.db.execute("SELECT recipient FROM messages ORDER BY id").fetchall() == [
            (C,),
            (A,),
            (B,),
        ]


def test_opening_a_current_journal_changes_no_schema(path: Path) -> None:
    """Opening a journal that is up to date drops and makes no index or table (another process
    may be sending from it, and `take_batch` names its index): SQLite's schema counter stays."""
    with Journal(path):
        pass
    with closing(sqlite3.connect(path)) as watcher:
        (before,) = watcher.execute("PRAGMA schema_version").fetchone()
        with Journal(path):
            pass
        (after,) = watcher.execute("PRAGMA schema_version").fetchone()
    assert after == before


# ---- delivery reports ------------------------------------------------------------------------


def sent_with(
    journal: Journal, recipient: int, ids: tuple[str, ...], price: Decimal | None
) -> None:
    load(journal, [row(recipient, 1)])
    journal.take_batch(RUN, 1)
    journal.record(RUN, [sent(recipient, price, ids=ids)])


def delivery(journal: Journal, recipient: int) -> tuple[Any, Any]:
    r = {x["recipient"]: x for x in results(journal)}[recipient]
    return r["delivery_status"], r["delivered_at"]


def test_a_delivery_report_is_stored_once_by_message_id(journal: Journal) -> None:
    """DELIVERED for a known id is stored on its row; the same report again changes nothing."""
    sent_with(journal, A, ("m1",), Decimal("0.05"))
    assert journal.record_delivery("m1", "DELIVERED", 2000.0) == "stored"
    assert journal.record_delivery("m1", "DELIVERED", 2000.0) == "kept"
    assert delivery(journal, A) == ("DELIVERED", 2000.0)


@pytest.mark.parametrize(
    ("reports", "final"),
    [
        ([("TRANSMITTED", 10), ("DELIVERED", 20)], "DELIVERED"),
        ([("DELIVERED", 20), ("TRANSMITTED", 10)], "DELIVERED"),  # late and earlier: ignored
        ([("DELIVERED", 20), ("BUFFERED", 30)], "DELIVERED"),  # non-final never replaces final
        ([("DELIVERED", 20), ("READ", 30)], "READ"),
        ([("READ", 30), ("DELIVERED", 20)], "READ"),
        ([("BUFFERED", 10), ("ACCEPTED", 5)], "BUFFERED"),  # the later state time wins
        ([("NOTDELIVERED", 10), ("READ", 30)], "NOTDELIVERED"),
    ],
)
def test_a_final_state_is_never_replaced_by_an_earlier_one(
    journal: Journal, reports: list[tuple[str, float]], final: str
) -> None:
    """Out-of-order and repeated reports end in the state seven's rules give."""
    sent_with(journal, A, ("m1",), Decimal("0.05"))
    for state, at in reports:
        journal.record_delivery("m1", state, at)
    assert delivery(journal, A)[0] == final


def test_a_report_for_an_unknown_id_is_kept_aside(journal: Journal) -> None:
    """Webhooks are per account: an id this campaign never sent is stray, stored once."""
    assert journal.record_delivery("other", "DELIVERED", 5.0, payload="{}") == "stray"
    journal.record_delivery("other", "DELIVERED", 5.0, payload="{}")
    assert journal.db.execute("SELECT count(*) FROM stray_reports").fetchone() == (1,)


def test_a_stray_report_is_applied_once_its_id_is_recorded(journal: Journal) -> None:
    """A report that overtook the answer naming its id is adopted, then leaves the strays."""
    assert journal.record_delivery("m1", "DELIVERED", 20.0) == "stray"
    journal.record_delivery("other", "DELIVERED", 5.0)
    assert journal.adopt_strays() == 0
    sent_with(journal, A, ("m1",), Decimal("0.05"))
    assert journal.adopt_strays() == 1
    assert delivery(journal, A) == ("DELIVERED", 20.0)
    assert journal.db.execute("SELECT msg_id FROM stray_reports").fetchall() == [("other",)]
    assert journal.adopt_strays() == 0


def test_a_final_price_fills_an_unknown_one_when_every_id_has_it(journal: Journal) -> None:
    """A row sent with two ids and no price becomes known once both ids are priced."""
    sent_with(journal, A, ("m1", "m2"), None)
    assert journal.set_final_price("m1", Decimal("0.05")) is False
    assert journal.set_final_price("m2", Decimal("0.07")) is True
    r = results(journal)[0]
    assert (r["price"], r["price_known"]) == ("0.12", 1)
    assert journal.set_final_price("zz", Decimal("1")) is False


def test_cost_so_far_counts_rows_that_may_have_been_charged(journal: Journal) -> None:
    """A sent row's price counts; sent without a price, unknown and in flight count as unpriced."""
    load(journal, [row(A, 1), row(B, 2), row(C, 3), row(D, 4)])
    journal.take_batch(RUN, 4)
    journal.record(RUN, [sent(A, Decimal("0.05")), sent(B, None)])
    journal.record(RUN, [Outcome(C, "unknown", 1, 1.0, 1.0)])
    assert journal.cost_so_far() == (Decimal("0.05"), 3)  # B, C, and D still in flight


def test_mark_unknown_moves_the_last_attempt_on(journal: Journal) -> None:
    """A row cut off in flight gets last_attempt_at = the moment it was marked (never older)."""
    load(journal, [row(A, 1)])
    journal.take_batch(RUN, 1, now=50.0)
    journal.mark_unknown([A], "cut off", now=100.0)
    (u,) = journal.unsettled()
    assert (u.status, u.last_attempt_at) == ("unknown", 100.0)


def test_an_unreadable_body_is_kept_raw_once(journal: Journal) -> None:
    """Kept among the strays with no msg_id and the reason; the same body again is "kept"."""
    assert journal.record_unreadable(b"[[[", "too deep", received_at=1.0) == "raw"
    assert journal.record_unreadable(b"[[[", "too deep", received_at=2.0) == "kept"
    assert journal.record_unreadable(b"\xff", "not text") == "raw"
    rows = journal.db.execute(
        "SELECT msg_id, payload, unreadable FROM stray_reports ORDER BY received_at"
    ).fetchall()
    assert rows[0] == (None, "[[[", "too deep") and rows[1][1] == b"\xff"
    assert journal.adopt_strays() == 0


def test_a_schema_5_journal_gains_room_for_unreadable_reports(path: Path) -> None:
    """Schema 5's stray_reports had no `unreadable` column: it is added, the strays kept."""
    with Journal(path) as j:
        j.db.executescript(
            """DROP TABLE stray_reports;
               CREATE TABLE stray_reports (msg_id TEXT, state TEXT, state_at REAL,
                 received_at REAL NOT NULL, payload TEXT, UNIQUE (msg_id, state, state_at));
               INSERT INTO stray_reports VALUES ('m9', 'DELIVERED', 5.0, 6.0, '{}');
               UPDATE meta SET value = '5' WHERE key = 'schema_version';"""
        )
    with Journal(path) as j:
        assert j.record_unreadable(b"[", "not JSON") == "raw"
        assert j.db.execute("SELECT msg_id, unreadable FROM stray_reports").fetchall() == [
            ("m9", None),
            (None, "not JSON"),
        ]
