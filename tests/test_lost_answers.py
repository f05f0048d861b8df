"""Issue 10 end to end: no row is called sent without proof, none is sent twice on a guess.

Each case of the issue is reproduced against the simulator with its logbook behaving in one of
the plausible ways (zone, clock, scheduled listing, other campaigns' entries), and checked
against what the gateway really accepted.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import shutil
import signal
import sqlite3
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory, sync_now
from test_resume import Cli, folder_of, kill_repeatedly, wait_until

import rcsbatch
from rcsbatch.campaign.file import Campaign
from rcsbatch.cli import cli
from rcsbatch.engine.runner import RunResult
from rcsbatch.errors import AlreadySentError, BudgetError, HistoryLostError
from rcsbatch.gateway.config import Gateway
from rcsbatch.recipients.prepare import derived_foreign_id
from rcsbatch.reports.outcome import EXIT_OK
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.paths import campaign_state, journal_path

R = CampaignFactory.recipient
ROOT = Path(__file__).resolve().parent.parent


def rows_of(result: RunResult) -> dict[str, dict[str, Any]]:
    table = pq.read_table(result.folder / "results.parquet").to_pylist()
    return {r["recipient"]: r for r in table}


def assert_proven(result: RunResult, sim: SimulatorServer, text_of: dict[str, str]) -> None:
    """Every row reported sent names messages the gateway accepted for that recipient with this
    campaign's text, and its price is theirs: never another campaign's message."""
    by_id = {m.id: m for m in sim.backend.accepted()}
    for to, row in rows_of(result).items():
        if row["status"] != "sent":
            continue
        ids = row["message_id"].split()
        assert ids, to
        for i in ids:
            assert by_id[i].to == to and by_id[i].text == text_of[to], (to, i)
        assert row["price"] == sum((by_id[i].price for i in ids), Decimal(0)), to


def once_each(sim: SimulatorServer, text: str) -> Counter[str]:
    """How many messages with `text`... each recipient got (values > 1 are duplicates)."""
    return Counter(m.to for m in sim.backend.accepted() if m.text.startswith(text))


def settle_all(campaign: Campaign, gateway: Gateway, tries: int = 6) -> RunResult:
    """Run the campaign until no row is unknown (each run may leave the last lost answers
    without evidence: the next one, after a pause, has the previous run's messages)."""
    result = rcsbatch.run(campaign, gateway=gateway)
    for _ in range(tries):
        if not result.report.counts.get("unknown"):
            break
        time.sleep(2.5)  # past the client timeout (2 s) and the margin
        other = CampaignFactory(campaign.path.parent)(
            [{"phone": "+4917699999999"}],
            name=f"evidence{time.monotonic_ns()}",
            message={"text": "x", "foreign_id": None},
        )
        rcsbatch.run(other, gateway=gateway)
        result = rcsbatch.run(campaign, gateway=gateway)
    return result


# ---- case 1: the README's own path -----------------------------------------------------------


def test_a_simulated_run_then_a_real_one_sends_every_message_for_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --simulate` first, then for real: the real run sends every row (the simulated run
    kept its journal under the simulator's account)."""
    shutil.copytree(ROOT / "campaigns", tmp_path / "campaigns")
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    example = tmp_path / "campaigns" / "example.toml"
    simulated = CliRunner().invoke(cli, ["run", str(example), "--simulate"])
    assert simulated.exit_code == 0, simulated.stderr
    with SimulatorServer() as real:
        env = {"SEVEN_BASE_URL": real.base_url, "SEVEN_API_KEY": API_KEY}
        done = CliRunner().invoke(cli, ["run", str(example)], env=env)
        assert done.exit_code == 0, done.stderr
        assert len(real.backend.accepted()) == 11
        assert "11 sent" in done.stderr and "settled by earlier runs" not in done.stderr
        again = CliRunner().invoke(cli, ["run", str(example)], env=env)
        assert again.exit_code == 0 and len(real.backend.accepted()) == 11


# ---- case 2: another campaign's message taken as proof ---------------------------------------


@pytest.mark.parametrize("together", [False, True], ids=["one-after-the-other", "at-once"])
def test_two_campaigns_sharing_foreign_ids_never_take_each_others_messages(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, together: bool
) -> None:
    """The foreign_id template of docs/campaign-file.md (`{customer_id}`) in two campaigns to
    the same people, with 5xx pages and dropped answers: no row of either is `sent` with the
    other's message, and nobody gets either message twice."""
    sim.set_faults(seed=3, error_500_rate=0.05, error_502_rate=0.05, drop_after_accept_rate=0.08)
    rows = 60
    first = make_campaign(rows, name="spring-1", message={"text": "Spring {first_name}"})
    second = make_campaign(rows, name="spring-2", message={"text": "Autumn {first_name}"})
    if together:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda c: rcsbatch.run(c, gateway=gateway), (first, second)))
    else:
        done = [rcsbatch.run(c, gateway=gateway) for c in (first, second)]
    for campaign, result, word in zip((first, second), done, ("Spring", "Autumn"), strict=True):
        assert_proven(result, sim, {R(i): f"{word} Name{i}" for i in range(1, rows + 1)})
        assert max(once_each(sim, word).values()) == 1
        final = settle_all(campaign, gateway)
        assert_proven(final, sim, {R(i): f"{word} Name{i}" for i in range(1, rows + 1)})
        assert max(once_each(sim, word).values()) == 1
        assert final.report.counts == {"sent": rows}


def test_an_identical_message_from_elsewhere_in_the_window_keeps_the_row_unknown(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Another machine sent the same recipient a message with this row's foreign_id but another
    text, inside the window of a lost answer that did not go: the row is neither `sent` with it
    nor sent again; it stays unknown and says why."""
    campaign = make_campaign(3, send={"concurrency": 1})
    sim.set_faults(script=["500"])
    first = rcsbatch.run(campaign, gateway=gateway)
    assert first.report.counts["unknown"] == 1
    sim.backend.inject(R(1), "Hi from elsewhere", foreign_id="c1")
    time.sleep(2.5)
    result = settle_all(campaign, gateway, tries=1)
    row = rows_of(result)[R(1)]
    assert row["status"] == "unknown" and "differs" in row["error_text"]
    assert once_each(sim, "Hi Name1")[R(1)] == 0


def test_derived_foreign_ids_keep_long_campaign_names_apart(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Two long names alike in their first 48 characters get foreign_ids of their own."""
    base = "a-very-long-campaign-name-for-the-spring-sale-in-stores"
    one = make_campaign(2, name=base + "-wave1", message={"foreign_id": None})
    two = make_campaign(2, name=base + "-wave2", message={"foreign_id": None})
    for c in (one, two):
        assert rcsbatch.run(c, gateway=gateway).report.exit_code == EXIT_OK
    ids = {m.foreign_id for m in sim.backend.accepted()}
    assert len(ids) == 4 and all(len(i or "") <= 64 for i in ids)
    assert derived_foreign_id(one.name, int(R(1))) in ids


# ---- case 3: the logbook's zone and the clocks ------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "offset"),
    [("UTC", 0.0), ("UTC", 600.0), ("Europe/Berlin", -600.0)],
    ids=["utc", "utc-ahead-10min", "berlin-behind-10min"],
)
def test_any_logbook_zone_and_a_clock_ten_minutes_off_send_nobody_twice(
    make_campaign: CampaignFactory,
    sim: SimulatorServer,
    gateway: Gateway,
    zone: str,
    offset: float,
) -> None:
    """Issue 10 case 3: with the logbook in UTC, or the gateway's clock 10 minutes off, lost
    answers were "not found" and sent again. Now the zone and the clock are measured: every
    lost answer that went is found, nobody gets a message twice, and the summary says what was
    measured."""
    sim.set_faults(
        seed=9,
        logbook_tz=zone,
        clock_offset_s=offset,
        drop_after_accept_rate=0.1,
        error_500_rate=0.05,
    )
    rows = 80
    campaign = make_campaign(rows, send={"concurrency": 4})
    result = settle_all(campaign, gateway)
    assert max(once_each(sim, "Hi ").values()) == 1
    assert result.report.counts == {"sent": rows}
    assert_proven(result, sim, {R(i): f"Hi Name{i}" for i in range(1, rows + 1)})
    facts = json.loads((result.folder / "summary.json").read_text())["logbook"]
    assert facts["zone"] == zone and facts["zone_source"] in ("measured", "kept")
    low, high = facts["clock_offset_seconds"]
    assert low - 1 <= offset <= high + 1


# ---- case 4: scheduled messages ---------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["delay", "acceptance"])
def test_scheduled_messages_the_logbook_lists_only_once_they_go_are_not_sent_twice(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, stamp: str
) -> None:
    """Issue 10 case 4: a `delay` campaign whose lost answers the logbook does not list before
    the delay: they are decided only after it, and nobody gets two messages."""
    sim.set_faults(
        seed=4, scheduled_in_logbook=False, scheduled_stamp=stamp, drop_after_accept_rate=0.2
    )
    rows = 20
    delay = int(time.time()) + 4
    campaign = make_campaign(
        rows, message={"delay": delay, "ttl": 60}, send={"concurrency": 2, "settle_seconds": 10}
    )
    result = settle_all(campaign, gateway)
    assert max(once_each(sim, "Hi ").values()) == 1
    assert result.report.counts == {"sent": rows}
    assert_proven(result, sim, {R(i): f"Hi Name{i}" for i in range(1, rows + 1)})


# ---- case 5: the report folder changes, journals go missing -------------------------------------


def test_another_report_folder_finds_the_same_journal(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, tmp_path: Path
) -> None:
    """Cron writes reports to one folder, a person at the shell to another: the second run
    resumes the first (the journal is the campaign's under its account), nobody twice."""
    campaign = make_campaign(6)
    rcsbatch.run(campaign, gateway=gateway, limit=3)
    second = rcsbatch.run(campaign, report_dir=tmp_path / "elsewhere", gateway=gateway)
    assert second.folder.parent == tmp_path / "elsewhere" / "test"
    assert second.report.counts == {"sent": 6} and second.report.run_sent == 3
    assert max(once_each(sim, "Hi ").values()) == 1 and len(sim.backend.accepted()) == 6


@pytest.mark.parametrize("damage", ["deleted", "zero-length", "an older copy"])
def test_a_journal_lost_after_a_run_is_refused_not_taken_for_a_fresh_campaign(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway, damage: str
) -> None:
    """Issue 10 case 5: a missing, empty or older journal beside the history mark: refused
    (exit 2 at the command line) with what to do; nothing is sent."""
    campaign = make_campaign(4)
    path = journal_path(campaign, gateway)
    if damage == "an older copy":
        rcsbatch.run(campaign, gateway=gateway, limit=1)
        shutil.copy(path, path.with_name("old.sqlite"))
    rcsbatch.run(campaign, gateway=gateway, limit=2)
    sent = len(sim.backend.accepted())
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    if damage == "deleted":
        path.unlink()
    elif damage == "zero-length":
        path.write_bytes(b"")
    else:
        shutil.move(path.with_name("old.sqlite"), path)
    with pytest.raises(HistoryLostError, match=r"history\.json") as refused:
        rcsbatch.run(campaign, gateway=gateway)
    assert "new name" in str(refused.value)
    assert len(sim.backend.accepted()) == sent


def test_a_campaign_sent_from_elsewhere_is_refused_on_its_first_run_here(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """No journal, no history, yet the logbook holds this campaign's derived foreign_id (another
    machine ran it): the first run refuses and sends nothing."""
    campaign = make_campaign(5, message={"foreign_id": None})
    sim.backend.inject(R(3), "Hi Name3", foreign_id=derived_foreign_id("test", int(R(3))))
    with pytest.raises(AlreadySentError, match="another machine"):
        rcsbatch.run(campaign, gateway=gateway)
    assert sim.backend.accepted() == []


def test_a_journal_of_an_older_version_in_the_report_folder_is_moved_in(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A journal rcsbatch 0.1 kept in `<report dir>/<campaign>/` is found and moved into the
    state folder on first use: the run resumes it, nobody twice."""
    campaign = make_campaign(4)
    rcsbatch.run(campaign, gateway=gateway, limit=2)
    state = campaign_state(campaign, gateway)
    legacy = campaign.report_dir / "test"
    shutil.move(state.journal, legacy / "journal.sqlite")
    state.history.unlink()
    done = rcsbatch.run(campaign, gateway=gateway)
    assert done.report.counts == {"sent": 4} and done.report.run_sent == 2
    assert len(sim.backend.accepted()) == 4
    assert not (legacy / "journal.sqlite").exists() and state.journal.exists()


def test_state_files_are_the_owners_alone(
    make_campaign: CampaignFactory, gateway: Gateway, state_dir: Path
) -> None:
    """The state folder holds numbers and texts: folders 0700, history 0600."""
    campaign = make_campaign(2)
    rcsbatch.run(campaign, gateway=gateway)
    found = campaign_state(campaign, gateway)
    assert found.folder.stat().st_mode & 0o077 == 0
    assert found.history.stat().st_mode & 0o077 == 0
    assert API_KEY not in found.history.read_text()
    assert all(API_KEY not in p.name for p in state_dir.rglob("*"))


# ---- SIGKILL, the WAL, validity ------------------------------------------------------------


def test_a_kill_then_a_lost_wal_still_settles_every_row_once(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """SIGKILL mid-run, then the journal's -wal file is lost: the in-flight marks were
    checkpointed into the main file before their requests left, so the rows show in flight and
    are settled through the logbook; nobody gets two messages. (A kill in the middle of a
    checkpoint leaves a main file that only the WAL could mend: then the run refuses the damaged
    journal and sends nothing.)"""
    rows = 60
    sim.set_faults(latency_ms=20, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 3})
    cli_run = Cli(campaign, sim)
    proc = cli_run.start()
    assert wait_until(lambda: sim.backend.counters.send_requests >= 8)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(0.2)
    journal = journal_path(campaign, Gateway(sim.base_url, API_KEY))
    Path(str(journal) + "-wal").unlink(missing_ok=True)
    Path(str(journal) + "-shm").unlink(missing_ok=True)
    try:
        with sqlite3.connect(journal) as db:
            (in_flight,) = db.execute(
                "SELECT count(*) FROM messages WHERE status = 'in_flight'"
            ).fetchone()
    except sqlite3.DatabaseError as exc:
        # Killed in the middle of a checkpoint: the main file holds some of the WAL's pages, and
        # only the lost WAL could make it whole again. That journal is damaged, and the next run
        # must say so and send nothing, rather than read half a journal.
        assert "malformed" in str(exc)
        before = sim.backend.counters.send_requests
        refused = cli_run.run()
        assert refused.returncode == 2, refused.stderr
        assert "is damaged" in refused.stderr, refused.stderr
        assert sim.backend.counters.send_requests == before
        return
    assert in_flight > 0
    done = finish(cli_run, campaign, sim)
    exactly_once(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])


def test_a_sigkill_storm_ends_with_nobody_messaged_twice_and_the_cost_to_the_cent(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """22 SIGKILLs at random moments of a campaign with dropped answers and 5xx pages: in the
    end every row has exactly one message, and the report's cost is the gateway's charge."""
    rows = 600
    sim.set_faults(
        seed=12,
        latency_ms=30,
        logbook_latency_ms=0,
        drop_after_accept_rate=0.03,
        error_502_rate=0.03,
    )
    campaign = make_campaign(rows, send={"concurrency": 3})
    cli_run = Cli(campaign, sim)
    _, kills = kill_repeatedly(cli_run, sim, random.Random(5), kills=22)
    assert len(kills) == 22, "the campaign ended before 22 kills"
    done = finish(cli_run, campaign, sim)
    exactly_once(folder_of(done), sim, [R(i) for i in range(1, rows + 1)])


NUDGE = "4917699999999"


def finish(cli_run: Cli, campaign: Campaign, sim: SimulatorServer) -> Any:
    """Run the command until it exits 0. Lost answers among a run's last rows have no later
    message to show the logbook current past them: another campaign's message does (a test
    send would too)."""
    done = cli_run.run()
    for n in range(4):
        if done.returncode != 1:
            break
        time.sleep(2.5)
        other = CampaignFactory(campaign.path.parent)(
            [{"phone": "+" + NUDGE}], name=f"nudge{n}", message={"text": "x", "foreign_id": None}
        )
        rcsbatch.run(other, gateway=Gateway(sim.base_url, API_KEY))
        done = cli_run.run()
    assert done.returncode == 0, done.stderr
    return done


def exactly_once(folder: Path, sim: SimulatorServer, recipients: list[str]) -> None:
    """Each recipient has exactly one message at the gateway, the report names it at its price,
    and the total cost is the gateway's charge for them to the cent."""
    ours = [m for m in sim.backend.accepted() if m.to != NUDGE]
    assert sorted(Counter(m.to for m in ours).items()) == sorted((r, 1) for r in recipients)
    by_id = {m.id: m for m in ours}
    for row in pq.read_table(folder / "results.parquet").to_pylist():
        m = by_id[row["message_id"]]
        assert (row["status"], row["recipient"], row["price"]) == ("sent", m.to, m.price)
    summary = json.loads((folder / "summary.json").read_text())
    assert Decimal(summary["total_cost"]) == sum((m.price for m in ours), Decimal(0))


def test_a_row_whose_validity_passed_while_its_run_was_dead_expires(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Issue 10 case 8: killed in flight, resumed after its validity: its validity counts from
    the moment it was taken, so it is `expired`, not sent with a fresh validity."""
    campaign = make_campaign(8, message={"ttl": 1})
    state = campaign_state(campaign, gateway)
    rcsbatch.run(campaign, gateway=gateway, limit=0)  # the journal, with every row
    from rcsbatch.state.journal import Journal

    with Journal(state.journal) as journal:
        journal.take_batch("dead-run", 2, now=time.time() - 120)  # taken, then the run died
    done = settle_all(campaign, gateway, tries=2)
    statuses = {to: r["status"] for to, r in rows_of(done).items()}
    assert statuses[R(1)] == statuses[R(2)] == "expired"
    assert all(statuses[R(i)] == "sent" for i in range(3, 9))
    assert once_each(sim, "Hi Name1")[R(1)] == 0


# ---- case 7: the budget -------------------------------------------------------------------


def test_a_budget_stop_with_lost_answers_keeps_the_cost_honest(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """max_cost reached while answers were lost: the summary says the cost is not complete
    while rows are unknown; the next run settles them before the budget check, counts their
    real prices, and never passes max_cost."""
    sim.set_faults(seed=2, drop_after_accept_rate=0.3)
    campaign = make_campaign(
        10,
        # An estimate below the real price (0.0475): the run stops at max_cost mid-way.
        send={"max_cost": "0.30", "price_estimate": "0.01", "concurrency": 1},
    )
    first = rcsbatch.run(campaign, gateway=gateway)
    summary = json.loads((first.folder / "summary.json").read_text())
    if first.report.counts.get("unknown"):
        assert summary["cost_complete"] is False
    assert summary["stopped_by_budget"]
    time.sleep(2.5)
    try:
        second = rcsbatch.run(campaign, gateway=gateway, limit=1)
    except BudgetError:
        second = None  # refused, with every lost answer counted at the price charged
    charged = sum((m.price for m in sim.backend.accepted()), Decimal(0))
    assert charged <= Decimal("0.30")
    assert max(once_each(sim, "Hi ").values()) == 1
    if second is not None:
        total = Decimal(json.loads((second.folder / "summary.json").read_text())["total_cost"])
        assert total <= charged


def test_validate_warns_when_the_foreign_id_template_holds_nothing_of_the_campaign(
    make_campaign: CampaignFactory,
) -> None:
    campaign = make_campaign(2)
    done = CliRunner().invoke(cli, ["validate", str(campaign.path)])
    assert done.exit_code == 0 and "foreign_id = '{customer_id}'" in done.stderr
    named = make_campaign(2, name="named", message={"foreign_id": "spring-{customer_id}"})
    done = CliRunner().invoke(cli, ["validate", str(named.path)])
    assert done.exit_code == 0 and "warning" not in done.stderr
    assert os.environ.get("RCSBATCH_STATE_DIR")


def test_sync_keeps_a_second_message_found_for_a_row_resent_after_its_absence(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A row judged absent and sent again, whose first message shows in the logbook after all
    (a logbook out of order by more than the margin): sync keeps both ids and both prices, and
    says the row was sent twice; the cost is the gateway's charge."""
    campaign = make_campaign(1)
    done = rcsbatch.run(campaign, gateway=gateway)
    (second,) = sim.backend.accepted()
    first_id = sim.backend.inject(R(1), "Hi Name1", foreign_id="c1", at=second.accepted_at - 40)
    with sqlite3.connect(journal_path(campaign, gateway)) as db:
        db.execute(
            "UPDATE messages SET resent_after_absence = 1, first_attempt_at = ?",
            (second.accepted_at - 45,),
        )
    stats, folder = sync_now(campaign, gateway)
    assert stats.sent_twice == 1 and folder == done.folder
    row = rows_of(done)[R(1)]
    assert set(row["message_id"].split()) == {first_id, second.id}
    assert row["price"] == 2 * second.price
    assert "sent twice" in row["error_text"]
    assert sync_now(campaign, gateway)[0].sent_twice == 0


def test_a_journal_path_of_the_campaign_file_is_never_shared_by_two_accounts(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """`journal = "…"`: a simulated run first, then a real one with the same file: refused,
    not skipping every row as sent by the simulator."""
    from rcsbatch.errors import ReportError

    campaign = make_campaign(3, journal="own.sqlite")
    assert rcsbatch.run(campaign, gateway=gateway).report.counts == {"sent": 3}
    assert (campaign.path.parent / "own.sqlite").exists()
    with pytest.raises(ReportError, match="another gateway account"):
        rcsbatch.run(campaign, gateway=Gateway(sim.base_url, API_KEY))
    assert len(sim.backend.accepted()) == 3


def test_a_dead_runs_rows_keep_the_delay_they_were_sent_with(
    make_campaign: CampaignFactory, gateway: Gateway
) -> None:
    """The in-flight mark carries the campaign's delay: a killed run's scheduled rows are
    judged only after it (the logbook may list them only then)."""
    from rcsbatch.state.journal import Journal

    delay = time.time() + 3600
    campaign = make_campaign(3, message={"delay": int(delay)})
    rcsbatch.run(campaign, gateway=gateway, limit=0)
    with Journal(journal_path(campaign, gateway)) as journal:
        journal.take_batch("dead-run", 2, now=time.time(), delay=int(delay))
        assert [r.delay for r in journal.unsettled()] == [int(delay)] * 2


def test_an_account_folder_never_names_credentials_in_the_base_url() -> None:
    from rcsbatch.state.paths import account_id

    name = account_id("https://user:secret@gateway.seven.io:8443/api", "key")
    assert "secret" not in name and "user" not in name and "key" not in name
    assert name.startswith("gateway.seven.io_8443-")
    assert account_id("http://127.0.0.1:9/api", "k", simulated=True) == "simulator"


def test_a_logbook_that_rewrites_links_keeps_lost_answers_unknown_and_says_so(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Click tracking shortens the links the logbook shows: a lost answer's message is not
    recognised (not `sent`), and is not sent again either; the summary records that the logbook
    rewrites texts, measured on this run's own messages."""
    sim.set_faults(text_rendering="tracked_links", script=["drop"])
    campaign = make_campaign(
        4,
        message={"text": "Hi {first_name}, see https://example.com/{customer_id}"},
        send={"concurrency": 1},
    )
    result = rcsbatch.run(campaign, gateway=gateway)
    row = rows_of(result)[R(1)]
    assert row["status"] == "unknown" and "text" in row["error_text"]
    assert once_each(sim, "Hi Name1")[R(1)] == 1
    facts = json.loads((result.folder / "summary.json").read_text())["logbook"]
    assert facts["text_rendering"] == "rewritten"
