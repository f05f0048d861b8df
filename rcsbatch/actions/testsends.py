"""Test sends: a few rows of a campaign, merged exactly as the campaign would, sent to test numbers.

seven lets an agent in test status reach only the test numbers stored for it, and anyone wants to
see a campaign's message on a phone before thousands of people do. So chosen rows (default: the
first three ready rows) go to each test number instead of their recipients, one request per
(row, number), with the campaign's agent, fallback, tracking and rich form, and:

- no `delay`, `window` or `not_after`, and the full `ttl`: a test message is for looking at now;
- the label `<the row's merged label>-test` when that fits the gateway's rule, else
  `rcsbatch-test`, so the logbook and reports at seven tell tests apart;
- the foreign_id `test.<send id>.<row>` (the send id is the UTC time of the test send), never the
  row's own: `engine/settle.py` matches logbook entries by recipient *and* foreign_id, so a test
  message to a number that is also a recipient can never settle that recipient's row as sent.

Test sends are recorded in a file of their own, `test-sends.sqlite` in the campaign's state
folder (state/paths.py; each request in flight before it leaves, then its outcome), and each
one's results in `<report dir>/<campaign>/test-sends/<send id>.csv`. The campaign's journal, run
folders, reports, cost and `max_cost` never see them, and they take no run lock: a test send may
go while a run of the campaign is going on, and a later run sends every row as usual.

Statuses: `sent`, `failed` (refused for the number, or retries ran out), `unknown` (the answer
was lost: it may have arrived; not sent again), `not_sent` (the gateway stopped the test send).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from rcsbatch.campaign.file import Campaign
from rcsbatch.errors import (
    AccountError,
    GatewayError,
    InputError,
    ReportError,
)
from rcsbatch.gateway.fanout import bounded
from rcsbatch.gateway.request import SendSettings, cell_text, message_params
from rcsbatch.gateway.retry import Attempts, RetryPolicy
from rcsbatch.recipients import phones
from rcsbatch.recipients.prepare import LABEL_RE, Plan
from rcsbatch.reports.csvfile import STANDARD, Dialect, safe_cell
from rcsbatch.state import paths, privacy
from rcsbatch.state.status import RowStatus, failure

if TYPE_CHECKING:
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.gateway.config import Gateway

DEFAULT_ROWS = 3
CONCURRENCY = 4  # a handful of messages: no need to be fast
FALLBACK_LABEL = "rcsbatch-test"
RESULT_FIELDS = (
    "row",
    "to",
    "status",
    "message_id",
    "price",
    "foreign_id",
    "label",
    "attempts",
    "error_code",
    "error_text",
    "sent_at",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS test_sends (
    send_id TEXT NOT NULL, row INTEGER NOT NULL, to_number INTEGER NOT NULL,
    request TEXT NOT NULL, label TEXT NOT NULL, foreign_id TEXT NOT NULL,
    status TEXT NOT NULL,               -- in_flight | sent | failed | unknown | not_sent
    message_ids TEXT, price TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT, error_text TEXT, created_at REAL NOT NULL, sent_at REAL,
    PRIMARY KEY (send_id, row, to_number)
);
"""


@dataclass(frozen=True)
class TestMessage:
    """One test message: a chosen row for one test number, its request body and its outcome."""

    __test__ = False  # not a pytest test class, whatever its name

    row: int
    to: int
    params: dict[str, Any]
    status: RowStatus | Literal[""] = ""  # "": not sent yet
    message_ids: tuple[str, ...] = ()
    price: Decimal | None = None
    attempts: int = 0
    error_code: str | None = None
    error_text: str | None = None
    sent_at: float | None = None


@dataclass(frozen=True)
class TestSendResult:
    """A finished test send: every message's outcome, where its results are, why it stopped.

    Exit code: 3 when the gateway stopped it (key, credit, rights, sender), else 0 when every
    message was accepted, else 1.
    """

    __test__ = False

    send_id: str
    path: Path
    messages: tuple[TestMessage, ...]
    stop_reason: str | None = None

    @property
    def exit_code(self) -> int:
        """See the class docstring."""
        if self.stop_reason:
            return 3
        return 0 if all(m.status == "sent" for m in self.messages) else 1


