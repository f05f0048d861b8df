"""Bad input on purpose: generated recipient and campaign files through the real command line.

Whatever the files hold, `validate`, `preview`, `run --dry-run` and `run` end with a documented exit
code and either a clean report or one of the library's own input-error messages, never a
traceback; and a run whose input cannot be trusted sends nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from rcsbatch.cli import OPTION_HINTS, cli
from rcsbatch.errors import InputError
from rcsbatch.recipients.controls import visible
from rcsbatch.simulator import Faults, SimulatorServer

API_KEY = "fuzz-key"
# The slower properties (several CLI runs per example) take half the profile's examples: the
# "ci" profile stays fast, "dev" still hunts longer.
HALF = settings(max_examples=max(settings.default.max_examples // 2, 10))
EXIT_CODES = {0, 1, 2}
COLUMNS = ("phone", "first_name", "customer_id")


# --- what every command must do -------------------------------------------------------------------


@pytest.fixture(scope="module")
def input_errors() -> Iterator[list[str]]:
    """Every InputError message the library builds while the module runs (cleared per example)."""
    seen: list[str] = []
    original = InputError.__init__

    def spy(self: InputError, *args: Any, **options: Any) -> None:
        # As the command line says it: with its flag for the parameter that helps, if any.
        hint = OPTION_HINTS.get(options.get("option") or "", "")
        seen.append((str(args[0]) if args else "") + hint)
        original(self, *args, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(InputError, "__init__", spy)
        yield seen


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    """One simulator for the module, with credit for every example; reset before each run."""
    with SimulatorServer(Faults(balance=Decimal(10**9))) as server:
        yield server


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env={"RCSBATCH_REPORT_DIR": "", **(env or {})})


def check_clean(result: Result, errors: list[str], codes: set[int] = EXIT_CODES) -> None:
    """A documented exit code, no traceback, and on exit 2 one of the library's messages."""
    assert result.exception is None or isinstance(result.exception, SystemExit), "".join(
        traceback.format_exception(*result.exc_info) if result.exc_info else []
    )
    assert result.exit_code in codes, result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        message = result.stderr.strip()
        assert message.startswith("Error: "), message
        # Control characters in it are written out (`\x1b`): data never drives the terminal.
        assert message.removeprefix("Error: ") in map(visible, errors), (message, errors)


