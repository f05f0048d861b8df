"""Running a campaign from Python: a script, a notebook cell, an async service.

    import rcsbatch

    result = rcsbatch.run(rcsbatch.load_campaign("campaigns/example.toml"), simulate=True)
    result.exit_code, result.folder, result.results  # results: a pandas DataFrame

`run_async` is the core: the whole command (agent check, balance, lookups, sending, settling)
on the caller's event loop with one gateway client. `run` is the same for plain code; inside a
running loop (a Jupyter cell) it runs on a helper thread with a loop of its own and waits
(engine.run_sync). The `run` command of the CLI calls `run_async` too.

Errors found before the first message goes raise: errors.InputError kinds (the campaign, the
recipients, the report folder, the budget, the agent), CampaignBusyError, and AccountError when
the gateway refuses a lookup. Once sending has begun a result always comes back, so its folder
is never lost: exit code 0, 1, 3, or 130 when it was interrupted. A KeyboardInterrupt while
`run` waits, or cancelling the task of `run_async`, stops the run as Ctrl-C stops the command
line (no new request, those in flight get their grace, journal and report written) and the
result comes back with exit code 130; before sending began the interrupt (or the cancellation)
goes on to the caller, and nothing was sent. A full disk while sending raises StorageError
(`sending_started`): the journal holds what went, and a new run sends nothing twice.

A library call leaves the caller's process as it was: no signal handlers (unless
`stop_on_signals`), no GC tuning, no event loop policy; those belong to the console script.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rcsbatch import engine, runner
from rcsbatch.campaign import Campaign, check_validity, load_campaign
from rcsbatch.errors import CampaignError, GatewayError, ReportError
from rcsbatch.prepare import Plan, open_plan
from rcsbatch.request import SendSettings
from rcsbatch.runner import Gateway, RunResult

if TYPE_CHECKING:
    from rcsbatch.client import GatewayClient
    from rcsbatch.journal import Outcome

__all__ = ["Gateway", "RunResult", "load_campaign", "run", "run_async", "simulated"]

log = logging.getLogger(__name__)


def run(
    campaign: Campaign,
    *,
    gateway: Gateway | None = None,
    dry_run: bool = False,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    lookup: bool = False,
    on_status: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> RunResult:
    """Run `campaign` (see `run_async`) from plain code, inside a running event loop too."""
    return engine.run_sync(
        run_async(
            campaign,
            gateway=gateway,
            dry_run=dry_run,
            simulate=simulate,
            report_dir=report_dir,
            limit=limit,
            retry_failed=retry_failed,
            lookup=lookup,
            on_status=on_status,
            on_start=on_start,
            on_outcome=on_outcome,
        )
    )


async def run_async(
    campaign: Campaign,
    *,
    gateway: Gateway | None = None,
    dry_run: bool = False,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    retry_failed: bool = False,
    lookup: bool = False,
    on_status: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    plan: Plan | None = None,
    stop_on_signals: bool = False,
) -> RunResult:
    """Send `campaign` and write its report folder, as `rcsbatch run` does; the RunResult.

    `gateway` defaults to Gateway.from_env() ($SEVEN_API_KEY, $SEVEN_BASE_URL); `simulate`
    sends through the built-in simulator instead (no account), `dry_run` sends nothing and
    writes what would go (showing the balance when there is a key). `report_dir` replaces
    $RCSBATCH_REPORT_DIR and the campaign's report_dir; `limit`, `retry_failed` and `lookup`
    are the command's --limit, --retry-failed and --lookup.

    `on_status` hears lines for people (what the run is doing), `on_start` the number of
    messages about to go, `on_outcome` each row's outcome as it comes, `on_warning` trouble a
    person should see even when the rest is silenced (default: logged). `plan` is the
    campaign's recipient plan when the caller opened it already (prepare.open_plan).
    `stop_on_signals` is for console scripts: while the run sends, SIGINT and SIGTERM stop it
    (handlers on the loop, put back afterwards). See the module docstring for errors and
    interrupts.
    """
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    root = runner.report_root(campaign, Path(report_dir) if report_dir is not None else None)
    if dry_run:
        check_validity(campaign, time.time())
        runner.check_report_folder(root, campaign)
        if gateway is None and not simulate and runner.api_key_from_env():
            gateway = Gateway.from_env()  # a dry run needs no key, but shows the balance with one
        plan = plan or open_plan(campaign)
        account = runner.account_for(campaign, gateway, simulate)
        balance = None
        if gateway is not None:
            async with _client(gateway, max_connections=1) as client:
                balance = await runner.balance_of(client)
        return runner.dry_run(campaign, root, plan, None, account, balance=balance)
    plan = plan or open_plan(campaign)

    async def send(gateway: Gateway) -> RunResult:
        settings = SendSettings.of(campaign)
        async with runner.gateway_client(gateway, settings) as client:
            await check_agent(campaign, client, on_status)
            return await runner.run_async(
                campaign,
                root,
                gateway,
                limit=limit,
                plan=plan,
                retry_failed=retry_failed,
                on_start=on_start,
                on_outcome=on_outcome,
                on_status=on_status,
                settings=settings,
                lookup=lookup,
                client=client,
                stop_on_signals=stop_on_signals,
            )

    if not simulate:
        return await send(gateway or Gateway.from_env())
    with simulated(campaign, root, on_trouble=on_warning) as simulator:
        if on_status is not None:
            on_status(
                f"sending through the built-in simulator at {simulator.base_url} "
                "(nothing leaves this machine; costs are simulated)"
            )
        return await send(simulator)


def _client(gateway: Gateway, *, max_connections: int) -> GatewayClient:
    from rcsbatch.client import GatewayClient  # aiohttp/httpx: only when a request goes

    return GatewayClient(gateway.base_url, gateway.api_key, max_connections=max_connections)


async def check_agent(
    campaign: Campaign, client: GatewayClient, on_status: Callable[[str], None] | None
) -> None:
    """Refuse (CampaignError) a `[message] from` the account does not have; a warning for a
    `test` agent. The gateway not answering the list only earns a line: the run finds out."""
    from rcsbatch.agents import check_agent as judge

    if campaign.message.sender is None:
        return
    say = on_status or (lambda line: log.warning("%s", line))
    try:
        found = judge(await client.agents(), campaign.message.sender)
    except GatewayError as exc:
        say(f"could not check the agent ({exc})")
        return
    if found.error:
        raise CampaignError(found.error)
    if found.warning:
        say(f"warning: {found.warning}")


@contextlib.contextmanager
def simulated(
    campaign: Campaign, root: Path, *, on_trouble: Callable[[str], None] | None = None
) -> Iterator[Gateway]:
    """The built-in simulator as the gateway, started with the campaign's saved state (what it
    accepted, its balance) and stopped afterwards, saving it. A state that cannot be saved is
    told to `on_trouble` (default: logged), never raised: it must not hide how the run ended."""
    from rcsbatch import state as states
    from rcsbatch.richcontent import RICH_FORMS
    from rcsbatch.simulator import Faults, SimulatorServer

    found = runner.campaign_state(campaign, states.SIMULATOR)
    state = found.simulator
    with contextlib.suppress(OSError):
        # A journal an older rcsbatch kept in the report folder, with the simulator's state.
        states.adopt_legacy(found, root / campaign.name)
    faults = Faults()
    if campaign.message.rich is not None:
        # Which place for rich content seven takes is unconfirmed: the simulated gateway takes
        # the one the campaign chose, so a simulated run tries the campaign, not the guess.
        faults.rich_form = RICH_FORMS[campaign.message.rich.form]  # type: ignore[assignment]
    try:
        states.make_private_dir(state.parent)
        server = SimulatorServer(faults, state_path=state).start()
    except OSError as exc:
        raise ReportError(
            f"cannot use {state.parent} ({exc.strerror}); set {states.STATE_DIR_ENV} to a "
            "folder you can write"
        ) from None
    except ValueError as exc:
        raise ReportError(
            f"{state}: the simulator's state file is damaged ({exc}); delete it to start "
            "the simulated gateway afresh"
        ) from None
    try:
        yield Gateway(
            server.base_url,
            "simulated",
            simulated=True,
            lookup_price=server.backend.lookup_price,
        )
    finally:
        try:
            server.stop()
        except OSError as exc:
            (on_trouble or log.error)(
                f"the simulator could not save its state in {state} ({exc.strerror or exc}): "
                "the simulated account forgets what this command did"
            )
