"""The sender: the workers that send a campaign's rows through one gateway client.

A producer takes rows from the journal in batches (each batch marked in flight, durably, before any
of its requests leave) and feeds a fixed set of `concurrency` workers through a bounded queue, so
memory does not grow with the campaign. One rate limiter paces the whole run. Outcomes are written
back to the journal in groups.

Retries (tenacity, in `_send_one` only) cover what surely did not reach the gateway: connect errors,
pool time-outs, 429 and 503 with Retry-After. Backoff is exponential with jitter, Retry-After is
honoured and clamped, and both are bounded by `max_attempts` and by the message's validity. A lost
answer is never retried blindly: the row is `unknown`, and `engine/settle.py` looks it up in the
gateway's logbook before anything is sent again, at the start of the run and after each round.

Back-pressure: a 429 slows the whole run (one `Pace` for every worker), which speeds up again while
the gateway accepts; when most recent requests fail (5xx, unreachable) every worker pauses, with
growing pauses, and after `give_up_after` seconds of failure the run stops, resumable.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tenacity import RetryCallState

from rcsbatch.campaign.window import WindowNeverOpens
from rcsbatch.engine.budget import Budget
from rcsbatch.engine.settle import Known, Rules, Settlement, Settler, journal_known
from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RetriableError,
)
from rcsbatch.gateway.answers import RELOAD_LOCK, Accepted
from rcsbatch.gateway.pace import Health, RateLimiter
from rcsbatch.gateway.request import Expired, SendSettings, message_params
from rcsbatch.gateway.retry import WAIT_NOTICE, RetryPolicy
from rcsbatch.state.journal import Journal, Outcome, Pending
from rcsbatch.state.status import RowStatus, failure

if TYPE_CHECKING:  # the client (aiohttp, httpx) is imported by whoever builds one
    from rcsbatch.gateway.client import GatewayClient

log = logging.getLogger("rcsbatch.sender")

# Rows are marked in flight BATCH_SIZE at a time, and at most one more batch waits in the queue
# for the workers: after a crash, those rows (in flight, but most never sent) must each be settled
# through the logbook, so fewer is better, while each batch costs one fsync. A run with few
# workers takes smaller batches (4 rows a worker, at least 8): sending is slow then anyway, and a
# small campaign killed mid-run leaves rows to send, whose messages show the logbook current
# past the dead run's (engine/settle.py), instead of every row in flight.
BATCH_SIZE = 128
ROWS_PER_WORKER = 4
FLUSH_EVERY = 256
FLUSH_SECONDS = 0.25
# After Ctrl-C or SIGTERM, requests in flight get this long to finish; then their rows are left
# `unknown` (settled by the next run).
STOP_GRACE = 10.0
# While lost answers wait for evidence that the logbook is current past them, this many rows
# are kept back and sent once their requests can serve as that evidence (engine/settle.py).
EVIDENCE_RESERVE = 4
# The newest accepted messages kept in memory: known ids the settle measures the logbook with.
KNOWN_KEPT = 64


@dataclass
class SendStats:
    """What the send phase saw; the report reads the rows themselves from the journal."""

    attempted: int = 0
    stop_reason: str | None = None  # set when the gateway stopped the run
    stop_code: str | None = None
    interrupted: int | None = None  # the signal number that stopped the run
    gave_up: str | None = None  # set when the gateway kept failing for too long
    over_budget: bool = False  # max_cost reached: nothing more was sent
    not_after_passed: bool = False
    balance: Decimal | None = None
    started: float = 0.0
    finished: float = 0.0
    retries: int = 0
    settled_found: int = 0  # lost answers the logbook showed as accepted
    settled_resent: int = 0  # lost answers the logbook showed as not accepted: sent again
    still_unknown: int = 0  # left unknown at the end (the logbook could not tell yet)
    resent_blindly: int = 0  # on_unknown = "resend": sent again without evidence


class _Stopped(Exception):
    """The run stopped while this row waited (for a retry or for its rate slot)."""


class Sender:
    """Settles and sends every sendable row of a journal through one client; call `run` once."""

    def __init__(
        self,
        journal: Journal,
        client: GatewayClient,
        settings: SendSettings,
        run_id: str,
        *,
        limit: int | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        budget: Budget | None = None,
        settler: Settler | None = None,
        stop_on_signals: bool = False,
    ) -> None:
        self.journal = journal
        # Only the console script asks: a library call leaves the process's handlers alone.
        self.stop_on_signals = stop_on_signals
        self.budget = budget
        self.client = client
        self.settings = settings
        self.run_id = run_id
        self.limit = limit
        self.on_outcome = on_outcome
        self.on_status = on_status or (lambda line: log.info("%s", line))
        self.limiter = RateLimiter(settings.rate, clock=settings.clock, sleep=settings.sleep)
        self._said_until = 0.0  # the end of the last wait a line announced
        self.health = Health(settings.clock)
        self.stats = SendStats()
        self._stop = asyncio.Event()
        self._pending_outcomes: list[Outcome] = []
        self._attempting: set[int] = set()  # rows whose request may be on its way right now
        # Rows this round marked in flight whose fate is not written yet: if the round is cut
        # short, those not attempting a request go back to not_sent.
        self._owned: set[int] = set()
        self._taking: asyncio.Future[list[Pending]] | None = None
        self._last_flush = 0.0
        self._remaining = limit
        self._run_started = 0.0
        self.settler = settler or Settler(client, Rules.of(settings))
        # (ids, row, request left, answer came, delay) of the newest accepted messages.
        self._recent: collections.deque[tuple[tuple[str, ...], Pending, float, float, float | None]]
        self._recent = collections.deque(maxlen=KNOWN_KEPT)
        self._batch = min(BATCH_SIZE, max(8, ROWS_PER_WORKER * settings.concurrency))
        self._waiting: dict[int, float] = {}  # lost answers waiting: recipient → next look
        self._zone_pending: set[int] = set()  # of those, the ones waiting for the zone
        self._evidence_after: float | None = None
        # Journal writes (each commit an fsync) run on one thread of their own, in order, so the
        # event loop keeps sending while the disk catches up. Only that thread touches the
        # journal while `run` is sending.
        self._journal_thread = ThreadPoolExecutor(1, thread_name_prefix="rcsbatch-journal")
        self._writes: list[asyncio.Future[None]] = []

    def stop(self, signum: int | None = None) -> None:
        """Send no new request; those in flight get STOP_GRACE seconds to finish."""
        if signum is not None and self.stats.interrupted is None:
            self.stats.interrupted = signum
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> SendStats:
        """Settle what earlier runs left unknown, send until every row is done (settling this
        run's lost answers and sending again what surely did not go), the limit is reached, or
        the run is stopped."""
        s = self.settings
        self.stats.started = self._run_started = s.clock()
        loop = asyncio.get_running_loop()
        # The handlers before ours come back afterwards (the loop would leave SIGTERM's default,
        # which kills the process without a word while the report is written).
        signals = (signal.SIGINT, signal.SIGTERM) if self.stop_on_signals else ()
        before = {signum: signal.getsignal(signum) for signum in signals}
        for signum in before:
            # Not the main thread, or no signals here: Ctrl-C then stops the process.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop, signum)
        try:
            await self._settle()
            waiting_since: float | None = None
            while not self.stopped and not self._past_not_after():
                keep = self._keep()
                if self._sendable_beyond(keep):
                    # The last few rows go in a round of their own, after the others' answers
                    # are in: should some of those be lost, these can show the logbook current
                    # past them (kept back until they can, by _keep).
                    await self._send_round(keep or EVIDENCE_RESERVE)
                    if self.stopped:
                        break
                    await self._settle()
                    waiting_since = None
                    continue
                if not self._waiting:
                    break
                now = s.clock()
                waiting_since = now if waiting_since is None else waiting_since
                if not await self._wait_for_evidence(now, keep, waiting_since):
                    break
                await self._settle()
        finally:
            for signum, handler in before.items():
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    if loop.remove_signal_handler(signum) and handler is not None:
                        signal.signal(signum, handler)
            self._journal_thread.shutdown(wait=True)
            self.stats.finished = s.clock()
        return self.stats

    def _keep(self) -> int:
        """How many rows to keep back now: a few while lost answers wait for messages that can
        show the logbook current past them (engine/settle.py), none otherwise."""
        after = self._evidence_after
        return EVIDENCE_RESERVE if after is not None and self.settings.clock() < after else 0

    def _sendable_beyond(self, keep: int) -> bool:
        """Whether rows are left to send beyond the `keep` kept back for evidence."""
        if self._remaining is not None and self._remaining <= 0:
            return False
        # Held rows are not counted: a round ends with rows held only when their window opens
        # after not_after.
        return self.journal.count_sendable(held=False) > keep

    async def _wait_for_evidence(self, now: float, keep: int, since: float) -> bool:
        """Lost answers wait (for their floor, for evidence, for the logbook's zone); sleep until
        the next moment worth a look. False: stop waiting, they stay unknown (or, with
        on_unknown = "resend", the ones whose floor has passed went again without evidence)."""
        s = self.settings
        end = since + s.settle_seconds
        due = min(self._waiting.values())
        # Each look reads the logbook: not more often than every 0.2 s, nor less than every 2 s.
        poll = max(0.2, min(2.0, s.settle_floor / 4))
        if keep and self._may_send() and self._evidence_after is not None:
            wake = self._evidence_after  # the kept-back rows go then, as evidence
        elif now >= end or not self._evidence_possible():
            if s.on_unknown != "resend" or not self._may_send(held=False, rows=False):
                return False
            blind = self._blind_due(now)
            if blind:
                self._resend_blindly(blind)
                return True
            later = [at for r, at in self._waiting.items() if r not in self._zone_pending]
            if not later or min(later) <= now:
                return False
            wake = min(later)  # not even the floor has passed: a request may still be accepted
        else:
            wake = max(due, now + poll)
            wake = min(wake, end)
        if wake - now >= 5:
            self.on_status(
                f"waiting {wake - now:.0f}s for the gateway's logbook to settle "
                f"{len(self._waiting)} lost answers (see settle_seconds)"
            )
        await self._wait(wake - now)
        return True

    def _may_send(self, *, held: bool = False, rows: bool = True) -> bool:
        """Whether this run may still send: within --limit and not_after, and (with `rows`)
        rows are left to send."""
        if self._remaining is not None and self._remaining <= 0:
            return False
        if self.settings.too_late(self.settings.clock()):
            return False
        return not rows or self.journal.count_sendable(held=held) > 0

    def _evidence_possible(self) -> bool:
        """Whether a message already sent (or still to send) could show the logbook current past
        the waiting rows' requests."""
        after = self._evidence_after
        if after is None:
            return True
        if self._may_send():
            return True
        if any(left >= after for _, _, left, _, _ in self._recent):
            return True
        more = self.settler.more_known
        return more is not None and any(k.left >= after for k in more())

    def _blind_due(self, now: float) -> list[int]:
        """on_unknown = "resend": the waiting rows that may go again without evidence: their
        floor has passed, their attempts are not used up, and nothing in the logbook makes them
        doubtful (a zone still in question, an entry that differs: those are not waiting)."""
        rows = {r.recipient: r for r in self.journal.unsettled()}
        return [
            r
            for r, at in self._waiting.items()
            if at <= now
            and r not in self._zone_pending
            and r in rows
            and rows[r].row is not None
            and rows[r].attempts < self.settings.max_attempts
        ]

    def _resend_blindly(self, due: list[int]) -> None:
        # They go in the next round, all of them: nothing is kept back for evidence any more.
        self._evidence_after = None
        self.journal.resend(due)
        self.stats.resent_blindly += len(due)
        for r in due:
            del self._waiting[r]
        self.on_status(
            f"{len(due)} lost answers go again without proof that they were not accepted "
            '(on_unknown = "resend"): some recipients may get the message twice'
        )

    def _past_not_after(self) -> bool:
        if self.settings.too_late(self.settings.clock()):
            self.stats.not_after_passed = True
            return True
        return False

    def _say_wait(self, seconds: float, what: str) -> None:
        """One line for a wait of WAIT_NOTICE seconds or more, unless one ending about then was
        announced already (every worker meets the same 429 pause; their retries follow it)."""
        if seconds < WAIT_NOTICE:
            return
        until = self.settings.clock() + seconds
        if until <= self._said_until + WAIT_NOTICE:
            return
        self._said_until = until
        self.on_status(f"waiting {seconds:.0f}s: {what}")

    async def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds`; return early when the run is stopped."""
        if seconds <= 0:
            return
        stop = asyncio.ensure_future(self._stop.wait())
        nap = asyncio.ensure_future(self.settings.sleep(seconds))
        try:
            await asyncio.wait({stop, nap}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            nap.cancel()

    # -- settling ---------------------------------------------------------------------------

    def _known(self) -> list[Known]:
        """Messages whose ids and request times are known: this run's newest, then the
        journal's (a resumed run's first pass), each answered at the latest a timeout later."""
        known = [
            Known(ids[0], item.recipient, left, answered, delay, item.text)
            for ids, item, left, answered, delay in self._recent
            if ids
        ]
        if len(known) < 8:
            have = {k.message_id for k in known}
            known += [
                k
                for k in journal_known(self.journal, self.settings.request_timeout)
                if k.message_id not in have
            ]
        return known

    async def _settle(self) -> None:
        """Settle the journal's unknown and in-flight rows (engine/settle.py); remember which
        wait."""
        s = self.settings
        rows = self.journal.unsettled()
        left = [r.recipient for r in rows if r.status == "in_flight"]
        if left:
            # A dead run's rows: their requests left before this run could take the lock.
            self.journal.mark_unknown(
                left,
                "the run stopped while its request was in flight: settled from the logbook",
                self._run_started,
            )
            rows = self.journal.unsettled()
        if not rows:
            self.stats.still_unknown = 0
            self._waiting, self._zone_pending, self._evidence_after = {}, set(), None
            return
        try:
            result = await self.settler.settle(
                rows, now=s.clock(), run_started=self._run_started, known=self._known()
            )
        except AccountError as exc:
            self._gateway_stopped(exc)
            result = Settlement()
        self.journal.record(self.run_id, result.found)
        self.journal.resend(result.resend)
        gave_up = set(result.gave_up)
        self.journal.record(
            self.run_id,
            [
                Outcome(
                    r.recipient,
                    "failed",
                    r.attempts,
                    r.first_attempt_at,
                    r.last_attempt_at,
                    error_text=f"not accepted (not in the gateway's logbook) after "
                    f"{r.attempts} attempts whose answers were lost",
                )
                for r in rows
                if r.recipient in gave_up
            ],
        )
        self.journal.note_undecided(result.undecided)
        self.journal.note_undecided(
            dict.fromkeys(
                result.waiting,
                "answer lost; not in the gateway's logbook yet, but not shown absent either "
                "(no later message of this account is listed there yet): the next run looks "
                "again",
            )
        )
        self._waiting = {**result.waiting, **result.zone_pending}
        self._zone_pending = set(result.zone_pending)
        self._evidence_after = result.evidence_after
        if self.budget is not None:
            # Nothing is in flight between rounds: what the campaign has cost is the journal's,
            # with the logbook's real prices of rows just settled, and every row still without
            # a price (sent unpriced, unknown) at the reserved price, never at 0.
            cost, unpriced = self.journal.cost_so_far()
            self.budget.spent = cost + unpriced * self.budget.price
        self.stats.settled_found += len(result.found)
        self.stats.settled_resent += len(result.resend)
        self.stats.still_unknown = len(rows) - len(result.found) - len(result.resend)
        self.stats.still_unknown -= len(result.gave_up)
        if result.found or result.resend:
            self.on_status(
                f"settled {len(result.found) + len(result.resend)} lost answers from the "
                f"gateway's logbook: {len(result.found)} had been accepted, "
                f"{len(result.resend)} go again"
            )

    # -- one round of sending ---------------------------------------------------------------

    async def _send_round(self, keep: int = 0) -> None:
        """Send every sendable row once (with retries), but the last `keep` when there are more
        than that; lost answers are left `unknown`."""
        sendable = self.journal.count_sendable()
        allowed = sendable - keep if sendable > keep else sendable
        queue: asyncio.Queue[Pending | None] = asyncio.Queue(maxsize=self._batch)
        workers = [
            asyncio.create_task(self._worker(queue)) for _ in range(self.settings.concurrency)
        ]

        async def feed() -> None:
            await self._produce(queue, allowed)
            for _ in workers:
                await queue.put(None)

        tasks = [asyncio.create_task(feed()), *workers]
        everything: asyncio.Future[Any] = asyncio.gather(*tasks)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({everything, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not everything.done():
                # Stopped: no new request leaves; those on their way get a bounded time.
                await asyncio.wait({everything}, timeout=STOP_GRACE)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            elif everything.exception() is not None:
                everything.result()
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        finally:
            stopping.cancel()
            if not everything.done():
                everything.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(everything, return_exceptions=True)
            if self._taking is not None and not self._taking.done():
                # A batch being taken: its rows are ours too, and should it fail, the outcomes
                # it carried come back for the flush below.
                await asyncio.wait([self._taking])
            self._flush()
            await asyncio.gather(*self._writes)
            self._writes.clear()
            # Rows taken in flight but not on their way (queued, waiting to retry, never tried)
            # go back to `not_sent`; rows whose request was cut off after the grace period are
            # `unknown`.
            unsent = self._owned - self._attempting
            self._owned.clear()
            if unsent:
                self.journal.release(unsent)
            if self._attempting:
                self.journal.mark_unknown(
                    self._attempting,
                    "the run stopped while its request was in flight: settled by the next run",
                    self.settings.clock(),
                )
                self._attempting.clear()
        # A round cut short while a batch was being taken never awaited it: a failed write
        # must still stop the run, not pass silently.
        taking, self._taking = self._taking, None
        if taking is not None and not taking.cancelled() and taking.exception() is not None:
            raise taking.exception()  # type: ignore[misc]

    def _in_journal_thread(self, call: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._journal_thread, call, *args)

    async def _produce(self, queue: asyncio.Queue[Pending | None], allowed: int) -> None:
        s = self.settings
        while not self.stopped:
            if self._past_not_after():
                return
            size = self._batch if self._remaining is None else min(self._batch, self._remaining)
            size = min(size, allowed)
            if size <= 0:
                return
            now = s.clock()
            # The outcomes gathered so far ride along: one commit for both.
            outcomes, self._pending_outcomes = self._pending_outcomes, []
            # Shielded: if the round is cut short meanwhile, the batch still lands in _owned.
            self._taking = self._in_journal_thread(
                self.journal.take_batch, self.run_id, size, now, outcomes, s.delay
            )
            self._taking.add_done_callback(functools.partial(self._own, outcomes=outcomes))
            batch: list[Pending] = await asyncio.shield(self._taking)
            if not batch:
                opens = self.journal.next_hold()
                if opens is None:
                    return
                if s.not_after is not None and opens >= s.not_after:
                    return  # held rows stay not_sent: their window opens too late
                self._say_wait(
                    opens - s.clock(), "the held rows' sending window opens then (window)"
                )
                await self._wait(opens - s.clock())
                continue
            if s.window is not None:
                batch = await self._hold_outside_window(batch, now)
            allowed -= len(batch)
            if self._remaining is not None:
                self._remaining -= len(batch)
            for item in batch:
                await queue.put(item)

    def _own(self, taken: asyncio.Future[list[Pending]], outcomes: list[Outcome]) -> None:
        if not taken.cancelled() and taken.exception() is None:
            self._owned.update(p.recipient for p in taken.result())
        else:
            # Not written (the transaction rolled back), or not known to be (cancelled): the
            # round's last flush writes them (again is harmless: the same values), and raises
            # if the journal still cannot take them.
            self._pending_outcomes[:0] = outcomes

    async def _hold_outside_window(self, batch: list[Pending], now: float) -> list[Pending]:
        """Rows outside their window: held until it opens (`wait`), or sent now with a `delay`
        for its opening (`schedule`; also when the campaign sets its own delay)."""
        s = self.settings
        assert s.window is not None
        at = max(now, s.delay or 0.0)
        moment = dt.datetime.fromtimestamp(at, dt.UTC)
        go: list[Pending] = []
        holds: list[tuple[int, float]] = []
        for item in batch:
            try:
                opening = s.window.opening(str(item.recipient), moment)
            except WindowNeverOpens:
                opening = None  # no moment suits every zone: the row goes unheld
            if opening is None:
                go.append(item)
            elif s.outside_window == "schedule" or s.delay is not None:
                go.append(dataclasses.replace(item, delay=opening.timestamp()))
            else:
                holds.append((item.recipient, opening.timestamp()))
        if holds:
            await self._in_journal_thread(self.journal.hold, holds)
        scheduled = [(p.recipient, p.delay) for p in go if p.delay is not None]
        if scheduled:
            # Before their requests leave: should the run die, the next one knows these rows
            # were scheduled, and when (the logbook may list them only from then on).
            await self._in_journal_thread(self.journal.set_delays, scheduled)
        return go

    async def _worker(self, queue: asyncio.Queue[Pending | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            if self.stopped:
                continue  # still in _owned: released when the round ends
            outcome = await self._send_one(item)
            if outcome.status == "not_sent" and not outcome.attempts - item.attempts:
                continue  # never left: released (back as it was) when the round ends
            self._owned.discard(item.recipient)
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

    def _gateway_stopped(self, exc: AccountError) -> None:
        if self.stats.stop_reason is None:
            self.stats.stop_reason = str(exc)
            self.stats.stop_code = exc.code
        self._stop.set()

    def _count_failure(self, exc: GatewayError) -> None:
        """A request failed without a word about the recipient: pause all, or give up."""
        pause = self.health.failed()
        if pause is not None:
            self.limiter.pause(pause)
            if pause >= WAIT_NOTICE:
                self._say_wait(pause, f"the gateway is failing ({exc}); every worker pauses")
            else:
                log.warning("the gateway is failing (%s): every worker pauses %.0fs", exc, pause)
        if self.health.failing_for() >= self.settings.give_up_after and not self.stopped:
            self.stats.gave_up = (
                f"the gateway kept failing for {self.health.failing_for():.0f}s ({exc}); "
                "nothing more was sent"
            )
            self._stop.set()

    async def _send_one(self, item: Pending) -> Outcome:
        s = self.settings
        clock = s.clock
        first = item.first_attempt_at
        attempts = item.attempts
        last: float | None = None
        deadline = s.deadline(first or clock(), item.delay)

        def params_at(now: float) -> dict[str, Any]:
            nonlocal deadline
            if first is None:
                # Validity starts at the first attempt (unless a delay is set): a row that has
                # not gone yet leaves with the whole ttl, not a minute less.
                deadline = s.deadline(now, item.delay)
            return message_params(
                s,
                recipient=item.recipient,
                text=item.text,
                label=item.label,
                foreign_id=item.foreign_id,
                now=now,
                deadline=deadline,
                delay=item.delay,
            )

        def outcome(status: RowStatus, **kw: Any) -> Outcome:
            # The delay is kept so `rcsbatch revoke --only-scheduled` knows what has not gone yet.
            delay = item.delay or s.delay
            return Outcome(item.recipient, status, attempts, first, last, **kw, delay=delay)

        async def attempt_once() -> Accepted:
            nonlocal first, last, attempts
            # A retry waits first; the run may have been stopped meanwhile.
            now = clock()
            if self.stopped or s.too_late(now):
                raise _Stopped
            params = params_at(now)
            if not self.limiter.take_now(now) and await self.limiter.acquire():
                # It waited for its slot: the run may have stopped, and less validity may be
                # left than the params say.
                now = clock()
                if self.stopped or s.too_late(now):
                    raise _Stopped
                params = params_at(now)
            reserved = self._reserve()
            first = first or now
            last = now
            attempts += 1
            try:
                accepted = await self._request(item.recipient, params)
            except RetriableError as exc:
                self._release(reserved)
                if exc.code == "429":
                    self.limiter.slow_down(exc.retry_after)
                    self._say_wait(
                        self.limiter.paused_until - clock(),
                        "the gateway asks to slow down (429, Retry-After); every worker pauses",
                    )
                else:
                    self._count_failure(exc)
                raise
            except AnswerLostError as exc:
                self._spend(reserved, None)  # it may have gone: count it spent
                self._count_failure(exc)
                raise
            except asyncio.CancelledError:
                self._spend(reserved, None)  # cut off after it may have left: count it spent
                raise
            except BaseException:
                self._release(reserved)
                raise
            self._spend(reserved, accepted.price)
            self.health.ok()
            return accepted

        try:
            try:
                # The first attempt goes without tenacity: most messages need no retry, and
                # tenacity's bookkeeping would cost more than the rest of the send path.
                accepted = await attempt_once()
            except RetriableError as first_error:
                retrying = RetryPolicy.of(s).retrying(
                    deadline=deadline,
                    clock=clock,
                    stopped=lambda: self.stopped,
                    before_sleep=self._log_retry,
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
            return outcome("not_sent", error_text=self._why_stopped())
        except GatewayError as exc:
            found = failure(exc, attempts, settled_later=True)
            if isinstance(exc, RetriableError):
                if self.stopped or s.too_late(clock()):
                    # The run stopped while this row waited to retry: nothing went through.
                    found = dataclasses.replace(found, status="not_sent", text=str(exc))
                elif attempts - item.attempts < s.max_attempts or RetryPolicy.too_late(
                    clock(), deadline
                ):
                    # Retries end at max_attempts or when the next one would leave too late;
                    # the latter means its validity passed before it could go.
                    found = dataclasses.replace(found, status="expired")
            elif isinstance(exc, AnswerLostError) and exc.code == RELOAD_LOCK and item.attempts:
                # A row sent again after its absence was judged, refused as a repeat: the first
                # had gone after all. The only check on that judgement in production: counted.
                self.settler.facts.absence_contradicted += 1
            elif isinstance(exc, AccountError):
                self._gateway_stopped(exc)
            return outcome(
                found.status, error_code=found.code, error_text=found.text, trace_id=found.trace_id
            )
        self.stats.attempted += 1
        if accepted.balance is not None:
            self.stats.balance = accepted.balance
        if last is not None:
            self._recent.append((accepted.message_ids, item, last, clock(), item.delay or s.delay))
        return outcome("sent", message_ids=accepted.message_ids, price=accepted.price)

    async def _request(self, recipient: int, params: dict[str, Any]) -> Accepted:
        """client.send, with the row in _attempting while its request may be on its way: cut
        off there (cancelled), it stays in, and the round's end marks it unknown."""
        self._attempting.add(recipient)
        try:
            accepted = await self.client.send(params, params["to"])
        except asyncio.CancelledError:
            raise
        except BaseException:
            self._attempting.discard(recipient)
            raise
        self._attempting.discard(recipient)
        return accepted

    def _why_stopped(self) -> str:
        if self.stats.over_budget:
            return "not sent: the campaign's [send] max_cost was reached"
        if self.stats.not_after_passed or self.settings.too_late(self.settings.clock()):
            return "not sent: the campaign's not_after had passed"
        return "the run stopped before it could be sent"

    def _reserve(self) -> Decimal | None:
        """Reserve the message's price in the budget; raise _Stopped (and stop) when it would
        pass max_cost."""
        if self.budget is None:
            return None
        reserved = self.budget.reserve()
        if reserved is None:
            self.stats.over_budget = True
            self._stop.set()
            raise _Stopped
        return reserved

    def _spend(self, reserved: Decimal | None, price: Decimal | None) -> None:
        if self.budget is not None and reserved is not None:
            self.budget.spend(reserved, price)

    def _release(self, reserved: Decimal | None) -> None:
        if self.budget is not None and reserved is not None:
            self.budget.release(reserved)

    def _log_retry(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("retrying after %s (attempt %d, waiting %.2fs)", exc, state.attempt_number, wait)
        self._say_wait(wait, f"a message is retried after {exc}")
