"""Revoking: ask the gateway to delete a campaign's messages that have not arrived yet.

seven's `DELETE /rcs/messages/{id}` answers `{"success": true}` at once whether or not anything
was deleted (a sent message is only revoked on a handset with the REVOCATION capability; a
scheduled one before its delay). So the journal records what was asked (`revoke_requested`, per
message id, with the time the request left), and a row counts as `revoked` only once a delivery
report (webhook or `rcsbatch sync`) gives each of its messages a final state other than DELIVERED
from no earlier than the request: see `Journal._update_row_revoke`.

Candidates are the sent rows' message ids without a final delivery state that were never asked
for, so running it twice sends nothing the second time. Requests go concurrently (bounded by the
campaign's `concurrency`) by the retry policy every gateway call shares (`retry.RetryPolicy`):
tenacity on RetriableError, backoff with jitter, Retry-After honoured, at most `max_attempts`
tries. A DELETE may be repeated without harm, so a 5xx or a lost answer is retried too (the client
raises RetriableError for them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rcsbatch.campaign.file import Campaign
from rcsbatch.errors import AccountError, ReportError, RetriableError
from rcsbatch.gateway.fanout import bounded
from rcsbatch.gateway.retry import Attempts, RetryPolicy
from rcsbatch.state.journal import Journal

if TYPE_CHECKING:
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.gateway.config import Gateway

BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class RevokePlan:
    """What a revoke would ask for, and what it leaves alone."""

    ids: tuple[tuple[str, int], ...]  # (message id, recipient) to ask the gateway to delete
    rows: int  # how many rows those ids belong to
    already: dict[str, int]  # revoke_requested / revoked / unknown / sendable row counts


@dataclass
class RevokeStats:
    """What one revoke asked and what the gateway answered."""

    requested: int = 0  # ids the gateway took (`true`)
    refused: int = 0  # ids the gateway answered `false`
    failed: list[str] = field(default_factory=list)  # ids whose request failed after retries
    stop_reason: str | None = None  # the gateway refused the account: nothing more was asked
    retries: int = 0


def plan(journal: Journal, *, run_id: str | None, only_scheduled: bool, now: float) -> RevokePlan:
    """The message ids a revoke would ask for; `only_scheduled`: only those whose delay is
    still ahead of `now`."""
    ids = journal.revocable(run_id=run_id, scheduled_after=now if only_scheduled else None)
    return RevokePlan(tuple(ids), len({r for _, r in ids}), journal.revoke_counts(run_id=run_id))


async def send_revokes(
    journal: Journal,
    client: GatewayClient,
    ids: tuple[tuple[str, int], ...],
    *,
    concurrency: int,
    max_attempts: int,
    clock: Callable[[], float] = time.time,
) -> RevokeStats:
    """DELETE each id, `concurrency` at a time, and journal each one the gateway took."""
    stats = RevokeStats()
    policy = RetryPolicy(max_attempts, BACKOFF_MAX)
    stop = asyncio.Event()

    async def one(msg_id: str) -> None:
        if stop.is_set():
            stats.failed.append(msg_id)
            return
        at = clock()

        async def ask() -> bool:
            nonlocal at
            at = clock()
            return await client.revoke(msg_id)

        attempts = Attempts()
        try:
            taken = await policy.call(ask, attempts=attempts)
        except RetriableError:
            stats.failed.append(msg_id)
            return
        except AccountError as exc:
            stats.stop_reason = stats.stop_reason or str(exc)
            stop.set()
            stats.failed.append(msg_id)
            return
        finally:
            stats.retries += max(attempts.count - 1, 0)
        if taken:
            stats.requested += 1
            # Journalled one by one: a killed revoke must not forget what it asked for.
            journal.record_revoke_requests([(msg_id, at)])
        else:
            stats.refused += 1

    await bounded([msg_id for msg_id, _ in ids], concurrency, one)
    return stats


async def revoke_campaign_async(
    campaign: Campaign,
    root: Path,
    gateway: Gateway,
    *,
    run_id: str | None = None,
    only_scheduled: bool = False,
    confirm: Callable[[RevokePlan], bool] = lambda _: True,
) -> tuple[RevokePlan, RevokeStats | None, Path | None]:
    """Plan, confirm (`confirm` sees the plan; False: nothing is asked) and send a campaign's
    revoke requests under its run lock, then rewrite the newest run's folder from the journal
    (results.rewrite_latest). Returns the plan, what was sent (None when nothing was) and the
    rewritten run folder."""
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.reports.results import rewrite_latest
    from rcsbatch.state.paths import campaign_lock, existing_state

    state = existing_state(campaign, gateway, root, "revoke")
    with campaign_lock(state.lock), Journal(state.journal) as journal:
        if run_id is not None and not journal.has_run(run_id):
            raise ReportError(f"{campaign.name} has no run {run_id!r} (a run folder's name)")
        found = plan(journal, run_id=run_id, only_scheduled=only_scheduled, now=time.time())
        if not found.ids or not confirm(found):
            return found, None, None

        async def go() -> RevokeStats:
            async with GatewayClient(
                gateway.base_url, gateway.api_key, max_connections=campaign.send.concurrency
            ) as client:
                return await send_revokes(
                    journal,
                    client,
                    found.ids,
                    concurrency=campaign.send.concurrency,
                    max_attempts=campaign.send.max_attempts,
                )

        stats = await go()
        return found, stats, rewrite_latest(journal, root / campaign.name, campaign.csv)
