"""Stopping, crashing and resuming, checked against the simulator's record of what it accepted.

Each test compares the gateway's truth (`sim.backend.accepted()`) with the report files: zero
duplicates, zero losses, money equal to the cent. Runs that get killed are real processes
(`python -m rcsbatch run CAMPAIGN -q`) sending to an in-process simulator.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from conftest import API_KEY, CampaignFactory

import rcsbatch
from rcsbatch.campaign.file import Campaign
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.outcome import RESUME
from rcsbatch.simulator import Message, SimulatorServer
from rcsbatch.state.paths import journal_path

R = CampaignFactory.recipient
PACKAGE_ROOT = str(Path(rcsbatch.__file__).resolve().parent.parent)


class Cli:
    """`rcsbatch run CAMPAIGN -q` as a real process, sending to `sim`."""

    def __init__(self, campaign: Campaign, sim: SimulatorServer) -> None:
        self.command = [sys.executable, "-m", "rcsbatch", "run", str(campaign.path), "-q"]
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "RCSBATCH_REPORT_DIR"},
            "PYTHONPATH": PACKAGE_ROOT,
            "SEVEN_BASE_URL": sim.base_url,
            "SEVEN_API_KEY": API_KEY,
        }

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*self.command, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `condition` every 5 ms; True once it holds, False after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


def accepted(sim: SimulatorServer) -> dict[str, list[Message]]:
    """What the simulator accepted, by recipient."""
    found: dict[str, list[Message]] = defaultdict(list)
    for m in sim.backend.accepted():
        found[m.to].append(m)
    return found


def results(folder: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """The run's results.parquet and results.csv rows, each by recipient."""
    table = pq.read_table(folder / "results.parquet").to_pylist()
    with (folder / "results.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.DictReader(f))
    return {r["recipient"]: r for r in table}, {r["recipient"]: r for r in lines}


def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def compare(folder: Path, sim: SimulatorServer, recipients: list[str]) -> None:
    """Every recipient has exactly one message at the gateway and its report row says `sent`
    with its id and price; nobody else got one; the total cost is the gateway's to the cent."""
    record = accepted(sim)
    parquet, text = results(folder)
    duplicates = {to: [m.id for m in ms] for to, ms in record.items() if len(ms) != 1}
    assert duplicates == {}, "sent twice"
    assert sorted(record) == sorted(recipients), "lost, or sent to someone else"
    for to in recipients:
        (m,) = record[to]
        row, line = parquet[to], text[to]
        assert (row["status"], row["message_id"], row["price"]) == ("sent", m.id, m.price), to
        assert (line["status"], line["message_id"], Decimal(line["price"])) == (
            "sent",
            m.id,
            m.price,
        )
    total = sum((m.price for m in sim.backend.accepted()), Decimal(0))
    assert Decimal(summary(folder)["total_cost"]) == total


def folder_of(done: subprocess.CompletedProcess[str]) -> Path:
    """The run folder a finished run printed on stdout."""
    return Path(done.stdout.strip().splitlines()[-1])


# ---- 1. SIGKILL at random moments ----------------------------------------------------------------


def kill_repeatedly(
    cli: Cli, sim: SimulatorServer, rng: random.Random, kills: int
) -> tuple[int, list[float]]:
    """Start the run and SIGKILL it a random moment after its sends begin, `kills` times (fewer
    if the campaign ends first); return the kills that left a request in flight (the gateway
    accepted a message after the kill) and the moments of all kills."""
    in_flight = 0
    moments: list[float] = []
    for _ in range(kills):
        before = sim.backend.counters.send_requests
        proc = cli.start()
        started = wait_until(
            lambda p=proc, n=before: (
                sim.backend.counters.send_requests > n  # type: ignore[misc]
                or p.poll() is not None
            )
        )
        assert started, "the run sent nothing within 20 s"
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is not None:
            proc.communicate()
            break  # it finished: nothing left to kill
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        moments.append(killed_at)
        # The gateway carries out requests whose client died; give them the latency to land.
        # At least 0.15 s: on a loaded machine the simulator's thread may land them late.
        time.sleep(max(0.15, sim.faults.latency_ms / 1000 * 3))
        if any(m.accepted_at >= killed_at for m in sim.backend.accepted()):
            in_flight += 1
    return in_flight, moments


def test_sigkill_at_random_moments_then_resume_sends_each_row_exactly_once(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """Eight SIGKILLs, most with requests in flight, each followed by the same command: in the
    end every row has exactly one message at the gateway and the report has its id and price."""
    rows = 240
    # The logbook answers without latency: each resume looks up every row a dead run left in
    # flight (up to three batches), and the test would spend its time there.
    sim.set_faults(latency_ms=20, logbook_latency_ms=0, logbook_lag_s=0.2)
    campaign = make_campaign(rows, send={"concurrency": 3, "settle_seconds": 0.5})
    cli = Cli(campaign, sim)
    in_flight, _ = kill_repeatedly(cli, sim, random.Random(3), kills=8)
    # Some kills land while a resumed run waits for evidence, with nothing in flight (the storm
    # of 22 kills is in test_lost_answers.py).
    assert in_flight >= 4
    done = cli.run()
    assert done.returncode == 0, done.stderr
    compare(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])


@pytest.mark.parametrize("fault", ["lag", "stalled", "jitter"])
def test_a_resumed_run_sends_no_killed_row_again_before_its_own_later_messages_show(
    make_campaign: CampaignFactory, sim: SimulatorServer, fault: str
) -> None:
    """The safety test: the logbook lists messages at once while a run is killed, then (in the
    resumed run) lags 3 s, stalls for 3 s, or shows them out of order by up to 0.15 s (within the
    margin). Rows the kill left in flight and that did not go are sent again only once a message
    the resumed run sent after their timeout is listed; in the end every row has exactly one
    message and the cost is the gateway's to the cent."""
    rows = 120
    sim.set_faults(latency_ms=20, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 3, "settle_seconds": 15})
    cli = Cli(campaign, sim)
    kill_repeatedly(cli, sim, random.Random(7), kills=1)
    before = {m.id for m in sim.backend.accepted()}
    journal = journal_path(campaign, Gateway(sim.base_url, API_KEY))
    with sqlite3.connect(journal) as db:
        left = {
            str(r)
            for (r,) in db.execute("SELECT recipient FROM messages WHERE status = 'in_flight'")
        }
    went = {m.to for m in sim.backend.accepted()}
    assert left - went, "the kill left no row in flight that had not gone"
    if fault == "lag":
        sim.set_faults(logbook_lag_s=3.0)
    elif fault == "stalled":
        sim.set_faults(logbook_stalled=True)
        stall_ends = time.time() + 3.0
        threading.Timer(3.0, lambda: sim.set_faults(logbook_stalled=False)).start()
    else:
        sim.set_faults(logbook_lag_jitter_s=0.15, seed=11)
    resumed_at = time.time()
    done = cli.run()
    assert done.returncode == 0, done.stderr
    compare(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])
    # Rows the kill left in flight that had not gone go in the resumed run, each only after
    # the client timeout and once the resumed run's own later messages were listed.
    new = [m for m in sim.backend.accepted() if m.id not in before]
    late = [m for m in new if m.to in left - went]
    assert late
    first_listed = min(m.accepted_at for m in new)
    if fault == "lag":
        first_listed += 3.0
    elif fault == "stalled":
        first_listed = max(first_listed, stall_ends)
    assert all(m.accepted_at >= first_listed for m in late), fault
    assert all(m.accepted_at >= resumed_at + 2.0 for m in late)


