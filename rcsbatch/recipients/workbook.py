"""xlsx sheets as rows of text: values from python-calamine, number formats from the styles.

calamine reads values fast but not the format a cell shows them in. The formats come from the
workbook's own parts: `styles.xml` maps a cell's style index to its format code, and one streamed
pass over the sheet's XML (only when some style has a format other than General) collects the
style index of each cell in the wanted columns. A cell then renders through `cellformat` in the
campaign's locale.

Blank rows (every cell empty) are skipped wherever they are; the first row that is not blank is
the header; rows keep the numbers the sheet shows (the header's row is its own number, often 1).
Error cells (`#N/A`) and formulas without a cached value are empty; a formula's cached value is
its value.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

import numpy as np

from rcsbatch.recipients import cellformat
from rcsbatch.recipients.cellformat import CellLocale, Renderer

Value = Any  # what calamine yields: str, float, int, bool, date, datetime, time, timedelta
_REF = re.compile(r"([A-Za-z]+)(\d+)")
_DATE_1904_SHIFT = 1462.0  # days from 1900-01-01 to 1904-01-01 in Excel's counting


@dataclass(frozen=True)
class Styles:
    """The format code of each cell style index, and the workbook's date system."""

    codes: tuple[str, ...]  # by style index; "General" where none
    date1904: bool = False

    def formatted(self) -> set[int]:
        """Style indexes whose format is not General (nor text, which changes no number)."""
        return {i for i, code in enumerate(self.codes) if code.lower() not in ("general", "@")}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: ElementTree.Element | None, name: str) -> list[ElementTree.Element]:
    if element is None:
        return []
    return [child for child in element if _local(child.tag) == name]


