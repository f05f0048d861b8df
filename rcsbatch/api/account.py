"""Calls about the account: `look_up_capabilities` (billed per number, so it takes
`accept_cost` instead of asking), `list_agents`, and the webhooks registered with seven
(`register_hook`, `list_hooks`, `remove_hook`).

Each on one event loop with one gateway client; the gateway is Gateway.from_env() unless given.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from rcsbatch.campaign.file import Campaign
from rcsbatch.engine import loop, runner
from rcsbatch.errors import InputError
from rcsbatch.gateway import config
from rcsbatch.gateway.config import Gateway
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.reports.folder import REPORT_DIR_ENV, report_root
from rcsbatch.state import paths, storage
from rcsbatch.state.journal import Journal

if TYPE_CHECKING:
    pass
from rcsbatch.api.session import client_for, given_gateway, simulator_gateway

__all__ = [
    "HOOK_METHODS",
    "CapabilitiesResult",
    "LookupPlan",
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
]


HOOK_METHODS = ("POST", "GET", "JSON")


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
        simulator_gateway(state, on_warning) if simulate else given_gateway(gateway) as chosen,
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
            async with client_for(chosen, max_connections=LOOKUPS_AT_ONCE) as client:
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
        root = report_root(target, Path(report_dir) if report_dir is not None else None)
        numbers, skipped = campaign_numbers(open_plan(target)), 0
        if gateway is None and not simulate and config.api_key_from_env():
            gateway = Gateway.from_env()
        account = paths.account_for(target, gateway, simulate)
        cache = paths.journal_path(target, account)
        state = paths.campaign_state(target, account).simulator
        require = target.send.require
    else:
        path = Path(target).expanduser().resolve()
        env = os.environ.get(REPORT_DIR_ENV)
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
    async with client_for(gateway or Gateway.from_env(), max_connections=1) as client:
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
        raise InputError(f"{url!r} is not an http(s) URL", option="url")
    if method.upper() not in HOOK_METHODS:
        raise InputError(f"method {method!r} is none of {', '.join(HOOK_METHODS)}")
    async with client_for(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.add_hook(url, event_type, method.upper())


def list_hooks(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's webhooks (see `list_hooks_async`), inside a running event loop too."""
    return loop.run_sync(list_hooks_async(gateway=gateway))


async def list_hooks_async(*, gateway: Gateway | None = None) -> list[dict[str, Any]]:
    """The account's webhooks as the gateway lists them (id, event_type, request_method,
    target_url, …); one request, GatewayError kinds from the gateway."""
    async with client_for(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.hooks()


def remove_hook(hook_id: str, *, gateway: Gateway | None = None) -> bool:
    """Remove a webhook (see `remove_hook_async`), inside a running event loop too."""
    return loop.run_sync(remove_hook_async(hook_id, gateway=gateway))


async def remove_hook_async(hook_id: str, *, gateway: Gateway | None = None) -> bool:
    """Remove the webhook `hook_id`; False when the gateway has none by that id. One request."""
    async with client_for(gateway or Gateway.from_env(), max_connections=1) as client:
        return await client.remove_hook(hook_id)
