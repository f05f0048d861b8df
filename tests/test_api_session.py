"""The built-in simulator a library call starts (api/session.py): a campaign's, with its saved
state, and a plain one; each says in its own words why it could not start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import CampaignFactory

import rcsbatch
from rcsbatch.api.session import simulated, simulator_gateway
from rcsbatch.errors import ReportError
from rcsbatch.reports.folder import report_root
from rcsbatch.state import paths


def test_a_campaigns_simulator_keeps_what_it_accepted(make_campaign: CampaignFactory) -> None:
    """The campaign's simulator saves its state when it stops, and the next start meets it: the
    messages a simulated run sent are still accepted there, its balance still spent."""
    campaign = make_campaign(2)
    assert rcsbatch.run(campaign, simulate=True).exit_code == 0
    with simulated(campaign, report_root(campaign)) as gateway:
        assert gateway.simulated
        stats = httpx.get(gateway.base_url.removesuffix("/api") + "/_sim/stats").json()
    assert stats["accepted_total"] == 2 and stats["balance"] < 500


def test_a_damaged_campaign_state_says_to_delete_it(make_campaign: CampaignFactory) -> None:
    """A campaign's simulator state that is no JSON: ReportError naming the file and saying
    that deleting it starts the simulated gateway afresh; nothing is started."""
    campaign = make_campaign(2)
    state = paths.campaign_state(campaign, paths.SIMULATOR).simulator
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("not json", encoding="utf-8")
    with pytest.raises(ReportError) as caught:
        rcsbatch.run(campaign, simulate=True)
    message = str(caught.value)
    assert message.startswith(f"{state}: the simulator's state file is damaged (")
    assert message.endswith("; delete it to start the simulated gateway afresh")


def test_a_campaign_state_folder_that_cannot_be_made_names_the_variable(
    make_campaign: CampaignFactory, state_dir: Path
) -> None:
    """A state folder that cannot be made (a file in its place): ReportError naming the folder
    and RCSBATCH_STATE_DIR."""
    campaign = make_campaign(2)
    state = paths.campaign_state(campaign, paths.SIMULATOR).simulator
    blocker = next(p for p in reversed(state.parents) if p.is_relative_to(state_dir))
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("", encoding="utf-8")
    with (
        pytest.raises(ReportError, match=r"RCSBATCH_STATE_DIR to a folder you can write$"),
        simulated(campaign, report_root(campaign)),
    ):
        pass


def test_a_plain_simulators_damaged_state_is_said_plainly(tmp_path: Path) -> None:
    """A plain simulator (capabilities of a file, events) whose state file is no JSON:
    ReportError naming the file, without the campaign's advice."""
    state = tmp_path / "simulator.json"
    state.write_text("not json", encoding="utf-8")
    with pytest.raises(ReportError) as caught, simulator_gateway(state, None):
        pass
    message = str(caught.value)
    assert message.startswith(f"{state}: the simulator's state file is damaged (")
    assert "delete it" not in message


def test_a_plain_simulator_that_cannot_start_says_so(tmp_path: Path) -> None:
    """A plain simulator whose state folder cannot be made: 'cannot start the simulator'."""
    (tmp_path / "taken").write_text("", encoding="utf-8")
    with (
        pytest.raises(ReportError, match=r"^cannot start the simulator \("),
        simulator_gateway(tmp_path / "taken" / "simulator.json", None),
    ):
        pass


def test_a_throwaway_simulator_saves_nothing(tmp_path: Path) -> None:
    """No state: a throwaway simulator that answers while it runs and leaves no file."""
    from rcsbatch.api.account import list_agents

    with simulator_gateway(None, None) as gateway:
        assert gateway.simulated and list_agents(gateway=gateway)
    assert list(tmp_path.iterdir()) == []
