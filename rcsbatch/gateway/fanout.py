"""The bounded fan-out of one-shot actions (lookups, events, test sends, revokes, logbook reads).

The send path has its own workers and queue (engine/sender.py); everything else that asks the
gateway many things at once goes through `bounded`, so the limit and the failure rules are the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded(items: Iterable[T], limit: int, fn: Callable[[T], Awaitable[R]]) -> list[R]:
    """Await `fn(item)` for every item, at most `limit` at a time; the results in the items'
    order.

    As `asyncio.gather`: the first exception raised is raised here (the other calls are left to
    finish), and cancelling the caller cancels every call not yet done.
    """
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await fn(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
