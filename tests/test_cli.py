"""The command line through click's CliRunner: exit codes, stdout/stderr, messages."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from conftest import CampaignFactory

from rcsbatch.campaign.file import load_campaign
from rcsbatch.cli import cli
from rcsbatch.simulator import Faults, SimulatorServer
from rcsbatch.state.paths import journal_path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-test-3f9a2c1b7d5e4f60"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example campaign and its data, so reports land in tmp_path."""
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    return tmp_path / "campaigns" / "example.toml"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorServer]:
    """A simulator that takes the place of seven, with the key set in the environment."""
    with SimulatorServer(Faults()) as server:
        monkeypatch.setenv("SEVEN_BASE_URL", server.base_url)
        monkeypatch.setenv("SEVEN_API_KEY", SECRET)
        yield server


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def run_folder(result: Result) -> Path:
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder.is_dir(), result.stdout
    return folder


def test_simulated_run_prints_the_run_folder_and_exits_0(example: Path) -> None:
    """`run --simulate` sends the valid rows, writes the report, prints its folder on stdout."""
    result = invoke("run", str(example), "--simulate")
    assert result.exit_code == 0, result.stderr
    folder = run_folder(result)
    assert folder.parent.parent == example.parent.parent / "reports"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["counts"] == {"sent": 11, "invalid": 3, "duplicate": 1, "suppressed": 1}
    assert summary["simulated"] is True
    assert "11 sent" in result.stderr and "(simulated)" in result.stderr
    assert (folder / "results.csv").exists() and (folder / "results.parquet").exists()


def test_quiet_run_prints_only_the_folder(example: Path) -> None:
    """`-q` silences the human summary; stdout still names the run folder."""
    result = invoke("run", str(example), "--simulate", "-q")
    assert result.exit_code == 0
    assert result.stderr == ""
    run_folder(result)


def test_real_key_run_never_shows_the_key(example: Path, gateway: SimulatorServer) -> None:
    """With SEVEN_API_KEY and SEVEN_BASE_URL set, the run sends there; the key appears nowhere."""
    result = invoke("run", str(example), "-v")
    assert result.exit_code == 0, result.stderr
    assert len(gateway.backend.accepted()) == 11
    folder = run_folder(result)
    assert SECRET not in result.stdout + result.stderr
    for path in folder.parent.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_second_run_sends_nothing_again(example: Path, gateway: SimulatorServer) -> None:
    """Running the same campaign twice never sends a message twice."""
    assert invoke("run", str(example)).exit_code == 0
    second = invoke("run", str(example))
    assert second.exit_code == 0
    assert len(gateway.backend.accepted()) == 11
    summary = json.loads((run_folder(second) / "summary.json").read_text())
    assert summary["counts"]["sent"] == 11
    assert summary["this_run"] == {"sent": 0, "cost": "0"}
    assert "this run: 0 sent" in second.stderr


def test_limit_sends_n_and_reports_the_rest_not_sent(
    example: Path, gateway: SimulatorServer
) -> None:
    """`--limit 4` sends four messages; the other valid rows are `not_sent` and the exit is 1."""
    result = invoke("run", str(example), "--limit", "4")
    assert result.exit_code == 1
    assert len(gateway.backend.accepted()) == 4
    frame = pd.read_parquet(run_folder(result) / "results.parquet")
    assert (frame["status"] == "sent").sum() == 4
    assert (frame["status"] == "not_sent").sum() == 7


def test_gateway_stop_exits_3_with_one_clear_line(example: Path, gateway: SimulatorServer) -> None:
    """A refused key stops the run at once: nothing sent, exit 3, a line saying what to do."""
    gateway.set_faults(refuse_key=SECRET)
    result = invoke("run", str(example))
    assert result.exit_code == 3
    assert gateway.backend.accepted() == []
    assert "SEVEN_API_KEY" in result.stderr
    assert SECRET not in result.stderr


