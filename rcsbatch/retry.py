"""Retries for one gateway call outside the send path (events, lookups), by the sender's rules.

Only what surely did not reach the gateway is tried again (`RetriableError`: unreachable, 429,
503 with Retry-After, 408), with Retry-After honoured (already clamped by `answers.retry_after`)
or exponential backoff with full jitter, at most `max_attempts` times. Anything else is raised
at once: a lost answer may have been carried out (and a lookup billed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from rcsbatch.errors import RetriableError
from rcsbatch.request import sleep as default_sleep

log = logging.getLogger("rcsbatch.retry")

# A wait this long or longer says one line on stderr (the sender's too): a run without a terminal
# (cron) must not look hung in its log.
WAIT_NOTICE = 5.0

T = TypeVar("T")


class Attempts:
    """Counts the requests a call made (retries included)."""

    def __init__(self) -> None:
        self.count = 0


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    max_attempts: int = 5,
    backoff_max: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = default_sleep,
    attempts: Attempts | None = None,
) -> T:
    """Await `call()`, again after a RetriableError, up to `max_attempts` requests in all."""
    backoff = wait_random_exponential(multiplier=0.5, max=backoff_max)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        seconds = state.next_action.sleep if state.next_action else 0.0
        # A wait of WAIT_NOTICE s or more is a warning (shown without -v): a cron log of a sync,
        # revoke or lookup waiting on a Retry-After must not look hung.
        level = logging.WARNING if seconds >= WAIT_NOTICE else logging.INFO
        log.log(
            level,
            "retrying after %s (attempt %d, waiting %.0fs)",
            exc,
            state.attempt_number,
            seconds,
        )

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(RetriableError),
        stop=stop_after_attempt(max_attempts),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            if attempts is not None:
                attempts.count += 1
            return await call()
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover
