"""Tests for rcsbatch.recipients.phones: the reference normaliser and its vectorised twin."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from rcsbatch.recipients import phones
from rcsbatch.recipients.phones import (
    DEFAULT_NUMBER_TYPES,
    EMPTY,
    FLOAT_NOTATION,
    NOT_A_NUMBER,
    TWO_READINGS,
    UNKNOWN_COUNTRY_CODE,
    Check,
    check_many,
    check_one,
    is_known_region,
    normalise_many,
    normalise_one,
    region_of,
)

DE_MOBILE = 4917612345678


def _many(cells: list[Any], region: str, dtype: str | None = "str") -> list[tuple[int, Any]]:
    """normalise_many on a Series of the cells, as (number, reason) pairs."""
    series = pd.Series(cells, dtype=dtype) if dtype else pd.Series(cells)
    numbers, reasons = normalise_many(series, region)
    assert numbers.dtype == np.int64
    assert reasons.dtype == object
    return list(zip(numbers.tolist(), reasons.tolist(), strict=True))


def _reference(cells: list[Any], region: str) -> list[tuple[int, Any]]:
    """normalise_one on every cell."""
    return [normalise_one(cell, region) for cell in cells]


@pytest.mark.parametrize(
    "cell",
    ["+49 176 1234 5678", "0049 176-12345678", "0176 12345678", "4917612345678"],
)
def test_the_four_german_forms_are_one_recipient(cell: str) -> None:
    """International, 00, national and country-code-without-plus forms normalise alike."""
    assert normalise_one(cell, "DE") == (DE_MOBILE, None)
    assert _many([cell], "DE") == [(DE_MOBILE, None)]


@pytest.mark.parametrize(
    ("cell", "region", "expected"),
    [
        ("07912 345678", "GB", 447912345678),
        ("+44 20 7946 0958", "DE", 442079460958),
        ("(212) 555-0123", "US", 12125550123),
        ("1-212-555-0123", "US", 12125550123),
        ("+1 212 555 0123", "DE", 12125550123),
        ("06 12 34 56 78", "FR", 33612345678),
        ("+33 6 12 34 56 78", "DE", 33612345678),
        ("06 1234 5678", "IT", 390612345678),  # Italian fixed lines keep their leading 0
        ("+39 06 1234 5678", "DE", 390612345678),
        ("347 123 4567", "IT", 393471234567),
        ("0664 1234567", "AT", 436641234567),
        ("+43 664 1234567", "DE", 436641234567),
        ("044 668 18 00", "CH", 41446681800),
        ("+41 44 668 18 00", "DE", 41446681800),
        ("8 912 345 67 89", "RU", 79123456789),
        ("+800 1234 5678", "DE", 80012345678),
        ("+49 (0) 30 1234567", "DE", 49301234567),
        ("(030) 1234567", "DE", 49301234567),
        ("[030] 123 4567", "DE", 49301234567),
        ("030\u20131234567", "DE", 49301234567),
        ("0176/12345678", "DE", DE_MOBILE),
        ("0\u00a0176\u00a012345678", "DE", DE_MOBILE),
        ("011 49 176 12345678", "US", DE_MOBILE),
        ("+49 176 1234 5678", "de", DE_MOBILE),
    ],
)
def test_valid_numbers_of_several_countries(cell: str, region: str, expected: int) -> None:
    """Valid numbers in national or international form give their E.164 digits."""
    assert normalise_one(cell, region) == (expected, None)
    assert _many([cell], region) == [(expected, None)]


def test_bare_foreign_digits_are_read_as_national_first() -> None:
    """Bare digits of another country stay national when the default region accepts them."""
    # phonenumbers takes 436641234567 as a valid German number (04366 41234567)
    assert normalise_one("436641234567", "DE") == (49436641234567, None)
    assert normalise_one("+43 664 1234567", "DE") == (436641234567, None)


@pytest.mark.parametrize(
    ("cell", "region", "reason"),
    [
        ("abc", "DE", NOT_A_NUMBER),
        ("n/a", "DE", NOT_A_NUMBER),
        ("+49 176 1234 5678 ext 1", "DE", NOT_A_NUMBER),
        ("49+176", "DE", NOT_A_NUMBER),
        ("++49 176", "DE", NOT_A_NUMBER),
        ("+", "DE", NOT_A_NUMBER),
        ("+1", "DE", NOT_A_NUMBER),
        ("0", "DE", NOT_A_NUMBER),
        ("\ufeff\uff0b49 176", "DE", "too short for DE"),
        ("''0176 12345678", "DE", NOT_A_NUMBER),
        ("0176 '12345678", "DE", NOT_A_NUMBER),
        ("123", "DE", "too short for DE"),
        ("+49 30", "DE", "too short for DE"),
        ("0176 123", "DE", "not a valid number for country code 49"),
        ("+49 176 1234 5678 9999 12", "DE", "too long for DE"),
        ("0176 1234 5678 / 0176 8765 4321", "DE", "too long"),
        ("+999 123456", "DE", UNKNOWN_COUNTRY_CODE),
        ("+0049 30 1234567", "DE", UNKNOWN_COUNTRY_CODE),
        ("+44 20 794", "DE", "too short for GB"),
        ("212 555", "US", "too short for US"),
    ],
)
def test_invalid_numbers_have_short_reasons(cell: str, region: str, reason: str) -> None:
    """Unusable cells give 0 and a short human reason."""
    assert normalise_one(cell, region) == (0, reason)
    assert _many([cell], region) == [(0, reason)]


@pytest.mark.parametrize(
    "cell",
    [
        "'0176 12345678",
        "'+49 176 1234 5678",
        " '4917612345678",
        "'4917612345678.0",
        "\uff10\uff11\uff17\uff16 \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "\uff0b\uff14\uff19 \uff11\uff17\uff16 \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "'\uff10\uff11\uff17\uff16\u3000\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
    ],
)
def test_apostrophe_and_full_width_digits_are_read(cell: str) -> None:
    """A spreadsheet's leading apostrophe and full-width digits and plus are the plain number."""
    assert normalise_one(cell, "DE") == (DE_MOBILE, None)
    assert _many([cell], "DE") == [(DE_MOBILE, None)]
    assert check_many([cell], "DE").at(0) == check_one(cell, "DE") == Check(DE_MOBILE, None)


