"""A campaign report as an Excel workbook: a Summary sheet and the per-recipient rows.

Written with xlsxwriter in constant-memory mode: each row goes to disk as it is written, and the
per-recipient rows stream from the journal, so a campaign of millions needs no more memory than
one of thousands. A sheet holds at most 1,048,576 rows (Excel's limit, the header included);
beyond that the rows go on in sheets "Recipients 2", "Recipients 3", …, each with its header.

Excel keeps numbers as binary floating point (15 significant digits): prices and costs are written
as numbers, so they sum, and are off by far less than a cent; the exact decimals are in the JSON
and CSV reports. Times are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from rcsbatch.reports.figures import RECIPIENT_COLUMNS, CostLine, Figures

MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
_WIDTHS = {
    "recipient": 16,
    "message_id": 14,
    "error_text": 40,
    "sent_at": 20,
    "delivered_at": 20,
    "run_id": 20,
    "label": 16,
    "foreign_id": 14,
    "delivery_status": 14,
    "input_phone": 16,
}


class _Styles:
    def __init__(self, book: xlsxwriter.Workbook, currency: str) -> None:
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.head = book.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1})
        self.bold = book.add_format({"bold": True})
        self.money = book.add_format({"num_format": f'#,##0.00 "{currency}"'})
        self.price = book.add_format({"num_format": "0.0000####"})
        self.count = book.add_format({"num_format": "#,##0"})
        self.time = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.note = book.add_format({"italic": True, "font_color": "#8A5A00"})


def write_xlsx(f: Figures, rows: Iterable[list[dict[str, Any]]], path: Path) -> dict[str, int]:
    """Write the workbook to `path`; returns how many recipient rows each sheet holds."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
    styles = _Styles(book, f.currency)
    try:
        _summary(book.add_worksheet("Summary"), f, styles)
        return _recipients(book, rows, styles)
    finally:
        book.close()


class _Writer:
    """Writes a Summary sheet top to bottom (constant-memory mode needs rows in order)."""

    def __init__(self, sheet: Worksheet, styles: _Styles) -> None:
        self.sheet = sheet
        self.styles = styles
        self.row = 0

    def line(self, *cells: Any, fmt: Format | None = None, formats: Iterable[Any] = ()) -> None:
        given = list(formats)
        for col, value in enumerate(cells):
            style = given[col] if col < len(given) and given[col] is not None else fmt
            if value is None:
                continue
            if isinstance(value, Decimal):
                value = float(value)
            self.sheet.write(self.row, col, value, style)
        self.row += 1

    def gap(self) -> None:
        self.row += 1