# ---- 2. SIGTERM and SIGINT -----------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_write_the_report_and_say_how_to_resume(
    make_campaign: CampaignFactory, sim: SimulatorServer, signum: int, code: int
) -> None:
    """SIGTERM / Ctrl-C mid-run: exit 143 / 130, one stderr line saying how to resume, results
    and summary written; the same command then finishes with nothing sent twice."""
    rows = 80
    sim.set_faults(latency_ms=20, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 2})
    cli = Cli(campaign, sim)
    proc = cli.start()
    assert wait_until(lambda: sim.backend.counters.send_requests >= 5)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [RESUME]
    folder = Path(out.strip())
    assert (folder / "results.csv").exists() and (folder / "results.parquet").exists()
    s = summary(folder)
    assert (s["interrupted_by"], s["exit_code"]) == (signal.Signals(signum).name, code)
    assert 0 < s["counts"].get("sent", 0) < rows
    done = cli.run()
    assert done.returncode == 0, done.stderr
    compare(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])


# ---- 3. Two runs at once -------------------------------------------------------------------------


def test_a_second_run_exits_4_at_once_and_a_killed_runs_lock_blocks_nothing(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """While a run sends, the same command exits 4 at once having sent nothing; once that run is
    SIGKILLed, the next run is not blocked and completes the campaign."""
    rows = 120
    # A slow gateway keeps the first run sending for at least 60 x 0.3 = 18 s, far longer than the
    # second process takes to start (about 1 s, a few more on a loaded machine): with a quick one
    # the first run could end before the second looked at the lock, and the test pinned nothing.
    latency = 0.3
    sim.set_faults(latency_ms=latency * 1000, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 2})
    cli = Cli(campaign, sim)
    first = cli.start()
    assert wait_until(lambda: sim.backend.counters.send_requests >= 3)
    started = time.monotonic()
    second = cli.run(timeout=60)
    assert first.poll() is None, "the first run ended before the second one was done"
    assert second.returncode == 4, second.stderr
    assert time.monotonic() - started < 15
    assert "another run of this campaign is going on" in second.stderr
    assert second.stdout == ""
    first.send_signal(signal.SIGKILL)
    first.communicate()
    # The dead run's last requests are carried out one latency later; let them land in the
    # logbook before the next run looks there (it waits only settle_seconds, 0.3 s, for them).
    sim.set_faults(latency_ms=0)
    time.sleep(latency * 3)
    done = cli.run()
    assert done.returncode == 0, done.stderr
    compare(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])


