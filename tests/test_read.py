"""Tests for rcsbatch.recipients.read: every cell read as text, NA for empty, rows numbered as the
file's own lines (the header is 1), blank rows and unnamed empty columns left out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rcsbatch.errors import RecipientsError
from rcsbatch.recipients.read import RecipientFile, open_recipients

DATA = Path(__file__).resolve().parent / "data"


def write(tmp_path: Path, content: bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def read_all(file: RecipientFile, chunk_rows: int = 1000) -> pd.DataFrame:
    """Every column of `file`, all chunks joined."""
    chunks = list(file.chunks(file.columns, chunk_rows))
    assert chunks, "expected at least one chunk"
    return pd.concat(chunks)


def cells(frame: pd.DataFrame, column: str) -> list[str | None]:
    """One column as plain values, None where the cell is NA."""
    return [None if pd.isna(v) else v for v in frame[column]]


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"], ids=["comma", "semicolon", "tab"])
def test_csv_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    """A CSV file with `,`, `;` or tab between cells is split on that delimiter."""
    rows = [
        ["phone", "first_name", "code"],
        ["+49 176 1234 5678", "Anna", "A1"],
        ["0176 2222", "Ben", "B2"],
    ]
    text = "".join(delimiter.join(r) + "\n" for r in rows)
    file = open_recipients(write(tmp_path, text.encode()))
    assert file.columns == ("phone", "first_name", "code")
    frame = read_all(file)
    assert cells(frame, "phone") == ["+49 176 1234 5678", "0176 2222"]
    assert cells(frame, "first_name") == ["Anna", "Ben"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_csv_line_endings(tmp_path: Path, newline: str) -> None:
    """Lines may end in LF, CRLF or a lone CR (old Mac exports); none of it reaches a cell."""
    text = newline.join(["phone;first_name", "0176 1;Anna", "0176 2;Ben", ""])
    file = open_recipients(write(tmp_path, text.encode()))
    assert file.columns == ("phone", "first_name")
    frame = read_all(file)
    assert cells(frame, "first_name") == ["Anna", "Ben"]
    assert frame.index.tolist() == [2, 3]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_csv_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path, newline: str) -> None:
    """A UTF-8 BOM is skipped: the first column is named without it and its cells are read."""
    text = newline.join(["phone,first_name", "0176 1,Jürgen", ""])
    file = open_recipients(write(tmp_path, b"\xef\xbb\xbf" + text.encode()))
    assert file.columns == ("phone", "first_name")
    file.require(["phone"], "the campaign")
    frame = read_all(file)
    assert cells(frame, "phone") == ["0176 1"]
    assert cells(frame, "first_name") == ["Jürgen"]


CP1252 = "phone;first_name;city\n0176 1;Jürgen;Köln\n0176 2;Zoë;Zürich\n".encode("cp1252")


def test_csv_cp1252_reads_with_its_encoding(tmp_path: Path) -> None:
    """A cp1252 file opened with encoding="cp1252" gives the right accented text."""
    file = open_recipients(write(tmp_path, CP1252), encoding="cp1252")
    frame = read_all(file)
    assert cells(frame, "first_name") == ["Jürgen", "Zoë"]
    assert cells(frame, "city") == ["Köln", "Zürich"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_csv_utf16_header_is_split_into_lines_after_decoding(tmp_path: Path, encoding: str) -> None:
    """UTF-16/32 headers holding a 0x0A or 0x0D byte (Ċ, č) keep every column name whole."""
    text = "\ufeffphone,Ċ,č\n+4917612345678,Ċapek,čaj\n"
    file = open_recipients(write(tmp_path, text.encode(encoding)), encoding=encoding)
    assert file.columns == ("phone", "Ċ", "č")
    assert cells(read_all(file), "č") == ["čaj"]


@pytest.mark.parametrize(
    ("text", "encoding", "found", "fix"),
    [
        ("\ufeffphone\n1\n", "cp1252", "UTF-8", "remove `encoding`"),
        ("\ufeffphone\n1\n", "latin-1", "UTF-8", "remove `encoding`"),
        ("phone\n1\n", "utf-8", "UTF-16", 'set `encoding = "utf-16"`'),
        ("phone\n1\n", "cp1252", "UTF-16", 'set `encoding = "utf-16"`'),
    ],
)
def test_csv_byte_order_mark_of_another_encoding_says_which(
    tmp_path: Path, text: str, encoding: str, found: str, fix: str
) -> None:
    """A BOM of another encoding than the campaign's names both and the fix: no "no column"."""
    content = text.encode("utf-16" if found == "UTF-16" else "utf-8")
    with pytest.raises(RecipientsError) as caught:
        open_recipients(write(tmp_path, content), encoding=encoding)
    message = str(caught.value)
    assert f"starts with a {found} byte order mark" in message and fix in message
    assert f"not {encoding}" in message


