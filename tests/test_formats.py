"""`rcsbatch report` through the CLI in each format, over a campaign with three real runs."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from conftest import CampaignFactory
from history import History, make_history

from rcsbatch.cli import cli
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports import xlsx
from rcsbatch.reports.data import as_dict
from rcsbatch.reports.figures import figures
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.paths import journal_path


@pytest.fixture
def history(make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway) -> History:
    """Three runs with faults, a credit stop and late prices (tests/history.py)."""
    return make_history(make_campaign, sim, gateway)


def report(h: History, *args: str) -> Result:
    return CliRunner().invoke(cli, ["report", str(h.campaign.path), *args], catch_exceptions=False)


def test_json_holds_every_figure_with_exact_money(history: History) -> None:
    """--format json: the figures on stdout, money as exact decimal strings."""
    done = report(history, "--format", "json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    path = journal_path(history.campaign, "simulator")
    expected = as_dict(figures(path, "history"))
    assert {k: v for k, v in data.items() if k != "generated_at"} == {
        k: v for k, v in expected.items() if k != "generated_at"
    }
    assert data["cost"]["cost"] == "0.3462" and data["cost"]["cost_cents"] == "0.35"
    assert data["cost"]["unpriced"] == 2
    assert data["funnel"]["pending"] == 1


def test_csv_is_the_json_in_long_form(history: History, tmp_path: Path) -> None:
    """--format csv -o FILE: section,key,metric,value lines; the path is printed on stdout."""
    out = tmp_path / "r.csv"
    done = report(history, "--format", "csv", "-o", str(out))
    assert done.exit_code == 0 and done.stdout.strip() == str(out)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["section", "key", "metric", "value"]
    value = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}
    assert value[("cost", "total", "cost")] == "0.3462"
    assert value[("status", "sent", "count")] == "9"
    assert value[("error", "202", "count")] == "1"
    assert Decimal(value[("cost_by_country", "DE", "cost")]) == Decimal("0.19")


def test_table_is_the_default_and_shows_cents(history: History) -> None:
    """No --format: rich tables on stdout with the campaign, the cost to the cent, the notes."""
    done = report(history)
    assert done.exit_code == 0
    assert "Campaign history: all runs (3)" in done.stdout
    assert "0.35 EUR" in done.stdout and "no price yet" in done.stdout
    assert "Cost per country" in done.stdout and "Runs" in done.stdout


def test_one_run_with_run(history: History) -> None:
    """--run RUN_ID: only that run's rows and summary."""
    first = history.results[0].run_id
    done = report(history, "--run", first, "--format", "json")
    data = json.loads(done.stdout)
    assert data["run_id"] == first and [r["run_id"] for r in data["runs"]] == [first]
    assert "invalid" not in data["statuses"]


def test_never_run_and_unknown_run_exit_2(history: History, make_campaign: CampaignFactory) -> None:
    """A campaign never run, or a run id it does not have: one line on stderr, exit 2."""
    fresh = make_campaign(2, name="fresh")
    done = CliRunner().invoke(cli, ["report", str(fresh.path)])
    assert done.exit_code == 2 and "never run" in done.stderr and not done.stdout
    done = report(history, "--run", "nope")
    assert done.exit_code == 2 and history.results[0].run_id in done.stderr


def test_report_dir_only_says_where_report_files_go(history: History, tmp_path: Path) -> None:
    """--report-dir points at another folder: the campaign's journal is still found (it lives
    in the state folder, issue 10), and the html report goes into that folder."""
    done = report(history, "--report-dir", str(tmp_path / "elsewhere"), "--format", "html")
    assert done.exit_code == 0, done.stderr
    assert Path(done.stdout.strip()) == tmp_path / "elsewhere" / "history" / "report.html"


