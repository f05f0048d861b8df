"""Sync: fill in delivery states and final prices from the gateway's logbook, for users without a
public address for webhooks.

The logbook (`GET /journal/outbound`) lists the account's messages, newest first, 100 a page, with
each one's `dlr` state, `dlr_timestamp` and `price`. It is read from the day of the campaign's
earliest message still lacking a final state or a price, page after page until a short page, a
few pages at a time. Entries whose id the campaign knows update its journal (states by the rules of
`delivery.py`, prices only where the answer gave none); the rest belong to other campaigns and are
passed over. Running it twice changes nothing the second time: it is idempotent.

New messages arriving while it reads shift older ones to later pages: one may be read twice
(harmless), none is skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rcsbatch.answers import to_decimal
from rcsbatch.delivery import normalise
from rcsbatch.journal import Journal
from rcsbatch.settle import BERLIN, PAGE, entry_time

if TYPE_CHECKING:
    from rcsbatch.client import GatewayClient

PAGES_AT_ONCE = 4


@dataclass
class SyncStats:
    """What one sync read and changed."""

    needed: int = 0  # sent rows without a final state or a price, before
    entries: int = 0  # logbook entries read
    states: int = 0  # delivery states stored (new or better)
    prices: int = 0  # rows whose price became known
    pages: int = 0


async def sync(journal: Journal, client: GatewayClient) -> SyncStats:
    """Read the logbook into the journal; see the module docstring."""
    stats = SyncStats()
    stats.needed, since = journal.needs_sync()
    if not stats.needed or since is None:
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
        if any(len(entries) < PAGE for entries in pages):
            return stats


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
