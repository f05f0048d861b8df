"""One campaign run, from the campaign file to the report folder.

`dry_run` checks and merges every row and writes what would be sent. `run_async` records every
row in the campaign's journal, sends what is sendable (through the sender, on the caller's event
loop and gateway client), then writes the report from the journal: the journal is the truth, the
files are its picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rcsbatch.actions import capabilities
from rcsbatch.campaign.file import Campaign
from rcsbatch.engine.budget import Budget, check_budget
from rcsbatch.engine.sender import Sender, SendStats
from rcsbatch.engine.settle import LogbookFacts, Rules, Settler, journal_known, sent_elsewhere
from rcsbatch.errors import (
    AccountError,
    AlreadySentError,
    BudgetError,
    GatewayError,
    ReportError,
)
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import Expired, SendSettings, request_params
from rcsbatch.recipients.prepare import Plan, open_plan, warning_counts
from rcsbatch.reports.outcome import Report
from rcsbatch.reports.results import (
    ResultsWriter,
    iso_seconds,
    journal_batches,
    plan_table,
    reserve_run_folder,
    write_summary,
)
from rcsbatch.state import paths, storage
from rcsbatch.state.claims import CLAIMS, AccountClaims
from rcsbatch.state.journal import Journal, Outcome

if TYPE_CHECKING:
    from rcsbatch.gateway.client import Balance, GatewayClient

SAMPLES = 3
# How many recipients a campaign's first run looks up in the logbook before it sends.
SAMPLE_LOOKUPS = 20


@dataclass(frozen=True)
class RunResult:
    """A finished run: its id, its folder, its report and its exit code; `results` reads its
    per-recipient rows."""

    run_id: str
    folder: Path
    report: Report
    samples: tuple[dict[str, Any], ...] = ()  # dry runs: the first requests, as they would go

    @property
    def exit_code(self) -> int:
        """The command line's exit code for this run (reports.outcome.Report.exit_code)."""
        return self.report.exit_code

    @functools.cached_property
    def results(self) -> pd.DataFrame:
        """The per-recipient rows, as the run folder's results.parquet holds them:
        read when first asked for, so a large run costs nothing until then."""
        return pd.read_parquet(self.folder / "results.parquet")


def estimate(
    campaign: Campaign, account: str, messages: int, journal: Journal | None = None
) -> tuple[Decimal | None, str | None]:
    """Estimated cost of `messages` and where the price came from (None when nothing is known)."""
    price, source = unit_price(campaign, account, journal)
    if price is None:
        return None, None
    return price * messages, f"estimate: {messages} × {price}, {source}"


def unit_price(
    campaign: Campaign, account: str, journal: Journal | None = None
) -> tuple[Decimal | None, str]:
    """The price per message to estimate with, and where it came from.

    Without a price in the campaign, the latest run's average price is read from `journal` (the
    one a run already holds open) or, for a dry run, from the campaign's journal if it exists.
    """
    price = campaign.send.price_estimate
    source = "price_estimate in the campaign file"
    if price is None:
        path = paths.journal_path(campaign, account)
        if journal is not None:
            price = journal.average_price()
        elif path.exists():
            with Journal(path) as opened:
                price = opened.average_price()
        source = "average price of earlier runs"
    return price, source


