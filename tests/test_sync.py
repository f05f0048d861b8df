"""`rcsbatch sync`: delivery states and final prices from the simulator's logbook, idempotently."""

from __future__ import annotations

import errno
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import CampaignFactory, sync_now

import rcsbatch
from rcsbatch.cli import cli
from rcsbatch.errors import ReportError
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.results import COUNTED, ResultsWriter
from rcsbatch.simulator import DEFAULT_PRICE, SimulatorServer


def rows(folder: Path) -> dict[str, dict[str, Any]]:
    return {r["recipient"]: r for r in pq.read_table(folder / "results.parquet").to_pylist()}


def test_sync_fills_states_and_the_prices_the_answers_left_out(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Answers without prices, reports only in the logbook: after sync every sent row has the
    gateway's price and delivery state in the rewritten results; a second sync changes nothing."""
    sim.set_faults(
        price_in_answer=False,
        delivery_for={make_campaign.recipient(2): "NOTDELIVERED"},
    )
    campaign = make_campaign(3)
    result = rcsbatch.run(campaign, gateway=gateway)
    before = rows(result.folder)
    assert {r["price_status"] for r in before.values()} == {"unknown"}
    stats, folder = sync_now(campaign, gateway)
    assert folder == result.folder
    assert (stats.needed, stats.prices, stats.states) == (3, 3, 3)
    after = rows(folder)
    assert {r["price"] for r in after.values()} == {DEFAULT_PRICE}
    assert after[make_campaign.recipient(1)]["delivery_status"] == "DELIVERED"
    assert after[make_campaign.recipient(2)]["delivery_status"] == "NOTDELIVERED"
    assert all(r["delivered_at"] is not None for r in after.values())
    again, _ = sync_now(campaign, gateway)
    assert (again.needed, again.states, again.prices) == (0, 0, 0)


def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def test_sync_rewrites_the_summary_with_the_results(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The rewritten folder's summary.json counts the prices sync found (cost complete) and
    keeps what the run wrote (its times, balances, exit code); other files stay in the folder;
    nothing hidden is left beside it."""
    sim.set_faults(price_in_answer=False)
    campaign = make_campaign(3)
    result = rcsbatch.run(campaign, gateway=gateway)
    before = summary(result.folder)
    assert (before["cost_complete"], before["sent_without_price"]) == (False, 3)
    (result.folder / "notes.txt").write_text("mine", encoding="utf-8")
    _, folder = sync_now(campaign, gateway)
    assert folder == result.folder
    after = summary(folder)
    assert (after["cost_complete"], after["sent_without_price"]) == (True, 0)
    assert Decimal(after["total_cost"]) == 3 * DEFAULT_PRICE
    assert after["this_run"] == {"sent": 3, "cost": str(3 * DEFAULT_PRICE)}
    assert "rewritten_at" in after
    unchanged = {k: v for k, v in after.items() if k not in COUNTED and k != "rewritten_at"}
    assert unchanged == {k: v for k, v in before.items() if k not in COUNTED}
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]
)
def test_a_sync_whose_rewrite_fails_leaves_the_old_folder_whole(
    make_campaign: CampaignFactory,
    sim: SimulatorServer,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    """A full disk or Ctrl-C while the new results are written: the run folder keeps its old
    files byte for byte, and no temporary folder is left."""
    sim.set_faults(price_in_answer=False)
    campaign = make_campaign(3)
    result = rcsbatch.run(campaign, gateway=gateway)
    files = {p.name: p.read_bytes() for p in result.folder.iterdir()}

    def full(self: ResultsWriter, table: pa.Table) -> None:
        (self.folder / "results.csv").write_text("row\n", encoding="utf-8")
        raise error

    monkeypatch.setattr(ResultsWriter, "_write_files", full)
    with pytest.raises(type(error)):
        sync_now(campaign, gateway)
    assert {p.name: p.read_bytes() for p in result.folder.iterdir()} == files
    assert sorted(files) == ["results.csv", "results.parquet", "summary.json"]
    assert not [p for p in result.folder.parent.iterdir() if p.name.startswith(".")]


def test_sync_pages_through_other_campaigns_messages(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """250 messages of another campaign sent later sit in front of ours in the logbook: sync
    reads every page and still finds ours."""
    sim.set_faults(price_in_answer=False)
    ours = make_campaign(2, name="ours")
    rcsbatch.run(ours, gateway=gateway)
    for i in range(250):
        sim.backend.send({"to": f"4915100{i:06d}", "text": "other"}, "key")
    stats, _ = sync_now(ours, gateway)
    assert stats.pages >= 3 and stats.prices == 2


def test_sync_of_a_campaign_never_run_is_a_clear_error(make_campaign: CampaignFactory) -> None:
    """No journal: ReportError saying so."""
    campaign = make_campaign(1)
    with pytest.raises(ReportError, match="never run"):
        sync_now(campaign, Gateway("http://127.0.0.1:9", "k"))


def test_sync_cli_with_simulate_reads_the_campaigns_simulator(
    make_campaign: CampaignFactory,
) -> None:
    """`run --simulate` then `sync --simulate`: the same simulated gateway's logbook fills the
    states; the run folder is printed on stdout."""
    campaign = make_campaign(2)
    runner = CliRunner()
    sent = runner.invoke(cli, ["run", str(campaign.path), "--simulate", "-q"])
    assert sent.exit_code == 0, sent.output
    synced = runner.invoke(cli, ["sync", str(campaign.path), "--simulate"])
    assert synced.exit_code == 0, synced.output
    assert synced.stdout.strip() == sent.stdout.strip()
    assert "delivery states" in synced.stderr
    got = rows(Path(synced.stdout.strip()))
    assert {r["delivery_status"] for r in got.values()} == {"DELIVERED"}
    assert Decimal(0) < min(r["price"] for r in got.values())
