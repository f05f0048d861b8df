"""Result files: `results.csv`, `results.parquet` and `summary.json` in a run's own folder.

Rows are written in batches as they are read (from the journal, or from the checks of a dry run),
so a campaign of millions never sits in memory. CSV cells that a spreadsheet would take for a
formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) are written with a leading `'`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rcsbatch.errors import ReportError
from rcsbatch.report import CHARGED, REPORT_STATUS, Report

# 18 decimal places hold any price a gateway writes, even a float printed in full
# (0.07500000000000001); a price with more is rounded to 18 places in the files only.
PRICE = pa.decimal128(38, 18)
_PRICE_STEP = Decimal(1).scaleb(-18)
SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("recipient", pa.string()),
        ("status", pa.string()),
        ("message_id", pa.string()),
        ("price", PRICE),
        ("price_status", pa.string()),
        ("foreign_id", pa.string()),
        ("label", pa.string()),
        ("error_code", pa.string()),
        ("error_text", pa.string()),
        ("attempts", pa.int32()),
        ("sent_at", pa.timestamp("s", tz="UTC")),
        ("run_id", pa.string()),
        ("input_phone", pa.string()),
        # Sent by an earlier run, and the file's text for this recipient now differs: not re-sent.
        ("text_changed", pa.bool_()),
        # seven's delivery state (DELIVERED, READ, NOTDELIVERED, …) and its time, from webhooks
        # or `rcsbatch sync`; empty until a report came.
        ("delivery_status", pa.string()),
        ("delivered_at", pa.timestamp("s", tz="UTC")),
        # For sent rows, how rcsbatch sent it: rcs, or fallback (it lacked a capability
        # [send] require names, and [message] fallback let seven deliver it another way).
        ("channel", pa.string()),
    ]
)
REPEATING = [
    "status",
    "price_status",
    "label",
    "error_code",
    "run_id",
    "delivery_status",
    "channel",
]
TEXT_COLUMNS = ("message_id", "foreign_id", "label", "error_text", "input_phone")
# What a spreadsheet takes for the start of a formula: such text cells get a leading `'`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_STARTS = pa.array(FORMULA_STARTS)


def safe_cell(value: object) -> object:
    """A text cell safe to open in a spreadsheet (one that would start a formula gets a `'`);
    other values as they are. For CSV files written row by row (results.csv does it by column)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def new_run_folder(
    root: Path, campaign: str, *, dry_run: bool = False, now: dt.datetime | None = None
) -> tuple[str, Path]:
    """Create `root/campaign/<run id>/`; the run id is a UTC timestamp that sorts by time."""
    moment = now or dt.datetime.now(dt.UTC)
    base = moment.strftime("%Y%m%dT%H%M%SZ") + ("-dry-run" if dry_run else "")
    parent = root / campaign
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1000):
            run_id = base if n == 0 else f"{base}-{n}"
            try:
                (parent / run_id).mkdir()
            except FileExistsError:
                continue
            return run_id, parent / run_id
    except OSError as exc:
        raise ReportError(
            f"cannot create a run folder in {parent} ({exc.strerror}); "
            "choose another report folder with --report-dir"
        ) from None
    raise RuntimeError("too many runs in the same second")  # pragma: no cover


def journal_batches(rows: Iterable[Sequence[Any]], size: int = 10_000) -> Iterator[pa.Table]:
    """Turn the journal's result tuples (journal.RESULT_COLUMNS) into SCHEMA tables.

    Small enough that `ResultsWriter` writes one table while the next is built: a 50,000-row
    report took 0.27 s in tables of 10,000 rows, 0.37-0.40 s in one table (bench/ journal).
    """
    batch: list[Sequence[Any]] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield _journal_table(batch)
            batch = []
    if batch:
        yield _journal_table(batch)


