"""The journal: one SQLite database per campaign that holds the truth about every row.

A row is recorded as in flight, and that record is on disk (WAL with ``synchronous=FULL``: fsync'd
at every commit), before its request leaves; its outcome is recorded when the answer comes. Writes
are grouped: a batch is marked in flight in one transaction, outcomes are committed in groups, so
durability costs one fsync per batch instead of one per row.

Statuses kept here (what the report shows for each is decided by `report_status`):

    pending    never attempted            in_flight  a request may be on its way
    sent       accepted by the gateway     failed     refused for this recipient
    incapable  lacks a capability [send] require names (never sent)
    unknown    the answer was lost         expired    validity passed before it could go
    not_sent   the run stopped before it

A row's message is settled once: `sent`, `failed`, `expired` and the rows our checks refuse are
never sent again by a later run (`--retry-failed` re-opens the `failed` ones whose refusal may
pass). `unknown` and `in_flight` rows are settled through the gateway's logbook
(`engine/settle.py`).

Rows our own checks refuse (invalid, duplicate, suppressed) are re-decided from the recipient file
at each run and kept in ``rejects``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from rcsbatch.delivery.states import FINAL, READ, replaces, row_state
from rcsbatch.errors import ReportError
from rcsbatch.state import privacy, storage
from rcsbatch.state.status import RowStatus

SCHEMA_VERSION = 6

# Refusals that say the number itself is wrong: re-sending cannot help (see `reopen_failed`).
FINAL_REFUSALS = ("202", "301")

SENDABLE: tuple[RowStatus, ...] = ("pending", "not_sent")  # the statuses a run sends

# Final delivery states that say a message never arrived: after a revoke request, one of them
# confirms the revocation (see `Journal._update_row_revoke`).
NOT_ARRIVED = frozenset(FINAL - {"DELIVERED"})
# A delivery state's time is the gateway's, in whole seconds: one up to this much before our
# revoke request still counts as its outcome (as engine.settle.UNMEASURED_SKEW does for the
# logbook).
REVOKE_SKEW = 120.0

_MESSAGES_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    -- The table's own order: rows in the order first loaded (file order), so the batches a run
    -- takes and records lie together on disk, not scattered in recipient order (schema 4: a
    -- batch's in-flight mark and its outcomes cost less than half as much as in schema 3).
    id INTEGER PRIMARY KEY,
    recipient INTEGER NOT NULL UNIQUE,  -- E.164 digits: a row's identity
    row INTEGER,                        -- row as the file shows it (header 1), latest read
    text TEXT NOT NULL, label TEXT, foreign_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    message_ids TEXT, price TEXT, price_known INTEGER,
    error_code TEXT, error_text TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_attempt_at REAL, last_attempt_at REAL, sent_at REAL,
    run_id TEXT, trace_id TEXT,
    taken_at REAL,                      -- when a run last marked it in flight
    text_changed INTEGER NOT NULL DEFAULT 0,  -- settled, and the file's text now differs
    hold_until REAL,                    -- outside its window until then (this run only)
    delivery_status TEXT, delivered_at REAL, -- seven's delivery state for the row, and its time
    delay REAL,                         -- the moment a scheduled message goes (its request's delay)
    resent_after_absence INTEGER,       -- 1: a lost answer judged absent from the logbook, resent
    revoke TEXT                         -- revoke_requested | revoked (`rcsbatch revoke`), or NULL
);"""

_MESSAGES = _MESSAGES_TABLE.format(name="messages")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL,
    exit_code INTEGER, summary TEXT
);
{_MESSAGES}
CREATE INDEX IF NOT EXISTS messages_by_row ON messages(row);
-- Only the rows still to send: taking the next batch must not walk past every row already sent
-- (that made a million-row run quadratic).
CREATE INDEX IF NOT EXISTS sendable_by_row ON messages(row)
    WHERE row IS NOT NULL AND status IN {SENDABLE} AND hold_until IS NULL;
CREATE INDEX IF NOT EXISTS held_by_time ON messages(hold_until) WHERE hold_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS unsettled ON messages(status) WHERE status IN ('unknown', 'in_flight');
-- Every message id the gateway gave, for delivery reports (which name only the id).
CREATE TABLE IF NOT EXISTS message_ids (
    id TEXT PRIMARY KEY, recipient INTEGER NOT NULL, state TEXT, state_at REAL, updated_at REAL,
    price TEXT,                         -- the final price (logbook), when the answer had none
    revoke_requested_at REAL            -- when `rcsbatch revoke` asked the gateway to delete it
);
CREATE INDEX IF NOT EXISTS message_ids_by_recipient ON message_ids(recipient);
-- Delivery reports for ids this campaign does not know (webhooks are per account): kept aside.
-- A signed body that could not be read is kept too, raw, with msg_id NULL and why in `unreadable`
-- (schema 6): it was answered 2xx, so seven will not send it again.
CREATE TABLE IF NOT EXISTS stray_reports (
    msg_id TEXT, state TEXT, state_at REAL, received_at REAL NOT NULL, payload TEXT,
    unreadable TEXT,
    UNIQUE (msg_id, state, state_at)
);
-- Capability lookups (GET /lookup/rcs), one per recipient: a JSON list of capability names
-- ([] = no RCS) and when it was looked up; lookups are billed, so `rcsbatch capabilities` and
-- `run --lookup` ask again only after the cache's age.
CREATE TABLE IF NOT EXISTS capabilities (
    recipient INTEGER PRIMARY KEY, names TEXT NOT NULL, looked_up_at REAL NOT NULL, price TEXT
);
-- How a row goes when it is not plain RCS: 'fallback' (it lacks a capability [send] require
-- names, and [message] fallback lets seven deliver it another way).
CREATE TABLE IF NOT EXISTS row_channels (recipient INTEGER PRIMARY KEY, channel TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rejects (
    row INTEGER PRIMARY KEY, recipient INTEGER, status TEXT NOT NULL, reason TEXT NOT NULL,
    input_phone TEXT
);
"""

RESULT_COLUMNS = (
    "row",
    "recipient",
    "status",
    "message_ids",
    "price",
    "price_known",
    "foreign_id",
    "label",
    "error_code",
    "error_text",
    "attempts",
    "sent_at",
    "run_id",
    "input_phone",
    "text_changed",
    "hold_until",
    "delivery_status",
    "delivered_at",
    "channel",
)


# The `channel` result column, read from `messages AS m`: for sent rows, rcs or fallback.
CHANNEL_COLUMN = """CASE WHEN m.status = 'sent' THEN coalesce(
    (SELECT channel FROM row_channels c WHERE c.recipient = m.recipient), 'rcs') END AS channel"""


@dataclass(frozen=True)
class Pending:
    """A row ready to go: what the request carries, and what earlier attempts left behind."""

    recipient: int
    row: int
    text: str
    label: str | None
    foreign_id: str | None
    attempts: int
    first_attempt_at: float | None
    delay: float | None = None  # its own delay: scheduled for the opening of its window


@dataclass(frozen=True)
class Unsettled:
    """A row whose message may or may not have been accepted: what settling it needs."""

    recipient: int
    row: int | None
    status: RowStatus  # unknown or in_flight
    text: str
    label: str | None
    foreign_id: str | None
    attempts: int
    first_attempt_at: float | None
    last_attempt_at: float | None
    taken_at: float | None
    delay: float | None = None  # the lost request's delay: a scheduled message goes then


@dataclass(frozen=True)
class SampleRow:
    """A row's recipient and what its message would carry."""

    recipient: int
    text: str
    label: str | None
    foreign_id: str | None


@dataclass(frozen=True)
class Outcome:
    """What happened to one row's message in this run."""

    recipient: int
    status: RowStatus
    attempts: int
    first_attempt_at: float | None
    last_attempt_at: float | None
    message_ids: tuple[str, ...] = ()
    price: Decimal | None = None
    error_code: str | None = None
    error_text: str | None = None
    trace_id: str | None = None
    delay: float | None = None  # the request's delay: a scheduled message goes then


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of `script`, one by one (`executescript` would commit first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


class Journal:
    """One campaign's journal database; not shared between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            privacy.make_folder(path.parent)
            privacy.prepare_database(path)
            # A reader (a dry run, a report) may meet a run's write: wait for it, don't fail.
            self.db = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._set_up()
        except (sqlite3.Error, OSError) as exc:
            # A full disk or a damaged file: said the same way wherever it is met.
            found = storage.explain(exc, [path])
            if found is not None:
                raise found from None
            if isinstance(exc, sqlite3.OperationalError):
                raise ReportError(
                    f"{path}: cannot open the journal or bring it up to date ({exc}); nothing "
                    "in it was changed: fix the cause (disk space: an upgrade copies its rows "
                    "once; file permissions; another rcsbatch holding it) and run the command "
                    "again"
                ) from None
            if isinstance(exc, sqlite3.DatabaseError):
                raise ReportError(storage.damaged(path, exc)) from None
            if isinstance(exc, OSError):
                raise ReportError(
                    f"cannot create {path} ({exc.strerror}); choose another report folder",
                    option="report_dir",
                ) from None
            raise

    def _set_up(self) -> None:
        """Create the schema or bring an older journal up to date, in one transaction: another
        process opening the journal meanwhile waits, and never meets it half made."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            backfill_ids = self._migrate()
            for statement in _statements(_SCHEMA):
                self.db.execute(statement)
            if backfill_ids:
                self._index_message_ids(
                    self.db.execute(
                        "SELECT recipient, message_ids FROM messages WHERE message_ids IS NOT NULL"
                    ).fetchall()
                )
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def _migrate(self) -> bool:
        """Bring a journal of an older rcsbatch (schema 1 to 5) up to date; the schema adds the
        rest. Returns whether the message ids must be indexed (schema 1 had no such table)."""
        info = self.db.execute("PRAGMA table_info(messages)").fetchall()
        columns = {r[1] for r in info}
        if not columns:
            return False  # a new journal
        for name, kind in (
            ("taken_at", "REAL"),
            ("text_changed", "INTEGER NOT NULL DEFAULT 0"),
            ("hold_until", "REAL"),
            ("delivery_status", "TEXT"),
            ("delivered_at", "REAL"),
            ("delay", "REAL"),
            ("revoke", "TEXT"),
            ("resent_after_absence", "INTEGER"),
        ):
            if name not in columns:
                self.db.execute(f"ALTER TABLE messages ADD COLUMN {name} {kind}")
        ids = {r[1] for r in self.db.execute("PRAGMA table_info(message_ids)")}
        if ids and "revoke_requested_at" not in ids:
            self.db.execute("ALTER TABLE message_ids ADD COLUMN revoke_requested_at REAL")
        strays = {r[1] for r in self.db.execute("PRAGMA table_info(stray_reports)")}
        if strays and "unreadable" not in strays:
            self.db.execute("ALTER TABLE stray_reports ADD COLUMN unreadable TEXT")
        # Schema 1's index did not leave held rows out; the schema creates it anew.
        (index,) = self.db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name='sendable_by_row' "
            "AND sql NOT LIKE '%hold_until%'"
        ).fetchone()
        if index:
            self.db.execute("DROP INDEX sendable_by_row")
        if any(r[1] == "recipient" and r[5] for r in info):  # the primary key: schema 3 or older
            self._renumber()
        return not ids

    def _renumber(self) -> None:
        """Schema 3 and older kept `messages` in recipient order: copy it into file order."""
        names = ", ".join(r[1] for r in self.db.execute("PRAGMA table_info(messages)"))
        self.db.execute(_MESSAGES_TABLE.format(name="messages_v4"))
        self.db.execute(
            f"INSERT INTO messages_v4 ({names}) SELECT {names} FROM messages "
            "ORDER BY row IS NULL, row, recipient"
        )
        self.db.execute("DROP TABLE messages")  # and its indexes: the schema makes them anew
        self.db.execute("ALTER TABLE messages_v4 RENAME TO messages")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, run_id: str) -> None:
        self.db.execute(
            "INSERT INTO runs (run_id, started_at) VALUES (?, ?)", (run_id, time.time())
        )

    def run_count(self) -> int:
        """How many runs ever started from this journal."""
        (count,) = self.db.execute("SELECT count(*) FROM runs").fetchone()
        return int(count)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the main file (and fsync it): what was written so far
        survives the loss of the `-wal` file."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def sample_rows(self, size: int) -> list[SampleRow]:
        """Up to `size` rows of the file still to send, spread over it, with what their
        message carries: recipients to look up before a campaign's first send."""
        (count,) = self.db.execute(
            f"SELECT count(*) FROM messages WHERE row IS NOT NULL AND status IN {SENDABLE}"
        ).fetchone()
        if not count:
            return []
        step = max(1, count // size)
        rows = self.db.execute(
            f"""SELECT recipient, text, label, foreign_id FROM (
                  SELECT recipient, text, label, foreign_id,
                         row_number() OVER (ORDER BY row) - 1 AS n
                  FROM messages WHERE row IS NOT NULL AND status IN {SENDABLE})
                WHERE n % ? = 0 LIMIT ?""",
            (step, size),
        ).fetchall()
        return [SampleRow(*r) for r in rows]

    def has_run(self, run_id: str) -> bool:
        """Whether a run with this id started (finished or not)."""
        found = self.db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return found is not None

    def latest_run(self) -> str | None:
        """The id of the newest run that finished (wrote its report)."""
        found = self.db.execute(
            "SELECT run_id FROM runs WHERE finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        return None if found is None else str(found[0])

    def run_summary(self, run_id: str) -> str | None:
        """The summary (JSON) a run wrote when it finished; None before that."""
        found = self.db.execute("SELECT summary FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if found is None else found[0]

    def finish_run(self, run_id: str, exit_code: int, summary: str) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at=?, exit_code=?, summary=? WHERE run_id=?",
            (time.time(), exit_code, summary, run_id),
        )

    # -- loading the file's rows ------------------------------------------------------------

    def begin_load(self) -> None:
        """Forget which rows the file had; `add_rows` and `add_rejects` then record it anew."""
        self.db.execute("BEGIN")
        self.db.execute("UPDATE messages SET row = NULL, text_changed = 0")
        self.db.execute("UPDATE messages SET hold_until = NULL WHERE hold_until IS NOT NULL")
        self.db.execute(
            f"UPDATE messages SET error_text = NULL WHERE status IN {SENDABLE} "
            "AND error_text IS NOT NULL"
        )
        self.db.execute("DELETE FROM rejects")

    def add_rows(self, rows: Iterable[tuple[int, int, str, str | None, str | None]]) -> None:
        """Record sendable rows (recipient, row, text, label, foreign_id).

        A recipient seen before keeps its state; one never attempted takes the new text. One
        whose message is settled keeps the text it was sent with, and is flagged when the file's
        text now differs (it is not sent again: a new campaign name messages people again).
        """
        self.db.executemany(
            f"""INSERT INTO messages (recipient, row, text, label, foreign_id) VALUES (?,?,?,?,?)
               ON CONFLICT(recipient) DO UPDATE SET row=excluded.row,
                 text_changed=(status NOT IN {SENDABLE} AND text != excluded.text),
                 text=CASE WHEN status IN {SENDABLE} THEN excluded.text ELSE text END,
                 label=CASE WHEN status IN {SENDABLE} THEN excluded.label ELSE label END,
                 foreign_id=CASE WHEN status IN {SENDABLE}
                                 THEN excluded.foreign_id ELSE foreign_id END""",
            rows,
        )

    def add_rejects(self, rows: Iterable[tuple[int, int | None, str, str, str | None]]) -> None:
        """Record rows our own checks refused: (row, recipient or None, status, reason, input)."""
        self.db.executemany("INSERT INTO rejects VALUES (?,?,?,?,?)", rows)

    def reopen_failed(self) -> int:
        """Make `failed` rows sendable again (`--retry-failed`), except those refused as an
        invalid number; each starts afresh (validity, attempts). Returns how many were re-opened."""
        marks = ",".join("?" * len(FINAL_REFUSALS))
        cursor = self.db.execute(
            f"""UPDATE messages SET status='pending', first_attempt_at=NULL,
                    last_attempt_at=NULL, attempts=0
                WHERE status='failed' AND coalesce(error_code, '') NOT IN ({marks})""",
            FINAL_REFUSALS,
        )
        return cursor.rowcount

    def end_load(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # -- sending ------------------------------------------------------------------------------

    def count_sendable(self, *, held: bool = True) -> int:
        """Rows of the file still to send; without `held`, only those not held for a window."""
        query = f"SELECT count(*) FROM messages WHERE row IS NOT NULL AND status IN {SENDABLE}"
        if not held:
            query += " AND hold_until IS NULL"
        (count,) = self.db.execute(query).fetchone()
        return int(count)

    def take_batch(
        self,
        run_id: str,
        size: int,
        now: float | None = None,
        outcomes: Sequence[Outcome] = (),
        delay: float | None = None,
    ) -> list[Pending]:
        """Mark the next `size` sendable rows (file order) in flight, durably, and return them.

        Held rows whose hold has ended (`now`) become sendable again first. `outcomes` (of rows
        taken earlier) are recorded in the same transaction: one commit, one fsync, for both.
        The in-flight mark is then checkpointed into the main file before any of the batch's
        requests leave: should the `-wal` file be lost after a crash, the rows still show in
        flight (settled through the logbook), never as not yet sent. `delay` (the campaign's)
        goes with the mark: a killed run's scheduled rows are judged after it.
        """
        now = time.time() if now is None else now
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._store(run_id, outcomes)
            self.db.execute(
                "UPDATE messages SET hold_until=NULL WHERE hold_until <= ?",
                (now,),
            )
            rows = self.db.execute(
                f"""SELECT recipient, row, text, label, foreign_id, attempts, first_attempt_at
                    FROM messages INDEXED BY sendable_by_row
                    WHERE row IS NOT NULL AND status IN {SENDABLE} AND hold_until IS NULL
                    ORDER BY row LIMIT ?""",
                (size,),
            ).fetchall()
            self.db.executemany(
                """UPDATE messages SET status='in_flight', run_id=?, taken_at=?, delay=?
                   WHERE recipient=?""",
                [(run_id, now, delay, r[0]) for r in rows],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        if rows:
            self.checkpoint()
        return [Pending(*r) for r in rows]

    def set_delays(self, delays: Sequence[tuple[int, float]]) -> None:
        """Record the delay rows in flight go with (scheduled for their window's opening)."""
        with self._transaction():
            self.db.executemany(
                "UPDATE messages SET delay=? WHERE recipient=? AND status='in_flight'",
                [(at, r) for r, at in delays],
            )

    def claim_account(self, account: str) -> None:
        """Record which gateway account this journal belongs to; ReportError when it is
        another's (a `journal = …` path shared by a simulated and a real run, or two keys)."""
        found = self.db.execute("SELECT value FROM meta WHERE key='account'").fetchone()
        if found is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('account', ?)", (account,))
        elif found[0] != account:
            raise ReportError(
                f"{self.path} is the journal of another gateway account ({found[0]}), not of "
                f"this one ({account}): sending from it would skip or settle rows with another "
                "account's messages. Give this account a journal of its own (another "
                "`journal = …`, or none: the state folder keeps one per account)"
            )

    def record(self, run_id: str, outcomes: Sequence[Outcome]) -> None:
        """Store the outcomes of one group of rows in one transaction."""
        if not outcomes:
            return
        self.db.execute("BEGIN")
        try:
            self._store(run_id, outcomes)
            self.db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def _store(self, run_id: str, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        params = []
        for o in outcomes:
            price_known = None if o.status != "sent" else int(o.price is not None)
            params.append(
                (
                    o.status,
                    " ".join(o.message_ids) or None,
                    None if o.price is None else str(o.price),
                    price_known,
                    o.error_code,
                    o.error_text,
                    o.attempts,
                    o.first_attempt_at,
                    o.last_attempt_at,
                    o.last_attempt_at if o.status == "sent" else None,
                    run_id,
                    o.trace_id,
                    o.delay if o.status in ("sent", "unknown") else None,
                    o.recipient,
                )
            )
        self.db.executemany(
            """UPDATE messages SET status=?, message_ids=?, price=?, price_known=?,
                   error_code=?, error_text=?, attempts=?, first_attempt_at=?,
                   last_attempt_at=?, sent_at=?, run_id=?, trace_id=?, delay=?
               WHERE recipient=?""",
            params,
        )
        self._index_message_ids(
            [(o.recipient, " ".join(o.message_ids)) for o in outcomes if o.message_ids]
        )

    def _index_message_ids(self, rows: Iterable[tuple[int, str]]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO message_ids (id, recipient) VALUES (?, ?)",
            [(msg_id, r) for r, ids in rows for msg_id in ids.split()],
        )

    # -- delivery -----------------------------------------------------------------------------

    def record_delivery(
        self,
        msg_id: str,
        state: str,
        state_at: float | None,
        *,
        received_at: float | None = None,
        payload: str | None = None,
    ) -> str:
        """Store one delivery report, idempotently: "stored", "kept" (an earlier or equal report
        stands, see `delivery.states.replaces`) or "stray" (an id this campaign does not know:
        kept aside in `stray_reports`)."""
        received_at = time.time() if received_at is None else received_at
        with self._transaction():
            return self._store_delivery(msg_id, state, state_at, received_at, payload, True)

    def record_deliveries(
        self, reports: Iterable[tuple[str, str, float | None]], *, keep_strays: bool = False
    ) -> Counter[str]:
        """Store many (msg_id, state, state_at) reports in one transaction; how many were
        stored, kept and stray. The logbook lists the whole account's messages: its entries for
        other campaigns are not kept (`keep_strays` False)."""
        now = time.time()
        verdicts: Counter[str] = Counter()
        with self._transaction():
            for msg_id, state, state_at in reports:
                verdicts[self._store_delivery(msg_id, state, state_at, now, None, keep_strays)] += 1
        return verdicts

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def _store_delivery(
        self,
        msg_id: str,
        state: str,
        state_at: float | None,
        received_at: float,
        payload: str | None,
        keep_stray: bool,
    ) -> str:
        found = self.db.execute(
            "SELECT recipient, state, state_at FROM message_ids WHERE id=?", (msg_id,)
        ).fetchone()
        if found is None:
            if keep_stray:
                self.db.execute(
                    "INSERT OR IGNORE INTO stray_reports "
                    "(msg_id, state, state_at, received_at, payload) VALUES (?,?,?,?,?)",
                    (msg_id, state, state_at, received_at, payload),
                )
            return "stray"
        if not replaces(state, state_at, found[1], found[2]):
            return "kept"
        self.db.execute(
            "UPDATE message_ids SET state=?, state_at=?, updated_at=? WHERE id=?",
            (state, state_at, received_at, msg_id),
        )
        self._update_row_delivery(found[0])
        return "stored"

    def record_unreadable(self, body: bytes, why: str, *, received_at: float | None = None) -> str:
        """Keep a signed webhook body that could not be read as a report, as it came, among the
        stray reports: "raw", or "kept" when the same body is already there (a retry)."""
        received_at = time.time() if received_at is None else received_at
        try:
            payload: str | bytes = body.decode("utf-8")
        except UnicodeDecodeError:
            payload = body  # a BLOB: the exact bytes, for whoever looks into it
        with self._transaction():
            found = self.db.execute(
                "SELECT 1 FROM stray_reports WHERE msg_id IS NULL AND payload=?", (payload,)
            ).fetchone()
            if found is not None:
                return "kept"
            self.db.execute(
                "INSERT INTO stray_reports (received_at, payload, unreadable) VALUES (?,?,?)",
                (received_at, payload, why),
            )
        return "raw"

    def needs_sync(self) -> tuple[int, float | None]:
        """Sent rows whose delivery state is not final yet or whose price is unknown, and the
        earliest send time among them (None when there are none)."""
        count, since = self.db.execute(
            f"""SELECT count(*), min(sent_at) FROM messages WHERE status='sent'
                AND (price_known = 0 OR delivery_status IS NULL
                     OR delivery_status NOT IN {tuple(sorted(FINAL | {READ}))})"""
        ).fetchone()
        return int(count), since

    def adopt_strays(self) -> int:
        """Apply the reports kept aside for ids this campaign has since recorded (a report can
        overtake the answer that names its id), and drop them from `stray_reports`. Returns how
        many were applied."""
        found = self.db.execute(
            """SELECT s.rowid, s.msg_id, s.state, s.state_at, s.received_at
               FROM stray_reports s JOIN message_ids m ON m.id = s.msg_id
               ORDER BY s.state_at"""
        ).fetchall()
        for rowid, msg_id, state, state_at, received_at in found:
            self.record_delivery(msg_id, state, state_at, received_at=received_at)
            self.db.execute("DELETE FROM stray_reports WHERE rowid=?", (rowid,))
        return len(found)

    def _update_row_delivery(self, recipient: int) -> None:
        states = self.db.execute(
            "SELECT state, state_at FROM message_ids WHERE recipient=?", (recipient,)
        ).fetchall()
        best = row_state([s for s, _ in states])
        at = max((t for s, t in states if s == best and t is not None), default=None)
        self.db.execute(
            "UPDATE messages SET delivery_status=?, delivered_at=? WHERE recipient=?",
            (best, at, recipient),
        )
        self._update_row_revoke(recipient)

    def set_final_price(self, msg_id: str, price: Decimal) -> bool:
        """Fill in a price the answer did not give (0 or null), from the logbook; True when the
        row's price is now known (a row with several ids needs each of them priced)."""
        with self._transaction():
            return self._store_price(msg_id, price)

    def set_final_prices(self, prices: Iterable[tuple[str, Decimal]]) -> int:
        """`set_final_price` for many ids in one transaction; how many rows became priced."""
        with self._transaction():
            return sum(self._store_price(msg_id, price) for msg_id, price in prices)

    def _store_price(self, msg_id: str, price: Decimal) -> bool:
        found = self.db.execute(
            "SELECT recipient FROM message_ids WHERE id=?", (msg_id,)
        ).fetchone()
        if found is None:
            return False
        self.db.execute("UPDATE message_ids SET price=? WHERE id=?", (str(price), msg_id))
        prices = [
            p
            for (p,) in self.db.execute(
                "SELECT price FROM message_ids WHERE recipient=?", (found[0],)
            )
        ]
        if any(p is None for p in prices):
            return False
        total = sum((Decimal(p) for p in prices), Decimal(0))
        cursor = self.db.execute(
            """UPDATE messages SET price=?, price_known=1
               WHERE recipient=? AND status='sent' AND price_known=0""",
            (str(total), found[0]),
        )
        return cursor.rowcount == 1

    def release(self, recipients: Iterable[int]) -> None:
        """Mark rows taken in flight but never attempted as `not_sent` again."""
        self.db.execute("BEGIN")
        self.db.executemany(
            "UPDATE messages SET status='not_sent' WHERE recipient=? AND status='in_flight'",
            [(r,) for r in recipients],
        )
        self.db.execute("COMMIT")

    def hold(self, holds: Sequence[tuple[int, float]]) -> None:
        """Put rows taken in flight, never attempted, back as sendable from a moment on:
        (recipient, until) pairs for rows outside their window."""
        self.db.execute("BEGIN")
        self.db.executemany(
            """UPDATE messages SET status='not_sent', hold_until=?
               WHERE recipient=? AND status='in_flight'""",
            [(until, r) for r, until in holds],
        )
        self.db.execute("COMMIT")

    def note_unsent(self, reason: str) -> None:
        """Say why the file's rows still to send (not held) were not sent by this run."""
        self.db.execute(
            f"""UPDATE messages SET error_text=? WHERE row IS NOT NULL AND status IN {SENDABLE}
                AND hold_until IS NULL AND error_text IS NULL""",
            (reason,),
        )

    def next_hold(self) -> float | None:
        """When the earliest held row may go; None when none is held."""
        (until,) = self.db.execute(
            "SELECT min(hold_until) FROM messages WHERE hold_until IS NOT NULL"
        ).fetchone()
        return None if until is None else float(until)

    # -- settling ---------------------------------------------------------------------------------

    def unsettled(self) -> list[Unsettled]:
        """Rows whose message may have been accepted: `unknown`, or `in_flight` (a run died)."""
        rows = self.db.execute(
            """SELECT recipient, row, status, text, label, foreign_id, attempts,
                      first_attempt_at, last_attempt_at, taken_at, delay
               FROM messages INDEXED BY unsettled WHERE status IN ('unknown', 'in_flight')
               ORDER BY row IS NULL, row"""
        ).fetchall()
        return [Unsettled(*r) for r in rows]

    def resend(self, recipients: Iterable[int]) -> None:
        """Make rows whose message surely did not arrive sendable again; their validity goes on
        from the earliest moment it may have left: the first attempt, or (when a dead run never
        recorded it) the moment the row was taken."""
        self.db.execute("BEGIN")
        self.db.executemany(
            """UPDATE messages SET status='not_sent', error_code=NULL, error_text=NULL,
                   first_attempt_at=coalesce(first_attempt_at, taken_at),
                   resent_after_absence=1
               WHERE recipient=? AND status IN ('unknown', 'in_flight')""",
            [(r,) for r in recipients],
        )
        self.db.execute("COMMIT")

    def note_undecided(self, reasons: Mapping[int, str]) -> None:
        """Say why lost answers stay `unknown` for now (the row's error_text)."""
        if not reasons:
            return
        self.db.execute("BEGIN")
        self.db.executemany(
            """UPDATE messages SET error_text=? WHERE recipient=?
               AND status IN ('unknown', 'in_flight')""",
            [(why, r) for r, why in reasons.items()],
        )
        self.db.execute("COMMIT")

    def resent_rows(
        self,
    ) -> dict[int, tuple[str, str | None, str | None, float, float, set[str]]]:
        """Sent rows whose lost answer was judged absent and that went again: recipient → (text,
        label, foreign_id, first attempt, the resend's attempt, ids). A second message found for
        one later was sent twice."""
        found: dict[int, tuple[str, str | None, str | None, float, float, set[str]]] = {}
        for r, text, label, fid, first, last, ids in self.db.execute(
            """SELECT recipient, text, label, foreign_id, first_attempt_at,
                      coalesce(last_attempt_at, first_attempt_at), message_ids
               FROM messages WHERE resent_after_absence = 1 AND status = 'sent'
               AND first_attempt_at IS NOT NULL"""
        ):
            found[r] = (text, label, fid, first, last, set((ids or "").split()))
        return found

    def add_second_message(self, recipient: int, msg_id: str, price: Decimal | None) -> bool:
        """Keep a second message found for a row already sent (its lost first answer had gone
        after all): its id, and its price added to the row's. False when the id is known."""
        with self._transaction():
            if self.db.execute("SELECT 1 FROM message_ids WHERE id=?", (msg_id,)).fetchone():
                return False
            row = self.db.execute(
                "SELECT message_ids, price, price_known FROM messages WHERE recipient=?",
                (recipient,),
            ).fetchone()
            if row is None:
                return False
            ids, total, known = row
            known = int(bool(known) and price is not None)
            total = str(Decimal(total or 0) + (price or 0))
            self.db.execute(
                """UPDATE messages SET message_ids=?, price=?, price_known=?,
                       error_text='sent twice: its first message, whose answer was lost, went '
                                  || 'after all (found in the logbook later)'
                   WHERE recipient=?""",
                (f"{ids or ''} {msg_id}".strip(), total, known, recipient),
            )
            self.db.execute(
                "INSERT INTO message_ids (id, recipient, price) VALUES (?, ?, ?)",
                (msg_id, recipient, None if price is None else str(price)),
            )
        return True

    def recent_known(self, count: int) -> list[tuple[str, int, float, float | None, str]]:
        """The newest sent messages with known ids: (id, recipient, its request's start,
        its delay), for telling the logbook's zone and how current it is."""
        # The first attempt: the earliest the accepted request can have left (a row settled
        # from the logbook never recorded its request's start).
        rows = self.db.execute(
            """SELECT message_ids, recipient, first_attempt_at, delay, text FROM messages
               WHERE status='sent' AND message_ids IS NOT NULL AND first_attempt_at IS NOT NULL
               ORDER BY first_attempt_at DESC LIMIT ?""",
            (count,),
        ).fetchall()
        return [(ids.split()[0], r, at, delay, text) for ids, r, at, delay, text in rows]

    def mark_unknown(self, recipients: Iterable[int], why: str, now: float | None = None) -> None:
        """Rows left in flight (a dead run's, or cut off when a run stopped) become `unknown`.

        Their last request left at the latest `now`: that is when their settle period starts
        (an older `last_attempt_at`, from an earlier attempt, would let them go again too soon).
        """
        now = time.time() if now is None else now
        self.db.execute("BEGIN")
        self.db.executemany(
            """UPDATE messages SET status='unknown', error_text=?,
                   last_attempt_at=max(coalesce(last_attempt_at, 0), ?)
               WHERE recipient=? AND status='in_flight'""",
            [(why, now, r) for r in recipients],
        )
        self.db.execute("COMMIT")

    # -- reading back -------------------------------------------------------------------------

    def result_rows(self) -> Iterator[tuple[object, ...]]:
        """Every row of the file in order, then rows no longer in the file, as report tuples.

        Columns: RESULT_COLUMNS. Statuses are the journal's; `pending` and `in_flight` are for
        the report to name.
        """
        query = f"""
            SELECT * FROM (
              SELECT row, recipient, coalesce(revoke, status), message_ids, price, price_known,
                     foreign_id, label,
                     error_code, error_text, attempts, sent_at, run_id, NULL AS input_phone,
                     text_changed, hold_until, delivery_status, delivered_at,
                     {CHANNEL_COLUMN}
                FROM messages m WHERE row IS NOT NULL OR status NOT IN {SENDABLE}
              UNION ALL
              SELECT row, recipient, status, NULL, NULL, NULL, NULL, NULL, NULL, reason, 0,
                     NULL, NULL, input_phone, 0, NULL, NULL, NULL, NULL FROM rejects)
            ORDER BY row IS NULL, row, recipient"""
        cursor = self.db.execute(query)
        while True:
            chunk = cursor.fetchmany(10_000)
            if not chunk:
                return
            yield from chunk

    def settled(self) -> tuple[np.ndarray, np.ndarray]:
        """Recipients whose row is settled (not sendable), sorted, with their report status."""
        rows = self.db.execute(
            f"SELECT recipient, status FROM messages WHERE status NOT IN {SENDABLE} "
            "ORDER BY recipient"
        ).fetchall()
        numbers = np.array([r for r, _ in rows], dtype=np.int64)
        statuses = np.array(["unknown" if s == "in_flight" else s for _, s in rows], dtype=object)
        return numbers, statuses

    def cost_so_far(self) -> tuple[Decimal, int]:
        """The campaign's known cost over every run, and how many rows may have cost something
        without a known price: sent without a price, or unknown / in flight (maybe accepted)."""
        total = Decimal(0)
        unknown = 0
        for status, price, known in self.db.execute(
            """SELECT status, price, price_known FROM messages
               WHERE status IN ('sent', 'unknown', 'in_flight')"""
        ):
            if status == "sent" and known and price is not None:
                total += Decimal(price)
            else:
                unknown += 1
        return total, unknown

    def highest_price(self) -> Decimal | None:
        """The highest price the gateway charged for one of this campaign's rows, if any."""
        prices = [
            Decimal(p)
            for (p,) in self.db.execute(
                "SELECT price FROM messages WHERE status='sent' AND price_known=1 "
                "ORDER BY CAST(price AS REAL) DESC LIMIT 3"
            )
        ]
        return max(prices, default=None)

    def average_price(self) -> Decimal | None:
        """The mean known price of the latest run that sent anything; None when none is known."""
        prices = [
            Decimal(p)
            for (p,) in self.db.execute(
                """SELECT price FROM messages WHERE status='sent' AND price_known=1
                   AND run_id = (SELECT run_id FROM messages WHERE status='sent'
                                 AND price_known=1 ORDER BY sent_at DESC LIMIT 1)"""
            )
        ]
        if not prices:
            return None
        return sum(prices, Decimal(0)) / len(prices)

    # -- revoking (`rcsbatch revoke`) -------------------------------------------------------------

    def revocable(
        self, *, run_id: str | None = None, scheduled_after: float | None = None
    ) -> list[tuple[str, int]]:
        """(message id, recipient) of the sent messages that may still be revoked: no final
        delivery state yet and never asked for before; only those of `run_id`'s rows, and only
        those whose delay is after `scheduled_after`, when given."""
        query = f"""SELECT i.id, i.recipient FROM message_ids i
                    JOIN messages m ON m.recipient = i.recipient
                    WHERE m.status = 'sent' AND i.revoke_requested_at IS NULL
                    AND (i.state IS NULL OR i.state NOT IN {tuple(sorted(FINAL | {READ}))})"""
        params: list[object] = []
        if run_id is not None:
            query += " AND m.run_id = ?"
            params.append(run_id)
        if scheduled_after is not None:
            query += " AND m.delay > ?"
            params.append(scheduled_after)
        return [(str(i), int(r)) for i, r in self.db.execute(query + " ORDER BY m.row", params)]

    def revoke_counts(self, *, run_id: str | None = None) -> dict[str, int]:
        """Rows already asked to revoke (`revoke_requested`, `revoked`), rows whose answer was
        lost (`unknown`: no message id to revoke) and rows still to send (`sendable`)."""
        where, params = ("", ()) if run_id is None else (" AND run_id = ?", (run_id,))
        counts = dict.fromkeys(("revoke_requested", "revoked", "unknown"), 0)
        for state, n in self.db.execute(
            f"""SELECT CASE WHEN revoke IS NOT NULL THEN revoke ELSE 'unknown' END, count(*)
                FROM messages WHERE (revoke IS NOT NULL OR status IN ('unknown', 'in_flight'))
                {where} GROUP BY 1""",
            params,
        ):
            counts[str(state)] = int(n)
        counts["sendable"] = 0 if run_id is not None else self.count_sendable()
        return counts

    def record_revoke_requests(self, requests: Iterable[tuple[str, float]]) -> None:
        """Store that the gateway was asked to delete these message ids, each with the time the
        request left; their rows become `revoke_requested` (or `revoked`, see
        `_update_row_revoke`)."""
        with self._transaction():
            for msg_id, at in requests:
                found = self.db.execute(
                    """UPDATE message_ids SET revoke_requested_at = ?
                       WHERE id = ? AND revoke_requested_at IS NULL RETURNING recipient""",
                    (at, msg_id),
                ).fetchone()
                if found is not None:
                    self._update_row_revoke(found[0])

    def _update_row_revoke(self, recipient: int) -> None:
        """A row asked to revoke is `revoked` once each of its messages asked for has a final
        state other than DELIVERED (REJECTED, NOTDELIVERED, EXPIRED, FAILED) from no earlier than
        the request (less the clock skew): seven answers `true` whether or not it deleted
        anything, so only a later report proves the message never arrived."""
        asked = self.db.execute(
            """SELECT state, coalesce(state_at, updated_at), revoke_requested_at FROM message_ids
               WHERE recipient = ? AND revoke_requested_at IS NOT NULL""",
            (recipient,),
        ).fetchall()
        if not asked:
            return
        confirmed = all(
            state in NOT_ARRIVED and at is not None and at >= requested - REVOKE_SKEW
            for state, at, requested in asked
        )
        self.db.execute(
            "UPDATE messages SET revoke = ? WHERE recipient = ?",
            ("revoked" if confirmed else "revoke_requested", recipient),
        )

    # -- capabilities ---------------------------------------------------------------------------

    def all_capabilities(self) -> Iterator[tuple[int, list[str], float]]:
        """Every cached lookup: (recipient, capability names, when it was made)."""
        for recipient, names, at in self.db.execute(
            "SELECT recipient, names, looked_up_at FROM capabilities"
        ):
            yield int(recipient), json.loads(names), at

    def recipients_to_check(self) -> list[int]:
        """The file's recipients still to send (or found `incapable` before), in file order:
        those `[send] require` decides on."""
        return [
            r
            for (r,) in self.db.execute(
                "SELECT recipient FROM messages WHERE row IS NOT NULL AND status IN "
                "('pending', 'not_sent', 'incapable') ORDER BY row"
            )
        ]

    def capabilities_due(self, recipients: Iterable[int], not_before: float) -> list[int]:
        """The recipients without a cached lookup made at or after `not_before`, in the order
        given (each once)."""
        fresh = {
            r
            for (r,) in self.db.execute(
                "SELECT recipient FROM capabilities WHERE looked_up_at >= ?", (not_before,)
            )
        }
        return [r for r in dict.fromkeys(recipients) if r not in fresh]

    def store_capabilities(
        self, rows: Iterable[tuple[int, Sequence[str], float, Decimal | None]]
    ) -> None:
        """Cache lookups: (recipient, capability names, when, price or None)."""
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO capabilities VALUES (?, ?, ?, ?)",
                [
                    (r, json.dumps(sorted(names)), at, None if price is None else str(price))
                    for r, names, at, price in rows
                ],
            )

    def rcs_capable(self, not_before: float) -> np.ndarray:
        """The recipients (sorted int64) whose lookup made at or after `not_before` shows any
        RCS capability."""
        found = [
            r
            for (r,) in self.db.execute(
                "SELECT recipient FROM capabilities WHERE looked_up_at >= ? AND names != '[]'",
                (not_before,),
            )
        ]
        return np.array(sorted(found), dtype=np.int64)

    def cached_capabilities(self, recipients: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """The cached capability names of those of `recipients` that were looked up."""
        found: dict[int, tuple[str, ...]] = {}
        wanted = list(dict.fromkeys(recipients))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for r, names in self.db.execute(
                f"SELECT recipient, names FROM capabilities WHERE recipient IN ({marks})", part
            ):
                found[r] = tuple(json.loads(names))
        return found

    def apply_requirements(self, required: Sequence[str], fallback: bool) -> tuple[int, int, int]:
        """Decide, for the file's rows still to send, from the cached lookups: a row whose
        lookup lacks a `required` capability goes with the fallback (`fallback`) or becomes
        `incapable` (never sent). Rows without a lookup go as usual. Decided afresh each run
        (rows `incapable` before are re-opened first). Returns (incapable, fallback, unknown)."""
        incapable = with_fallback = unknown = 0
        with self._transaction():
            self.db.execute(
                "UPDATE messages SET status='pending', error_text=NULL WHERE status='incapable'"
            )
            if self.db.execute("SELECT 1 FROM row_channels LIMIT 1").fetchone():
                self.db.execute(
                    f"""DELETE FROM row_channels WHERE recipient IN
                        (SELECT recipient FROM messages WHERE status IN {SENDABLE})"""
                )
            if not required:
                return 0, 0, 0
            rows = self.db.execute(
                f"""SELECT m.recipient, c.names, c.looked_up_at FROM messages m
                    LEFT JOIN capabilities c ON c.recipient = m.recipient
                    WHERE m.row IS NOT NULL AND m.status IN {SENDABLE}"""
            ).fetchall()
            marks: list[tuple[str, int]] = []
            channels: list[tuple[int, str]] = []
            for recipient, names, at in rows:
                if names is None:
                    unknown += 1
                    continue
                have = set(json.loads(names))
                lacking = [c for c in required if c not in have]
                if not lacking:
                    continue
                if fallback:
                    channels.append((recipient, "fallback"))
                    with_fallback += 1
                else:
                    day = time.strftime("%Y-%m-%d", time.gmtime(at))
                    what = "no RCS" if not have else "lacks " + ", ".join(lacking)
                    marks.append((f"cannot receive it: {what} (lookup of {day})", recipient))
                    incapable += 1
            self.db.executemany(
                "UPDATE messages SET status='incapable', error_text=? WHERE recipient=?", marks
            )
            self.db.executemany("INSERT OR REPLACE INTO row_channels VALUES (?, ?)", channels)
        return incapable, with_fallback, unknown


class JournalView:
    """A journal opened as it is, without bringing it up to date: what other campaigns of the
    account (state/claims.py) and the state checks (state/paths.py) read of one. sqlite3.Error is
    raised as met: a journal that cannot be read holds what is not known, and the caller decides."""

    def __init__(self, path: Path, *, read_only: bool = True) -> None:
        if read_only:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        else:
            self.db = sqlite3.connect(path, timeout=30)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def run_count(self) -> int:
        """How many runs started."""
        (count,) = self.db.execute("SELECT count(*) FROM runs").fetchone()
        return int(count)

    def has_run(self, run_id: str) -> bool:
        """Whether a run with this id started."""
        found = self.db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return found is not None

    def fold_wal(self) -> None:
        """Fold the write-ahead log into the main file, so that one file holds everything."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def summaries(self) -> list[str | None]:
        """The summary (JSON) of every run; None for a run that did not finish."""
        return [s for (s,) in self.db.execute("SELECT summary FROM runs")]

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` (at most a few hundred) the journal recorded as its messages'."""
        marks = ",".join("?" * len(ids))
        query = f"SELECT id FROM message_ids WHERE id IN ({marks})"
        return {i for (i,) in self.db.execute(query, list(ids))}

    def newest_sent(self, count: int) -> list[tuple[str, int, float, float | None]]:
        """(message ids, recipient, first attempt, delay) of the `count` newest sent rows."""
        return self.db.execute(
            """SELECT message_ids, recipient, first_attempt_at, delay FROM messages
               WHERE status = 'sent' AND message_ids IS NOT NULL
               AND first_attempt_at IS NOT NULL
               ORDER BY first_attempt_at DESC LIMIT ?""",
            (count,),
        ).fetchall()

    def has_lost_answer(
        self, recipient: int, text: str, label: str | None, foreign_id: str | None
    ) -> bool:
        """Whether a row to `recipient` whose answer was lost carries this text, label and
        foreign_id."""
        row = self.db.execute(
            """SELECT 1 FROM messages WHERE recipient = ?
               AND status IN ('unknown', 'in_flight') AND text = ?
               AND coalesce(label, '') = ? AND coalesce(foreign_id, '') = ?""",
            (recipient, text, label or "", foreign_id or ""),
        ).fetchone()
        return row is not None


class JournalReader(JournalView):
    """A campaign's journal opened read-only, for reports: the queries their figures come from.

    A run may be writing the journal meanwhile (WAL lets both go on); `snapshot` holds one view
    of it while several queries are read. `region` is the SQL function `region(recipient)` the
    grouping by country calls (the report's, from phonenumbers).
    """

    def __init__(self, path: Path, region: Callable[[Any], str]) -> None:
        try:
            super().__init__(path)
            self.db.create_function("region", 1, region, deterministic=True)
            self.db.execute("SELECT count(*) FROM runs").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ReportError(storage.damaged(path, exc)) from None

    @staticmethod
    def is_current(path: Path) -> bool:
        """Whether the journal at `path` has the tables and columns the queries read (an older
        one is brought up to date by opening it as a `Journal` once); True when it cannot be
        read at all, for the opening to say why."""
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                columns = {r[1] for r in db.execute("PRAGMA table_info(messages)")}
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError:
            return True
        return {"delivery_status", "revoke"} <= columns and {
            "message_ids",
            "row_channels",
        } <= tables

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: a run writing meanwhile cannot skew one figure against another."""
        self.db.execute("BEGIN")
        yield
        self.db.execute("COMMIT")

    @staticmethod
    def _scope(run_id: str | None) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause for `messages` rows of the report, and its parameters."""
        if run_id is None:
            return f"(row IS NOT NULL OR status NOT IN {SENDABLE})", ()
        return "run_id = ?", (run_id,)

    def run_ids(self) -> list[str]:
        """Every run of the campaign, oldest first."""
        return [
            r for (r,) in self.db.execute("SELECT run_id FROM runs ORDER BY started_at, run_id")
        ]

    def runs(self, run_id: str | None) -> list[tuple[str, float, float | None, int | None, str]]:
        """(run id, started, finished, exit code, summary JSON) of every run (or of `run_id`),
        oldest first."""
        query = "SELECT run_id, started_at, finished_at, exit_code, summary FROM runs"
        params: tuple[Any, ...] = ()
        if run_id is not None:
            query += " WHERE run_id = ?"
            params = (run_id,)
        return self.db.execute(query + " ORDER BY started_at, run_id", params).fetchall()

    def status_counts(self, run_id: str | None) -> list[tuple[RowStatus, int]]:
        """(status, rows) of the report's rows; a row asked to revoke is counted as
        revoke_requested / revoked, not as sent. Over every run, our own checks' refusals too."""
        where, params = self._scope(run_id)
        query = f"SELECT coalesce(revoke, status), count(*) FROM messages WHERE {where} GROUP BY 1"
        if run_id is None:
            query += " UNION ALL SELECT status, count(*) FROM rejects GROUP BY status"
        return self.db.execute(query, params).fetchall()

    def error_counts(self, run_id: str | None) -> list[tuple[str, RowStatus, int, str | None]]:
        """(error code, status, rows, one of its texts), most rows first."""
        where, params = self._scope(run_id)
        return self.db.execute(
            f"""SELECT error_code, status, count(*), min(error_text) FROM messages
                WHERE {where} AND error_code IS NOT NULL
                GROUP BY error_code, status ORDER BY count(*) DESC, error_code""",
            params,
        ).fetchall()

    def sent_groups(self, run_id: str | None) -> sqlite3.Cursor:
        """Sent rows grouped by (label, region, day, run id, known price or None, delivery
        state, channel), each with its count last."""
        where, params = self._scope(run_id)
        return self.db.execute(
            f"""SELECT label, region(recipient), date(sent_at, 'unixepoch'), run_id,
                       CASE WHEN price_known = 1 THEN price END, delivery_status,
                       coalesce((SELECT channel FROM row_channels c
                                 WHERE c.recipient = m.recipient), 'rcs'),
                       count(*)
                FROM messages m WHERE {where} AND status = 'sent'
                GROUP BY 1, 2, 3, 4, 5, 6, 7""",
            params,
        )

    def sent_span(self, run_id: str | None) -> tuple[float | None, float | None]:
        """The first send and the last send or delivery report of the sent rows."""
        where, params = self._scope(run_id)
        start, end = self.db.execute(
            f"""SELECT min(sent_at), max(max(sent_at), coalesce(max(delivered_at), 0))
                FROM messages WHERE {where} AND status = 'sent'""",
            params,
        ).fetchone()
        return start, end

    def sent_by_slot(self, run_id: str | None, origin: float, bucket: int) -> sqlite3.Cursor:
        """(slot, sent rows): the sent rows by `bucket`-second slot from `origin`."""
        where, params = self._scope(run_id)
        return self.db.execute(
            f"""SELECT CAST((sent_at - ?) / ? AS INTEGER), count(*) FROM messages
                WHERE {where} AND status = 'sent' GROUP BY 1""",
            (origin, bucket, *params),
        )

    def reported_by_slot(
        self, run_id: str | None, origin: float, bucket: int, states: Sequence[str]
    ) -> sqlite3.Cursor:
        """(slot, rows): the sent rows whose delivery report gave one of `states`, by the
        `bucket`-second slot of that report from `origin`."""
        where, params = self._scope(run_id)
        marks = ",".join("?" * len(states))
        return self.db.execute(
            f"""SELECT CAST((delivered_at - ?) / ? AS INTEGER), count(*) FROM messages
                WHERE {where} AND status = 'sent' AND delivered_at IS NOT NULL
                AND delivery_status IN ({marks}) GROUP BY 1""",
            (origin, bucket, *params, *states),
        )

    def result_rows(self, run_id: str | None) -> sqlite3.Cursor:
        """The report's rows as results.csv has them (RESULT_COLUMNS), in file order; over
        every run, our own checks' refusals too."""
        where, params = self._scope(run_id)
        special = {
            "input_phone": "NULL AS input_phone",
            "status": "coalesce(revoke, status) AS status",
            "channel": CHANNEL_COLUMN,
        }
        columns = ", ".join(special.get(c, c) for c in RESULT_COLUMNS)
        query = f"SELECT {columns} FROM messages m WHERE {where}"
        if run_id is None:
            query += """ UNION ALL
                SELECT row, recipient, status, NULL, NULL, NULL, NULL, NULL, NULL, reason, 0,
                       NULL, NULL, input_phone, 0, NULL, NULL, NULL, NULL FROM rejects"""
        return self.db.execute(
            f"SELECT * FROM ({query}) ORDER BY row IS NULL, row, recipient", params
        )