def test_xlsx_has_a_summary_and_every_recipient(history: History) -> None:
    """--format xlsx: written into the campaign's report folder; Summary sheet with the total;
    one row per row of the file on the Recipients sheet, with exact prices as numbers."""
    done = report(history, "--format", "xlsx")
    assert done.exit_code == 0
    path = Path(done.stdout.strip())
    assert path == history.campaign.report_dir / "history" / "report.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Summary", "Recipients"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert summary["total cost"] == pytest.approx(0.3462)
    assert summary["messages sent"] == 9
    rows = list(book["Recipients"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("row", "recipient", "country", "status")
    assert [r[0] for r in body] == list(range(2, 14))  # lines: the header is 1
    prices = {r[1]: r[5] for r in body if r[3] == "sent"}
    assert prices["4917610000001"] == pytest.approx(0.0475)


def test_xlsx_rows_beyond_a_sheet_go_on_in_further_sheets(
    history: History, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Past the sheet's row limit (Excel: 1,048,576) rows go on in "Recipients 2", … each
    with its header; none is lost."""
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)  # a header and 4 rows a sheet
    out = tmp_path / "big.xlsx"
    assert report(history, "--format", "xlsx", "-o", str(out)).exit_code == 0
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["Summary", "Recipients", "Recipients 2", "Recipients 3"]
    numbers = []
    for name in book.sheetnames[1:]:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0][0] == "row" and len(rows) <= 5
        numbers += [r[0] for r in rows[1:]]
    assert numbers == list(range(2, 14))


def test_html_is_written_beside_the_journal(history: History) -> None:
    """--format html without -o: report.html in the campaign's folder, path on stdout."""
    done = report(history, "--format", "html")
    path = Path(done.stdout.strip())
    assert done.exit_code == 0 and path.name == "report.html"
    text = path.read_text(encoding="utf-8")
    assert "Campaign report: history" in text and "0.35 EUR" in text


def test_csv_cells_follow_the_formula_rule(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--format csv: a label -lbl, +x, =1+1, @a, tab, CR get a `'`; numbers stay as they are."""
    from test_csvfile import CELLS

    from rcsbatch.reports import data as report_data

    lines = [("cost_by_label", cell, "cost", cell) for cell, _ in CELLS]
    monkeypatch.setattr(report_data, "csv_lines", lambda f: iter(lines))
    done = report(history, "--format", "csv")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout_bytes.decode(), newline="")))
    assert [(r["key"], r["value"]) for r in rows] == [(w, w) for _, w in CELLS]


def test_csv_excel_has_a_bom_semicolons_and_decimal_commas(
    history: History, tmp_path: Path
) -> None:
    """--csv excel: BOM, `;`, `0,3462`; the default: no BOM, `,`, `0.3462`."""
    excel, standard = tmp_path / "excel.csv", tmp_path / "standard.csv"
    assert report(history, "--format", "csv", "--csv", "excel", "-o", str(excel)).exit_code == 0
    assert report(history, "--format", "csv", "-o", str(standard)).exit_code == 0
    data = excel.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfsection;key;metric;value\r\n")
    assert b"cost;total;cost;0,3462\r\n" in data
    plain = standard.read_bytes()
    assert plain.startswith(b"section,key,metric,value\r\n")
    assert b"cost,total,cost,0.3462\r\n" in plain
    piped = report(history, "--format", "csv", "--csv", "excel", "-o", "-").stdout_bytes
    assert piped.startswith(b"\xef\xbb\xbfsection;key;metric;value\r\n")


def test_csv_dialect_of_the_campaign_is_the_default(
    history: History, make_campaign: CampaignFactory
) -> None:
    """`csv_dialect = "excel"` in the campaign file makes report --format csv excel's."""
    text = history.campaign.path.read_text(encoding="utf-8")
    history.campaign.path.write_text('csv_dialect = "excel"\n' + text, encoding="utf-8")
    done = report(history, "--format", "csv")
    assert done.exit_code == 0, done.output
    assert done.stdout_bytes.startswith(b"\xef\xbb\xbfsection;key;metric;value\r\n")
    standard = report(history, "--format", "csv", "--csv", "standard")
    assert standard.stdout_bytes.startswith(b"section,key,metric,value\r\n")


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "xlsx", "html"])
def test_output_dash_is_stdout(
    history: History, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-o - writes the report to stdout in every format (xlsx and html as bytes), no file `-`."""
    monkeypatch.chdir(tmp_path)
    done = report(history, "--format", fmt, "-o", "-")
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "-").exists()
    assert not list(history.campaign.report_dir.rglob(f"report.{fmt}"))
    data = done.stdout_bytes
    if fmt == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        assert "Summary" in book.sheetnames
    elif fmt == "html":
        assert data.lstrip().lower().startswith(b"<!doctype html")
    elif fmt == "json":
        assert json.loads(data)["cost"]["cost"] == "0.3462"
    else:
        assert b"0.3462" in data or b"0.35" in data
