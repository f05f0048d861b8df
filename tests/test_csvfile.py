"""CSV files: one formula rule for every writer (numbers left alone), two explicit dialects."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rcsbatch.reports import csvfile
from rcsbatch.reports.csvfile import EXCEL, STANDARD, safe_cell, safe_column

# (cell, as every CSV writer must write it); shared by the tests of each writer.
CELLS = [
    ("-lbl", "'-lbl"),
    ("+x", "'+x"),
    ("=1+1", "'=1+1"),
    ("@a", "'@a"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("-", "'-"),
    ("+4917612345678", "+4917612345678"),
    ("-0.05", "-0.05"),
    ("0.0475", "0.0475"),
    ("-0,05", "-0,05"),
    ("spring", "spring"),
    ("", ""),
]


@pytest.mark.parametrize(("cell", "written"), CELLS)
def test_safe_cell_quotes_formulas_but_not_numbers(cell: str, written: str) -> None:
    """A formula-like text cell gets a `'`; a cell that is entirely a number does not."""
    assert safe_cell(cell) == written


def test_safe_column_decides_as_safe_cell() -> None:
    """The Arrow form (results.csv) follows the very same rule, nulls kept null."""
    column = pa.array([c for c, _ in CELLS] + ["٣-x", None])
    expected = [w for _, w in CELLS] + ["٣-x", None]
    assert safe_column(column).to_pylist() == expected
    assert safe_column(pa.array([None, None], pa.string())).to_pylist() == [None, None]


def test_safe_cell_leaves_other_values_alone() -> None:
    """Numbers and None pass as they are."""
    assert safe_cell(-5) == -5 and safe_cell(None) is None


def test_dialects_are_explicit() -> None:
    """standard: UTF-8, `,`, `.`; excel: BOM, `;`, decimal comma; no other name."""
    assert (STANDARD.encoding, STANDARD.delimiter, STANDARD.number("0.0475")) == (
        "utf-8",
        ",",
        "0.0475",
    )
    assert (EXCEL.encoding, EXCEL.delimiter, EXCEL.number("-0.0475")) == (
        "utf-8-sig",
        ";",
        "-0,0475",
    )
    assert EXCEL.number("2026-03-01T12:00:00") == "2026-03-01T12:00:00"
    assert EXCEL.number("4917612345678") == "4917612345678"
    assert csvfile.dialect("excel") is EXCEL
    with pytest.raises(ValueError, match="standard, excel"):
        csvfile.dialect("german")