@pytest.mark.parametrize(
    ("cell", "region", "kind"),
    [
        ("+49 30 1234567", "DE", "fixed_line"),
        ("030 1234567", "DE", "fixed_line"),
        ("0800 1234567", "DE", "toll_free"),
        ("+49 900 1234567", "DE", "premium_rate"),
        ("+44 20 7946 0958", "DE", "fixed_line"),
        ("0180 1 2345", "DE", "shared_cost"),
        ("+44 55 1234 5678", "DE", "uan"),
        ("+49 16412345", "DE", "pager"),
        ("+49 177 99 1234567", "DE", "voicemail"),
        ("+1 800 234 5678", "US", "toll_free"),
    ],
)
def test_numbers_of_refused_types_are_invalid_with_the_type(
    cell: str, region: str, kind: str
) -> None:
    """Landline, freephone, premium-rate, shared-cost, UAN, pager, voicemail numbers: refused."""
    parsed = phonenumbers.parse(cell, region)
    assert phonenumbers.number_type(parsed) == phones.NUMBER_TYPES[kind]
    found = check_one(cell, region)
    assert found.number == int(phonenumbers.format_number(parsed, PhoneNumberFormat.E164)[1:])
    assert found.refused_type
    assert found.reason is not None and f"({kind})" in found.reason
    assert check_many([cell], region).at(0) == found


def test_reasons_say_the_type_in_plain_words() -> None:
    """The reason names the type in words and why such numbers are not sent."""
    assert check_one("+49 30 1234567", "DE").reason == (
        "a landline number (fixed_line); RCS reaches mobile phones"
    )
    assert check_one("0800 1234567", "DE").reason == (
        "a freephone number (toll_free); RCS reaches mobile phones"
    )
    assert check_one("+49 900 1234567", "DE").reason == (
        "a premium-rate number (premium_rate); RCS reaches mobile phones"
    )