def test_run_without_key_says_how_to_start(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key and without --simulate, `run` explains the options and exits 2."""
    monkeypatch.delenv("SEVEN_API_KEY", raising=False)
    result = invoke("run", str(example))
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: no API key: set SEVEN_API_KEY to your seven API key (seven's dashboard → "
        "Developer → API keys), or try the campaign first with --dry-run or --simulate\n"
    )


@pytest.mark.parametrize("args", [(), ("--dry-run",)], ids=["run", "dry-run"])
def test_run_says_the_recipients_trouble_before_the_key(
    make_campaign: CampaignFactory, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """A recipient file that is missing is said before a key that is malformed, as the file
    comes first: exit 2, nothing about the key."""
    campaign = make_campaign()
    campaign.recipients.unlink()
    monkeypatch.setenv("SEVEN_API_KEY", "kéy")
    result = invoke("run", str(campaign.path), *args)
    assert result.exit_code == 2
    assert campaign.recipients.name in result.stderr and "SEVEN_API_KEY" not in result.stderr


def test_dry_run_writes_a_marked_folder_and_sends_nothing(
    example: Path, gateway: SimulatorServer
) -> None:
    """`--dry-run` writes a `-dry-run` folder with `ready` rows and sends nothing; with a key
    it shows the account's balance (its only request)."""
    result = invoke("run", str(example), "--dry-run")
    assert result.exit_code == 1  # the example has invalid rows
    folder = run_folder(result)
    assert folder.name.endswith("-dry-run")
    assert gateway.backend.stats()["by_endpoint"] == {"balance": 1}
    assert "balance: 500 EUR" in result.stderr
    frame = pd.read_parquet(folder / "results.parquet")
    assert (frame["status"] == "ready").sum() == 11
    assert "estimated cost: 0.55 EUR" in result.stderr
    assert 'row 2 would go as: {"to": "4917612345678", "text": "Hi Anna' in result.stderr


@pytest.mark.parametrize(
    ("how", "expected"),
    [("option", "opt"), ("env", "env"), ("campaign", "reports")],
)
def test_report_folder_is_resolved_in_order(
    example: Path, how: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--report-dir beats $RCSBATCH_REPORT_DIR, which beats the campaign's report_dir."""
    base = example.parent.parent
    args = ["run", str(example), "--dry-run"]
    if how == "option":
        args += ["--report-dir", str(base / "opt")]
    if how in ("option", "env"):
        monkeypatch.setenv("RCSBATCH_REPORT_DIR", str(base / "env"))
    else:
        monkeypatch.delenv("RCSBATCH_REPORT_DIR", raising=False)
    folder = run_folder(invoke(*args))
    assert folder.parent.parent == base / expected


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("ttl = 2880", "ttl = 0"), ["message.ttl", "example.toml"]),
        (("concurrency = 16", 'concurrency = "many"'), ["send.concurrency"]),
        (("rate = 0", "rate = 0\nspeed = 3"), ["send.speed", "not a campaign setting"]),
        (("{code}", "{coupon}"), ["`coupon`", "`customer_id`", "`phone`"]),
        (("customers.csv", "nobody.csv"), ["nobody.csv", "no such recipient file"]),
        (('phone_column = "phone"', 'phone_column = "mobile"'), ["`mobile`", "`phone`"]),
    ],
)
def test_bad_campaign_exits_2_naming_the_problem(
    example: Path, edit: tuple[str, str], words: list[str]
) -> None:
    """A wrong key, type, value, placeholder or path is a one-line error with exit 2."""
    text = example.read_text().replace(*edit)
    example.write_text(text)
    for command in (
        ["run", str(example), "--simulate"],
        ["validate", str(example)],
        ["preview", str(example)],
    ):
        result = invoke(*command)
        assert result.exit_code == 2, (command, result.stderr)
        assert "Traceback" not in result.stderr
        for word in words:
            assert word in result.stderr, (command, result.stderr)
    assert not (example.parent.parent / "reports").exists()


def test_validate_lists_problem_rows_and_exits_1(example: Path) -> None:
    """`validate` counts every status and lists the rows that will not be sent."""
    result = invoke("validate", str(example))
    assert result.exit_code == 1
    assert "11 ready" in result.stderr and "3 invalid" in result.stderr
    assert "same recipient as row 2" in result.stdout  # Anna, line 2 (the header is 1)
    assert "in the suppress list" in result.stdout


