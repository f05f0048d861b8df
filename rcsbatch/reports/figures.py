"""A campaign's figures, read from its journal: statuses, gateway errors, the delivery funnel,
costs (in total, per label, country, day and run), balances, send rates and per-recipient rows.

The journal is opened read-only (a run may be writing it: SQLite's WAL lets both go on), and every
figure is aggregated in SQL, so a report over millions of rows never holds them in memory. Money is
`Decimal` throughout, summed exactly from the gateway's prices (stored as text); rounding to
the cent happens only where a person reads it (`money.cents`). A sent row whose price the gateway
has not given yet (`price_known` 0 or missing) is counted as `unpriced`, never as zero cost.
Figures that are estimates (`estimated_unpriced_cost`, a run's `balance_before` worked out from its
balance after) say so in their names.

With a run id, the figures cover only the rows that run settled (the journal's `run_id`) and that
run's summary; the rows our own checks refused (invalid, duplicate, suppressed) are re-decided at
every run and belong to no run, so they appear only in a report over every run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa

from rcsbatch.errors import ReportError
from rcsbatch.reports.money import plain, read_amount, six_places
from rcsbatch.reports.outcome import ORDER, REPORT_STATUS
from rcsbatch.reports.results import journal_batches
from rcsbatch.state.journal import Journal, JournalReader
from rcsbatch.state.status import RowStatus

DELIVERED = ("DELIVERED", "READ")
UNDELIVERED = ("NOTDELIVERED", "REJECTED", "FAILED")
EXPIRED = ("EXPIRED",)
UNKNOWN_COUNTRY = "unknown"
# Bucket sizes for the delivery timeline, smallest first: the first giving at most
# TIMELINE_POINTS buckets is used.
_BUCKETS = (1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
TIMELINE_POINTS = 200


@dataclass
class CostLine:
    """Sent messages of one group (a label, a country, a day, a run) and their exact cost."""

    key: str
    sent: int = 0
    priced: int = 0
    cost: Decimal = Decimal(0)

    @property
    def unpriced(self) -> int:
        """Sent messages whose price the gateway has not given (yet): not in `cost`."""
        return self.sent - self.priced

    @property
    def average(self) -> Decimal | None:
        """The mean price of the priced messages; None when none is priced."""
        return self.cost / self.priced if self.priced else None

    def add(self, count: int, price: Decimal | None) -> None:
        self.sent += count
        if price is not None:
            self.priced += count
            self.cost += price * count


@dataclass(frozen=True)
class ErrorLine:
    """Rows that ended with one gateway error code, with the gateway's text for it."""

    code: str
    status: RowStatus
    count: int
    text: str | None


@dataclass(frozen=True)
class Funnel:
    """What became of the sent messages, by seven's delivery reports.

    `delivered` includes `read`; `failed` is NOTDELIVERED, REJECTED or FAILED; `pending` is every
    sent message with no final state yet (no report, or BUFFERED / TRANSMITTED / ACCEPTED /
    UNKNOWN).
    """

    sent: int
    delivered: int
    read: int
    failed: int
    expired: int

    @property
    def pending(self) -> int:
        return self.sent - self.delivered - self.failed - self.expired

    def stages(self) -> list[tuple[str, int]]:
        """The funnel as every report format shows it: (stage, messages)."""
        return [
            ("sent", self.sent),
            ("delivered", self.delivered),
            ("of which read", self.read),
            ("failed (NOTDELIVERED, REJECTED, FAILED)", self.failed),
            ("expired", self.expired),
            ("pending (no final state yet)", self.pending),
        ]


@dataclass(frozen=True)
class RunLine:
    """One run, from its summary in the journal (None where the summary has no such figure)."""

    run_id: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    exit_code: int | None
    sent: int | None
    cost: Decimal | None
    balance_before: Decimal | None
    balance_before_estimated: bool
    balance_after: Decimal | None
    currency: str | None
    duration_seconds: float | None
    send_seconds: float | None
    messages_per_second: float | None
    requests: int | None
    stopped_by_gateway: str | None
    simulated: bool

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass(frozen=True)
class TimePoint:
    """Cumulative counts at the end of one bucket of the delivery timeline (UTC)."""

    at: dt.datetime
    sent: int
    delivered: int
    failed: int
    expired: int


