"""Result files: CSV and Parquet with the schema, formula-safe CSV, exact prices, counts."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rcsbatch.reports.outcome import Report
from rcsbatch.reports.results import (
    PRICE,
    SCHEMA,
    STALE_AFTER,
    ResultsWriter,
    RunFolder,
    clean_temp_folders,
    journal_batches,
    plan_table,
    reserve_run_folder,
    write_summary,
)
from rcsbatch.state.journal import RESULT_COLUMNS, Journal, Outcome

RUN = "20260301T120000Z"
SENT_AT = 1_772_366_400.0  # 2026-03-01 12:00:00 UTC


def tup(**values: Any) -> tuple[Any, ...]:
    """One journal result tuple (RESULT_COLUMNS); unnamed columns are None / defaults."""
    base: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
    base.update(attempts=0)
    base.update(values)
    return tuple(base[c] for c in RESULT_COLUMNS)


def write(
    folder: Path,
    rows: Sequence[tuple[Any, ...]],
    *,
    report: Report | None = None,
    size: int = 50_000,
) -> Report:
    report = report or Report()
    writer = ResultsWriter(folder, report)
    try:
        for table in journal_batches(rows, size=size):
            writer.write(table)
    finally:
        writer.close()
    return report


def read_csv(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = [
    tup(
        row=1,
        recipient=4917610000001,
        status="sent",
        message_ids="m1 m2",
        price="0.0475",
        price_known=1,
        foreign_id="c-1",
        label="spring",
        attempts=1,
        sent_at=SENT_AT,
        run_id=RUN,
    ),
    tup(
        row=2,
        recipient=None,
        status="invalid",
        error_text="not a phone number",
        input_phone='=HYPERLINK("http://x")',
    ),
    tup(
        row=3,
        recipient=4917610000003,
        status="failed",
        error_code="202",
        error_text="Recipient number invalid",
        attempts=1,
        run_id=RUN,
        foreign_id="c-3",
    ),
    tup(
        row=4,
        recipient=4917610000004,
        status="sent",
        message_ids="m4",
        price=None,
        price_known=0,
        attempts=2,
        sent_at=SENT_AT + 1,
        run_id=RUN,
    ),
    tup(row=5, recipient=4917610000005, status="in_flight", attempts=1, run_id=RUN),
    tup(row=6, recipient=4917610000006, status="pending"),
    tup(
        row=None,
        recipient=4917610000007,
        status="sent",
        message_ids="m7",
        price="0.0475",
        price_known=1,
        attempts=1,
        sent_at=SENT_AT,
        run_id="older",
    ),
]


def test_both_files_carry_the_schema(tmp_path: Path) -> None:
    """results.parquet has exactly SCHEMA; results.csv has its columns in the same order."""
    write(tmp_path, ROWS)
    stored = pq.read_schema(tmp_path / "results.parquet")
    assert stored.names == SCHEMA.names
    for field in SCHEMA:
        if field.name in ("sent_at", "delivered_at"):  # Parquet has no seconds: milliseconds
            assert pa.types.is_timestamp(stored.field(field.name).type)
            assert stored.field(field.name).type.tz == "UTC"
        else:
            assert stored.field(field.name).type == field.type, field.name
    with (tmp_path / "results.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == SCHEMA.names
    for column in (
        "row",
        "recipient",
        "status",
        "message_id",
        "price",
        "foreign_id",
        "error_code",
        "error_text",
        "attempts",
        "sent_at",
    ):
        assert column in SCHEMA.names


def test_rows_keep_their_values_and_journal_states_are_named(tmp_path: Path) -> None:
    """Rows come out in order with their values; pending → not_sent, in_flight → unknown."""
    write(tmp_path, ROWS)
    table = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert [r["status"] for r in table] == [
        "sent",
        "invalid",
        "failed",
        "sent",
        "unknown",
        "not_sent",
        "sent",
    ]
    first = table[0]
    assert first["row"] == 1
    assert first["recipient"] == "4917610000001"
    assert first["message_id"] == "m1 m2"
    assert first["price_status"] == "known"
    assert first["sent_at"] == dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert table[1]["recipient"] is None
    assert table[3]["price_status"] == "unknown"
    assert table[2]["price_status"] is None
    assert table[6]["row"] is None


def test_parquet_price_is_an_exact_decimal(tmp_path: Path) -> None:
    """The Parquet price column is a decimal type and reads back exactly, not as a float."""
    write(
        tmp_path,
        [
            tup(row=1, recipient=1, status="sent", price="0.0475", price_known=1),
            tup(row=2, recipient=2, status="sent", price="0.1", price_known=1),
            tup(row=3, recipient=3, status="sent", price="0.2", price_known=1),
        ],
    )
    table = pq.read_table(tmp_path / "results.parquet")
    assert table.schema.field("price").type == PRICE
    prices = table["price"].to_pylist()
    assert all(isinstance(p, Decimal) for p in prices)
    assert prices == [Decimal("0.0475"), Decimal("0.1"), Decimal("0.2")]
    assert sum(prices, Decimal(0)) == Decimal("0.3475")


def test_csv_price_is_exact_text(tmp_path: Path) -> None:
    """The CSV price reads back as the exact decimal (no binary-float digits)."""
    write(tmp_path, [tup(row=1, recipient=1, status="sent", price="0.1", price_known=1)])
    (row,) = read_csv(tmp_path)
    assert Decimal(row["price"]) == Decimal("0.1")


@pytest.mark.parametrize(
    "column", ["foreign_id", "label", "error_text", "input_phone", "message_id"]
)
@pytest.mark.parametrize("value", ["=1+2", "+49 176 1234", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_cells_are_neutralised_in_csv(tmp_path: Path, column: str, value: str) -> None:
    """A text cell starting with = + - @ (or tab / CR) gets a leading ' in the CSV."""
    key = "message_ids" if column == "message_id" else column
    write(tmp_path, [tup(row=1, recipient=4917610000001, status="failed", **{key: value})])
    (row,) = read_csv(tmp_path)
    assert row[column] == "'" + value


