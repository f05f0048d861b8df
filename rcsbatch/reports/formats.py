"""`rcsbatch report`: read a campaign's figures from its journal and write them in one format.

table, csv and json go to stdout unless a path is given; xlsx and html are files, written by
default into the campaign's report folder as `report.xlsx` / `report.html` (`report-<run id>.…`
for one run). A path of `-` is stdout for every format, xlsx and html too (their bytes, for a
pipe), as is usual for command-line tools.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from rich.console import Console

from rcsbatch.errors import ReportError
from rcsbatch.reports.csvfile import STANDARD, Dialect
from rcsbatch.reports.data import write_csv, write_json
from rcsbatch.reports.figures import Figures, figures, recipient_rows
from rcsbatch.reports.html import write_html
from rcsbatch.reports.table import print_table
from rcsbatch.reports.xlsx import write_xlsx
from rcsbatch.state import privacy

FORMATS = ("table", "csv", "json", "xlsx", "html")
FILE_FORMATS = ("xlsx", "html")
STDOUT = "-"  # as `-o`: stdout, for every format


def default_path(folder: Path, fmt: str, run_id: str | None) -> Path:
    """Where an xlsx or html report goes without -o: the campaign's report folder."""
    return folder / (f"report-{run_id}.{fmt}" if run_id else f"report.{fmt}")


def write_report(
    journal: Path,
    campaign: str,
    fmt: str,
    *,
    run_id: str | None = None,
    output: Path | None = None,
    stdout: TextIO | None = None,
    folder: Path | None = None,
    dialect: Dialect = STANDARD,
) -> Path | None:
    """Write the report of `campaign` (every run, or `run_id`) as `fmt`; returns the file
    written, or None when it went to `stdout`. An `output` of `-` is stdout for every format
    (xlsx and html as their bytes). `dialect` is the CSV's (reports/csvfile.py). ReportError when
    there is nothing to report."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    found = figures(journal, campaign, run_id)
    out = stdout or sys.stdout
    if output is not None and str(output) == STDOUT:
        if fmt in FILE_FORMATS:
            _copy_file(journal, campaign, run_id, fmt, found, out)
        else:
            _write_text(found, fmt, out, file=False, dialect=dialect)
        return None
    if output is None and fmt in FILE_FORMATS:
        output = default_path(folder or journal.parent, fmt, run_id)
    if output is not None:
        output = output.expanduser()
        try:
            privacy.make_folder(output.parent)
        except OSError as exc:
            raise ReportError(f"cannot create {output.parent} ({exc.strerror})") from None
    if output is None:
        _write_text(found, fmt, out, file=False, dialect=dialect)
        return None
    temp = output.with_name(output.name + ".tmp")
    try:
        # xlsx and html writers take a path: the file is made private first, they keep its mode.
        _write_file(journal, campaign, run_id, fmt, found, privacy.prepare(temp), dialect)
        os.replace(temp, output)  # a reader never sees half a report
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {output} ({exc.strerror or exc})") from None
    return output


def _write_file(
    journal: Path,
    campaign: str,
    run_id: str | None,
    fmt: str,
    found: Figures,
    path: Path,
    dialect: Dialect,
) -> None:
    if fmt == "xlsx":
        write_xlsx(found, recipient_rows(journal, campaign, run_id), path)
    elif fmt == "html":
        write_html(found, path)
    else:
        encoding = dialect.encoding if fmt == "csv" else "utf-8"
        with privacy.open_text(path, encoding) as out:
            _write_text(found, fmt, out, file=True, dialect=dialect)


def _copy_file(
    journal: Path, campaign: str, run_id: str | None, fmt: str, found: Figures, out: TextIO
) -> None:
    """Write an xlsx or html report to a temporary file (their writers want a path), then its
    bytes to `out`, for `-o -`."""
    with tempfile.TemporaryDirectory(prefix="rcsbatch-report-") as folder:
        path = Path(folder) / f"report.{fmt}"
        try:
            _write_file(journal, campaign, run_id, fmt, found, path, STANDARD)
        except OSError as exc:
            raise ReportError(f"cannot write the report ({exc.strerror or exc})") from None
        out.flush()
        with path.open("rb") as source:
            shutil.copyfileobj(source, out.buffer)
        out.buffer.flush()


def _write_text(
    found: Figures, fmt: str, out: TextIO, *, file: bool, dialect: Dialect = STANDARD
) -> None:
    if fmt == "csv":
        if dialect.bom and not file:
            out.write("\ufeff")  # a file opened in the dialect writes its BOM itself
        write_csv(found, out, dialect)
    elif fmt == "json":
        write_json(found, out)
    else:
        console = Console(file=out, width=120 if file else None, no_color=file, highlight=False)
        print_table(found, console)