@pytest.mark.parametrize(
    ("cell", "region", "kind"),
    [
        ("+49 176 1234 5678", "DE", "mobile"),
        ("+1 212 555 0123", "DE", "fixed_line_or_mobile"),
        ("(416) 555-0123", "CA", "fixed_line_or_mobile"),
        ("+33 6 12 34 56 78", "DE", "mobile"),
    ],
)
def test_mobiles_go_without_a_warning(cell: str, region: str, kind: str) -> None:
    """Mobiles and fixed_line_or_mobile numbers (all of the US and Canada) are plainly ready."""
    assert phonenumbers.number_type(phonenumbers.parse(cell, region)) == phones.NUMBER_TYPES[kind]
    found = check_one(cell, region)
    assert found.reason is None and found.warning is None and not found.refused_type
    assert check_many([cell], region).at(0) == found


@pytest.mark.parametrize(
    ("cell", "kind"),
    [("+44 56 1234 5678", "voip"), ("+44 70 1234 5678", "personal_number")],
)
def test_voip_and_personal_numbers_go_with_a_warning(cell: str, kind: str) -> None:
    """VoIP and personal numbers are ready, with a warning of their kind."""
    assert phonenumbers.number_type(phonenumbers.parse(cell)) == phones.NUMBER_TYPES[kind]
    found = check_one(cell, "DE")
    assert found.reason is None and found.warning_kind == kind
    assert found.warning == f"{phones.describe_type(kind)}: it may not receive RCS"
    assert check_many([cell], "DE").at(0) == found


def test_the_allowed_types_can_be_changed() -> None:
    """With fixed_line allowed a landline goes (with a warning); without voip a VoIP number not."""
    landline = check_one("+49 30 1234567", "DE", DEFAULT_NUMBER_TYPES | {"fixed_line"})
    assert landline.reason is None and landline.warning_kind == "fixed_line"
    voip = check_one("+44 56 1234 5678", "DE", DEFAULT_NUMBER_TYPES - {"voip"})
    assert voip.refused_type
    assert voip.reason == (
        "an internet telephony (VoIP) number (voip); `number_types` leaves it out"
    )
    allowed = frozenset({"mobile"})
    cells = ["+49 30 1234567", "+44 56 1234 5678", "+1 212 555 0123", "0176 12345678"]
    assert [check_many(cells, "DE", allowed).at(i) for i in range(4)] == [
        check_one(c, "DE", allowed) for c in cells
    ]


def test_bare_digits_of_a_refused_national_reading_ask_did_you_mean() -> None:
    """An Austrian mobile whose 00 was lost reads as a German landline: refused, with a hint."""
    found = check_one("436641234567", "DE")
    assert found.number == 49436641234567  # the national reading, as before
    assert found.refused_type
    assert found.reason == (
        "a landline number when read as a DE number (fixed_line); did you mean +43 664 1234567?"
    )
    assert check_many(["436641234567"], "DE").at(0) == found
    # written with + or 00, or as an Austrian national number, it is simply the mobile
    for cell, region in (("+43 664 1234567", "DE"), ("0043 664 1234567", "DE")):
        assert check_one(cell, region) == Check(436641234567, None)


def test_bare_digits_whose_two_readings_are_allowed_warn() -> None:
    """Where both readings are allowed the national one goes, with a warning naming the other."""
    allowed = DEFAULT_NUMBER_TYPES | {"fixed_line"}
    found = check_one("436641234567", "DE", allowed)
    assert found.number == 49436641234567 and found.reason is None
    assert found.warning_kind == TWO_READINGS
    assert found.warning is not None and "+43 664 1234567" in found.warning
    assert check_many(["436641234567"], "DE", allowed).at(0) == found


@pytest.mark.parametrize("cell", [None, "", "   ", "\t", "-", "()", math.nan, pd.NA])
def test_missing_and_blank_cells_are_empty(cell: Any) -> None:
    """Missing values and cells of only separators are "empty"."""
    assert normalise_one(cell, "DE") == (0, EMPTY)
    assert _many([cell, "0176 12345678"], "DE", dtype=None) == [(0, EMPTY), (DE_MOBILE, None)]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("4917612345678.0", (DE_MOBILE, None)),
        ("  4917612345678.00 ", (DE_MOBILE, None)),
        ("4917612345678,0", (DE_MOBILE, None)),
        ("4.917612345678e+12", (0, FLOAT_NOTATION)),
        ("4,917612345678E+12", (0, FLOAT_NOTATION)),
        ("1e5", (0, FLOAT_NOTATION)),
        (4917612345678.0, (DE_MOBILE, None)),
        (4917612345678, (DE_MOBILE, None)),
    ],
)
def test_float_mangled_cells(cell: Any, expected: tuple[int, str | None]) -> None:
    """Integer-valued floats count as their digits; scientific notation is refused."""
    assert normalise_one(cell, "DE") == expected
    assert _many([cell], "DE", dtype=None) == [expected]


