"""The sender: the one place with an event loop, the HTTP client and the workers.

A producer takes rows from the journal in batches (each batch marked in flight, durably, before any
of its requests leave) and feeds a fixed set of `concurrency` workers through a bounded queue, so
memory does not grow with the campaign. One rate limiter paces the whole run. Outcomes are written
back to the journal in groups.

Retries (tenacity, in `_send_one` only) cover what surely did not reach the gateway: connect errors,
pool time-outs, 429 and 503 with Retry-After. Backoff is exponential with jitter, Retry-After is
honoured and clamped, and both are bounded by `max_attempts` and by the message's validity. A lost
answer is never retried here: the row is `unknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from rcsbatch.answers import Accepted
from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RecipientError,
    RetriableError,
)
from rcsbatch.journal import Journal, Outcome, Pending
from rcsbatch.request import Expired, SendSettings, message_params

if TYPE_CHECKING:  # the client (aiohttp, httpx) is imported by whoever builds one
    from rcsbatch.client import GatewayClient

log = logging.getLogger("rcsbatch.sender")

BATCH_SIZE = 256
FLUSH_EVERY = 256
FLUSH_SECONDS = 0.25


@dataclass
class SendStats:
    """What the send phase saw; the report reads the rows themselves from the journal."""

    attempted: int = 0
    stop_reason: str | None = None  # set when the gateway stopped the run
    stop_code: str | None = None
    interrupted: int | None = None  # the signal number that stopped the run
    balance: Decimal | None = None
    started: float = 0.0
    finished: float = 0.0
    retries: int = 0


class RateLimiter:
    """At most `rate` acquisitions per second across every worker (0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.next_slot = 0.0

    async def acquire(self) -> bool:
        """Wait for this caller's slot; True when it had to wait."""
        if not self.interval:
            return False
        now = self.clock()
        slot = max(now, self.next_slot)
        self.next_slot = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)
            return True
        return False


class _Stopped(Exception):
    """The run stopped while this row waited (for a retry or for its rate slot)."""


