"""Sync: fill in delivery states and final prices from the gateway's logbook, for users without a
public address for webhooks.

The logbook (`GET /journal/outbound`) lists the account's messages, newest first, 100 a page, with
each one's `dlr` state, `dlr_timestamp` and `price`. It is read from the day of the campaign's
earliest message still lacking a final state or a price, page after page until a short page, a
few pages at a time. Entries whose id the campaign knows update its journal (states by the rules of
`delivery/states.py`, prices only where the answer gave none); the rest belong to other campaigns
and are passed over. Running it twice changes nothing the second time: it is idempotent.

New messages arriving while it reads shift older ones to later pages: one may be read twice
(harmless), none is skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rcsbatch.delivery.states import normalise
from rcsbatch.engine.runner import gateway_client, settle_now_async
from rcsbatch.gateway.answers import to_decimal
from rcsbatch.gateway.logbook import BERLIN, PAGE, digits, entry_time, same_content
from rcsbatch.gateway.request import SendSettings
from rcsbatch.reports.results import rewrite_latest
from rcsbatch.state import paths
from rcsbatch.state.claims import AccountClaims
from rcsbatch.state.journal import Journal

if TYPE_CHECKING:
    from pathlib import Path

    from rcsbatch.campaign.file import Campaign
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.gateway.config import Gateway

PAGES_AT_ONCE = 4


@dataclass
class SyncStats:
    """What one sync read and changed."""

    needed: int = 0  # sent rows without a final state or a price, before
    entries: int = 0  # logbook entries read
    states: int = 0  # delivery states stored (new or better)
    prices: int = 0  # rows whose price became known
    pages: int = 0
    settled_found: int = 0  # lost answers the logbook proved sent
    settled_absent: int = 0  # lost answers shown absent: the next run sends them
    sent_twice: int = 0  # rows resent after an absence whose first message turned up after all


async def sync(
    journal: Journal, client: GatewayClient, claims: AccountClaims | None = None
) -> SyncStats:
    """Read the logbook into the journal; see the module docstring."""
    stats = SyncStats()
    stats.needed, since = journal.needs_sync()
    resent = journal.resent_rows()
    if resent:
        first = min(first for *_, first, _, _ in resent.values())
        since = first if since is None else min(since, first)
    if (not stats.needed and not resent) or since is None:
        return stats
    day = min(dt.datetime.fromtimestamp(since, z).date() for z in (BERLIN, dt.UTC)) - dt.timedelta(
        days=1
    )
    offset = 0
    while True:
        pages = await asyncio.gather(
            *(
                client.logbook(
                    {"date_from": day.isoformat(), "limit": PAGE, "offset": offset + i * PAGE}
                )
                for i in range(PAGES_AT_ONCE)
            )
        )
        offset += PAGES_AT_ONCE * PAGE
        for entries in pages:
            stats.pages += 1
            stats.entries += len(entries)
            _store(journal, entries, stats)
            if resent:
                _second_messages(journal, entries, resent, stats, claims)
        if any(len(entries) < PAGE for entries in pages):
            return stats


def _second_messages(
    journal: Journal,
    entries: list[dict[str, Any]],
    resent: dict[int, tuple[str, str | None, str | None, float, float, set[str]]],
    stats: SyncStats,
    claims: AccountClaims | None,
) -> None:
    """A row sent again after its lost answer was judged absent, yet the logbook now shows a
    second message that is its (same recipient, text, label, foreign_id, stamped no earlier than
    its first attempt less a day: zones and clocks): it was sent twice. Both are kept, and
    counted, so the cost is the gateway's charge and the error shows."""
    for entry in entries:
        to = digits(entry.get("to"))
        if not to.isdigit() or int(to) not in resent:
            continue
        text, label, fid, first, resent_at, ids = resent[int(to)]
        msg_id = str(entry.get("id"))
        if msg_id in ids or str(entry.get("channel") or "RCS").upper() != "RCS":
            continue
        if not (
            same_content(entry.get("text"), text)
            and (entry.get("label") or None) == (label or None)
            and (entry.get("foreign_id") or None) == (fid or None)
        ):
            continue
        at = entry_time(entry.get("timestamp"))
        # Its first message was accepted before it was sent again, so (read in either zone, a
        # day's slack) stamped before the resend plus a day: a later campaign's identical
        # message to the person is not taken for it.
        if at is None or not first - 86_400 <= at <= resent_at + 86_400:
            continue
        if claims is not None and claims.held_elsewhere([msg_id]):
            continue
        price = to_decimal(entry.get("price"))
        if journal.add_second_message(int(to), msg_id, price if price else None):
            ids.add(msg_id)
            stats.sent_twice += 1


def _store(journal: Journal, entries: list[dict[str, Any]], stats: SyncStats) -> None:
    reports: list[tuple[str, str, float | None]] = []
    prices: list[tuple[str, Decimal]] = []
    for entry in entries:
        msg_id = entry.get("id")
        if msg_id is None:
            continue
        state = normalise(entry.get("dlr"))
        if state is not None:
            reports.append((str(msg_id), state, entry_time(entry.get("dlr_timestamp"))))
        price = to_decimal(entry.get("price"))
        if price is not None and price > 0:
            prices.append((str(msg_id), price))
    stats.states += journal.record_deliveries(reports)["stored"]
    stats.prices += journal.set_final_prices(prices)


async def sync_and_settle(
    campaign: Campaign, root: Path, gateway: Gateway
) -> tuple[SyncStats, Path | None]:
    """Fill the journal's delivery states and final prices from the gateway's logbook, settle
    its lost answers, then rewrite the newest run's folder in the report folder `root` from the
    journal (reports.results.rewrite_latest); returns what changed and that run's folder (None
    when the campaign has no finished run). Holds the campaign's run lock; one client reads the
    logbook and settles."""
    found = paths.existing_state(campaign, gateway, root, "sync")
    settings = SendSettings.of(campaign)
    with paths.campaign_lock(found.lock), Journal(found.journal) as journal:
        async with gateway_client(gateway, settings) as client:
            claims = AccountClaims(found.account_folder, campaign.name, found.journal)
            stats = await sync(journal, client, claims)
            # Lost answers the logbook now proves sent (or shows absent, for the next run).
            stats.settled_found, stats.settled_absent = await settle_now_async(
                campaign, client, journal, found, settings=settings
            )
        return stats, rewrite_latest(journal, root / campaign.name, campaign.csv)