@dataclass(frozen=True)
class Figures:
    """Everything a report shows, for one campaign (every run, or the one in `run_id`)."""

    campaign: str
    run_id: str | None
    generated_at: dt.datetime
    currency: str
    simulated: bool
    statuses: dict[str, int]
    errors: list[ErrorLine]
    funnel: Funnel
    total: CostLine
    by_label: list[CostLine]
    by_country: list[CostLine]
    by_day: list[CostLine]
    by_run: list[CostLine]
    runs: list[RunLine]
    timeline: list[TimePoint]
    timeline_bucket_seconds: int
    balance_before: Decimal | None = None
    balance_before_estimated: bool = False
    balance_after: Decimal | None = None
    estimated_unpriced_cost: Decimal | None = None
    send_seconds: float | None = None
    duration_seconds: float | None = None
    messages_per_second: float | None = None
    notes: list[str] = field(default_factory=list)
    # rcs, or fallback for rows sent with the campaign's fallback because the recipient lacked a
    # required capability ([send] require): counts and costs kept apart.
    by_channel: list[CostLine] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.statuses.values())

    def run_cost(self, run_id: str) -> CostLine:
        """The messages a run settled and their cost as the journal has it now (prices that
        came later included; the run's summary has them as they were when it ended)."""
        return next((c for c in self.by_run if c.key == run_id), CostLine(run_id))

    @property
    def scope(self) -> str:
        """What the figures cover, in words."""
        return f"run {self.run_id}" if self.run_id else f"all runs ({len(self.runs)})"


def open_journal(path: Path, campaign: str) -> JournalReader:
    """The campaign's journal, read-only; ReportError when the campaign was never run."""
    if not path.exists():
        raise ReportError(
            f"campaign {campaign!r} has no journal at {path}: it was never run there (a dry run "
            "keeps none); run it first, or give the report folder it ran in",
            option="report_dir",
        )
    if not JournalReader.is_current(path):
        with Journal(path):  # an older journal: bring it up to date once (adds columns)
            pass
    return JournalReader(path, region)


@lru_cache(maxsize=4096)
def _regions(country_code: int) -> tuple[str, ...]:
    return tuple(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()))


def region(recipient: int | str | None) -> str:
    """The ISO region of an E.164 number given as digits (`4917612345678` → "DE").

    A country code shared by several regions (+1, +7, +44, …) is resolved by phonenumbers from the
    whole number; a number it cannot place goes to its code's main region.
    """
    if recipient is None:
        return UNKNOWN_COUNTRY
    digits = str(recipient)
    for length in (1, 2, 3):
        regions = _regions(int(digits[:length]))
        if not regions:
            continue
        if len(regions) == 1:
            return regions[0] if regions[0] != "001" else "international"
        try:
            found = phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits))
        except phonenumbers.NumberParseException:
            found = None
        return str(found or regions[0])
    return UNKNOWN_COUNTRY


def figures(path: Path, campaign: str, run_id: str | None = None) -> Figures:
    """Read the figures of `campaign` from its journal at `path` (one run's, with `run_id`)."""
    with closing(open_journal(path, campaign)) as db:
        known = db.run_ids()
        if not known:
            raise ReportError(
                f"campaign {campaign!r} has a journal at {path} but no run yet: run it first"
            )
        if run_id is not None and run_id not in known:
            raise ReportError(
                f"campaign {campaign!r} has no run {run_id!r}; its runs: " + ", ".join(known)
            )
        return _figures(db, campaign, run_id)


def _figures(db: JournalReader, campaign: str, run_id: str | None) -> Figures:
    with db.snapshot():
        return _read_figures(db, campaign, run_id)