def test_number_types_show_in_validate_preview_and_dry_run(example: Path) -> None:
    """A landline is a problem row with its type; a VoIP number is ready with a warning that
    validate counts and lists, preview prints with its row, and the dry run counts."""
    data = example.parent.parent / "sample_data" / "customers.csv"
    data.write_text(
        "customer_id,first_name,phone,code,segment\n"
        "C1,Anna,+44 56 1234 5678,X,vip\n"
        "C2,Ben,+49 30 1234567,Y,vip\n"
        "C3,Cem,'\uff10\uff11\uff17\uff16 12345678,Z,vip\n"
    )
    result = invoke("validate", str(example))
    assert result.exit_code == 1
    assert "2 ready" in result.stderr and "1 invalid" in result.stderr
    assert "warning: 1 ready row has a number to look at (1 voip)" in result.stderr
    assert "a landline number" in result.stdout and "(fixed_line)" in result.stdout
    assert "Rows sent with a warning" in result.stdout and "(voip)" in result.stdout
    preview = invoke("preview", str(example), "-n", "2", "--json")
    assert preview.exit_code == 0
    assert "row 2: warning: an internet telephony (VoIP) number (voip)" in preview.stderr
    assert [json.loads(line)["to"] for line in preview.stdout.splitlines()] == [
        "445612345678",
        "4917612345678",
    ]
    dry = invoke("run", str(example), "--dry-run")
    assert "(1 voip)" in dry.stderr
    summary = json.loads((run_folder(dry) / "summary.json").read_text())
    assert summary["warnings"] == {"voip": 1}


def test_validate_exits_0_when_every_row_is_fine(example: Path) -> None:
    """A campaign with no invalid row validates with exit 0."""
    data = example.parent.parent / "sample_data" / "customers.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:9]) + "\n")  # header + rows 2-9, all valid
    result = invoke("validate", str(example))
    assert result.exit_code == 0, result.stdout


def test_validate_skips_blank_spreadsheet_rows_and_columns(example: Path) -> None:
    """Rows of only delimiters and a delimiter after every line (an Excel export's empty rows
    and column) are no rows: validate exits 0, counting and numbering only the real ones."""
    data = example.parent.parent / "sample_data" / "customers.csv"
    lines = data.read_text().splitlines()[:9]  # header + rows 2-9, all valid
    lines[3:3] = [",,,,", " , ,,,"]
    data.write_text("".join(line + ",\r\n" for line in lines) + ",,,,,")
    result = invoke("validate", str(example))
    assert result.exit_code == 0, result.stdout
    assert "8 rows" in result.stderr
    shown = invoke("preview", str(example), "-n", "3", "--json")
    assert [json.loads(line)["row"] for line in shown.stdout.splitlines()] == [2, 3, 6]


def test_preview_json_shows_the_exact_request(example: Path) -> None:
    """`preview --json` prints one request body per line, merged as the gateway gets it."""
    result = invoke("preview", str(example), "-n", "2", "--json")
    assert result.exit_code == 0
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {
        "row": 2,
        "to": "4917612345678",
        "text": "Hi Anna, your code SPRING-7Q2 is valid until Sunday.",
        "from": "myfancyagent",
        "label": "spring_2026",
        "foreign_id": "C1001",
        "ttl": 2880,
        "fallback": "sms",
    }
    assert second["to"] == "4917622223333"


def test_preview_table_uses_defaults_for_empty_cells(example: Path) -> None:
    """`preview` fills an empty cell from [message.defaults] (row 3 has no first name)."""
    result = invoke("preview", str(example), "-n", "3")
    assert result.exit_code == 0
    assert "Hi there, your code SPRING-X1M" in result.stdout


def test_help_lists_the_exit_codes() -> None:
    """`--help` of the group and of `run` state the exit-code contract."""
    for args in (["--help"], ["run", "--help"]):
        out = invoke(*args).stdout
        for code in ("0 ", "1 ", "2 ", "3 ", "130"):
            assert code in out
        assert "gateway stopped the run" in out


def test_progress_bar_draws_on_a_terminal_only() -> None:
    """The progress bar shows count and rate on a terminal; without one it writes nothing."""
    import io

    from rich.console import Console

    from rcsbatch.progress import Progress
    from rcsbatch.state.journal import Outcome

    for terminal in (True, False):
        buffer = io.StringIO()
        console = Console(file=buffer, force_terminal=terminal, width=100)
        with Progress(console, enabled=console.is_terminal) as progress:
            progress.start(3)
            for i in range(3):
                progress.advance(Outcome(i, "sent", 1, 0.0, 0.0))
            if terminal:
                progress._bar.refresh()  # type: ignore[union-attr]
        text = buffer.getvalue()
        assert ("sending" in text and "3/3" in text) is terminal, text