def dry_run(
    campaign: Campaign,
    root: Path,
    plan: Plan | None = None,
    account: str | None = None,
    *,
    balance: Balance | None = None,
) -> RunResult:
    """Check and merge every row, send nothing, and write the results to a dry-run folder, which
    appears only once complete (results.RunFolder).

    `balance`, read by the caller's client (`balance_of`), is shown too. Rows settled by earlier
    runs are read from the journal of `account` (default: see `account_for`).
    """
    account = account or paths.account_for(campaign, None)
    plan = plan or open_plan(campaign)
    started = time.time()
    report = Report(dry_run=True)
    if balance is not None:
        report.balance_before, report.currency = balance.amount, balance.currency
    settled = _settled(paths.journal_path(campaign, account))
    lacking = _lacking(campaign, paths.journal_path(campaign, account))
    plan = with_lookups(plan, paths.journal_path(campaign, account))
    samples: list[dict[str, Any]] = []
    # A dry run that could not read the whole file leaves no folder behind.
    with reserve_run_folder(root, campaign.name, dry_run=True) as target:
        writer = ResultsWriter(target.temp, report, campaign.csv)
        try:
            for chunk in plan.chunks():
                if settled is not None:
                    chunk = _mark_settled(chunk, *settled)
                if lacking:
                    chunk = _mark_incapable(chunk, lacking)
                report.warnings.update(warning_counts(chunk))
                writer.write(plan_table(chunk))
                if len(samples) < SAMPLES:
                    ready = chunk[chunk["status"] == "ready"].head(SAMPLES - len(samples))
                    for row, (_, item) in zip(ready.index.tolist(), ready.iterrows(), strict=True):
                        # The delay's validity may run out during the dry run: then no sample.
                        with contextlib.suppress(Expired):
                            samples.append({"row": row, **request_params(campaign, item)})
        finally:
            writer.close()
        report.estimate, report.estimate_source = estimate(
            campaign, account, report.counts["ready"]
        )
        # A dry run that passes must mean the run will start: the same check, no folder left.
        _budget_ahead(campaign, account, report.counts["ready"], balance)
        _summarise(target.temp, campaign, target.run_id, report, started, dry_run=True)
        folder = target.commit()
    return RunResult(target.run_id, folder, report, tuple(samples))


def check_budget_ahead(
    campaign: Campaign, plan: Plan, account: str, balance: Balance | None
) -> None:
    """Refuse (BudgetError) what `run` would refuse for `[send] max_cost`, before it: the cost so
    far from the campaign's journal of `account` (if any) plus the estimate for the rows that
    would still go, and the account's `balance` when the caller could ask for it."""
    if campaign.send.max_cost is None:
        return
    path = paths.journal_path(campaign, account)
    settled, lacking = _settled(path), _lacking(campaign, path)
    plan = with_lookups(plan, path)
    ready = 0
    for chunk in plan.chunks():
        if settled is not None:
            chunk = _mark_settled(chunk, *settled)
        if lacking:
            chunk = _mark_incapable(chunk, lacking)
        ready += int((chunk["status"] == "ready").sum())
    _budget_ahead(campaign, account, ready, balance)


def _budget_ahead(campaign: Campaign, account: str, ready: int, balance: Balance | None) -> None:
    """The run's budget check for `ready` messages, without a run: read-only on the journal."""
    if campaign.send.max_cost is None:
        return
    path = paths.journal_path(campaign, account)
    if path.exists():
        with Journal(path) as journal:
            _check_budget(campaign, account, journal, ready, balance)
        return
    check_budget(
        campaign.send.max_cost,
        cost_so_far=Decimal(0),
        unpriced=0,
        price=unit_price(campaign, account)[0],
        messages=ready,
        balance=balance.amount if balance is not None else None,
    )