@pytest.mark.parametrize(
    "content",
    [CP1252, "Telefon;Straße\n0176 1;Hauptstraße 1\n".encode("cp1252")],
    ids=["bad-bytes-in-rows", "bad-bytes-in-header"],
)
def test_csv_other_encoding_by_default_says_which_option_fixes_it(
    tmp_path: Path, content: bytes
) -> None:
    """A non-UTF-8 file read as UTF-8 is a RecipientsError that points at `encoding`."""
    with pytest.raises(RecipientsError, match="encoding") as caught:
        file = open_recipients(write(tmp_path, content))
        read_all(file)
    assert "cp1252" in str(caught.value)


@pytest.mark.parametrize(
    "phone",
    [
        "+49 176 1234 5678",
        "0049 176-12345678",
        "0176 12345678",
        "4917612345678",
        "00491761234567",
        "+4917612345678",
        "007",
    ],
)
def test_csv_phone_numbers_stay_text(tmp_path: Path, phone: str) -> None:
    """Phone cells keep their leading `0`, `00` and `+`: nothing is read as a number."""
    frame = read_all(open_recipients(write(tmp_path, f"phone,n\n{phone},1\n".encode())))
    assert cells(frame, "phone") == [phone]
    assert cells(frame, "n") == ["1"]


def test_csv_cells_are_stripped_and_empty_cells_are_na(tmp_path: Path) -> None:
    """Cells lose surrounding white space; empty, blank and quoted-empty cells are NA."""
    content = b'phone,first_name,code\n  0176 1  ,  Anna ,\n0176 2,"",   \n0176 3,\t,"  x "\n'
    frame = read_all(open_recipients(write(tmp_path, content)))
    assert cells(frame, "phone") == ["0176 1", "0176 2", "0176 3"]
    assert cells(frame, "first_name") == ["Anna", None, None]
    assert cells(frame, "code") == [None, None, "x"]
    assert frame["first_name"].isna().tolist() == [False, True, True]


def test_csv_header_names_are_stripped(tmp_path: Path) -> None:
    """Header names lose surrounding white space, so ` phone ` is the column `phone`."""
    file = open_recipients(write(tmp_path, b" phone , first name \n1,2\n"))
    assert file.columns == ("phone", "first name")


@pytest.mark.parametrize(
    ("delimiter", "quoted"),
    [(",", '"Doe, John"'), (";", '"Doe; John"'), ("\t", '"Doe\tJohn"'), (",", '"say ""hi"""')],
)
def test_csv_quoted_cell_may_hold_the_delimiter(
    tmp_path: Path, delimiter: str, quoted: str
) -> None:
    """A quoted cell keeps its delimiter (and doubled quotes) as text instead of splitting."""
    text = f"phone{delimiter}name\n0176 1{delimiter}{quoted}\n"
    frame = read_all(open_recipients(write(tmp_path, text.encode())))
    assert cells(frame, "name") == [quoted[1:-1].replace('""', '"')]


def test_csv_quoted_cell_may_hold_a_line_break(tmp_path: Path) -> None:
    """A quoted cell with a line break is one cell, and the next row is numbered by its line."""
    content = b'phone,note\n0176 1,"two\nlines"\n0176 2,plain\n'
    frame = read_all(open_recipients(write(tmp_path, content)))
    assert cells(frame, "note") == ["two\nlines", "plain"]
    assert frame.index.tolist() == [2, 4]


@pytest.mark.parametrize(
    "content",
    [b"phone,name\n0176 1,Anna\n0176 2,Ben,extra\n", b"phone,name\n0176 1\n"],
    ids=["too-many-cells", "too-few-cells"],
)
def test_csv_ragged_row_is_a_recipients_error(tmp_path: Path, content: bytes) -> None:
    """A row with a different number of cells than the header is a RecipientsError, not a crash."""
    file = open_recipients(write(tmp_path, content))
    with pytest.raises(RecipientsError) as caught:
        read_all(file)
    assert type(caught.value) is RecipientsError
    assert "people.csv" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"\n", b"   \n\n"], ids=["empty", "newline", "blank"])
