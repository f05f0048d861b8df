"""The sender: one rate limiter, narrow retries with Retry-After, stops, and validity (expiry)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rcsbatch.campaign.window import parse_window
from rcsbatch.engine.budget import Budget
from rcsbatch.engine.sender import Sender, SendStats
from rcsbatch.errors import AccountError, AnswerLostError, RecipientRefusedError, RetriableError
from rcsbatch.gateway.answers import Accepted
from rcsbatch.gateway.pace import RateLimiter
from rcsbatch.gateway.request import SendSettings
from rcsbatch.state.journal import RESULT_COLUMNS, Journal, Outcome

T0 = 1_800_000_000.0
RUN = "20270115T080000Z"
PRICE = Decimal("0.0475")
_real_sleep = asyncio.sleep


def rcp(i: int) -> int:
    """The recipient of row i."""
    return 4917610000000 + i


class Clock:
    """A fake wall clock; patched in for asyncio.sleep, its `sleep` moves time on at once."""

    def __init__(self) -> None:
        self.now = T0
        self.tick = 0.0  # how far time moves on each time the clock is read
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    async def sleep(self, seconds: float, result: Any = None) -> Any:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await _real_sleep(0)
        return result


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(asyncio, "sleep", c.sleep)
    return c


Step = BaseException | str


class FakeGateway:
    """Stands in for GatewayClient: answers from a script per recipient (default: accepted), and
    keeps a logbook of what it accepted. Step "lost": accepted, then the answer is lost."""

    def __init__(
        self, clock: Callable[[], float] = time.time, script: dict[int, list[Step]] | None = None
    ) -> None:
        self.clock = clock
        self.script = {str(k): list(v) for k, v in (script or {}).items()}
        self.calls: list[tuple[float, dict[str, Any]]] = []
        self.accepted: list[dict[str, Any]] = []
        self.lookups = 0

    def calls_for(self, recipient: int) -> list[dict[str, Any]]:
        return [p for _, p in self.calls if p["to"] == str(recipient)]

    async def send(self, params: dict[str, Any], recipient: str) -> Accepted:
        self.calls.append((self.clock(), dict(params)))
        steps = self.script.get(recipient)
        step = steps.pop(0) if steps else "ok"
        if isinstance(step, BaseException):
            raise step
        if step == "slow":
            await _real_sleep(0.3)
        msg_id = f"m{len(self.calls)}"
        moment = dt.datetime.fromtimestamp(self.clock(), ZoneInfo("Europe/Berlin"))
        self.accepted.append(
            {
                "id": msg_id,
                "to": params["to"],
                "text": params.get("text"),
                "label": params.get("label"),
                "foreign_id": params.get("foreign_id"),
                "channel": "RCS",
                "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
                "price": str(PRICE),
            }
        )
        if step == "lost":
            raise AnswerLostError("the connection failed after the request left")
        return Accepted((msg_id,), PRICE)

    async def logbook(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        self.lookups += 1
        rows = [e for e in reversed(self.accepted) if e["to"] == str(query.get("to", e["to"]))]
        offset = int(query.get("offset", 0))
        return rows[offset : offset + int(query.get("limit", 100))]

    def clock_offset(self) -> tuple[float, float]:
        """The gateway's clock is ours (as the Date headers would measure it)."""
        return (-0.5, 0.5)

    def entry(self, recipient: int, at: float, msg_id: str, i: int, **kw: Any) -> None:
        """Put row i's message (as `journal` makes it) into the logbook, made at `at`."""
        moment = dt.datetime.fromtimestamp(at, ZoneInfo("Europe/Berlin"))
        self.accepted.append(
            {
                "id": msg_id,
                "to": str(recipient),
                "text": f"Hi {i}",
                "label": "spring",
                "foreign_id": f"c{i}",
                "channel": "RCS",
                "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
                "price": "0.05",
                **kw,
            }
        )


def journal(tmp_path: Path, rows: int, earlier: dict[int, float] | None = None) -> Journal:
    """A journal with `rows` sendable rows; `earlier` gives rows a first attempt in a past run."""
    j = Journal(tmp_path / "journal.sqlite")
    j.begin_load()
    j.add_rows((rcp(i), i, f"Hi {i}", "spring", f"c{i}") for i in range(1, rows + 1))
    j.end_load()
    if earlier:
        j.record(
            "earlier-run",
            [Outcome(rcp(i), "not_sent", 1, at, at, error_code="500") for i, at in earlier.items()],
        )
    j.start_run(RUN)
    return j


def send(
    j: Journal,
    client: FakeGateway,
    settings: SendSettings,
    *,
    limit: int | None = None,
    on_status: Callable[[str], None] | None = None,
) -> tuple[SendStats, dict[int, Outcome]]:
    """Run a Sender over the journal; the stats and each row's outcome by recipient."""
    outcomes: dict[int, Outcome] = {}

    async def go() -> SendStats:
        sender = Sender(
            j,
            client,
            settings,
            RUN,
            limit=limit,  # type: ignore[arg-type]
            on_outcome=lambda o: outcomes.__setitem__(o.recipient, o),
            on_status=on_status,
        )
        return await sender.run()

    return asyncio.run(go()), outcomes