def test_second_run_while_one_holds_the_lock_exits_4(
    example: Path, gateway: SimulatorServer
) -> None:
    """A run of a campaign whose lock another run holds sends nothing and exits 4."""
    from rcsbatch.gateway.config import Gateway
    from rcsbatch.state.paths import campaign_lock, campaign_state

    account = Gateway(gateway.base_url, SECRET)
    with campaign_lock(campaign_state(load_campaign(example), account).lock):
        result = invoke("run", str(example))
    assert result.exit_code == 4
    assert "another run of this campaign" in result.stderr
    assert gateway.backend.accepted() == []
    assert invoke("run", str(example)).exit_code == 0  # released: the next run goes


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:8089/api",
        "ftp://gateway/api",
        "http:///api",
        "http://127.0.0.1:99999/api",
        "http://127.0.0.1:0/api",
        "http://127.0.0.1:80a/api",
        "http://[::1/api",
    ],
)
def test_a_base_url_that_is_not_http_is_an_input_error(
    example: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped $SEVEN_BASE_URL exits 2 before anything is recorded or sent."""
    monkeypatch.setenv("SEVEN_API_KEY", SECRET)
    monkeypatch.setenv("SEVEN_BASE_URL", url)
    result = invoke("run", str(example))
    assert result.exit_code == 2, result.output
    assert "SEVEN_BASE_URL" in result.stderr


def test_quiet_still_says_why_the_gateway_stopped_the_run(
    example: Path, gateway: SimulatorServer
) -> None:
    """-q silences the summary, not the one line that explains exit 3."""
    gateway.set_faults(refuse_key=SECRET)
    result = invoke("run", str(example), "-q")
    assert result.exit_code == 3
    assert "SEVEN_API_KEY" in result.stderr


def test_dry_run_after_a_run_counts_only_what_would_still_go(
    example: Path, gateway: SimulatorServer
) -> None:
    """Rows an earlier run settled show their status in a dry run and are not estimated."""
    assert invoke("run", str(example), "--limit", "4").exit_code == 1
    result = invoke("run", str(example), "--dry-run")
    frame = pd.read_parquet(run_folder(result) / "results.parquet")
    assert (frame["status"] == "sent").sum() == 4
    assert (frame["status"] == "ready").sum() == 7
    assert "estimated cost: 0.35 EUR" in result.stderr


def test_dry_run_that_fails_midway_leaves_no_folder(example: Path) -> None:
    """A recipient file that breaks after its first rows leaves no half-written run folder."""
    data = example.parent.parent / "sample_data" / "customers.csv"
    data.write_bytes(data.read_bytes() + b"C2000,Zo\xff\xfe,0176 99990000,X,vip\n")
    result = invoke("run", str(example), "--dry-run")
    assert result.exit_code == 2
    assert "encoding" in result.stderr
    campaign_dir = example.parent.parent / "reports" / "spring-sale"
    # Neither a run folder nor the hidden one it was being written in.
    assert not campaign_dir.exists() or not [p for p in campaign_dir.iterdir() if p.is_dir()]


def test_unusable_report_folder_and_damaged_journal_are_input_errors(example: Path) -> None:
    """A report folder that cannot be made, or a journal that is not one, exits 2 with a hint."""
    blocker = example.parent.parent / "afile"
    blocker.write_text("not a folder")
    result = invoke("run", str(example), "--simulate", "--report-dir", str(blocker / "x"))
    assert result.exit_code == 2 and "--report-dir" in result.stderr
    journal = journal_path(load_campaign(example), "simulator")
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(b"garbage" * 200)
    for args in (["--simulate"], ["--dry-run"]):
        result = invoke("run", str(example), *args)
        assert result.exit_code == 2, result.stderr
        assert "journal" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [(["preview"], 2), (["run", "--dry-run"], 2), (["validate"], 2), (["run", "--simulate"], 1)],
)
def test_a_delay_whose_validity_has_passed_is_refused_or_expired(
    example: Path, args: list[str], code: int
) -> None:
    """A delay over ttl ago: checks exit 2 with a hint (preview, dry run crashed); runs expire."""
    text = example.read_text().replace("ttl = 2880", 'ttl = 60\ndelay = "2026-01-01 09:00"')
    example.write_text(text)
    result = invoke(args[0], str(example), *args[1:])
    assert result.exit_code == code, result.output
    if code == 2:
        assert "`message.delay` (2026-01-01 08:00 UTC) plus `message.ttl` (60" in result.stderr
    else:
        summary = json.loads((run_folder(result) / "summary.json").read_text())
        assert summary["counts"]["expired"] == 11


# ---- test sends -----------------------------------------------------------------------------


def test_test_to_sends_the_first_rows_to_the_number_and_prints_the_results_file(
    example: Path, gateway: SimulatorServer
) -> None:
    """`run --test-to` sends three rows to the number, prints the results file, exits 0; the
    campaign's own run afterwards still sends all 11 rows."""
    result = invoke("run", str(example), "--test-to", "0176 99990001")
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.parent.name == "test-sends" and path.suffix == ".csv"
    assert {m.to for m in gateway.backend.accepted()} == {"4917699990001"}
    assert len(gateway.backend.accepted()) == 3
    assert "row 2 → +4917699990001: sent" in result.stderr and "3 sent" in result.stderr
    full = invoke("run", str(example))
    assert full.exit_code == 0
    summary = json.loads((run_folder(full) / "summary.json").read_text())
    assert summary["counts"]["sent"] == 11 and summary["this_run"]["sent"] == 11


def test_test_uses_the_file_numbers_and_dry_run_sends_nothing(
    example: Path, gateway: SimulatorServer
) -> None:
    """`run --test` takes [test] numbers; with --dry-run it only shows the requests."""
    shown = invoke("run", str(example), "--test", "--rows", "3", "--dry-run")
    assert shown.exit_code == 0 and gateway.backend.accepted() == []
    assert "row 3 would go to +4917699990001" in shown.stderr
    assert '"label": "spring_2026-test"' in shown.stderr
    sent = invoke("run", str(example), "--test", "--rows", "3")
    assert sent.exit_code == 0, sent.stderr
    (message,) = gateway.backend.accepted()
    assert message.to == "4917699990001" and message.text.startswith("Hi Ben")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--test-to", "12"], r"'12' is not a valid number .*\(--test-to\)"),
        (["--test"], r"no test numbers.*\(--test-to\)"),
        (["--test-to", "+4917699990001", "--rows", "2,10"], r"row 10 is invalid.*\(--rows\)"),
        (["--test-to", "+4917699990001", "--rows", "1"], r"the header is row 1.*\(--rows\)"),
        (["--test-to", "+4917699990001", "--rows", "x"], r"'x'.*\(--rows\)"),
        (["--rows", "2"], "give --test-to or --test"),
        (["--test-to", "+4917699990001", "--limit", "1"], "--limit does not go with"),
    ],
)
def test_bad_test_send_options_exit_2_before_any_request(
    example: Path, gateway: SimulatorServer, args: list[str], message: str
) -> None:
    """A bad number, no numbers, a row that is not ready or a misplaced option: exit 2 with the
    flag to fix named, nothing sent."""
    if args == ["--test"]:  # the example without its [test] table
        example.write_text(example.read_text(encoding="utf-8").split("\n[test]")[0])
    result = invoke("run", str(example), *args)
    assert result.exit_code == 2, result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert gateway.backend.accepted() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["event", "--to", "12", "--event", "READ"], r"'12' is not a valid number .*\(--to\)$"),
        (["event", "--to", "+4917699990001", "--event", "WAVE"], r"READ, IS_TYPING \(--event\)$"),
        (["event", "--event", "READ"], "give exactly one of --to NUMBER and --msg-id ID"),
        (["event", "--to", "+4917699990001", "--msg-id", "7", "--event", "READ"], "--msg-id ID"),
        (["event", "--to", "0176 1", "--event", "READ", "--region", "XX"], r"\(--region\)$"),
        (["event", "--file", "{replies}"], r"or give a default\).*\(--event\)$"),
        (["capabilities", "{people}", "--region", "XX"], r"'XX' is not a known .*\(--region\)$"),
        (["capabilities", "{people}", "--phone-column", "mobile"], r"\(--phone-column\)$"),
        (["capabilities", "{people}", "--max-age", "30 days"], r"e\.g\. 30d \(--max-age\)$"),
        (["webhook", "serve", "{campaign}", "--public-url", "ftp://h.x/"], r"\(--public-url\)$"),
        (["report", "{campaign}"], r"give the report folder it ran in with --report-dir$"),
    ],
)
def test_input_errors_name_the_flag_that_fixes_them(
    example: Path, gateway: SimulatorServer, args: list[str], message: str, tmp_path: Path
) -> None:
    """The library's error names its parameter; the command line names the flag instead and
    exits 2 before any request."""
    people = tmp_path / "people.csv"
    people.write_text("phone\n+4917699990001\n")
    replies = tmp_path / "replies.csv"
    replies.write_text("to,event\n+4917699990001,\n")
    files = {"people": str(people), "replies": str(replies), "campaign": str(example)}
    env = {"SEVEN_SIGNING_KEY": "whsec-test"}
    result = invoke(*(a.format(**files) for a in args), env=env)
    assert result.exit_code == 2, result.stderr
    assert re.search(message, result.stderr.strip()), result.stderr
    assert gateway.backend.accepted() == [] and gateway.backend.events == []


