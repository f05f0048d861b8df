"""Settling lost answers through the gateway's logbook: `sent` only with proof, sent again only
when its absence is shown, `unknown` otherwise.

seven has no idempotency key. A row whose answer was lost (`unknown`), or that a dead run left
`in_flight`, may have been accepted. Each pass reads the logbook (`GET /journal/outbound`) for
these rows and decides each one:

**Proof that it went is strict.** Entries that are this row's message: the same recipient, the
exact text (a rich message: the same JSON object), label and foreign_id, an RCS channel, stamped
inside the row's attempt window, and an id held by no other campaign of the account on this
machine (`state/claims.py`). All such entries belong to the row (one request may make several):
every id is kept and the prices summed. An entry another campaign's lost row could own as well
settles neither.

**Proof that it did not go is loose.** An entry to the recipient inside the window that differs
from what was sent (a link rewritten by click tracking, trimmed text, another channel, a null
label) proves nothing either way: the row stays `unknown`, with the reason. A lookup cut short
or unreadable is never read as absence.

**A row absent from the logbook goes again only when** (a) `settle_floor` seconds have passed
since its last request could have been accepted (request start plus the client timeout);
(b) in the same pass, messages of this account with known ids, whose requests left at least
`evidence_margin` seconds after that moment, are visible through the same queries (so the
logbook is known to be current past the lost request, whatever its lag); (c) the loose check
found nothing. Without such evidence the row waits, then stays `unknown` (unless the campaign
says `on_unknown = "resend"`). The sender keeps a few rows back until evidence can be made
(`Settlement.evidence_after`).

**The window** runs from the row's first request (its take time when the first attempt was not
recorded) to its last request's start plus the client timeout and the margin, widened by what is
measured: the clock difference, from the answers' `Date` headers; the logbook's zone (UTC or
Europe/Berlin, DST included), from entries with known ids (both zones are tried until then);
how long after the request a known message is stamped (seven may stamp at dispatch, after its
queue); for a scheduled message, the moment of its delay. Whether scheduled messages are listed
before their time is unconfirmed: a lost scheduled row is decided only after its delay.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rcsbatch.errors import AccountError, GatewayError
from rcsbatch.gateway.answers import to_decimal
from rcsbatch.gateway.fanout import bounded
from rcsbatch.gateway.logbook import PAGE, ZONES, digits, entry_moments, same_content
from rcsbatch.state.journal import Outcome, SampleRow, Unsettled

if TYPE_CHECKING:
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.gateway.request import SendSettings
    from rcsbatch.state.claims import AccountClaims
    from rcsbatch.state.journal import Journal

# Without a Date header to measure with, the two clocks are taken to differ by up to this much.
UNMEASURED_SKEW = 300.0
MAX_PAGES = 50  # per recipient: a lookup that needs more is cut short, and proves nothing
MAX_WINDOW_PAGES = 2000  # one read by time: 200,000 entries since the day before, at most
WINDOW_READ_AT = 20  # from this many rows on, the logbook is read once by time, not per row
LOOKUPS_AT_ONCE = 8
# A known message stamped more than this far from its request is not used to tell the zone.
ZONE_TOLERANCE = 1800.0


@dataclass(frozen=True)
class Known:
    """A message whose id we know, and when its request left and its answer came (our clock)."""

    message_id: str
    recipient: int
    left: float
    answered: float
    delay: float | None = None
    text: str | None = None  # what it carried, when known: how the logbook renders texts


@dataclass
class LogbookFacts:
    """What this run measured about the gateway's clock and logbook; in the summary."""

    zone: str | None = None  # "UTC" / "Europe/Berlin" once measured (or kept for the account)
    zone_source: str = "unknown"  # measured | kept | unknown
    clock_offset: tuple[float, float] | None = None  # the gateway's clock minus ours
    stamp_delay: float = 0.0  # the longest a known message was stamped after its request
    lag_seen: float = 0.0  # the longest a known message was not yet listed
    scheduled_listed_early: bool | None = None
    # How the logbook showed the text of known messages: "as sent", or "rewritten" (link
    # tracking, trimming, rich content drawn otherwise: such lost answers stay unknown).
    text_rendering: str | None = None
    absence_contradicted: int = 0  # a resend answered 402: the first had gone after all

    def summary(self) -> dict[str, object]:
        offset = self.clock_offset
        return {
            "zone": self.zone,
            "zone_source": self.zone_source,
            "clock_offset_seconds": None if offset is None else [round(v, 3) for v in offset],
            "stamped_after_request_seconds": round(self.stamp_delay, 3),
            "lag_seen_seconds": round(self.lag_seen, 3),
            "scheduled_listed_early": self.scheduled_listed_early,
            "text_rendering": self.text_rendering,
            "absence_contradicted": self.absence_contradicted,
        }


