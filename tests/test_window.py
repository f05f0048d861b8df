"""Tests for rcsbatch.campaign.window: quiet hours on each recipient's own clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers.timezone import time_zones_for_number
from phonenumbers.tzdata import TIMEZONE_DATA

from rcsbatch.campaign.window import (
    FALLBACK_ZONES,
    HORIZON,
    Window,
    WindowNeverOpens,
    parse_window,
    zones_for,
)

DE = "4917612345678"
US_NEW_YORK = "12125551234"
US_HONOLULU = "18085551234"
RU_MOBILE = "79161234567"
AU_MOBILE = "61412345678"
BERLIN = ("Europe/Berlin",)
NEW_YORK = ("America/New_York",)
DAY = parse_window("08:00-20:00")


def utc(*parts: int) -> datetime:
    """A UTC moment from year, month, day, hour, minute, second, microsecond."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("08:00-20:00", time(8), time(20)),
        ("8:00 - 20:30", time(8), time(20, 30)),
        ("20:00-08:00", time(20), time(8)),
        ("08:00-00:00", time(8), time(0)),
        ("00:00-23:59", time(0), time(23, 59)),
    ],
)
def test_parse_window_reads_the_times(text: str, start: time, end: time) -> None:
    """HH:MM-HH:MM on a 24-hour clock gives the window's start and end."""
    window = parse_window(text)
    assert (window.start, window.end) == (start, end)
    assert window.overnight == (end < start)


@pytest.mark.parametrize(
    "text",
    [
        "25:00-08:00",
        "08:60-20:00",
        "8-20",
        "0800-2000",
        "08:00",
        "",
        "08:00-20:00-21:00",
        "08:00–20:00",
        "08:00-08:00",
        "24:00-08:00",
    ],
)
def test_parse_window_refuses_bad_text_and_says_the_form(text: str) -> None:
    """A malformed, impossible or empty window is a ValueError that shows the expected form."""
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_window(text)


def test_window_prints_as_written() -> None:
    """str(window) is the campaign file's form, so messages can quote it."""
    assert str(parse_window("8:05-20:00")) == "08:05-20:00"


@pytest.mark.parametrize("number", [DE, US_NEW_YORK, US_HONOLULU, RU_MOBILE, AU_MOBILE])
def test_zones_are_phonenumbers_zones(number: str) -> None:
    """For a valid number the zones are exactly phonenumbers' time_zones_for_number."""
    expected = tuple(time_zones_for_number(phonenumbers.parse("+" + number)))
    assert zones_for(number) == expected
    assert DAY.zones_for(number) == expected


def test_zones_match_phonenumbers_for_every_example_number() -> None:
    """For every region's valid example number of every type, zones_for is phonenumbers' answer,
    with Etc/Unknown replaced by the country code's zones (or UTC)."""
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None or not phonenumbers.is_valid_number(example):
                continue
            digits = phonenumbers.format_number(example, PhoneNumberFormat.E164)[1:]
            expected = tuple(time_zones_for_number(example))
            if expected == ("Etc/Unknown",):
                expected = TIMEZONE_DATA.get(str(example.country_code), FALLBACK_ZONES)
            assert zones_for(digits) == expected, digits
            checked += 1
    assert checked > 1000


def test_zones_of_numbers_in_one_country_differ_by_area() -> None:
    """+1 212 is New York, +1 808 Honolulu; a Russian mobile has every zone of +7."""
    assert zones_for(US_NEW_YORK) == NEW_YORK
    assert zones_for(US_HONOLULU) == ("Pacific/Honolulu",)
    assert len(zones_for(RU_MOBILE)) > 10
    assert "Europe/Moscow" in zones_for(RU_MOBILE)


def test_unknown_zones_fall_back_to_the_country_then_utc() -> None:
    """An invalid number gets its country code's zones; a code without zones gets UTC."""
    invalid_us = "15555551234"
    assert time_zones_for_number(phonenumbers.parse("+" + invalid_us)) == ("Etc/Unknown",)
    assert zones_for(invalid_us) == zones_for("18005551234")
    assert "America/New_York" in zones_for(invalid_us)
    assert zones_for("80012345678") == FALLBACK_ZONES == ("UTC",)