def test_a_failed_test_message_exits_1_and_a_refused_key_3(
    example: Path, gateway: SimulatorServer
) -> None:
    """Exit codes as for run: 1 when a test message failed, 3 when the gateway stopped it."""
    gateway.set_faults(refuse={"4917699990001": 202})
    assert invoke("run", str(example), "--test-to", "+4917699990001").exit_code == 1
    gateway.set_faults(refuse_key=SECRET)
    stopped = invoke("run", str(example), "--test-to", "+4917699990002")
    assert stopped.exit_code == 3 and "stopped by the gateway" in stopped.stderr


def test_simulated_test_send(example: Path) -> None:
    """`run --test-to … --simulate` sends through the built-in simulator."""
    result = invoke("run", str(example), "--test-to", "+4917699990001", "--simulate")
    assert result.exit_code == 0, result.stderr
    with Path(result.stdout.strip()).open(encoding="utf-8") as handle:
        assert [line.split(",")[2] for line in handle][1:] == ["sent"] * 3


@pytest.mark.parametrize(
    ("args", "code", "sent"),
    [
        (["--dry-run"], 1, 0),  # the example's invalid rows would not be sent
        (["--test", "--dry-run"], 0, 0),
        (["--test-to", "+4917699990001", "--dry-run"], 0, 0),
        (["--test-to", "+4917699990001"], 0, 3),  # the three test messages, not the campaign
    ],
)
def test_a_run_ends_where_its_command_returns_even_when_sys_exit_returns(
    example: Path,
    gateway: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    sent: int,
) -> None:
    """The run command returns its exit code rather than exiting: with sys.exit doing nothing,
    a dry run (of the campaign or of a test send) sends nothing, and a test send sends only its
    test messages, never falling through to the campaign's send."""
    exits: list[object] = []
    monkeypatch.setattr(sys, "exit", exits.append)
    assert cli.main(["run", str(example), *args], standalone_mode=False) == code
    assert exits == [] and len(gateway.backend.accepted()) == sent