@dataclass
class Settlement:
    """What one pass decided."""

    found: list[Outcome] = field(default_factory=list)  # record these as sent
    resend: list[int] = field(default_factory=list)  # shown absent: send again
    waiting: dict[int, float] = field(default_factory=dict)  # recipient → when to look again
    # Recipient → why it stays unknown for now (unreadable, cut short, differs, ambiguous).
    undecided: dict[int, str] = field(default_factory=dict)
    # Rows whose entry is this row's message or not depending on the logbook's zone, not known
    # yet: looked at again (recipient → when), never sent again without it.
    zone_pending: dict[int, float] = field(default_factory=dict)
    # Not accepted, but its answers were lost max_attempts times: not tried again in this run.
    gave_up: list[int] = field(default_factory=list)
    # A message whose request leaves after this moment would be evidence for the waiting rows.
    evidence_after: float | None = None


@dataclass(frozen=True)
class Rules:
    """How long requests may take and how long to wait before absence may be judged."""

    request_timeout: float
    floor: float
    margin: float
    max_attempts: int
    on_unknown: str = "reconcile"

    @classmethod
    def of(cls, settings: SendSettings) -> Rules:
        """The rules a run's send settings give."""
        return cls(
            settings.request_timeout,
            settings.settle_floor,
            settings.evidence_margin,
            settings.max_attempts,
            settings.on_unknown,
        )


def journal_known(journal: Journal, timeout: float, count: int = 8) -> list[Known]:
    """The journal's newest sent messages as known ones, each answered at the latest a
    `timeout` after its first attempt (the earliest its accepted request can have left)."""
    return [
        Known(i, r, at, at + timeout, delay, text)
        for i, r, at, delay, text in journal.recent_known(count)
    ]


# -- the logbook's stamps on our clock --------------------------------------------------------


@dataclass
class _Clock:
    """Turns logbook stamps into intervals of our clock."""

    zones: list[ZoneInfo]
    offset: tuple[float, float]  # gateway minus ours, least and most

    def spans(self, value: Any) -> list[tuple[float, float]]:
        """Where (our clock) an entry stamped `value` may have been made, one interval per
        reading: a stamp names a whole second of the gateway's clock."""
        lo, hi = self.offset
        return [(m - hi, m + 1 - lo) for m in entry_moments(value, self.zones)]

    def inside(self, value: Any, start: float, end: float) -> tuple[bool, bool]:
        """Whether an entry stamped `value` lies in [start, end] under every zone still in
        question, and under any of them."""
        verdicts = [_inside(_Clock([z], self.offset).spans(value), start, end) for z in self.zones]
        return bool(verdicts) and all(verdicts), any(verdicts)


def _inside(spans: Iterable[tuple[float, float]], start: float, end: float) -> bool:
    return any(a <= end and b >= start for a, b in spans)


# -- the pass ---------------------------------------------------------------------------------


@dataclass
class _Window:
    start: float
    end: float
    moment: float  # when its last request could at the latest have been accepted
    scheduled: float | None  # its delay, when the message was scheduled


