"""Recipient files: stream the rows of a CSV, Parquet or xlsx file as text, in chunks.

Every cell is read as text (no lost leading zeros or `+`), stripped of surrounding white space, and
an empty cell is NA. Rows carry the number a person sees in the file, the header being 1: in a CSV
file the line where the record starts (see `csvlines`), in a sheet its row, in Parquet the record's
index + 2 (so a CSV exported from the same data keeps the numbers). A spreadsheet's blank rows
(CSV lines of only delimiters, Parquet records of only nulls) and unnamed empty columns (a
delimiter at the end of every line) are no data: they are skipped.
"""

from __future__ import annotations

import codecs
import csv
import operator
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rcsbatch.errors import RecipientsError
from rcsbatch.recipients import cellformat, csvlines, workbook

CHUNK_ROWS = 100_000
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class RecipientFile:
    """An opened recipient file: its columns, and a way to stream the wanted ones."""

    path: Path
    columns: tuple[str, ...]
    sheet: str | None = None
    encoding: str = "utf-8"
    delimiter: str = ","
    locale: str = "en-US"  # how xlsx cells render (cellformat)
    raw: frozenset[str] = frozenset()  # xlsx columns rendered as stored (General, ISO dates)
    # xlsx: the sheet's name, each column's place (0-based, from the sheet's column A) and the
    # header's row number.
    sheet_name: str = ""
    places: tuple[int, ...] = ()
    header_row: int = 1
    # A CSV file's cells per line, named: `columns` plus a placeholder for each unnamed one.
    fields: tuple[str, ...] = ()

    def require(self, names: Iterable[str], what: str, *, option: str | None = None) -> None:
        """Raise RecipientsError naming each of `names` that is not a column; list the columns.
        `option`: the parameter that chose the column, when one did (see errors.InputError)."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            listed = ", ".join(f"`{c}`" for c in self.columns) or "(none)"
            names_text = ", ".join(f"`{n}`" for n in missing)
            raise RecipientsError(
                f"{self.path.name}: no column {names_text} (needed by {what}); "
                f"the columns are: {listed}",
                option=option,
            )

    def chunks(
        self, columns: Iterable[str], chunk_rows: int = CHUNK_ROWS
    ) -> Iterator[pd.DataFrame]:
        """Yield DataFrames of `columns` (text, NA for empty), indexed by the file's row number."""
        wanted = list(dict.fromkeys(columns))
        self.require(wanted, "the campaign")
        suffix = self.path.suffix.lower()
        batches: Batches
        if suffix == ".parquet":
            batches = _parquet_batches(self.path, wanted, chunk_rows)
        elif suffix == ".xlsx":
            batches = _xlsx_batches(self, wanted, chunk_rows)
        else:
            batches = _csv_batches(self, wanted, chunk_rows)
        for batch, rows in batches:
            if batch.num_rows == 0:
                continue
            frame = _clean(batch)
            frame.index = pd.Index(rows, name="row")
            yield frame


