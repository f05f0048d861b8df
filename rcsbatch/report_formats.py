"""`rcsbatch report`: read a campaign's figures from its journal and write them in one format.

table, csv and json go to stdout unless a path is given; xlsx and html are files, written by
default into the campaign's report folder as `report.xlsx` / `report.html` (`report-<run id>.…`
for one run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from rich.console import Console

from rcsbatch.errors import ReportError
from rcsbatch.report_data import write_csv, write_json
from rcsbatch.report_html import write_html
from rcsbatch.report_table import print_table
from rcsbatch.report_xlsx import write_xlsx
from rcsbatch.reporting import Figures, figures, recipient_rows

FORMATS = ("table", "csv", "json", "xlsx", "html")
FILE_FORMATS = ("xlsx", "html")


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
    stdout: IO[str] | None = None,
    folder: Path | None = None,
) -> Path | None:
    """Write the report of `campaign` (every run, or `run_id`) as `fmt`; returns the file
    written, or None when it went to `stdout`. ReportError when there is nothing to report."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    found = figures(journal, campaign, run_id)
    if output is None and fmt in FILE_FORMATS:
        output = default_path(folder or journal.parent, fmt, run_id)
    if output is not None:
        output = output.expanduser()
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReportError(f"cannot create {output.parent} ({exc.strerror})") from None
    if output is None:
        _write_text(found, fmt, stdout or sys.stdout, file=False)
        return None
    temp = output.with_name(output.name + ".tmp")
    try:
        if fmt == "xlsx":
            write_xlsx(found, recipient_rows(journal, campaign, run_id), temp)
        elif fmt == "html":
            write_html(found, temp)
        else:
            with temp.open("w", encoding="utf-8", newline="") as out:
                _write_text(found, fmt, out, file=True)
        os.replace(temp, output)  # a reader never sees half a report
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {output} ({exc.strerror or exc})") from None
    return output


def _write_text(found: Figures, fmt: str, out: IO[str], *, file: bool) -> None:
    if fmt == "csv":
        write_csv(found, out)
    elif fmt == "json":
        write_json(found, out)
    else:
        console = Console(file=out, width=120 if file else None, no_color=file, highlight=False)
        print_table(found, console)