def results_rows(result: Result) -> list[dict[str, str]]:
    folder = Path(result.stdout.removesuffix("\n"))  # the run folder, whatever its name holds
    with (folder / "results.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def validated_rows(result: Result) -> int:
    """The row count `validate` reports on stderr ("…; N rows: …", "…; 1 row: …")."""
    line = next(x for x in result.stderr.splitlines() if "the campaign file is valid" in x)
    return int(line.split("; ", 1)[1].split(" row", 1)[0])


# --- the files ------------------------------------------------------------------------------------


@dataclass
class Case:
    """A campaign folder to write: file name → bytes, the campaign file's name, and the data rows
    the recipient file holds (None when the generator cannot know, as for random bytes)."""

    files: dict[str, bytes]
    rows: int | None = None
    campaign: str = "c.toml"
    notes: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        return folder / self.campaign


def _toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\' or ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_str(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(data: dict[str, Any]) -> str:
    lines = [f"{_toml_str(k)} = {toml_value(v)}" for k, v in data.items() if not _is_table(v)]
    for k, v in data.items():
        if _is_table(v):
            lines += ["", f"[{_toml_str(k)}]"]
            lines += [f"{_toml_str(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


def campaign_data(recipients: str, **top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "fuzz",
        "recipients": recipients,
        "report_dir": "reports",
        "message": {"text": "Hi {first_name}", "foreign_id": "{customer_id}"},
    }
    data.update(top)
    return data


PHONES = st.one_of(
    st.sampled_from(
        [
            "+4917612345678",
            "0176 12345678",
            "4917612345678",
            "4917612345678.0",
            "4.9176e+12",
            "4.917612345678E+12",
            "+1 202 555 0142",
            "",
            " ",
            "n/a",
            "=1+2",
            "-4917612345678",
            "NaN",
            "inf",
        ]
    ),
    st.from_regex(r"\+49 ?176[0-9]{7,8}", fullmatch=True),
    st.text(max_size=20),
)
HUGE = st.sampled_from(["x", "9", "€", "\n"]).map(lambda c: c * 100_000)
CELLS = st.one_of(st.text(max_size=20), st.text(max_size=20), HUGE)
RENAMED = st.one_of(
    st.sampled_from(["Phone", "phone ", "tel", "PHONE", "handy", "phone.1"]),
    st.text(min_size=1, max_size=8),
)

NAMES = st.one_of(
    st.sampled_from(["Ċ", "č", "Vorname", "first name", "naïve", "名前", "ĊčĊ"]),
    st.text(min_size=1, max_size=6).filter(
        lambda t: t == t.strip() and not set(t) & set('{}"\r\n,;\t\x00')
    ),
)


@st.composite
def table_rows(draw: st.DrawFn, max_rows: int = 6) -> tuple[list[str], list[list[str]]]:
    """A header (perhaps missing or renaming a needed column) and rows of generated cells."""
    header = list(COLUMNS)
    change = draw(st.sampled_from(["none"] * 5 + ["rename", "drop_phone", "drop_placeholder"]))
    if change == "rename":
        header[0] = draw(RENAMED)
    elif change == "drop_phone":
        header.remove("phone")
    elif change == "drop_placeholder":
        header.remove(draw(st.sampled_from(["first_name", "customer_id"])))
    n = draw(st.integers(0, max_rows))
    rows = [
        [
            draw(PHONES) if name == header[0] and change != "drop_phone" else draw(CELLS)
            for name in header
        ]
        for _ in range(n)
    ]
    return header, rows


@st.composite
def csv_cases(draw: st.DrawFn) -> Case:
    """Valid-looking CSV in a random encoding and delimiter, named or not in the campaign."""
    header, rows = draw(table_rows())
    # The placeholder column under another name, in both the header and the text: letters such as
    # Ċ or č hold a 0x0A / 0x0D byte in UTF-16.
    field_name = draw(st.one_of(st.just("first_name"), NAMES))
    header = [field_name if name == "first_name" else name for name in header]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    said = draw(st.sampled_from([None, encoding, "utf-8", "cp1252", "latin-1"]))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
    )
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line break after the last row
    data = text.encode(encoding, errors="replace")
    top: dict[str, Any] = {"encoding": said} if said else {}
    top["message"] = {"text": f"Hi {{{field_name}}}", "foreign_id": "{customer_id}"}
    files = {"r.csv": data, "c.toml": toml_document(campaign_data("r.csv", **top)).encode()}
    # A record of only delimiters, white space and quotes is a blank one: no row
    # (recipients/csvlines.py).
    blank = set(f' \t\r\n"{delimiter}')
    written = sum(1 for row in rows if not set("".join(row)) <= blank)
    return Case(files, rows=written, notes=[f"{encoding=} {said=} {delimiter=}"])


NUMBER_FORMATS = [
    "General",
    "0",
    "00000",
    "#,##0",
    "0.00",
    "#,##0.00 [$€-407]",
    "0%",
    '"+"0',
    "0000 0000000",
    "0.00E+00",
    "dd.mm.yyyy",
    "mm-dd-yy",
    "[h]:mm",
    "@",
]


def _as_text_not_formula(sheet: Any, row: int) -> None:
    """openpyxl takes a string starting with `=` for a formula (saved with no value, so empty);
    a person typing it into a text cell, or Excel reading it from CSV, keeps it as text."""
    for cell in sheet[row]:
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


@st.composite
def xlsx_cases(draw: st.DrawFn) -> Case:
    """An Excel workbook written with openpyxl: phones as text, integers or floats under number
    formats, blank rows anywhere (leading ones too), a locale or none."""
    header, rows = draw(table_rows(max_rows=4))
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for _ in range(draw(st.integers(0, 2))):
        sheet.append([None])  # blank rows above the header: the header is the first that is not
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", name) for name in header])
    _as_text_not_formula(sheet, sheet.max_row)
    header_blank = all(not ILLEGAL_CHARACTERS_RE.sub("", n).strip() for n in header)
    written = 0  # a blank row (no cell, or only white space) is no row
    for row in rows:
        if draw(st.booleans()) and draw(st.booleans()):
            sheet.append([None])
        cells: list[Any] = [ILLEGAL_CHARACTERS_RE.sub("", cell)[:32_000] for cell in row]
        if header[0] == "phone" and cells:
            cells[0] = draw(
                st.one_of(
                    st.just(cells[0]),
                    st.sampled_from([4917612345678.0, 4.9176e12, 4917612345678, 17612345678.0]),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.integers(-(2**60), 2**60),
                )
            )
        cells = [None if c == "" else c for c in cells]
        sheet.append(cells)
        _as_text_not_formula(sheet, sheet.max_row)
        if cells and not isinstance(cells[0], str) and cells[0] is not None:
            sheet.cell(sheet.max_row, 1).number_format = draw(st.sampled_from(NUMBER_FORMATS))
        if any(c is not None and not (isinstance(c, str) and not c.strip()) for c in cells):
            written += 1
    buffer = io.BytesIO()
    book.save(buffer)
    top: dict[str, Any] = {}
    if draw(st.booleans()):
        top["locale"] = draw(st.sampled_from(["de-DE", "en-US", "fr-CH", "ja-JP"]))
    campaign = toml_document(campaign_data("r.xlsx", **top)).encode()
    files = {"r.xlsx": buffer.getvalue(), "c.toml": campaign}
    # A blank header row makes the first data row the header: the count is then not known.
    return Case(files, rows=None if header_blank else written)


@st.composite
def parquet_cases(draw: st.DrawFn) -> Case:
    """A Parquet file whose phone column is text, int64 or float64 (NaN and nulls included)."""
    header, rows = draw(table_rows(max_rows=4))
    columns: dict[str, pa.Array] = {
        name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(header)
    }
    kind = draw(st.sampled_from(["string", "float64", "int64"]))
    if kind != "string":
        numbers = st.sampled_from([4917612345678.0, 4.9176e12, 17612345678.0, 0.5])
        values: list[Any] = []
        for _ in rows:
            value = draw(
                st.one_of(numbers, st.none(), st.floats())
                if kind == "float64"
                else st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
            )
            values.append(value)
        columns[header[0]] = pa.array(values, pa.float64() if kind == "float64" else pa.int64())
    table = pa.table(columns)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    files = {
        "r.parquet": buffer.getvalue(),
        "c.toml": toml_document(campaign_data("r.parquet")).encode(),
    }
    # A record whose every cell reads as empty (null, NaN, white space) is no row.
    empty = [
        pc.is_null(c, nan_is_null=True)
        if pa.types.is_floating(c.type)
        else pc.fill_null(pc.equal(pc.utf8_trim_whitespace(pc.cast(c, pa.string())), ""), True)
        for c in table.columns
    ]
    written = sum(
        1 for record in zip(*(e.to_pylist() for e in empty), strict=True) if not all(record)
    )
    return Case(files, rows=written)


@st.composite
def byte_cases(draw: st.DrawFn) -> Case:
    """Random bytes, an empty file or a header alone, under any of the recipient suffixes."""
    name = "r" + draw(st.sampled_from([".csv", ".xlsx", ".parquet", ".tsv", ".txt"]))
    data = draw(
        st.one_of(
            st.binary(max_size=300),
            st.sampled_from(
                [
                    b"",
                    b"\n",
                    b"\r\n",
                    b"\xef\xbb\xbf",
                    b"phone",
                    b"phone\n",
                    b"phone,first_name,customer_id",
                    b"phone,first_name,customer_id\r\n",
                    b"\xff\xfep\x00h\x00o\x00n\x00e\x00",
                    b"PK\x03\x04",
                    b"PAR1",
                ]
            ),
        )
    )
    rows = 0 if data.startswith(b"phone") and name.endswith((".csv", ".tsv", ".txt")) else None
    files = {name: data, "c.toml": toml_document(campaign_data(name)).encode()}
    return Case(files, rows=rows)


# --- the campaign file ----------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.sampled_from(["a", "first_name"]), st.integers(0, 9), max_size=2),
    st.datetimes(),
    st.dates(),
)
SPECIAL: dict[str, list[Any]] = {
    "name": ["", "a b", "x" * 65, "..", ".", "ok"],
    "recipients": ["r.doc", "missing.csv", "", ".", "c.toml", "/dev/null.csv", "sub"],
    "phone_column": ["", "nope", "first_name"],
    "default_region": ["XX", "de", "001", "", "  "],
    "suppress": ["missing.csv", "r.csv", "c.toml", "", "."],
    "sheet": ["Nope", ""],
    "encoding": ["klingon", "rot13", "hex", "base64", "utf-16", "utf-7", "idna", "cp037", ""],
    "report_dir": ["", "r.csv", "/proc/nope", "."],
    "message.text": ["", "{", "}", "{}", "{nope}", "{{x}}", "   ", "{first_name", "x" * 100_000],
    "message.from": ["", "a" * 200],
    "message.label": ["{first_name}", "bad label!", "{phone}", "x" * 101],
    "message.foreign_id": ["{first_name}", "", "{nope}"],
    "message.ttl": [0, -1, "10", 1.5, 2**63 - 1, 10**12],
    "message.delay": [
        "tomorrow",
        0,
        -5,
        10**15,
        2**63 - 1,
        "2026-13-01 09:00",
        "9999-12-31 23:59",
        "0001-01-01 00:00",
        dt.datetime(1, 1, 1),
        dt.datetime(9999, 12, 31, 23, 59),
        dt.date(2026, 1, 1),
        dt.time(9, 0),
        "1700000000",
        "  ",
    ],
    "message.timezone": ["Mars/Base", "", "../../etc/passwd", "UTC", "Europe/Berlin\x00"],
    "message.performance_tracking": ["yes", 1],
    "message.fallback": ["fax", ""],
    "message.defaults": [{"first_name": True}, {"first_name": [1]}, {"first_name": 1.5}],
    "send": [1, "fast"],
    "send.concurrency": [0, 1001, "16", 1.5],
    "send.rate": [-1, math.nan, math.inf, "fast", 1e308, 1e-308],
    "send.max_attempts": [0, 101, 2**63 - 1],
    "send.price_estimate": [-1, "abc", "nan", "inf", "sNaN", "1e999999999", 1e308, "-0"],
    "message": ["text", 1],
    "bogus": [1],
    "message.bogus": [1],
}