def _with_max_cost(example: Path, cap: str) -> None:
    text = example.read_text()
    example.write_text(text.replace("[send]\n", f"[send]\nmax_cost = {cap}\n", 1))


@pytest.mark.parametrize("command", [("validate",), ("run", "--dry-run")])
def test_validate_and_dry_run_refuse_what_run_would_refuse_for_max_cost(
    example: Path, command: tuple[str, ...]
) -> None:
    """11 ready rows at 0.05 = 0.55 > max_cost 0.30: exit 2 with run's message, no folder."""
    _with_max_cost(example, "0.30")
    refused = invoke("run", str(example), "--simulate")
    result = invoke(*command, str(example))
    assert (result.exit_code, refused.exit_code) == (2, 2), result.stderr
    message = "this run would pass [send] max_cost = 0.3:"
    assert message in result.stderr and message in refused.stderr
    assert not (example.parent.parent / "reports" / "spring-sale").exists() or not [
        p for p in (example.parent.parent / "reports" / "spring-sale").iterdir() if p.is_dir()
    ]


def test_the_dry_run_budget_counts_the_cost_so_far_from_the_journal(
    example: Path, gateway: SimulatorServer
) -> None:
    """After 4 rows sent, the 7 left (0.35) fit a 0.40 cap alone but not with what was spent."""
    assert invoke("run", str(example), "--limit", "4").exit_code == 1
    _with_max_cost(example, "0.40")
    for command in (("validate",), ("run", "--dry-run")):
        result = invoke(*command, str(example))
        assert result.exit_code == 2, result.stderr
        assert "spent so far 0.19, estimate for 7 messages 0.35" in result.stderr
    example.write_text(example.read_text().replace("max_cost = 0.40", "max_cost = 1"))
    assert invoke("run", str(example), "--dry-run").exit_code == 1  # 3 invalid rows, not 2


