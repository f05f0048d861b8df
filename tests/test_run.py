"""Runs end to end against the loopback simulator: every report checked against what it accepted."""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import API_KEY, CampaignFactory, sync_now

import rcsbatch
from rcsbatch.campaign.file import Campaign
from rcsbatch.engine.runner import RunResult, dry_run
from rcsbatch.errors import BudgetError, StorageError
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.outcome import EXIT_GATEWAY, EXIT_OK, EXIT_ROWS
from rcsbatch.reports.results import STALE_AFTER, ResultsWriter
from rcsbatch.simulator import DEFAULT_PRICE, Message, SimulatorServer
from rcsbatch.state.journal import Journal

R = CampaignFactory.recipient


def send(campaign: Campaign, gateway: Gateway, **kw: Any) -> RunResult:
    return rcsbatch.run(campaign, gateway=gateway, **kw)


OWN_CHECKS = ("invalid", "duplicate", "suppressed")


def rows(result: RunResult) -> list[dict[str, Any]]:
    """Every row of the run's results.parquet."""
    return pq.read_table(result.folder / "results.parquet").to_pylist()


def by_recipient(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows that were for the gateway to take (not refused by our own checks), by recipient."""
    found = {r["recipient"]: r for r in table if r["status"] not in OWN_CHECKS}
    assert len(found) == sum(r["status"] not in OWN_CHECKS for r in table)
    return found


def summary(result: RunResult) -> dict[str, Any]:
    return json.loads((result.folder / "summary.json").read_text(encoding="utf-8"))


def accepted(sim: SimulatorServer) -> dict[str, list[Message]]:
    """What the simulator accepted, by recipient."""
    found: dict[str, list[Message]] = defaultdict(list)
    for m in sim.backend.accepted():
        found[m.to].append(m)
    return found


def check(result: RunResult, sim: SimulatorServer) -> dict[str, dict[str, Any]]:
    """Compare the report with the simulator's record: no duplicates, no losses, exact money."""
    table = rows(result)
    report = by_recipient(table)
    record = accepted(sim)
    for to, messages in record.items():
        # One request per recipient (two entries of one answer share it): nothing sent twice.
        assert len({m.request_no for m in messages}) == 1, f"{to} was sent twice"
        # Whatever the gateway took is in the report as sent, or unknown when the answer was lost.
        assert to in report and report[to]["status"] in ("sent", "unknown"), to
    cost = Decimal(0)
    for to, row in report.items():
        if row["status"] != "sent":
            assert row["status"] == "unknown" or to not in record, to
            continue
        assert to in record, f"{to} is reported sent, but the gateway has no such message"
        assert sorted(row["message_id"].split()) == sorted(m.id for m in record[to])
        if row["price_status"] == "known":
            assert row["price"] == sum((m.price for m in record[to]), Decimal(0))
            cost += row["price"]
        else:
            assert row["price"] is None
    s = summary(result)
    assert Decimal(s["total_cost"]) == cost
    assert s["exit_code"] == result.report.exit_code
    counts: dict[str, int] = defaultdict(int)
    for row in table:
        counts[row["status"]] += 1
    assert s["counts"] == dict(counts) == dict(result.report.counts)
    return report


def statuses(report: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {to: row["status"] for to, row in report.items()}


# ---- a plain run ---------------------------------------------------------------------------


def test_plain_run_sends_every_valid_row_once_as_the_campaign_says(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Each valid row goes once with the campaign's options; invalid and duplicate rows never."""
    data = [
        {"phone": "+" + R(i), "first_name": f"Name{i}", "customer_id": f"c{i}"} for i in range(1, 6)
    ]
    data += [
        {"phone": "12", "first_name": "X", "customer_id": "bad"},
        {"phone": "0176 10000001", "first_name": "Again", "customer_id": "dup"},
    ]
    campaign = make_campaign(
        data,
        message={
            "from": "myfancyagent",
            "label": "spring_2026",
            "ttl": 120,
            "performance_tracking": True,
            "fallback": "sms",
        },
        send={"concurrency": 3},
    )
    result = send(campaign, gateway)
    report = check(result, sim)
    assert result.report.exit_code == EXIT_OK
    assert result.report.counts == {"sent": 5, "invalid": 1, "duplicate": 1}
    record = accepted(sim)
    assert sorted(record) == [R(i) for i in range(1, 6)]
    for i in range(1, 6):
        (m,) = record[R(i)]
        assert (m.text, m.sender, m.label, m.foreign_id) == (
            f"Hi Name{i}",
            "myfancyagent",
            "spring_2026",
            f"c{i}",
        )
        assert (m.ttl, m.performance_tracking, m.fallback, m.delay) == (120, True, "sms", None)
        row = report[R(i)]
        assert (row["foreign_id"], row["attempts"], row["price"]) == (f"c{i}", 1, DEFAULT_PRICE)
    s = summary(result)
    assert Decimal(s["total_cost"]) == 5 * DEFAULT_PRICE
    assert s["cost_complete"] is True
    assert Decimal(s["balance_after"]) == sim.backend.balance


@pytest.mark.parametrize("hours", [24, -1], ids=["future", "past"])
def test_delay_goes_as_unix_seconds_or_is_left_out(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, hours: int
) -> None:
    """A future delay arrives as Unix seconds with the whole ttl; a past one is left out."""
    delay = int(time.time()) + hours * 3600
    campaign = make_campaign(2, message={"delay": delay, "ttl": 120})
    result = send(campaign, gateway)
    check(result, sim)
    assert result.report.exit_code == EXIT_OK
    for m in sim.backend.accepted():
        if hours > 0:
            assert (m.delay, m.send_at, m.ttl) == (str(delay), delay, 120)
        else:
            # Validity started at the delay, an hour ago: about 60 of 120 minutes are left.
            assert m.delay is None
            assert 58 <= m.ttl <= 60


# ---- faults before and after the gateway took the message ----------------------------------


@pytest.mark.parametrize("fault", ["drop", "garbled"])
def test_a_lost_answer_the_logbook_shows_is_sent_with_its_id(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, fault: str
) -> None:
    """An answer lost after the gateway took the message: found in the logbook (same recipient,
    text, label, foreign_id, inside the attempt's window), so the row is sent with that id and
    price, and goes no second time."""
    sim.set_faults(script=[fault])
    result = send(make_campaign(3, send={"concurrency": 1}), gateway)
    report = check(result, sim)
    assert statuses(report) == {R(1): "sent", R(2): "sent", R(3): "sent"}
    assert len(accepted(sim)[R(1)]) == 1
    assert report[R(1)]["message_id"] == accepted(sim)[R(1)][0].id
    assert sim.backend.counters.send_requests == 3
    assert summary(result)["counts"] == {"sent": 3}
    assert summary(result)["settled_from_logbook"]["found"] == 1
    assert result.report.exit_code == EXIT_OK


@pytest.mark.parametrize("fault", ["500", "502"])
def test_a_lost_answer_is_sent_again_only_once_its_absence_is_shown(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, fault: str
) -> None:
    """An HTML 5xx page: the message may or may not have gone. The last rows of a small
    campaign leave nothing to show the logbook current past it, so the row stays unknown (exit
    1), and says why. Once another campaign of the account has sent a message later (here,
    after the client timeout and the margin), the next run sees it listed, shows the row
    absent and sends it: exactly one message."""
    sim.set_faults(script=[fault])
    campaign = make_campaign(3, send={"concurrency": 1})
    first = send(campaign, gateway)
    report = check(first, sim)
    assert statuses(report) == {R(1): "unknown", R(2): "sent", R(3): "sent"}
    assert "not shown absent" in report[R(1)]["error_text"]
    assert first.report.exit_code == EXIT_ROWS
    assert summary(first)["cost_complete"] is False
    time.sleep(2.5)  # past the lost request's timeout (2 s) and the margin (0.2 s)
    other = make_campaign(
        [{"phone": "+4917699999999"}], name="other", message={"text": "x", "foreign_id": None}
    )
    assert send(other, gateway).report.exit_code == EXIT_OK
    second = send(campaign, gateway)
    report = by_recipient(rows(second))  # (check() would count the other campaign's message)
    assert set(statuses(report).values()) == {"sent"}
    assert len(accepted(sim)[R(1)]) == 1
    assert report[R(1)]["message_id"] == accepted(sim)[R(1)][0].id
    assert report[R(1)]["attempts"] == 2
    assert summary(second)["settled_from_logbook"]["resent"] == 1
    assert summary(second)["logbook"]["zone"] == "Europe/Berlin"


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_with_on_unknown_skip_a_lost_answer_stays_unknown(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, fault: str
) -> None:
    """on_unknown = "skip": the row is unknown, one request only, now and in the next run."""
    sim.set_faults(script=[fault])
    campaign = make_campaign(3, send={"concurrency": 1, "on_unknown": "skip"})
    result = send(campaign, gateway)
    report = check(result, sim)
    assert statuses(report) == {R(1): "unknown", R(2): "sent", R(3): "sent"}
    assert result.report.exit_code == EXIT_ROWS
    again = send(campaign, gateway)
    assert statuses(check(again, sim))[R(1)] == "unknown"
    assert sim.backend.counters.send_requests == 3


@pytest.mark.parametrize(
    ("status", "form"),
    [
        ("429", "seconds"),
        ("429", "date"),
        ("503", "seconds"),
    ],
)
def test_retry_after_answers_are_retried_and_sent_once(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, status: str, form: str
) -> None:
    """429 and 503 with Retry-After (seconds or HTTP-date) are retried; the row is sent once."""
    sim.set_faults(script=[status], retry_after=0, retry_after_form=form)
    result = send(make_campaign(3, send={"concurrency": 1}), gateway)
    report = check(result, sim)
    assert set(statuses(report).values()) == {"sent"}
    assert report[R(1)]["attempts"] == 2
    assert sim.backend.counters.send_requests == 4
    assert summary(result)["retries"] == 1
    assert result.report.exit_code == EXIT_OK


def test_a_closed_port_is_retried_up_to_max_attempts_then_failed(
    make_campaign: CampaignFactory,
) -> None:
    """Connection refused: every row is tried max_attempts times, then reported failed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    campaign = make_campaign(2, send={"max_attempts": 3, "concurrency": 2})
    result = send(campaign, Gateway(f"http://127.0.0.1:{port}/api", API_KEY))
    report = by_recipient(rows(result))
    assert {to: (r["status"], r["attempts"]) for to, r in report.items()} == {
        R(1): ("failed", 3),
        R(2): ("failed", 3),
    }
    assert result.report.exit_code == EXIT_ROWS


# ---- the gateway stops the run -------------------------------------------------------------


def test_credit_runs_out_then_a_top_up_and_a_second_run_send_the_rest(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Credit for 3: 3 sent, 2 not_sent, exit 3; after a top-up a rerun sends just those 2."""
    sim.set_faults(credit_after=3)
    campaign = make_campaign(5, send={"concurrency": 2})
    first = send(campaign, gateway)
    report = check(first, sim)
    assert sorted(statuses(report).values()) == ["not_sent"] * 2 + ["sent"] * 3
    assert len(sim.backend.accepted()) == 3
    assert first.report.exit_code == EXIT_GATEWAY
    assert "credit" in (first.report.stop_reason or "")
    assert summary(first)["stop_code"] == "500"

    sim.topup("10")
    second = send(campaign, gateway)
    report = check(second, sim)
    assert set(statuses(report).values()) == {"sent"}
    assert sorted(accepted(sim)) == [R(i) for i in range(1, 6)]
    assert second.report.exit_code == EXIT_OK
    assert summary(second)["requests_accepted"] == 2  # the journal kept the 3 sent rows
    assert Decimal(summary(second)["total_cost"]) == 5 * DEFAULT_PRICE


@pytest.mark.parametrize("form", ["bare", "json_string", "json_object"])
def test_a_refused_key_sends_nothing_and_exits_3(
    make_campaign: CampaignFactory, sim: SimulatorServer, form: str
) -> None:
    """A refused key (900 in each form the gateway may use) stops the run before anything goes."""
    sim.set_faults(refuse_key="bad-key", code_form=form)
    result = send(make_campaign(4), Gateway(sim.base_url, "bad-key"))
    report = check(result, sim)
    assert set(statuses(report).values()) == {"not_sent"}
    assert sim.backend.accepted() == []
    assert result.report.exit_code == EXIT_GATEWAY
    assert result.report.stop_code == "900"


# ---- per-recipient answers ------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [False, True], ids=["in-101", "in-100"])
@pytest.mark.parametrize("code", [202, 403, 600])
def test_a_refused_recipient_fails_with_the_gateways_code(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, code: int, hidden: bool
) -> None:
    """A refused recipient (even inside a "100") is failed with its code; the others are sent."""
    sim.set_faults(refuse={R(2): code}, hide_refusals_in_100=hidden)
    result = send(make_campaign(3), gateway)
    report = check(result, sim)
    assert statuses(report) == {R(1): "sent", R(2): "failed", R(3): "sent"}
    assert report[R(2)]["error_code"] == str(code)
    assert report[R(2)]["error_text"]
    assert report[R(2)]["attempts"] == 1
    assert result.report.exit_code == EXIT_ROWS


def test_two_entries_for_one_request_keep_both_ids_and_sum_the_prices(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """An answer with two messages for one recipient: both ids kept, prices summed."""
    sim.set_faults(extra_entry_rate=1.0)
    result = send(make_campaign(3), gateway)
    report = check(result, sim)
    for i in range(1, 4):
        assert len(report[R(i)]["message_id"].split()) == 2
        assert report[R(i)]["price"] == 2 * DEFAULT_PRICE
    assert Decimal(summary(result)["total_cost"]) == 6 * DEFAULT_PRICE


def test_answers_without_a_price_leave_the_cost_incomplete(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """price 0 / total_price null in the answer: sent, price unknown, cost_complete false."""
    sim.set_faults(price_in_answer=False)
    result = send(make_campaign(3), gateway)
    report = check(result, sim)
    assert {r["price_status"] for r in report.values()} == {"unknown"}
    s = summary(result)
    assert (s["cost_complete"], s["sent_without_price"], s["total_cost"]) == (False, 3, "0")
    assert result.report.exit_code == EXIT_OK


def test_a_reload_lock_is_unknown_never_failed(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """402: the same text went to that number shortly before, so the row is unknown (and, with
    on_unknown = "skip", left so)."""
    sim.set_faults(reload_lock=True)
    sim.backend.send({"to": R(1), "text": "Hi Name1"}, API_KEY)
    result = send(make_campaign(2, send={"on_unknown": "skip"}), gateway)
    report = check(result, sim)
    assert statuses(report) == {R(1): "unknown", R(2): "sent"}
    assert report[R(1)]["error_code"] == "402"
    assert len(accepted(sim)[R(1)]) == 1
    assert result.report.exit_code == EXIT_ROWS


# ---- pace -----------------------------------------------------------------------------------


def test_rate_is_one_limit_for_the_whole_run(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """rate 20/s with 8 workers: no second of the gateway's accept times holds more than 21 (+1)."""
    result = send(make_campaign(40, send={"rate": 20, "concurrency": 8}), gateway)
    check(result, sim)
    moments = sorted(m.accepted_at for m in sim.backend.accepted())
    assert len(moments) == 40
    busiest = max(
        sum(1 for t in moments[i:] if t <= start + 1.0) for i, start in enumerate(moments)
    )
    assert busiest <= 22, busiest
    assert moments[-1] - moments[0] >= 39 / 20 - 0.1


def test_at_most_concurrency_requests_are_in_flight(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """With 100 ms latency, no 99 ms of the gateway's accept times hold more than 4 accepts."""
    # Each request waits at the gateway for the latency before it is accepted, so requests
    # accepted within less than the latency were all in flight at the start of that window.
    sim.set_faults(latency_ms=100)
    result = send(make_campaign(16, send={"concurrency": 4}), gateway)
    check(result, sim)
    moments = sorted(m.accepted_at for m in sim.backend.accepted())
    assert len(moments) == 16
    busiest = max(
        sum(1 for t in moments[i:] if t < start + 0.099) for i, start in enumerate(moments)
    )
    assert 2 <= busiest <= 4, busiest  # at least 2: the workers really do run side by side


# ---- limits and validity --------------------------------------------------------------------


def test_limit_sends_exactly_n(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """--limit 2: the first two rows are sent, the others not_sent, exit 1."""
    result = send(make_campaign(5, send={"concurrency": 3}), gateway, limit=2)
    report = check(result, sim)
    assert statuses(report) == {
        R(1): "sent",
        R(2): "sent",
        R(3): "not_sent",
        R(4): "not_sent",
        R(5): "not_sent",
    }
    assert result.report.exit_code == EXIT_ROWS


def test_validity_passed_before_the_run_is_expired_and_nothing_goes(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A delay 2 h ago with a 60-minute ttl: every row expired, no request made, exit 1."""
    campaign = make_campaign(3, message={"delay": int(time.time()) - 7200, "ttl": 60})
    result = send(campaign, gateway)
    report = check(result, sim)
    assert set(statuses(report).values()) == {"expired"}
    assert sim.backend.counters.send_requests == 0
    assert result.report.exit_code == EXIT_ROWS


# ---- the budget ---------------------------------------------------------------------------------


def test_a_run_whose_estimate_passes_max_cost_is_refused_before_anything_is_sent(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """5 rows at an estimated 0.05 = 0.25 > max_cost 0.10: BudgetError, no request, no folder."""
    campaign = make_campaign(5, send={"max_cost": "0.10", "price_estimate": "0.05"})
    with pytest.raises(BudgetError, match="max_cost"):
        send(campaign, gateway)
    assert sim.backend.counters.send_requests == 0
    folder = campaign.report_dir / "test"
    assert not folder.exists() or not [p for p in folder.iterdir() if p.is_dir()]


def test_max_cost_holds_across_runs_and_the_rest_is_not_sent_with_the_reason(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The estimate is low (0.01) but the gateway charges 0.0475: with max_cost 0.15 three go,
    the rest stay not_sent saying why, and the total never passes the cap."""
    campaign = make_campaign(
        8, send={"max_cost": "0.15", "price_estimate": "0.01", "concurrency": 1}
    )
    result = send(campaign, gateway)
    report = check(result, sim)
    sent = [r for r in report.values() if r["status"] == "sent"]
    assert len(sent) == 3
    assert sum(r["price"] for r in sent) <= Decimal("0.15")
    left = [r for r in report.values() if r["status"] == "not_sent"]
    assert left and all("max_cost" in r["error_text"] for r in left)
    assert summary(result)["stopped_by_budget"] is True
    assert summary(result)["balance_before"] is not None
    with pytest.raises(BudgetError):  # 0.1425 spent + 5 × 0.0475 would pass 0.15
        send(campaign, gateway)


def test_an_agent_in_test_status_reaches_only_its_test_numbers(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """seven: in test status only the agent's test numbers receive; the others are failed for
    the recipient (code 700 in the simulator: seven's code is not documented)."""
    sim.backend.update_account(
        {"agents": [{"id": "testagent", "status": "test", "test_numbers": ["+" + R(1)]}]}
    )
    result = send(make_campaign(2, message={"from": "testagent"}), gateway)
    report = check(result, sim)
    assert statuses(report) == {R(1): "sent", R(2): "failed"}
    assert report[R(2)]["error_code"] == "700"


# ---- the run folder -----------------------------------------------------------------------------


def folders(campaign: Campaign) -> list[str]:
    """Every folder in the campaign's report folder, hidden ones included."""
    return sorted(p.name for p in (campaign.report_dir / campaign.name).iterdir() if p.is_dir())


def full_disk(self: ResultsWriter, table: pa.Table) -> None:
    """ResultsWriter._write_files on a full disk: a header gets out, then ENOSPC."""
    (self.folder / "results.csv").write_text("row\n", encoding="utf-8")
    raise OSError(errno.ENOSPC, "No space left on device")


def interrupted(self: ResultsWriter, table: pa.Table) -> None:
    raise KeyboardInterrupt


def summary_on_full_disk(folder: Path, summary: dict[str, Any]) -> Path:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    ("target", "fault", "error"),
    [
        ("rcsbatch.reports.results.ResultsWriter._write_files", full_disk, OSError),
        ("rcsbatch.reports.results.ResultsWriter._write_files", interrupted, KeyboardInterrupt),
        ("rcsbatch.engine.runner.write_summary", summary_on_full_disk, OSError),
    ],
    ids=["results-enospc", "results-ctrl-c", "summary-enospc"],
)
@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
def test_a_run_that_fails_while_writing_leaves_no_folder(
    make_campaign: CampaignFactory,
    sim: SimulatorServer,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    fault: Callable[..., Any],
    error: type[BaseException],
    dry: bool,
) -> None:
    """A full disk or Ctrl-C while results or summary are written: no run folder and no
    temporary one; the run is not recorded finished, and the next run writes a whole folder."""
    campaign = make_campaign(3)
    if error is OSError and not dry:
        error = StorageError  # a run says which disk is full, and that sending had begun
    with monkeypatch.context() as patch:
        patch.setattr(target, fault)
        with pytest.raises(error):
            if dry:
                dry_run(campaign, campaign.report_dir)
            else:
                send(campaign, gateway)
    assert folders(campaign) == []
    if not dry:
        with Journal(campaign.report_dir / campaign.name / "journal.sqlite") as journal:
            assert journal.latest_run() is None
    result = dry_run(campaign, campaign.report_dir) if dry else send(campaign, gateway)
    assert folders(campaign) == [result.folder.name]
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "results.csv",
        "results.parquet",
        "summary.json",
    ]
    assert summary(result)["counts"] == ({"ready": 3} if dry else {"sent": 3})
    assert len(sim.backend.accepted()) == (0 if dry else 3)


def test_a_killed_runs_temporary_folder_is_ignored_then_cleaned_up(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A hidden folder a killed run left (half a CSV, a 4-byte Parquet file) is passed over by
    sync, which rewrites the newest finished run's folder, and removed by the next run once it
    is older than STALE_AFTER."""
    campaign = make_campaign(2)
    first = send(campaign, gateway)
    killed = campaign.report_dir / campaign.name / ".20990101T000000Z.tmp"
    killed.mkdir()
    (killed / "results.csv").write_text("row,recipient\n", encoding="utf-8")
    (killed / "results.parquet").write_bytes(b"PAR1")
    _, synced = sync_now(campaign, gateway)
    assert synced == first.folder
    assert folders(campaign) == [killed.name, first.folder.name]
    then = time.time() - STALE_AFTER - 60
    os.utime(killed, (then, then))
    second = send(campaign, gateway)
    assert folders(campaign) == sorted([first.folder.name, second.folder.name])
