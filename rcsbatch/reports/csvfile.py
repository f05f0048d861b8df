"""CSV files as rcsbatch writes them: one rule for cells a spreadsheet would run, two dialects.

Every CSV the tool writes (a run's results.csv, test-send results, event results, `report
--format csv`) goes through this module, so a cell is treated the same in each:

- A text cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, so a
  spreadsheet shows it instead of running it as a formula, unless the cell is entirely a number
  (`+4917612345678`, `-0.05`, `0.0475`): a number is no formula, and a `'` would make it text.
- `standard` (the default): UTF-8 without BOM, `,` between cells, `.` in decimals.
  `excel`: UTF-8 with a BOM, `;` between cells, `,` in prices, as Excel opens a double-clicked
  file in locales that write decimal commas (German, French, …). Never chosen from the machine's
  locale: the same command writes the same bytes everywhere.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc

from rcsbatch.state import privacy

# What a spreadsheet takes for the start of a formula: such text cells get a leading `'`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A cell that is entirely a number is left alone. [0-9], not \d: Python's \d takes any Unicode
# digit and Arrow's (RE2) only ASCII ones, and both must decide alike.
NUMBER = r"[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)([eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER)
_FORMULA_STARTS = pa.array(FORMULA_STARTS)
_DECIMAL = re.compile(r"[+-]?[0-9]+\.[0-9]+")


@dataclass(frozen=True)
class Dialect:
    """How a CSV file is written: its encoding (with a BOM or not), separator and decimal mark."""

    name: str
    delimiter: str
    decimal: str
    bom: bool

    @property
    def encoding(self) -> str:
        return "utf-8-sig" if self.bom else "utf-8"

    def number(self, text: str) -> str:
        """`text` with this dialect's decimal mark when it is a decimal number, else as it is."""
        if self.decimal != "." and _DECIMAL.fullmatch(text):
            return text.replace(".", self.decimal)
        return text

    def open(self, path: Path) -> TextIO:
        """`path` opened for writing CSV in this dialect (a BOM first, for excel), private
        (state/privacy.py): a CSV rcsbatch writes holds numbers."""
        return privacy.open_text(path, self.encoding)

    def writer(self, handle: IO[str]) -> Any:
        """A `csv.writer` on `handle` with this dialect's separator and CRLF line ends."""
        # CRLF as RFC 4180 has it, and because Python's csv quotes a cell only for the characters
        # of its line end: with "\n" alone a carriage return in a cell would split the row.
        return csv.writer(handle, delimiter=self.delimiter, lineterminator="\r\n")


STANDARD = Dialect("standard", delimiter=",", decimal=".", bom=False)
EXCEL = Dialect("excel", delimiter=";", decimal=",", bom=True)
DIALECTS = {d.name: d for d in (STANDARD, EXCEL)}


def dialect(name: str) -> Dialect:
    """The dialect called `name` (`standard` or `excel`); ValueError for any other."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown CSV dialect {name!r} (known: standard, excel)") from None


def safe_cell(value: object) -> object:
    """A text cell safe to open in a spreadsheet (one that would start a formula gets a `'`,
    unless it is entirely a number); other values as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """`safe_cell` for a whole Arrow string column at once (results.csv is written by column)."""
    if column.null_count == len(column):
        return column
    first = pc.utf8_slice_codeunits(column, 0, 1)
    risky = pc.fill_null(pc.is_in(first, value_set=_FORMULA_STARTS), False)
    if not pc.any(risky).as_py():
        return column
    number = pc.fill_null(pc.match_substring_regex(column, f"^(?:{NUMBER})$"), False)
    risky = pc.and_(risky, pc.invert(number))
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
