"""Retries outside a run (test sends, sync, revoke, lookups): a long wait is said on stderr."""

from __future__ import annotations

import asyncio
import logging

import pytest

from rcsbatch.errors import RetriableError
from rcsbatch.gateway.retry import RetryPolicy


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.mark.parametrize(("retry_after", "level"), [(7.0, logging.WARNING), (2.0, logging.INFO)])
def test_a_retry_wait_of_five_seconds_or_more_is_a_warning(
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    retry_after: float,
    level: int,
) -> None:
    """A Retry-After of 7 s logs a WARNING (shown without -v, so a cron log says why it waits);
    one of 2 s stays INFO."""
    # A CLI test earlier in the session may have stopped rcsbatch's logs at its own handler.
    monkeypatch.setattr(logging.getLogger("rcsbatch"), "propagate", True)
    answers = [RetriableError("HTTP 429", code="429", retry_after=retry_after)]

    async def call() -> str:
        if answers:
            raise answers.pop()
        return "ok"

    with caplog.at_level(logging.INFO, logger="rcsbatch.retry"):
        assert asyncio.run(RetryPolicy(sleep=_no_sleep).call(call)) == "ok"
    # A set: with the CLI's handler left in place by an earlier test, pytest may see it twice.
    said = {(r.levelno, r.getMessage()) for r in caplog.records if r.name == "rcsbatch.retry"}
    assert said == {(level, f"retrying after HTTP 429 (attempt 1, waiting {retry_after:.0f}s)")}


@pytest.mark.parametrize(("deadline", "requests"), [(None, 5), (1000.0, 5), (80.0, 1)])
def test_no_retry_leaves_with_too_little_validity(deadline: float | None, requests: int) -> None:
    """Given a deadline, a retry whose wait would leave it under a minute before it is not made
    (the last error is raised); otherwise the policy goes on to max_attempts."""
    made: list[int] = []

    async def call() -> None:
        made.append(1)
        raise RetriableError("HTTP 503", code="503", retry_after=30.0)

    async def go() -> None:
        policy = RetryPolicy(sleep=_no_sleep)
        async for attempt in policy.retrying(deadline=deadline, clock=lambda: 0.0):
            with attempt:
                await call()

    with pytest.raises(RetriableError):
        asyncio.run(go())
    assert len(made) == requests
