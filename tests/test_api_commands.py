"""The public API's other commands (rcsbatch.api): sync, revoke, capabilities, agents, hooks and
the simulator server, through `import rcsbatch` against the simulator (real sockets), from plain
code and from inside a running event loop; billed and destructive calls take consent."""

from __future__ import annotations

import _thread
import asyncio
import importlib
import json
import threading
import types
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, CampaignFactory
from test_api import ProcessState

import rcsbatch
from rcsbatch.simulator import SimulatorServer

R = CampaignFactory.recipient


def test_no_public_name_is_shadowed_by_a_module() -> None:
    """Each name in `rcsbatch.__all__` is what the API offers, not a submodule of the same name
    that importing the package's modules would put in its place."""
    for path in Path(rcsbatch.__file__).parent.glob("*.py"):
        if path.stem != "__main__":  # it runs the command line
            importlib.import_module(f"rcsbatch.{path.stem}")
    shadowed = [n for n in rcsbatch.__all__ if isinstance(getattr(rcsbatch, n), types.ModuleType)]
    assert shadowed == []


def sent(make_campaign: CampaignFactory, sim: SimulatorServer, *, delivered: bool = False) -> Any:
    """A campaign of three rows run to its end through the simulator, its messages delivered
    at once or not yet."""
    sim.set_faults(delivery_after_s=0 if delivered else 3600)
    campaign = make_campaign(3)
    result = rcsbatch.run(campaign, gateway=rcsbatch.Gateway(sim.base_url, API_KEY))
    assert result.exit_code == 0, result.report.lines()
    return campaign, result