@pytest.mark.parametrize("bad", ["+4917612345678", "49 176", "", "４９176"])
def test_zones_for_refuses_what_is_not_digits(bad: str) -> None:
    """A recipient must be plain ASCII E.164 digits; anything else is a caller's bug."""
    with pytest.raises(ValueError, match="digits"):
        zones_for(bad)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 1, 15, 7, 0), None),  # 08:00 CET: the start is inside
        (utc(2026, 1, 15, 6, 59, 59, 999999), utc(2026, 1, 15, 7, 0)),
        (utc(2026, 1, 15, 18, 59, 59, 999999), None),
        (utc(2026, 1, 15, 19, 0), utc(2026, 1, 16, 7, 0)),  # 20:00 CET: the end is outside
        (utc(2026, 7, 15, 5, 0), utc(2026, 7, 15, 6, 0)),  # summer: 08:00 CEST is 06:00 UTC
        (utc(2026, 7, 15, 12, 0), None),
    ],
)
def test_single_zone_country(now: datetime, expected: datetime | None) -> None:
    """A German number: start inclusive, end exclusive, to the microsecond, in CET and CEST."""
    assert DAY.opening(DE, now) == expected


def test_closing_is_the_first_moment_outside() -> None:
    """closing() gives the end of the current window, and None when outside."""
    assert DAY.closing(DE, utc(2026, 1, 15, 12, 0)) == utc(2026, 1, 15, 19, 0)
    assert DAY.closing(DE, utc(2026, 1, 15, 19, 0)) is None


def test_numbers_of_one_country_in_different_zones() -> None:
    """At 14:00 UTC in January New York (09:00) is inside and Honolulu (04:00) opens at 18:00."""
    now = utc(2026, 1, 15, 14, 0)
    assert DAY.opening(US_NEW_YORK, now) is None
    assert DAY.opening(US_HONOLULU, now) == utc(2026, 1, 15, 18, 0)


def test_several_zones_of_one_number_take_the_most_restrictive() -> None:
    """An Australian mobile waits for Cocos (UTC+6:30) and closes with Lord Howe (UTC+10:30)."""
    assert {"Indian/Cocos", "Australia/Lord_Howe"} <= set(zones_for(AU_MOBILE))
    now = utc(2026, 6, 15, 22, 30)  # 08:30 in Sydney, 05:00 on the Cocos Islands
    assert DAY.opening(AU_MOBILE, now) == utc(2026, 6, 16, 1, 30)
    assert DAY.closing(AU_MOBILE, utc(2026, 6, 16, 2, 0)) == utc(2026, 6, 16, 9, 30)


def test_window_too_narrow_for_the_zones_never_opens() -> None:
    """Office hours never hold in all of +7's zones at once: WindowNeverOpens, no number shown."""
    office = parse_window("09:00-17:00")
    with pytest.raises(WindowNeverOpens) as caught:
        office.opening(RU_MOBILE, utc(2026, 1, 15, 12, 0))
    assert caught.value.zones == zones_for(RU_MOBILE)
    assert RU_MOBILE not in str(caught.value)
    assert "09:00-17:00" in str(caught.value)
    # Asked again a little later, the cached answer is the same.
    with pytest.raises(WindowNeverOpens):
        office.opening(RU_MOBILE, utc(2026, 1, 15, 18, 0))
    # The wider day window does open for the same number.
    assert DAY.opening(RU_MOBILE, utc(2026, 1, 15, 12, 0)) is not None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 1, 15, 12, 0), utc(2026, 1, 15, 19, 0)),
        (utc(2026, 1, 15, 23, 0), None),
        (utc(2026, 1, 16, 6, 59), None),
        (utc(2026, 1, 16, 7, 0), utc(2026, 1, 16, 19, 0)),
    ],
)
def test_overnight_window_crosses_midnight(now: datetime, expected: datetime | None) -> None:
    """20:00-08:00 is inside from 20:00 to midnight and from midnight to 08:00."""
    assert parse_window("20:00-08:00").opening_in(BERLIN, now) == expected


