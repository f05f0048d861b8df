"""Quiet hours: the part of each day a recipient may be messaged, on the recipient's own clock.

``[send] window = "08:00-20:00"`` is read by :func:`parse_window`.  The rules:

* **The clock.** A moment is *inside* the window for a time zone when the local wall clock there
  reads a time in ``[start, end)``: the start is inclusive, the end exclusive, to the microsecond.
  ``"20:00-08:00"`` (end before start) is an overnight window that crosses midnight, and
  ``"08:00-00:00"`` runs to midnight.  Equal start and end are refused: an empty window cannot
  send, and "always" is written by leaving ``window`` out.
* **Daylight saving time** follows from the wall-clock rule.  When the clock jumps over the start
  (a window opening at 02:30 on a spring-forward night), the window opens at the jump; when it
  falls back, an hour of wall time repeats and is judged twice, by what the clock reads.
* **The recipient's zones** come from the number (:func:`zones_for`), exactly as
  ``phonenumbers.timezone.time_zones_for_number`` gives them: the zones of the number's area for
  fixed lines (and for mobiles where mobiles are geographical), every zone of the country calling
  code for other numbers (a Russian mobile gets all of +7's sixteen zones).  When phonenumbers
  knows no zone for the number (an invalid number) the country calling code's zones are used, and
  when it knows none for the country code either (+800, +882, …) the number is treated as UTC.
* **Most restrictive.** A moment is inside for a recipient only if it is inside in *every* one of
  its zones.  When the zones are too far apart for the window (+1 as a whole spans Guam to
  American Samoa), the window may never open: :meth:`Window.opening` raises
  :class:`WindowNeverOpens` when it does not open within the next 7 days, for the caller to mark
  the row (it is a property of the number, not a reason to stop the run).

The window applies at send time: :meth:`Window.opening` takes the moment of sending and answers
``None`` (send now) or the moment to hold the row until, or to give the gateway as ``delay``.

Speed: rows are many and zone sets few.  Zone lookup replays phonenumbers' own prefix table
with one dict lookup per prefix length, and asks phonenumbers for the number's type (≈10 µs)
only when the area's zones differ from the country's (NANPA numbers, Russian mobiles, …), caching
the last 32768 such answers.  A caller that asks again for the same row should keep its zones and
use :meth:`Window.opening_in`.  Each :class:`Window` remembers, per zone set, the span of time over
which its last answer holds (inside until the next closing, or outside until the opening), so a
warm call is a dict lookup and two comparisons.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.timezone import UNKNOWN_TIMEZONE
from phonenumbers.tzdata import TIMEZONE_DATA

from rcsbatch.errors import RcsbatchError

__all__ = ["HORIZON", "Window", "WindowNeverOpens", "parse_window", "zones_for"]

HORIZON: Final = timedelta(days=7)
"""How far ahead :meth:`Window.opening` promises to look before it gives up."""

FALLBACK_ZONES: Final = ("UTC",)
"""The zones of a number whose country calling code has none in phonenumbers' data."""

_FORM: Final = '"HH:MM-HH:MM" on a 24-hour clock, e.g. "08:00-20:00"'
_PATTERN: Final = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
# Search in steps of a day, one day past the promise, so a "never" answer can be reused for a day.
_STEP: Final = timedelta(days=1)
_SEARCH: Final = HORIZON + _STEP
# Offsets are sampled this often to find DST transitions; real zones never change twice within it.
_SAMPLE: Final = timedelta(hours=3)


class WindowNeverOpens(RcsbatchError):
    """The recipient's zones are too far apart: the window does not open in all of them at once."""

    def __init__(self, window: Window, zones: tuple[str, ...]) -> None:
        super().__init__(
            f"window {window} does not open in all of the number's {len(zones)} time zones at "
            f"once within {HORIZON.days} days ({', '.join(zones)})"
        )
        self.zones = zones