def _summary(sheet: Worksheet, f: Figures, s: _Styles) -> None:
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 6, 16)
    w = _Writer(sheet, s)
    sim = " (simulated)" if f.simulated else ""
    w.line(f"Campaign {f.campaign}: {f.scope}{sim}", fmt=s.title)
    w.line("generated (UTC)", f.generated_at.replace(tzinfo=None), formats=[None, s.time])
    w.gap()
    total = f.total
    w.line("messages sent", total.sent, formats=[s.bold, s.count])
    w.line("total cost", total.cost, formats=[s.bold, s.money])
    w.line("average price per message", total.average, formats=[s.bold, s.price])
    w.line("sent without a price (not in the cost)", total.unpriced, formats=[s.bold, s.count])
    if f.estimated_unpriced_cost is not None:
        w.line(
            "their cost, estimated at the average price",
            f.estimated_unpriced_cost,
            formats=[s.bold, s.money],
        )
    w.line(
        "balance before" + (" (estimated)" if f.balance_before_estimated else ""),
        f.balance_before,
        formats=[s.bold, s.money],
    )
    w.line("balance after", f.balance_after, formats=[s.bold, s.money])
    w.line("sending time (s)", f.send_seconds, fmt=s.bold)
    w.line("send rate (messages/s)", f.messages_per_second, fmt=s.bold)
    w.gap()
    w.line("status", "rows", fmt=s.head)
    for status, n in f.statuses.items():
        w.line(status, n, formats=[None, s.count])
    w.gap()
    fu = f.funnel
    w.line("delivery", "messages", fmt=s.head)
    for stage, n in fu.stages():
        w.line(stage, n, formats=[None, s.count])
    if f.errors:
        w.gap()
        w.line("gateway error code", "status", "rows", "gateway's text", fmt=s.head)
        for e in f.errors:
            w.line(e.code, e.status, e.count, e.text, formats=[None, None, s.count])
    for name, lines in (
        ("label", f.by_label),
        ("country", f.by_country),
        ("day (UTC)", f.by_day),
        ("run", f.by_run),
        ("channel", f.by_channel),
    ):
        w.gap()
        _cost_table(w, name, lines)
    w.gap()
    w.line(
        "run",
        "exit code",
        "sent",
        "cost",
        "balance before",
        "balance after",
        "duration (s)",
        "messages/s",
        "stopped by gateway",
        fmt=s.head,
    )
    for r in f.runs:
        w.line(
            r.run_id,
            r.exit_code,
            r.sent,
            f.run_cost(r.run_id).cost,
            r.balance_before,
            r.balance_after,
            r.duration_seconds,
            r.messages_per_second,
            r.stopped_by_gateway,
            formats=[None, None, s.count, s.money, s.money, s.money],
        )
    for note in f.notes:
        w.line("note: " + note, fmt=s.note)


def _cost_table(w: _Writer, name: str, lines: list[CostLine]) -> None:
    s = w.styles
    w.line(f"cost per {name}", "sent", "priced", "unpriced", "cost", "average price", fmt=s.head)
    for c in lines:
        w.line(
            c.key,
            c.sent,
            c.priced,
            c.unpriced,
            c.cost,
            c.average,
            formats=[None, s.count, s.count, s.count, s.money, s.price],
        )


def _recipients(
    book: xlsxwriter.Workbook, batches: Iterable[list[dict[str, Any]]], s: _Styles
) -> dict[str, int]:
    counts: dict[str, int] = {}
    sheet: Worksheet | None = None
    name = ""
    row = 0
    times = {"sent_at", "delivered_at"}
    for batch in batches:
        for item in batch:
            if sheet is None or row >= MAX_ROWS:
                if sheet is not None:
                    _finish(sheet, row)
                name = "Recipients" if not counts else f"Recipients {len(counts) + 1}"
                sheet, row = _new_sheet(book, name, s), 1
                counts[name] = 0
            for col, column in enumerate(RECIPIENT_COLUMNS):
                value = item[column]
                if value is None:
                    continue
                if column in times:
                    sheet.write_datetime(row, col, _naive(value), s.time)
                elif column == "price":
                    sheet.write_number(row, col, float(value), s.price)
                elif isinstance(value, int) and not isinstance(value, bool):
                    sheet.write_number(row, col, value)
                else:
                    sheet.write_string(row, col, str(value))
            row += 1
            counts[name] += 1
    if sheet is None:
        sheet, row = _new_sheet(book, "Recipients", s), 1
        counts["Recipients"] = 0
    _finish(sheet, row)
    return counts


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _new_sheet(book: xlsxwriter.Workbook, name: str, s: _Styles) -> Worksheet:
    sheet = book.add_worksheet(name)
    for col, column in enumerate(RECIPIENT_COLUMNS):
        header = column + (" (UTC)" if column in ("sent_at", "delivered_at") else "")
        sheet.write_string(0, col, header, s.head)
        sheet.set_column(col, col, _WIDTHS.get(column, 10))
    sheet.freeze_panes(1, 0)
    return sheet


def _finish(sheet: Worksheet, rows: int) -> None:
    sheet.autofilter(0, 0, max(rows - 1, 0), len(RECIPIENT_COLUMNS) - 1)