@pytest.mark.parametrize("dtype", ["str", "object", None])
def test_many_accepts_str_object_and_plain_sequences(dtype: str | None) -> None:
    """pyarrow-backed str, object Series and plain lists give the same answers."""
    cells = ["+49 176 1234 5678", None, "abc", "0176 12345678", "", "4.9e12"]
    expected = _reference(cells, "DE")
    if dtype is None:
        numbers, reasons = normalise_many(cells, "DE")
        assert list(zip(numbers.tolist(), reasons.tolist(), strict=True)) == expected
    else:
        assert _many(cells, "DE", dtype) == expected


def test_many_reads_a_csv_column_read_by_pyarrow(tmp_path: Any) -> None:
    """A chunked pyarrow-backed column from read_csv, with a custom index, is handled."""
    cells = ["+49 176 1234 5678", "", "0176 12345678", "abc", "4917612345678.0"] * 40
    path = tmp_path / "recipients.csv"
    pd.DataFrame({"id": range(len(cells)), "phone": cells}).to_csv(path, index=False)
    column = pd.read_csv(path, engine="pyarrow", dtype=str)["phone"]
    column.index = column.index + 1000
    numbers, reasons = normalise_many(column, "DE")
    expected = _reference(column.tolist(), "DE")
    assert list(zip(numbers.tolist(), reasons.tolist(), strict=True)) == expected


def test_many_of_nothing() -> None:
    """An empty column gives empty arrays."""
    numbers, reasons = normalise_many(pd.Series([], dtype="str"), "DE")
    assert numbers.shape == reasons.shape == (0,)
    assert numbers.dtype == np.int64


def test_unknown_region_is_refused() -> None:
    """An unknown default region raises ValueError in both functions."""
    assert is_known_region("DE") and is_known_region("gb")
    assert not is_known_region("XX")
    with pytest.raises(ValueError, match="unknown region"):
        normalise_one("0176 12345678", "XX")
    with pytest.raises(ValueError, match="unknown region"):
        normalise_many(pd.Series(["0176 12345678"]), "XX")


@pytest.mark.parametrize(
    ("number", "region"),
    [
        (DE_MOBILE, "DE"),
        (14165550123, "CA"),
        (12125550123, "US"),
        (447624123456, "IM"),
        (80012345678, None),
        (99912345, None),
    ],
)
def test_region_of(number: int, region: str | None) -> None:
    """region_of gives the region a number belongs to, None without a geographic one."""
    assert region_of(number) == region


def test_common_shapes_never_use_the_slow_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The four forms of many countries, junk and blanks are all decided vectorised."""

    def refuse(raw: str | None, region: str) -> tuple[int, str | None]:
        raise AssertionError(f"slow path for {raw!r}")

    cells = [
        "+49 176 1234 5678",
        "0049 176-12345678",
        "0176 12345678",
        "4917612345678",
        "+43 664 1234567",
        "0041 44 668 18 00",
        "+33 6 12 34 56 78",
        "447912345678",
        "+1 212 555 0123",
        "+49 (0) 30 1234567",
        "4917612345678.0",
        "4.9e12",
        "n/a",
        "",
        None,
        "123",
    ]
    expected = _reference(cells, "DE")
    monkeypatch.setattr(phones, "normalise_one", refuse)
    assert _many(cells, "DE") == expected


def test_threaded_chunks_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A column split into several chunks over threads gives the single-call answers."""
    cells = [f"+49 176 {i:08d}" for i in range(60)] + ["abc", None, "0176 123", "4.9e12"] * 5
    expected = _reference(cells, "DE")
    monkeypatch.setattr(phones, "_CHUNK", 10)
    monkeypatch.setattr(phones, "_MAX_CHUNK", 15)
    assert _many(cells, "DE") == expected


# ----------------------------------------------------------------- property test