def parse_window(text: str) -> Window:
    """Read a window written ``"HH:MM-HH:MM"`` (24-hour clock), or raise ``ValueError``."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"window {text!r}: expected {_FORM}")
    hour1, minute1, hour2, minute2 = (int(part) for part in match.groups())
    if hour1 > 23 or hour2 > 23 or minute1 > 59 or minute2 > 59:
        raise ValueError(f"window {text!r}: no such time of day; expected {_FORM}")
    start, end = time(hour1, minute1), time(hour2, minute2)
    if start == end:
        raise ValueError(
            f"window {text!r}: start and end are equal; expected {_FORM} with two different times "
            '(leave "window" out to send at any hour)'
        )
    return Window(start, end)


@dataclass(frozen=True, slots=True)
class _Span:
    """For every moment in ``[since, until)`` the answer of :meth:`Window.opening` is ``answer``."""

    since: datetime
    until: datetime
    answer: datetime | None
    never: bool = False


@dataclass(frozen=True)
class Window:
    """The local times of day ``[start, end)`` at which a recipient may be messaged.

    ``end`` before ``start`` is an overnight window (``20:00-08:00``).  Build one with
    :func:`parse_window`.
    """

    start: time
    end: time
    # Per zone set, the span over which the last answer holds; not part of the value.
    _spans: dict[tuple[str, ...], _Span] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a window's start and end must differ")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("a window's start and end are wall-clock times, without a zone")

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def overnight(self) -> bool:
        """True when the window crosses midnight (its end is before its start)."""
        return self.end < self.start

    def zones_for(self, recipient: str) -> tuple[str, ...]:
        """The time zones of a recipient (E.164 digits without ``+``); see :func:`zones_for`."""
        return zones_for(recipient)

    def opening(self, recipient: str, now: datetime) -> datetime | None:
        """``None`` when ``now`` is inside the window in every zone of the recipient, else the
        earliest moment (aware, UTC) after ``now`` at which it is; raises :class:`WindowNeverOpens`
        when that is not within :data:`HORIZON`."""
        return self.opening_in(zones_for(recipient), now)

    def closing(self, recipient: str, now: datetime) -> datetime | None:
        """The first moment (aware, UTC) after ``now`` outside the window in some zone of the
        recipient, or ``None`` when ``now`` is already outside; ``HORIZON`` caps the search."""
        return self.closing_in(zones_for(recipient), now)

    def opening_in(self, zones: tuple[str, ...], now: datetime) -> datetime | None:
        """As :meth:`opening`, for a set of zone names."""
        now = _utc(now)
        span = self._spans.get(zones)
        if span is None or not span.since <= now < span.until:
            span = self._span(zones, now)
            self._spans[zones] = span
        if span.never:
            raise WindowNeverOpens(self, zones)
        return span.answer

    def closing_in(self, zones: tuple[str, ...], now: datetime) -> datetime | None:
        """As :meth:`closing`, for a set of zone names."""
        now = _utc(now)
        if self.opening_in(zones, now) is not None:
            return None
        span = self._spans[zones]
        return span.until

    def inside(self, zones: tuple[str, ...], moment: datetime) -> bool:
        """True when ``moment`` is inside the window in every one of ``zones``."""
        moment = _utc(moment)
        return all(self._inside(_zone(name), moment) for name in zones)

    # The span over which the answer at `now` holds: while inside, until the first closing of
    # any zone; while outside, until the opening.  Every zone is inside over a union of intervals
    # [a, b), so the intersection is one too and its ends are among the zones' own ends.
    def _span(self, zones: tuple[str, ...], now: datetime) -> _Span:
        tzs = [_zone(name) for name in zones]
        inside_now = all(self._inside(tz, now) for tz in tzs)
        lo = now
        while lo < now + _SEARCH:
            hi = lo + _STEP
            for moment in sorted(set(self._boundaries(tzs, lo, hi))):
                if moment <= now:
                    continue
                if all(self._inside(tz, moment) for tz in tzs) != inside_now:
                    if inside_now:
                        return _Span(now, moment, None)
                    return _Span(now, moment, moment)
            lo = hi
        if inside_now:
            return _Span(now, lo, None)
        return _Span(now, now + _STEP, None, never=True)

    def _inside(self, tz: ZoneInfo, moment: datetime) -> bool:
        wall = moment.astimezone(tz).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def _boundaries(self, tzs: list[ZoneInfo], lo: datetime, hi: datetime) -> Iterator[datetime]:
        """Every moment in ``[lo, hi)`` at which some zone's clock reads the start or the end,
        or jumps."""
        for tz in tzs:
            first = lo.astimezone(tz).date() - timedelta(days=1)
            last = hi.astimezone(tz).date() + timedelta(days=1)
            day = first
            while day <= last:
                for wall in (self.start, self.end):
                    for moment in _moments_at(tz, day, wall):
                        if lo <= moment < hi:
                            yield moment
                day += timedelta(days=1)
            for moment in _transitions(tz, lo, hi):
                if lo <= moment < hi:
                    yield moment


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the moment must be timezone-aware (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC)


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _moments_at(tz: ZoneInfo, day: date, wall: time) -> Iterator[datetime]:
    """The moments (UTC) at which the clock of ``tz`` reads ``wall`` on ``day``: none in a gap,
    two in a repeated hour."""
    for fold in (0, 1):
        local = datetime.combine(day, wall, tzinfo=tz).replace(fold=fold)
        moment = local.astimezone(UTC)
        back = moment.astimezone(tz)
        if back.replace(tzinfo=None) == local.replace(tzinfo=None, fold=0):
            yield moment


def _transitions(tz: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """The moments in about ``[lo, hi)`` at which the offset of ``tz`` changes, to the second."""
    seconds = int(lo.timestamp()) - 1
    end = int(hi.timestamp()) + 1
    step = int(_SAMPLE.total_seconds())
    offset = _offset(tz, seconds)
    while seconds < end:
        following = seconds + step
        later = _offset(tz, following)
        if later != offset:
            before, after = seconds, following
            while after - before > 1:
                middle = (before + after) // 2
                if _offset(tz, middle) == offset:
                    before = middle
                else:
                    after = middle
            yield datetime.fromtimestamp(after, UTC)
        seconds, offset = following, later


def _offset(tz: ZoneInfo, seconds: int) -> timedelta | None:
    return datetime.fromtimestamp(seconds, tz).utcoffset()


# Zone lookup.  phonenumbers keys its zone table by digit prefixes of the E.164 number; a number's
# zones are those of its longest prefix in the table when its type is geographical, else those
# of its country calling code.  Only when the two differ does the type (a parse and a set of
# regular expressions) matter, so only then is the number parsed.

_PREFIX_LENGTHS: Final[dict[str, tuple[int, ...]]] = {}
for _key in TIMEZONE_DATA:
    for _code_length in (1, 2, 3):
        if int(_key[:_code_length]) in COUNTRY_CODE_TO_REGION_CODE:
            _code = _key[:_code_length]
            _PREFIX_LENGTHS[_code] = tuple(
                sorted({*_PREFIX_LENGTHS.get(_code, ()), len(_key)}, reverse=True)
            )
            break


def zones_for(recipient: str) -> tuple[str, ...]:
    """The IANA time zones of a recipient given as E.164 digits without ``+`` (``4917612345678``).

    As ``phonenumbers.timezone.time_zones_for_number``, except that where it answers
    ``Etc/Unknown`` the country calling code's zones are used, and :data:`FALLBACK_ZONES` (UTC)
    where there are none.
    """
    if not recipient.isdigit() or not recipient.isascii():
        raise ValueError("a recipient is the digits of its E.164 form, without '+'")
    code = _country_code(recipient)
    if code is None:
        return FALLBACK_ZONES
    country = _country_zones(code)
    for length in _PREFIX_LENGTHS.get(code, ()):
        area = TIMEZONE_DATA.get(recipient[:length])
        if area is not None:
            break
    else:
        return country
    if area == country or area == (UNKNOWN_TIMEZONE,):
        return country
    return area if _is_geographical(recipient, code) else country


def _country_code(recipient: str) -> str | None:
    for length in (1, 2, 3):
        if int(recipient[:length]) in COUNTRY_CODE_TO_REGION_CODE:
            return recipient[:length]
    return None


@functools.cache
def _country_zones(code: str) -> tuple[str, ...]:
    zones: tuple[str, ...] | None = TIMEZONE_DATA.get(code)
    if zones is None or UNKNOWN_TIMEZONE in zones:
        return FALLBACK_ZONES
    return zones


@functools.lru_cache(maxsize=1 << 15)
def _is_geographical(recipient: str, code: str) -> bool:
    # The number is built from its E.164 digits as phonenumbers formats them (leading zeros of
    # the national number kept as italian_leading_zero), which is the number the digits were
    # made from; parsing the digits again would cost as much as the type itself.
    national = recipient[len(code) :]
    if not national:
        return False
    number = phonenumbers.PhoneNumber(country_code=int(code), national_number=int(national))
    zeros = min(len(national) - len(national.lstrip("0")), len(national) - 1)
    if zeros:
        number.italian_leading_zero = True
        if zeros > 1:
            number.number_of_leading_zeros = zeros
    kind = phonenumbers.number_type(number)
    return bool(phonenumbers.is_number_type_geographical(kind, int(code)))