def statuses(j: Journal) -> dict[int, str]:
    index = RESULT_COLUMNS.index
    return {r[index("recipient")]: r[index("status")] for r in j.result_rows()}  # type: ignore[misc]


# ---- the rate limiter ------------------------------------------------------------------------


def test_limiter_without_rate_never_waits(clock: Clock) -> None:
    """rate 0 means no cap: acquiring never sleeps."""
    limiter = RateLimiter(0, clock=clock)

    async def go() -> None:
        for _ in range(50):
            await limiter.acquire()

    asyncio.run(go())
    assert clock.sleeps == [] and clock.now == T0


def test_limiter_take_now_only_where_nothing_could_wait(clock: Clock) -> None:
    """take_now takes (and counts) a slot at once without a cap; with a cap, or while the run
    is paused (a 429's Retry-After), it leaves the caller to `acquire`, which waits."""
    free = RateLimiter(0, clock=clock)
    assert all(free.take_now(clock()) for _ in range(3)) and free._window_count == 3
    capped = RateLimiter(10, clock=clock)
    assert not capped.take_now(clock())
    free.slow_down(retry_after=5)  # a 429 caps the run and pauses it 5 s
    assert not free.take_now(clock())
    asyncio.run(free.acquire())
    assert clock.sleeps == [5]


def test_limiter_gives_concurrent_callers_successive_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Callers arriving together are spaced one interval apart; the first goes at once."""
    waits: list[float] = []

    async def record(seconds: float, result: Any = None) -> Any:
        waits.append(seconds)
        await _real_sleep(0)
        return result

    monkeypatch.setattr(asyncio, "sleep", record)
    limiter = RateLimiter(10, clock=lambda: T0)

    async def go() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(5)))

    asyncio.run(go())
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_limiter_does_not_bank_idle_time(clock: Clock) -> None:
    """After a pause the next caller goes at once, but the one after still waits an interval."""
    limiter = RateLimiter(10, clock=clock)

    async def go() -> list[float]:
        await limiter.acquire()
        clock.now += 60
        moments = []
        for _ in range(3):
            await limiter.acquire()
            moments.append(clock.now - T0 - 60)
        return moments

    assert asyncio.run(go()) == pytest.approx([0.0, 0.1, 0.2])


def test_one_limiter_paces_every_worker(tmp_path: Path) -> None:
    """With 4 workers and rate 20/s, request i leaves no sooner than i/20 s after the start."""
    client = FakeGateway(clock=time.monotonic)
    j = journal(tmp_path, 8)
    start = time.monotonic()
    send(j, client, SendSettings(concurrency=4, rate=20))
    moments = sorted(t - start for t, _ in client.calls)
    assert len(moments) == 8
    for i, moment in enumerate(moments):
        assert moment >= i / 20 - 0.001, moments


# ---- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "status", "calls", "code"),
    [
        (RetriableError("HTTP 429", code="429", retry_after=3), "sent", 2, None),
        (RetriableError("HTTP 503", code="503", retry_after=3), "sent", 2, None),
        (RetriableError("cannot reach the gateway (ConnectError)"), "sent", 2, None),
        (AnswerLostError("the gateway answered HTTP 500", code="500"), "unknown", 1, "500"),
        (AnswerLostError("the connection failed after the request left"), "unknown", 1, None),
        (AnswerLostError("reload lock (402)", code="402"), "unknown", 1, "402"),
        (RecipientRefusedError("recipient number invalid", code="202"), "failed", 1, "202"),
        (
            RecipientRefusedError("daily limit for this recipient reached", code="403"),
            "failed",
            1,
            "403",
        ),
    ],
    ids=["429", "503", "connect", "http-500", "dropped", "reload-lock", "202", "403"],
)
def test_only_what_surely_did_not_arrive_is_retried(
    tmp_path: Path, clock: Clock, step: Exception, status: str, calls: int, code: str | None
) -> None:
    """Retriable errors are sent again; a lost answer is unknown (with on_unknown = "skip", not
    settled) and a refusal failed, once."""
    client = FakeGateway(clock, {rcp(1): [step]})
    j = journal(tmp_path, 2)
    settings = SendSettings(concurrency=1, clock=clock, on_unknown="skip")
    stats, out = send(j, client, settings)
    assert len(client.calls_for(rcp(1))) == calls
    assert out[rcp(1)].status == status
    assert out[rcp(1)].attempts == calls
    assert out[rcp(1)].error_code == code
    assert out[rcp(2)].status == "sent"
    assert stats.stop_reason is None
    assert stats.retries == calls - 1


def test_a_sent_row_keeps_ids_and_price(tmp_path: Path, clock: Clock) -> None:
    """An accepted row records its message ids, price and the moment it left."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 1)
    _, out = send(j, client, SendSettings(clock=clock))
    o = out[rcp(1)]
    assert (o.status, o.message_ids, o.price, o.last_attempt_at) == ("sent", ("m1",), PRICE, T0)