def _find(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next(iter(_children(element, name)), None)


def _attr(element: ElementTree.Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (`r:id` is namespaced)."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _rels(book: zipfile.ZipFile, part: str) -> dict[str, str]:
    """The relationships of `part` by id, as paths inside the archive."""
    folder, name = posixpath.split(part)
    path = posixpath.join(folder, "_rels", f"{name}.rels")
    if path not in book.namelist():
        return {}
    root = ElementTree.fromstring(book.read(path))
    found = {}
    for rel in root:
        target = rel.get("Target", "")
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        found[rel.get("Id", "")] = posixpath.normpath(resolved)
    return found


def _workbook_part(book: zipfile.ZipFile) -> str:
    for rel in ElementTree.fromstring(book.read("_rels/.rels")):
        if rel.get("Type", "").endswith("/officeDocument"):
            return rel.get("Target", "xl/workbook.xml").lstrip("/")
    return "xl/workbook.xml"


def read_layout(path: Path, sheet_name: str) -> tuple[str | None, Styles]:
    """The archive path of the sheet named `sheet_name`, and the workbook's styles.

    A workbook that is not a plain xlsx archive yields (None, General everywhere): its cells
    render by the General rule.
    """
    try:
        with zipfile.ZipFile(path) as book:
            part = _workbook_part(book)
            workbook = ElementTree.fromstring(book.read(part))
            rels = _rels(book, part)
            properties = _find(workbook, "workbookPr")
            date1904 = properties is not None and properties.get("date1904") in ("1", "true")
            sheet_part = None
            for sheet in _children(_find(workbook, "sheets"), "sheet"):
                if sheet.get("name") == sheet_name:
                    sheet_part = rels.get(_attr(sheet, "id") or "")
            styles_part = next(
                (p for p in rels.values() if posixpath.basename(p) == "styles.xml"), None
            )
            codes: tuple[str, ...] = ("General",)
            if styles_part is not None and styles_part in book.namelist():
                codes = _style_codes(ElementTree.fromstring(book.read(styles_part)))
            return sheet_part, Styles(codes, date1904)
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError):
        return None, Styles(("General",))


def _style_codes(styles: ElementTree.Element) -> tuple[str, ...]:
    custom = {
        int(f.get("numFmtId", "-1")): f.get("formatCode", "General")
        for f in _children(_find(styles, "numFmts"), "numFmt")
    }
    codes = []
    for xf in _children(_find(styles, "cellXfs"), "xf"):
        number = int(xf.get("numFmtId", "0"))
        codes.append(custom.get(number) or cellformat.BUILTIN_FORMATS.get(number, f"#{number}"))
    return tuple(codes) or ("General",)


def _column_number(letters: str) -> int:
    """0-based column of `A`, `B`, …, `AA`."""
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number - 1


def cell_styles(
    path: Path, part: str, columns: Iterable[int], formatted: set[int]
) -> dict[int, np.ndarray]:
    """For each of `columns` (0-based) holding a formatted cell: style index by sheet row (0-based).

    One streamed pass; only cells whose style is in `formatted` are kept.
    """
    wanted = set(columns)
    found = _scan_styles(path, part, wanted, formatted)
    if found is None:
        found = _parse_styles(path, part, wanted, formatted)
    out = {}
    for col, (rows, styles) in found.items():
        if rows:
            dense = np.zeros(max(rows) + 1, np.int32)
            dense[np.asarray(rows)] = np.asarray(styles, np.int32)
            out[col] = dense
    return out


_BLOCK = 1 << 20


def _scan_styles(
    path: Path, part: str, wanted: set[int], formatted: set[int]
) -> dict[int, tuple[list[int], list[int]]] | None:
    """`cell_styles` by a regular expression over the XML as Excel, LibreOffice, openpyxl and
    xlsxwriter write it (`<c r="B2" s="3" …>`), several times as fast as an XML parser.
    None when the sheet is written otherwise (prefixed tags, a cell without `r` first)."""
    letters = {column_letters(c).encode(): c for c in wanted}
    # Only cells of the wanted columns with a formatted style match at all.
    pattern = re.compile(
        rb'<c r="('
        + b"|".join(sorted(letters))
        + rb')(\d+)"[^>]*? s="('
        + b"|".join(str(s).encode() for s in sorted(formatted))
        + rb')"'
    )
    parts: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {c: ([], []) for c in wanted}
    plain = False
    with zipfile.ZipFile(path) as book, book.open(part) as stream:
        rest = b""
        while True:
            block = stream.read(_BLOCK)
            data = rest + block
            cut = data.rfind(b"<") if block else len(data)
            data, rest = data[:cut], data[cut:]
            plain = plain or b"<sheetData" in data
            if data.count(b"<c ") != data.count(b'<c r="') or b"<c>" in data:
                return None
            hits = pattern.findall(data)
            if hits:
                cols, rows, styles = (np.array(x) for x in zip(*hits, strict=True))
                for letter, col in letters.items():
                    here = cols == letter
                    if here.any():
                        parts[col][0].append(rows[here].astype(np.int64) - 1)
                        parts[col][1].append(styles[here].astype(np.int32))
            if not block:
                break
    if not plain:
        return None
    return {
        c: (np.concatenate(r).tolist() if r else [], np.concatenate(s).tolist() if s else [])
        for c, (r, s) in parts.items()
    }


def column_letters(index: int) -> str:
    """`A` for 0, `AA` for 26: the name Excel shows above a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _parse_styles(
    path: Path, part: str, wanted: set[int], formatted: set[int]
) -> dict[int, tuple[list[int], list[int]]]:
    """`cell_styles` through an XML parser: any prefix, attribute order, or missing `r`."""
    collect = _StylePass(wanted, formatted)
    parser = expat.ParserCreate()
    parser.StartElementHandler = collect.start
    with zipfile.ZipFile(path) as book, book.open(part) as stream:
        parser.ParseFile(stream)
    return collect.found


class _StylePass:
    """The expat handler of `cell_styles`: where each formatted cell of a wanted column is."""

    def __init__(self, wanted: set[int], formatted: set[int]) -> None:
        self.wanted = wanted
        self.formatted = formatted
        self.found: dict[int, tuple[list[int], list[int]]] = {c: ([], []) for c in wanted}
        self.row = -1
        self.col = -1  # of the cell before, when it had no `r`
        self.ref = ""  # of the cell before, when it had one

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "c":
            ref = attrs.get("r")
            style = attrs.get("s")
            if ref is not None:
                self.ref = ref
                if style is None or int(style) not in self.formatted:
                    return
                match = _REF.fullmatch(ref)
                if match is None:
                    return
                row, col = int(match.group(2)) - 1, _column_number(match.group(1))
            else:  # a writer may leave out `r`: the cell follows the one before it
                before = _REF.fullmatch(self.ref) if self.ref else None
                col = (_column_number(before.group(1)) if before else self.col) + 1
                row, self.ref, self.col = self.row, "", col
                if style is None or int(style) not in self.formatted:
                    return
            if col in self.wanted:
                rows, styles = self.found[col]
                rows.append(row)
                styles.append(int(style))
        elif local == "row":
            ref = attrs.get("r")
            self.row = int(ref) - 1 if ref else self.row + 1
            self.col, self.ref = -1, ""


class CellText:
    """Renders one column's cells: by their style's format in a locale, or raw."""

    def __init__(self, styles: Styles, loc: CellLocale, raw: bool) -> None:
        self.locale = loc
        self.raw = raw
        self.date1904 = styles.date1904
        self.renderers: list[Renderer | None] = [
            None if raw or code.lower() in ("general", "@") else self._renderer(code, loc)
            for code in styles.codes
        ]

    @staticmethod
    def _renderer(code: str, loc: CellLocale) -> Renderer:
        if code.startswith("#") and code[1:].isdigit():  # a built-in number the file names
            code = cellformat.builtin_format(int(code[1:]), loc)
        return cellformat.renderer(code, loc.tag)

    def column(self, values: list[Value], styles: np.ndarray | None) -> list[str]:
        """The texts of `values`, each with the style index at the same place in `styles`."""
        cell = self.cell
        if styles is None:
            return [v if type(v) is str else cell(v, None) for v in values]
        renderers = [*self.renderers, None]
        last = len(renderers) - 1
        out = []
        for value, style in zip(values, styles.tolist(), strict=True):
            if type(value) is str:
                out.append(value)
                continue
            renderer = renderers[min(style, last)]
            if type(value) is float and renderer is not None and not self.date1904:
                out.append(renderer.render(value))  # the common case, straight
            else:
                out.append(cell(value, renderer))
        return out

    def cell(self, value: Value, renderer: Renderer | None) -> str:
        kind = type(value)
        if kind is str:
            return value  # type: ignore[no-any-return]
        if kind is float or kind is int:
            if renderer is None:
                return cellformat.general(value, "." if self.raw else self.locale.decimal)
            if self.date1904 and renderer.is_date:
                value += _DATE_1904_SHIFT  # a date number calamine left as a number
            return renderer.render(float(value))
        if kind is bool:
            if self.raw:
                return "TRUE" if value else "FALSE"
            return self.locale.true if value else self.locale.false
        if isinstance(value, (dt.date, dt.time, dt.timedelta)):
            if renderer is None or not renderer.is_date:
                return _iso(value)
            return renderer.render(cellformat.to_serial(value))
        return str(value)


def _iso(value: dt.date | dt.time | dt.timedelta) -> str:
    """A raw date or time as ISO 8601 (`2024-01-05`, `2024-01-05T10:30:00`)."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return cellformat.general(value / dt.timedelta(days=1))


def is_blank(row: list[Value]) -> bool:
    """True when every cell of `row` is empty (or only white space)."""
    return all(type(value) is str and not value.strip() for value in row)


def sheet_rows(sheet: Any) -> Iterator[tuple[int, list[Value]]]:
    """(sheet row number from 1, cells from the sheet's first used column) of a calamine sheet,
    blank rows left out."""
    start = sheet.start
    if start is None:
        return
    # calamine's iter_rows pads the rows above the first used one (so the index is the sheet's
    # row) and starts each row at the first used column (tests/test_workbook.py pins both).
    rows = iter(sheet.iter_rows())
    index = -1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except (OverflowError, ValueError) as exc:  # a duration or date beyond Python's range
            raise UnreadableRow(index + 2, str(exc)) from None
        except BaseException as exc:
            # calamine's Rust side panics on some durations out of range; pyo3 raises that as
            # a PanicException, a BaseException. Anything else goes on as it came.
            if not is_panic(exc):
                raise
            raise UnreadableRow(index + 2, str(exc)) from None
        index += 1
        if not is_blank(row):
            yield index + 1, row


def is_panic(exc: BaseException) -> bool:
    """True for pyo3's PanicException (a panic in calamine), which no module exports by name."""
    return type(exc).__name__ == "PanicException"


class UnreadableRow(ValueError):
    """A row calamine cannot hand over (a date or duration out of range); `row` is its number."""

    def __init__(self, row: int, problem: str) -> None:
        super().__init__(problem)
        self.row = row
