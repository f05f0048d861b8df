"""The public API (rcsbatch/__init__.py, rcsbatch/api/, engine/loop.py): what it exports, runs
against the simulator from plain code and from inside a running event loop, leaving the caller's
process as it was, and interrupts that stop the sending."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import gc
import inspect
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory

import rcsbatch
from rcsbatch.cli import cli
from rcsbatch.engine import runner
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state import paths

R = CampaignFactory.recipient
PACKAGE_ROOT = str(Path(rcsbatch.__file__).resolve().parent.parent)


def test_the_public_names_are_pinned() -> None:
    """`rcsbatch.__all__` is the public face; each name resolves and nothing else is offered."""
    assert rcsbatch.__all__ == [
        "AccountError",
        "CampaignBusyError",
        "CampaignError",
        "CapabilitiesResult",
        "EventsResult",
        "Figures",
        "Gateway",
        "GatewayError",
        "InputError",
        "LookupPlan",
        "RcsbatchError",
        "RecipientsError",
        "RevokeResult",
        "RowNote",
        "RowPreview",
        "RunResult",
        "StorageError",
        "SyncResult",
        "TestMessage",
        "TestSendResult",
        "ValidationResult",
        "list_agents",
        "list_agents_async",
        "list_hooks",
        "list_hooks_async",
        "load_campaign",
        "look_up_capabilities",
        "look_up_capabilities_async",
        "preview",
        "preview_test_messages",
        "register_hook",
        "register_hook_async",
        "remove_hook",
        "remove_hook_async",
        "report_figures",
        "revoke_messages",
        "revoke_messages_async",
        "run",
        "run_async",
        "send_event",
        "send_event_async",
        "send_events",
        "send_events_async",
        "send_test_messages",
        "send_test_messages_async",
        "serve_simulator",
        "serve_webhooks",
        "sync_campaign",
        "sync_campaign_async",
        "validate",
        "validate_async",
        "write_report",
    ]
    for name in rcsbatch.__all__:
        assert getattr(rcsbatch, name) is not None
    assert set(rcsbatch.__all__) <= set(dir(rcsbatch))
    with pytest.raises(AttributeError):
        rcsbatch.no_such_name  # noqa: B018


def test_import_rcsbatch_loads_neither_pandas_nor_the_http_stack() -> None:
    """`import rcsbatch` is cheap: the heavy modules load with the first name that needs them."""
    heavy = ("pandas", "pyarrow", "aiohttp", "httpx", "rcsbatch.api")
    code = (
        "import sys, rcsbatch\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
        "rcsbatch.run\n"
        "print('rcsbatch.api' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": PACKAGE_ROOT},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == ["", "True"]


class ProcessState:
    """What a library call must leave as it found it in the calling process."""

    def __init__(self) -> None:
        self.gc = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())
        self.policy = asyncio.get_event_loop_policy()
        self.signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProcessState) and (
            (self.gc, self.signals) == (other.gc, other.signals) and self.policy is other.policy
        )

    def __repr__(self) -> str:
        return f"ProcessState(gc={self.gc}, signals={self.signals}, policy={self.policy})"


def check_run(result: rcsbatch.RunResult, sim: SimulatorServer, rows: int) -> None:
    """A whole run: exit 0, each row sent once, and its results one row per recipient."""
    assert result.exit_code == 0, result.report.lines()
    assert result.folder.is_dir()
    frame = result.results
    assert len(frame) == rows
    assert Counter(frame["status"]) == {"sent": rows}
    assert sorted(frame["recipient"].astype(str)) == sorted(R(i) for i in range(1, rows + 1))
    assert (
        sorted(m.to for m in sim.backend.accepted())
        == frame["recipient"].astype(str).sort_values().tolist()
    )


def test_run_from_inside_a_running_loop_leaves_the_process_as_it_was(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """`rcsbatch.run` called in a coroutine (a notebook cell) sends the campaign on a loop of its
    own; the caller's GC, event loop policy and signal handlers are as they were."""
    campaign = make_campaign(6, send={"concurrency": 2})
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    before = ProcessState()
    seen: dict[str, Any] = {}

    async def main() -> rcsbatch.RunResult:
        inside = ProcessState()  # asyncio.run's own SIGINT handler is in place in here
        seen["loop"] = asyncio.get_running_loop()
        result = rcsbatch.run(campaign, gateway=gateway)
        seen["same inside"] = ProcessState() == inside
        return result

    result = asyncio.run(main())
    assert seen["same inside"]
    assert ProcessState() == before
    check_run(result, sim, 6)