class Settler:
    """Settles a journal's lost answers; one per run, so what it measures carries over."""

    def __init__(
        self,
        client: GatewayClient,
        rules: Rules,
        *,
        claims: AccountClaims | None = None,
        zone: str | None = None,
        facts: LogbookFacts | None = None,
        more_known: Callable[[], list[Known]] | None = None,
    ) -> None:
        self.client = client
        self.rules = rules
        self.claims = claims
        # Messages sent by others (the account's other campaigns, test sends), asked for when
        # the run's own messages cannot show the logbook current past a lost answer.
        self.more_known = more_known
        self.facts = facts or LogbookFacts()
        if zone in ZONES and self.facts.zone is None:
            self.facts.zone, self.facts.zone_source = zone, "kept"

    # What the pass reads the logbook's stamps with.
    def _clock(self) -> _Clock:
        measured = self.client.clock_offset()
        if measured is not None:
            self.facts.clock_offset = measured
        offset = measured or (-UNMEASURED_SKEW, UNMEASURED_SKEW)
        zones = [ZONES[self.facts.zone]] if self.facts.zone else list(ZONES.values())
        return _Clock(zones, offset)

    def window(self, row: Unsettled, run_started: float) -> _Window:
        r = self.rules
        first = row.first_attempt_at or row.taken_at or run_started
        last = row.last_attempt_at if row.last_attempt_at is not None else run_started
        moment = max(last, first) + r.request_timeout
        end = moment + r.margin + self.facts.stamp_delay
        scheduled = row.delay if row.delay and row.delay > first else None
        if scheduled is not None:
            end = max(end, scheduled + r.request_timeout + r.margin)
        return _Window(first, end, moment, scheduled)

    async def settle(
        self,
        rows: list[Unsettled],
        *,
        now: float,
        run_started: float,
        known: Sequence[Known] = (),
    ) -> Settlement:
        """Decide each unsettled row (see the module docstring). An account error (the key was
        refused, …) propagates: the run stops."""
        result = Settlement()
        if not rows or self.rules.on_unknown == "skip":
            return result
        margin = self.rules.margin
        windows = {row.recipient: self.window(row, run_started) for row in rows}
        # Known messages that could be evidence: sent (not scheduled for later) after some
        # row's moment.
        earliest = min(w.moment for w in windows.values())
        evidence = [k for k in known if _sent_now(k) and k.left >= earliest + margin]
        if not evidence and self.more_known is not None:
            known = [*known, *self.more_known()]
            evidence = [k for k in known if _sent_now(k) and k.left >= earliest + margin]
        evidence = sorted(evidence, key=lambda k: k.left)[-4:]
        measuring = sorted(known, key=lambda k: k.left)[-4:]
        looked = sorted(
            {k.message_id: k for k in (*evidence, *measuring)}.values(), key=lambda k: k.left
        )
        since = min(w.start for w in windows.values())
        entries, unreadable = await self._read(
            [r.recipient for r in rows], [k.recipient for k in looked], since
        )
        clock = self._learn(entries, known, now)
        # What was learnt (how late known messages are stamped) widens the windows.
        windows = {row.recipient: self.window(row, run_started) for row in rows}
        visible = {str(e.get("id")) for group in entries.values() for e in group}
        # The logbook is shown current up to the newest of our messages looked for that is
        # listed together with every older one looked for: one missing (lag, out of order)
        # shows it current only up to the message before.
        evidence_for: float | None = None
        for k in looked:
            if k.message_id not in visible:
                self.facts.lag_seen = max(self.facts.lag_seen, now - k.answered)
                break
            if _sent_now(k):
                evidence_for = k.left
        try:
            held = self._held_elsewhere(entries, rows)
            claims_error = None
        except (sqlite3.Error, OSError) as exc:
            held, claims_error = set(), str(exc)
        measured_clock = self.facts.clock_offset is not None

        for row in rows:
            w = windows[row.recipient]
            if row.recipient in unreadable:
                result.undecided[row.recipient] = unreadable[row.recipient]
                continue
            if claims_error is not None and entries.get(row.recipient):
                result.undecided[row.recipient] = (
                    "which messages the account's other campaigns hold could not be read "
                    f"({claims_error}): not settled"
                )
                continue
            mine = [e for e in entries.get(row.recipient, ()) if str(e.get("id")) not in held]
            strict: list[Mapping[str, Any]] = []
            loose: list[Mapping[str, Any]] = []
            later: list[Mapping[str, Any]] = []
            unstamped: list[Mapping[str, Any]] = []
            zoned = False  # an entry inside the window under one zone only
            for e in mine:
                stamp = e.get("timestamp")
                if not clock.spans(stamp):
                    unstamped.append(e)
                    continue
                every, some = clock.inside(stamp, w.start, w.end)
                if some:
                    zoned = zoned or not every
                    (strict if _is_the_message(e, row) else loose).append(e)
                elif _is_the_message(e, row) and clock.inside(stamp, w.start, now + 86_400)[1]:
                    later.append(e)
            if strict and not zoned:
                self._found(row, strict, clock, result)
                continue
            why = None
            if strict:
                # Which entries are the row's depends on the logbook's zone: look again once
                # this run's own messages have told it.
                result.zone_pending[row.recipient] = now
                why = (
                    "the logbook shows this message near the attempt, but its time zone is not "
                    "known yet (UTC or Europe/Berlin): it decides whether the entry is this row's"
                )
            elif loose:
                why = _differs(loose[0], row)
            elif unstamped:
                why = (
                    f"the logbook lists a message to this number whose time cannot be read "
                    f"({unstamped[0].get('timestamp')!r}): it may be this row's; not sent again"
                )
            elif later:
                why = (
                    f"the logbook lists this row's exact message (id {later[0].get('id')}) "
                    "stamped after its attempt's window (queued by the gateway, or sent again "
                    "from elsewhere): not taken as proof, not sent again"
                )
            elif not measured_clock:
                why = (
                    "the gateway's answers carry no Date header, so its clock is not known: "
                    "absence from the logbook is not judged"
                )
            if why is not None:
                result.undecided[row.recipient] = why
                continue
            self._absent(row, w, now, evidence_for, result)
        waiting = [windows[r] for r in result.waiting]
        if waiting:
            result.evidence_after = max(w.moment for w in waiting) + margin
            if any(w.scheduled for w in waiting):
                latest = max(w.scheduled or 0.0 for w in waiting)
                result.evidence_after = max(result.evidence_after, latest + margin)
        return result

    def _absent(
        self,
        row: Unsettled,
        w: _Window,
        now: float,
        evidence_for: float | None,
        result: Settlement,
    ) -> None:
        r = self.rules
        moment = w.moment
        if w.scheduled is not None and not self.facts.scheduled_listed_early:
            # Not known to be listed before its time: only after its delay can it be missed.
            moment = max(moment, w.scheduled)
        due = moment + r.floor
        shown = evidence_for is not None and evidence_for >= moment + r.margin
        if now < due or not shown:
            result.waiting[row.recipient] = max(due, now)
            return
        if row.row is None:
            result.undecided[row.recipient] = (
                "not in the logbook, but no longer in the recipient file: not sent again"
            )
        elif row.attempts >= r.max_attempts:
            result.gave_up.append(row.recipient)
        else:
            result.resend.append(row.recipient)

    def _found(
        self, row: Unsettled, entries: list[Mapping[str, Any]], clock: _Clock, result: Settlement
    ) -> None:
        ids = tuple(dict.fromkeys(str(e["id"]) for e in entries if e.get("id") is not None))
        if self.claims is not None:
            try:
                rivals = self.claims.rivals(row.recipient, row.text, row.label, row.foreign_id)
                claimed = not rivals and self.claims.claim(ids, row.recipient)
            except (sqlite3.Error, OSError) as exc:
                result.undecided[row.recipient] = (
                    f"the account's claims could not be read or written ({exc}): not settled"
                )
                return
            if rivals:
                result.undecided[row.recipient] = (
                    "the logbook's entry could be this row's message or another campaign's "
                    "(same recipient, text, label and foreign_id, both answers lost, or a "
                    "journal of the account that could not be read)"
                )
                return
            if not claimed:
                result.undecided[row.recipient] = (
                    "the logbook's entry was just claimed by another campaign of this account"
                )
                return
        prices = [to_decimal(e.get("price")) for e in entries]
        known = all(p is not None and p > 0 for p in prices)
        times = [s[0][0] for s in (clock.spans(e.get("timestamp")) for e in entries) if s]
        sent_at = min(times) if times else None
        # The request's start is not known (its answer was lost): the first attempt is the
        # earliest it can have been, so a later pass never takes it for a later message.
        first = row.first_attempt_at or row.taken_at or sent_at
        result.found.append(
            Outcome(
                row.recipient,
                "sent",
                max(row.attempts, 1),
                first,
                first,
                message_ids=ids,
                price=sum((p for p in prices if p is not None), Decimal(0)) if known else None,
                delay=row.delay,
            )
        )

    def _held_elsewhere(
        self, entries: Mapping[int, list[Mapping[str, Any]]], rows: Sequence[Unsettled]
    ) -> set[str]:
        if self.claims is None:
            return set()
        wanted = {r.recipient for r in rows}
        ids = [str(e.get("id")) for r, group in entries.items() if r in wanted for e in group]
        return self.claims.held_elsewhere(ids)

    def _learn(
        self, entries: Mapping[int, list[Mapping[str, Any]]], known: Sequence[Known], now: float
    ) -> _Clock:
        """Measure the logbook's zone, how long after its request a message is stamped, and
        whether scheduled messages are listed early, from the entries whose ids we know."""
        by_id = {k.message_id: k for k in known}
        clock = self._clock()
        found: list[tuple[Known, Any, set[str]]] = []
        for group in entries.values():
            for e in group:
                k = by_id.get(str(e.get("id")))
                if k is None:
                    continue
                if k.text is not None and self.facts.text_rendering != "rewritten":
                    same = same_content(e.get("text"), k.text)
                    self.facts.text_rendering = "as sent" if same else "rewritten"
                if not _sent_now(k):
                    if k.delay is not None and now < k.delay:
                        self.facts.scheduled_listed_early = True
                    continue
                fits = {
                    name
                    for name, zone in ZONES.items()
                    if _inside(
                        _Clock([zone], clock.offset).spans(e.get("timestamp")),
                        k.left - 1.0,
                        k.answered + ZONE_TOLERANCE,
                    )
                }
                found.append((k, e.get("timestamp"), fits))
        # Only an answer all known messages agree on is the zone; disagreement (a queue longer
        # than the tolerance, a zone changed) leaves both in question.
        single = {next(iter(fits)) for _, _, fits in found if len(fits) == 1}
        if len(single) == 1:
            (name,) = single
            if self.facts.zone != name or self.facts.zone_source != "measured":
                self.facts.zone, self.facts.zone_source = name, "measured"
        elif len(single) > 1:
            self.facts.zone, self.facts.zone_source = None, "conflicting"
        clock = self._clock()
        for k, stamp, fits in found:
            spans = clock.spans(stamp)
            if spans and fits:
                # The most it may have been stamped after its request left (a dispatch stamp
                # after the gateway's queue): the window of a lost answer is widened by it.
                stamped = max(0.0, max(b for _, b in spans) - k.left)
                self.facts.stamp_delay = max(self.facts.stamp_delay, stamped)
        return clock

    # -- reading ------------------------------------------------------------------------------

    async def _read(
        self, recipients: list[int], evidence: list[int], since: float
    ) -> tuple[dict[int, list[Mapping[str, Any]]], dict[int, str]]:
        """The logbook's entries for `recipients` and the `evidence` recipients, by recipient,
        and why some recipients could not be read. One read by time for many rows, else one
        lookup per recipient; both start a day before `since` in either zone."""
        day = min(dt.datetime.fromtimestamp(since, z).date() for z in ZONES.values())
        date_from = (day - dt.timedelta(days=1)).isoformat()
        wanted = list(dict.fromkeys([*recipients, *evidence]))
        if len(recipients) >= WINDOW_READ_AT:
            return await self._read_window(set(wanted), date_from)
        entries: dict[int, list[Mapping[str, Any]]] = {}
        unreadable: dict[int, str] = {}

        async def one(recipient: int) -> None:
            try:
                entries[recipient] = await self._lookup(recipient, date_from)
            except AccountError:
                raise
            except GatewayError as exc:
                unreadable[recipient] = f"the logbook could not be read ({exc})"
            except _CutShort as exc:
                unreadable[recipient] = str(exc)

        await bounded(wanted, LOOKUPS_AT_ONCE, one)
        return entries, unreadable

    async def _pages(
        self, query: dict[str, str | int], cap: int, at_once: int = 1
    ) -> list[Mapping[str, Any]]:
        """Every entry the logbook lists for `query`, page after page until an empty page (a
        short page is not taken for the end: the gateway may cap `limit` lower than asked, and
        then the next page starts where that one ended), `at_once` full pages at a time;
        _CutShort past `cap` pages or when a page repeats the one before (an `offset` the
        gateway ignores)."""
        found: list[Mapping[str, Any]] = []
        previous: list[Any] | None = None
        pages = 0
        while pages < cap:
            ahead = at_once if len(found) % PAGE == 0 else 1
            batch = await asyncio.gather(
                *(
                    self.client.logbook({**query, "limit": PAGE, "offset": len(found) + n * PAGE})
                    for n in range(ahead)
                )
            )
            pages += ahead
            for entries in batch:
                if not entries:
                    return found
                ids = [e.get("id") for e in entries]
                if ids == previous:
                    raise _CutShort("the logbook repeats its pages (offset ignored): cut short")
                previous = ids
                found += entries
                if len(entries) < PAGE:
                    break  # a page the gateway cut: go on from where it ended, one at a time
        raise _CutShort(
            f"the logbook lists more than {cap * PAGE} entries here since the day before the "
            "first attempt: the lookup was cut short"
        )

    async def _lookup(self, recipient: int, date_from: str) -> list[Mapping[str, Any]]:
        entries = await self._pages({"to": str(recipient), "date_from": date_from}, MAX_PAGES)
        return [e for e in entries if digits(e.get("to")) == str(recipient)]

    async def _read_window(
        self, wanted: set[int], date_from: str
    ) -> tuple[dict[int, list[Mapping[str, Any]]], dict[int, str]]:
        try:
            read = await self._pages({"date_from": date_from}, MAX_WINDOW_PAGES, at_once=4)
        except AccountError:
            raise
        except GatewayError as exc:
            return {}, dict.fromkeys(wanted, f"the logbook could not be read ({exc})")
        except _CutShort as exc:
            return {}, dict.fromkeys(wanted, str(exc))
        entries: dict[int, dict[str, Mapping[str, Any]]] = defaultdict(dict)
        for e in read:
            to = digits(e.get("to"))
            if to.isdigit() and int(to) in wanted:
                # New messages arriving meanwhile shift older ones to later pages: one may be
                # read twice, none skipped.
                entries[int(to)][str(e.get("id"))] = e
        return {r: list(g.values()) for r, g in entries.items()}, {}