def test_csv_without_header_is_an_error(tmp_path: Path, content: bytes) -> None:
    """An empty file is a RecipientsError that asks for a header row."""
    with pytest.raises(RecipientsError, match="header"):
        open_recipients(write(tmp_path, content))


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"\r\nphone;name\r\n0176 1;A\r\n", "2"),
        (b"\xef\xbb\xbf;;\r\n;;\r\nphone;name;\r\n0176 1;A;\r\n", "3"),
        (b'"";\n\nphone;name\n', "3"),
    ],
    ids=["empty-line", "delimiters", "empty-quotes"],
)
def test_csv_with_blank_lines_above_the_header_names_the_header_line(
    tmp_path: Path, content: bytes, line: str
) -> None:
    """Blank lines above the header (a sheet's empty top rows, exported) are refused naming the
    line the header is on, not as an empty file or a header without names."""
    with pytest.raises(RecipientsError, match=rf"line 1 is blank and line {line} is the first"):
        open_recipients(write(tmp_path, content))


@pytest.mark.parametrize(
    "content",
    [b"phone,name\n", b"phone,name", b"phone,name\r\n", b"\xef\xbb\xbfphone,name"],
    ids=["lf", "no-line-break", "crlf", "bom-no-line-break"],
)
def test_csv_header_only_yields_no_chunks(tmp_path: Path, content: bytes) -> None:
    """A file with a header and no rows has its columns and yields no chunks, without error."""
    file = open_recipients(write(tmp_path, content))
    assert file.columns == ("phone", "name")
    assert list(file.chunks(["phone"])) == []


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("phone,name,phone", "two columns are named `phone`"),
        ("phone, name ,name", "two columns are named `name`"),
        ("phone,,name", "column 2 of the header has no name, but line 2 has a value"),
        ("phone,name,", "column 3 of the header has no name, but line 2 has a value"),
        ("phone, ,name", "column 2 of the header has no name, but line 2 has a value"),
    ],
)
def test_csv_duplicate_or_unnamed_filled_column_is_an_error(
    tmp_path: Path, header: str, problem: str
) -> None:
    """A header naming a column twice, or leaving one with data unnamed, is an error saying
    which (and where the data is)."""
    with pytest.raises(RecipientsError, match=problem):
        read_all(open_recipients(write(tmp_path, f"{header}\n1,2,3\n".encode())))