def test_formula_cells_are_untouched_in_parquet(tmp_path: Path) -> None:
    """Parquet is data, not a spreadsheet: text keeps its exact value there."""
    write(tmp_path, [tup(row=1, status="invalid", input_phone="=1+2", error_text="-x")])
    (row,) = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert (row["input_phone"], row["error_text"]) == ("=1+2", "-x")


@pytest.mark.parametrize("value", ["spring", "a=b", "c-1", "x@y", "", " =1"])
def test_safe_text_is_untouched(tmp_path: Path, value: str) -> None:
    """Text that does not start with a formula character is written as is."""
    write(tmp_path, [tup(row=1, recipient=4917610000001, status="sent", label=value)])
    (row,) = read_csv(tmp_path)
    assert row["label"] == value


def test_numbers_and_recipients_are_untouched(tmp_path: Path) -> None:
    """Numeric columns, recipients and error codes are written as they are, never prefixed."""
    write(
        tmp_path,
        [
            tup(
                row=7,
                recipient=4917610000001,
                status="failed",
                error_code="202",
                attempts=3,
                price=None,
            )
        ],
    )
    (row,) = read_csv(tmp_path)
    assert (row["row"], row["recipient"], row["error_code"], row["attempts"]) == (
        "7",
        "4917610000001",
        "202",
        "3",
    )


def test_counts_and_cost_go_into_the_report(tmp_path: Path) -> None:
    """Writing counts each report status and sums the known prices of sent rows exactly."""
    report = write(tmp_path, ROWS, size=2)
    assert dict(report.counts) == {
        "sent": 3,
        "invalid": 1,
        "failed": 1,
        "unknown": 1,
        "not_sent": 1,
    }
    assert report.cost == Decimal("0.095")
    assert report.price_unknown == 1
    assert not report.cost_complete
    assert report.exit_code == 1


def test_cost_counts_only_sent_rows(tmp_path: Path) -> None:
    """A price on a row that is not sent (e.g. unknown) does not count into the cost; with an
    unknown row (maybe charged) the cost is not complete."""
    report = write(
        tmp_path,
        [
            tup(row=1, recipient=1, status="sent", price="0.05", price_known=1),
            tup(row=2, recipient=2, status="unknown", price="0.05"),
        ],
    )
    assert report.cost == Decimal("0.05")
    assert not report.cost_complete


def test_many_batches_sum_exactly(tmp_path: Path) -> None:
    """Prices summed over many batches stay exact: 1000 times 0.0475 is 47.5."""
    rows = [
        tup(row=i, recipient=i, status="sent", price="0.0475", price_known=1)
        for i in range(1, 1001)
    ]
    report = write(tmp_path, rows, size=7)
    assert report.cost == Decimal("47.5")
    assert report.counts["sent"] == 1000
    assert pq.read_metadata(tmp_path / "results.parquet").num_rows == 1000
    assert len(read_csv(tmp_path)) == 1000