def _journal_table(batch: list[Sequence[Any]]) -> pa.Table:
    (
        row,
        recipient,
        status,
        ids,
        price,
        known,
        foreign_id,
        label,
        code,
        text,
        attempts,
        sent_at,
        run_id,
        raw,
        changed,
        held,
        delivery,
        delivered_at,
        channel,
    ) = zip(*batch, strict=True)
    text = tuple(
        _held_text(h) if h is not None and s in ("pending", "not_sent") else t
        for t, s, h in zip(text, status, held, strict=True)
    )
    statuses = [REPORT_STATUS.get(s, s) for s in status]
    price_status = [
        None if s not in CHARGED else ("known" if k else "unknown")
        for s, k in zip(statuses, known, strict=True)
    ]
    return pa.table(
        {
            "row": pa.array(row, pa.int64()),
            "recipient": pa.array([None if r is None else str(r) for r in recipient], pa.string()),
            "status": pa.array(statuses, pa.string()),
            "message_id": pa.array(ids, pa.string()),
            "price": pa.array([None if p is None else _price(p) for p in price], PRICE),
            "price_status": pa.array(price_status, pa.string()),
            "foreign_id": pa.array(foreign_id, pa.string()),
            "label": pa.array(label, pa.string()),
            "error_code": pa.array(code, pa.string()),
            "error_text": pa.array(text, pa.string()),
            "attempts": pa.array(attempts, pa.int32()),
            "sent_at": _seconds(sent_at),
            "run_id": pa.array(run_id, pa.string()),
            "input_phone": pa.array(raw, pa.string()),
            "text_changed": pa.array([bool(c) for c in changed], pa.bool_()),
            "delivery_status": pa.array(delivery, pa.string()),
            "delivered_at": _seconds(delivered_at),
            "channel": pa.array(channel, pa.string()),
        },
        schema=SCHEMA,
    )


def _seconds(values: Sequence[float | None]) -> pa.Array:
    return pa.array([None if t is None else int(t) for t in values], pa.int64()).cast(
        pa.timestamp("s", tz="UTC")
    )


def _held_text(until: float) -> str:
    moment = dt.datetime.fromtimestamp(until, dt.UTC).isoformat(timespec="minutes")
    return f"outside its sending window until {moment}"


def _price(text: str) -> Decimal:
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        value = value.quantize(_PRICE_STEP)
    return value


def plan_table(chunk: pd.DataFrame) -> pa.Table:
    """A dry run's checked chunk (prepare.COLUMNS) as a SCHEMA table."""
    n = len(chunk)
    recipient = chunk["recipient"].to_numpy()
    none = pa.nulls(n, pa.string())
    ready = (chunk["status"] == "ready").to_numpy()
    return pa.table(
        {
            "row": pa.array(chunk.index.to_numpy(), pa.int64()),
            "recipient": pc.if_else(
                pa.array(recipient != 0), pa.array(recipient).cast(pa.string()), none
            ),
            "status": pc.cast(pa.array(chunk["status"]), pa.string()),
            "message_id": none,
            "price": pa.nulls(n, PRICE),
            "price_status": none,
            "foreign_id": _where(ready, chunk["foreign_id"]),
            "label": _where(ready, chunk["label"]),
            "error_code": none,
            "error_text": _text(chunk["reason"]),
            "attempts": pa.array(np.zeros(n, np.int32)),
            "sent_at": pa.nulls(n, pa.timestamp("s", tz="UTC")),
            "run_id": none,
            "input_phone": _where(~ready, chunk["input_phone"]),
            "text_changed": pa.array(np.zeros(n, bool)),
            "delivery_status": none,
            "delivered_at": pa.nulls(n, pa.timestamp("s", tz="UTC")),
            "channel": none,
        },
        schema=SCHEMA,
    )


def _text(column: pd.Series) -> pa.Array:
    # pandas' str columns hold a missing cell (an empty phone cell, a row without a reason) as
    # NaN, a float: from_pandas makes it null instead of failing the whole dry run. Arrow-backed
    # columns convert without passing through Python objects.
    return pc.cast(pa.array(column, from_pandas=True), pa.string())