def test_retry_after_is_honoured(tmp_path: Path, clock: Clock) -> None:
    """The second attempt leaves exactly Retry-After seconds after the first."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("429", code="429", retry_after=7)]})
    send(journal(tmp_path, 1), client, SendSettings(clock=clock))
    assert [t - T0 for t, _ in client.calls] == [0, 7]


def test_backoff_without_retry_after_is_bounded(tmp_path: Path, clock: Clock) -> None:
    """Without Retry-After the waits are jittered exponential backoff, never above backoff_max."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("connect")] * 7})
    send(journal(tmp_path, 1), client, SendSettings(clock=clock, max_attempts=8, backoff_max=2))
    moments = [t for t, _ in client.calls]
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert len(gaps) == 7
    assert all(0 <= g <= 2 for g in gaps), gaps


def test_retries_stop_at_max_attempts_and_the_row_fails(tmp_path: Path, clock: Clock) -> None:
    """A gateway that cannot be reached is tried max_attempts times, then the row is failed."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("connect")] * 10})
    stats, out = send(journal(tmp_path, 1), client, SendSettings(clock=clock, max_attempts=3))
    o = out[rcp(1)]
    assert len(client.calls) == 3
    assert (o.status, o.attempts) == ("failed", 3)
    assert o.error_text is not None and "gave up after 3 attempts" in o.error_text
    assert stats.retries == 2


def test_an_account_error_stops_the_run(tmp_path: Path, clock: Clock) -> None:
    """Insufficient credit: no further request, that row and every later one is not_sent."""
    client = FakeGateway(clock, {rcp(2): [AccountError("no credit", code="500")]})
    j = journal(tmp_path, 5)
    stats, out = send(j, client, SendSettings(concurrency=1, clock=clock))
    assert [p["to"] for _, p in client.calls] == [str(rcp(1)), str(rcp(2))]
    assert (stats.stop_code, stats.stop_reason) == ("500", "no credit")
    assert out[rcp(2)].status == "not_sent" and out[rcp(2)].error_code == "500"
    assert statuses(j) == {
        rcp(1): "sent",
        rcp(2): "not_sent",
        rcp(3): "not_sent",
        rcp(4): "not_sent",
        rcp(5): "not_sent",
    }


def test_a_stopped_run_sends_no_retry(tmp_path: Path) -> None:
    """A row waiting to retry when the gateway stops the run is not sent again: not_sent."""
    client = FakeGateway(
        script={
            rcp(1): [RetriableError("429", code="429", retry_after=0.2)],
            rcp(2): [AccountError("no credit", code="500")],
        }
    )
    j = journal(tmp_path, 2)
    stats, out = send(j, client, SendSettings(concurrency=2))
    assert stats.stop_code == "500"
    assert len(client.calls_for(rcp(1))) == 1
    assert out[rcp(1)].status == "not_sent"
    assert statuses(j)[rcp(1)] == "not_sent"


def test_stop_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    """A request already on its way when the run stops is recorded with its real outcome."""
    client = FakeGateway(script={rcp(1): ["slow"], rcp(2): [AccountError("key", code="900")]})
    j = journal(tmp_path, 4)
    _, out = send(j, client, SendSettings(concurrency=2))
    assert out[rcp(1)].status == "sent"
    assert statuses(j) == {
        rcp(1): "sent",
        rcp(2): "not_sent",
        rcp(3): "not_sent",
        rcp(4): "not_sent",
    }
    assert len(client.calls) == 2


def test_limit_takes_only_the_first_rows(tmp_path: Path, clock: Clock) -> None:
    """With a limit of 2, only the first two rows in file order are attempted."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 5)
    send(j, client, SendSettings(concurrency=3, clock=clock), limit=2)
    assert sorted(p["to"] for _, p in client.calls) == [str(rcp(1)), str(rcp(2))]
    assert statuses(j)[rcp(3)] == "pending"


# ---- validity ------------------------------------------------------------------------------


def test_a_first_attempt_carries_the_whole_ttl(tmp_path: Path, clock: Clock) -> None:
    """Validity starts at the first attempt: it leaves with all 60 minutes, even as time moves."""
    clock.tick = 1.0
    client = FakeGateway(clock)
    send(journal(tmp_path, 3), client, SendSettings(clock=clock, ttl_minutes=60, concurrency=1))
    assert [p["ttl"] for _, p in client.calls] == [60, 60, 60]