@pytest.mark.parametrize("name", ["people.csv", "people.tsv", "people.txt", "PEOPLE.CSV"])
def test_csv_like_suffixes_are_read_as_csv(tmp_path: Path, name: str) -> None:
    """.csv, .tsv and .txt files (any case) are read as delimited text."""
    file = open_recipients(write(tmp_path, b"phone\t name\n0176 1\tAnna\n", name))
    assert cells(read_all(file), "name") == ["Anna"]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A recipient file that does not exist is a RecipientsError naming it."""
    with pytest.raises(RecipientsError, match=r"nobody\.csv"):
        open_recipients(tmp_path / "nobody.csv")


def test_folder_is_an_error(tmp_path: Path) -> None:
    """A folder given as the recipient file is a RecipientsError."""
    with pytest.raises(RecipientsError, match="folder"):
        open_recipients(tmp_path)


# --- rows and chunks ------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7, 100])
def test_rows_are_numbered_by_line_across_chunks(tmp_path: Path, chunk_rows: int) -> None:
    """Chunks hold at most chunk_rows rows, indexed `row` by line (the header is 1) throughout."""
    content = "phone\n" + "".join(f"0176 {i}\n" for i in range(1, 8))
    file = open_recipients(write(tmp_path, content.encode()))
    chunks = list(file.chunks(["phone"], chunk_rows))
    assert all(0 < len(c) <= chunk_rows for c in chunks)
    frame = pd.concat(chunks)
    assert frame.index.name == "row"
    assert frame.index.tolist() == list(range(2, 9))
    assert cells(frame, "phone") == [f"0176 {i}" for i in range(1, 8)]


def test_chunks_hold_only_the_wanted_columns(tmp_path: Path) -> None:
    """chunks() returns the asked-for columns, once each, in the asked-for order."""
    file = open_recipients(write(tmp_path, b"a,phone,b,c\n1,2,3,4\n"))
    (chunk,) = file.chunks(["c", "phone", "c"])
    assert chunk.columns.tolist() == ["c", "phone"]
    assert chunk.loc[2].tolist() == ["4", "2"]


def test_require_names_the_missing_columns_and_lists_the_existing(tmp_path: Path) -> None:
    """require() raises naming each missing column, what needs it, and every existing column."""
    file = open_recipients(write(tmp_path, b"phone,first_name,code\n1,2,3\n"))
    file.require(["phone", "code"], "the message text")
    with pytest.raises(RecipientsError) as caught:
        file.require(["phone", "surname", "mobile"], "the message text")
    message = str(caught.value)
    for name in ("surname", "mobile", "the message text", "phone", "first_name", "code"):
        assert name in message


def test_chunks_with_an_unknown_column_is_an_error(tmp_path: Path) -> None:
    """Asking chunks() for a column the file lacks is a RecipientsError naming the column."""
    file = open_recipients(write(tmp_path, b"phone\n1\n"))
    with pytest.raises(RecipientsError, match="mobile"):
        list(file.chunks(["mobile"]))


# --- Parquet --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("phone_text", ["+49 176 1234 5678", "0176 12345678", None]),
        ("phone_int", ["4917612345678", "491761111111", None]),
        ("phone_float", ["4917612345678", "491761111111", None]),
    ],
)
def test_parquet_phone_columns_become_text_digits(column: str, expected: list[str | None]) -> None:
    """Parquet phone columns stored as text, int64 or float64 read as text, without `.0`."""
    frame = read_all(open_recipients(DATA / "recipients.parquet"), chunk_rows=2)
    assert cells(frame, column) == expected
    assert frame.index.tolist() == [2, 3, 4]  # record index + 2, as a CSV export would number


def test_parquet_cells_are_stripped_and_empty_is_na() -> None:
    """Parquet text cells are stripped, and an empty string is NA like a null."""
    frame = read_all(open_recipients(DATA / "recipients.parquet"))
    assert cells(frame, "first_name") == ["Anna", "Ben", None]


def test_parquet_float_cells_are_read_one_by_one(tmp_path: Path) -> None:
    """In a float column, whole numbers stay digits beside a fraction, and NaN is NA."""
    path = tmp_path / "people.parquet"
    values = [4917612345678.0, 1.5, float("nan"), None, 491761111111.0]
    names = ["A", "B", "C", "D", "E"]
    pq.write_table(pa.table({"phone": pa.array(values, pa.float64()), "name": names}), path)
    assert cells(read_all(open_recipients(path), chunk_rows=10), "phone") == [
        "4917612345678",
        "1.5",
        None,
        None,
        "491761111111",
    ]


def test_parquet_blank_records_are_skipped_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    """A record of only nulls, NaN and white space (a spreadsheet's empty row) is no data, as in
    CSV and xlsx; the others keep index + 2."""
    path = tmp_path / "people.parquet"
    table = pa.table(
        {
            "phone": pa.array(["0176 1", None, None, "0176 4", None], pa.string()),
            "score": pa.array([1.0, float("nan"), None, None, float("nan")], pa.float64()),
            "name": pa.array(["Anna", "  ", None, None, ""], pa.string()),
            "day": pa.array([None, None, None, None, dt.date(2024, 1, 5)], pa.date32()),
        }
    )
    pq.write_table(table, path)
    frame = read_all(open_recipients(path), chunk_rows=2)
    assert frame.index.tolist() == [2, 5, 6]
    assert cells(frame, "phone") == ["0176 1", "0176 4", None]


def test_parquet_columns_come_from_the_schema() -> None:
    """open_recipients() on Parquet lists the schema's columns."""
    file = open_recipients(DATA / "recipients.parquet")
    assert file.columns == ("customer_id", "phone_text", "phone_int", "phone_float", "first_name")


def test_unreadable_parquet_is_an_error(tmp_path: Path) -> None:
    """A file named .parquet that is not Parquet is a RecipientsError."""
    with pytest.raises(RecipientsError, match="Parquet"):
        open_recipients(write(tmp_path, b"phone\n0176 1\n", "people.parquet"))


# --- xlsx -----------------------------------------------------------------------------------


def test_xlsx_reads_the_first_sheet_by_default() -> None:
    """Without a sheet name the first sheet is read, numeric phone cells as plain digits."""
    file = open_recipients(DATA / "recipients.xlsx")
    assert file.columns == ("phone", "first_name", "code")
    frame = read_all(file, chunk_rows=2)
    assert cells(frame, "phone") == ["4917612345678", "0049 176-22223333", "+49 176 3333 4444"]
    assert cells(frame, "first_name") == ["Anna", None, "Cem"]
    assert cells(frame, "code") == ["007", "K8D", "X1M"]
    assert frame.index.tolist() == [2, 3, 4]  # the sheet's own row numbers


def test_xlsx_reads_a_named_sheet() -> None:
    """sheet= picks that sheet, with its own header."""
    file = open_recipients(DATA / "recipients.xlsx", sheet="Opt-outs")
    assert file.columns == ("number",)
    assert cells(read_all(file), "number") == ["0176 98765432"]


def test_xlsx_unknown_sheet_lists_the_sheets() -> None:
    """An unknown sheet name is a RecipientsError naming it and listing the sheets."""
    with pytest.raises(RecipientsError) as caught:
        open_recipients(DATA / "recipients.xlsx", sheet="Kunden")
    message = str(caught.value)
    for name in ("Kunden", "Customers", "Opt-outs"):
        assert name in message


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (["phone", "phone"], "two columns are named `phone`"),
        (["phone", None, "code"], "column B has no name"),
        (["phone", "  "], "column B has no name"),
    ],
)
def test_xlsx_duplicate_or_empty_header_name_is_an_error(
    tmp_path: Path, header: list[str | None], problem: str
) -> None:
    """An xlsx header naming a column twice, or leaving one unnamed, is an error saying which."""
    book = openpyxl.Workbook()
    book.active.append(header)
    book.active.append(["0176 1", "x", "y"][: len(header)])
    path = tmp_path / "people.xlsx"
    book.save(path)
    with pytest.raises(RecipientsError, match=problem):
        open_recipients(path)