def _where(mask: Any, column: pd.Series) -> pa.Array:
    values = _text(column)
    return pc.if_else(pa.array(mask), values, pa.nulls(len(values), pa.string()))


class ResultsWriter:
    """Writes SCHEMA tables to `results.csv` and `results.parquet`, counting them into a Report.

    The files are written on a thread of their own (Arrow's writers release the GIL), at most two
    tables behind, so the next chunk is checked while the last one is written. `close` waits.
    """

    def __init__(self, folder: Path, report: Report) -> None:
        self.folder = folder
        self.report = report
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rcsbatch-results")
        self._pending: deque[Future[None]] = deque()
        self._csv_path = folder / "results.csv"
        self._parquet_path = folder / "results.parquet"
        self._csv = pacsv.CSVWriter(self._csv_path, SCHEMA)
        # Dictionary-encode only the columns with few distinct values: trying it on ids and
        # numbers (distinct per row) costs time and makes the file larger.
        self._parquet = pq.ParquetWriter(self._parquet_path, SCHEMA, use_dictionary=REPEATING)

    def write(self, table: pa.Table) -> None:
        counts = pc.value_counts(table["status"]).to_pylist()
        sent = pc.is_in(table["status"], value_set=pa.array(CHARGED))
        cost = pc.sum(pc.filter(table["price"], sent)).as_py() or Decimal(0)
        unknown = pc.sum(pc.and_(sent, pc.is_null(table["price"]))).as_py() or 0
        mine = pc.and_(
            sent, pc.fill_null(pc.equal(table["run_id"], self.report.run_id or ""), False)
        )
        run_cost = pc.sum(pc.filter(table["price"], mine)).as_py() or Decimal(0)
        run_sent = pc.sum(mine).as_py() or 0
        self.report.text_changed += pc.sum(table["text_changed"]).as_py() or 0
        self.report.add(
            {c["values"]: c["counts"] for c in counts},
            Decimal(cost),
            int(unknown),
            int(run_sent),
            Decimal(run_cost),
        )
        for c in pc.value_counts(pc.filter(table["channel"], sent)).to_pylist():
            if c["values"] is not None:
                on = pc.and_(sent, pc.fill_null(pc.equal(table["channel"], c["values"]), False))
                spent = pc.sum(pc.filter(table["price"], on)).as_py() or Decimal(0)
                self.report.add_channel(c["values"], int(c["counts"]), Decimal(spent))
        while len(self._pending) >= 2:
            self._pending.popleft().result()
        self._pending.append(self._thread.submit(self._write_files, table))

    def _write_files(self, table: pa.Table) -> None:
        self._parquet.write_table(table)
        self._csv.write_table(_neutralise(table))

    def close(self) -> None:
        """Wait for every table to be written, then close both files."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._thread.shutdown(wait=True)
            self._csv.close()
            self._parquet.close()


def _neutralise(table: pa.Table) -> pa.Table:
    """Prepare a table for CSV: prices without trailing zeros, formula-like cells quoted."""
    price = pc.cast(table["price"], pa.string())
    price = pc.replace_substring_regex(price, r"(\.\d*?)0+$", r"\1")
    price = pc.replace_substring_regex(price, r"\.$", "")
    table = table.set_column(table.schema.get_field_index("price"), "price", price)
    for name in TEXT_COLUMNS:
        column = table[name]
        if column.null_count == len(column):
            continue
        first = pc.utf8_slice_codeunits(column, 0, 1)
        risky = pc.fill_null(pc.is_in(first, value_set=_FORMULA_STARTS), False)
        if not pc.any(risky).as_py():
            continue
        safe = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        table = table.set_column(table.schema.get_field_index(name), name, safe)
    return table


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """Write `summary.json` atomically (a reader never sees half a file)."""
    path = folder / "summary.json"
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return path
