"""Running a campaign from Python: a script, a notebook cell, an async service.

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

import contextlib
import json
import logging
import os
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rcsbatch.actions import testsends
from rcsbatch.actions.capabilities import CONCURRENCY as LOOKUPS_AT_ONCE
from rcsbatch.actions.capabilities import (
    DEFAULT_MAX_AGE,
    LookupStats,
    Summary,
    campaign_numbers,
    file_cache,
    file_numbers,
    look_up,
    summarise,
)
from rcsbatch.actions.events import Event
from rcsbatch.actions.revoke import RevokePlan, RevokeStats, revoke_campaign_async
from rcsbatch.actions.testsends import TestMessage, TestSendResult
from rcsbatch.campaign.file import Campaign, check_validity, load_campaign
from rcsbatch.delivery.sync import SyncStats
from rcsbatch.engine import loop, runner
from rcsbatch.engine.runner import RunResult
from rcsbatch.errors import AccountError, CampaignError, GatewayError, InputError, ReportError
from rcsbatch.gateway import config
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import SendSettings, cell_text
from rcsbatch.recipients.prepare import Plan, open_plan, warning_counts
from rcsbatch.reports.figures import Figures
from rcsbatch.state import privacy, storage
from rcsbatch.state.journal import Journal

if TYPE_CHECKING:
    import pandas as pd

    from rcsbatch.delivery.receiver import Receiver
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.state.journal import Outcome

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
        if gateway is None and not simulate and config.api_key_from_env():
            gateway = Gateway.from_env()  # a dry run needs no key, but shows the balance with one
        plan = plan or open_plan(campaign)
        account = runner.account_for(campaign, gateway, simulate)
        balance = None
        if gateway is not None:
            async with _client(gateway, max_connections=1) as client:
                balance = await runner.balance_of(client)
        return runner.dry_run(campaign, root, plan, account, balance=balance)
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
    from rcsbatch.gateway.client import GatewayClient  # aiohttp/httpx: only when a request goes

    return GatewayClient(gateway.base_url, gateway.api_key, max_connections=max_connections)


async def check_agent(
    campaign: Campaign, client: GatewayClient, on_status: Callable[[str], None] | None
) -> None:
    """Refuse (CampaignError) a `[message] from` the account does not have; a warning for a
    `test` agent. The gateway not answering the list only earns a line: the run finds out."""
    from rcsbatch.actions.agents import check_agent as judge

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
    from rcsbatch.campaign.rich import RICH_FORMS
    from rcsbatch.simulator import Faults, SimulatorServer
    from rcsbatch.state import paths

    found = runner.campaign_state(campaign, paths.SIMULATOR)
    state = found.simulator
    with contextlib.suppress(OSError):
        # A journal an older rcsbatch kept in the report folder, with the simulator's state.
        paths.adopt_legacy(found, root / campaign.name)
    faults = Faults()
    if campaign.message.rich is not None:
        # Which place for rich content seven takes is unconfirmed: the simulated gateway takes
        # the one the campaign chose, so a simulated run tries the campaign, not the guess.
        faults.rich_form = RICH_FORMS[campaign.message.rich.form]  # type: ignore[assignment]
    try:
        paths.make_private_dir(state.parent)
        server = SimulatorServer(faults, state_path=state).start()
    except OSError as exc:
        raise ReportError(
            f"cannot use {state.parent} ({exc.strerror}); set {paths.STATE_DIR_ENV} to a "
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


# ---- sync, revoke, capabilities, agents, hooks and the two servers -------------------------
# Each as its command does it, on one event loop with one gateway client; not named as the command
# is, since rcsbatch.delivery.sync, .revoke, .capabilities and .agents are modules. The gateway is
# Gateway.from_env() unless given (or `simulate`: the campaign's built-in simulator).

__all__ += [
    "CapabilitiesResult",
    "LookupPlan",
    "RevokeResult",
    "SyncResult",
    "list_agents",
    "list_agents_async",
    "list_hooks",
    "list_hooks_async",
    "look_up_capabilities",
    "look_up_capabilities_async",
    "register_hook",
    "register_hook_async",
    "remove_hook",
    "remove_hook_async",
    "revoke_messages",
    "revoke_messages_async",
    "serve_simulator",
    "serve_webhooks",
    "sync_campaign",
    "sync_campaign_async",
]

HOOK_METHODS = ("POST", "GET", "JSON")
SIGNING_KEY_ENV = "SEVEN_SIGNING_KEY"


@dataclass(frozen=True)
class SyncResult:
    """What `sync_campaign` read from the logbook and changed, and the run folder it rewrote.

    `exit_code`: 3 when the gateway refused the account (`stop_reason`), 1 when the logbook
    could not be read (`error`; what was read before it stays in the journal), else 0.
    """

    stats: SyncStats
    folder: Path | None
    stop_reason: str | None = None
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return 3 if self.stop_reason else 1 if self.error else 0


def sync_campaign(
    campaign: Campaign,
    *,
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> SyncResult:
    """Sync `campaign` (see `sync_campaign_async`) from plain code, in a running loop too."""
    return loop.run_sync(
        sync_campaign_async(
            campaign,
            gateway=gateway,
            simulate=simulate,
            report_dir=report_dir,
            on_warning=on_warning,
        )
    )


async def sync_campaign_async(
    campaign: Campaign,
    *,
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> SyncResult:
    """Fill the campaign's delivery states and final prices from the gateway's logbook, settle
    its lost answers, and rewrite the newest run's results, as `rcsbatch sync` does.

    `simulate` reads the logbook of the built-in simulator the campaign ran with; `on_warning`
    hears trouble saving its state (default: logged). Raises InputError kinds (never run under
    this account, no key) and CampaignBusyError before the first request; after it, the gateway's
    refusals come back in the SyncResult.
    """
    root = _root(campaign, report_dir, simulate, gateway)
    try:
        with _gateway_of(campaign, root, gateway, simulate, on_warning) as chosen:
            stats, folder = await runner.sync_campaign_async(campaign, root, chosen)
    except AccountError as exc:
        return SyncResult(SyncStats(), None, stop_reason=str(exc))
    except GatewayError as exc:
        return SyncResult(SyncStats(), None, error=str(exc))
    return SyncResult(stats, folder)


@dataclass(frozen=True)
class RevokeResult:
    """What `revoke_messages` found to ask for, what the gateway answered, and the run folder
    it rewrote.

    `exit_code`: 0 when every request was taken or there was nothing to revoke; 3 when the
    gateway refused the account (`stats.stop_reason`); 1 when some requests failed or were
    answered false, or the consent asked for was refused (`stats` None).
    """

    plan: RevokePlan
    stats: RevokeStats | None  # None: nothing was asked
    folder: Path | None

    @property
    def exit_code(self) -> int:
        if not self.plan.ids:
            return 0
        if self.stats is None:
            return 1
        if self.stats.stop_reason:
            return 3
        return 1 if self.stats.failed or self.stats.refused else 0


def revoke_messages(
    campaign: Campaign,
    *,
    confirm: bool | Callable[[RevokePlan], bool],
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    only_scheduled: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> RevokeResult:
    """Revoke (see `revoke_messages_async`) from plain code, inside a running event loop too."""
    return loop.run_sync(
        revoke_messages_async(
            campaign,
            confirm=confirm,
            gateway=gateway,
            simulate=simulate,
            report_dir=report_dir,
            run_id=run_id,
            only_scheduled=only_scheduled,
            on_warning=on_warning,
        )
    )


async def revoke_messages_async(
    campaign: Campaign,
    *,
    confirm: bool | Callable[[RevokePlan], bool],
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    only_scheduled: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> RevokeResult:
    """Ask the gateway to delete the campaign's messages that have not arrived yet, as `rcsbatch
    revoke` does (`run_id`: only that run's; `only_scheduled`: only those whose delay is ahead).

    Revoking cannot be undone, so it takes consent: `confirm=True`, or a function that sees
    what would be asked for (a RevokePlan) and answers. `confirm=False` raises InputError, once
    the journal shows something to revoke, before any request.
    """
    root = _root(campaign, report_dir, simulate, gateway)

    def consent(found: RevokePlan) -> bool:
        if callable(confirm):
            return confirm(found)
        if not confirm:
            raise InputError(
                f"{len(found.ids)} messages ({found.rows} rows) would be asked to be deleted, "
                "which cannot be undone: give confirm=True to revoke them"
            )
        return True

    with _gateway_of(campaign, root, gateway, simulate, on_warning) as chosen:
        found, stats, folder = await revoke_campaign_async(
            campaign, root, chosen, run_id=run_id, only_scheduled=only_scheduled, confirm=consent
        )
    return RevokeResult(found, stats, folder)


@dataclass(frozen=True)
class LookupPlan:
    """What `look_up_capabilities` would look up: numbers in all, cells skipped as not valid
    numbers, how many lack a lookup young enough (`due`, billed per number), the price of one."""

    numbers: int
    skipped: int
    due: int
    price: Decimal | None

    @property
    def cost(self) -> Decimal | None:
        return self.price * self.due if self.price is not None else None


@dataclass(frozen=True)
class CapabilitiesResult:
    """The cached capabilities of the numbers after `look_up_capabilities`, and what it looked up.

    `exit_code`: 3 when the gateway refused the account (`stats.stop_reason`); 1 when some
    numbers have no lookup (not looked up, or `declined`); else 0.
    """

    plan: LookupPlan
    summary: Summary
    stats: LookupStats | None  # None: nothing was looked up
    spent: Decimal | None  # the balance's fall over the lookups, else their prices
    declined: bool
    simulated: bool

    @property
    def exit_code(self) -> int:
        if self.stats is not None and self.stats.stop_reason:
            return 3
        return 1 if self.declined or self.summary.known < self.summary.numbers else 0


def look_up_capabilities(
    target: Campaign | str | os.PathLike[str],
    *,
    accept_cost: bool | Callable[[LookupPlan], bool],
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    max_age: float = DEFAULT_MAX_AGE,
    phone_column: str = "phone",
    region: str = "DE",
    lookup_price: Decimal | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> CapabilitiesResult:
    """Look up (see `look_up_capabilities_async`) from plain code, in a running loop too."""
    return loop.run_sync(
        look_up_capabilities_async(
            target,
            accept_cost=accept_cost,
            gateway=gateway,
            simulate=simulate,
            report_dir=report_dir,
            max_age=max_age,
            phone_column=phone_column,
            region=region,
            lookup_price=lookup_price,
            on_warning=on_warning,
        )
    )


async def look_up_capabilities_async(
    target: Campaign | str | os.PathLike[str],
    *,
    accept_cost: bool | Callable[[LookupPlan], bool],
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    max_age: float = DEFAULT_MAX_AGE,
    phone_column: str = "phone",
    region: str = "DE",
    lookup_price: Decimal | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> CapabilitiesResult:
    """Look up which numbers can receive RCS, rich cards and carousels, as `rcsbatch
    capabilities` does: a campaign's sendable numbers (and those refused for their type), cached
    in its journal, or the `phone_column` of a recipient file, cached in the report folder.

    Numbers with a cached lookup younger than `max_age` seconds are not looked up again. The
    lookups are billed per number, so they take consent: `accept_cost=True`, or a function that
    is shown the LookupPlan before any lookup (also when none is due) and answers for those due;
    its no comes back as `declined`. `accept_cost=False` raises InputError when any is due.
    `lookup_price` is the price of one lookup (default: the simulator's, else unknown).
    """
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    root, numbers, skipped, cache, state, require, gateway = _lookup_target(
        target, report_dir, gateway, simulate, phone_column, region
    )
    journal = Journal(cache)
    with (
        storage.checked([cache, root], nothing_sent=False),
        journal,
        _simulator(state, on_warning) if simulate else _given(gateway) as chosen,
    ):
        due = journal.capabilities_due(numbers, time.time() - max_age)
        price = lookup_price if lookup_price is not None else chosen.lookup_price
        plan = LookupPlan(len(numbers), skipped, len(due), price)
        answer = accept_cost(plan) if callable(accept_cost) else accept_cost
        if due and not answer and not callable(accept_cost):
            raise InputError(
                f"{len(due)} numbers would be looked up, billed per number: give "
                "accept_cost=True to look them up"
            )
        stats, spent = None, None
        if due and answer:
            async with _client(chosen, max_connections=LOOKUPS_AT_ONCE) as client:
                before = await runner.balance_of(client)
                stats = await look_up(client, journal, due)
                after = await runner.balance_of(client)
            spent = before.amount - after.amount if before and after else stats.cost
        summary = summarise(journal, numbers, require)
    return CapabilitiesResult(
        plan, summary, stats, spent, declined=bool(due) and not answer, simulated=chosen.simulated
    )


def _lookup_target(
    target: Campaign | str | os.PathLike[str],
    report_dir: str | os.PathLike[str] | None,
    gateway: Gateway | None,
    simulate: bool,
    phone_column: str,
    region: str,
) -> tuple[Path, list[int], int, Path, Path, tuple[str, ...], Gateway | None]:
    """For `look_up_capabilities`: the report folder, the numbers, the cells skipped, the lookup
    cache, the simulator's state file, the capabilities required, and the gateway when known."""
    require: tuple[str, ...] = ()
    if isinstance(target, Campaign):
        root = runner.report_root(target, Path(report_dir) if report_dir is not None else None)
        numbers, skipped = campaign_numbers(open_plan(target)), 0
        if gateway is None and not simulate and config.api_key_from_env():
            gateway = Gateway.from_env()
        account = runner.account_for(target, gateway, simulate)
        cache = runner.journal_path(target, account)
        state = runner.campaign_state(target, account).simulator
        require = target.send.require
    else:
        path = Path(target).expanduser().resolve()
        env = os.environ.get(runner.REPORT_DIR_ENV)
        folder = report_dir if report_dir is not None else env or path.parent / "reports"
        root = Path(folder).expanduser().resolve()
        numbers, skipped = file_numbers(path, phone_column, region)
        cache, state = file_cache(root), root / "simulator.json"
    return root, numbers, skipped, cache, state, require, gateway


def list_agents(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's RCS agents (see `list_agents_async`), inside a running event loop too."""
    return loop.run_sync(list_agents_async(gateway=gateway))


async def list_agents_async(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's RCS agents as the gateway lists them (id, status, display_name, …); one
    request. Raises InputError without a key, GatewayError kinds (AccountError: the key)."""
    async with _client(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.agents()


def register_hook(
    url: str, *, event_type: str = "dlr", method: str = "POST", gateway: Gateway | None = None
) -> str:
    """Register a webhook (see `register_hook_async`), inside a running event loop too."""
    return loop.run_sync(
        register_hook_async(url, event_type=event_type, method=method, gateway=gateway)
    )


async def register_hook_async(
    url: str, *, event_type: str = "dlr", method: str = "POST", gateway: Gateway | None = None
) -> str:
    """Have seven call the http(s) `url` for each `event_type` event (dlr: delivery reports),
    by `method` (POST a form, GET a query string, or JSON); the new hook's id. One request;
    InputError for a bad url or method, GatewayError kinds from the gateway."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{url!r} is not an http(s) URL")
    if method.upper() not in HOOK_METHODS:
        raise InputError(f"method {method!r} is none of {', '.join(HOOK_METHODS)}")
    async with _client(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.add_hook(url, event_type, method.upper())


def list_hooks(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's webhooks (see `list_hooks_async`), inside a running event loop too."""
    return loop.run_sync(list_hooks_async(gateway=gateway))


async def list_hooks_async(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's webhooks as the gateway lists them (id, event_type, request_method,
    target_url, …); one request, GatewayError kinds from the gateway."""
    async with _client(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.hooks()


def remove_hook(hook_id: str, *, gateway: Gateway | None = None) -> bool:
    """Remove a webhook (see `remove_hook_async`), inside a running event loop too."""
    return loop.run_sync(remove_hook_async(hook_id, gateway=gateway))


async def remove_hook_async(hook_id: str, *, gateway: Gateway | None = None) -> bool:
    """Remove the webhook `hook_id`; False when the gateway has none by that id. One request."""
    async with _client(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.remove_hook(hook_id)


def serve_webhooks(
    campaign: Campaign,
    *,
    signing_key: str | None = None,
    allow_unsigned: bool = False,
    host: str = "127.0.0.1",
    port: int = 8080,
    public_url: str | None = None,
    idle_timeout: float = 10.0,
    body_timeout: float = 3.0,
    gateway: Gateway | None = None,
    ready: Callable[[Receiver], None] | None = None,
    stop_on_signals: bool = False,
) -> dict[str, int]:
    """Receive seven's delivery reports into the campaign's journal, as `rcsbatch webhook serve`
    does, until stopped; the counts of what it answered.

    Every report must be signed with `signing_key` (default: $SEVEN_SIGNING_KEY); without one,
    InputError unless `allow_unsigned` (anyone who finds the URL can then forge reports). The
    journal is the account's of `gateway` (default: $SEVEN_API_KEY's when set, else the one
    account that ran the campaign). `ready` is called with the receiver once it listens.
    `stop_on_signals` (console scripts) stops it on SIGINT and SIGTERM; otherwise a
    KeyboardInterrupt or cancellation stops it and goes on to the caller. OSError when the port
    cannot be bound.
    """
    from rcsbatch.delivery import receiver

    if signing_key is None:
        signing_key = os.environ.get(SIGNING_KEY_ENV, "").strip() or None
    if signing_key is None and not allow_unsigned:
        raise InputError(
            f"no signing key: set {SIGNING_KEY_ENV} to the account's webhook signing key "
            "(seven's dashboard → Developer), so forged reports are refused"
        )
    settings = receiver.ReceiverSettings(
        signing_key, public_url, idle_timeout=idle_timeout, body_timeout=body_timeout
    )
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    journal = runner.journal_path(campaign, runner.account_for(campaign, gateway))
    return receiver.serve(
        journal, settings, host, port, ready=ready, stop_on_signals=stop_on_signals
    )


def serve_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 8089,
    state: str | os.PathLike[str] | None = None,
    latency_ms: float = 0.0,
    api_key: str | None = None,
    price: Decimal | None = None,
    balance: Decimal | None = None,
    ready: Callable[[str], None] | None = None,
    stop_on_signals: bool = False,
) -> None:
    """Run the gateway simulator on its own, as `rcsbatch simulator` does, until stopped.

    `state` keeps what it accepted across restarts; `api_key` is the only key it accepts
    (default: any); `price` and `balance` are the account's. `ready` hears the base URL once it
    listens. Stopping as for `serve_webhooks`. OSError when the port cannot be bound,
    InputError when the state file is damaged.
    """
    from rcsbatch.simulator import Faults
    from rcsbatch.simulator import serve as serve_sim

    faults = Faults(latency_ms=latency_ms)
    if price is not None:
        faults.price = price
    if balance is not None:
        faults.balance = balance
    path = Path(state) if state is not None else None
    try:
        serve_sim(
            host, port, faults, path, api_key=api_key, ready=ready, stop_on_signals=stop_on_signals
        )
    except ValueError as exc:
        raise InputError(f"{path}: {exc}; delete the file to start afresh") from None


def _root(
    campaign: Campaign,
    report_dir: str | os.PathLike[str] | None,
    simulate: bool,
    gateway: Gateway | None,
) -> Path:
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    return runner.report_root(campaign, Path(report_dir) if report_dir is not None else None)


@contextlib.contextmanager
def _gateway_of(
    campaign: Campaign,
    root: Path,
    gateway: Gateway | None,
    simulate: bool,
    on_warning: Callable[[str], None] | None,
) -> Iterator[Gateway]:
    """The gateway given, the campaign's built-in simulator, or the environment's."""
    if simulate:
        with simulated(campaign, root, on_trouble=on_warning) as chosen:
            yield chosen
    else:
        yield gateway or Gateway.from_env()


@contextlib.contextmanager
def _given(gateway: Gateway | None) -> Iterator[Gateway]:
    yield gateway or Gateway.from_env()


@contextlib.contextmanager
def _simulator(state: Path | None, on_trouble: Callable[[str], None] | None) -> Iterator[Gateway]:
    """A built-in simulator keeping its state in `state`, so later calls meet the same account
    (None: a throwaway one); a state it cannot save is told to `on_trouble` (default: logged),
    never raised."""
    from rcsbatch.simulator import SimulatorServer

    try:
        if state is not None:
            privacy.make_folder(state.parent)
        server = SimulatorServer(state_path=state).start()
    except OSError as exc:
        raise ReportError(f"cannot start the simulator ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ReportError(f"{state}: the simulator's state file is damaged ({exc})") from None
    try:
        yield Gateway(
            server.base_url, "simulated", simulated=True, lookup_price=server.backend.lookup_price
        )
    finally:
        try:
            server.stop()
        except OSError as exc:
            (on_trouble or log.error)(
                f"the simulator could not save its state in {state} ({exc.strerror or exc}): "
                "the simulated account forgets what this command did"
            )


# ---- validate, preview, report, events and test sends ----------------------------------------
# Each as its command does it; those that ask the gateway (validate: the agent and the balance;
# events; test sends) on one event loop with one gateway client. The gateway is
# Gateway.from_env() unless given; validate and preview only ask it when $SEVEN_API_KEY is set.

__all__ += [
    "EventsResult",
    "Figures",
    "RowNote",
    "RowPreview",
    "TestMessage",
    "TestSendResult",
    "ValidationResult",
    "preview",
    "preview_test_messages",
    "report_figures",
    "send_event",
    "send_event_async",
    "send_events",
    "send_events_async",
    "send_test_messages",
    "send_test_messages_async",
    "validate",
    "validate_async",
    "write_report",
]


@dataclass(frozen=True)
class RowNote:
    """A row `validate` lists: its number as the file shows it, its status, the phone cell as
    written, and why it will not be sent (or, for a row sent with a warning, the warning)."""

    row: int
    status: str
    input_phone: str
    text: str


@dataclass(frozen=True)
class ValidationResult:
    """What `validate` found: the rows per status, the first rows that will not be sent and
    the first sent with a warning, the warnings by kind.

    `exit_code`: 1 when some row is invalid, else 0 (other rows not sent, such as duplicates or
    opt-outs, are the campaign working as meant).
    """

    file_name: str
    counts: dict[str, int]
    problems: tuple[RowNote, ...]
    warned: tuple[RowNote, ...]
    warnings: dict[str, int]
    foreign_id_warning: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.counts.get("invalid") else 0

    def lines(self) -> list[str]:
        """The summary for people, as `rcsbatch validate` prints it above its tables."""
        from rcsbatch.reports.outcome import warning_lines

        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        rows = f"{self.rows} row" + ("" if self.rows == 1 else "s")
        found = [
            f"{self.file_name}: the campaign file is valid; {rows}"
            + (f": {parts}" if parts else "")
        ]
        if self.foreign_id_warning is not None:
            found.append(self.foreign_id_warning)
        return found + warning_lines(Counter(self.warnings))


def validate(
    campaign: Campaign,
    *,
    show: int = 20,
    gateway: Gateway | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Validate `campaign` (see `validate_async`) from plain code, in a running loop too."""
    return loop.run_sync(validate_async(campaign, show=show, gateway=gateway, on_status=on_status))


async def validate_async(
    campaign: Campaign,
    *,
    show: int = 20,
    gateway: Gateway | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Check `campaign` and every row up to the first request, as `rcsbatch validate` does;
    list at most `show` rows that will not be sent and as many sent with a warning.

    With a gateway (given, or $SEVEN_API_KEY's), one client checks the campaign's agent and
    reads the balance for `[send] max_cost`; `on_status` hears what the agent check says
    (default: logged). Raises InputError kinds for what `run` would refuse before sending (a
    passed validity, an unknown agent, the budget); rows that will not be sent are counted.
    """
    check_validity(campaign, time.time())
    runner.check_report_folder(runner.report_root(campaign), campaign)
    plan = open_plan(campaign)
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    account = runner.account_for(campaign, gateway)
    plan = runner.with_lookups(plan, runner.journal_path(campaign, account))
    counts: dict[str, int] = {}
    warnings: Counter[str] = Counter()
    problems: list[RowNote] = []
    warned: list[RowNote] = []
    for chunk in plan.chunks():
        for status, n in chunk["status"].value_counts().items():
            if n:
                counts[str(status)] = counts.get(str(status), 0) + int(n)
        warnings.update(warning_counts(chunk))
        noted = chunk[chunk["warning"].notna()]
        for row, item in _numbered(noted.head(max(show - len(warned), 0))):
            phone = cell_text(item["input_phone"]) or ""
            warned.append(RowNote(row, str(item["status"]), phone, str(item["warning"])))
        bad = chunk[chunk["status"] != "ready"]
        for row, item in _numbered(bad.head(max(show - len(problems), 0))):
            phone = cell_text(item["input_phone"]) or ""
            problems.append(RowNote(row, str(item["status"]), phone, str(item["reason"])))
    # Only once the rows are known good: a problem in the file is the first thing to say.
    say = on_status or (lambda line: log.warning("%s", line))
    balance = None
    needs_balance = campaign.send.max_cost is not None
    if gateway is not None and (campaign.message.sender is not None or needs_balance):
        async with _client(gateway, max_connections=1) as client:
            await check_agent(campaign, client, say)
            # A campaign that validates must not be refused by `run` for its budget.
            balance = await runner.balance_of(client) if needs_balance else None
    elif campaign.message.sender is not None:
        say(f"agent check skipped: no {config.API_KEY_ENV} to ask the gateway with")
    runner.check_budget_ahead(campaign, plan, account, balance)
    return ValidationResult(
        campaign.path.name,
        counts,
        tuple(problems),
        tuple(warned),
        dict(warnings),
        _foreign_id_warning(campaign),
    )


def _numbered(chunk: pd.DataFrame) -> Iterator[tuple[int, pd.Series[Any]]]:
    """A checked chunk's rows with their numbers as the file shows them (its index)."""
    for row, (_, item) in zip(chunk.index.tolist(), chunk.iterrows(), strict=True):
        yield int(row), item


def _foreign_id_warning(campaign: Campaign) -> str | None:
    """A foreign_id template that holds nothing of the campaign: lost answers of two campaigns
    with the same template and text could then only be told apart by time."""
    template = campaign.message.foreign_id
    if template is None or any(ch.isalnum() for ch in "".join(template.literals)):
        return None
    return (
        f"warning: foreign_id = {template.source!r} holds nothing of this campaign: another "
        "campaign with the same template and text is told apart from this one only by time "
        f'when a lost answer is settled; write e.g. "{campaign.name}-{template.source}"'
    )


@dataclass(frozen=True)
class RowPreview:
    """What one ready row would send: its number as the file shows it, the request's parameters
    as the gateway gets them, the rich object (parsed) when the campaign sends rich content, and
    the row's warning if any."""

    row: int
    params: dict[str, Any]
    rich: Any = None
    warning: str | None = None


def preview(
    campaign: Campaign, *, count: int = 5, gateway: Gateway | None = None
) -> list[RowPreview]:
    """The first `count` ready rows of `campaign` as they would go, as `rcsbatch preview` shows
    them; no request. The capability lookups in the journal of `gateway`'s account (given, or
    $SEVEN_API_KEY's, else the one account that ran the campaign) count as a run would count
    them. InputError kinds as for `validate`; no ready row gives an empty list."""
    from rcsbatch.gateway.request import request_params

    check_validity(campaign, time.time())
    runner.check_report_folder(runner.report_root(campaign), campaign)
    plan = open_plan(campaign)
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    with contextlib.suppress(ReportError):  # several accounts and no key: no lookups to use
        plan = runner.with_lookups(
            plan, runner.journal_path(campaign, runner.account_for(campaign, gateway))
        )
    found: list[RowPreview] = []
    if count <= 0:
        return found
    for chunk in plan.chunks():
        ready = chunk[chunk["status"] == "ready"]
        for row, item in _numbered(ready):
            rich = json.loads(item["text"]) if campaign.message.rich is not None else None
            warning = None if item["warning"] is None else str(item["warning"])
            found.append(RowPreview(row, request_params(campaign, item), rich, warning))
            if len(found) >= count:
                return found
    return found


def report_figures(
    campaign: Campaign,
    *,
    run_id: str | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    gateway: Gateway | None = None,
) -> Figures:
    """The figures `rcsbatch report` shows for `campaign` (every run, or `run_id`), read from
    the journal of `gateway`'s account (given, or $SEVEN_API_KEY's, else the one that ran it;
    `simulate`: the built-in simulator's). No request. InputError kinds when there is nothing
    to report."""
    from rcsbatch.reports.figures import figures

    return figures(_report_journal(campaign, simulate, gateway), campaign.name, run_id)


def write_report(
    campaign: Campaign,
    fmt: str = "table",
    *,
    output: str | os.PathLike[str] | TextIO | None = None,
    run_id: str | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    csv_dialect: str | None = None,
    gateway: Gateway | None = None,
) -> Path | None:
    """Write the report of `campaign` (see `report_figures`) as `fmt` (table, csv, json, xlsx or
    html), as `rcsbatch report` does; the file written, or None when it went to a stream.

    `output` is a path, or a text stream (xlsx and html go to its binary buffer); xlsx and html
    go by default to report.xlsx / report.html in the campaign's report folder. `csv_dialect`
    is "standard" or "excel" (default: the campaign's csv_dialect). InputError kinds when there
    is nothing to report or the file cannot be written.
    """
    from rcsbatch.reports import csvfile
    from rcsbatch.reports.formats import FILE_FORMATS, FORMATS, STDOUT
    from rcsbatch.reports.formats import write_report as write

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if output is None and fmt not in FILE_FORMATS:
        raise ValueError(f"a {fmt} report goes to a path or a text stream: give `output`")
    stream = output if output is not None and not isinstance(output, str | os.PathLike) else None
    root = runner.report_root(campaign, Path(report_dir) if report_dir is not None else None)
    return write(
        _report_journal(campaign, simulate, gateway),
        campaign.name,
        fmt,
        run_id=run_id,
        output=Path(STDOUT) if stream is not None else _path_or_none(output),
        stdout=stream,
        folder=root / campaign.name,
        dialect=csvfile.dialect(csv_dialect) if csv_dialect else campaign.csv,
    )


def _path_or_none(output: str | os.PathLike[str] | TextIO | None) -> Path | None:
    return Path(output) if isinstance(output, str | os.PathLike) else None


def _report_journal(campaign: Campaign, simulate: bool, gateway: Gateway | None) -> Path:
    """The journal a report reads: the account's of `gateway` (see runner.account_for)."""
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    if gateway is None and not simulate and config.api_key_from_env():
        gateway = Gateway.from_env()
    return runner.journal_path(campaign, runner.account_for(campaign, gateway, simulate))


@dataclass(frozen=True)
class EventsResult:
    """Every event with its outcome (`status`: sent, failed, unknown or not_sent), the results
    file when the events came from one, and why the gateway stopped the batch if it did.

    `exit_code`: 3 when the gateway stopped it (`stop_reason`), 1 when some event was not sent
    or the results file could not be written (`error`), else 0.
    """

    events: tuple[Event, ...]
    stop_reason: str | None = None
    path: Path | None = None
    error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        """How many events ended in each status."""
        return dict(Counter(e.status for e in self.events))

    @property
    def exit_code(self) -> int:
        if self.stop_reason:
            return 3
        return 0 if not self.error and all(e.status == "sent" for e in self.events) else 1


def send_event(
    event: str,
    *,
    to: str | None = None,
    msg_id: str | None = None,
    sender: str | None = None,
    region: str = "DE",
    gateway: Gateway | None = None,
    simulate: bool = False,
) -> EventsResult:
    """Send one event (see `send_event_async`) from plain code, in a running loop too."""
    return loop.run_sync(
        send_event_async(
            event,
            to=to,
            msg_id=msg_id,
            sender=sender,
            region=region,
            gateway=gateway,
            simulate=simulate,
        )
    )


async def send_event_async(
    event: str,
    *,
    to: str | None = None,
    msg_id: str | None = None,
    sender: str | None = None,
    region: str = "DE",
    gateway: Gateway | None = None,
    simulate: bool = False,
) -> EventsResult:
    """Send the RCS `event` (READ, IS_TYPING) from the agent `sender` to the number `to` (read
    with `region`) or the inbound message `msg_id` (exactly one), as `rcsbatch event` does.
    `simulate` sends to a throwaway built-in simulator. InputError for a bad value, before any
    request; the gateway's answer comes back in the EventsResult."""
    from rcsbatch.actions import events

    items = [events.one_event(event, to, msg_id, region)]
    found, stopped = await _send_events(items, sender, 1, gateway, simulate)
    return EventsResult(tuple(found), stopped)


def send_events(
    file: str | os.PathLike[str],
    *,
    event: str | None = None,
    sender: str | None = None,
    region: str = "DE",
    concurrency: int = 8,
    gateway: Gateway | None = None,
    simulate: bool = False,
    csv_dialect: str | None = None,
) -> EventsResult:
    """Send a file's events (see `send_events_async`) from plain code, in a running loop too."""
    return loop.run_sync(
        send_events_async(
            file,
            event=event,
            sender=sender,
            region=region,
            concurrency=concurrency,
            gateway=gateway,
            simulate=simulate,
            csv_dialect=csv_dialect,
        )
    )


async def send_events_async(
    file: str | os.PathLike[str],
    *,
    event: str | None = None,
    sender: str | None = None,
    region: str = "DE",
    concurrency: int = 8,
    gateway: Gateway | None = None,
    simulate: bool = False,
    csv_dialect: str | None = None,
) -> EventsResult:
    """Send an event for each row of `file` (CSV, xlsx or Parquet with a column `to` or `msg_id`
    and optionally `event`, which wins over `event`), `concurrency` at a time, as `rcsbatch
    event` does, and write their outcomes to <file>.results.csv beside it in `csv_dialect`
    (standard or excel). Every row is checked first: InputError naming the bad rows, nothing
    sent. A results file that cannot be written is the result's `error`: the events went."""
    from rcsbatch.actions import events
    from rcsbatch.reports import csvfile

    path = Path(file)
    items = events.read_events(path, event, region)
    found, stopped = await _send_events(items, sender, concurrency, gateway, simulate)
    results = events.results_path(path)
    try:
        written = events.write_results(results, found, csvfile.dialect(csv_dialect or "standard"))
    except OSError as exc:
        return EventsResult(
            tuple(found),
            stopped,
            error=f"the events were sent, but their results could not be written to {results} "
            f"({exc.strerror or exc}); the counts above are all that is left of them",
        )
    return EventsResult(tuple(found), stopped, written)


async def _send_events(
    items: list[Event],
    sender: str | None,
    concurrency: int,
    gateway: Gateway | None,
    simulate: bool,
) -> tuple[list[Event], str | None]:
    """Send checked events with one client: to `gateway`, the environment's, or a throwaway
    built-in simulator."""
    from rcsbatch.actions import events

    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    with _simulator(None, None) if simulate else _given(gateway) as chosen:
        async with _client(chosen, max_connections=concurrency) as client:
            return await events.send_events(client, items, sender=sender, concurrency=concurrency)


def preview_test_messages(
    campaign: Campaign, *, to: Sequence[str] = (), rows: Sequence[int] = ()
) -> list[TestMessage]:
    """The test messages `send_test_messages` would send (rows first), with their request
    bodies; no request, nothing recorded."""
    numbers, chosen = _test_choice(campaign, to, rows)
    return testsends.build(campaign, chosen, numbers, testsends.new_send_id())


def send_test_messages(
    campaign: Campaign,
    *,
    to: Sequence[str] = (),
    rows: Sequence[int] = (),
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    on_status: Callable[[str], None] | None = None,
    on_message: Callable[[TestMessage], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> TestSendResult:
    """A test send (see `send_test_messages_async`) from plain code, in a running loop too."""
    return loop.run_sync(
        send_test_messages_async(
            campaign,
            to=to,
            rows=rows,
            gateway=gateway,
            simulate=simulate,
            report_dir=report_dir,
            on_status=on_status,
            on_message=on_message,
            on_warning=on_warning,
        )
    )


async def send_test_messages_async(
    campaign: Campaign,
    *,
    to: Sequence[str] = (),
    rows: Sequence[int] = (),
    gateway: Gateway | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    on_status: Callable[[str], None] | None = None,
    on_message: Callable[[TestMessage], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> TestSendResult:
    """Send chosen rows of `campaign`, merged as the campaign would and labelled as tests, to
    test numbers instead of their recipients, as `rcsbatch run --test-to` does (see
    rcsbatch.actions.testsends); the campaign's journal and runs are untouched.

    `to`: the numbers (read with the campaign's default_region; default its [test] numbers);
    `rows`: the rows as the file numbers them (default the first three ready rows). One client
    checks the agent and sends. `on_status` hears what the test send does, `on_message` each
    message's outcome, `on_warning` trouble saving the simulator's state (default: logged).
    InputError kinds before the first request; after it, the TestSendResult (its results file
    in `path`, exit code 0, 1 or 3).
    """
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    root = runner.report_root(campaign, Path(report_dir) if report_dir is not None else None)
    numbers, chosen = _test_choice(campaign, to, rows)
    say = on_status or (lambda line: log.info("%s", line))
    say(
        f"test send: rows {', '.join(str(r) for r, _ in chosen)} to "
        f"{', '.join(f'+{n}' for n in numbers)} ({len(chosen) * len(numbers)} messages, "
        "labelled as tests; the campaign is untouched)"
    )
    with contextlib.ExitStack() as stack:
        if simulate:
            found = stack.enter_context(simulated(campaign, root, on_trouble=on_warning))
            say(f"sending through the built-in simulator at {found.base_url}")
        else:
            found = gateway or Gateway.from_env()
        settings = testsends.settings_for_test(campaign)
        async with _client(found, max_connections=settings.concurrency) as client:
            await check_agent(campaign, client, on_status)
            result: TestSendResult = await runner.send_test_messages_async(
                campaign, root, found, chosen, numbers, on_message, client=client
            )
            return result


def _test_choice(
    campaign: Campaign, to: Sequence[str], rows: Sequence[int]
) -> tuple[tuple[int, ...], list[tuple[int, Any]]]:
    """A test send's numbers and chosen rows; InputError for a bad number or row."""
    plan = open_plan(campaign)
    numbers = testsends.resolve_numbers(campaign, to)
    return numbers, testsends.choose_rows(plan, tuple(dict.fromkeys(rows)))