def _settled(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Recipients an earlier run settled (sorted) and their report status; None if no journal."""
    if not path.exists():
        return None
    with Journal(path) as journal:
        return journal.settled()


def with_lookups(plan: Plan, path: Path) -> Plan:
    """The plan sending also to numbers of a refused type whose capability lookup in the
    journal at `path` (if any) is recent and shows RCS: the gateway's word beats the type."""
    if not path.exists():
        return plan
    with Journal(path) as journal:
        return plan.with_capable(journal.rcs_capable(time.time() - capabilities.DEFAULT_MAX_AGE))


def _lacking(campaign: Campaign, path: Path) -> dict[int, str]:
    """With `[send] require` and no fallback: recipients whose cached lookup lacks a required
    capability, and the reason a run would give (a run marks them `incapable`)."""
    require = campaign.send.require
    if not require or campaign.message.fallback is not None or not path.exists():
        return {}
    found: dict[int, str] = {}
    with Journal(path) as journal:
        for recipient, names, at in journal.all_capabilities():
            have = set(names)
            missing = [c for c in require if c not in have]
            if missing:
                day = time.strftime("%Y-%m-%d", time.gmtime(at))
                what = "no RCS" if not have else "lacks " + ", ".join(missing)
                found[recipient] = f"cannot receive it: {what} (lookup of {day})"
    return found


def _mark_incapable(chunk: pd.DataFrame, lacking: dict[int, str]) -> pd.DataFrame:
    """Show ready rows whose cached lookup lacks a required capability as `incapable`, as the
    run would: a dry run must neither count nor estimate them."""
    ready = (chunk["status"] == "ready").to_numpy()
    recipients = chunk["recipient"].to_numpy()
    hit = np.array([bool(r) and int(v) in lacking for r, v in zip(ready, recipients, strict=True)])
    if not hit.any():
        return chunk
    status = np.array(chunk["status"], dtype=object)
    status[hit] = "incapable"
    reason = chunk["reason"].to_numpy(dtype=object).copy()
    reason[hit] = [lacking[int(v)] for v in recipients[hit]]
    return chunk.assign(status=status, reason=pd.Series(reason, index=chunk.index, dtype=object))


def _mark_settled(chunk: pd.DataFrame, numbers: np.ndarray, statuses: np.ndarray) -> pd.DataFrame:
    """Show ready rows that an earlier run already settled with that run's status: a real run
    would not send them, so a dry run must neither count nor estimate them."""
    if not len(numbers):
        return chunk
    ready = (chunk["status"] == "ready").to_numpy()
    at = np.searchsorted(numbers, chunk["recipient"].to_numpy())
    at[at == len(numbers)] = 0
    hit = ready & (numbers[at] == chunk["recipient"].to_numpy())
    if not hit.any():
        return chunk
    status = np.array(chunk["status"], dtype=object)
    status[hit] = statuses[at[hit]]
    reason = chunk["reason"].to_numpy(dtype=object).copy()
    reason[hit] = "settled by an earlier run: not sent again"
    return chunk.assign(status=status, reason=pd.Series(reason, index=chunk.index, dtype=object))


def load_journal(
    journal: Journal, plan: Plan, *, retry_failed: bool = False
) -> tuple[int, Counter[str]]:
    """Record every row of the recipient file in the journal, in one transaction.

    With `retry_failed`, `failed` rows whose refusal may pass are made sendable first (so they
    take the file's text as it is now); returns how many, and the ready rows' warnings by kind.
    """
    journal.begin_load()
    reopened = 0
    warnings: Counter[str] = Counter()
    try:
        if retry_failed:
            reopened = journal.reopen_failed()
        for chunk in plan.chunks():
            warnings.update(warning_counts(chunk))
            ready = chunk[chunk["status"] == "ready"]
            journal.add_rows(
                zip(
                    ready["recipient"].tolist(),
                    ready.index.tolist(),
                    ready["text"].tolist(),
                    ready["label"].tolist(),
                    ready["foreign_id"].tolist(),
                    strict=True,
                )
            )
            other = chunk[chunk["status"] != "ready"]
            journal.add_rejects(
                zip(
                    other.index.tolist(),
                    [r or None for r in other["recipient"].tolist()],
                    other["status"].tolist(),
                    other["reason"].tolist(),
                    other["input_phone"].tolist(),
                    strict=True,
                )
            )
    except BaseException:
        journal.rollback()
        raise
    journal.end_load()
    return reopened, warnings


async def run_async(
    campaign: Campaign,
    root: Path,
    gateway: Gateway,
    *,
    limit: int | None = None,
    plan: Plan | None = None,
    retry_failed: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    settings: SendSettings | None = None,
    lookup: bool = False,
    client: GatewayClient | None = None,
    stop_on_signals: bool = False,
) -> RunResult:
    """Send the campaign's sendable rows and write the report; see the module docstring.

    Every request of the run (lookups, balance, logbook, sends) goes through `client`, or one
    client opened here for the run. `settings` replaces the campaign's send settings (tests
    inject a clock that way). With `[send] require`, rows whose cached lookup lacks a capability
    go with the fallback or become `incapable`; `lookup` first looks up (billed) the rows
    without a lookup younger than capabilities.DEFAULT_MAX_AGE.

    Errors before sending begins raise. Once it has begun, cancelling the task stops the run as
    Ctrl-C stops the command line (no new request, those in flight get their grace) and the
    result comes back, interrupted by SIGINT (exit code 130). `stop_on_signals` (the console
    script's choice, main thread only) lets SIGINT and SIGTERM do the same while it sends.
    """
    plan = plan or open_plan(campaign)
    settings = settings or SendSettings.of(campaign)
    started = time.time()
    found = paths.campaign_state(campaign, gateway)
    sending = threading.Event()  # set once the run's start is journaled: messages may go
    files = (found.journal, found.account_folder / CLAIMS, root / campaign.name)
    with storage.checked(files, sending_started=sending.is_set), paths.campaign_lock(found.lock):
        found = paths.open_state(campaign, gateway, root)
        with Journal(found.journal) as journal:
            go = functools.partial(
                _run_locked,
                campaign,
                root,
                gateway,
                plan=plan,
                journal=journal,
                found=found,
                started=started,
                sending=sending,
                limit=limit,
                retry_failed=retry_failed,
                on_start=on_start,
                on_outcome=on_outcome,
                on_status=on_status,
                settings=settings,
                lookup=lookup,
                stop_on_signals=stop_on_signals,
            )
            if client is not None:
                return await go(client=client)
            async with gateway_client(gateway, settings) as own:
                return await go(client=own)


def gateway_client(gateway: Gateway, settings: SendSettings) -> GatewayClient:
    """The one client of a run: as many connections as it sends at once, its request timeout
    and its clock."""
    # Imported here: aiohttp and httpx cost start-up that dry runs never use.
    from rcsbatch.gateway.client import GatewayClient

    return GatewayClient(
        gateway.base_url,
        gateway.api_key,
        max_connections=settings.concurrency,
        timeout=settings.request_timeout,
        clock=settings.clock,
    )


async def _run_locked(
    campaign: Campaign,
    root: Path,
    gateway: Gateway,
    *,
    client: GatewayClient,
    plan: Plan,
    journal: Journal,
    found: paths.CampaignState,
    started: float,
    sending: threading.Event,
    limit: int | None,
    retry_failed: bool,
    on_start: Callable[[int], None] | None,
    on_outcome: Callable[[Outcome], None] | None,
    on_status: Callable[[str], None] | None,
    settings: SendSettings,
    lookup: bool,
    stop_on_signals: bool,
) -> RunResult:
    journal.claim_account(gateway.account)
    try:
        AccountClaims(found.account_folder, campaign.name, found.journal).register()
    except (OSError, sqlite3.Error) as exc:
        raise ReportError(
            f"cannot use the state folder {found.account_folder} ({exc}); free some space or "
            f"set {paths.STATE_DIR_ENV} to a folder you can write"
        ) from None
    if lookup:
        await capabilities.look_up_refused_types(journal, plan, gateway, client, on_status)
    plan = plan.with_capable(journal.rcs_capable(time.time() - capabilities.DEFAULT_MAX_AGE))
    _, warnings = load_journal(journal, plan, retry_failed=retry_failed)
    capability_note = await capabilities.apply_requirements(
        campaign, journal, gateway, client, lookup, on_status
    )
    sendable = journal.count_sendable()
    if limit is not None:
        sendable = min(sendable, limit)
    balance = await balance_of(client)
    budget = None
    if campaign.send.max_cost is not None:
        try:
            budget = _check_budget(campaign, gateway.account, journal, sendable, balance)
        except BudgetError:
            # Lost answers count at the reserved price until settled: settle what the logbook
            # can before refusing (their real prices, or shown absent), then ask again.
            if not journal.unsettled() or not any(
                await settle_now_async(campaign, client, journal, found)
            ):
                raise
            sendable = journal.count_sendable()
            if limit is not None:
                sendable = min(sendable, limit)
            budget = _check_budget(campaign, gateway.account, journal, sendable, balance)
    if paths.read_history(found) is None and not journal.run_count():
        # A journal with no history: make sure no other machine, report folder or person's cron
        # already sent this campaign before its first message goes.
        await check_not_sent_elsewhere(campaign, client, journal, on_status)
    # The run id is chosen now (the journal records it with each row sent); its folder
    # appears only once results and summary are complete, and not at all if the run fails:
    # the journal tells which ids such runs had.
    with reserve_run_folder(root, campaign.name, used=journal.has_run) as target:
        run_id = target.run_id
        journal.start_run(run_id)
        # The run's start goes into the journal's main file, then into the history mark
        # beside it: a journal that loses its -wal (or goes missing) from now on is refused.
        journal.checkpoint()
        try:
            paths.write_history(found, campaign.name, run_id, journal.run_count())
        except OSError as exc:
            raise ReportError(
                f"cannot write {found.history} ({exc.strerror}); nothing was sent: free some "
                "space (or fix its permissions) and run again"
            ) from None
        report = Report(simulated=gateway.simulated, run_id=run_id)
        report.capability_note = capability_note
        report.warnings = warnings
        if balance is not None:
            report.balance_before, report.currency = balance.amount, balance.currency
        report.estimate, report.estimate_source = estimate(
            campaign, gateway.account, sendable, journal
        )
        if on_start is not None:
            on_start(sendable)
        sender = Sender(
            journal,
            client,
            settings,
            run_id,
            limit=limit,
            on_outcome=on_outcome,
            on_status=on_status,
            budget=budget,
            settler=campaign_settler(client, campaign.name, found, settings, report.logbook),
            stop_on_signals=stop_on_signals,
        )
        sending.set()
        stats = await _send(sender, client, found, report)
        report.stop_reason, report.stop_code = stats.stop_reason, stats.stop_code
        report.interrupted = stats.interrupted
        report.gave_up = stats.gave_up
        report.over_budget = stats.over_budget
        report.not_after_passed = stats.not_after_passed
        report.settled_found, report.settled_resent = stats.settled_found, stats.settled_resent
        report.resent_blindly = stats.resent_blindly
        journal.note_unsent(_why_unsent(stats, limit))
        writer = ResultsWriter(target.temp, report, campaign.csv)
        try:
            for table in journal_batches(journal.result_rows()):
                writer.write(table)
        finally:
            writer.close()
        summary = _summarise(
            target.temp,
            campaign,
            run_id,
            report,
            started,
            send_seconds=stats.finished - stats.started,
            attempted=stats.attempted,
            retries=stats.retries,
        )
        folder = target.commit()
        # Finished only once its folder is in place: sync and revoke rewrite the newest
        # finished run's folder.
        journal.finish_run(run_id, report.exit_code, json.dumps(summary))
    return RunResult(run_id, folder, report)


def _check_budget(
    campaign: Campaign,
    account: str,
    journal: Journal,
    sendable: int,
    balance: Balance | None,
) -> Budget:
    assert campaign.send.max_cost is not None
    cost, unpriced = journal.cost_so_far()
    price = unit_price(campaign, account, journal)[0]
    highest = journal.highest_price()
    if price is not None and highest is not None and highest > price:
        # Reserve at least what the gateway charged: a row without a price yet (a lost answer,
        # a price settled later) counts at it, never at a lower estimate.
        price = highest
    return check_budget(
        campaign.send.max_cost,
        cost_so_far=cost,
        unpriced=unpriced,
        price=price,
        messages=sendable,
        balance=balance.amount if balance is not None else None,
    )


async def settle_now_async(
    campaign: Campaign,
    client: GatewayClient,
    journal: Journal,
    found: paths.CampaignState,
    *,
    settings: SendSettings | None = None,
) -> tuple[int, int]:
    """One settling pass over the journal's lost answers, outside a run (before a budget check,
    in `sync`): rows the logbook proves sent are recorded with its ids and prices, rows shown
    absent become sendable, the rest stay unknown with the reason. Returns how many were found
    sent and how many shown absent."""
    settings = settings or SendSettings.of(campaign)
    rows = journal.unsettled()
    now = settings.clock()
    if any(r.status == "in_flight" for r in rows):
        # A dead run's rows: their requests left before this command could take the lock.
        journal.mark_unknown(
            [r.recipient for r in rows if r.status == "in_flight"],
            "the run stopped while its request was in flight: settled from the logbook",
            now,
        )
        rows = journal.unsettled()
    if not rows:
        return 0, 0
    try:
        await client.balance()  # its Date header: the gateway's clock
        settler = campaign_settler(client, campaign.name, found, settings)
        known = journal_known(journal, settings.request_timeout)
        result = await settler.settle(rows, now=now, run_started=now, known=known)
    except GatewayError:
        return 0, 0
    journal.record(journal.latest_run() or "settled", result.found)
    journal.resend(result.resend)
    journal.note_undecided(result.undecided)
    return len(result.found), len(result.resend)


def campaign_settler(
    client: GatewayClient,
    campaign_name: str,
    found: paths.CampaignState,
    settings: SendSettings,
    facts: LogbookFacts | None = None,
) -> Settler:
    """The settler of a campaign's lost answers: its account's claims, the logbook zone kept
    for the account, and the account's other messages (other campaigns, test sends) as
    evidence."""

    claims = AccountClaims(found.account_folder, campaign_name, found.journal)
    return Settler(
        client,
        Rules.of(settings),
        claims=claims,
        zone=paths.read_logbook_zone(found),
        facts=facts,
        more_known=lambda: claims.recent_known(8, found.test_sends),
    )


async def check_not_sent_elsewhere(
    campaign: Campaign,
    client: GatewayClient,
    journal: Journal,
    on_status: Callable[[str], None] | None,
) -> None:
    """Look a sample of the campaign's recipients up in the gateway's logbook; raise
    AlreadySentError when an entry carries this campaign's derived foreign_id, or its exact
    text and label (see `settle.sent_elsewhere`)."""
    rows = journal.sample_rows(SAMPLE_LOOKUPS)
    if not rows:
        return
    if on_status is not None:
        on_status(
            f"first run of {campaign.name} under this account: looking {len(rows)} recipients "
            "up in the gateway's logbook, so a campaign sent from elsewhere is not sent twice"
        )
    try:
        found = await sent_elsewhere(client, campaign.name, rows)
    except AccountError:
        return  # the first request meets the same refusal, and the run reports it (exit 3)
    if found is not None:
        raise AlreadySentError(
            f"{campaign.name} has no journal under this account, yet the gateway's logbook "
            f"already holds its messages ({found}): it was sent from another machine, another "
            "state folder or by an older rcsbatch. Nothing is sent. Run it where it ran before "
            f"(or copy that journal to {journal.path}), or give the campaign a new name to "
            "message these people again."
        )


def _why_unsent(stats: SendStats, limit: int | None) -> str:
    """Why rows still to send at the end of a run were not sent: the reason their row shows."""
    if stats.stop_reason:
        return f"not sent: the gateway stopped the run ({stats.stop_reason})"
    if stats.over_budget:
        return "not sent: the campaign's [send] max_cost was reached"
    if stats.not_after_passed:
        return "not sent: the campaign's [send] not_after had passed"
    if stats.gave_up:
        return f"not sent: {stats.gave_up}"
    if stats.interrupted is not None:
        return "not sent: the run was stopped (Ctrl-C or SIGTERM) first"
    if limit is not None:
        return f"not sent: --limit {limit} was reached"
    return "not sent in this run"


async def balance_of(client: GatewayClient) -> Balance | None:
    """The account's balance (`GET /balance`), or None when the gateway does not tell (the run
    then finds out about the key or the credit from its first answer)."""
    try:
        return await client.balance()
    except GatewayError:
        return None


async def _send(
    sender: Sender, client: GatewayClient, found: paths.CampaignState, report: Report
) -> SendStats:
    """Run `sender` to its end, then ask the balance after it.

    The send goes on as a task of its own: cancelling the caller (Ctrl-C in a library call, a
    cancelled task) stops it as Ctrl-C stops the command line, and the caller still gets its
    stats, so that the run's end is written to the journal and its folder.
    """
    done = False

    async def go() -> SendStats:
        nonlocal done
        try:
            stats = await sender.run()
        finally:
            done = True
            if report.logbook.zone_source == "measured" and report.logbook.zone:
                paths.keep_logbook_zone(found, report.logbook.zone)
        report.balance_after = stats.balance
        try:
            balance = await client.balance()
            report.balance_after, report.currency = balance.amount, balance.currency
        except GatewayError:
            pass  # the answers' own balance (if any) stands
        return stats

    task = asyncio.ensure_future(go())
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            if not done:
                sender.stop(signal.SIGINT)


def _summarise(
    folder: Path,
    campaign: Campaign,
    run_id: str,
    report: Report,
    started: float,
    *,
    dry_run: bool = False,
    send_seconds: float | None = None,
    attempted: int | None = None,
    retries: int | None = None,
) -> dict[str, object]:
    finished = time.time()
    summary: dict[str, object] = {
        "campaign": campaign.name,
        "run_id": run_id,
        "dry_run": dry_run,
        **report.summary(),
        "started_at": iso_seconds(started),
        "finished_at": iso_seconds(finished),
        "duration_seconds": round(finished - started, 3),
    }
    if send_seconds is not None:
        summary["send_seconds"] = round(send_seconds, 3)
        summary["requests_accepted"] = attempted
        summary["retries"] = retries
        summary["messages_per_second"] = (
            round((attempted or 0) / send_seconds, 1) if send_seconds > 0 else None
        )
    write_summary(folder, summary)
    return summary