def open_recipients(
    path: Path,
    *,
    sheet: str | None = None,
    encoding: str = "utf-8",
    locale: str = "en-US",
    raw: Iterable[str] = (),
) -> RecipientFile:
    """Open `path` (.csv/.tsv/.txt, .parquet or .xlsx) and read its header; nothing else yet.

    `locale` (a tag such as "de-DE") and `raw` (column names) say how xlsx cells render.
    """
    if not path.exists():
        raise RecipientsError(f"{path}: no such recipient file")
    if path.is_dir():
        raise RecipientsError(f"{path}: is a folder, not a recipient file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            schema = pq.read_schema(path)
            return RecipientFile(path, tuple(schema.names))
        if suffix == ".xlsx":
            return _open_xlsx(path, sheet, locale, frozenset(raw))
    except RecipientsError:
        raise
    except Exception as exc:  # pyarrow and calamine raise many kinds; all mean "unreadable"
        kind = "Parquet" if suffix == ".parquet" else "Excel (.xlsx)"
        raise RecipientsError(f"{path.name}: not a readable {kind} file ({_short(exc)})") from None
    return _open_csv(path, encoding)


def _open_csv(path: Path, encoding: str) -> RecipientFile:
    codec = codecs.lookup(encoding).name
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        raise RecipientsError(f"{path}: cannot read ({exc.strerror})") from None
    _check_bom(path, head, codec, encoding)
    try:
        # Decode before splitting lines: in UTF-16 a byte 0x0A or 0x0D is often half a letter.
        text = codecs.getincrementaldecoder(codec)().decode(head, final=len(head) < 1 << 16)
    except UnicodeError:
        raise _encoding_error(path, encoding) from None
    # A lone "\r" ends a line too (old Mac exports); pyarrow reads such files, so must we.
    lines = re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff"))
    header_text = lines[0]
    if not header_text.strip(' \t,;"'):
        _refuse_blank_header(path, lines)
    delimiter = max(_DELIMITERS, key=header_text.count)
    header = next(csv.reader([header_text], delimiter=delimiter))
    names = tuple(name.strip() for name in header)
    # An unnamed column is a spreadsheet's empty one (Excel writes `phone;name;`) until a cell
    # in it holds data (`_csv_batches` refuses the file then).
    fields = tuple(name or _unnamed(i) for i, name in enumerate(names, 1))
    columns = tuple(name for name in names if name)
    if not columns:
        raise RecipientsError(
            f"{path.name}: the first line names no column; it needs a header row naming "
            "the columns, then one row per recipient"
        )
    _check_header(path, columns)
    return RecipientFile(path, columns, encoding=codec, delimiter=delimiter, fields=fields)


def _refuse_blank_header(path: Path, lines: list[str]) -> None:
    """Refuse a file whose first line is blank: empty, or where the header is further down
    (the header must be line 1, or row numbers would not be the file's)."""
    below = next((i for i, line in enumerate(lines, 1) if line.strip(' \t,;"')), None)
    if below is None:
        raise RecipientsError(
            f"{path.name}: the file is empty; it needs a header row naming "
            "the columns, then one row per recipient"
        )
    raise RecipientsError(
        f"{path.name}: line 1 is blank and line {below:,} is the first with text; the header "
        "naming the columns must be line 1: delete the blank lines above it"
    )


def _unnamed(position: int) -> str:
    # A leading space: no name read from a header has one (names are stripped).
    return f" column {position}"


def _unnamed_error(path: Path, field: str, line: int) -> RecipientsError:
    position = int(field.split()[-1])
    return RecipientsError(
        f"{path.name}: column {position} of the header has no name, but line {line:,} has a "
        "value in it; give every column a name in the first row"
    )


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32", ("utf-32", "utf-32-le")),
    (codecs.BOM_UTF32_BE, "UTF-32", ("utf-32", "utf-32-be")),
    (codecs.BOM_UTF8, "UTF-8", ("utf-8", "utf-8-sig")),
    (codecs.BOM_UTF16_LE, "UTF-16", ("utf-16", "utf-16-le")),
    (codecs.BOM_UTF16_BE, "UTF-16", ("utf-16", "utf-16-be")),
)


def _check_bom(path: Path, head: bytes, codec: str, encoding: str) -> None:
    """Refuse a file whose byte order mark names another encoding than the campaign's."""
    for bom, name, codecs_ok in _BOMS:
        if head.startswith(bom):
            if codec in codecs_ok:
                return
            fix = (
                "remove `encoding` from the campaign file (UTF-8 is the default)"
                if name == "UTF-8"
                else f'set `encoding = "{name.lower()}"` in the campaign file, or save it as UTF-8'
            )
            raise RecipientsError(
                f"{path.name}: the file starts with a {name} byte order mark, so it is {name} "
                f"text, not {encoding}; {fix}"
            )