def test_xlsx_empty_sheet_is_an_error(tmp_path: Path) -> None:
    """An xlsx whose sheet has no header row is a RecipientsError."""
    path = tmp_path / "people.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(RecipientsError, match="empty"):
        open_recipients(path)


def test_unreadable_xlsx_is_an_error(tmp_path: Path) -> None:
    """A file named .xlsx that is not a workbook is a RecipientsError."""
    with pytest.raises(RecipientsError, match="Excel"):
        open_recipients(write(tmp_path, b"phone\n0176 1\n", "people.xlsx"))


def test_parquet_numbers_and_dates_become_text(tmp_path: Path) -> None:
    """Parquet: floats at 15 significant digits, shortest; decimals keep their scale; ISO dates."""
    from decimal import Decimal

    table = pa.table(
        {
            "phone": pa.array([4917612345678.0, 0.1 + 0.2, None], pa.float64()),
            "price": pa.array([Decimal("12.50"), Decimal("3.00"), None], pa.decimal128(8, 2)),
            "day": pa.array([dt.date(2024, 1, 5), None, None], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 5, 10, 30), None, None], pa.timestamp("ms")),
            "name": ["A", "B", "C"],
        }
    )
    path = tmp_path / "people.parquet"
    pq.write_table(table, path)
    frame = read_all(open_recipients(path))
    assert cells(frame, "phone") == ["4917612345678", "0.3", None]
    assert cells(frame, "price") == ["12.50", "3.00", None]
    assert cells(frame, "day") == ["2024-01-05", None, None]
    assert cells(frame, "at") == ["2024-01-05T10:30:00", None, None]


# --- spreadsheet exports: blank rows and columns, the file's own line numbers ----------------

# As Excel (German) saves "CSV UTF-8 (durch Trennzeichen getrennt)": BOM, `;`, CRLF; a quoted cell
# with `;` and one with a line break; empty rows as `;;;` in the middle and at the end; a `;` after
# every line (an unnamed empty last column); no line break after the last line.
EXCEL_DE = (
    b"\xef\xbb\xbfphone;first_name;note;\r\n"
    b"+49 176 1;Anna;plain;\r\n"
    b";;;\r\n"
    b'0176 2;"Ben; Jr.";"two\r\nlines";\r\n'
    b"\r\n"
    b' ; ;"";\r\n'
    b"0176 3;Cem;;\r\n"
    b";;;\r\n"
    b";;;"
)