def resolve_numbers(campaign: Campaign, given: Sequence[str]) -> tuple[int, ...]:
    """The numbers to send to: `given` (normalised with the campaign's default_region) when there
    are any, else the campaign's `[test] numbers`; InputError for a bad number or none at all."""
    if not given:
        if not campaign.test.numbers:
            raise InputError(
                f"{campaign.path}: no test numbers: list them in the campaign file as [test] "
                'numbers = ["+49 …"], or give the numbers to send to',
                option="to",
            )
        return campaign.test.numbers
    numbers: list[int] = []
    for raw in given:
        found = phones.check_one(raw, campaign.default_region, campaign.number_types)
        if found.reason is not None:
            what = "cannot be sent to" if found.refused_type else "is not a valid number"
            raise InputError(f"test number {raw!r} {what} ({found.reason})", option="to")
        numbers.append(found.number)
    return tuple(dict.fromkeys(numbers))


def parse_rows(value: str) -> tuple[int, ...]:
    """`--rows 2,5,9` as row numbers (the file's own, as in the results: the header is row 1);
    InputError else."""
    rows: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdecimal() or int(part) < 2:
            raise InputError(
                f"rows {value!r}: give row numbers as the file shows them (the header is row 1, "
                "so the first recipient is row 2), separated by commas (e.g. 2,5,9)",
                option="rows",
            )
        rows.append(int(part))
    return tuple(dict.fromkeys(rows))


def label_for_test(label: str | None) -> str:
    """The label a test message carries: the row's label + "-test" if that fits the gateway's
    rule, else FALLBACK_LABEL."""
    marked = f"{label}-test" if label else ""
    return marked if re.fullmatch(LABEL_RE, marked) else FALLBACK_LABEL


def foreign_id_for_test(send_id: str, row: int) -> str:
    """The foreign_id of a test message: never a row's own (see the module docstring)."""
    return f"test.{send_id}.{row}"


def new_send_id(now: float | None = None) -> str:
    """A test send's id: its UTC time, which sorts by time."""
    moment = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def choose_rows(plan: Plan, rows: Sequence[int] = ()) -> list[tuple[int, Any]]:
    """The chosen rows as (row, checked row of prepare.COLUMNS): `rows`, or the first
    DEFAULT_ROWS ready rows. InputError naming every chosen row that is not ready or not there."""
    found: dict[int, Any] = {}
    problems: list[str] = []
    wanted = set(rows)
    seen: set[int] = set()
    last = 0
    for chunk in plan.chunks():
        last = int(chunk.index[-1]) if len(chunk) else last
        if not rows:
            ready = chunk[chunk["status"] == "ready"]
            for row, (_, item) in zip(ready.index.tolist(), ready.iterrows(), strict=True):
                found[int(row)] = item
                if len(found) == DEFAULT_ROWS:
                    return list(found.items())
            continue
        for row in sorted(wanted & set(chunk.index.tolist())):
            seen.add(row)
            picked = chunk.loc[row]  # one row: the index is the row number, unique
            assert isinstance(picked, pd.Series)
            if picked["status"] == "ready":
                found[row] = picked
            else:
                problems.append(f"row {row} is {picked['status']} ({picked['reason']})")
        if last >= max(wanted):
            break
    if not rows:
        if not found:
            raise InputError(
                f"{plan.campaign.path.name}: no row is ready to send; "
                "run `rcsbatch validate` to see why"
            )
        return list(found.items())
    for row in sorted(wanted - seen):
        if row > last:
            problems.append(f"row {row} is not in the recipient file (its last row is {last})")
        elif row == 1:
            problems.append("row 1 is the header")
        else:
            # Rows are the file's lines: some hold no recipient.
            problems.append(f"row {row} holds no recipient (a blank line, or inside a quoted cell)")
    if problems:
        raise InputError(f"only ready rows can be test-sent: {'; '.join(problems)}", option="rows")
    return [(row, found[row]) for row in rows]


