"""`rcsbatch event`: one event or a file of them, checked first, retried narrowly, reported."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import API_KEY

from rcsbatch.actions import events
from rcsbatch.cli import cli
from rcsbatch.errors import InputError
from rcsbatch.gateway.client import GatewayClient
from rcsbatch.simulator import SimulatorServer


async def _no_sleep(seconds: float) -> None:
    return None


def send(sim: SimulatorServer, items: list[events.Event], **kw: object) -> list[events.Event]:
    async def go() -> list[events.Event]:
        async with GatewayClient(sim.base_url, API_KEY) as client:
            done, _ = await events.send_events(client, items, sleep=_no_sleep, **kw)  # type: ignore[arg-type]
            return done

    return asyncio.run(go())


def invoke(sim: SimulatorServer, *args: str) -> object:
    env = {"SEVEN_API_KEY": API_KEY, "SEVEN_BASE_URL": sim.base_url}
    return CliRunner().invoke(cli, ["event", *args], env=env)


def test_single_event_reaches_the_gateway(sim: SimulatorServer) -> None:
    """--to with a national number sends one READ to the normalised number."""
    result = invoke(sim, "--to", "0176 10000001", "--event", "read", "--from", "myfancyagent")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    (recorded,) = sim.backend.events
    assert recorded["event"] == "READ" and recorded["to"] == "4917610000001"
    assert recorded["from"] == "myfancyagent"


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "0176 10000001", "--event", "WAVE"],
        ["--event", "READ"],
        ["--to", "0176 10000001", "--msg-id", "7", "--event", "READ"],
        ["--to", "12", "--event", "READ"],
        ["--to", "0176 10000001"],
    ],
)
def test_bad_values_exit_2_before_any_request(sim: SimulatorServer, args: list[str]) -> None:
    """Unknown event, neither/both of --to/--msg-id, a bad number, no event: exit 2, no request."""
    result = invoke(sim, *args)
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert sim.backend.events == [] and "event" not in sim.backend.counters.requests


def test_file_without_needed_columns_is_refused(sim: SimulatorServer, tmp_path: Path) -> None:
    """A file with neither `to` nor `msg_id` names the columns it has; nothing is sent."""
    path = tmp_path / "replies.csv"
    path.write_text("phone,event\n+4917610000001,READ\n")
    result = invoke(sim, "--file", str(path))
    assert result.exit_code == 2
    assert "`phone`" in result.output and "msg_id" in result.output  # type: ignore[attr-defined]
    assert sim.backend.events == []


def test_bad_rows_in_a_file_are_named_and_nothing_is_sent(tmp_path: Path) -> None:
    """Every bad row is named in one error, before any request."""
    path = tmp_path / "replies.csv"
    path.write_text("to,msg_id,event\n+4917610000001,,READ\n,,READ\n+4917610000002,9,READ\n")
    with pytest.raises(InputError, match=r"row 3: fill exactly one.*row 4: fill exactly one"):
        events.read_events(path, None, "DE")


def test_file_goes_concurrently_with_results_beside_it(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """A file's rows go (own `event` cell wins over --event); replies.results.csv holds each."""
    path = tmp_path / "replies.csv"
    lines = ["to,msg_id,event"] + [f"+49176100000{i:02},," for i in range(1, 21)]
    lines += [",77233319353,IS_TYPING"]
    path.write_text("\n".join(lines) + "\n")
    result = invoke(sim, "--file", str(path), "--event", "READ", "--concurrency", "4")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = tmp_path / "replies.results.csv"
    assert result.stdout.strip() == str(out)  # type: ignore[attr-defined]
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["sent"] * 21
    assert rows[-1]["event"] == "IS_TYPING" and rows[-1]["msg_id"] == "77233319353"
    assert len(sim.backend.events) == 21


def test_retries_only_what_surely_did_not_arrive(sim: SimulatorServer) -> None:
    """429 and 503 are retried (Retry-After); a 500 page is `unknown`, never sent twice."""
    sim.faults.update({"event_script": ["429", "503", "ok", "500"], "retry_after": 0})
    items = [
        events.Event(1, "READ", to="4917610000001"),
        events.Event(2, "READ", to="4917610000002"),
    ]
    done = send(sim, items, concurrency=1)
    assert [(e.status, e.attempts) for e in done] == [("sent", 3), ("unknown", 1)]
    assert len(sim.backend.events) == 1


def test_refused_event_is_failed_and_refused_key_stops(sim: SimulatorServer) -> None:
    """`success: false` makes a row failed; a refused key stops the rest (not_sent)."""
    done = send(sim, [events.Event(1, "READ", to="4917610000001")], sender="nobody")
    assert done[0].status == "failed"
    sim.faults.update({"refuse_key": API_KEY})
    items = [events.Event(i, "READ", to=f"491761000000{i}") for i in range(1, 4)]
    assert {e.status for e in send(sim, items)} == {"not_sent"}


def test_simulate_needs_no_key(tmp_path: Path) -> None:
    """--simulate sends to a throwaway simulator without SEVEN_API_KEY."""
    result = CliRunner().invoke(
        cli, ["event", "--msg-id", "1", "--event", "IS_TYPING", "--simulate"], env={}
    )
    assert result.exit_code == 0, result.output


def test_results_file_cells_cannot_start_a_formula(tmp_path: Path) -> None:
    """A msg_id or error text starting with = + - @ is written with a leading ' (spreadsheets)."""
    out = events.write_results(
        tmp_path / "r.csv",
        [events.Event(1, "READ", msg_id="=HYPERLINK(1)", status="failed", error="-oops")],
    )
    with out.open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["msg_id"], row["error"]) == ("'=HYPERLINK(1)", "'-oops")


@pytest.mark.parametrize("name", ["standard", "excel"])
def test_results_file_follows_the_formula_rule_and_dialect(tmp_path: Path, name: str) -> None:
    """Every cell by csvfile's rule (numbers left alone); excel: BOM and `;`, standard: neither."""
    from test_csvfile import CELLS

    from rcsbatch.reports.csvfile import dialect

    chosen = dialect(name)
    items = [
        events.Event(i, "READ", to=cell, status="failed", error=cell)
        for i, (cell, _) in enumerate(CELLS, 1)
    ]
    out = events.write_results(tmp_path / "r.csv", items, chosen)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (name == "excel")
    rows = list(
        csv.DictReader(
            io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=chosen.delimiter
        )
    )
    assert [(r["to"], r["error"]) for r in rows] == [(w, w) for _, w in CELLS]