def test_excel_de_export_reads_rows_at_their_lines(tmp_path: Path) -> None:
    """An Excel CSV export keeps its data rows only, each numbered by the line it starts on."""
    file = open_recipients(write(tmp_path, EXCEL_DE))
    assert file.columns == ("phone", "first_name", "note")
    frame = read_all(file, chunk_rows=2)
    assert cells(frame, "first_name") == ["Anna", "Ben; Jr.", "Cem"]
    assert cells(frame, "note") == ["plain", "two\r\nlines", None]
    assert frame.index.tolist() == [2, 4, 8]


@pytest.mark.parametrize(
    "content",
    [b"phone;name\n\n\n", b"phone;name\r\n;\r\n;\r\n", b"phone;name;\r\n;;\r\n ; ; \r\n", b"phone"],
    ids=["blank-lines", "delimiter-lines", "trailing-delimiter", "no-line-break"],
)
def test_a_header_with_only_blank_lines_has_no_rows(tmp_path: Path, content: bytes) -> None:
    """A header followed by nothing but blank lines (of any kind) is a file of no rows."""
    file = open_recipients(write(tmp_path, content))
    assert list(file.chunks(file.columns)) == []


def test_an_unnamed_empty_column_in_the_middle_is_dropped(tmp_path: Path) -> None:
    """An unnamed column whose cells are all empty is no column; the others read as usual."""
    file = open_recipients(write(tmp_path, b"phone,,name\n0176 1,,Anna\n0176 2, ,Ben\n"))
    assert file.columns == ("phone", "name")
    assert cells(read_all(file), "name") == ["Anna", "Ben"]


def test_a_cell_in_an_unnamed_column_names_its_line(tmp_path: Path) -> None:
    """Data in an unnamed column is refused with the line that holds it."""
    content = b"phone;name;\r\n0176 1;a;\r\n;;\r\n0176 2;b;oops\r\n"
    with pytest.raises(RecipientsError, match=r"column 3 of the header has no name, but line 4"):
        read_all(open_recipients(write(tmp_path, content)))


def test_a_quote_inside_a_cell_does_not_lose_the_line_count(tmp_path: Path) -> None:
    """`17" screen` (a quote that opens no quoted cell) is text, and later lines still count."""
    content = b'phone;item\n1;17" screen\n\n2;"a\nb"\n3;x\n'
    frame = read_all(open_recipients(write(tmp_path, content)))
    assert cells(frame, "item") == ['17" screen', "a\nb", "x"]
    assert frame.index.tolist() == [2, 4, 6]


def test_utf16_rows_are_numbered_by_line(tmp_path: Path) -> None:
    """A UTF-16 file (read by the csv module, not the byte scanner) numbers rows the same way."""
    text = '\ufeffphone\tnote\r\n1\t"x\r\ny"\r\n\t\r\n2\tz\r\n'
    frame = read_all(open_recipients(write(tmp_path, text.encode("utf-16-le")), encoding="utf-16"))
    assert cells(frame, "note") == ["x\r\ny", "z"]
    assert frame.index.tolist() == [2, 5]


def test_a_parse_error_names_the_line(tmp_path: Path) -> None:
    """A record with more cells than the header names its line, counted as an editor shows it."""
    lines = ['0176 1,"a\nb",c'] + ["0176 1,a,b"] * 41_333 + ["", "0176 9,a,b,EXTRA"]
    content = ("phone,name,code\n" + "\n".join(lines) + "\n").encode()
    with pytest.raises(RecipientsError) as caught:
        read_all(open_recipients(write(tmp_path, content)), chunk_rows=100_000)
    message = str(caught.value)
    expected = "people.csv: line 41,338: expected 3 cells (as in the header), found 4"
    assert message.startswith(expected)
    assert "must be quoted" in message


def test_an_encoding_error_names_the_line(tmp_path: Path) -> None:
    """A byte that is not UTF-8 is named by the line holding it, with the encoding fix."""
    content = b"phone;city\r\n0176 1;Berlin\r\n\r\n0176 2;K\xf6ln\r\n"
    with pytest.raises(RecipientsError) as caught:
        read_all(open_recipients(write(tmp_path, content)))
    message = str(caught.value)
    assert "not utf-8 text (line 4 is the first that is not)" in message
    assert 'encoding = "cp1252"' in message