def test_a_long_wait_says_one_line_on_stderr_without_a_terminal(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal (cron) a wait the run announces is a line on stderr, so the log shows
    why the run is quiet; -q leaves it out. (The notice threshold is lowered to the
    simulator's 1 s Retry-After to keep the test short.)"""
    monkeypatch.setattr("rcsbatch.engine.sender.WAIT_NOTICE", 0.5)
    # Scripted, not a rate: a 0.6 rate over 4 rows left some runs without any 429 to wait for.
    with SimulatorServer(Faults(script=["429", "429"], retry_after=1.0)) as server:
        env = {"SEVEN_BASE_URL": server.base_url, "SEVEN_API_KEY": SECRET}
        result = invoke("run", str(example), "--limit", "4", env=env)
    assert result.exit_code in (0, 1), result.stderr
    assert "waiting 1s: the gateway asks to slow down (429, Retry-After)" in result.stderr
    assert SECRET not in result.stderr


def _with_brackets(example: Path) -> None:
    """The example campaign with markup-like brackets in its text and in a phone cell."""
    toml = example.read_text().replace(
        'text = "Hi {first_name}, your code {code} is valid until Sunday."',
        'text = "Hi [i]{first_name}[/i] [/STOP]"',
    )
    example.write_text(toml)
    data = example.parent.parent / "sample_data" / "customers.csv"
    lines = data.read_text().splitlines()
    lines.append("C9001,Zoe,[/x]0176 1234567,SPRING-ZZZ,regular")
    data.write_text("\n".join(lines) + "\n")


def test_preview_and_validate_print_data_literally_never_as_markup(example: Path) -> None:
    """Brackets in a template or a cell are text: shown as written, and no MarkupError."""
    _with_brackets(example)
    result = invoke("preview", str(example), "-n", "1")
    assert result.exit_code == 0, result.output
    assert "Hi [i]Anna[/i] [/STOP]" in result.stdout
    result = invoke("validate", str(example), "--show", "100")
    assert result.exit_code == 1
    assert "[/x]0176" in result.stdout


def test_control_characters_never_reach_the_terminal(example: Path) -> None:
    """A row with ESC in a cell is invalid with the reason, and no raw ESC is printed."""
    data = example.parent.parent / "sample_data" / "customers.csv"
    lines = data.read_text().splitlines()
    lines[1] = lines[1].replace("Anna", "\x1b[31mAnna")
    lines.append("C9001,Zoe,\x1b]0;owned\x07+49 176 1234567,SPRING-ZZZ,regular")
    data.write_text("\n".join(lines) + "\n")
    result = invoke("validate", str(example), "--show", "100")
    assert result.exit_code == 1
    assert "U+001B (ESC)" in result.stdout
    assert "\\x1b" in result.stdout
    result_preview = invoke("preview", str(example), "-n", "20")
    assert result_preview.exit_code == 0
    assert "Anna" not in result_preview.stdout  # row 1 is invalid now
    for out in (result.stdout, result.stderr, result_preview.stdout, result_preview.stderr):
        assert "\x1b" not in out and "\x07" not in out


def test_simulator_port_out_of_range_is_a_usage_error() -> None:
    """A port past 65535 is one clean line, exit 2, not an OverflowError from the socket."""
    result = invoke("simulator", "--port", "99999")
    assert result.exit_code == 2
    assert "99999" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["run"], ["run", "--dry-run"], ["validate"]])
