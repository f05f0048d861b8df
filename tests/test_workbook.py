"""xlsx files as spreadsheet programs write them: shared and inline strings, styles, formulas with
saved values, error cells, the 1904 date system, blank rows and columns, odd XML."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from rcsbatch.errors import RecipientsError
from rcsbatch.recipients import workbook
from rcsbatch.recipients.read import RecipientFile, open_recipients

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

# Style 0 General, 1 `00000`, 2 built-in 14 (short date), 3 `#,##0.00 "€"`, 4 `0%`.
STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{MAIN}"><numFmts count="2"><numFmt numFmtId="164" formatCode="00000"/>
<numFmt numFmtId="165" formatCode="#,##0.00\\ &quot;€&quot;"/></numFmts>
<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="164" applyNumberFormat="1"/>
<xf numFmtId="14" applyNumberFormat="1"/><xf numFmtId="165" applyNumberFormat="1"/>
<xf numFmtId="9" applyNumberFormat="1"/></cellXfs></styleSheet>"""


def xlsx(path: Path, rows: str, strings: tuple[str, ...] = (), *, date1904: bool = False) -> Path:
    """A workbook of one sheet `Kunden` whose <sheetData> holds `rows`, written part by part."""
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    prefixed = "<x:sheetData" in rows
    root = f'<x:worksheet xmlns:x="{MAIN}">' if prefixed else f'<worksheet xmlns="{MAIN}">'
    end = "</x:worksheet>" if prefixed else "</worksheet>"
    sheet_data = rows if prefixed else f"<sheetData>{rows}</sheetData>"
    flag = ' date1904="1"' if date1904 else ""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
            'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
            '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd'
            '.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl'
            '/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="applic'
            'ation/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName='
            '"/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><workbookPr{flag}/><sheets>'
            '<sheet name="Kunden" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" Type="{REL}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{REL}/styles" '
            f'Target="styles.xml"/><Relationship Id="rId3" Type="{REL}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": f'<sst xmlns="{MAIN}">{shared}</sst>',
        "xl/worksheets/sheet1.xml": f"{root}{sheet_data}{end}",
    }
    with zipfile.ZipFile(path, "w") as book:
        for name, text in parts.items():
            book.writestr(name, text)
    return path


def rows_of(file: RecipientFile) -> pd.DataFrame:
    return pd.concat(list(file.chunks(file.columns)))


def values(frame: pd.DataFrame) -> list[list[str | None]]:
    return [[None if pd.isna(v) else v for v in row] for row in frame.itertuples(index=False)]


# A sheet as Excel saves it: shared strings, a ZIP code, a date, an amount, a share, a boolean,
# an error, a formula with its saved value and one without.
EXCEL_ROWS = """
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>
<c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c></row>
<row r="2"><c r="A2" t="s"><v>5</v></c><c r="B2" s="1"><v>1234</v></c><c r="C2" s="2"><v>45296</v>
</c><c r="D2" s="3"><v>12.5</v></c><c r="E2" t="b"><v>1</v></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>0176 22223333</t></is></c><c r="B3" t="e"><v>#N/A</v>
</c><c r="C3" s="4"><f>B2/10000</f><v>0.1234</v></c><c r="D3" t="str"><f>"a"&amp;"b"</f>
<v>ab</v></c><c r="E3"><f>1+1</f></c></row>
"""
STRINGS = ("phone", "zip", "since", "amount", "vip", "+49 176 1111")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "de-DE",
            [
                ["+49 176 1111", "01234", "05.01.2024", "12,50 €", "WAHR"],
                ["0176 22223333", None, "12%", "ab", None],
            ],
        ),
        (
            "en-US",
            [
                ["+49 176 1111", "01234", "1/5/2024", "12.50 €", "TRUE"],
                ["0176 22223333", None, "12%", "ab", None],
            ],
        ),
    ],
)
def test_a_sheet_as_excel_writes_it(
    tmp_path: Path, locale: str, expected: list[list[str | None]]
) -> None:
    """Shared and inline strings, formats, a boolean; an error cell and a formula without a saved
    value are empty; a formula's saved value shows through its format."""
    file = open_recipients(xlsx(tmp_path / "k.xlsx", EXCEL_ROWS, STRINGS), locale=locale)
    assert file.columns == ("phone", "zip", "since", "amount", "vip")
    frame = rows_of(file)
    assert values(frame) == expected
    assert frame.index.tolist() == [2, 3]


def test_raw_columns_are_taken_as_stored(tmp_path: Path) -> None:
    """A raw column shows the stored value: General with `.`, ISO dates, TRUE/FALSE."""
    path = xlsx(tmp_path / "k.xlsx", EXCEL_ROWS, STRINGS)
    file = open_recipients(path, locale="de-DE", raw=["zip", "since", "amount", "vip"])
    assert values(rows_of(file))[0] == ["+49 176 1111", "1234", "2024-01-05", "12.5", "TRUE"]


def test_the_1904_date_system(tmp_path: Path) -> None:
    """In a 1904-based workbook serial 43834 is 2024-01-05."""
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>since</t></is></c></row>'
        '<row r="2"><c r="A2" s="2"><v>43834</v></c></row>'
    )
    file = open_recipients(xlsx(tmp_path / "k.xlsx", rows, date1904=True), locale="de-DE")
    assert values(rows_of(file)) == [["05.01.2024"]]