_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]
_EXAMPLES = [
    number
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    for kind in _TYPES
    if (number := phonenumbers.example_number_for_type(region, kind)) is not None
] + [
    number
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    if (number := phonenumbers.example_number_for_non_geo_entity(code)) is not None
]
# default regions: the benchmark's, ones with shared country codes or national prefixes
# other than "0", and ones whose rules only the slow path handles
_REGIONS = ["DE", "AT", "CH", "FR", "GB", "US", "IT", "CA", "RU", "HU", "AU", "CN", "JP", "GG"]
_SEPARATORS = [" ", "-", ".", "/", "", "\u00a0", " - "]


def _written(digits: str, separator: str, sizes: list[int]) -> str:
    """Digits split into groups of the given sizes, joined by the separator."""
    groups, at = [], 0
    for size in sizes:
        if at >= len(digits):
            break
        groups.append(digits[at : at + size])
        at += size
    if at < len(digits):
        groups.append(digits[at:])
    return separator.join(groups)


@st.composite
def _messy_number(draw: st.DrawFn) -> str:
    """An example number of some region and type, perhaps altered, written messily."""
    number = draw(st.sampled_from(_EXAMPLES))
    code = str(number.country_code)
    nsn = phonenumbers.national_significant_number(number)
    written = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    national = "".join(c for c in written if c.isdigit())
    change = draw(st.sampled_from(["none", "none", "replace", "insert", "delete"]))
    if change != "none" and len(nsn) > 2:
        at = draw(st.integers(0, len(nsn) - 1))
        digit = str(draw(st.integers(0, 9)))
        nsn = {
            "replace": nsn[:at] + digit + nsn[at + 1 :],
            "insert": nsn[:at] + digit + nsn[at:],
            "delete": nsn[:at] + nsn[at + 1 :],
        }[change]
    separator = draw(st.sampled_from(_SEPARATORS))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=6))
    form = draw(
        st.sampled_from(["plus", "00", "national", "bare", "nsn", "plus0", "float", "paren"])
    )
    if form == "plus":
        return f"+{code} {_written(nsn, separator, sizes)}"
    if form == "00":
        return f"00{code}{separator}{_written(nsn, separator, sizes)}"
    if form == "national":
        return _written(national, separator, sizes)
    if form == "bare":
        return code + nsn
    if form == "nsn":
        return _written(nsn, separator, sizes)
    if form == "plus0":
        return f"+{code} (0) {_written(nsn, separator, sizes)}"
    if form == "paren":
        return f"({national[:3]}) {_written(national[3:], separator, sizes)}"
    return f"{code}{nsn}.0"


_JUNK = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "n/a", "-", "+", "00", "4.9e12", "0049", "+0", "0.0", "()"]),
    st.text(alphabet="0123456789 +-()./", max_size=22),
    st.text(max_size=8),
)
_CELL = st.one_of(_messy_number(), _messy_number(), _JUNK)
_FULL_WIDTH = str.maketrans(
    "0123456789+", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff0b"
)


def _dressed(cell: str | None) -> str | None:
    """A cell as a spreadsheet may hand it over: behind an apostrophe, or in full-width digits."""
    if cell is None:
        return None
    return ("'" + cell) if len(cell) % 2 else cell.translate(_FULL_WIDTH)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cells=st.lists(_CELL, min_size=1, max_size=40),
    region=st.sampled_from(_REGIONS),
    dtype=st.sampled_from(["str", "object"]),
)
def test_many_equals_one_for_messy_numbers(
    cells: list[str | None], region: str, dtype: str
) -> None:
    """normalise_many agrees with normalise_one element by element on messy inputs."""
    assert _many(cells, region, dtype) == _reference(cells, region)


_TYPE_SETS = st.sampled_from(
    [
        DEFAULT_NUMBER_TYPES,
        DEFAULT_NUMBER_TYPES | {"fixed_line"},
        frozenset({"mobile"}),
        frozenset(phones.NUMBER_TYPES) - {"mobile"},
    ]
)