@st.composite
def campaign_cases(draw: st.DrawFn) -> Case:
    """A valid campaign (and recipient file) with one key set to a wrong type or odd value."""
    key = draw(st.sampled_from(sorted(SPECIAL)))
    value = draw(st.one_of(st.sampled_from(SPECIAL[key]), ANY_VALUE))
    data = campaign_data("r.csv")
    data["message"] = dict(data["message"])
    data["send"] = {"concurrency": 4}
    table, _, leaf = key.rpartition(".")
    (data[table] if table else data)[leaf] = value
    body = [["phone", "first_name", "customer_id"]] + [
        [f"+49176{10_000_000 + i}", f"N{i}", f"c{i}"] for i in range(1, 4)
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(body)
    files = {
        "r.csv": buffer.getvalue().encode(),
        "c.toml": _campaign_text(data).encode("utf-8", errors="surrogatepass"),
    }
    return Case(files, rows=3, notes=[f"{key} = {value!r}"])


def _campaign_text(data: dict[str, Any]) -> str:
    # A table given as a scalar ("send = 1") must be written at the top, before any table.
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    text = toml_document(scalars)
    for name, table in tables.items():
        text += f"\n[{_toml_str(name)}]\n"
        text += "".join(f"{_toml_str(k)} = {toml_value(v)}\n" for k, v in table.items())
    return text


@st.composite
def junk_campaign_cases(draw: st.DrawFn) -> Case:
    """A campaign file of random text or random bytes beside a good recipient file."""
    data = draw(
        st.one_of(
            st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
            st.binary(max_size=200),
            st.sampled_from([b"", b"\xef\xbb\xbf", b"[message]\ntext = 'hi'\n", b"name = 1"]),
        )
    )
    files = {"r.csv": b"phone,first_name\n+4917612345678,A\n", "c.toml": data}
    return Case(files, rows=1)


# --- the properties -------------------------------------------------------------------------------


def check_offline(case: Case, errors: list[str]) -> None:
    """validate, preview and run --dry-run on `case`: clean ends, and they agree on the rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = case.write(Path(tmp))
        outcomes = {}
        for args in (["validate"], ["preview", "--json"], ["run", "--dry-run"]):
            errors.clear()
            result = invoke([*args, str(path)])
            check_clean(result, errors)
            outcomes[args[0]] = result
        codes = {name: r.exit_code for name, r in outcomes.items()}
        event(f"validate exits {codes['validate']}")
        # preview has no "invalid rows" exit code; the others agree with each other.
        assert codes["validate"] == codes["run"], (codes, case.notes)
        assert (codes["preview"] == 2) == (codes["validate"] == 2), (codes, case.notes)
        if codes["run"] != 2:
            count = validated_rows(outcomes["validate"])
            assert len(results_rows(outcomes["run"])) == count
            if case.rows is not None:
                assert count == case.rows, case.notes


@given(case=byte_cases())
def test_random_bytes_as_recipients(case: Case, input_errors: list[str]) -> None:
    """Random bytes, empty files and a bare header end cleanly in every offline command."""
    check_offline(case, input_errors)


@HALF
@given(case=csv_cases())
def test_generated_csv(case: Case, input_errors: list[str]) -> None:
    """CSV in any encoding and delimiter, columns missing or renamed, huge cells: clean ends."""
    check_offline(case, input_errors)


@HALF
@given(case=xlsx_cases())
def test_generated_xlsx(case: Case, input_errors: list[str]) -> None:
    """xlsx with phones as text, integers or floats: clean ends, one report row per data row."""
    check_offline(case, input_errors)


@given(case=parquet_cases())
def test_generated_parquet(case: Case, input_errors: list[str]) -> None:
    """Parquet with a text, int64 or float64 phone column: clean ends, one report row per row."""
    check_offline(case, input_errors)


@given(case=st.one_of(campaign_cases(), junk_campaign_cases()))
def test_generated_campaign_files(case: Case, input_errors: list[str]) -> None:
    """Campaign files of junk, or with one key wrong: a message naming the problem, or a report."""
    check_offline(case, input_errors)


@HALF
@given(
    case=st.one_of(
        byte_cases(),
        csv_cases(),
        xlsx_cases(),
        parquet_cases(),
        campaign_cases(),
        junk_campaign_cases(),
    )
)
def test_run_sends_nothing_unless_the_input_is_trusted(
    case: Case, input_errors: list[str], sim: SimulatorServer
) -> None:
    """`run` against the simulator: exit 2 sends nothing; else one report row per data row."""
    sim.reset(keep_faults=True)
    env = {"SEVEN_BASE_URL": sim.base_url, "SEVEN_API_KEY": API_KEY}
    with tempfile.TemporaryDirectory() as tmp:
        path = case.write(Path(tmp))
        input_errors.clear()
        # Each example is a campaign of its own: its own state folder (the simulator forgot).
        result = invoke(["run", "-q", str(path)], {**env, "RCSBATCH_STATE_DIR": f"{tmp}/state"})
        # 3: the gateway refused the account's side of a request (an unknown `from`, say).
        check_clean(result, input_errors, EXIT_CODES | {3})
        assert (result.exit_code == 3) == ("stopped by the gateway" in result.stderr)
        event(f"run exits {result.exit_code}")
        requests = sim.backend.counters.send_requests
        if result.exit_code == 2:
            assert requests == 0 and sim.backend.accepted() == [], case.notes
            return
        rows = results_rows(result)
        if case.rows is not None:
            assert len(rows) == case.rows, case.notes
        sent = [r for r in rows if r["status"] == "sent"]
        assert len(sent) == len(sim.backend.accepted())


FLOAT_HINT = "number was stored as a float (scientific notation): format the column as text"


def _float_file(folder: Path, kind: str) -> str:
    if kind == "csv":
        text = "phone,first_name,customer_id\n4917612345678.0,A,a\n4.9176e+12,B,b\n"
        text += "+4917612345679,C,c\n"
        (folder / "r.csv").write_text(text)
    elif kind == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for row in (
            COLUMNS,
            (4917612345678.0, "A", "a"),
            ("4.9176E+12", "B", "b"),
            (4917612345679, "C", "c"),
        ):
            sheet.append(row)
        book.save(folder / "r.xlsx")
    else:
        phones = pa.array([4917612345678.0, 4.9176123456789e20, 4917612345679.0], pa.float64())
        table = pa.table(
            {"phone": phones, "first_name": ["A", "B", "C"], "customer_id": ["a", "b", "c"]}
        )
        pq.write_table(table, folder / "r.parquet")
    return f"r.{kind}"


@pytest.mark.parametrize("kind", ["csv", "xlsx", "parquet"])
def test_phone_numbers_written_as_floats(tmp_path: Path, kind: str) -> None:
    """A whole float (4917612345678.0) is its digits; scientific notation is invalid with a hint."""
    name = _float_file(tmp_path, kind)
    path = tmp_path / "c.toml"
    path.write_text(toml_document(campaign_data(name)))
    result = invoke(["run", "--dry-run", str(path)])
    assert result.exit_code == 1, result.output
    rows = results_rows(result)
    assert [(r["recipient"], r["status"]) for r in rows] == [
        ("4917612345678", "ready"),
        ("", "invalid"),
        ("4917612345679", "ready"),
    ]
    assert rows[1]["error_text"] == FLOAT_HINT


# ---- xlsx number formats and blank rows, at the library ------------------------------------


@st.composite
def plain_formats(draw: st.DrawFn) -> str:
    """A number format of one run of placeholders: `#,##0.00 "€"`, `00000`, `0.0%`, …"""
    zeros = draw(st.integers(0, 6))
    hashes = draw(st.integers(0 if zeros else 1, 4))
    whole = "#" * hashes + "0" * zeros
    if draw(st.booleans()) and zeros <= 1 and len(whole) >= 2:
        whole = whole[:-1] + "," + whole[-1]  # grouping, as `#,##0`
        whole = "#" * max(0, 4 - len(whole)) + whole
    places = draw(st.integers(0, 4))
    fraction = "0" * draw(st.integers(0, places)) + "#" * 0
    fraction += "#" * (places - len(fraction))
    point = places > 0 or draw(st.booleans())
    code = whole + ("." + fraction if point else "")
    code += draw(st.sampled_from(["", "%", ' "€"', " [$€-407]"] + ([] if point else [","])))
    return draw(st.sampled_from(["", '"Nr. "', "$"])) + code


@given(
    code=plain_formats(),
    value=st.one_of(
        st.floats(-1e17, 1e17, allow_nan=False),
        st.integers(-(10**12), 10**12).map(float),
        st.decimals(-(10**6), 10**6, places=3).map(float),
    ),
    locale=st.sampled_from(["de-DE", "en-US", "de-CH", "fr-FR"]),
)
def test_fast_number_formats_agree_with_the_general_filler(
    code: str, value: float, locale: str
) -> None:
    """The fast path for one-run formats renders as the placeholder-by-placeholder filler does."""
    from rcsbatch.recipients import cellformat

    renderer = cellformat.renderer(code, locale)
    (section,) = renderer.sections
    assert section.plain is not None, code
    loc = cellformat.cell_locale(locale)
    if section.lcid is not None:  # `[$€-407]`: German for this section, whatever the campaign's
        loc = cellformat.locale_for_lcid(section.lcid, loc)
    slow = cellformat._render_number(section.tokens, value, loc)
    assert renderer.render(value) == slow


@given(
    value=st.floats(-1e15, 1e15, allow_nan=False),
    places=st.integers(0, 4),
)
def test_separators_follow_the_locale(value: float, places: int) -> None:
    """`#,##0.00` in de-DE is en-US's text with `.` and `,` swapped; digits agree with Decimal."""
    from rcsbatch.recipients import cellformat

    code = "#,##0" + ("." + "0" * places if places else "")
    english = cellformat.render(value, code, "en-US")
    german = cellformat.render(value, code, "de-DE")
    assert german == english.translate(str.maketrans(".,", ",."))
    expected = Decimal(format(abs(value), ".15g")).quantize(
        Decimal(1).scaleb(-places), rounding="ROUND_HALF_UP"
    )
    assert Decimal(english.lstrip("-").replace(",", "")) == expected


@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**62), 2**62).map(float)
    )
)
def test_general_never_loses_a_whole_number(value: float) -> None:
    """General: a whole number shows every digit of its 15 significant ones, never `E+`."""
    from rcsbatch.recipients import cellformat

    text = cellformat.general(value)
    if value.is_integer():
        assert "E" not in text and "." not in text
        assert Decimal(text) == Decimal(format(value, ".15g"))
    else:
        assert float(text) == float(format(value, ".15g"))