@pytest.mark.parametrize(
    "rows",
    [
        # No `r` on the cells (allowed, and some writers do it).
        '<row r="1"><c t="inlineStr"><is><t>zip</t></is></c><c t="inlineStr"><is><t>n</t></is>'
        '</c></row><row r="2"><c s="1"><v>42</v></c><c s="4"><v>0.5</v></c></row>',
        # The style before the reference.
        '<row r="1"><c r="A1" t="inlineStr"><is><t>zip</t></is></c><c r="B1" t="inlineStr"><is>'
        '<t>n</t></is></c></row><row r="2"><c s="1" r="A2"><v>42</v></c><c s="4" r="B2"><v>0.5'
        "</v></c></row>",
        # Prefixed tags, as some .NET writers save them.
        '<x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>zip</x:t></x:is></x:c>'
        '<x:c r="B1" t="inlineStr"><x:is><x:t>n</x:t></x:is></x:c></x:row><x:row r="2"><x:c '
        'r="A2" s="1"><x:v>42</x:v></x:c><x:c r="B2" s="4"><x:v>0.5</x:v></x:c></x:row>'
        "</x:sheetData>",
    ],
    ids=["no-r", "s-first", "prefixed"],
)
def test_formats_are_found_in_any_well_formed_sheet(tmp_path: Path, rows: str) -> None:
    """Cells without `r`, attributes in another order, prefixed tags: the formats still apply."""
    file = open_recipients(xlsx(tmp_path / "k.xlsx", rows), locale="de-DE")
    assert values(rows_of(file)) == [["00042", "50%"]]


def test_blank_rows_and_columns_are_left_out(tmp_path: Path) -> None:
    """Leading blank rows and columns, blank rows between, a blank unnamed column: the header is
    the first row that is not blank, and rows keep the sheet's numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["C3"], sheet["E3"] = "phone", "name"
    sheet["C4"], sheet["E4"] = "0176 1", "Anna"
    sheet["C5"] = "   "  # only white space: blank
    sheet["C7"], sheet["E7"] = 4917612345678, "Ben"
    path = tmp_path / "k.xlsx"
    book.save(path)
    file = open_recipients(path)
    assert file.columns == ("phone", "name")
    frame = rows_of(file)
    assert values(frame) == [["0176 1", "Anna"], ["4917612345678", "Ben"]]
    assert frame.index.tolist() == [4, 7]


def test_an_unnamed_column_with_a_value_is_refused(tmp_path: Path) -> None:
    """A column without a header name that holds a value is an error naming column and row."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", None, "name"])
    sheet.append(["0176 1", None, "Anna"])
    sheet.append(["0176 2", "x", "Ben"])
    path = tmp_path / "k.xlsx"
    book.save(path)
    with pytest.raises(RecipientsError, match=r"column B has no name .* row 3"):
        open_recipients(path)


def test_text_cells_are_used_as_stored(tmp_path: Path) -> None:
    """A text cell keeps its text whatever the column's format, and dates stay dates."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "when"])
    sheet.append(["007", dt.datetime(2024, 1, 5, 10, 30)])
    sheet["A2"].number_format = "0.00"
    sheet["B2"].number_format = "dd.mm.yyyy hh:mm"
    path = tmp_path / "k.xlsx"
    book.save(path)
    assert values(rows_of(open_recipients(path, locale="de-DE"))) == [["007", "05.01.2024 10:30"]]


def test_a_duration_out_of_range_is_an_error_naming_its_row(tmp_path: Path) -> None:
    """A number under `[h]:mm` too large for a duration is a clear error, not a traceback."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone"])
    sheet.append(["0176 1"])
    sheet.append([1e18])
    sheet["A3"].number_format = "[h]:mm"
    path = tmp_path / "k.xlsx"
    book.save(path)
    with pytest.raises(RecipientsError, match=r"row 3 .* out of range"):
        rows_of(open_recipients(path))


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ('locale = "klingon"', "`locale` is not a known locale"),
        ('raw_columns = ["nope"]', "no column `nope` (needed by `raw_columns`)"),
    ],
)
def test_validate_refuses_a_bad_locale_or_raw_column(
    tmp_path: Path, keys: str, message: str
) -> None:
    """An unknown locale or a raw column the sheet lacks: exit 2 with a message saying so."""
    from click.testing import CliRunner

    from rcsbatch.cli import cli

    xlsx(tmp_path / "k.xlsx", EXCEL_ROWS, STRINGS)
    campaign = tmp_path / "c.toml"
    campaign.write_text(f'name = "c"\nrecipients = "k.xlsx"\n{keys}\n[message]\ntext = "hi"\n')
    result = CliRunner().invoke(cli, ["validate", str(campaign)])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (16_383, "XFD")]
)
def test_column_letters_are_excels(index: int, letters: str) -> None:
    """Column places name the columns as Excel heads them, up to its last, XFD."""
    assert workbook.column_letters(index) == letters
    assert workbook._column_number(letters) == index
