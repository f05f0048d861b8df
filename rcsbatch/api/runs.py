"""`run` and `run_async`: a campaign run from Python, as `rcsbatch run` does it.

    import rcsbatch

    result = rcsbatch.run(rcsbatch.load_campaign("campaigns/example.toml"), simulate=True)
    result.exit_code, result.folder, result.results  # results: a pandas DataFrame

`run_async` is the core: the whole command (agent check, balance, lookups, sending, settling)
on the caller's event loop with one gateway client. `run` is the same for plain code; inside a
running loop (a Jupyter cell) it runs on a helper thread with a loop of its own and waits
(engine.loop.run_sync). The `run` command of the CLI calls `run_async` too.

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

import asyncio
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rcsbatch.campaign.file import Campaign, check_validity
from rcsbatch.engine import loop, runner
from rcsbatch.engine.runner import RunResult
from rcsbatch.gateway import config
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import SendSettings
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.reports.folder import check_report_folder
from rcsbatch.state import paths

if TYPE_CHECKING:
    from rcsbatch.state.journal import Outcome
from rcsbatch.api.session import check_agent, client_for, report_root_for, simulated

__all__ = ["run", "run_async"]


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
    on_warning: Callable[[str], None] | None = None,
) -> RunResult:
    """Run `campaign` (see `run_async`) from plain code, inside a running event loop too."""
    return loop.run_sync(
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
            on_warning=on_warning,
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
    person should see even when the rest is silenced (default: logged). `stop_on_signals`, the
    one parameter `run` lacks (its loop may be on a helper thread, where no handler can be), is
    for console scripts: while the run sends, SIGINT and SIGTERM stop it (handlers on the loop,
    put back afterwards). See the module docstring for errors and interrupts.
    """
    root = report_root_for(campaign, report_dir, simulate, gateway)
    if dry_run:
        check_validity(campaign, time.time())
        check_report_folder(root, campaign)
        plan = open_plan(campaign)  # the rows' trouble first, as a run says it
        # Reading the file awaits nothing: a cancellation (Ctrl-C) that came meanwhile is taken
        # here, before the dry run writes its folder, as before a run's first request.
        await asyncio.sleep(0)
        if gateway is None and not simulate and config.api_key_from_env():
            gateway = Gateway.from_env()  # a dry run needs no key, but shows the balance with one
        account = paths.account_for(campaign, gateway, simulate)
        balance = None
        if gateway is not None:
            async with client_for(gateway, max_connections=1) as client:
                balance = await runner.balance_of(client)
        return runner.dry_run(campaign, root, plan, account, balance=balance)
    plan = open_plan(campaign)

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
