"""Result files: `results.csv`, `results.parquet` and `summary.json` in a run's own folder,
which appears only once they are complete and on disk (`RunFolder`).

Rows are written in batches as they are read (from the journal, or from the checks of a dry run),
so a campaign of millions never sits in memory. results.csv follows reports/csvfile.py's rules:
cells a spreadsheet would take for a formula get a leading `'`, and the campaign's `csv_dialect`
says the separator, decimal mark and BOM.

Sync and revoke change what the journal knows after a run: `rewrite_latest` writes the newest
finished run's folder anew from the journal, swapped in whole.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rcsbatch.errors import ReportError
from rcsbatch.reports.csvfile import STANDARD, Dialect, safe_column
from rcsbatch.reports.money import stored_price
from rcsbatch.reports.outcome import CHARGED, REPORT_STATUS, Report
from rcsbatch.state import privacy

if TYPE_CHECKING:
    from rcsbatch.state.journal import Journal

# 18 decimal places hold any price a gateway writes, even a float printed in full
# (0.07500000000000001); a price with more is rounded to 18 places in the files only.
PRICE = pa.decimal128(38, 18)
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


# A run folder is written as `.<run id>.tmp`; a rewrite as `.<run id>.rewrite.tmp`, and where the
# folder cannot be swapped in one step, the old one waits as `.<run id>.old.tmp` (see `_swap`).
TEMP_SUFFIX = ".tmp"
_REWRITE = ".rewrite"
_BACKUP = ".old"
_TEMP_NAME = re.compile(r"\.(?P<run_id>\d{8}T\d{6}Z[\w-]*)(?P<kind>|\.rewrite|\.old)\.tmp")
# The reservation's mkdir and its flock are two steps: a younger temporary folder may be one
# whose lock is not taken yet, so only older ones are removed.
STALE_AFTER = 300.0
# What a rewrite writes anew; leftovers of older versions' rewrites are not carried over either.
RESULT_FILES = ("results.csv", "results.parquet", "summary.json")
_NOT_CARRIED = (*RESULT_FILES, "summary.json.tmp", ".rewrite")


def reserve_run_folder(
    root: Path,
    campaign: str,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    used: Callable[[str], bool] | None = None,
) -> RunFolder:
    """Choose the run id (a UTC timestamp that sorts by time) and reserve `root/campaign/<run id>/`,
    which appears only when `RunFolder.commit` puts it in place. `used` says which run ids are
    taken without a folder (the journal's, of runs that failed). Temporary folders that killed
    runs left in `root/campaign` are cleaned up first."""
    moment = now or dt.datetime.now(dt.UTC)
    base = moment.strftime("%Y%m%dT%H%M%SZ") + ("-dry-run" if dry_run else "")
    parent = root / campaign
    try:
        privacy.make_folder(parent)
        clean_temp_folders(parent)
        for n in range(1000):
            run_id = base if n == 0 else f"{base}-{n}"
            temp = parent / f".{run_id}{TEMP_SUFFIX}"
            try:
                temp.mkdir(mode=privacy.folder_mode())
            except FileExistsError:
                continue
            # The hidden name is the reservation (mkdir lets one process have it), and only its
            # holder renames it to `run_id`: a run id whose folder is there already is an
            # earlier run's, and one made after this check can only be ours.
            if os.path.lexists(parent / run_id) or (used is not None and used(run_id)):
                temp.rmdir()
                continue
            try:
                return RunFolder(parent / run_id, temp)
            except BaseException:
                temp.rmdir()
                raise
    except OSError as exc:
        raise ReportError(
            f"cannot create a run folder in {parent} ({exc.strerror}); "
            "choose another report folder",
            option="report_dir",
        ) from None
    raise RuntimeError("too many runs in the same second")  # pragma: no cover


class RunFolder:
    """A run folder that appears whole or not at all: files go into `temp`, a hidden folder beside
    `path`, and `commit` puts it in place.

    As a context manager, a folder not committed by the end of the block (an error, a full disk,
    Ctrl-C) is removed. While it is being written, `temp` is flock'ed (the lock dies with its
    process): `clean_temp_folders` removes only the temporary folders whose lock it can take.
    """

    def __init__(self, path: Path, temp: Path, *, replaces: bool = False) -> None:
        self.path = path
        self.temp = temp
        self.committed = False
        self._replaces = replaces
        self._fd: int | None = _lock(temp)

    @classmethod
    def replacing(cls, folder: Path) -> RunFolder:
        """A new version of the run folder `folder`, written beside it in `.<run id>.rewrite.tmp`;
        `commit` swaps it in, with every file of the old one other than the results files.
        One rewrite of a campaign at a time: callers hold its run lock."""
        clean_temp_folders(folder.parent)
        temp = folder.with_name(f".{folder.name}{_REWRITE}{TEMP_SUFFIX}")
        _clear(temp)
        temp.mkdir(mode=privacy.folder_mode())
        try:
            return cls(folder, temp, replaces=True)
        except BaseException:
            temp.rmdir()
            raise

    @property
    def run_id(self) -> str:
        return self.path.name

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.discard()

    def commit(self) -> Path:
        """Make every file durable (fsync'd, then the folder) and put the folder in place, then
        make that durable too (the parent fsync'd); returns `path`."""
        if self._replaces:
            _carry_over(self.path, self.temp)
        _sync_tree(self.temp)
        if self._replaces:
            _swap(self.temp, self.path)
        else:
            os.rename(self.temp, self.path)
        self.committed = True
        self._unlock()
        _sync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Remove the temporary folder and what was written into it."""
        shutil.rmtree(self.temp, ignore_errors=True)
        self._unlock()

    def _unlock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None


def clean_temp_folders(parent: Path) -> None:
    """Remove the temporary folders that killed runs and rewrites left in `parent` (a campaign's
    report folder): only those no live process holds. A killed swap's backup whose run folder is
    missing is put back in its place instead."""
    try:
        found = [m for m in map(_TEMP_NAME.fullmatch, os.listdir(parent)) if m is not None]
    except OSError:
        return
    # Backups first: one put back in place makes its run's other temporary folder removable.
    found.sort(key=lambda m: m["kind"] != _BACKUP)
    for match in found:
        backup = match["kind"] == _BACKUP
        path = parent / match[0]
        # A backup is made by renaming a folder whose lock is already held: no age needed.
        with _unheld(path, 0.0 if backup else STALE_AFTER) as free:
            if not free:
                continue
            final = parent / match["run_id"]
            if backup and not os.path.lexists(final):
                with contextlib.suppress(OSError):
                    os.rename(path, final)
            else:
                shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _unheld(path: Path, min_age: float) -> Iterator[bool]:
    """Whether `path` is a folder older than `min_age` seconds whose flock no process holds; the
    lock is kept (so no process takes the folder up) until the block ends."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield False
        return
    try:
        seen = os.fstat(fd)
        if time.time() - seen.st_mtime < min_age:
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # held by a live process, or the file system has no flock: keep it
            return
        try:
            now = os.stat(path, follow_symlinks=False)
        except OSError:
            yield False
            return
        # The name may have been renamed in place (committed) between the open and the lock.
        yield (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino)
    finally:
        os.close(fd)


def _lock(folder: Path) -> int | None:
    """Hold an flock on `folder` until the returned descriptor is closed; None where the file
    system has no flock (its temporary folders are then never cleaned up, only ignored)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        # Blocking: a clean-up holds it a moment only, and never on a folder this young.
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


def _clear(path: Path) -> None:
    """Remove `path`, a temporary folder a killed process left, unless a live one holds it."""
    if not os.path.lexists(path):
        return
    with _unheld(path, 0.0) as free:
        if not free:
            raise ReportError(f"{path} is being written by another process; try again later")
        shutil.rmtree(path)


def _carry_over(old: Path, new: Path) -> None:
    """Put every entry of folder `old` but the results files into `new`, as hard links where the
    file system allows (no data copied, and `old` stays whole until the swap)."""
    with os.scandir(old) as entries:
        for entry in entries:
            if entry.name in _NOT_CARRIED:
                continue
            target = new / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir():
                shutil.copytree(entry.path, target, symlinks=True, copy_function=_link_or_copy)
            else:
                _link_or_copy(entry.path, str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _sync_tree(folder: Path) -> None:
    """fsync every regular file and folder in `folder`, the folder last."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _sync_tree(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    _sync_dir(folder)


def _sync_dir(folder: Path) -> None:
    """fsync a folder, so the names made or renamed in it survive a crash."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (network ones) cannot fsync a folder; their names are as durable as
        # they make them.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _swap(new: Path, final: Path) -> None:
    """Put folder `new` in the place of folder `final` and remove the old one: a reader opening
    `final` finds the old folder or the new one, never a mix.

    On Linux both names are exchanged in one step (renameat2 RENAME_EXCHANGE). Elsewhere, or
    where the file system cannot, `final` is renamed to a backup and `new` to `final`: a reader
    may then, for that moment, find no folder at all, and a crash in it leaves the backup, which
    `clean_temp_folders` puts back. The old folder is never removed before the new one is in place.
    """
    if _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # now the old folder
        return
    backup = final.with_name(f".{final.name}{_BACKUP}{TEMP_SUFFIX}")
    _clear(backup)
    held = _lock(final)  # so no clean-up takes the backup for a killed swap's
    try:
        os.rename(final, backup)
        try:
            os.rename(new, final)
        except BaseException:
            os.rename(backup, final)
            raise
        shutil.rmtree(backup, ignore_errors=True)
    finally:
        if held is not None:
            os.close(held)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux renameat2); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False  # a C library without it (glibc < 2.28, some musl versions)
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # an old kernel, or a file system that cannot exchange
    raise OSError(code, os.strerror(code), str(a), None, str(b))


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
            "price": pa.array([None if p is None else stored_price(p) for p in price], PRICE),
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

    def __init__(self, folder: Path, report: Report, dialect: Dialect = STANDARD) -> None:
        self.folder = folder
        self.dialect = dialect
        self.report = report
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rcsbatch-results")
        self._pending: deque[Future[None]] = deque()
        self._csv_path = folder / "results.csv"
        self._parquet_path = folder / "results.parquet"
        # Arrow's own file, not Python's: writing it needs no GIL, so the next chunk is checked
        # meanwhile.
        self._csv_file = pa.OSFile(str(privacy.prepare(self._csv_path)), "wb")
        if dialect.bom:
            self._csv_file.write("\ufeff".encode())
        self._csv = pacsv.CSVWriter(
            self._csv_file, SCHEMA, write_options=pacsv.WriteOptions(delimiter=dialect.delimiter)
        )
        # Dictionary-encode only the columns with few distinct values: trying it on ids and
        # numbers (distinct per row) costs time and makes the file larger.
        self._parquet = pq.ParquetWriter(
            privacy.prepare(self._parquet_path), SCHEMA, use_dictionary=REPEATING
        )

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
        self._csv.write_table(_neutralise(table, self.dialect))

    def close(self) -> None:
        """Wait for every table to be written, then close both files."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._thread.shutdown(wait=True)
            try:
                self._csv.close()
            finally:
                self._csv_file.close()
            self._parquet.close()


def _neutralise(table: pa.Table, dialect: Dialect = STANDARD) -> pa.Table:
    """Prepare a table for CSV: prices without trailing zeros in the dialect's decimal mark,
    formula-like cells quoted."""
    price = pc.cast(table["price"], pa.string())
    price = pc.replace_substring_regex(price, r"(\.\d*?)0+$", r"\1")
    price = pc.replace_substring_regex(price, r"\.$", "")
    if dialect.decimal != ".":
        price = pc.replace_substring(price, ".", dialect.decimal)
    table = table.set_column(table.schema.get_field_index("price"), "price", price)
    for name in TEXT_COLUMNS:
        safe = safe_column(table[name])
        table = table.set_column(table.schema.get_field_index(name), name, safe)
    return table


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """Write `summary.json` atomically (a reader never sees half a file)."""
    path = folder / "summary.json"
    temp = path.with_suffix(".json.tmp")
    with privacy.open_text(temp) as out:
        out.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    os.replace(temp, path)
    return path


# -- rewriting a run's folder from the journal (sync, revoke) ---------------------------------


def rewrite_latest(
    journal: Journal, campaign_folder: Path, dialect: Dialect = STANDARD
) -> Path | None:
    """Rewrite the newest finished run's folder in `campaign_folder` (rewrite_results); returns
    it, or None when that run has no folder there (or there is no finished run)."""
    # First, so that a run folder a killed rewrite left as a backup is back in its place.
    clean_temp_folders(campaign_folder)
    run_id = journal.latest_run()
    if run_id is None or not (campaign_folder / run_id).is_dir():
        return None
    rewrite_results(journal, campaign_folder / run_id, run_id, dialect)
    return campaign_folder / run_id


# The summary's figures counted from the results rows. A rewrite counts them anew and keeps the
# rest as the run wrote it: timings, balances, why it stopped, and the exit code it returned.
COUNTED = (
    "rows",
    "counts",
    "total_cost",
    "this_run",
    "cost_complete",
    "sent_without_price",
    "text_changed",
    "channels",
)


def rewrite_results(
    journal: Journal, folder: Path, run_id: str, dialect: Dialect = STANDARD
) -> None:
    """Write a run folder anew from the journal: results.csv, results.parquet and summary.json
    (its figures in COUNTED counted anew), swapped in whole, so a reader sees the old folder or
    the new one, never half of either. Other files in the folder are kept. Callers hold the
    campaign's run lock."""
    report = Report(run_id=run_id)
    with RunFolder.replacing(folder) as target:
        writer = ResultsWriter(target.temp, report, dialect)
        try:
            for table in journal_batches(journal.result_rows()):
                writer.write(table)
        finally:
            writer.close()
        summary = _written_summary(folder, journal, run_id)
        fresh = report.summary()
        summary.update({key: fresh[key] for key in COUNTED})
        summary["rewritten_at"] = iso_seconds(time.time())
        write_summary(target.temp, summary)
        target.commit()


def _written_summary(folder: Path, journal: Journal, run_id: str) -> dict[str, Any]:
    """The run's summary as its folder has it, else as the journal has it, else a bare one."""
    texts = []
    with contextlib.suppress(OSError):
        texts.append((folder / "summary.json").read_text(encoding="utf-8"))
    texts.append(journal.run_summary(run_id) or "")
    for text in texts:
        try:
            summary = json.loads(text)
        except ValueError:
            continue
        if isinstance(summary, dict):
            return summary
    return {"run_id": run_id}


def iso_seconds(seconds: float) -> str:
    """A moment as a summary states it: UTC, to the second."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")
