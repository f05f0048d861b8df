"""The bounded fan-out: results in order, never more than the limit at once, and errors and
cancellation reach the caller as with asyncio.gather."""

from __future__ import annotations

import asyncio

import pytest

from rcsbatch.gateway.fanout import bounded


def test_results_keep_the_items_order_and_the_limit_holds() -> None:
    """Calls finishing out of order still give their results in the items' order, and no more
    than `limit` run at once."""
    running = 0
    most = 0

    async def square(n: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        # Later items finish first: the order of results must not follow the finishing order.
        for _ in range(10 - n):
            await asyncio.sleep(0)
        running -= 1
        return n * n

    assert asyncio.run(bounded(range(10), 3, square)) == [n * n for n in range(10)]
    assert most == 3


def test_an_error_reaches_the_caller() -> None:
    """The first exception a call raises is raised by `bounded` (an AccountError stops a batch)."""

    async def fail(n: int) -> int:
        if n == 2:
            raise ValueError("refused")
        return n

    with pytest.raises(ValueError, match="refused"):
        asyncio.run(bounded(range(5), 2, fail))


def test_cancelling_the_caller_cancels_every_call() -> None:
    """Cancelled (Ctrl-C in the caller), the running calls are cancelled and the waiting ones
    never start: nothing goes on asking the gateway."""
    started: list[int] = []
    cancelled: list[int] = []
    both = asyncio.Event()

    async def hang(n: int) -> None:
        started.append(n)
        if len(started) == 2:
            both.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    async def go() -> None:
        task = asyncio.ensure_future(bounded(range(6), 2, hang))
        await both.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert sorted(started) == [0, 1]
    assert sorted(cancelled) == [0, 1]
