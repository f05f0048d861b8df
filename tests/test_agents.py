"""`rcsbatch agents`, and the agent check of `run` and `validate`, against the simulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory

from rcsbatch.actions.agents import check_agent
from rcsbatch.cli import cli
from rcsbatch.simulator import SimulatorServer


@pytest.fixture
def env(sim: SimulatorServer) -> dict[str, str]:
    return {"SEVEN_BASE_URL": sim.base_url, "SEVEN_API_KEY": API_KEY}


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, args, env=env)


def test_agents_lists_id_status_and_name(env: dict[str, str]) -> None:
    """One tab-separated line per agent; --json gives the gateway's objects."""
    result = invoke(["agents"], env)
    assert result.exit_code == 0, result.output
    assert "myfancyagent\tlaunched\tMy Fancy Agent" in result.stdout
    assert "testagent\ttest\tTest Agent" in result.stdout
    as_json = [json.loads(line) for line in invoke(["agents", "--json"], env).stdout.splitlines()]
    assert {a["id"] for a in as_json} == {"myfancyagent", "testagent"}


def test_agents_without_key_is_exit_2() -> None:
    """No key: exit 2."""
    assert invoke(["agents"], {"SEVEN_API_KEY": ""}).exit_code == 2


def test_run_refuses_an_agent_the_account_lacks(
    make_campaign: CampaignFactory, sim: SimulatorServer, env: dict[str, str]
) -> None:
    """An unknown `from`: exit 2, the error names the known agents, nothing sent."""
    campaign = make_campaign(2, message={"from": "nosuchagent"})
    result = invoke(["run", str(campaign.path)], env)
    assert result.exit_code == 2, result.output
    assert "nosuchagent" in result.output and "myfancyagent" in result.output
    assert not sim.backend.accepted()


def test_run_warns_for_a_test_agent_and_sends(
    make_campaign: CampaignFactory, sim: SimulatorServer, env: dict[str, str]
) -> None:
    """An agent in test status: a warning, then the run goes on (to its test numbers here)."""
    sim.backend.update_account(
        {
            "agents": [
                {
                    "id": "testagent",
                    "status": "test",
                    "test_numbers": [make_campaign.recipient(1), make_campaign.recipient(2)],
                }
            ]
        }
    )
    campaign = make_campaign(2, message={"from": "testagent"})
    result = invoke(["run", str(campaign.path)], env)
    assert result.exit_code == 0, result.output
    assert "test status" in result.output
    assert len(sim.backend.accepted()) == 2


def test_run_simulate_checks_against_the_simulator(make_campaign: CampaignFactory) -> None:
    """--simulate: the built-in simulator's agents decide."""
    campaign = make_campaign(1, message={"from": "nosuchagent"})
    assert invoke(["run", str(campaign.path), "--simulate"]).exit_code == 2


def test_validate_checks_with_a_key_and_says_it_skipped_without(
    make_campaign: CampaignFactory, env: dict[str, str]
) -> None:
    """With a key an unknown agent is exit 2; without one, validate says it skipped the check."""
    campaign = make_campaign(1, message={"from": "nosuchagent"})
    assert invoke(["validate", str(campaign.path)], env).exit_code == 2
    skipped = invoke(["validate", str(campaign.path)], {"SEVEN_API_KEY": ""})
    assert skipped.exit_code == 0 and "agent check skipped" in skipped.output


def test_no_agent_named_needs_no_check() -> None:
    """Without `from` seven picks the agent: nothing to judge."""
    assert check_agent([], None).error is None