def test_no_rows_writes_header_only_files(tmp_path: Path) -> None:
    """With no rows, both files still exist with the schema and the report counts nothing."""
    report = write(tmp_path, [])
    assert pq.read_table(tmp_path / "results.parquet").num_rows == 0
    assert read_csv(tmp_path) == []
    assert report.rows == 0


def test_journal_rows_round_trip_through_the_files(tmp_path: Path) -> None:
    """Rows from a real journal land in the files with exact price and readable times."""
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin_load()
        journal.add_rows([(4917610000001, 1, "Hi", "spring", "c-1")])
        journal.add_rejects([(2, None, "invalid", "too short", "+12")])
        journal.end_load()
        journal.take_batch(RUN, 1)
        journal.record(
            RUN,
            [
                Outcome(
                    4917610000001,
                    "sent",
                    1,
                    SENT_AT,
                    SENT_AT,
                    message_ids=("m1",),
                    price=Decimal("0.0475"),
                )
            ],
        )
        folder = tmp_path / "out"
        folder.mkdir()
        report = write(folder, list(journal.result_rows()))
    rows = read_csv(folder)
    assert (rows[0]["row"], rows[0]["status"]) == ("1", "sent")
    assert Decimal(rows[0]["price"]) == Decimal("0.0475")
    # Entirely a number: no formula, so no `'` (which would make Excel take it for text).
    assert rows[1]["input_phone"] == "+12"
    assert report.cost == Decimal("0.0475")


def test_plan_table_for_a_dry_run(tmp_path: Path) -> None:
    """A dry run's checked chunk becomes SCHEMA rows: recipients as text, 0 and NaN as null."""
    chunk = pd.DataFrame(
        {
            "recipient": [4917610000001, 0, 4917610000001, 0],
            "status": ["ready", "invalid", "duplicate", "invalid"],
            "reason": pd.Series(
                [None, "not a phone number", "same recipient as row 1", "empty"],
                dtype="str",
                index=[1, 2, 3, 4],
            ),
            "text": ["Hi", "", "", ""],
            "label": ["spring", "x", "x", "x"],
            "foreign_id": ["=c-1", "x", "x", "x"],
            # pandas reads an empty phone cell as NaN in a str column
            "input_phone": pd.Series(
                ["+49 176 10000001", "@home", "0176 10000001", None],
                dtype="str",
                index=[1, 2, 3, 4],
            ),
        },
        index=pd.Index([1, 2, 3, 4]),
    )
    table = plan_table(chunk)
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    assert [r["row"] for r in rows] == [1, 2, 3, 4]
    assert [r["recipient"] for r in rows] == ["4917610000001", None, "4917610000001", None]
    assert [r["foreign_id"] for r in rows] == ["=c-1", None, None, None]
    assert rows[0]["error_text"] is None
    assert rows[3]["input_phone"] is None
    report = Report(dry_run=True)
    writer = ResultsWriter(tmp_path, report)
    writer.write(table)
    writer.close()
    csv_rows = read_csv(tmp_path)
    assert csv_rows[0]["foreign_id"] == "'=c-1"
    assert csv_rows[1]["input_phone"] == "'@home"
    assert csv_rows[2]["input_phone"] == "0176 10000001"
    assert csv_rows[3]["input_phone"] == ""
    assert dict(report.counts) == {"ready": 1, "invalid": 2, "duplicate": 1}
    assert report.exit_code == 1