def test_run_async_on_the_callers_loop_leaves_the_process_as_it_was(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """`await rcsbatch.run_async(...)` runs the whole command on the caller's loop; the caller's
    GC, event loop policy and signal handlers are as they were."""
    campaign = make_campaign(6, send={"concurrency": 2})
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    before = ProcessState()
    threads = set(threading.enumerate())

    async def main() -> tuple[rcsbatch.RunResult, bool]:
        inside = ProcessState()
        result = await rcsbatch.run_async(campaign, gateway=gateway)
        return result, ProcessState() == inside

    result, same_inside = asyncio.run(main())
    assert same_inside
    assert ProcessState() == before
    assert not [t for t in set(threading.enumerate()) - threads if t.name == "rcsbatch-engine"]
    check_run(result, sim, 6)


def test_run_from_plain_code_sends_and_reads_the_results(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """Without a running loop `rcsbatch.run` sends too; a rerun sends nothing again; a dry run
    shows the rows ready instead."""
    campaign = make_campaign(4)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    dry = rcsbatch.run(campaign, gateway=gateway, dry_run=True)
    assert Counter(dry.results["status"]) == {"ready": 4}
    assert sim.backend.accepted() == []
    before = ProcessState()
    check_run(rcsbatch.run(campaign, gateway=gateway), sim, 4)
    assert ProcessState() == before
    again = rcsbatch.run(campaign, gateway=gateway)
    assert again.exit_code == 0 and again.folder != dry.folder
    assert len(sim.backend.accepted()) == 4


def test_the_gateway_comes_from_the_environment(
    make_campaign: CampaignFactory, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No gateway given: $SEVEN_API_KEY and $SEVEN_BASE_URL name it; without a key, an
    InputError that names no command-line flag, and nothing is sent."""
    campaign = make_campaign(3)
    monkeypatch.delenv("SEVEN_API_KEY", raising=False)
    with pytest.raises(rcsbatch.InputError, match="SEVEN_API_KEY") as caught:
        rcsbatch.run(campaign)
    assert "--" not in str(caught.value)
    monkeypatch.setenv("SEVEN_API_KEY", API_KEY)
    monkeypatch.setenv("SEVEN_BASE_URL", sim.base_url)
    check_run(rcsbatch.run(campaign), sim, 3)


def test_errors_before_sending_raise_without_a_flag_and_the_cli_adds_it(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """A budget the run would pass raises BudgetError naming no flag (its `option` says which
    parameter helps); the command line says --limit, exits 2; nothing is sent either way."""
    campaign = make_campaign(5, send={"max_cost": "0.10", "price_estimate": "0.05"})
    with pytest.raises(rcsbatch.InputError, match="max_cost") as caught:
        rcsbatch.run(campaign, gateway=rcsbatch.Gateway(sim.base_url, API_KEY))
    assert "--" not in str(caught.value) and caught.value.option == "limit"
    env = {"SEVEN_API_KEY": API_KEY, "SEVEN_BASE_URL": sim.base_url}
    result = CliRunner().invoke(cli, ["run", str(campaign.path)], env=env)
    assert result.exit_code == 2 and "send fewer rows (--limit)" in result.stderr
    assert sim.backend.accepted() == []


def _bad_inputs(campaign: rcsbatch.api.Campaign, folder: Path) -> dict[str, Callable[[], object]]:
    """Each bad value a public call (or a library helper the command line calls) refuses before
    any request, keyed `<the parameter to fix>: what is wrong`."""
    from rcsbatch.actions import capabilities, testsends

    people = folder / "people.csv"
    people.write_text("phone\n+" + R(1) + "\n")
    replies = folder / "replies.csv"
    replies.write_text("to,event\n+" + R(1) + ",\n")
    unsent = replies.with_name("unsent.csv")
    unsent.write_text("to\n+" + R(1) + "\n")
    test = rcsbatch.preview_test_messages
    return {
        "to: a bad test number": lambda: test(campaign, to=["12"]),
        "to: no test numbers": lambda: test(campaign),
        "rows: the header row": lambda: test(campaign, to=["+" + R(1)], rows=[1]),
        "rows: not numbers": lambda: testsends.parse_rows("2,x"),
        "event: unknown": lambda: rcsbatch.send_event("WAVE", to="+" + R(1)),
        "to: a bad number": lambda: rcsbatch.send_event("READ", to="12"),
        "None: both to and msg_id": lambda: rcsbatch.send_event("READ", to="+" + R(1), msg_id="7"),
        "region: an event's": lambda: rcsbatch.send_event("READ", to="+" + R(1), region="XX"),
        "event: a file's empty cell": lambda: rcsbatch.send_events(replies),
        "event: a file without the column": lambda: rcsbatch.send_events(unsent),
        "region: a file of events'": lambda: rcsbatch.send_events(replies, region="XX"),
        "region: a file to look up": lambda: rcsbatch.look_up_capabilities(
            people, accept_cost=False, region="XX"
        ),
        "phone_column: not in the file": lambda: rcsbatch.look_up_capabilities(
            people, accept_cost=False, phone_column="mobile"
        ),
        "max_age: not an age": lambda: capabilities.parse_age("30 days"),
        "public_url: not http": lambda: rcsbatch.serve_webhooks(
            campaign, signing_key="k", public_url="ftp://h.example/x"
        ),
        "public_url: a query": lambda: rcsbatch.serve_webhooks(
            campaign, signing_key="k", public_url="https://h.example/x?a=1"
        ),
        "report_dir: never run there": lambda: rcsbatch.write_report(campaign, "xlsx"),
        "url: not http(s)": lambda: rcsbatch.register_hook("ftp://x.example"),
    }


def test_library_input_errors_name_the_parameter_never_a_flag(
    make_campaign: CampaignFactory, tmp_path: Path
) -> None:
    """Every bad value raises InputError whose text names no command-line flag and whose
    `option` is the parameter that fixes it (the CLI turns that into its flag)."""
    calls = _bad_inputs(make_campaign(2), tmp_path)
    for case, call in calls.items():
        with pytest.raises(rcsbatch.InputError) as caught:
            call()
        assert not re.search(r"--[a-z]", str(caught.value)), (case, str(caught.value))
        assert str(caught.value.option) == case.split(":")[0], (case, caught.value.option)


def test_run_takes_the_parameters_of_run_async() -> None:
    """`run` and `run_async` take the same parameters with the same defaults, but for
    `stop_on_signals`, which only a console script's own loop can honour."""
    plain = inspect.signature(rcsbatch.run).parameters
    core = dict(inspect.signature(rcsbatch.run_async).parameters)
    del core["stop_on_signals"]
    assert [(p.name, p.kind, p.default) for p in plain.values()] == [
        (p.name, p.kind, p.default) for p in core.values()
    ]


def test_run_tells_on_warning_what_a_person_must_see(make_campaign: CampaignFactory) -> None:
    """The plain `run` passes `on_warning` on: a simulator state that cannot be saved (a folder
    took its place while the run sent) is told there, and the run's result still comes back."""
    campaign = make_campaign(2)
    state = paths.campaign_state(campaign, paths.SIMULATOR).simulator
    warnings: list[str] = []

    def block_the_state(total: int) -> None:
        (state / "in the way").mkdir(parents=True)

    result = rcsbatch.run(
        campaign, simulate=True, on_start=block_the_state, on_warning=warnings.append
    )
    assert result.exit_code == 0
    assert len(warnings) == 1 and warnings[0].startswith(
        f"the simulator could not save its state in {state} ("
    )


def test_a_simulated_run_needs_no_gateway(make_campaign: CampaignFactory) -> None:
    """`simulate=True` sends through the built-in simulator, as `run --simulate` does, and the
    status lines go to `on_status`."""
    campaign = make_campaign(3)
    lines: list[str] = []
    result = rcsbatch.run(campaign, simulate=True, on_status=lines.append)
    assert result.exit_code == 0 and Counter(result.results["status"]) == {"sent": 3}
    assert any("built-in simulator" in line for line in lines)
    with pytest.raises(ValueError, match="not both"):
        rcsbatch.run(campaign, simulate=True, gateway=rcsbatch.Gateway("http://x", "k"))


# ---- interrupts -------------------------------------------------------------------------------


@contextlib.contextmanager
def once_sending(sim: SimulatorServer, act: Callable[[], None]) -> Iterator[None]:
    """Call `act` from another thread once the gateway has taken a few messages."""

    def watch() -> None:
        while sim.backend.counters.send_requests < 4:
            time.sleep(0.005)
        act()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield
    thread.join(timeout=30)


def check_stopped_then_resumed(
    result: rcsbatch.RunResult, sim: SimulatorServer, campaign: Any, rows: int
) -> None:
    """The interrupted run came back with 130, its folder written, nothing kept sending after
    it; the next run sends the rest, each recipient exactly once."""
    assert result.exit_code == 130
    assert result.report.interrupted == signal.SIGINT
    sent = Counter(result.results["status"])["sent"]
    assert 0 < sent < rows
    assert not [t for t in threading.enumerate() if t.name == "rcsbatch-engine"]
    accepted = sim.backend.counters.send_requests
    assert len(sim.backend.accepted()) == sent
    # Any request still on its way would land within the gateway's latency: none does.
    time.sleep(0.3)
    assert sim.backend.counters.send_requests == accepted
    sim.set_faults(latency_ms=0)
    done = rcsbatch.run(campaign, gateway=rcsbatch.Gateway(sim.base_url, API_KEY))
    assert done.exit_code == 0, done.report.lines()
    assert Counter(m.to for m in sim.backend.accepted()) == {R(i): 1 for i in range(1, rows + 1)}


@pytest.mark.parametrize("loop", ["asyncio.run", "a loop of the caller's"])
def test_ctrl_c_in_the_caller_stops_a_run_on_the_helper_thread(
    make_campaign: CampaignFactory, sim: SimulatorServer, loop: str
) -> None:
    """A KeyboardInterrupt in the caller's thread while `run` (inside a running loop) sends: no
    new message goes, the journal and folder are written, the result says 130; asyncio.run's
    own Ctrl-C handling (cancelling the caller's task) ends the same way."""
    rows = 60
    sim.set_faults(latency_ms=50, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 2})
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    box: dict[str, rcsbatch.RunResult] = {}
    before = ProcessState()

    async def main() -> None:
        box["result"] = rcsbatch.run(campaign, gateway=gateway)

    with once_sending(sim, _thread.interrupt_main):
        if loop == "asyncio.run":
            # asyncio then cancels main at its next await, and says so as KeyboardInterrupt.
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(main())
        else:
            own = asyncio.new_event_loop()
            try:
                own.run_until_complete(main())
            finally:
                own.close()
    assert ProcessState() == before
    check_stopped_then_resumed(box["result"], sim, campaign, rows)


def test_cancelling_run_async_stops_the_run_and_returns_its_result(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """Cancelling the task of `run_async` while it sends stops it as Ctrl-C does: its result
    comes back (exit code 130) instead of the cancellation."""
    rows = 60
    sim.set_faults(latency_ms=50, logbook_latency_ms=0)
    campaign = make_campaign(rows, send={"concurrency": 2})
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)

    async def main() -> rcsbatch.RunResult:
        task = asyncio.create_task(rcsbatch.run_async(campaign, gateway=gateway))
        loop = asyncio.get_running_loop()
        with once_sending(sim, lambda: loop.call_soon_threadsafe(task.cancel)):
            return await task

    check_stopped_then_resumed(asyncio.run(main()), sim, campaign, rows)


def test_ctrl_c_before_sending_raises_and_sends_nothing(
    make_campaign: CampaignFactory, sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt before the first message (here: the balance request) goes on to the
    caller; nothing was sent and no run folder is left."""
    campaign = make_campaign(3)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    real = runner.balance_of

    async def interrupted(client: Any) -> Any:
        _thread.interrupt_main()
        await asyncio.sleep(5)  # the interrupt cancels this wait
        return await real(client)

    monkeypatch.setattr("rcsbatch.engine.runner.balance_of", interrupted)

    async def main() -> None:
        rcsbatch.run(campaign, gateway=gateway)

    own = asyncio.new_event_loop()
    try:
        with pytest.raises(KeyboardInterrupt):
            own.run_until_complete(main())
    finally:
        own.close()
    assert sim.backend.accepted() == []
    assert not (campaign.report_dir / campaign.name).exists() or not [
        p for p in (campaign.report_dir / campaign.name).iterdir() if p.is_dir()
    ]
