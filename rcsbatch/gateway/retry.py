"""The retry policy: when a gateway call is tried again, and how long it waits first.

One `RetryPolicy` serves every call: the sender's messages (after a first attempt that goes without
tenacity), test sends, events, capability lookups and revoke requests.

Only what surely did not reach the gateway is tried again (`RetriableError`: unreachable, 429,
503 with Retry-After, 408; and, for a call that may be repeated without harm such as a DELETE,
the 5xx and lost answers the client raises as `RetriableError` for it). Anything else is raised
at once: a lost answer may have been carried out (and a lookup billed). Each retry waits for the
gateway's Retry-After (already clamped by `answers.retry_after`) or an exponential backoff with
full jitter, at most `max_attempts` requests in all, and (given a deadline) never so late that
the next request would leave with less than `MIN_VALIDITY` seconds of its message's validity.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from rcsbatch.errors import RetriableError
from rcsbatch.gateway.pace import sleep as default_sleep

if TYPE_CHECKING:
    from rcsbatch.gateway.request import SendSettings

log = logging.getLogger("rcsbatch.retry")

# A wait this long or longer says one line on stderr (the sender's too): a run without a terminal
# (cron) must not look hung in its log.
WAIT_NOTICE = 5.0
# A message is not tried again when it would leave with less validity than this: the gateway
# could hardly deliver it in time, and the row is `expired` instead.
MIN_VALIDITY = 60.0

T = TypeVar("T")


class Attempts:
    """Counts the requests a call made (retries included)."""

    def __init__(self) -> None:
        self.count = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a gateway call on RetriableError only, after Retry-After or backoff with jitter,
    at most `max_attempts` requests in all."""

    max_attempts: int = 5
    backoff_max: float = 30.0
    # Injectable, so tests of retries need not wait.
    sleep: Callable[[float], Awaitable[None]] = default_sleep

    @classmethod
    def of(cls, settings: SendSettings) -> RetryPolicy:
        """The policy a campaign's send settings ask for."""
        return cls(settings.max_attempts, settings.backoff_max, settings.sleep)

    def wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: the gateway's Retry-After when it gave one, else
        exponential backoff with full jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = wait_random_exponential(multiplier=0.5, max=self.backoff_max)
        return float(backoff(state))

    @staticmethod
    def too_late(at: float, deadline: float) -> bool:
        """Whether a request leaving at `at` would have too little validity left."""
        return at >= deadline - MIN_VALIDITY

    def retrying(
        self,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] = time.time,
        stopped: Callable[[], bool] | None = None,
        before_sleep: Callable[[RetryCallState], None] | None = None,
    ) -> AsyncRetrying:
        """Tenacity's loop for one call by these rules; it also gives up once `stopped()` (the
        run stops) or when the next attempt would leave too late for `deadline`.
        `before_sleep` replaces the policy's own log line (the sender says more)."""
        out_of_attempts = stop_after_attempt(self.max_attempts)

        def stop(state: RetryCallState) -> bool:
            # tenacity computes the wait before it asks whether to stop, so the moment the next
            # attempt would leave is known here.
            return (
                out_of_attempts(state)
                or (stopped is not None and stopped())
                or (
                    deadline is not None and self.too_late(clock() + state.upcoming_sleep, deadline)
                )
            )

        return AsyncRetrying(
            retry=retry_if_exception_type(RetriableError),
            stop=stop,
            wait=self.wait,
            sleep=self.sleep,
            before_sleep=before_sleep or _log_retry,
            reraise=True,
        )

    async def call(
        self, call: Callable[[], Awaitable[T]], *, attempts: Attempts | None = None
    ) -> T:
        """Await `call()`, again after a RetriableError, by these rules; `attempts` counts the
        requests made."""
        async for attempt in self.retrying():
            with attempt:
                if attempts is not None:
                    attempts.count += 1
                return await call()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _log_retry(state: RetryCallState) -> None:
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
