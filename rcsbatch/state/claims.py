"""Which message ids the campaigns of one gateway account on this machine already hold.

A logbook entry proves a lost answer's row sent only if no other row could own it. Every
campaign of the account keeps its journal under the same account folder (state/paths.py); a message
id one of them recorded (from an answer, or from an earlier settlement) is that campaign's, and an
id settled from the logbook is claimed in `claims.sqlite` beside them, first come first served,
so two campaigns settling at the same moment never both take one entry.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from rcsbatch.engine.settle import Known
from rcsbatch.state import privacy
from rcsbatch.state.journal import JournalView
from rcsbatch.state.paths import JOURNAL, make_private_dir

CLAIMS = "claims.sqlite"


class AccountClaims:
    """The claims of one account's campaigns, seen from `campaign` (whose journal is
    `journal`)."""

    def __init__(self, account_folder: Path, campaign: str, journal: Path) -> None:
        self.folder = account_folder
        self.campaign = campaign
        self.journal = journal.resolve()

    def register(self) -> None:
        """Note this campaign's journal for the account (one kept elsewhere, with `journal =`,
        is found through this note)."""
        with self._claims() as db:
            db.execute("INSERT OR IGNORE INTO journals VALUES (?)", (str(self.journal),))

    def _paths(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        paths = {p.resolve() for p in self.folder.glob(f"*/{JOURNAL}")}
        if (self.folder / CLAIMS).exists():
            with self._claims() as db:
                paths |= {Path(p) for (p,) in db.execute("SELECT path FROM journals")}
        return sorted(p for p in paths if p != self.journal and p.exists())

    def _others(self) -> Iterator[JournalView]:
        """The account's other journals on this machine, read-only; a journal that cannot be
        opened raises sqlite3.Error (what it holds is not known)."""
        for path in self._paths():
            db = JournalView(path)
            try:
                yield db
            finally:
                db.close()

    @contextlib.contextmanager
    def _claims(self) -> Iterator[sqlite3.Connection]:
        make_private_dir(self.folder)
        path = self.folder / CLAIMS
        privacy.prepare_database(path)  # it names recipients
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                """CREATE TABLE IF NOT EXISTS claims (
                    id TEXT PRIMARY KEY, campaign TEXT NOT NULL, recipient INTEGER, at REAL)"""
            )
            db.execute("CREATE TABLE IF NOT EXISTS journals (path TEXT PRIMARY KEY)")
            yield db
        finally:
            db.close()

    def held_elsewhere(self, ids: Iterable[str]) -> set[str]:
        """The ids another campaign of the account holds: claimed from the logbook, or
        recorded in its journal."""
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        held: set[str] = set()
        with self._claims() as db:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                held.update(
                    i
                    for (i,) in db.execute(
                        f"SELECT id FROM claims WHERE id IN ({marks}) AND campaign != ?",
                        [*part, self.campaign],
                    )
                )
        for other in self._others():
            for start in range(0, len(wanted), 500):
                held.update(other.known_ids(wanted[start : start + 500]))
        return held

    def recent_known(self, count: int, test_sends: Path | None = None) -> list[Known]:
        """The newest messages with known ids that the account's other campaigns (and this
        campaign's test sends, in `test_sends`) got accepted: evidence that the logbook is
        current, when this campaign itself sent nothing since a lost answer."""
        found: list[Known] = []
        others = self._others()
        while True:
            try:
                other = next(others)
            except StopIteration:
                break
            except sqlite3.Error:
                continue  # evidence only: a journal that cannot be read gives none
            with contextlib.suppress(sqlite3.Error):
                found += [
                    Known(ids.split()[0], r, at, at + 30.0, delay)
                    for ids, r, at, delay in other.newest_sent(count)
                ]
        if test_sends is not None and test_sends.exists():
            with contextlib.suppress(sqlite3.Error):
                db = sqlite3.connect(f"file:{test_sends}?mode=ro", uri=True, timeout=30)
                try:
                    # Recorded in flight before its request left: created_at is no later.
                    found += [
                        Known(ids.split()[0], to, created, sent)
                        for ids, to, created, sent in db.execute(
                            """SELECT message_ids, to_number, created_at, sent_at FROM test_sends
                               WHERE status = 'sent' AND message_ids IS NOT NULL
                               ORDER BY created_at DESC LIMIT ?""",
                            (count,),
                        )
                    ]
                finally:
                    db.close()
        return sorted(found, key=lambda k: k.left)[-count:]

    def rivals(self, recipient: int, text: str, label: str | None, foreign_id: str | None) -> int:
        """How many other campaigns of the account have a row to `recipient` whose answer was
        lost and whose message carries the same text, label and foreign_id: a logbook entry
        that matches could be theirs as well as ours."""
        found = 0
        for other in self._others():
            try:
                found += other.has_lost_answer(recipient, text, label, foreign_id)
            except sqlite3.Error:
                found += 1  # not readable: it may hold such a row
        return found

    def claim(self, ids: Iterable[str], recipient: int) -> bool:
        """Claim `ids` for this campaign, all or none; False when another campaign has one."""
        wanted = sorted(set(ids))
        if not wanted:
            return True
        with self._claims() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                marks = ",".join("?" * len(wanted))
                taken = db.execute(
                    f"SELECT 1 FROM claims WHERE id IN ({marks}) AND campaign != ? LIMIT 1",
                    [*wanted, self.campaign],
                ).fetchone()
                if taken is not None:
                    db.execute("ROLLBACK")
                    return False
                db.executemany(
                    "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?)",
                    [(i, self.campaign, recipient, time.time()) for i in wanted],
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return True