def _sent_now(k: Known) -> bool:
    """Whether a known message went at once (a scheduled one may be listed otherwise)."""
    return k.delay is None or k.delay <= k.left


class _CutShort(Exception):
    """A lookup needed more pages than MAX_PAGES: it proves nothing."""


def _is_the_message(entry: Mapping[str, Any], row: Unsettled) -> bool:
    channel = str(entry.get("channel") or "RCS").upper()
    return (
        channel == "RCS"
        and (entry.get("label") or None) == (row.label or None)
        and (entry.get("foreign_id") or None) == (row.foreign_id or None)
        and same_content(entry.get("text"), row.text)
    )


def _differs(entry: Mapping[str, Any], row: Unsettled) -> str:
    what = []
    if str(entry.get("channel") or "RCS").upper() != "RCS":
        what.append(f"channel {entry.get('channel')}")
    if (entry.get("label") or None) != (row.label or None):
        what.append("label")
    if (entry.get("foreign_id") or None) != (row.foreign_id or None):
        what.append("foreign_id")
    if not same_content(entry.get("text"), row.text):
        what.append("text")
    return (
        f"the logbook shows a message to this number in the attempt's window (id "
        f"{entry.get('id')}) whose {', '.join(what) or 'content'} differs from what was sent: "
        "maybe this row's message as the gateway rewrote it, maybe another; not sent again"
    )


