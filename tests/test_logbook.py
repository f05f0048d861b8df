"""Reading seven's logbook: a stamp's readings in the zones in question, an entry's number, and
whether its text is what was sent."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rcsbatch.gateway.logbook import BERLIN, ZONES, digits, entry_moments, entry_time, same_content

UTC = ZoneInfo("UTC")
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, 09:00 in Berlin
# 2027-10-31 02:30 happens twice in Berlin: 00:30 and 01:30 UTC.
TWICE = "2027-10-31 02:30:00"
TWICE_FIRST = dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC).timestamp()


def test_the_zones_in_question_are_berlin_and_utc() -> None:
    """Until a run measures it, a stamp is read in both zones seven's logbook may use."""
    assert set(ZONES.values()) == {BERLIN, UTC}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-15 09:00:00", [T0, T0 + 3600]),  # Berlin or UTC: both until measured
        (" 2027-01-15 09:00:00.250 ", [T0 + 0.25, T0 + 3600.25]),
        ("2027-01-15T08:00:00+00:00", [T0]),
        (int(T0), [T0]),
        (str(int(T0)), [T0]),
        (int(T0) * 1000, [T0]),  # milliseconds
        ("yesterday", []),
        ("", []),
        (True, []),
        (None, []),
    ],
)
def test_a_stamp_means_each_reading_until_the_zone_is_known(
    value: Any, expected: list[float]
) -> None:
    """A naive stamp has one reading per zone; an offset or Unix time has one; junk has none."""
    assert entry_moments(value, [BERLIN, UTC]) == expected


def test_an_hour_that_happens_twice_has_both_readings() -> None:
    """A wall time the clocks go back over means either of its two moments."""
    assert entry_moments(TWICE, [BERLIN]) == [TWICE_FIRST, TWICE_FIRST + 3600]


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2027-01-15 09:00:00", BERLIN, T0),
        ("2027-01-15 08:00:00", UTC, T0),
        (TWICE, BERLIN, TWICE_FIRST + 3600),  # the later of the two
        ("not a time", BERLIN, None),
    ],
)
def test_a_delivery_time_is_one_reading(value: str, zone: ZoneInfo, expected: float | None) -> None:
    """A delivery time is read in one zone, the later moment when its hour happens twice."""
    assert entry_time(value, zone) == expected


def test_a_delivery_time_is_read_in_berlin_unless_told() -> None:
    """Without a measured zone, the logbook's stamps are taken as Berlin's."""
    assert entry_time("2027-01-15 09:00:00") == T0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+49 176 10000001", "4917610000001"),
        ("004917610000001", "4917610000001"),
        (4917610000001, "4917610000001"),
        ("", ""),
        (None, ""),
    ],
)
def test_an_entrys_number_is_its_digits_with_country_code(value: Any, expected: str) -> None:
    """Spaces, a `+` or a leading `00` do not change which recipient an entry is for."""
    assert digits(value) == expected


RICH = '{"richCard":{"title":"Hi","media":{"height":"MEDIUM"}},"suggestions":[]}'


@pytest.mark.parametrize(
    ("entry_text", "sent", "expected"),
    [
        ("Hi Anna", "Hi Anna", True),
        ("Hi Anna ", "Hi Anna", False),  # trimmed or padded text is another text
        ("Hi https://l.ink/x", "Hi https://example.com", False),
        (None, "Hi Anna", False),
        (
            '{ "suggestions": [], "richCard": {"media": {"height": "MEDIUM"}, "title": "Hi"} }',
            RICH,
            True,
        ),
        ('{"richCard":{"title":"Ho","media":{"height":"MEDIUM"}},"suggestions":[]}', RICH, False),
        ('{"richCard": broken', RICH, False),
        ('{"a": 1}', "{a}", False),  # a text that only looks like JSON is compared as text
    ],
)
def test_an_entrys_text_is_what_was_sent_only_when_equal(
    entry_text: Any, sent: str, expected: bool
) -> None:
    """Texts compare exactly; a rich message as a JSON object, however spaced or ordered."""
    assert same_content(entry_text, sent) is expected