def test_summary_is_written_whole(tmp_path: Path) -> None:
    """write_summary writes readable JSON and leaves no temporary file."""
    report = Report()
    report.add({"sent": 1}, Decimal("0.0475"), 0)
    path = write_summary(tmp_path, report.summary())
    assert json.loads(path.read_text(encoding="utf-8"))["total_cost"] == "0.0475"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_run_folders_sort_by_time_and_never_collide(tmp_path: Path) -> None:
    """Run ids are UTC timestamps; runs in the same second get distinct ids, whether the first
    one is still being written (hidden) or already in place."""
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    with reserve_run_folder(tmp_path, "spring", now=now) as first:
        second = reserve_run_folder(tmp_path, "spring", now=now)
        dry = reserve_run_folder(tmp_path, "spring", now=now, dry_run=True)
        assert first.run_id == "20260301T120000Z"
        assert second.run_id == "20260301T120000Z-1"
        assert dry.run_id == "20260301T120000Z-dry-run"
        assert first.path.parent == tmp_path / "spring"
        assert first.temp == tmp_path / "spring" / ".20260301T120000Z.tmp"
        assert not first.path.exists() and first.temp.is_dir()
        assert first.commit() == tmp_path / "spring" / "20260301T120000Z"
    second.discard()
    dry.discard()
    # The id of a run folder in place is never chosen again, that of a discarded one may be
    # unless `used` says a run had it.
    third = reserve_run_folder(tmp_path, "spring", now=now)
    assert third.run_id == "20260301T120000Z-1"
    third.discard()
    fourth = reserve_run_folder(
        tmp_path, "spring", now=now, used={"20260301T120000Z-1"}.__contains__
    )
    assert fourth.run_id == "20260301T120000Z-2"
    fourth.discard()
    assert [p.name for p in (tmp_path / "spring").iterdir()] == ["20260301T120000Z"]


def written(target: RunFolder, *, csv: str = "a\n", summary: str = "{}") -> None:
    """Stand-ins for the three files a run writes into its temporary folder."""
    (target.temp / "results.csv").write_text(csv, encoding="utf-8")
    (target.temp / "results.parquet").write_bytes(b"PAR1")
    (target.temp / "summary.json").write_text(summary, encoding="utf-8")


def test_a_run_folder_appears_only_when_committed_and_then_whole(tmp_path: Path) -> None:
    """Files go into the hidden temporary folder; commit fsyncs them and renames the folder into
    place, so the run folder is absent until it holds all three files."""
    with reserve_run_folder(tmp_path, "spring") as target:
        written(target)
        assert [p.name for p in (tmp_path / "spring").iterdir()] == [target.temp.name]
        assert target.temp.name.startswith(".")
        folder = target.commit()
    assert sorted(p.name for p in folder.iterdir()) == [
        "results.csv",
        "results.parquet",
        "summary.json",
    ]
    assert [p.name for p in (tmp_path / "spring").iterdir()] == [folder.name]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_run_folder_left_uncommitted_leaves_nothing(tmp_path: Path, error: BaseException) -> None:
    """A full disk or Ctrl-C while the files are written removes the temporary folder."""
    with pytest.raises(type(error)), reserve_run_folder(tmp_path, "spring") as target:
        (target.temp / "results.csv").write_text("header\n", encoding="utf-8")
        raise error
    assert list((tmp_path / "spring").iterdir()) == []


