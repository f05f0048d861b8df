"""Spreadsheet cells rendered as the sheet shows them: the cells table of
docs/campaign-file.md, format codes, locales."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles.numbers import BUILTIN_FORMATS

from rcsbatch.recipients import cellformat
from rcsbatch.recipients.read import open_recipients

# The table lives in the campaign file's page of the docs.
CELLS_PAGE = (Path(__file__).resolve().parent.parent / "docs" / "campaign-file.md").read_text()
ROW = re.compile(
    r"^\| (`(?P<code>[^`]*)`|built-in (?P<builtin>\d+)) \| (?P<cell>[^|]+) \| "
    r"(?P<locale>[\w-]+) \| `(?P<shown>[^`]*)` \|$",
    re.M,
)


def table_rows() -> list[tuple[str, Any, str, str]]:
    """(format code, cell value, locale, text) of each row of the cells table."""
    table = CELLS_PAGE.split("<!-- cells:", 1)[1].split("\n\n", 1)[0]
    rows = []
    for match in ROW.finditer(table):
        code = (
            match["code"] if match["code"] is not None else BUILTIN_FORMATS[int(match["builtin"])]
        )
        rows.append((code, cell_value(match["cell"].strip()), match["locale"], match["shown"]))
    return rows


def cell_value(text: str) -> Any:
    if text in ("TRUE", "FALSE"):
        return text == "TRUE"
    if text.startswith('"'):
        return text.strip('"')
    if re.fullmatch(r"\d{4}-\d\d-\d\d( \d\d:\d\d)?", text):
        return dt.datetime.fromisoformat(text)
    return float(text)


ROWS = table_rows()


def test_the_cells_table_has_its_rows() -> None:
    """The table parses, and holds the date the issue names under de and en-US."""
    assert len(ROWS) >= 20
    assert ("mm-dd-yy", dt.datetime(2024, 1, 5), "de-DE", "05.01.2024") in ROWS
    assert any(r[2] == "en-US" and r[3] == "05.01.2024" for r in ROWS)


@pytest.mark.parametrize(("code", "value", "locale", "shown"), ROWS)
def test_cells_render_as_the_table_says(
    tmp_path: Path, code: str, value: Any, locale: str, shown: str
) -> None:
    """A workbook cell with the row's value and format reads as the table's text."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "cell"])
    sheet.append(["0176 1", value])
    sheet["B2"].number_format = code
    path = tmp_path / "cells.xlsx"
    book.save(path)
    file = open_recipients(path, locale=locale)
    (frame,) = file.chunks(["cell"])
    assert frame["cell"].tolist() == [shown]


@pytest.mark.parametrize(
    ("region", "tag"), [("DE", "de-DE"), ("US", "en-US"), ("AT", "de-AT"), ("FR", "fr-FR")]
)
def test_locale_for_region(region: str, tag: str) -> None:
    """A region's default locale is CLDR's most likely language there."""
    assert cellformat.locale_for_region(region) == tag


def test_unknown_locale_is_an_error() -> None:
    """A locale CLDR does not know raises, for the campaign to refuse it."""
    with pytest.raises(cellformat.UnknownLocale):
        cellformat.cell_locale("xx-YY")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (4917612345678.0, "4917612345678"),
        (1e20, "100000000000000000000"),
        (-3.0, "-3"),
        (0.1 + 0.2, "0,3"),
        (1 / 3, "0,333333333333333"),
        (1e-7, "1E-07"),
    ],
)
def test_general(value: float, text: str) -> None:
    """General: whole numbers in all digits, others at 15 significant digits, shortest."""
    assert cellformat.general(value, ",") == text


@pytest.mark.parametrize(
    ("code", "value", "text"),
    [
        ("#,##0.00;[Red]-#,##0.00", -1234.5, "-1.234,50"),
        ('#,##0;(#,##0);"nil"', 0.0, "nil"),
        ("#,##0;(#,##0)", -5.0, "(5)"),
        ("0.00E+00", 12345.678, "1,23E+04"),
        ("# ?/?", 1.25, "1 1/4"),
        ("[h]:mm:ss", 1.5, "36:00:00"),
        ('#,##0,"k"', 123456.0, "123k"),
        ("0.0,", 1234567.0, "1234,6"),  # a comma after the decimals scales too
        ('#,##0.00,,"M"', 1234567890.0, "1.234,57M"),
        ('0.0,"k"', 1500.0, "1,5k"),
        ('[>=100]"many";"few"', 5.0, "few"),
        ("[$-F800]dddd, mmmm dd, yyyy", 45296.0, "Freitag, 5. Januar 2024"),
        ("yyyy-mm-dd hh:mm:ss", 45296.4375, "2024-01-05 10:30:00"),
        ("0.0", 2.25, "2,3"),  # half away from zero, as Excel rounds
    ],
)
def test_format_codes_in_german(code: str, value: float, text: str) -> None:
    """Sections, scientific, fractions, elapsed time, scaling, conditions, system dates."""
    assert cellformat.render(value, code, "de-DE") == text


@pytest.mark.parametrize("value", [1e308, -1e308, 2958466.0, -693594.0])
@pytest.mark.parametrize("code", ["dd.mm.yyyy", "[$-F800]dddd, mmmm dd, yyyy", "hh:mm:ss.000"])
def test_a_number_beyond_every_date_shows_as_general(code: str, value: float) -> None:
    """A date format on a number outside the years 1 to 9999 shows the number (it overflowed)."""
    assert cellformat.render(value, code, "en-US") == cellformat.general(value)
