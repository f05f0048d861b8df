"""Capability lookups: batched, cached with their time, cost shown first, and `[send] require`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory

import rcsbatch
from rcsbatch.campaign.file import load_campaign
from rcsbatch.cli import cli
from rcsbatch.engine.runner import dry_run
from rcsbatch.errors import CampaignError
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.figures import figures
from rcsbatch.reports.outcome import EXIT_OK
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.journal import Journal
from rcsbatch.state.paths import journal_path

R = CampaignFactory.recipient
# The simulator's capabilities go by the last digit: 0 no RCS, 1 all but REVOCATION, else all.


def invoke(sim: SimulatorServer, *args: str, input: str | None = None) -> Any:
    env = {"SEVEN_API_KEY": API_KEY, "SEVEN_BASE_URL": sim.base_url}
    return CliRunner().invoke(cli, ["capabilities", *args], env=env, input=input)


def phones_file(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "people.csv"
    rows = [f"+{R(i)}" for i in range(1, count + 1)]
    path.write_text("phone\n" + "\n".join(rows) + "\nnot a number\n")
    return path


def test_plain_file_is_looked_up_in_batches_and_cached(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """60 numbers go in two comma-separated requests; the summary counts RCS, cards, carousels."""
    path = phones_file(tmp_path, 60)
    result = invoke(sim, str(path), "--yes", "--lookup-price", "0.005")
    assert result.exit_code == 0, result.output
    assert sim.backend.counters.requests["lookup"] == 2
    assert "60 to look up, cost 0.300 (60 × 0.005)" in result.stderr
    summary = json.loads(result.stdout)
    # Numbers ending in 0 (6 of 60: 10, 20, …, 60) have no RCS.
    assert summary == {
        "numbers": 60,
        "looked_up": 60,
        "rcs": 54,
        "richcard_standalone": 54,
        "richcard_carousel": 54,
        "meet_require": None,
    }
    assert (tmp_path / "reports" / "lookups.sqlite").exists()


def test_no_second_lookup_within_the_age(sim: SimulatorServer, tmp_path: Path) -> None:
    """A cached answer younger than --max-age is reused; an aged one is looked up again."""
    path = phones_file(tmp_path, 3)
    assert invoke(sim, str(path), "--yes").exit_code == 0
    assert invoke(sim, str(path), "--yes").exit_code == 0
    assert sim.backend.counters.lookups == 3
    with Journal(tmp_path / "reports" / "lookups.sqlite") as journal:
        journal.db.execute("UPDATE capabilities SET looked_up_at = ?", (time.time() - 3 * 86400,))
    assert invoke(sim, str(path), "--yes", "--max-age", "7d").exit_code == 0
    assert sim.backend.counters.lookups == 3
    assert invoke(sim, str(path), "--yes", "--max-age", "2d").exit_code == 0
    assert sim.backend.counters.lookups == 6


def test_cost_is_shown_and_declining_looks_nothing_up(
    sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --yes it asks a person at a terminal first; a "no" makes no request (exit 1)."""
    monkeypatch.setattr("rcsbatch.cli._interactive", lambda: True)
    result = invoke(sim, str(phones_file(tmp_path, 2)), input="n\n")
    assert result.exit_code == 1
    assert "2 to look up" in result.stderr and "look them up?" in result.stderr
    assert sim.backend.counters.lookups == 0