def settings_for_test(campaign: Campaign) -> SendSettings:
    """The campaign's send settings for a test: sent now (no delay, window or not_after)."""
    settings = SendSettings.of(campaign)
    return replace(
        settings,
        delay=None,
        window=None,
        not_after=None,
        concurrency=min(settings.concurrency, CONCURRENCY),
    )


def build(
    campaign: Campaign,
    chosen: Sequence[tuple[int, Any]],
    numbers: Sequence[int],
    send_id: str,
    now: float | None = None,
) -> list[TestMessage]:
    """Every (row, number) test message with its request body, rows first."""
    settings = settings_for_test(campaign)
    now = now if now is not None else time.time()
    found: list[TestMessage] = []
    for row, item in chosen:
        for number in numbers:
            params = message_params(
                settings,
                recipient=number,
                text=item["text"],
                label=label_for_test(cell_text(item["label"])),
                foreign_id=foreign_id_for_test(send_id, row),
                now=now,
                deadline=settings.deadline(now),
            )
            found.append(TestMessage(row, number, params))
    return found


class TestSendLog:
    """The test sends' own record (`test-sends.sqlite`), apart from the campaign's journal."""

    __test__ = False

    def __init__(self, path: Path) -> None:
        try:
            privacy.make_folder(path.parent)
            privacy.prepare_database(path)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ReportError(
                f"cannot use {path} for the test sends' record ({exc}); "
                "choose another report folder",
                option="report_dir",
            ) from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> TestSendLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(
        self, base_id: str, make: Callable[[str], list[TestMessage]]
    ) -> tuple[str, list[TestMessage]]:
        """Claim a send id (`base_id`, or `base_id-N` when a test send in the same second took
        it), make its messages with it, and record them in flight (on disk) before any request
        leaves; one transaction, so two test sends at once never share an id."""
        with self._transaction():
            for n in range(1000):
                send_id = base_id if n == 0 else f"{base_id}-{n}"
                taken = self.db.execute(
                    "SELECT 1 FROM test_sends WHERE send_id = ? LIMIT 1", (send_id,)
                ).fetchone()
                if taken is None:
                    break
            else:  # pragma: no cover
                raise RuntimeError("too many test sends in the same second")
            messages = make(send_id)
            now = time.time()
            self.db.executemany(
                "INSERT INTO test_sends (send_id, row, to_number, request, label, foreign_id,"
                " status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'in_flight', ?)",
                [
                    (
                        send_id,
                        m.row,
                        m.to,
                        json.dumps(m.params, ensure_ascii=False),
                        m.params["label"],
                        m.params["foreign_id"],
                        now,
                    )
                    for m in messages
                ],
            )
        return send_id, messages

    def record(self, send_id: str, m: TestMessage) -> None:
        """Record one message's outcome."""
        self.db.execute(
            "UPDATE test_sends SET status = ?, message_ids = ?, price = ?, attempts = ?, "
            "error_code = ?, error_text = ?, sent_at = ? "
            "WHERE send_id = ? AND row = ? AND to_number = ?",
            (
                m.status,
                " ".join(m.message_ids) or None,
                str(m.price) if m.price is not None else None,
                m.attempts,
                m.error_code,
                m.error_text,
                m.sent_at,
                send_id,
                m.row,
                m.to,
            ),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")


async def send_all(
    client: GatewayClient,
    messages: Sequence[TestMessage],
    settings: SendSettings,
    on_done: Callable[[TestMessage], None],
) -> tuple[list[TestMessage], str | None]:
    """Send every message, `settings.concurrency` at a time, each retried by the send path's
    rules; the messages with their outcome, and why the gateway stopped (None when it did not)."""
    stop: list[str] = []
    policy = RetryPolicy.of(settings)

    async def one(m: TestMessage) -> TestMessage:
        done = await _one(m)
        on_done(done)
        return done

    async def _one(m: TestMessage) -> TestMessage:
        if stop:
            return replace(m, status="not_sent", error_text=f"not sent: {stop[0]}")
        attempts = Attempts()
        try:
            accepted = await policy.call(
                lambda: client.send(m.params, str(m.to)), attempts=attempts
            )
        except GatewayError as exc:
            if isinstance(exc, AccountError):
                stop.append(str(exc))
            found = failure(exc, attempts.count)
            return replace(
                m,
                status=found.status,
                attempts=attempts.count,
                error_code=found.code,
                error_text=found.text,
            )
        return replace(
            m,
            status="sent",
            message_ids=accepted.message_ids,
            price=accepted.price,
            attempts=attempts.count,
            sent_at=time.time(),
        )

    done = await bounded(messages, settings.concurrency, one)
    return done, stop[0] if stop else None


def results_path(root: Path, campaign: Campaign, send_id: str) -> Path:
    """Where a test send's results go: `<report dir>/<campaign>/test-sends/<send id>.csv`."""
    return root / campaign.name / "test-sends" / f"{send_id}.csv"


def write_results(path: Path, messages: Sequence[TestMessage], dialect: Dialect = STANDARD) -> Path:
    """Write one row per test message (RESULT_FIELDS) to `path` as CSV in `dialect`; returns
    `path`."""
    try:
        privacy.make_folder(path.parent)
        temp = path.with_name(path.name + ".tmp")
        with dialect.open(temp) as handle:
            writer = dialect.writer(handle)
            writer.writerow(RESULT_FIELDS)
            for m in sorted(messages, key=lambda m: (m.row, m.to)):
                sent_at = (
                    dt.datetime.fromtimestamp(m.sent_at, dt.UTC).isoformat(timespec="seconds")
                    if m.sent_at is not None
                    else ""
                )
                cells = [
                    m.row,
                    m.to,
                    m.status,
                    " ".join(m.message_ids),
                    "" if m.price is None else dialect.number(str(m.price)),
                    m.params["foreign_id"],
                    m.params["label"],
                    m.attempts,
                    m.error_code or "",
                    m.error_text or "",
                    sent_at,
                ]
                writer.writerow([safe_cell(c) for c in cells])
        temp.replace(path)
    except OSError as exc:
        raise ReportError(f"cannot write {path} ({exc.strerror})") from None
    return path


async def send_rows(
    campaign: Campaign,
    root: Path,
    gateway: Gateway,
    chosen: list[tuple[int, Any]],
    numbers: tuple[int, ...],
    on_done: Callable[[Any], None] | None = None,
    *,
    client: GatewayClient | None = None,
) -> TestSendResult:
    """Send each chosen row (`choose_rows`) to each test number instead of its recipient,
    record it in the campaign's test-send log (never its journal), write the results file, and
    return the TestSendResult. Sends with `client` when given (the caller's session),
    else a client of its own. Takes no run lock; see the module docstring."""
    settings = settings_for_test(campaign)
    test_log = paths.campaign_state(campaign, gateway).test_sends
    try:
        paths.make_private_dir(test_log.parent)
    except OSError as exc:
        raise ReportError(
            f"cannot use the state folder {test_log.parent} ({exc.strerror}); set "
            f"{paths.STATE_DIR_ENV} to a folder you can write"
        ) from None
    with TestSendLog(test_log) as log:
        send_id, messages = log.start(
            new_send_id(),
            lambda send_id: build(campaign, chosen, numbers, send_id),
        )

        def done(message: Any) -> None:
            log.record(send_id, message)
            if on_done is not None:
                on_done(message)

        if client is not None:
            sent, stop_reason = await send_all(client, messages, settings, done)
        else:
            from rcsbatch.gateway.client import GatewayClient

            async with GatewayClient(
                gateway.base_url, gateway.api_key, max_connections=settings.concurrency
            ) as own:
                sent, stop_reason = await send_all(own, messages, settings, done)
    path = write_results(results_path(root, campaign, send_id), sent, campaign.csv)
    return TestSendResult(send_id, path, tuple(sent), stop_reason)