def test_a_retried_message_carries_the_ttl_it_has_left(tmp_path: Path, clock: Clock) -> None:
    """ttl 60 min, Retry-After 120 s: the first attempt asks 60 minutes, the retry 58."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("429", code="429", retry_after=120)]})
    _, out = send(journal(tmp_path, 1), client, SendSettings(clock=clock, ttl_minutes=60))
    assert [p["ttl"] for _, p in client.calls] == [60, 58]
    assert out[rcp(1)].status == "sent"
    assert out[rcp(1)].first_attempt_at == T0


@pytest.mark.parametrize(
    ("delay", "ttls"),
    [(None, [60, 60]), (T0, [60, 58])],
    ids=["validity-from-first-attempt", "validity-from-delay"],
)
def test_a_message_that_waited_for_its_rate_slot_carries_the_ttl_left(
    tmp_path: Path, clock: Clock, delay: float | None, ttls: list[int]
) -> None:
    """A row that waited 2 min for its rate slot has the whole ttl, or 2 min less after a delay."""
    client = FakeGateway(clock)
    send(
        journal(tmp_path, 2),
        client,
        SendSettings(clock=clock, ttl_minutes=60, rate=1 / 120, concurrency=2, delay=delay),
    )
    assert [p["ttl"] for _, p in client.calls] == ttls


def test_validity_counts_from_the_first_attempt_of_an_earlier_run(
    tmp_path: Path, clock: Clock
) -> None:
    """A row first tried 10 minutes ago in an earlier run leaves with 50 of its 60 minutes."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 1, earlier={1: T0 - 600})
    _, out = send(j, client, SendSettings(clock=clock, ttl_minutes=60))
    assert client.calls[0][1]["ttl"] == 50
    assert (out[rcp(1)].status, out[rcp(1)].attempts) == ("sent", 2)


def test_a_message_past_its_validity_is_expired_and_never_sent(
    tmp_path: Path, clock: Clock
) -> None:
    """A row first tried 2 h ago with a 60-minute ttl is expired; no request is made for it."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 2, earlier={1: T0 - 7200})
    _, out = send(j, client, SendSettings(clock=clock, ttl_minutes=60))
    assert client.calls_for(rcp(1)) == []
    assert out[rcp(1)].status == "expired"
    assert statuses(j) == {rcp(1): "expired", rcp(2): "sent"}


def test_a_delay_long_past_with_its_validity_is_expired(tmp_path: Path, clock: Clock) -> None:
    """Validity starts at the delay: a delay 2 h ago with a 60-minute ttl sends nothing."""
    client = FakeGateway(clock)
    _, out = send(
        journal(tmp_path, 1), client, SendSettings(clock=clock, ttl_minutes=60, delay=T0 - 7200)
    )
    assert client.calls == []
    assert out[rcp(1)].status == "expired"


@pytest.mark.parametrize(
    ("delay", "sent_delay", "ttl"),
    [
        (T0 + 3600, int(T0 + 3600), 60),  # in the future: Unix seconds, full validity
        (T0 - 600, None, 50),  # past: left out, validity counted from the delay
    ],
)
def test_delay_is_sent_as_unix_seconds_or_left_out(
    tmp_path: Path, clock: Clock, delay: float, sent_delay: int | None, ttl: int
) -> None:
    """A future delay goes as Unix seconds with the whole ttl; a past one is left out."""
    client = FakeGateway(clock)
    send(journal(tmp_path, 1), client, SendSettings(clock=clock, ttl_minutes=60, delay=delay))
    params = client.calls[0][1]
    assert params.get("delay") == sent_delay
    assert params["ttl"] == ttl


def test_retries_end_when_validity_would_pass_and_the_row_expires(
    tmp_path: Path, clock: Clock
) -> None:
    """ttl 4 min, Retry-After 120 s: two attempts, then no time is left: expired, not failed."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("429", code="429", retry_after=120)] * 9})
    _, out = send(
        journal(tmp_path, 1), client, SendSettings(clock=clock, ttl_minutes=4, max_attempts=9)
    )
    assert [p["ttl"] for _, p in client.calls] == [4, 2]
    assert out[rcp(1)].status == "expired"
    assert out[rcp(1)].attempts == 2


# ---- settling lost answers -------------------------------------------------------------------


def test_a_lost_answer_whose_message_went_is_settled_as_sent(tmp_path: Path, clock: Clock) -> None:
    """Accepted, answer lost: the logbook shows it, so the row is sent with that id; no resend."""
    client = FakeGateway(clock, {rcp(1): ["lost"]})
    j = journal(tmp_path, 2)
    stats, _ = send(j, client, SendSettings(concurrency=1, clock=clock))
    assert len(client.calls_for(rcp(1))) == 1
    assert statuses(j) == {rcp(1): "sent", rcp(2): "sent"}
    assert stats.settled_found == 1 and stats.settled_resent == 0
    ids = {r[1]: r[3] for r in j.result_rows()}
    assert ids[rcp(1)] == "m1"