def test_sync_from_inside_a_running_loop_fills_the_results(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """`rcsbatch.delivery.sync` in a coroutine reads the logbook on a loop of its own and rewrites
    the run's results; the caller's process is as it was."""
    campaign, run = sent(make_campaign, sim, delivered=True)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    before = ProcessState()

    async def main() -> rcsbatch.SyncResult:
        return rcsbatch.sync_campaign(campaign, gateway=gateway)

    result = asyncio.run(main())
    assert ProcessState() == before
    assert result.exit_code == 0 and result.folder == run.folder
    assert result.stats.entries >= 3 and result.stats.states == 3
    fresh = rcsbatch.RunResult(run.run_id, run.folder, run.report).results
    assert set(fresh["delivery_status"]) == {"DELIVERED"}


def test_sync_refused_by_the_gateway_comes_back_as_exit_3(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """A key the gateway refuses at the logbook: a SyncResult with exit code 3 and the reason,
    not an exception; a campaign never run raises InputError naming no flag."""
    campaign, _ = sent(make_campaign, sim)
    sim.set_faults(refuse_key=API_KEY)
    result = rcsbatch.sync_campaign(campaign, gateway=rcsbatch.Gateway(sim.base_url, API_KEY))
    assert result.exit_code == 3 and result.stop_reason and result.folder is None
    never = make_campaign(2, name="never")
    with pytest.raises(rcsbatch.InputError, match="never run") as caught:
        rcsbatch.sync_campaign(never, gateway=rcsbatch.Gateway(sim.base_url, API_KEY))
    assert "--" not in str(caught.value)


def test_revoke_without_consent_raises_and_asks_nothing(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """`confirm=False` raises InputError saying how many would go, before any request; a
    confirm function answering no asks nothing either (exit code 1); `confirm=True` revokes."""
    campaign, _ = sent(make_campaign, sim)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    with pytest.raises(rcsbatch.InputError, match=r"3 messages .* confirm=True") as caught:
        rcsbatch.revoke_messages(campaign, confirm=False, gateway=gateway)
    assert "--" not in str(caught.value)
    shown: list[int] = []
    declined = rcsbatch.revoke_messages(
        campaign, confirm=lambda plan: shown.append(len(plan.ids)) is not None, gateway=gateway
    )
    assert shown == [3] and declined.stats is None and declined.exit_code == 1
    assert sim.backend.revocations == [] and "revoke" not in sim.backend.counters.requests
    done = rcsbatch.revoke_messages(campaign, confirm=True, gateway=gateway)
    assert done.exit_code == 0 and done.stats is not None and done.stats.requested == 3
    assert len(sim.backend.revocations) == 3
    assert done.folder is not None
    assert Counter(rcsbatch.RunResult("", done.folder, None).results["status"]) == {  # type: ignore[arg-type]
        "revoke_requested": 3
    }


def test_capabilities_without_consent_raise_and_look_nothing_up(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """`accept_cost=False` raises InputError before any lookup; a function shown the plan that
    answers no comes back declined (exit code 1); `accept_cost=True` looks them up, and a
    second call finds them cached and asks nothing."""
    campaign = make_campaign(4)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    with pytest.raises(rcsbatch.InputError, match=r"4 numbers .* accept_cost=True"):
        rcsbatch.look_up_capabilities(campaign, accept_cost=False, gateway=gateway)
    plans: list[rcsbatch.LookupPlan] = []
    declined = rcsbatch.look_up_capabilities(
        campaign, accept_cost=lambda plan: plans.append(plan) is not None, gateway=gateway
    )
    assert declined.declined and declined.exit_code == 1 and declined.stats is None
    assert [(p.numbers, p.due) for p in plans] == [(4, 4)]
    assert sim.backend.counters.lookups == 0
    done = rcsbatch.look_up_capabilities(campaign, accept_cost=True, gateway=gateway)
    assert done.exit_code == 0 and done.stats is not None and done.stats.stored == 4
    assert done.summary.known == 4 and sim.backend.counters.lookups > 0
    asked = sim.backend.counters.lookups
    again = rcsbatch.look_up_capabilities(campaign, accept_cost=False, gateway=gateway)
    assert again.plan.due == 0 and again.exit_code == 0 and sim.backend.counters.lookups == asked


def test_capabilities_of_a_file_from_inside_a_running_loop(
    tmp_path: Path, sim: SimulatorServer
) -> None:
    """A plain recipient file is looked up inside a running loop too, cached in its report
    folder; the caller's process is as it was."""
    path = tmp_path / "phones.csv"
    path.write_text("phone\n" + "".join(f"+{R(i)}\n" for i in (1, 2)) + "not a number\n")
    before = ProcessState()

    async def main() -> rcsbatch.CapabilitiesResult:
        return rcsbatch.look_up_capabilities(
            path, accept_cost=True, gateway=rcsbatch.Gateway(sim.base_url, API_KEY)
        )

    result = asyncio.run(main())
    assert ProcessState() == before
    assert (result.plan.numbers, result.plan.skipped, result.exit_code) == (2, 1, 0)
    assert (tmp_path / "reports" / "lookups.sqlite").is_file()


def test_agents_and_hooks_through_the_environment(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No gateway given: $SEVEN_API_KEY and $SEVEN_BASE_URL name it; agents lists the
    account's, a hook registered is listed and removed, a second removal finds none; a bad URL
    raises InputError before any request."""
    monkeypatch.setenv("SEVEN_API_KEY", API_KEY)
    monkeypatch.setenv("SEVEN_BASE_URL", sim.base_url)
    assert {a["id"] for a in rcsbatch.list_agents()} == {"myfancyagent", "testagent"}
    url = "https://hooks.example.com/seven"
    hook_id = rcsbatch.register_hook(url, method="json")
    assert [(str(h["id"]), h["target_url"]) for h in rcsbatch.list_hooks()] == [(hook_id, url)]
    assert rcsbatch.remove_hook(hook_id) is True
    assert rcsbatch.remove_hook(hook_id) is False and rcsbatch.list_hooks() == []
    with pytest.raises(rcsbatch.InputError, match="http"):
        rcsbatch.register_hook("ftp://x.example")
    monkeypatch.setenv("SEVEN_API_KEY", "refused")
    sim.set_faults(refuse_key="refused")
    with pytest.raises(rcsbatch.AccountError):
        rcsbatch.list_hooks()


def test_serve_simulator_stops_on_ctrl_c_and_saves_without_signal_handlers(
    tmp_path: Path,
) -> None:
    """`rcsbatch.serve_simulator` serves until a KeyboardInterrupt in the caller, which goes on
    to it once the state is saved; it leaves the caller's signal handlers as they were."""
    state = tmp_path / "sim.json"
    before = ProcessState()

    def ready(base_url: str) -> None:
        def use_then_interrupt() -> None:
            httpx.post(
                base_url + "/rcs/messages",
                data={"to": R(1), "text": "x"},
                headers={"X-Api-Key": API_KEY},
            )
            _thread.interrupt_main()

        threading.Thread(target=use_then_interrupt, daemon=True).start()

    with pytest.raises(KeyboardInterrupt):
        rcsbatch.serve_simulator(port=0, state=state, ready=ready)
    assert ProcessState() == before
    assert len(json.loads(state.read_text(encoding="utf-8"))["messages"]) == 1