def _read_figures(db: JournalReader, campaign: str, run_id: str | None) -> Figures:
    statuses = _statuses(db, run_id)
    errors = [
        ErrorLine(str(code), REPORT_STATUS.get(status, status), int(n), text)
        for code, status, n, text in db.error_counts(run_id)
    ]
    total = CostLine("total")
    labels: dict[str, CostLine] = {}
    countries: dict[str, CostLine] = {}
    days: dict[str, CostLine] = {}
    runs: dict[str, CostLine] = {}
    channels: dict[str, CostLine] = {}
    delivered = read = failed = expired = 0
    for label, country, day, run, price_text, state, channel, n in db.sent_groups(run_id):
        price = read_amount(price_text)
        total.add(n, price)
        for table, key in (
            (labels, label or "(no label)"),
            (countries, country),
            (days, day or "(unknown)"),
            (runs, run or "(unknown)"),
            (channels, channel),
        ):
            table.setdefault(key, CostLine(key)).add(n, price)
        if state in DELIVERED:
            delivered += n
            read += n if state == "READ" else 0
        elif state in UNDELIVERED:
            failed += n
        elif state in EXPIRED:
            expired += n
    run_lines = _runs(db, run_id)
    timeline, bucket = _timeline(db, run_id)
    first = run_lines[0] if run_lines else None
    last = next((r for r in reversed(run_lines) if r.balance_after is not None), None)
    currency = next((r.currency for r in reversed(run_lines) if r.currency), None) or "EUR"
    finished = [r for r in run_lines if r.send_seconds is not None]
    send_seconds = sum(r.send_seconds or 0.0 for r in finished) if finished else None
    requests = sum(r.requests or 0 for r in finished)
    average = total.average
    notes = []
    if total.unpriced:
        notes.append(
            f"{total.unpriced} sent messages have no price from the gateway yet (seven settles "
            "some RCS prices later): the cost shown leaves them out"
        )
    if first is not None and first.balance_before_estimated:
        notes.append(
            "balance before is estimated: the run's balance after plus its cost "
            "(its summary holds no balance before)"
        )
    unfinished = [r.run_id for r in run_lines if not r.finished]
    if unfinished:
        notes.append("runs without a summary (still going, or killed): " + ", ".join(unfinished))
    return Figures(
        campaign=campaign,
        run_id=run_id,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        currency=currency,
        simulated=any(r.simulated for r in run_lines),
        statuses=statuses,
        errors=errors,
        funnel=Funnel(total.sent, delivered, read, failed, expired),
        total=total,
        by_label=sorted(labels.values(), key=lambda c: (-c.cost, c.key)),
        by_country=sorted(countries.values(), key=lambda c: (-c.cost, -c.sent, c.key)),
        by_day=sorted(days.values(), key=lambda c: c.key),
        by_run=sorted(runs.values(), key=lambda c: c.key),
        by_channel=sorted(channels.values(), key=lambda c: c.key),
        runs=run_lines,
        timeline=timeline,
        timeline_bucket_seconds=bucket,
        balance_before=first.balance_before if first else None,
        balance_before_estimated=bool(first and first.balance_before_estimated),
        balance_after=last.balance_after if last else None,
        estimated_unpriced_cost=six_places(average * total.unpriced)
        if average is not None and total.unpriced
        else None,
        send_seconds=None if send_seconds is None else round(send_seconds, 3),
        duration_seconds=round(sum(r.duration_seconds or 0.0 for r in run_lines), 3)
        if any(r.duration_seconds is not None for r in run_lines)
        else None,
        messages_per_second=round(requests / send_seconds, 1) if send_seconds else None,
        notes=notes,
    )