def test_a_lost_answer_not_in_the_logbook_goes_again_once_later_messages_show(
    tmp_path: Path, clock: Clock
) -> None:
    """Not accepted, answer lost in an earlier run (at T0 - 10): the run keeps four rows back,
    sends them once they can show the logbook current past the lost request (its start + the
    30 s client timeout + the 10 s margin), and sends the lost row again only after the floor
    (30 s after request start + timeout), with the validity that is left."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 6)
    j.take_batch("earlier", 1, now=T0 - 10)
    j.record("earlier", [Outcome(rcp(1), "unknown", 1, T0 - 10, T0 - 10, error_code="500")])
    settings = SendSettings(clock=clock, ttl_minutes=60)
    stats, _ = send(j, client, settings)
    moments = {int(p["to"]) - rcp(0): t - T0 for t, p in client.calls}
    assert moments == {2: 0, 3: 30, 4: 30, 5: 30, 6: 30, 1: 50}
    assert client.calls_for(rcp(1))[0]["ttl"] == 59  # validity counts from the first attempt
    assert set(statuses(j).values()) == {"sent"}
    assert stats.settled_resent == 1


def test_a_lost_answer_without_evidence_stays_unknown(tmp_path: Path, clock: Clock) -> None:
    """Issue 10 cases 3 and 6: nothing is sent after the lost request, so nothing can show the
    logbook current past it: the row stays unknown, whatever time passes, and says why."""
    lost = AnswerLostError("the gateway answered HTTP 500", code="500")
    client = FakeGateway(clock, {rcp(1): [lost]})
    j = journal(tmp_path, 1)
    stats, _ = send(j, client, SendSettings(clock=clock))
    assert len(client.calls) == 1
    assert statuses(j) == {rcp(1): "unknown"}
    assert stats.still_unknown == 1
    (why,) = [r[9] for r in j.result_rows()]
    assert "not shown absent" in str(why)


def test_on_unknown_resend_sends_again_without_proof_after_the_floor(
    tmp_path: Path, clock: Clock
) -> None:
    """on_unknown = "resend": a lost answer the logbook does not show goes again without
    evidence (maybe twice), but not before the floor after its request's timeout."""
    lost = AnswerLostError("the gateway answered HTTP 500", code="500")
    client = FakeGateway(clock, {rcp(1): [lost]})
    j = journal(tmp_path, 1)
    stats, _ = send(j, client, SendSettings(clock=clock, on_unknown="resend"))
    assert [t - T0 for t, _ in client.calls] == [0, 60]
    assert statuses(j) == {rcp(1): "sent"}
    assert stats.resent_blindly == 1


def test_on_unknown_resend_stops_at_max_attempts(tmp_path: Path, clock: Clock) -> None:
    """Every answer lost and a logbook that never shows them: with on_unknown = "resend" the
    row goes at most max_attempts times, then stays unknown, never failed or not_sent."""
    lost = AnswerLostError("the gateway answered HTTP 500", code="500")
    client = FakeGateway(clock, {rcp(1): [lost] * 9})
    j = journal(tmp_path, 1)
    send(j, client, SendSettings(clock=clock, on_unknown="resend", max_attempts=2))
    assert len(client.calls_for(rcp(1))) == 2
    assert statuses(j) == {rcp(1): "unknown"}


def test_rows_a_dead_run_left_in_flight_are_settled_first(tmp_path: Path, clock: Clock) -> None:
    """A killed run left two rows in flight, one of which went: that one is sent (from the
    logbook); the other goes again once messages sent after this run's start (plus the client
    timeout and the margin) show in the logbook, and the floor has passed; nothing goes
    twice."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 7)
    j.take_batch("dead-run", 2, now=T0 - 5)
    client.entry(rcp(1), T0 - 4, "old1", 1)
    send(j, client, SendSettings(clock=clock, concurrency=1))
    assert client.calls_for(rcp(1)) == []
    assert all(len(client.calls_for(rcp(i))) == 1 for i in range(2, 8))
    rows = {r[1]: r for r in j.result_rows()}
    assert rows[rcp(1)][2:5] == ("sent", "old1", "0.05")
    # rcp(2): the dead run's request may have left until this run started (T0): it may have
    # been accepted until T0 + 30; the kept-back rows go at T0 + 40; it goes at T0 + 60.
    assert [t - T0 for t, p in client.calls if p["to"] == str(rcp(2))] == [60]
    assert sorted(t - T0 for t, _ in client.calls) == [0, 40, 40, 40, 40, 60]


def test_an_entry_from_before_the_first_attempt_is_not_this_rows_message(
    tmp_path: Path, clock: Clock
) -> None:
    """The same recipient, text and foreign_id an hour before the first attempt (another run
    with the same text) proves nothing: the row goes again once its absence is shown."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 6)
    j.take_batch("dead-run", 1, now=T0 - 5)
    client.entry(rcp(1), T0 - 3600, "other", 1)
    send(j, client, SendSettings(clock=clock))
    assert len(client.calls_for(rcp(1))) == 1
    assert {r[1]: r[3] for r in j.result_rows()}[rcp(1)] != "other"


