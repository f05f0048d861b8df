"""The pace of a run: one rate limit for every worker, slowed by the gateway's 429s, and the
gateway's health, which pauses every worker when most recent requests fail.

A 429 halves the pace of the whole run (not one worker's) and pauses it for Retry-After; the pace
climbs back by a quarter each second without a 429. When at least HEALTH_THRESHOLD of the last
HEALTH_WINDOW requests failed (5xx, unreachable), every worker pauses, PAUSE_FIRST seconds,
doubling up to PAUSE_MAX; the sender stops the run once the gateway has failed for its
`give_up_after`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

MIN_RATE = 0.5  # a 429 never slows the run below this many messages a second
# The gateway is failing when at least HEALTH_THRESHOLD of the last HEALTH_WINDOW requests (and at
# least HEALTH_MIN) failed: every worker pauses, PAUSE_FIRST seconds, doubling up to PAUSE_MAX.
HEALTH_WINDOW = 20
HEALTH_MIN = 10
HEALTH_THRESHOLD = 0.5
PAUSE_FIRST = 1.0
PAUSE_MAX = 30.0


async def sleep(seconds: float) -> None:
    """asyncio.sleep, looked up when called (so a test may patch it): the default wait of the
    pace, the retries (retry.RetryPolicy), events, lookups and a run's clock (SendSettings)."""
    await asyncio.sleep(seconds)


class RateLimiter:
    """At most `rate` acquisitions per second across every worker (0: no limit).

    The cap drops when the gateway says to slow down (`slow_down`: a 429) and climbs back by a
    quarter a second while it does not; `pause` holds every worker for a while.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = sleep,
    ) -> None:
        self.rate = rate
        self.cap = rate  # the rate in force: 0 means none
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self.next_slot = 0.0
        self.paused_until = 0.0
        self._recovering_since = 0.0
        self._before_slowdown = 0.0  # the pace that met the 429, when no rate was set
        self._window_start = clock()
        self._window_count = 0
        self.observed = 0.0  # acquisitions a second over the last whole second

    def take_now(self, now: float) -> bool:
        """Take a slot without waiting when nothing can make the caller wait (no cap, no
        pause): True when taken, else the caller awaits `acquire`. Saves the send path a
        coroutine a message."""
        if self.interval or self.paused_until > now:
            return False
        self._count(now)
        return True

    async def acquire(self) -> bool:
        """Wait for this caller's slot; True when it had to wait."""
        waited = False
        now = self.clock()
        while self.paused_until > now:
            await self.sleep(self.paused_until - now)
            waited = True
            now = self.clock()
        self._count(now)
        if not self.interval:
            return waited
        if self.cap != self.rate:
            self._recover(now)
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await self.sleep(slot - now)
            return True
        return waited

    def _count(self, now: float) -> None:
        self._window_count += 1
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            self.observed = self._window_count / elapsed
            self._window_start, self._window_count = now, 0

    def slow_down(self, retry_after: float | None) -> None:
        """The gateway said 429: halve the pace of the whole run, and pause it for Retry-After."""
        now = self.clock()
        if retry_after:
            self.paused_until = max(self.paused_until, now + retry_after)
        if now < self._recovering_since:
            return  # the same burst of 429s: halve once per second, not once per answer
        current = self.cap or max(self._pace(now), 2.0)
        if not self.rate:
            self._before_slowdown = max(self._before_slowdown, current)
        self._set_cap(max(current / 2, MIN_RATE))
        self._recovering_since = now + 1.0

    def _pace(self, now: float) -> float:
        """Acquisitions a second: the last whole second's, or the current second's if faster.

        A 429 in a run's first second (no whole second yet), or just after the cap was lifted
        (the last second was the slow one), must halve the pace the run has now: judged by the
        last whole second alone, it capped the run at 1 message a second, for good.
        """
        elapsed = max(now - self._window_start, 0.25)
        return max(self.observed, self._window_count / elapsed)

    def _recover(self, now: float) -> None:
        if now < self._recovering_since:
            return
        target = self.rate or self._before_slowdown
        raised = self.cap * 1.25
        if raised >= target:
            self._set_cap(self.rate)  # back to the campaign's own pace (or none)
            self._before_slowdown = 0.0
        else:
            self._set_cap(raised)
        self._recovering_since = now + 1.0

    def _set_cap(self, cap: float) -> None:
        self.cap = cap
        self.interval = 1.0 / cap if cap > 0 else 0.0

    def pause(self, seconds: float) -> None:
        """Hold every worker for `seconds` from now."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)


class Health:
    """Whether the gateway is failing: the share of failed requests among the most recent ones,
    and since when it has been failing."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.recent: deque[bool] = deque(maxlen=HEALTH_WINDOW)
        self.failing_since: float | None = None
        self.pauses = 0

    def ok(self) -> None:
        self.recent.append(True)
        self.failing_since = None
        self.pauses = 0

    def failed(self) -> float | None:
        """Count a failed request; the pause every worker should take now, if any."""
        self.recent.append(False)
        if self.failing_since is None:
            self.failing_since = self.clock()
        failures = self.recent.count(False)
        if len(self.recent) < HEALTH_MIN or failures / len(self.recent) < HEALTH_THRESHOLD:
            return None
        self.pauses += 1
        self.recent.clear()  # judge the requests after the pause afresh
        return min(PAUSE_FIRST * 2.0 ** (self.pauses - 1), PAUSE_MAX)

    def failing_for(self) -> float:
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since