def _check_header(path: Path, columns: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(columns, 1):
        if not name:
            raise RecipientsError(
                f"{path.name}: column {i} of the header has no name; "
                "give every column a name in the first row"
            )
        if name in seen:
            raise RecipientsError(
                f"{path.name}: two columns are named `{name}`; rename one in the header"
            )
        seen.add(name)


def _encoding_error(path: Path, encoding: str) -> RecipientsError:
    """Say the file is not `encoding` text, and on which line, when finding it is cheap."""
    where = ""
    if csvlines.ascii_compatible(encoding):
        offset = csvlines.first_bad_byte(path, encoding)
        if offset is not None:
            where = f" (line {csvlines.locate_line(path, offset):,} is the first that is not)"
    return RecipientsError(
        f"{path.name}: the file is not {encoding} text{where}; save it as UTF-8, or set "
        f'`encoding = "cp1252"` (Excel on Windows) or `encoding = "latin-1"` in the campaign file'
    )


def _short(exc: BaseException) -> str:
    """The first line of a library's error, without the row it quotes (it may hold a number)."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    # pyarrow: "CSV parse error: Expected 3 columns, got 4: <the row's text>"
    return re.sub(r"(got \d+): .*", r"\1", text[0])[:200]


Batches = Iterator[tuple[pa.RecordBatch, np.ndarray]]


def _csv_batches(file: RecipientFile, wanted: list[str], chunk_rows: int) -> Batches:
    """Yield (batch of `wanted`, the line each record starts on), blank records left out."""
    if _header_only(file.path):
        # pyarrow cannot skip a header line that has no line break after it.
        return
    fields = list(file.fields or file.columns)
    unnamed = [name for name in fields if name not in file.columns]
    # Our own cleaned header names replace the file's; the file's header line is skipped.
    read = pacsv.ReadOptions(
        column_names=fields,
        skip_rows=1,
        encoding=file.encoding,
        # Small blocks: the reader parses several ahead, each held as Arrow arrays, so large
        # blocks multiply the reader's memory (bench/RESULTS.md, dry runs).
        block_size=1 << 20,
    )
    parse = pacsv.ParseOptions(
        delimiter=file.delimiter,
        newlines_in_values=True,
        invalid_row_handler=csvlines.skip_blank(file.delimiter),
    )
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in fields},
        include_columns=wanted + unnamed,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    lines = csvlines.RecordLines(file.path, file.encoding, file.delimiter, len(fields))
    try:
        reader = pacsv.open_csv(
            file.path, read_options=read, parse_options=parse, convert_options=convert
        )
        buffered: list[pa.RecordBatch] = []
        numbers: list[np.ndarray] = []
        rows = 0
        for batch in reader:
            found, blank = lines.take(batch.num_rows)
            if blank.any():
                batch = batch.filter(pa.array(~blank))
                found = found[~blank]
            for name in unnamed:
                _check_unnamed(file.path, name, batch.column(name), found)
            buffered.append(batch.select(wanted))
            numbers.append(found)
            rows += len(found)
            if rows >= chunk_rows:
                yield from _split(buffered, numbers, chunk_rows)
                buffered, numbers, rows = [], [], 0
        if buffered:
            yield from _split(buffered, numbers, chunk_rows)
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "UTF8" in message or "utf8" in message or "decode" in message.lower():
            raise _encoding_error(file.path, file.encoding) from None
        raise _parse_error(file, exc) from None
    except UnicodeDecodeError:
        raise _encoding_error(file.path, file.encoding) from None


def _check_unnamed(path: Path, name: str, column: pa.Array, lines: np.ndarray) -> None:
    """Refuse data in an unnamed column: which of its cells is what, we cannot tell."""
    filled = pc.not_equal(pc.utf8_trim_whitespace(column), "")
    if pc.any(filled).as_py():
        first = int(pc.index(filled, True).as_py())
        raise _unnamed_error(path, name, int(lines[first]))


def _parse_error(file: RecipientFile, exc: pa.ArrowInvalid) -> RecipientsError:
    """Name the line of the first record pyarrow could not read, found again with `csv`."""
    fields = len(file.fields or file.columns)
    fix = "every row needs as many cells as the header, and a cell holding the delimiter or a "
    fix += "line break must be quoted"
    bad = csvlines.first_bad_record(file.path, file.encoding, file.delimiter, fields)
    if bad is not None:
        line, found = bad
        return RecipientsError(
            f"{file.path.name}: line {line:,}: expected {fields} cells (as in the header), "
            f"found {found}, with `{_show(file.delimiter)}` between cells; {fix}"
        )
    return RecipientsError(
        f"{file.path.name}: cannot read as CSV with `{_show(file.delimiter)}` between cells "
        f"({_short(exc)}); {fix}"
    )


def _header_only(path: Path) -> bool:
    """True when the file is one line (the header) without a line break after it."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    return len(head) < 1 << 16 and not any(end in head for end in (b"\n", b"\r"))


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


def _split(batches: list[pa.RecordBatch], numbers: list[np.ndarray], rows: int) -> Batches:
    """Join `batches` and their row numbers, and cut them into chunks of `rows`."""
    table = pa.Table.from_batches(batches).combine_chunks()
    joined = np.concatenate(numbers)
    for offset in range(0, table.num_rows, rows):
        # A one-chunk table slice stands for a batch: `_clean` reads either alike.
        yield table.slice(offset, rows), joined[offset : offset + rows]


def _parquet_batches(path: Path, wanted: list[str], chunk_rows: int) -> Batches:
    """Yield (batch of `wanted` as text, record index + 2: the line a CSV export would have),
    blank records left out."""
    try:
        # No pre-buffering: it reads whole row groups ahead, which for large files holds far
        # more than streaming them.
        parquet = pq.ParquetFile(path, pre_buffer=False)
        # Every column is read: a record is blank only when all of its cells are.
        start = 2
        for batch in parquet.iter_batches(batch_size=chunk_rows, use_threads=False):
            numbers = np.arange(start, start + batch.num_rows, dtype=np.int64)
            start += batch.num_rows
            text = pa.record_batch([_as_text(batch.column(name)) for name in wanted], names=wanted)
            blank = _blank_records(batch)
            if blank.any():
                text, numbers = text.filter(pa.array(~blank)), numbers[~blank]
            yield text, numbers
    except (pa.ArrowException, OSError) as exc:
        raise RecipientsError(f"{path.name}: not a readable Parquet file ({_short(exc)})") from None


def _blank_records(batch: pa.RecordBatch) -> np.ndarray:
    """Which records hold nothing in any column (null, NaN or white space): a spreadsheet's
    empty row, exported."""
    blank = np.ones(batch.num_rows, bool)
    for column in batch.columns:
        empty = pc.is_null(column, nan_is_null=True)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            empty = pc.or_kleene(empty, pc.equal(pc.utf8_trim_whitespace(column), ""))
        blank &= empty.to_numpy(zero_copy_only=False)
        if not blank.any():
            break
    return blank


def _as_text(column: pa.Array) -> pa.Array:
    """Cast a column to text: floats rounded to 15 significant digits, shortest (a whole one, such
    as a phone column stored as float, without `.0`); decimals keep their scale; dates and times
    in ISO 8601."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    if pa.types.is_floating(column.type):
        # Cell by cell: one stray fraction must not turn the chunk's other numbers into
        # "4.917612345678e+12". NaN is an empty cell (some writers store it instead of null).
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)
        whole = pc.and_(pc.equal(pc.floor(column), column), pc.less(pc.abs(column), 2.0**53))
        digits = pc.cast(pc.cast(pc.if_else(whole, column, 0.0), pa.int64()), pa.string())
        if pc.all(pc.fill_null(whole, True)).as_py():
            return digits
        shortest = [None if v is None else cellformat.shortest(v) for v in column.to_pylist()]
        return pc.if_else(whole, digits, pa.array(shortest, pa.string()))
    if pa.types.is_timestamp(column.type) or pa.types.is_time(column.type):
        return pa.array(
            [None if v is None else v.isoformat() for v in column.to_pylist()], pa.string()
        )
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return pc.cast(column, pa.string())


def _open_xlsx(path: Path, sheet: str | None, locale: str, raw: frozenset[str]) -> RecipientFile:
    """Read the header: the sheet's first row that is not blank. A column without a name is
    left out when it is blank, and an error when it holds something."""
    name, rows = _xlsx_rows(path, sheet)
    first = next(rows, None)
    if first is None:
        raise RecipientsError(
            f"{path.name}: the sheet is empty; it needs a header row naming "
            "the columns, then one row per recipient"
        )
    header_row, cells, first_col = first
    text = workbook.CellText(workbook.Styles(("General",)), cellformat.cell_locale(locale), True)
    names = [text.cell(c, None).strip() for c in cells]
    unnamed = {i for i, n in enumerate(names) if not n}
    if unnamed:
        # Only a sheet with an unnamed column is read through here: is that column blank?
        for number, row, _ in rows:
            used = next((i for i in sorted(unnamed) if i < len(row) and not _blank(row[i])), None)
            if used is not None:
                letter = workbook.column_letters(first_col + used)
                raise RecipientsError(
                    f"{path.name}: column {letter} has no name in the header (row {header_row}) "
                    f"but holds a value in row {number}; name it, or delete the column"
                )
    kept = [i for i in range(len(names)) if i not in unnamed]
    columns = tuple(names[i] for i in kept)
    _check_header(path, columns)
    return RecipientFile(
        path,
        columns,
        sheet=sheet,
        locale=locale,
        raw=raw,
        sheet_name=name,
        places=tuple(first_col + i for i in kept),
        header_row=header_row,
    )


def _blank(value: object) -> bool:
    return isinstance(value, str) and not value.strip()


def _xlsx_rows(
    path: Path, sheet: str | None
) -> tuple[str, Iterator[tuple[int, list[workbook.Value], int]]]:
    """The sheet's name, and its rows that are not blank: (row number, cells, first column)."""
    from python_calamine import CalamineError, CalamineWorkbook, WorksheetNotFound

    try:
        book = CalamineWorkbook.from_path(str(path))
        name = sheet if sheet is not None else book.sheet_names[0]
        found = book.get_sheet_by_name(name)
    except WorksheetNotFound:
        names = ", ".join(f'"{n}"' for n in book.sheet_names)
        raise RecipientsError(
            f'{path.name}: no sheet named "{sheet}"; its sheets are: {names}'
        ) from None
    except (CalamineError, IndexError, OSError, ValueError) as exc:
        raise RecipientsError(f"{path.name}: not a readable Excel file ({_short(exc)})") from None
    except BaseException as exc:
        if not workbook.is_panic(exc):
            raise
        raise RecipientsError(f"{path.name}: not a readable Excel file ({_short(exc)})") from None
    first_col = found.start[1] if found.start is not None else 0

    def rows() -> Iterator[tuple[int, list[workbook.Value], int]]:
        try:
            for number, row in workbook.sheet_rows(found):
                yield number, row, first_col
        except workbook.UnreadableRow as exc:
            raise RecipientsError(
                f"{path.name}: row {exc.row} of sheet {name!r} cannot be read ({exc}): a date or "
                "time cell there is out of range; fix its value or its format"
            ) from None

    return name, rows()


def _xlsx_batches(
    file: RecipientFile, wanted: list[str], chunk_rows: int
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    # calamine holds the sheet's values (xlsx has at most ~1M rows); the chunks hold text.
    _, rows = _xlsx_rows(file.path, file.sheet)
    part, styles = workbook.read_layout(file.path, file.sheet_name)
    places = [file.places[file.columns.index(c)] for c in wanted]
    formatted = styles.formatted()
    try:
        by_column = (
            workbook.cell_styles(file.path, part, places, formatted)
            if formatted and part is not None
            else {}
        )
    except (expat.ExpatError, KeyError, zipfile.BadZipFile, OSError) as exc:
        raise RecipientsError(
            f"{file.path.name}: not a readable Excel file ({_short(exc)})"
        ) from None
    loc = cellformat.cell_locale(file.locale)
    texts = [workbook.CellText(styles, loc, raw=c in file.raw) for c in wanted]
    numbers: list[int] = []
    cells: list[tuple[workbook.Value, ...]] = []

    def flush() -> tuple[pa.RecordBatch, np.ndarray]:
        at = np.asarray(numbers, np.int64)
        arrays = []
        for j, column in enumerate(zip(*cells, strict=True) if cells else []):
            styles_here = by_column.get(places[j])
            ids = None
            if styles_here is not None:
                index = at - 1
                inside = index < len(styles_here)
                ids = np.where(inside, styles_here[np.where(inside, index, 0)], 0)
            arrays.append(pa.array(texts[j].column(list(column), ids), pa.string()))
        numbers.clear()
        cells.clear()
        return pa.record_batch(arrays, names=wanted), at

    pick: Callable[[list[workbook.Value]], tuple[workbook.Value, ...]] | None = None
    for number, row, first_col in rows:
        if pick is None:
            pick = _picker([p - first_col for p in places])
        if number <= file.header_row:
            continue
        numbers.append(number)
        cells.append(pick(row))
        if len(numbers) >= chunk_rows:
            yield flush()
    if numbers:
        yield flush()


def _picker(indexes: list[int]) -> Callable[[list[workbook.Value]], tuple[workbook.Value, ...]]:
    """A function taking the cells at `indexes` of a row, as a tuple (calamine's rows are all
    as wide as the sheet's used area, which holds every header cell)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda row: (row[only],)
    getter = operator.itemgetter(*indexes)
    return lambda row: getter(row)


def _clean(batch: pa.RecordBatch) -> pd.DataFrame:
    """Strip each cell and turn empty cells into NA, as a DataFrame of pandas text columns."""
    columns = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        text = pc.utf8_trim_whitespace(_as_text(column))
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        columns[name] = text
    frame: pd.DataFrame = pa.table(columns).to_pandas()
    return frame


def read_numbers_column(file: RecipientFile) -> Iterator[pd.Series]:
    """Yield the only (or the `phone`) column of a suppress list, chunk by chunk."""
    if len(file.columns) == 1:
        column = file.columns[0]
    elif "phone" in file.columns:
        column = "phone"
    else:
        listed = ", ".join(f"`{c}`" for c in file.columns)
        raise RecipientsError(
            f"{file.path.name}: a suppress list needs one column of numbers "
            f"(or a `phone` column); it has: {listed}"
        )
    for chunk in file.chunks([column]):
        yield chunk[column]