class Sender:
    """Sends every sendable row of a journal through one client; call `run` once."""

    def __init__(
        self,
        journal: Journal,
        client: GatewayClient,
        settings: SendSettings,
        run_id: str,
        *,
        limit: int | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.settings = settings
        self.run_id = run_id
        self.limit = limit
        self.on_outcome = on_outcome
        self.limiter = RateLimiter(settings.rate)
        self.stats = SendStats()
        self._stop = asyncio.Event()
        self._pending_outcomes: list[Outcome] = []
        self._unsent: list[int] = []
        self._last_flush = 0.0
        # Journal writes (each commit an fsync) run on one thread of their own, in order, so the
        # event loop keeps sending while the disk catches up. Only that thread touches the
        # journal while `run` is sending.
        self._journal_thread = ThreadPoolExecutor(1, thread_name_prefix="rcsbatch-journal")
        self._writes: list[asyncio.Future[None]] = []

    def stop(self, signum: int | None = None) -> None:
        """Send no new request; those in flight finish."""
        if signum is not None and self.stats.interrupted is None:
            self.stats.interrupted = signum
        self._stop.set()

    async def run(self) -> SendStats:
        """Send until every row is done, the limit is reached, or the run is stopped."""
        self.stats.started = time.time()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Not the main thread, or no signals here: Ctrl-C then stops the process.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop, signum)
        queue: asyncio.Queue[Pending | None] = asyncio.Queue(maxsize=BATCH_SIZE * 2)
        workers = [
            asyncio.create_task(self._worker(queue)) for _ in range(self.settings.concurrency)
        ]
        try:
            await self._produce(queue)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signum)
            self._flush()
            try:
                await asyncio.gather(*self._writes)
            finally:
                self._journal_thread.shutdown(wait=True)
            # Rows taken in flight but never attempted go back to `not_sent`.
            while not queue.empty():
                item = queue.get_nowait()
                if item is not None:
                    self._unsent.append(item.recipient)
            if self._unsent:
                self.journal.release(self._unsent)
            self.stats.finished = time.time()
        return self.stats

    def _in_journal_thread(self, call: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._journal_thread, call, *args)

    async def _produce(self, queue: asyncio.Queue[Pending | None]) -> None:
        remaining = self.limit
        while not self._stop.is_set():
            size = BATCH_SIZE if remaining is None else min(BATCH_SIZE, remaining)
            if size <= 0:
                return
            batch: list[Pending] = await self._in_journal_thread(
                self.journal.take_batch, self.run_id, size
            )
            if not batch:
                return
            if remaining is not None:
                remaining -= len(batch)
            for item in batch:
                await queue.put(item)

    async def _worker(self, queue: asyncio.Queue[Pending | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self._stop.is_set():
                self._unsent.append(item.recipient)
                continue
            outcome = await self._send_one(item)
            self._pending_outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
            now = time.monotonic()
            if (
                len(self._pending_outcomes) >= FLUSH_EVERY
                or now - self._last_flush >= FLUSH_SECONDS
            ):
                self._flush()
                self._last_flush = now

    def _flush(self) -> None:
        """Queue the outcomes gathered so far for the journal; raise if an earlier write failed."""
        for done in [w for w in self._writes if w.done()]:
            self._writes.remove(done)
            done.result()  # a failed write (disk full, …) must stop the run, not pass silently
        if self._pending_outcomes:
            outcomes, self._pending_outcomes = self._pending_outcomes, []
            self._writes.append(self._in_journal_thread(self.journal.record, self.run_id, outcomes))

    async def _send_one(self, item: Pending) -> Outcome:
        s = self.settings
        clock = s.clock
        first = item.first_attempt_at
        attempts = item.attempts
        last: float | None = None
        deadline = s.deadline(first or clock())

        def params_at(now: float) -> dict[str, Any]:
            nonlocal deadline
            if first is None:
                # Validity starts at the first attempt (unless a delay is set): a row that has
                # not gone yet leaves with the whole ttl, not a minute less.
                deadline = s.deadline(now)
            return message_params(
                s,
                recipient=item.recipient,
                text=item.text,
                label=item.label,
                foreign_id=item.foreign_id,
                now=now,
                deadline=deadline,
            )

        def outcome(status: str, **kw: Any) -> Outcome:
            return Outcome(item.recipient, status, attempts, first, last, **kw)

        out_of_attempts = stop_after_attempt(s.max_attempts)

        def stop(state: RetryCallState) -> bool:
            # tenacity computes the wait before it asks whether to stop: give up when the next
            # attempt would leave with less than a minute of validity.
            return (
                out_of_attempts(state)
                or self._stop.is_set()
                or clock() + state.upcoming_sleep >= deadline - 60
            )

        async def attempt_once() -> Accepted:
            nonlocal first, last, attempts
            # A retry waits first; the run may have been stopped meanwhile.
            if self._stop.is_set():
                raise _Stopped
            now = clock()
            params = params_at(now)
            if await self.limiter.acquire():
                # It waited for its slot: the run may have stopped, and less validity may be
                # left than the params say.
                if self._stop.is_set():
                    raise _Stopped
                now = clock()
                params = params_at(now)
            first = first or now
            last = now
            attempts += 1
            return await self.client.send(params, params["to"])

        try:
            try:
                # The first attempt goes without tenacity: most messages need no retry, and
                # tenacity's bookkeeping would cost more than the rest of the send path.
                accepted = await attempt_once()
            except RetriableError as first_error:
                retrying = AsyncRetrying(
                    retry=retry_if_exception_type(RetriableError),
                    stop=stop,
                    wait=_Wait(s.backoff_max),
                    before_sleep=self._log_retry,
                    reraise=True,
                )
                made: RetriableError | None = first_error
                async for attempt in retrying:
                    with attempt:
                        if made is not None:
                            # Tenacity's attempt 1 is the one already made: it counts it, waits
                            # (Retry-After or backoff) and logs as for any other.
                            error, made = made, None
                            raise error from None
                        accepted = await attempt_once()
        except Expired:
            return outcome("expired", error_text="its validity passed before it could be sent")
        except _Stopped:
            return outcome("not_sent", error_text="the run stopped before it could be sent")
        except RetriableError as exc:
            if self._stop.is_set():
                # The run stopped while this row waited to retry: nothing went through.
                return outcome(
                    "not_sent", error_code=exc.code, error_text=str(exc), trace_id=exc.trace_id
                )
            # Retries end at max_attempts or when the next one would leave too late; the
            # latter means its validity passed before it could go.
            by_validity = attempts - item.attempts < s.max_attempts or clock() >= deadline - 60
            status = "expired" if by_validity else "failed"
            text = f"gave up after {attempts} attempts: {exc}"
            return outcome(status, error_code=exc.code, error_text=text, trace_id=exc.trace_id)
        except RecipientError as exc:
            return outcome(
                "failed", error_code=exc.code, error_text=str(exc), trace_id=exc.trace_id
            )
        except AnswerLostError as exc:
            return outcome(
                "unknown", error_code=exc.code, error_text=str(exc), trace_id=exc.trace_id
            )
        except AccountError as exc:
            if self.stats.stop_reason is None:
                self.stats.stop_reason = str(exc)
                self.stats.stop_code = exc.code
            self._stop.set()
            return outcome(
                "not_sent", error_code=exc.code, error_text=str(exc), trace_id=exc.trace_id
            )
        except GatewayError as exc:  # pragma: no cover - every kind is handled above
            return outcome("unknown", error_code=exc.code, error_text=str(exc))
        self.stats.attempted += 1
        if accepted.balance is not None:
            self.stats.balance = accepted.balance
        return outcome("sent", message_ids=accepted.message_ids, price=accepted.price)

    def _log_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("retrying after %s (attempt %d, waiting %.2fs)", exc, state.attempt_number, wait)


class _Wait:
    """Retry-After when the gateway gave one, else exponential backoff with full jitter."""

    def __init__(self, maximum: float) -> None:
        self.backoff = wait_random_exponential(multiplier=0.5, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self.backoff(state))