@settings(max_examples=30, deadline=None)
@given(
    layout=st.lists(st.one_of(st.none(), st.integers(0, 10**9)), min_size=0, max_size=12),
    above=st.integers(0, 3),
    left=st.integers(0, 3),
)
def test_xlsx_blank_rows_are_skipped_and_rows_keep_sheet_numbers(
    layout: list[int | None], above: int, left: int
) -> None:
    """Blank rows anywhere and blank columns before the table: the header is the first row that
    is not blank, each data row keeps its sheet row number, nothing else is read."""
    from rcsbatch.recipients.read import open_recipients

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.cell(above + 1, left + 1, "phone")
    sheet.cell(above + 1, left + 3, "n")
    expected = []
    for i, value in enumerate(layout):
        row = above + 2 + i
        if value is not None:
            sheet.cell(row, left + 1, value).number_format = "00000"
            sheet.cell(row, left + 3, f"r{i}")
            expected.append((row, f"{value:05d}", f"r{i}"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.xlsx"
        book.save(path)
        file = open_recipients(path, locale="de-DE")
        assert file.columns == ("phone", "n")
        found = [
            (row, phone, n)
            for chunk in file.chunks(["phone", "n"], chunk_rows=3)
            for row, phone, n in zip(chunk.index, chunk["phone"], chunk["n"], strict=True)
        ]
    assert found == expected


# --- blank rows and the file's own line numbers ---------------------------------------------------

SPREAD_CELLS = st.one_of(
    st.text(alphabet='ab ä;,\t"\r\n', max_size=6),
    st.sampled_from(["", " ", '17" screen', "x\ny", "a\r\nb", "\r", '"', '""', ";", ","]),
)
# What spreadsheets write for an empty row, `{d}` standing for the delimiter.
BLANK_LINES = st.sampled_from(["", "{d}{d}", " {d} {d} ", '""{d}""{d}""', "{d}", "  ", '" "'])


def _csv_cell(cell: str, delimiter: str, how: str) -> str:
    """A cell as a spreadsheet writes it: quoted when it must be (or always), else as it is."""
    must = (
        any(c in cell for c in (delimiter, "\n", "\r"))
        or cell.startswith('"')
        or cell != cell.strip(" ")  # pyarrow keeps a quote after a space literally
    )
    if must or how == "all":
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def spreadsheet_exports(draw: st.DrawFn) -> tuple[bytes, str, list[list[str]], list[int]]:
    """A CSV with blank rows (and perhaps an unnamed empty last column) anywhere: its bytes,
    its encoding, the data rows it holds and the line each starts on, counted as we write."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    how = draw(st.sampled_from(["minimal", "all"]))
    trailing = draw(st.booleans())  # Excel's unnamed empty last column: `a;b;c;`
    rows = draw(st.lists(st.lists(SPREAD_CELLS, min_size=3, max_size=3), max_size=12))
    blanks = draw(st.lists(st.tuples(st.integers(0, 12), BLANK_LINES), max_size=6))
    lines: list[str] = [delimiter.join(["a", "b", "c"]) + (delimiter if trailing else "")]
    kinds: list[list[str] | None] = [None]
    for i, row in enumerate(rows):
        for at, blank in blanks:
            if at == i:
                lines.append(blank.format(d=delimiter))
                kinds.append(None)
        cells = [_csv_cell(c, delimiter, how) for c in row]
        lines.append(delimiter.join(cells) + (delimiter if trailing else ""))
        kinds.append(row)
    for at, blank in blanks:
        if at >= len(rows):
            lines.append(blank.format(d=delimiter))
            kinds.append(None)
    end = draw(st.sampled_from([newline, ""]))
    text = newline.join(lines) + end
    expected: list[list[str]] = []
    starts: list[int] = []
    line = 1
    for written, row in zip(lines, kinds, strict=True):
        if row is not None and any(c.strip(" \t\r\n") for c in row):
            expected.append(row)
            starts.append(line)
        # Every line break in what was written moves the next record down: CRLF counts once.
        line += written.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    return text.encode(encoding), encoding.removesuffix("-sig"), expected, starts


@given(export=spreadsheet_exports(), block=st.sampled_from([3, 7, 64, 1 << 20]))
# A quoted tab in a TSV file is white space, not the delimiter's text: the record is blank.
@example(export=(b'a\tb\tc\n\t\t\n\t\t"\t"\n', "utf-8", [], []), block=3)
def test_blank_rows_and_columns_leave_rows_and_line_numbers_alone(
    export: tuple[bytes, str, list[list[str]], list[int]], block: int
) -> None:
    """Blank rows and an unnamed empty column anywhere in a CSV do not change the rows read,
    and each row's number is the line its record starts on (whatever the scanner's block)."""
    from rcsbatch.recipients import csvlines
    from rcsbatch.recipients.read import open_recipients

    content, encoding, expected, starts = export
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvlines, "BLOCK", block)
        path = Path(folder) / "people.csv"
        path.write_bytes(content)
        file = open_recipients(path, encoding=encoding)
        assert file.columns == ("a", "b", "c")
        chunks = list(file.chunks(["a", "b", "c"], chunk_rows=4))
    got = [
        [None if v is None or v != v else v for v in row]
        for chunk in chunks
        for row in chunk.astype(object).itertuples(index=False)
    ]
    want = [[c.strip() or None for c in row] for row in expected]
    assert got == want
    assert [int(i) for chunk in chunks for i in chunk.index] == starts
