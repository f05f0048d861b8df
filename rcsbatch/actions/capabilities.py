"""RCS capability lookups (`GET /lookup/rcs?number=A,B,…`), billed per number, cached.

Each answer is cached with its time in a journal (the campaign's; for a plain file,
`<report dir>/lookups.sqlite`), and a number is looked up again only when its cached answer is
older than the chosen age. Numbers go in batches (comma-separated, as seven's lookup endpoints
take them), a few batches at a time, each retried by the send path's rules (`gateway/retry.py`); a
lost answer is not retried, since it may have been billed: the next call looks those numbers up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rcsbatch.errors import AccountError, GatewayError, InputError
from rcsbatch.gateway.answers import to_decimal
from rcsbatch.gateway.fanout import bounded
from rcsbatch.gateway.pace import sleep as default_sleep
from rcsbatch.gateway.retry import RetryPolicy
from rcsbatch.recipients import phones
from rcsbatch.recipients.read import open_recipients
from rcsbatch.state.journal import Journal

if TYPE_CHECKING:
    from rcsbatch.campaign.file import Campaign
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.gateway.config import Gateway
    from rcsbatch.recipients.prepare import Plan

#: Numbers per request. seven documents no maximum; 50 numbers keep the URL short (< 1 KB).
BATCH_SIZE = 50
CONCURRENCY = 4
DEFAULT_MAX_AGE = 30 * 86400.0
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """`30d`, `12h`, `90m`, `3600` (seconds), `2w` as seconds; InputError otherwise."""
    found = _AGE.fullmatch(text.strip().lower())
    if found is None:
        raise InputError(
            f"age {text!r}: write a number with s, m, h, d or w, e.g. 30d", option="max_age"
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


def campaign_numbers(plan: Plan) -> list[int]:
    """The distinct recipients a campaign would send to (its `ready` rows), in file order, then
    those refused only for their number type (a lookup that shows RCS lets them go)."""
    found: dict[int, None] = {}
    for chunk in plan.chunks():
        ready = chunk[chunk["status"] == "ready"]
        found.update(dict.fromkeys(int(r) for r in ready["recipient"].tolist()))
    found.update(dict.fromkeys(plan.refused_types()))
    return list(found)


def file_numbers(path: Path, column: str, region: str) -> tuple[list[int], int]:
    """The distinct valid numbers of `column` in a recipient file, and how many cells were not
    valid numbers (skipped)."""
    if not phones.is_known_region(region):
        raise InputError(
            f"region {region!r} is not a known region code (e.g. DE, AT, GB)", option="region"
        )
    file = open_recipients(path)
    file.require([column], "the lookups", option="phone_column")
    found: dict[int, None] = {}
    invalid = 0
    for chunk in file.chunks([column]):
        numbers, reasons = phones.normalise_many(chunk[column], region)
        valid = np.array([r is None for r in reasons], dtype=bool)
        invalid += int((~valid).sum())
        found.update(dict.fromkeys(numbers[valid].tolist()))
    return list(found), invalid


def file_cache(root: Path) -> Path:
    """The lookup cache for numbers from a plain file (no campaign): one per report folder."""
    return root / "lookups.sqlite"


@dataclass
class LookupStats:
    """What a round of lookups did."""

    requested: int = 0  # numbers asked for
    stored: int = 0  # answers cached
    not_looked_up: int = 0  # numbers whose request failed or whose answer was lost
    cost: Decimal = Decimal(0)  # prices the answers carried
    stop_reason: str | None = None  # the gateway refused the account (key, credit)
    errors: list[str] = field(default_factory=list)


def _batches(numbers: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(numbers), size):
        yield numbers[start : start + size]


async def look_up(
    client: GatewayClient,
    journal: Journal,
    numbers: list[int],
    *,
    batch_size: int = BATCH_SIZE,
    concurrency: int = CONCURRENCY,
    max_attempts: int = 5,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = default_sleep,
) -> LookupStats:
    """Look `numbers` up and cache every answer in `journal`; a refused account stops the rest."""
    stats = LookupStats(requested=len(numbers))
    policy = RetryPolicy(max_attempts, sleep=sleep)

    async def batch(part: list[int]) -> None:
        if stats.stop_reason:
            stats.not_looked_up += len(part)
            return
        try:
            rows = await policy.call(lambda: client.lookup([str(n) for n in part]))
        except AccountError as exc:
            stats.stop_reason = stats.stop_reason or str(exc)
            stats.not_looked_up += len(part)
            return
        except GatewayError as exc:
            stats.errors.append(str(exc))
            stats.not_looked_up += len(part)
            return
        cached = list(_answers(part, rows, clock()))
        journal.store_capabilities(cached)
        stats.stored += len(cached)
        stats.not_looked_up += len(part) - len(cached)
        stats.cost += sum((p for *_, p in cached if p is not None), Decimal(0))

    await bounded(_batches(numbers, batch_size), concurrency, batch)
    return stats


def _answers(
    asked: list[int], rows: list[dict[str, Any]], now: float
) -> Iterator[tuple[int, list[str], float, Decimal | None]]:
    """Match answer rows to the numbers asked (by their international form, else by order)."""
    wanted = set(asked)
    for i, row in enumerate(rows):
        if row.get("success") in (False, "false") or "rcs_capabilities" not in row:
            continue
        digits = re.sub(r"\D", "", str(row.get("international") or row.get("number") or ""))
        number = int(digits) if digits else None
        if number not in wanted:
            number = asked[i] if i < len(asked) and len(rows) == len(asked) else None
        if number is None:
            continue
        names = row.get("rcs_capabilities") or []
        yield number, [str(n) for n in names], now, to_decimal(row.get("price"))


@dataclass(frozen=True)
class Summary:
    """How many of the numbers can receive what, from the cache."""

    numbers: int
    known: int  # numbers with a cached lookup
    rcs: int  # any RCS capability
    richcard: int
    carousel: int
    meeting: int | None  # those with every capability `require` names (None: no require)

    def lines(self) -> list[str]:
        out = [
            f"{self.numbers} numbers, {self.known} looked up: {self.rcs} can receive RCS, "
            f"{self.richcard} rich cards, {self.carousel} carousels"
        ]
        if self.meeting is not None:
            out.append(f"{self.meeting} have every capability [send] require names")
        if self.known < self.numbers:
            out.append(f"{self.numbers - self.known} numbers have no lookup yet")
        return out

    def to_json(self) -> dict[str, int | None]:
        return {
            "numbers": self.numbers,
            "looked_up": self.known,
            "rcs": self.rcs,
            "richcard_standalone": self.richcard,
            "richcard_carousel": self.carousel,
            "meet_require": self.meeting,
        }


def summarise(journal: Journal, numbers: Iterable[int], require: tuple[str, ...]) -> Summary:
    """Count, from the cache, how many of `numbers` can receive RCS, rich cards, carousels."""
    wanted = list(numbers)
    cached = journal.cached_capabilities(wanted)
    have = [set(c) for c in cached.values()]
    return Summary(
        numbers=len(wanted),
        known=len(cached),
        rcs=sum(1 for c in have if c),
        richcard=sum(1 for c in have if "RICHCARD_STANDALONE" in c),
        carousel=sum(1 for c in have if "RICHCARD_CAROUSEL" in c),
        meeting=sum(1 for c in have if set(require) <= c) if require else None,
    )


# -- the capability steps of a run ---------------------------------------------------------


async def apply_requirements(
    campaign: Campaign,
    journal: Journal,
    gateway: Gateway,
    client: GatewayClient,
    lookup: bool,
    on_status: Callable[[str], None] | None,
) -> str | None:
    """Apply `[send] require` to the rows still to send (looking up first with `lookup`); a
    line saying what it decided, or None without `require`."""
    require = campaign.send.require
    if require and lookup:
        due = journal.capabilities_due(journal.recipients_to_check(), time.time() - DEFAULT_MAX_AGE)
        if due:
            price = gateway.lookup_price
            cost = f"{price * len(due)} at {price} each" if price is not None else "billed by seven"
            if on_status is not None:
                on_status(f"looking up the RCS capabilities of {len(due)} numbers ({cost})")
            stats = await look_up(client, journal, due)
            if stats.stop_reason:
                raise AccountError(f"the capability lookup was refused: {stats.stop_reason}")
    incapable, fallback, unknown = journal.apply_requirements(
        require, campaign.message.fallback is not None
    )
    if not require:
        return None
    note = (
        f"[send] require {', '.join(require)}: {incapable} rows incapable (not sent), "
        f"{fallback} sent with the fallback ({campaign.message.fallback})"
    )
    if unknown:
        note += (
            f"; {unknown} rows had no capability lookup and went as usual "
            "(run `rcsbatch capabilities` or `run --lookup` first)"
        )
    return note


async def look_up_refused_types(
    journal: Journal,
    plan: Plan,
    gateway: Gateway,
    client: GatewayClient,
    on_status: Callable[[str], None] | None,
) -> None:
    """`run --lookup`: look up (billed) the numbers refused for their type that have no recent
    lookup, so those the gateway shows able to receive RCS are sent (see
    `engine.runner.with_lookups`)."""
    numbers = plan.refused_types()
    due = journal.capabilities_due(numbers, time.time() - DEFAULT_MAX_AGE)
    if not due:
        return
    price = gateway.lookup_price
    cost = f"{price * len(due)} at {price} each" if price is not None else "billed by seven"
    if on_status is not None:
        on_status(
            f"looking up the RCS capabilities of {len(due)} numbers refused for their type "
            f"(landlines and the like; {cost})"
        )
    stats = await look_up(client, journal, due)
    if stats.stop_reason:
        raise AccountError(f"the capability lookup was refused: {stats.stop_reason}")