def _statuses(db: JournalReader, run_id: str | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status, n in db.status_counts(run_id):
        name = REPORT_STATUS.get(status, status)
        counts[name] = counts.get(name, 0) + int(n)
    known = [s for s in ORDER if counts.get(s)]
    return {s: counts[s] for s in known + sorted(s for s in counts if s not in ORDER)}


def _runs(db: JournalReader, run_id: str | None) -> list[RunLine]:
    lines = []
    for rid, started, finished, exit_code, text in db.runs(run_id):
        try:
            summary: dict[str, Any] = json.loads(text) if text else {}
        except ValueError:
            summary = {}
        this_run = summary.get("this_run") or {}
        cost = read_amount(this_run.get("cost"))
        after = read_amount(summary.get("balance_after"))
        before = read_amount(summary.get("balance_before"))
        estimated = False
        counts = summary.get("counts") or {}
        if (
            before is None
            and after is not None
            and cost is not None
            and summary.get("cost_complete", False)
            and not counts.get("unknown")
        ):
            # Only when every message of the run is priced and none is a lost answer: either
            # was charged, but is not in the run's cost.
            before, estimated = after + cost, True
        lines.append(
            RunLine(
                run_id=rid,
                started_at=_utc(started),
                finished_at=None if finished is None else _utc(finished),
                exit_code=exit_code,
                sent=this_run.get("sent"),
                cost=cost,
                balance_before=before,
                balance_before_estimated=estimated,
                balance_after=after,
                currency=summary.get("currency"),
                duration_seconds=summary.get("duration_seconds"),
                send_seconds=summary.get("send_seconds"),
                messages_per_second=summary.get("messages_per_second"),
                requests=summary.get("requests_accepted"),
                stopped_by_gateway=summary.get("stopped_by_gateway"),
                simulated=bool(summary.get("simulated", False)),
            )
        )
    return lines


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=0)


def _timeline(db: JournalReader, run_id: str | None) -> tuple[list[TimePoint], int]:
    """Cumulative sent / delivered / failed / expired messages over time, in even buckets."""
    start, end = db.sent_span(run_id)
    if start is None or end is None:
        return [], _BUCKETS[0]
    span = max(end - start, 0.0)
    bucket = next((b for b in _BUCKETS if span / b <= TIMELINE_POINTS), _BUCKETS[-1])
    origin = int(start // bucket) * bucket
    counts: dict[int, list[int]] = {}
    for slot, n in db.sent_by_slot(run_id, origin, bucket):
        counts.setdefault(slot, [0, 0, 0, 0])[0] += n
    kinds = ((DELIVERED, 1), (UNDELIVERED, 2), (EXPIRED, 3))
    for states, column in kinds:
        for slot, n in db.reported_by_slot(run_id, origin, bucket, states):
            counts.setdefault(max(slot, 0), [0, 0, 0, 0])[column] += n
    points = [TimePoint(_utc(origin), 0, 0, 0, 0)]
    running = [0, 0, 0, 0]
    last = max(counts)
    for slot in range(last + 1):
        step = counts.get(slot)
        running = [a + b for a, b in zip(running, step or [0, 0, 0, 0], strict=True)]
        at = _utc(origin + (slot + 1) * bucket)
        points.append(TimePoint(at, *running))
    return points, bucket


RECIPIENT_COLUMNS = (
    "row",
    "recipient",
    "country",
    "status",
    "message_id",
    "price",
    "price_status",
    "label",
    "foreign_id",
    "error_code",
    "error_text",
    "attempts",
    "sent_at",
    "delivery_status",
    "delivered_at",
    "run_id",
    "input_phone",
)


def recipient_rows(
    path: Path, campaign: str, run_id: str | None = None, *, batch: int = 10_000
) -> Iterator[list[dict[str, Any]]]:
    """The per-recipient rows of the report in batches (file order), as results.csv has them
    plus `country`: read from the journal as they go, so memory stays flat."""
    with closing(open_journal(path, campaign)) as db:
        cursor = db.result_rows(run_id)
        while chunk := cursor.fetchmany(batch):
            for table in journal_batches(chunk, size=batch):
                yield _with_country(table)


def _with_country(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    for r in rows:
        r["country"] = region(r["recipient"]) if r["recipient"] else None
        if r["price"] is not None:
            r["price"] = Decimal(plain(r["price"]))  # 0.0475, not Arrow's 18 places
    return [{c: r[c] for c in RECIPIENT_COLUMNS} for r in rows]