# ---- 4. Credit runs out --------------------------------------------------------------------------


def test_credit_running_out_exits_3_and_after_a_top_up_the_rest_goes_once(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """Credit for 40 of 70 rows: exit 3 with the gateway's reason; after POST /_sim/topup (40
    more) the same command sends the other 30, nothing twice."""
    rows = 70
    sim.set_faults(latency_ms=5, credit_after=40)
    campaign = make_campaign(rows, send={"concurrency": 4})
    cli = Cli(campaign, sim)
    first = cli.run()
    assert first.returncode == 3, first.stderr
    assert "credit" in first.stderr
    s = summary(folder_of(first))
    assert (s["counts"]["sent"], s["counts"]["not_sent"], s["stop_code"]) == (40, 30, "500")
    assert len(sim.backend.accepted()) == 40
    topped = httpx.post(sim.root_url + "/_sim/topup", json={"amount": "100"}, timeout=10)
    assert topped.status_code == 200
    done = cli.run()
    assert done.returncode == 0, done.stderr
    compare(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])
    assert summary(folder_of(done))["this_run"]["sent"] == 30


# ---- 5. A gateway that misbehaves in every way at once -------------------------------------------


def test_mixed_faults_end_with_every_row_sent_once_and_the_money_exact(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """5xx pages, 429s, connections dropped and bodies garbled after the accept, mixed over 300
    rows: one run settles every lost answer through the logbook; no duplicate, no loss."""
    rows = 300
    sim.set_faults(
        seed=5,
        latency_ms=2,
        error_500_rate=0.04,
        error_502_rate=0.04,
        rate_429=0.05,
        retry_after=0,
        drop_after_accept_rate=0.05,
        garbled_after_accept_rate=0.05,
    )
    campaign = make_campaign(rows, send={"concurrency": 8, "max_attempts": 8})
    result = rcsbatch.run(campaign, gateway=gateway)
    assert result.report.exit_code == 0
    compare(result.folder, sim, [R(i) for i in range(1, rows + 1)])
    s = summary(result.folder)
    assert s["settled_from_logbook"]["found"] > 0 and s["settled_from_logbook"]["resent"] > 0


# ---- 6. not_after --------------------------------------------------------------------------------


def test_a_run_past_not_after_sends_nothing_and_exits_1(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """not_after an hour ago: no request, every row not_sent with the reason, exit 1."""
    campaign = make_campaign(5, send={"not_after": int(time.time()) - 3600})
    result = rcsbatch.run(campaign, gateway=gateway)
    assert result.report.exit_code == 1
    assert sim.backend.counters.send_requests == 0
    parquet, _ = results(result.folder)
    assert {r["status"] for r in parquet.values()} == {"not_sent"}
    assert summary(result.folder)["not_after_passed"] is True


# ---- 7. The recipient file grows -----------------------------------------------------------------


def test_rows_added_to_the_file_are_sent_and_nothing_else(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A daily cron re-runs after the file changed: only the new rows go; removed rows keep
    their state in the report; a sent row whose text changed is flagged, not re-sent."""

    def row(i: int, name: str | None = None) -> dict[str, str]:
        return {"phone": "+" + R(i), "first_name": name or f"Name{i}", "customer_id": f"c{i}"}

    first = rcsbatch.run(
        make_campaign([row(i) for i in range(1, 6)]),
        report_dir=_where(make_campaign),
        gateway=gateway,
    )
    assert first.report.exit_code == 0
    # Rows 4 and 5 left the file, row 1's name changed, rows 6-8 are new customers.
    grown = [row(1, "Renamed"), row(2), row(3), row(6), row(7), row(8)]
    second = rcsbatch.run(make_campaign(grown), report_dir=_where(make_campaign), gateway=gateway)
    assert second.report.exit_code == 0
    record = accepted(sim)
    assert sorted(record) == sorted(R(i) for i in range(1, 9))
    assert all(len(ms) == 1 for ms in record.values())
    assert record[R(1)][0].text == "Hi Name1"
    parquet, text = results(second.folder)
    assert {to: r["status"] for to, r in parquet.items()} == {R(i): "sent" for i in range(1, 9)}
    assert {to for to, r in parquet.items() if r["text_changed"]} == {R(1)}
    assert text[R(1)]["text_changed"] == "true"
    assert parquet[R(4)]["row"] is None and parquet[R(4)]["run_id"] == first.run_id
    assert parquet[R(6)]["run_id"] == second.run_id
    s = summary(second.folder)
    assert (s["text_changed"], s["this_run"]["sent"]) == (1, 3)
    assert Decimal(s["total_cost"]) == sum((m.price for m in sim.backend.accepted()), Decimal(0))


def test_a_journal_numbered_the_old_way_resumes_without_sending_twice(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A journal from before rows were the file's lines (first data row 1) resumes: the journal
    knows rows by recipient, so the rest go once, and the results show the new numbers."""
    campaign = make_campaign(6)
    first = rcsbatch.run(campaign, report_dir=_where(make_campaign), gateway=gateway, limit=3)
    assert first.report.counts == {"sent": 3, "not_sent": 3}
    with sqlite3.connect(journal_path(campaign, gateway)) as db:
        db.execute("UPDATE messages SET row = row - 1")  # as an older rcsbatch numbered them
    db.close()
    second = rcsbatch.run(campaign, report_dir=_where(make_campaign), gateway=gateway)
    assert second.report.exit_code == 0
    compare(second.folder, sim, [R(i) for i in range(1, 7)])
    parquet, _ = results(second.folder)
    assert {to: r["row"] for to, r in parquet.items()} == {R(i): i + 1 for i in range(1, 7)}


def _where(make_campaign: CampaignFactory) -> Path:
    return make_campaign.folder / "reports"


# ---- 8. --retry-failed ---------------------------------------------------------------------------


def test_retry_failed_resends_a_daily_limit_but_never_an_invalid_number(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """403 (daily limit) and 202 (invalid number): a plain re-run sends neither; --retry-failed,
    once the limit has passed, sends only the 403 row, once."""
    sim.set_faults(refuse={R(2): 403, R(3): 202})
    campaign = make_campaign(4)
    root = campaign.report_dir
    first = rcsbatch.run(campaign, report_dir=root, gateway=gateway)
    assert first.report.exit_code == 1
    parquet, _ = results(first.folder)
    assert [(parquet[R(i)]["status"], parquet[R(i)]["error_code"]) for i in (2, 3)] == [
        ("failed", "403"),
        ("failed", "202"),
    ]
    requests = sim.backend.counters.send_requests
    plain = rcsbatch.run(campaign, report_dir=root, gateway=gateway)
    assert sim.backend.counters.send_requests == requests
    assert plain.report.counts == {"sent": 2, "failed": 2}
    sim.set_faults(refuse={})
    again = rcsbatch.run(campaign, report_dir=root, gateway=gateway, retry_failed=True)
    assert sim.backend.counters.send_requests == requests + 1
    record = accepted(sim)
    assert sorted(record) == [R(1), R(2), R(4)] and len(record[R(2)]) == 1
    parquet, _ = results(again.folder)
    assert (parquet[R(2)]["status"], parquet[R(2)]["message_id"]) == ("sent", record[R(2)][0].id)
    assert (parquet[R(3)]["status"], parquet[R(3)]["error_code"]) == ("failed", "202")
    assert again.report.exit_code == 1