# -- a campaign's first run: was it sent from elsewhere? --------------------------------------


async def sent_elsewhere(
    client: GatewayClient, campaign_name: str, rows: Sequence[SampleRow]
) -> str | None:
    """Look `rows` up in the logbook (a few pages each, no date filter); describe the first
    entry that carries the campaign's derived foreign_id (this version's or an older one's), or
    the row's exact text and label; None when there is none."""
    from rcsbatch.recipients.prepare import derived_foreign_id, legacy_foreign_id

    async def one(row: SampleRow) -> str | None:
        ours = {
            derived_foreign_id(campaign_name, row.recipient),
            legacy_foreign_id(campaign_name, row.recipient),
        }
        for page in range(3):
            try:
                entries = await client.logbook(
                    {"to": str(row.recipient), "limit": PAGE, "offset": page * PAGE}
                )
            except AccountError:
                raise
            except GatewayError:
                return None
            for e in entries:
                if digits(e.get("to")) != str(row.recipient):
                    continue
                what = f"message {e.get('id')} to +{row.recipient}"
                if e.get("foreign_id") in ours:
                    return f"{what} with foreign_id {e.get('foreign_id')}"
                # The same text and label under the same foreign_id (a template of the
                # user's, or none): the same message. Another derived foreign_id is another
                # campaign's, however alike the texts (a weekly campaign under a new name).
                if (
                    same_content(e.get("text"), row.text)
                    and (e.get("label") or None) == (row.label or None)
                    and (e.get("foreign_id") or None) == (row.foreign_id or None)
                ):
                    return f"{what} with the same text and label"
            if len(entries) < PAGE:
                return None
        return None

    for found in await bounded(rows, LOOKUPS_AT_ONCE, one):
        if found is not None:
            return found
    return None