def test_without_a_terminal_or_yes_it_refuses_with_a_hint(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """No terminal to ask in (cron; CliRunner's stdin) and no --yes: exit 2 saying to add --yes,
    not click's "Aborted!" with exit 1; nothing looked up."""
    result = invoke(sim, str(phones_file(tmp_path, 2)))
    assert result.exit_code == 2, result.output
    assert "2 to look up" in result.stderr and "add --yes to look them up" in result.stderr
    assert "Aborted" not in result.output and sim.backend.counters.lookups == 0


def test_retriable_faults_are_retried_lost_answers_are_not(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    """A 429 batch is retried; a 500-page batch is left unlooked-up (it may be billed): exit 1."""
    sim.faults.update({"lookup_script": ["429", "ok", "500"], "retry_after": 0})
    path = phones_file(tmp_path, 60)
    result = invoke(sim, str(path), "--yes")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["looked_up"] in (50, 10)
    # The next call looks up only what is missing.
    assert invoke(sim, str(path), "--yes").exit_code == 0


def test_refused_key_exits_3(sim: SimulatorServer, tmp_path: Path) -> None:
    """A refused key stops the lookups with exit 3."""
    sim.faults.update({"refuse_key": API_KEY})
    assert invoke(sim, str(phones_file(tmp_path, 2)), "--yes").exit_code == 3


def test_require_names_are_checked(make_campaign: CampaignFactory) -> None:
    """An unknown capability name in [send] require is a campaign error naming the known ones."""
    path = make_campaign(3).path
    path.write_text(path.read_text().replace("[send]", '[send]\nrequire = ["RICH_CARDS"]'))
    with pytest.raises(CampaignError, match="RICHCARD_CAROUSEL"):
        load_campaign(path)


@pytest.fixture
def gateway(sim: SimulatorServer) -> Gateway:
    """The simulator as a real account, as `invoke` reaches it (SEVEN_BASE_URL and a key): the
    lookups `capabilities` caches and the runs share one journal."""
    return Gateway(sim.base_url, API_KEY)


def _campaign(make_campaign: CampaignFactory, rows: int, **message: Any) -> Path:
    campaign = make_campaign(rows, message=message or None)
    text = campaign.path.read_text().replace(
        "[send]", '[send]\nrequire = ["RICHCARD_STANDALONE", "REVOCATION"]'
    )
    campaign.path.write_text(text)
    return campaign.path


def test_require_marks_incapable_rows_not_sent(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """After `capabilities`, rows lacking a required capability are `incapable`: never sent,
    counted, exit 0."""
    path = _campaign(make_campaign, 12)
    result = invoke(sim, str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["meet_require"] == 9  # 1, 11 lack REVOCATION; 10 no RCS
    campaign = load_campaign(path)
    # A dry run shows (and does not estimate) them as the run will.
    dry = dry_run(campaign, campaign.report_dir)
    assert (dry.report.counts["incapable"], dry.report.counts["ready"]) == (3, 9)
    done = rcsbatch.run(campaign, gateway=gateway)
    assert done.report.exit_code == EXIT_OK
    assert done.report.counts["incapable"] == 3  # 1, 10 (no RCS), 11
    table = pq.read_table(done.folder / "results.parquet").to_pylist()
    incapable = {r["recipient"] for r in table if r["status"] == "incapable"}
    assert incapable == {R(1), R(10), R(11)}
    assert not incapable & {m.to for m in sim.backend.accepted()}
    assert {r["channel"] for r in table if r["status"] == "sent"} == {"rcs"}
    assert "3 rows incapable" in " ".join(done.report.lines())


def test_require_with_fallback_sends_them_apart(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """With [message] fallback, rows lacking a capability go with it; counts and costs per
    channel are kept apart; `run --lookup` looks up first (once)."""
    path = _campaign(make_campaign, 12, fallback="sms")
    campaign = load_campaign(path)
    done = rcsbatch.run(campaign, gateway=gateway, lookup=True)
    assert sim.backend.counters.lookups == 12
    table = pq.read_table(done.folder / "results.parquet").to_pylist()
    channels = {r["recipient"]: r["channel"] for r in table}
    assert channels[R(10)] == channels[R(11)] == "fallback" and channels[R(2)] == "rcs"
    assert all(m.fallback == "sms" for m in sim.backend.accepted())
    summary = json.loads((done.folder / "summary.json").read_text())
    assert summary["channels"]["fallback"]["sent"] == 3
    assert summary["channels"]["rcs"]["sent"] == 9
    assert summary["channels"]["fallback"]["cost"] == str(3 * sim.backend.price)
    # `rcsbatch report` keeps them apart too.
    by_channel = {
        c.key: (c.sent, c.cost)
        for c in figures(journal_path(campaign, gateway), campaign.name).by_channel
    }
    assert by_channel == {"fallback": (3, 3 * sim.backend.price), "rcs": (9, 9 * sim.backend.price)}
    # A second run with --lookup asks nothing again (the cache is fresh).
    rcsbatch.run(campaign, gateway=gateway, lookup=True)
    assert sim.backend.counters.lookups == 12


def test_require_without_lookup_sends_as_usual(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The lookup is opt-in: without a cached lookup every row goes, and the summary says so."""
    campaign = load_campaign(_campaign(make_campaign, 4))
    done = rcsbatch.run(campaign, gateway=gateway)
    assert done.report.counts["sent"] == 4 and sim.backend.counters.lookups == 0
    assert "4 rows had no capability lookup" in (done.report.capability_note or "")


def test_incapable_rows_are_reopened_once_capable(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The decision is made afresh each run: a row whose new lookup meets `require` is sent."""
    campaign = load_campaign(_campaign(make_campaign, 2))
    rcsbatch.run(campaign, gateway=gateway, lookup=True)
    with Journal(journal_path(campaign, gateway)) as journal:
        journal.store_capabilities([(int(R(1)), ["RICHCARD_STANDALONE", "REVOCATION"], 0, None)])
        journal.db.execute("UPDATE capabilities SET looked_up_at = ?", (time.time(),))
    done = rcsbatch.run(campaign, gateway=gateway)
    assert done.report.counts["sent"] == 2


def test_run_lookup_sends_a_landline_the_gateway_shows_rcs_capable(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A landline is invalid until a fresh lookup shows RCS: `run --lookup` looks refused types
    up (no `require` needed) and sends the capable one; a dry run then agrees from the cache."""
    rows = [
        {"phone": "+49 30 1234567", "first_name": "A", "customer_id": "a"},  # RCS (last digit)
        {"phone": "+49 30 1234560", "first_name": "B", "customer_id": "b"},  # no RCS
        {"phone": f"+{R(1)}", "first_name": "C", "customer_id": "c"},
    ]
    campaign = load_campaign(make_campaign(rows, message={"fallback": "sms"}).path)
    before = rcsbatch.run(campaign, gateway=gateway)
    assert (before.report.counts["sent"], before.report.counts["invalid"]) == (1, 2)
    done = rcsbatch.run(campaign, gateway=gateway, lookup=True)
    assert sim.backend.counters.lookups == 2  # only the two landlines
    assert (done.report.counts["sent"], done.report.counts["invalid"]) == (2, 1)
    assert "49301234567" in {m.to for m in sim.backend.accepted()}
    assert done.report.warnings == {"lookup": 1}
    assert "(1 lookup)" in " ".join(done.report.lines())
    summary = json.loads((done.folder / "summary.json").read_text())
    assert summary["warnings"] == {"lookup": 1}
    table = pq.read_table(done.folder / "results.parquet").to_pylist()
    refused = [r for r in table if r["status"] == "invalid"]
    assert refused[0]["error_text"].startswith("a landline number (fixed_line)")
    # A dry run reads the same cache: the lifted landline is settled (sent), not invalid.
    dry = dry_run(campaign, campaign.report_dir, account=gateway.account)
    assert (dry.report.counts["sent"], dry.report.counts["invalid"]) == (2, 1)