@pytest.mark.parametrize(
    ("window", "zones", "now", "expected"),
    [
        # Berlin springs forward on 29 March 2026 at 01:00 UTC (02:00 CET -> 03:00 CEST).
        ("08:00-20:00", BERLIN, utc(2026, 3, 29, 5, 0), utc(2026, 3, 29, 6, 0)),
        ("08:00-20:00", BERLIN, utc(2026, 3, 28, 19, 0), utc(2026, 3, 29, 6, 0)),
        ("02:30-20:00", BERLIN, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0)),
        ("20:00-02:30", BERLIN, utc(2026, 3, 29, 0, 59, 59), None),
        ("20:00-02:30", BERLIN, utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 18, 0)),
        # Berlin falls back on 25 October 2026 at 01:00 UTC.
        ("08:00-20:00", BERLIN, utc(2026, 10, 25, 5, 0), utc(2026, 10, 25, 7, 0)),
        ("08:00-20:00", BERLIN, utc(2026, 10, 24, 19, 0), utc(2026, 10, 25, 7, 0)),
        # New York springs forward on 8 March 2026 at 07:00 UTC (02:00 EST -> 03:00 EDT).
        ("08:00-20:00", NEW_YORK, utc(2026, 3, 8, 10, 0), utc(2026, 3, 8, 12, 0)),
        ("02:30-20:00", NEW_YORK, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0)),
        # New York falls back on 1 November 2026 at 06:00 UTC (02:00 EDT -> 01:00 EST).
        ("08:00-20:00", NEW_YORK, utc(2026, 11, 1, 11, 0), utc(2026, 11, 1, 13, 0)),
        ("01:30-20:00", NEW_YORK, utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30)),
        # 20:00-01:30: the clock reads 01:30 EDT at 05:30 UTC, then 01:00 EST again at 06:00.
        ("20:00-01:30", NEW_YORK, utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 0)),
    ],
)
def test_daylight_saving_days(
    window: str, zones: tuple[str, ...], now: datetime, expected: datetime | None
) -> None:
    """Windows on DST days follow the wall clock; a start inside a gap opens at the jump."""
    assert parse_window(window).opening_in(zones, now) == expected


def test_repeated_hour_is_judged_by_the_clock() -> None:
    """In the hour that repeats, 20:00-01:30 closes at the first 01:30 and again at the second."""
    night = parse_window("20:00-01:30")
    assert night.closing_in(NEW_YORK, utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 5, 30)
    assert night.closing_in(NEW_YORK, utc(2026, 11, 1, 6, 0)) == utc(2026, 11, 1, 6, 30)


def test_now_must_be_aware_and_any_offset_works() -> None:
    """A naive now is refused; an aware one in any offset gives the same UTC answer."""
    with pytest.raises(ValueError, match="aware"):
        DAY.opening(DE, datetime(2026, 1, 15, 12, 0))
    plus_five = datetime(2026, 1, 15, 11, 0, tzinfo=timezone(timedelta(hours=5)))
    answer = DAY.opening(DE, plus_five)
    assert answer == utc(2026, 1, 15, 7, 0)
    assert answer is not None and answer.tzinfo is UTC


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Honolulu",
    "Asia/Tokyo",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/St_Johns",
    "UTC",
]
# One window per text across examples, so answers come from the span cache as well.
_SHARED: dict[str, Window] = {}


def _minutes_inside(
    window: Window, zones: tuple[str, ...], since: datetime, until: datetime
) -> datetime | None:
    """The first whole minute in (since, until) inside the window, by brute force."""
    moment = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment < until:
        if window.inside(zones, moment):
            return moment
        moment += timedelta(minutes=1)
    return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 24 * 60 - 1),
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
    now=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(
        lambda moment: moment.replace(tzinfo=UTC)
    ),
)
def test_opening_is_the_earliest_moment_inside_everywhere(
    start: int, length: int, zones: list[str], now: datetime
) -> None:
    """The opening is after now, inside in every zone, with no inside minute before it."""
    end = (start + length) % (24 * 60)
    text = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    window = _SHARED.setdefault(text, parse_window(text))
    names = tuple(zones)
    try:
        opening = window.opening_in(names, now)
    except WindowNeverOpens:
        with pytest.raises(WindowNeverOpens):
            parse_window(text).opening_in(names, now)
        assert not window.inside(names, now)
        assert _minutes_inside(window, names, now, now + HORIZON) is None
        return
    assert opening == parse_window(text).opening_in(names, now)  # the cache agrees
    if opening is None:
        assert window.inside(names, now)
        return
    assert opening > now
    assert window.inside(names, opening)
    assert not window.inside(names, opening - timedelta(microseconds=1))
    assert opening - now <= HORIZON + timedelta(days=1)
    bound = min(opening, now + timedelta(days=2))
    assert _minutes_inside(window, names, now, bound) is None
