"""`rcsbatch revoke`: revoke requests against the loopback simulator, journalled, never resent."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import CampaignFactory, sync_now

import rcsbatch
from rcsbatch import cli as cli_module
from rcsbatch.cli import cli
from rcsbatch.gateway.config import Gateway
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.journal import Journal
from rcsbatch.state.paths import journal_path

R = CampaignFactory.recipient


def statuses(folder: Path) -> dict[str, str]:
    return {
        r["recipient"]: r["status"] for r in pq.read_table(folder / "results.parquet").to_pylist()
    }


def test_revoke_asks_once_and_sync_confirms(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Undelivered messages are asked for once (a second revoke sends nothing), show
    revoke_requested, and revoked once the logbook shows them REJECTED; recipient 1's handset
    lacks REVOCATION, so it stays revoke_requested."""
    sim.set_faults(delivery_after_s=3600)
    campaign = make_campaign(3)
    rcsbatch.run(campaign, gateway=gateway)
    revoked = rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway)
    found, stats, folder = revoked.plan, revoked.stats, revoked.folder
    assert stats is not None and stats.requested == 3 and len(found.ids) == 3
    assert len(sim.backend.revocations) == 3
    assert folder is not None and set(statuses(folder).values()) == {"revoke_requested"}
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"] == {"revoke_requested": 3}
    repeated = rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway)
    again, second = repeated.plan, repeated.stats
    assert not again.ids and second is None
    assert len(sim.backend.revocations) == 3
    assert again.already["revoke_requested"] == 3
    _, synced = sync_now(campaign, gateway)
    assert synced is not None
    after = statuses(synced)
    assert after == {R(1): "revoke_requested", R(2): "revoked", R(3): "revoked"}


def test_revoked_rows_are_never_sent_again(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """After a revoke, a later run (even with --retry-failed) sends nothing, and its results
    keep the revoke states."""
    sim.set_faults(delivery_after_s=3600)
    campaign = make_campaign(3)
    rcsbatch.run(campaign, gateway=gateway)
    assert rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway).exit_code == 0
    sync_now(campaign, gateway)
    sent_before = len(sim.backend.accepted())
    result = rcsbatch.run(campaign, gateway=gateway, retry_failed=True)
    assert len(sim.backend.accepted()) == sent_before
    assert set(statuses(result.folder).values()) == {"revoke_requested", "revoked"}
    assert result.report.exit_code == 0
    assert result.report.counts["revoked"] == 2


def test_only_scheduled_leaves_messages_already_gone(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Rows sent without a delay are left alone by --only-scheduled; rows sent with a delay
    still ahead are asked for (and the simulator deletes them: scheduled)."""
    sim.set_faults(delivery_after_s=3600)
    first = make_campaign(2)
    rcsbatch.run(first, gateway=gateway)
    later = make_campaign(4, message={"delay": int(time.time()) + 3600})
    rcsbatch.run(later, gateway=gateway)
    stats = rcsbatch.revoke_messages(
        later, confirm=True, gateway=gateway, only_scheduled=True
    ).stats
    assert stats is not None and stats.requested == 2
    asked = {sim.backend.message(r["id"]).to for r in sim.backend.revocations}  # type: ignore[union-attr]
    assert asked == {R(3), R(4)}
    assert all(r["revoked"] for r in sim.backend.revocations)


def test_revoke_retries_server_errors(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """HTTP 500 pages on DELETE are retried (a DELETE may be repeated): every message ends up
    asked for."""
    sim.set_faults(delivery_after_s=3600)
    campaign = make_campaign(2)
    rcsbatch.run(campaign, gateway=gateway)
    sim.set_faults(revoke_fail_first_n=2)
    stats = rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway).stats
    assert stats is not None and stats.requested == 2 and not stats.failed
    assert stats.retries == 2


def test_revoke_counts_in_journal_survive_reopening(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The journal keeps each id's request time and its row's revoke state."""
    sim.set_faults(delivery_after_s=3600)
    campaign = make_campaign(1)
    rcsbatch.run(campaign, gateway=gateway)
    assert rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway).exit_code == 0
    with Journal(journal_path(campaign, "simulator")) as journal:
        (at,) = journal.db.execute("SELECT revoke_requested_at FROM message_ids").fetchone()
        assert at is not None
        assert journal.revoke_counts()["revoke_requested"] == 1


def cli_run(args: list[str], **kw: Any) -> Any:
    return CliRunner().invoke(cli, args, **kw)


def test_cli_refuses_without_terminal_or_yes(make_campaign: CampaignFactory) -> None:
    """No terminal and no --yes: exit 2 and a message saying to pass --yes."""
    campaign = make_campaign(1)
    result = cli_run(["revoke", str(campaign.path), "--simulate"])
    assert result.exit_code == 2 and "--yes" in result.output


def test_cli_confirmation_refused_sends_nothing(
    make_campaign: CampaignFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answering no: exit 1, nothing asked; then --yes asks for every message."""
    campaign = make_campaign(2, send={"concurrency": 2})
    assert cli_run(["run", str(campaign.path), "--simulate", "-q"]).exit_code == 0
    monkeypatch.setattr(cli_module, "_interactive", lambda: True)
    declined = cli_run(["revoke", str(campaign.path), "--simulate"], input="n\n")
    assert declined.exit_code == 1, declined.output
    assert "2 messages not delivered yet" in declined.output
    assert "nothing revoked" in declined.output
    accepted = cli_run(["revoke", str(campaign.path), "--simulate", "--yes"])
    assert accepted.exit_code == 0, accepted.output
    assert "revoke requested for 2 messages" in accepted.output
    again = cli_run(["revoke", str(campaign.path), "--simulate", "--yes"])
    assert again.exit_code == 0 and "nothing to revoke" in again.output
