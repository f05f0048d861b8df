"""Calls about a campaign's messages outside a run: `sync_campaign` (the logbook's delivery
states and prices), `revoke_messages`, `send_event(s)` and `send_test_messages`.

Each as its command does it, on one event loop with one gateway client; named apart from the
commands, since rcsbatch.delivery.sync and rcsbatch.actions.revoke are modules. The gateway is
Gateway.from_env() unless given (or `simulate`: the campaign's built-in simulator). Revoking
cannot be undone: `revoke_messages` takes `confirm` instead of asking.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsbatch.actions import testsends
from rcsbatch.actions.events import Event
from rcsbatch.actions.revoke import RevokePlan, RevokeStats, revoke_campaign_async
from rcsbatch.actions.testsends import TestMessage, TestSendResult
from rcsbatch.campaign.file import Campaign
from rcsbatch.delivery.sync import SyncStats, sync_and_settle
from rcsbatch.engine import loop
from rcsbatch.errors import AccountError, GatewayError, InputError
from rcsbatch.gateway.config import Gateway
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.reports.folder import report_root

if TYPE_CHECKING:
    pass
from rcsbatch.api.session import (
    check_agent,
    client_for,
    gateway_for,
    given_gateway,
    report_root_for,
    simulated,
    simulator_gateway,
)

__all__ = [
    "EventsResult",
    "RevokeResult",
    "SyncResult",
    "preview_test_messages",
    "revoke_messages",
    "revoke_messages_async",
    "send_event",
    "send_event_async",
    "send_events",
    "send_events_async",
    "send_test_messages",
    "send_test_messages_async",
    "sync_campaign",
    "sync_campaign_async",
]

log = logging.getLogger(__name__)


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
    root = report_root_for(campaign, report_dir, simulate, gateway)
    try:
        with gateway_for(campaign, root, gateway, simulate, on_warning) as chosen:
            stats, folder = await sync_and_settle(campaign, root, chosen)
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
    root = report_root_for(campaign, report_dir, simulate, gateway)

    def consent(found: RevokePlan) -> bool:
        if callable(confirm):
            return confirm(found)
        if not confirm:
            raise InputError(
                f"{len(found.ids)} messages ({found.rows} rows) would be asked to be deleted, "
                "which cannot be undone: give confirm=True to revoke them"
            )
        return True

    with gateway_for(campaign, root, gateway, simulate, on_warning) as chosen:
        found, stats, folder = await revoke_campaign_async(
            campaign, root, chosen, run_id=run_id, only_scheduled=only_scheduled, confirm=consent
        )
    return RevokeResult(found, stats, folder)


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
    with simulator_gateway(None, None) if simulate else given_gateway(gateway) as chosen:
        async with client_for(chosen, max_connections=concurrency) as client:
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
    root = report_root(campaign, Path(report_dir) if report_dir is not None else None)
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
        async with client_for(found, max_connections=settings.concurrency) as client:
            await check_agent(campaign, client, on_status)
            result: TestSendResult = await testsends.send_rows(
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