def test_non_ascii_api_key_is_refused_before_any_request(
    example: Path, gateway: SimulatorServer, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """A key with a pasted “smart” character: exit 2 saying so, the key never shown."""
    key = SECRET[:6] + "\u2013" + SECRET[7:]
    monkeypatch.setenv("SEVEN_API_KEY", key)
    result = invoke(command[0], str(example), *command[1:])
    assert result.exit_code == 2, result.output
    assert "not ASCII" in result.output
    assert key not in result.output and SECRET[:6] not in result.output
    assert gateway.backend.accepted() == []


@pytest.mark.parametrize("inside", ["\n", "\r\n", "\t", "\x7f"])
def test_api_key_with_a_control_character_is_refused_before_any_request(
    example: Path, gateway: SimulatorServer, monkeypatch: pytest.MonkeyPatch, inside: str
) -> None:
    """A key of two lines (or with a tab, a DEL): exit 2 saying so, not aiohttp's traceback
    about header injection, and the key never shown."""
    key = SECRET[:6] + inside + SECRET[6:]
    monkeypatch.setenv("SEVEN_API_KEY", key)
    result = invoke("run", str(example))
    assert result.exit_code == 2, result.output
    assert "control character" in result.output and "Traceback" not in result.output
    assert SECRET[:6] not in result.output and SECRET[6:] not in result.output
    assert gateway.backend.accepted() == []


def test_agents_with_non_ascii_api_key_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command that asks the gateway checks the key the same way."""
    monkeypatch.setenv("SEVEN_API_KEY", "schlüssel")
    result = invoke("agents")
    assert result.exit_code == 2 and "not ASCII" in result.output
    assert "schlüssel" not in result.output


def _run_simulated(example: Path, stdout: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rcsbatch", "run", str(example), "--simulate", "-q"],
        stdout=stdout,
        stderr=subprocess.PIPE,
    )


def test_run_folder_on_a_full_stdout_keeps_the_exit_code(example: Path) -> None:
    """/dev/full as stdout: one line on stderr naming the folder, the run's own exit code."""
    with open("/dev/full", "w") as full:
        child = _run_simulated(example, full)
        _, err = child.communicate(timeout=120)
    text = err.decode()
    assert child.returncode == 0, text
    assert "Traceback" not in text and "cannot print" in text


def test_run_folder_to_a_closed_pipe_is_quiet(example: Path) -> None:
    """`rcsbatch run … | head -0`: the reader left; no traceback, the run's own exit code."""
    child = _run_simulated(example, subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.close()  # before the run prints its folder
    _, err = child.communicate(timeout=120)
    text = err.decode()
    assert child.returncode == 0, text
    assert "Traceback" not in text and "Broken pipe" not in text


def test_simulator_api_key_with_non_ascii_is_a_usage_error() -> None:
    """`simulator --api-key` with a pasted “smart” character: exit 2 saying why; no client
    could ever send such a key, so every request would have been refused."""
    result = invoke("simulator", "--api-key", "schl\u00fcssel")
    assert result.exit_code == 2
    assert "--api-key" in result.output and "ASCII" in result.output


def test_control_characters_in_a_message_never_reach_the_terminal(tmp_path: Path) -> None:
    """A column name holding an OSC sequence (it retitles a terminal) is quoted in the error
    with its control characters written out."""
    (tmp_path / "people.csv").write_text("phone,na\x1b]0;pwned\x07me\n+4917612345678,x\n")
    campaign = tmp_path / "c.toml"
    campaign.write_text('name = "c"\nrecipients = "people.csv"\n[message]\ntext = "Hi {first}"\n')
    result = invoke("validate", str(campaign))
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "na\\x1b]0;pwned\\x07me" in result.output


def test_report_table_shows_gateway_texts_literally(example: Path) -> None:
    """A gateway's error text with ESC and rich markup in it is shown as written, its control
    characters written out, and cannot crash the table (`[/x]`)."""
    assert invoke("run", str(example), "--simulate").exit_code == 0
    campaign = load_campaign(example)
    with sqlite3.connect(journal_path(campaign, "simulator")) as db:
        db.execute(
            "UPDATE messages SET status = 'failed', error_code = '500', "
            "error_text = 'bad \x1b[2J[/x] [bold]thing' WHERE rowid = (SELECT min(rowid) "
            "FROM messages WHERE status = 'sent')"
        )
    db.close()
    result = invoke("report", str(example), "--simulate")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    (line,) = [line for line in result.stdout.splitlines() if "500" in line and "failed" in line]
    assert "bad \\x1b[2J[/x] [bold]thing" in line, result.stdout