def _type_name(cell: object, region: str) -> str | None:
    """phonenumbers' own type of the number normalise_one reads in the cell."""
    number, reason = normalise_one(cell, region)  # type: ignore[arg-type]
    if reason is not None:
        return None
    kind = phonenumbers.number_type(phonenumbers.parse(f"+{number}"))
    return next(name for name, code in phones.NUMBER_TYPES.items() if code == kind)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    cells=st.lists(st.one_of(_CELL, _CELL.map(_dressed)), min_size=1, max_size=40),
    region=st.sampled_from(_REGIONS),
    allowed=_TYPE_SETS,
)
def test_check_many_equals_check_one_and_phonenumbers_types(
    cells: list[str | None], region: str, allowed: frozenset[str]
) -> None:
    """check_many gives check_one's verdict (status, reason, warning) on messy inputs, and the
    verdict follows phonenumbers.number_type: refused exactly when the type is not allowed."""
    series = pd.Series(cells, dtype="object")
    found = check_many(series, region, allowed)
    assert [found.at(i) for i in range(len(cells))] == [
        check_one(c, region, allowed) for c in cells
    ]
    for i, cell in enumerate(cells):
        kind = _type_name(cell, region)
        verdict = found.at(i)
        if kind is None:
            assert verdict.number == 0 and verdict.reason is not None
            continue
        assert verdict.refused_type == (kind not in allowed)
        assert verdict.refused_type == (verdict.reason is not None)
        if verdict.reason is not None:
            assert f"({kind})" in verdict.reason
        elif verdict.warning_kind != TWO_READINGS:
            assert verdict.warning_kind == (None if kind in phones.PLAIN_TYPES else kind)


@pytest.mark.parametrize("region", ["DE", "US", "GB"])
def test_many_equals_one_for_every_example_number(region: str) -> None:
    """Every phonenumbers example number, in five forms, gets the reference answer."""
    cells: list[str] = []
    for number in _EXAMPLES:
        code = str(number.country_code)
        nsn = phonenumbers.national_significant_number(number)
        national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        cells += [f"+{code} {nsn}", f"00{code} {nsn}", national, code + nsn, nsn]
    assert _many(cells, region) == _reference(cells, region)
    found = check_many(cells, region)
    assert [found.at(i) for i in range(len(cells))] == [check_one(c, region) for c in cells]


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_length_table_matches_phonenumbers(region: str) -> None:
    """The fast path's length checks are phonenumbers' _test_number_length."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    table = phones._length_results(metadata)
    for length in range(1, 20):
        expected = phonenumbers.phonenumberutil._test_number_length("5" * length, metadata)
        assert table[length] == expected, length


def test_international_format_of_many_numbers_is_phonenumbers() -> None:
    """The did-you-mean numbers, formatted by country code with RE2, are phonenumbers' own
    INTERNATIONAL format (each example number many times, so every code takes that path)."""
    valid = [n for n in _EXAMPLES if phonenumbers.is_valid_number(n)]
    numbers = [int(phonenumbers.format_number(n, PhoneNumberFormat.E164)[1:]) for n in valid]
    expected = [phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL) for n in valid]
    repeat = phones._SMALL_GROUP
    found = phones._international_many(np.array(numbers * repeat, dtype=np.int64)).to_pylist()
    assert found == expected * repeat
    assert [phones.format_international(n) for n in numbers] == expected


def test_many_did_you_mean_rows_agree_with_the_reference() -> None:
    """A column of many bare foreign mobiles that read as German landlines: check_many names
    the same suggestions as check_one."""
    cells = [f"43664{i:07d}" for i in range(0, 400, 7)] + [f"4179{i:07d}" for i in range(60)]
    found = check_many(cells, "DE")
    assert [found.at(i) for i in range(len(cells))] == [check_one(c, "DE") for c in cells]
    assert sum("did you mean" in (found.reason[i] or "") for i in range(len(cells))) > 24


def test_bare_digits_that_read_two_ways_name_the_other_reading() -> None:
    """`other` is the international reading of bare digits read nationally, whatever the
    verdict, in the reference and the vectorised check alike; 0 for a single reading."""
    cells = ["436641234567", "+43 664 1234567", "0176 12345678", "4917612345678"]
    for allowed in (DEFAULT_NUMBER_TYPES, DEFAULT_NUMBER_TYPES | {"fixed_line"}):
        many = check_many(cells, "DE", allowed)
        assert [check_one(c, "DE", allowed).other for c in cells] == [436641234567, 0, 0, 0]
        assert [many.at(i) for i in range(len(cells))] == [
            check_one(c, "DE", allowed) for c in cells
        ]