def test_on_unknown_skip_leaves_the_row_unknown(tmp_path: Path, clock: Clock) -> None:
    """on_unknown = "skip": a row a dead run left in flight stays unknown, never sent again."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 1)
    j.take_batch("dead-run", 1, now=T0 - 5)
    send(j, client, SendSettings(clock=clock, on_unknown="skip"))
    assert client.calls == [] and client.lookups == 0
    assert statuses(j) == {rcp(1): "unknown"}


# ---- not_after -------------------------------------------------------------------------------


def test_a_run_started_after_not_after_sends_nothing(tmp_path: Path, clock: Clock) -> None:
    """not_after already passed: no request; every row stays not_sent."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 3)
    stats, _ = send(j, client, SendSettings(clock=clock, not_after=T0 - 1))
    assert client.calls == []
    assert stats.not_after_passed
    assert set(statuses(j).values()) <= {"pending", "not_sent"}


def test_not_after_stops_a_run_that_is_still_going(tmp_path: Path, clock: Clock) -> None:
    """Time moves on 0.1 s at each look at the clock; with not_after 2.5 s away the first rows
    go, and none leaves after it (the gateway's own look at the clock, when the request
    arrives, is one tick after the sender's last)."""
    clock.tick = 0.1
    client = FakeGateway(clock)
    j = journal(tmp_path, 6)
    stats, _ = send(j, client, SendSettings(clock=clock, not_after=T0 + 2.5, concurrency=1))
    sent = [s for s in statuses(j).values() if s == "sent"]
    assert 1 <= len(sent) < 6
    assert all(t - clock.tick < T0 + 2.5 for t, _ in client.calls)
    assert stats.not_after_passed
    assert set(statuses(j).values()) <= {"sent", "pending", "not_sent"}


# ---- back-pressure ---------------------------------------------------------------------------