def test_a_failed_fsync_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit whose fsync fails (EIO, a full disk) puts nothing in place."""

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with reserve_run_folder(tmp_path, "spring") as target:
        written(target)
        monkeypatch.setattr("rcsbatch.reports.results.os.fsync", broken)
        with pytest.raises(OSError, match="Input/output"):
            target.commit()
    assert list((tmp_path / "spring").iterdir()) == []


def age(path: Path, seconds: float) -> None:
    """Make `path` look last written `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_temporary_folders_of_dead_runs_are_cleaned_up_and_live_ones_kept(tmp_path: Path) -> None:
    """The next reservation removes a dead run's temporary folder older than STALE_AFTER; a
    younger one, one whose writer is alive (holds its lock), and hidden folders not named like
    a run's stay."""
    parent = tmp_path / "spring"
    parent.mkdir()
    dead = parent / ".20260301T120000Z.tmp"
    dead.mkdir()
    (dead / "results.csv").write_text("row\n", encoding="utf-8")
    age(dead, STALE_AFTER + 60)
    young = parent / ".20260301T130000Z-dry-run.tmp"
    young.mkdir()
    other = parent / ".cache.tmp"
    other.mkdir()
    age(other, STALE_AFTER + 60)
    live = reserve_run_folder(tmp_path, "spring")
    age(live.temp, STALE_AFTER + 60)
    try:
        following = reserve_run_folder(tmp_path, "spring")
        following.discard()
        assert not dead.exists()
        assert young.is_dir() and other.is_dir() and live.temp.is_dir()
    finally:
        live.discard()


def test_a_backup_left_by_a_killed_swap_is_put_back(tmp_path: Path) -> None:
    """A run folder that a killed rewrite had renamed to its backup, and not yet replaced, is
    put back in place; a backup whose folder is in place is removed."""
    parent = tmp_path / "spring"
    parent.mkdir()
    backup = parent / ".20260301T120000Z.old.tmp"
    backup.mkdir()
    (backup / "summary.json").write_text("{}", encoding="utf-8")
    (parent / ".20260301T120000Z.rewrite.tmp").mkdir()
    age(parent / ".20260301T120000Z.rewrite.tmp", STALE_AFTER + 60)
    (parent / "20260302T120000Z").mkdir()
    (parent / ".20260302T120000Z.old.tmp").mkdir()
    clean_temp_folders(parent)
    assert sorted(p.name for p in parent.iterdir()) == ["20260301T120000Z", "20260302T120000Z"]
    assert (parent / "20260301T120000Z" / "summary.json").exists()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_a_rewrite_swaps_the_whole_folder_and_keeps_other_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    """RunFolder.replacing: the new results files and summary replace the old ones in one swap;
    files and folders a user put in the run folder are carried across; nothing hidden is left."""
    if not exchange:
        monkeypatch.setattr("rcsbatch.reports.results._exchange", lambda a, b: False)
    with reserve_run_folder(tmp_path, "spring") as target:
        written(target, csv="old\n", summary='{"old": true}')
        folder = target.commit()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    (folder / "charts").mkdir()
    (folder / "charts" / "a.png").write_bytes(b"png")
    (folder / "latest").symlink_to("notes.txt")
    with RunFolder.replacing(folder) as target:
        assert target.path == folder and target.temp.name.startswith(".")
        written(target, csv="new\n", summary='{"new": true}')
        assert target.commit() == folder
    assert (folder / "results.csv").read_text(encoding="utf-8") == "new\n"
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8")) == {"new": True}
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (folder / "charts" / "a.png").read_bytes() == b"png"
    assert os.readlink(folder / "latest") == "notes.txt"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_a_rewrite_that_fails_leaves_the_old_folder_whole(tmp_path: Path) -> None:
    """A rewrite stopped before its commit (a full disk) leaves the old folder as it was."""
    with reserve_run_folder(tmp_path, "spring") as target:
        written(target, csv="old\n")
        folder = target.commit()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OSError), RunFolder.replacing(folder) as rewrite:
        (rewrite.temp / "results.csv").write_text("new\n", encoding="utf-8")
        raise OSError(28, "No space left on device")
    assert (folder / "results.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in folder.iterdir()) == [
        "notes.txt",
        "results.csv",
        "results.parquet",
        "summary.json",
    ]
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_price_with_many_decimal_places_is_written_not_crashed(tmp_path: Path) -> None:
    """A price printed as a full float (17 decimals) is kept exactly in both files."""
    report = write(
        tmp_path,
        [
            tup(
                row=1,
                recipient=4917612345678,
                status="sent",
                price="0.07500000000000001",
                price_known=1,
            )
        ],
    )
    assert report.cost == Decimal("0.07500000000000001")
    assert read_csv(tmp_path)[0]["price"] == "0.07500000000000001"
    assert pq.read_table(tmp_path / "results.parquet")["price"][0].as_py() == Decimal(
        "0.07500000000000001"
    )


def test_every_text_column_follows_the_formula_rule(tmp_path: Path) -> None:
    """results.csv: a label -lbl, +x, =1+1, @a, tab, CR get a `'`; numbers stay as they are."""
    from test_csvfile import CELLS

    rows = [
        tup(row=i, recipient=4917610000000 + i, status="invalid", label=cell, input_phone=cell)
        for i, (cell, _) in enumerate(CELLS, 1)
    ]
    write(tmp_path, rows)
    got = [(r["label"], r["input_phone"]) for r in read_csv(tmp_path)]
    assert got == [(w, w) for _, w in CELLS]


@pytest.mark.parametrize("name", ["standard", "excel"])
def test_csv_dialect_sets_bom_separator_and_decimal_mark(tmp_path: Path, name: str) -> None:
    """excel: BOM, `;` and a decimal comma in prices; standard: none of them."""
    from rcsbatch.reports.csvfile import dialect

    writer = ResultsWriter(tmp_path, Report(), dialect(name))
    try:
        writer.write(journal_batches([ROWS[0]], size=10).__next__())
    finally:
        writer.close()
    data = (tmp_path / "results.csv").read_bytes()
    text = data.decode("utf-8-sig")
    if name == "excel":
        assert data.startswith(b"\xef\xbb\xbf")
        assert text.startswith('"row";"recipient"') and ";0,0475;" in text
    else:
        assert not data.startswith(b"\xef\xbb\xbf")
        assert text.startswith('"row","recipient"') and ",0.0475," in text