def test_a_429_halves_the_pace_of_every_worker_and_it_recovers(clock: Clock) -> None:
    """rate 10/s: a 429 with Retry-After 2 pauses everyone 2 s and halves the cap to 5/s; a
    second later without 429s it climbs by a quarter, and back to 10/s in time."""
    limiter = RateLimiter(10, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        await limiter.acquire()
        limiter.slow_down(2.0)
        assert limiter.cap == 5
        await limiter.acquire()
        assert clock.now == pytest.approx(T0 + 2)
        for _ in range(40):
            await limiter.acquire()

    asyncio.run(go())
    assert limiter.cap == 10


def test_a_429_without_a_rate_caps_the_run_at_half_its_pace(clock: Clock) -> None:
    """No rate set: the cap after a 429 is half the pace the run had, then lifted again."""
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(40):  # 40 requests over 2 s: 20/s
            clock.now += 0.05
            await limiter.acquire()
        limiter.slow_down(None)
        assert limiter.cap == pytest.approx(10, rel=0.1)
        for _ in range(200):
            await limiter.acquire()

    asyncio.run(go())
    assert limiter.cap == 0


def test_a_429_in_the_first_second_halves_the_pace_the_run_has(clock: Clock) -> None:
    """No rate set, 30 requests in the run's first 0.3 s, then a 429: the cap is about half that
    pace (50/s), not 1/s, and is lifted again."""
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(30):
            clock.now += 0.01
            await limiter.acquire()
        limiter.slow_down(None)
        assert limiter.cap == pytest.approx(50, rel=0.1)
        for _ in range(400):
            await limiter.acquire()

    asyncio.run(go())
    assert limiter.cap == 0


def test_a_failing_gateway_pauses_every_worker_then_the_run_gives_up(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request answers HTTP 500: workers pause with growing pauses, and after
    give_up_after seconds the run stops; the rows never tried stay not_sent (resumable)."""
    # Rows taken in batches of 128 (not 4 a worker): most are still untried when it gives up.
    monkeypatch.setattr("rcsbatch.engine.sender.ROWS_PER_WORKER", 32)
    clock.tick = 0.01
    failing = {rcp(i): [AnswerLostError("HTTP 500", code="500")] for i in range(1, 301)}
    client = FakeGateway(clock, failing)
    j = journal(tmp_path, 300)
    stats, _ = send(
        j, client, SendSettings(clock=clock, give_up_after=20, concurrency=4, on_unknown="skip")
    )
    assert stats.gave_up is not None and "kept failing" in stats.gave_up
    assert clock.sleeps and max(clock.sleeps) >= 2  # paused, more than once
    counts = list(statuses(j).values())
    assert counts.count("not_sent") > 200
    assert len(client.calls) == counts.count("unknown")


# ---- stopping ----------------------------------------------------------------------------------


def test_a_request_that_hangs_past_the_grace_period_is_left_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while a request hangs: after STOP_GRACE it is cut off, its row is unknown (the
    next run settles it), and rows never tried are not_sent."""
    monkeypatch.setattr("rcsbatch.engine.sender.STOP_GRACE", 0.2)

    class Hanging(FakeGateway):
        async def send(self, params: dict[str, Any], recipient: str) -> Accepted:
            if recipient == str(rcp(1)):
                self.calls.append((time.time(), params))
                await _real_sleep(30)
            return await super().send(params, recipient)

    client = Hanging()
    j = journal(tmp_path, 3)

    async def go() -> SendStats:
        sender = Sender(j, client, SendSettings(concurrency=1, on_unknown="skip"), RUN)  # type: ignore[arg-type]
        asyncio.get_running_loop().call_later(0.1, sender.stop, 15)
        return await sender.run()

    started = time.monotonic()
    stats = asyncio.run(go())
    assert time.monotonic() - started < 15  # not the hanging request's 30 s
    assert stats.interrupted == 15
    assert statuses(j) == {rcp(1): "unknown", rcp(2): "not_sent", rcp(3): "not_sent"}


@pytest.mark.parametrize(
    ("retry_after", "lines"),
    [
        (7, ["waiting 7s: the gateway asks to slow down (429, Retry-After); every worker pauses"]),
        (2, []),
    ],
)
def test_a_wait_of_five_seconds_or_more_says_one_line(
    tmp_path: Path, clock: Clock, retry_after: float, lines: list[str]
) -> None:
    """A 429's 7 s pause is one status line (not a second one for the retry that follows it), so
    a cron log shows why the run is quiet; a 2 s pause says nothing."""
    error = RetriableError("429", code="429", retry_after=retry_after)
    client = FakeGateway(clock, {rcp(1): [error]})
    said: list[str] = []
    send(journal(tmp_path, 1), client, SendSettings(clock=clock), on_status=said.append)
    assert said == lines


def test_a_backoff_retry_of_five_seconds_or_more_says_one_line(
    tmp_path: Path, clock: Clock
) -> None:
    """A retry without Retry-After that waits 5 s or more says so, once."""
    client = FakeGateway(clock, {rcp(1): [RetriableError("503", code="503")] * 8})
    said: list[str] = []
    settings = SendSettings(clock=clock, max_attempts=8, backoff_max=60)
    send(journal(tmp_path, 1), client, settings, on_status=said.append)
    waits = [b - a for (a, _), (b, _) in itertools.pairwise(client.calls)]
    long = [w for w in waits if w >= 5]
    assert (len(said) >= 1) == bool(long) and len(said) <= len(long)
    assert all(line.startswith("waiting ") and "503" in line for line in said)


# ---- quiet hours -------------------------------------------------------------------------------


def test_rows_outside_their_window_wait_for_it_to_open(tmp_path: Path, clock: Clock) -> None:
    """window 10:00-12:00 in Berlin, now 09:00 Berlin (T0): the run holds the rows until 10:00
    Berlin (09:00 UTC) and sends them then, with their whole validity."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 2)
    settings = SendSettings(clock=clock, window=parse_window("10:00-12:00"), ttl_minutes=60)
    said: list[str] = []
    send(j, client, settings, on_status=said.append)
    assert [t - T0 for t, _ in client.calls] == [3600, 3600]
    assert said == ["waiting 3600s: the held rows' sending window opens then (window)"]
    assert [p["ttl"] for _, p in client.calls] == [60, 60]
    assert all("delay" not in p for _, p in client.calls)
    assert set(statuses(j).values()) == {"sent"}


def test_rows_outside_their_window_can_be_scheduled_for_its_opening(
    tmp_path: Path, clock: Clock
) -> None:
    """outside_window = "schedule": sent at once with delay = the opening, validity from it."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 1)
    window = parse_window("10:00-12:00")
    settings = SendSettings(clock=clock, window=window, outside_window="schedule", ttl_minutes=60)
    send(j, client, settings)
    ((moment, params),) = client.calls
    assert moment == T0
    assert params["delay"] == int(T0 + 3600)
    assert params["ttl"] == 60


def test_rows_inside_their_window_go_at_once(tmp_path: Path, clock: Clock) -> None:
    """window 08:00-20:00, now 09:00 Berlin: no hold, no delay."""
    client = FakeGateway(clock)
    send(
        journal(tmp_path, 2), client, SendSettings(clock=clock, window=parse_window("08:00-20:00"))
    )
    assert [t - T0 for t, _ in client.calls] == [0, 0]


def test_held_rows_whose_window_opens_after_not_after_stay_not_sent(
    tmp_path: Path, clock: Clock
) -> None:
    """The window opens at 09:00 UTC but not_after is 08:30 UTC: nothing goes; the rows are
    not_sent and say until when they were held."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 1)
    settings = SendSettings(clock=clock, window=parse_window("10:00-12:00"), not_after=T0 + 1800)
    send(j, client, settings)
    assert client.calls == []
    (row,) = list(j.result_rows())
    assert row[2] == "not_sent" and row[RESULT_COLUMNS.index("hold_until")] == T0 + 3600


# ---- the budget -------------------------------------------------------------------------------


def test_the_budget_stops_the_run_before_the_total_would_pass_max_cost(
    tmp_path: Path, clock: Clock
) -> None:
    """Cap 0.20 at 0.0475 a message: four go (0.19), the fifth would pass it; the rest are
    not_sent and the run says why."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 8)

    async def go() -> SendStats:
        budget = Budget(cap=Decimal("0.20"), spent=Decimal(0), price=PRICE)
        sender = Sender(j, client, SendSettings(clock=clock, concurrency=2), RUN, budget=budget)  # type: ignore[arg-type]
        return await sender.run()

    stats = asyncio.run(go())
    assert len(client.calls) == 4
    assert stats.over_budget
    assert list(statuses(j).values()).count("sent") == 4


def test_a_row_cut_off_in_flight_waits_from_now_not_from_an_old_attempt(
    tmp_path: Path, clock: Clock
) -> None:
    """A row first tried an hour ago (stopped by the gateway), taken again by a run that died:
    the next run counts its floor from its own start, not from the old attempt."""
    client = FakeGateway(clock)
    j = journal(tmp_path, 5, earlier={1: T0 - 3600})
    j.take_batch("dead-run", 1, now=T0 - 5)
    send(j, client, SendSettings(clock=clock))
    assert [t - T0 for t, _ in client.calls if t and _["to"] == str(rcp(1))] == [60]


def test_rows_waiting_to_retry_or_queued_when_the_grace_ends_are_not_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped past the grace period: a row sleeping before its retry (its first try surely
    refused) and rows still queued go back to not_sent; only a request cut off mid-flight is
    unknown."""
    monkeypatch.setattr("rcsbatch.engine.sender.STOP_GRACE", 0.2)

    class Hanging(FakeGateway):
        async def send(self, params: dict[str, Any], recipient: str) -> Accepted:
            if recipient == str(rcp(2)):
                self.calls.append((time.time(), params))
                await _real_sleep(30)
            return await super().send(params, recipient)

    client = Hanging(script={rcp(1): [RetriableError("503", code="503", retry_after=30)]})
    j = journal(tmp_path, 4)

    async def go() -> SendStats:
        settings = SendSettings(concurrency=2, on_unknown="skip")
        sender = Sender(j, client, settings, RUN)  # type: ignore[arg-type]
        asyncio.get_running_loop().call_later(0.2, sender.stop, 15)
        return await sender.run()

    asyncio.run(go())
    assert statuses(j) == {
        rcp(1): "not_sent",
        rcp(2): "unknown",
        rcp(3): "not_sent",
        rcp(4): "not_sent",
    }


class FailingTakes:
    """Wraps a journal so that its third take_batch fails after `delay` seconds (a disk that
    gives up), with the outcomes it carried rolled back like any failed transaction."""

    def __init__(self, j: Journal, delay: float = 0.0) -> None:
        self.delay = delay
        self.takes = 0
        self.carried: list[Outcome] = []  # what the failed take carried
        self.real = j.take_batch
        j.take_batch = self.take  # type: ignore[method-assign]

    def take(self, run_id: str, size: int, now: float, outcomes: list[Outcome], *rest: Any) -> Any:
        self.takes += 1
        if self.takes == 3:
            self.carried = list(outcomes)
            time.sleep(self.delay)
            raise sqlite3.OperationalError("disk I/O error")
        return self.real(run_id, size, now, outcomes, *rest)


def test_outcomes_riding_on_a_failed_take_are_still_written_and_the_run_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's outcomes go with the second batch's take; that take fails: the run
    stops with the error, and the outcomes are written by the round's last flush (the rows are
    sent, not left in flight for the logbook)."""
    monkeypatch.setattr("rcsbatch.engine.sender.BATCH_SIZE", 2)
    # 12 rows: the last 4 go in a round of their own, so the first round takes 4 batches.
    j = journal(tmp_path, 12)
    failing = FailingTakes(j)
    client = FakeGateway()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        send(j, client, SendSettings(concurrency=1))
    assert failing.carried  # the failed take did carry outcomes
    sent_now = {int(p["to"]) for _, p in client.calls}
    assert sent_now and all(statuses(j)[r] == "sent" for r in sent_now)
    assert {r for r, s in statuses(j).items() if s == "sent"} == sent_now


def test_a_take_failing_after_the_grace_period_still_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while a batch is being taken, and that take then fails: the run does not end as
    if all were well, and the outcomes the take carried are written."""
    monkeypatch.setattr("rcsbatch.engine.sender.BATCH_SIZE", 2)
    monkeypatch.setattr("rcsbatch.engine.sender.STOP_GRACE", 0.05)
    # 12 rows: the last 4 go in a round of their own, so the first round takes 4 batches.
    j = journal(tmp_path, 12)
    failing = FailingTakes(j, delay=0.5)
    client = FakeGateway()

    async def go() -> SendStats:
        sender = Sender(j, client, SendSettings(concurrency=1), RUN)  # type: ignore[arg-type]
        asyncio.get_running_loop().call_later(0.1, sender.stop, 15)
        return await sender.run()

    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        asyncio.run(go())
    assert failing.carried
    sent_now = {int(p["to"]) for _, p in client.calls}
    assert sent_now and {r for r, s in statuses(j).items() if s == "sent"} == sent_now
