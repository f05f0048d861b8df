"""Normalise and validate the phone numbers of a recipient column.

A recipient is written as the digits of its E.164 form without the plus
(``4917612345678``), which is how seven expects recipients.  Spreadsheet cells
hold numbers in many shapes (``+49 176 1234 5678``, ``0049 176-12345678``,
``0176 12345678`` read with a default region, ``4917612345678``), so every cell
goes through the same rules:

1. Strip visual separators (whitespace, dashes, dots, slashes, parentheses,
   brackets).  Anything else that is not a digit, apart from one leading
   ``+``, makes the cell "not a phone number".  A cell holding an
   integer-valued float (``4917612345678.0``) counts as its digits; scientific
   notation (``4.917612345678e+12``) is refused because digits were lost.
2. ``+...`` and ``00...`` are international.  A number that starts with the
   default region's national (trunk) prefix is national.  Other bare digits
   are tried as a national number of the default region first and, if that is
   not valid, as an international number (country code without ``+``).
3. Validity and the national significant number are decided by
   ``phonenumbers`` (``parse`` + ``is_valid_number``): :func:`normalise_one` is
   the reference.

:func:`normalise_many` gives exactly the answers of :func:`normalise_one` for
a whole column, but vectorised: cells are cleaned on the raw Arrow bytes with
numpy, the parse steps of ``phonenumbers`` (country code extraction, national
prefix stripping, length checks) are replayed with integer arithmetic, and
validity is checked with RE2 (``pyarrow.compute``) against phonenumbers' own
metadata patterns, grouped by country code and length.  Cells whose shape or
metadata the fast path does not model (e.g. default regions whose national
prefix rule rewrites digits, such as AR, BR, JP or the Channel Islands) go to
:func:`normalise_one` one by one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    SUPPORTED_REGIONS,
    ValidationResult,
)

__all__ = [
    "EMPTY",
    "FLOAT_NOTATION",
    "NOT_A_NUMBER",
    "TOO_LONG",
    "TOO_SHORT",
    "UNKNOWN_COUNTRY_CODE",
    "is_known_region",
    "normalise_many",
    "normalise_one",
    "region_of",
]

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

# --------------------------------------------------------------------------- reasons

EMPTY: Final = "empty"
NOT_A_NUMBER: Final = "not a phone number"
FLOAT_NOTATION: Final = (
    "number was stored as a float (scientific notation): format the column as text"
)
UNKNOWN_COUNTRY_CODE: Final = "unknown country code"
TOO_SHORT: Final = "too short"
TOO_LONG: Final = "too long"

_PARSE_ERROR_REASONS: Final[dict[int, str]] = {
    NumberParseException.INVALID_COUNTRY_CODE: UNKNOWN_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}


def _invalid_reason(country_code: int, possible: int, region: str) -> str:
    """Reason for a parsed number that is not valid, from its length check result."""
    main = phonenumbers.region_code_for_country_code(country_code)
    if country_code == phonenumbers.country_code_for_region(region):
        label = region
    elif main == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        label = f"country code {country_code}"
    else:
        label = main
    if possible in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return f"too short for {label}"
    if possible == ValidationResult.TOO_LONG:
        return f"too long for {label}"
    if possible == ValidationResult.INVALID_LENGTH:
        return f"invalid length for {label}"
    return f"not a valid number for country code {country_code}"


# --------------------------------------------------------------------------- cleaning

_WHITESPACE: Final = (
    " \t\n\r\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)
_SEPARATORS: Final = (
    _WHITESPACE
    + "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d"  # dashes
    + "./\\()[]\uff0e\uff0f\uff08\uff09\uff3b\uff3d"  # dots, slashes, brackets
)
_DROP_SEPARATORS: Final = str.maketrans("", "", _SEPARATORS)
_SCIENTIFIC: Final = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+")
_INTEGER_FLOAT: Final = re.compile(r"([0-9]+)[.,]0+")
_SHAPE: Final = re.compile(r"\+?[0-9]+")


def _is_missing(raw: object) -> bool:
    """True for None, NaN, pd.NA and NaT: cells that hold no value at all."""
    return raw is None or raw is pd.NA or raw is pd.NaT or (isinstance(raw, float) and raw != raw)


def _clean(text: str) -> tuple[str | None, str | None]:
    """Cleaned cell (digits with an optional leading '+') or None and the reason it is unusable."""
    text = text.strip(_WHITESPACE)
    if not text:
        return None, EMPTY
    if _SCIENTIFIC.fullmatch(text):
        return None, FLOAT_NOTATION
    integer_float = _INTEGER_FLOAT.fullmatch(text)
    if integer_float:
        text = integer_float.group(1)
    cleaned = text.translate(_DROP_SEPARATORS)
    if not cleaned:
        return None, EMPTY
    if not _SHAPE.fullmatch(cleaned):
        return None, NOT_A_NUMBER
    return cleaned, None


# --------------------------------------------------------------------------- reference


def _canonical_region(region: str) -> str:
    """The upper-case region code, or ValueError when phonenumbers does not know it."""
    code = region.strip().upper()
    if code not in SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}: use an ISO 3166 code such as 'DE'")
    return code


def is_known_region(region: str) -> bool:
    """True when phonenumbers supports the region code (e.g. "DE", "GB"; case-insensitive)."""
    return region.strip().upper() in SUPPORTED_REGIONS


def _national_prefix(region: str) -> str | None:
    """The national (trunk) prefix that marks a national number in the region, if any."""
    return phonenumbers.ndd_prefix_for_region(region, True) or None


def _evaluate(digits: str, parse_region: str | None, region: str) -> tuple[int, str | None]:
    """Parse digits (national for parse_region, else international) and judge validity."""
    try:
        number = phonenumbers.parse(digits if parse_region else "+" + digits, parse_region)
    except NumberParseException as error:
        return 0, _PARSE_ERROR_REASONS.get(error.error_type, NOT_A_NUMBER)
    if phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return int(e164[1:]), None
    country_code = number.country_code or 0
    possible = phonenumbers.is_possible_number_with_reason(number)
    return 0, _invalid_reason(country_code, possible, region)


def normalise_one(raw: str | None, region: str) -> tuple[int, str | None]:
    """Return (E.164 digits as int, None) when the cell is a valid number, else (0, reason).

    This is the reference implementation, built on phonenumbers; ``region`` is
    the default region for national numbers (ValueError when unknown).
    Missing cells (None, NaN, pd.NA) give ``(0, "empty")``; non-string cells
    are read as ``str(raw)``.
    """
    code = _canonical_region(region)
    if _is_missing(raw):
        return 0, EMPTY
    cleaned, reason = _clean(raw if isinstance(raw, str) else str(raw))
    if cleaned is None:
        return 0, reason
    if cleaned.startswith("+"):
        return _evaluate(cleaned[1:], None, code)
    if cleaned.startswith("00"):
        return _evaluate(cleaned[2:], None, code)
    national_prefix = _national_prefix(code)
    if national_prefix is not None and cleaned.startswith(national_prefix):
        return _evaluate(cleaned, code, code)
    # bare digits: E.164 without '+' when they start with the region's own country
    # code (4917612345678 in DE, although phonenumbers would take it as a valid
    # national number), else national first; the national reason when neither is valid
    if cleaned.startswith(str(phonenumbers.country_code_for_region(code))):
        international = _evaluate(cleaned, None, code)
        if international[1] is None:
            return international
        return _evaluate(cleaned, code, code)
    national = _evaluate(cleaned, code, code)
    if national[1] is None:
        return national
    international = _evaluate(cleaned, None, code)
    return international if international[1] is None else national


def region_of(number: int) -> str | None:
    """Return the ISO region a normalised number belongs to, or None for no geographic region.

    Uses ``phonenumbers.region_code_for_number`` (so +1 416... is "CA"); when
    no single region claims the number, the main region of its country code;
    None for unknown or non-geographic country codes (e.g. +800).
    """
    try:
        parsed = phonenumbers.parse(f"+{number}", None)
    except NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if region is None:
        region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    if region in (phonenumbers.UNKNOWN_REGION, phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY):
        return None
    return region


# --------------------------------------------------------------------------- metadata

_MAX_NSN: Final = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
_MAX_DIGITS: Final = 18  # cells with more digits do not fit int64 arithmetic: slow path
_LENGTHS: Final = 64  # size of the per-length tables; longer numbers are clamped
_TYPE_FIELDS: Final = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
_ACCEPTED_STRIP: Final = (ValidationResult.IS_POSSIBLE, ValidationResult.TOO_LONG)
_POW10: Final[Ints] = np.array([10**i for i in range(19)], dtype=np.int64)
_IS_COUNTRY_CODE: Final[Bools] = np.zeros(1000, dtype=np.bool_)
_IS_COUNTRY_CODE[[cc for cc in COUNTRY_CODE_TO_REGION_CODE if 0 < cc < 1000]] = True
_LITERALS: Final = re.compile(r"[0-9]+(?:\|[0-9]+)*")


def _length_results(metadata: PhoneMetadata) -> Ints:
    """phonenumbers' _test_number_length(number, metadata) for every length, as a table."""
    general = metadata.general_desc
    lengths = general.possible_length if general is not None else ()
    local = general.possible_length_local_only if general is not None else ()
    table = np.full(_LENGTHS, ValidationResult.INVALID_LENGTH, dtype=np.int64)
    if not lengths:
        return table
    for length in range(_LENGTHS):
        if length in local:
            table[length] = ValidationResult.IS_POSSIBLE_LOCAL_ONLY
        elif lengths[0] == length:
            table[length] = ValidationResult.IS_POSSIBLE
        elif lengths[0] > length:
            table[length] = ValidationResult.TOO_SHORT
        elif lengths[-1] < length:
            table[length] = ValidationResult.TOO_LONG
        elif length in lengths[1:]:
            table[length] = ValidationResult.IS_POSSIBLE
    return table


@dataclass(frozen=True, slots=True)
class _Prefix:
    """A pattern matched at the start of a number: digit literals (tried in order) or a regex."""

    literals: tuple[str, ...] | None
    pattern: str

    @staticmethod
    def of(pattern: str | None) -> _Prefix | None:
        """The prefix matcher for a metadata pattern, None when the pattern is empty."""
        if not pattern:
            return None
        if _LITERALS.fullmatch(pattern):
            return _Prefix(tuple(pattern.split("|")), pattern)
        # extract_regex needs named groups only: make the metadata's groups non-capturing
        return _Prefix(None, re.sub(r"\((?!\?)", "(?:", pattern))


@dataclass(frozen=True, slots=True)
class _Parser:
    """The parts of one metadata record that phonenumbers.parse uses, for the fast path."""

    country_code: int
    general: str | None  # general_desc pattern: national_prefix stripping checks it
    length_results: Ints
    national_prefix: _Prefix | None  # national_prefix_for_parsing
    idd: _Prefix | None  # international_prefix


def _parser_of(metadata: PhoneMetadata | None) -> _Parser | None:
    """The fast-path parser for a metadata record, None when its rules are not modelled."""
    if metadata is None or metadata.national_prefix_transform_rule:
        return None
    return _Parser(
        country_code=metadata.country_code or 0,
        general=metadata.general_desc.national_number_pattern or None
        if metadata.general_desc is not None
        else None,
        length_results=_length_results(metadata),
        national_prefix=_Prefix.of(metadata.national_prefix_for_parsing),
        idd=_Prefix.of(metadata.international_prefix),
    )


@functools.cache
def _region_parser(region: str) -> _Parser | None:
    """Parser for national numbers of a default region (None: slow path)."""
    return _parser_of(PhoneMetadata.metadata_for_region(region))


@functools.cache
def _main_parser(country_code: int) -> _Parser | None:
    """Parser phonenumbers uses for numbers with this country code (its main region's)."""
    main = phonenumbers.region_code_for_country_code(country_code)
    return _parser_of(PhoneMetadata.metadata_for_region_or_calling_code(country_code, main))


@dataclass(frozen=True, slots=True)
class _Checker:
    """What is_valid_number checks for one region (or non-geographic entity)."""

    general: str | None
    general_lengths: frozenset[int]
    types_by_length: tuple[str | None, ...]  # union of number-type patterns allowing the length
    leading_digits: str | None


@functools.cache
def _checker(country_code: int, region: str) -> _Checker | None:
    """Validity checker of a region, built from its phonenumbers metadata."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    general = metadata.general_desc
    fields = list(_TYPE_FIELDS)
    if not metadata.same_mobile_and_fixed_line_pattern:
        fields.append("mobile")
    descs = [getattr(metadata, field) for field in fields]
    by_length: list[str | None] = []
    for length in range(_LENGTHS):
        patterns = [
            f"(?:{desc.national_number_pattern})"
            for desc in descs
            if desc is not None
            and desc.national_number_pattern
            and (not desc.possible_length or length in desc.possible_length)
        ]
        by_length.append("|".join(patterns) or None)
    return _Checker(
        general=general.national_number_pattern or None if general is not None else None,
        general_lengths=frozenset(general.possible_length if general is not None else ()),
        types_by_length=tuple(by_length),
        leading_digits=metadata.leading_digits,
    )


@functools.cache
def _reason_table(country_code: int, region: str) -> tuple[str, ...]:
    """Reason for an invalid number of this country code, by national number length."""
    main = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main)
    assert metadata is not None
    results = _length_results(metadata)
    return tuple(_invalid_reason(country_code, int(result), region) for result in results)


# --------------------------------------------------------------------------- vectorised

# candidate status codes
_OK: Final = 0
_SLOW: Final = 1
_ERR_NOT_A_NUMBER: Final = 2
_ERR_COUNTRY_CODE: Final = 3
_ERR_TOO_SHORT: Final = 4
_ERR_TOO_LONG: Final = 5
_STATUS_REASONS: Final = {
    _ERR_NOT_A_NUMBER: NOT_A_NUMBER,
    _ERR_COUNTRY_CODE: UNKNOWN_COUNTRY_CODE,
    _ERR_TOO_SHORT: TOO_SHORT,
    _ERR_TOO_LONG: TOO_LONG,
}

# byte classes of the fast cleaner: 0 separator, 1 kept ('0'-'9', '+'), 2 anything else
_BYTE_CLASS: Final = np.full(256, 2, dtype=np.uint8)
_BYTE_CLASS[[ord(c) for c in " -./()"]] = 0
_BYTE_CLASS[[ord(c) for c in "0123456789+"]] = 1
_FAST_INTEGER_FLOAT: Final = r"^ *[0-9]+\.0+ *$"


def _rows_of(offsets: Ints, positions: Ints) -> Ints:
    """Row of each byte position, given the rows' offsets."""
    return np.searchsorted(offsets, positions, side="right").astype(np.int64) - 1


def _ranges(starts: Ints, lengths: Ints) -> Ints:
    """Concatenated aranges [start, start + length) for every pair."""
    total = int(lengths.sum())
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total, dtype=np.int64)


def _window(value: Ints, length: Ints, start: Ints | int, width: int) -> Ints:
    """Integer of the digits [start, start + width) of numbers given as value and length.

    Rows where the window does not fit give meaningless values: mask them.
    """
    exponent = np.clip(length - start - width, 0, 18)
    return (value // _POW10[exponent]) % _POW10[width]


def _match(strings: Any, pattern: str) -> Bools:
    """RE2 match of every string (pyarrow array) as a numpy bool array."""
    if len(strings) == 0:
        return np.zeros(0, dtype=np.bool_)
    return np.asarray(
        pc.match_substring_regex(strings, pattern).to_numpy(zero_copy_only=False),
        dtype=np.bool_,
    )


@dataclass(slots=True)
class _Batch:
    """Candidate numbers: their indices, digit strings (pyarrow), lengths and values."""

    index: Ints
    strings: Any
    length: Ints
    value: Ints

    def __len__(self) -> int:
        return len(self.index)

    def subset(self, mask: Bools) -> _Batch:
        """The candidates where mask is true."""
        return _Batch(
            self.index[mask],
            self.strings.filter(pa.array(mask, type=pa.bool_())),
            self.length[mask],
            self.value[mask],
        )

    def matches(self, pattern: str | None, skip: Ints | int, *, full: bool = True) -> Bools:
        """Whether the digits after ``skip`` (per row) match the pattern (wholly, or as a prefix)."""
        result = np.zeros(len(self), dtype=np.bool_)
        if pattern is None or len(self) == 0:
            return result
        end = "$" if full else ""
        skips = np.broadcast_to(np.asarray(skip, dtype=np.int64), (len(self),))
        for value in np.unique(skips):
            regex = f"^.{{{int(value)}}}(?:{pattern}){end}"
            rows = skips == value
            if rows.all():
                return _match(self.strings, regex)
            result[rows] = _match(self.strings.filter(pa.array(rows, type=pa.bool_())), regex)
        return result

    def prefix_length(self, prefix: _Prefix | None, start: Ints | int) -> Ints:
        """Length of the prefix matched at ``start`` (per row), -1 where it does not match."""
        result = np.full(len(self), -1, dtype=np.int64)
        if prefix is None or len(self) == 0:
            return result
        starts = np.broadcast_to(np.asarray(start, dtype=np.int64), (len(self),))
        if prefix.literals is not None:
            for literal in prefix.literals:
                width = len(literal)
                hit = (
                    (result < 0)
                    & (self.length - starts >= width)
                    & (_window(self.value, self.length, starts, width) == int(literal))
                )
                result[hit] = width
            return result
        for value in np.unique(starts):
            rows = (starts == value) & (self.length > value)
            if not rows.any():
                continue
            strings = self.strings.filter(pa.array(rows, type=pa.bool_()))
            found = pc.extract_regex(strings, f"^.{{{int(value)}}}(?P<p>{prefix.pattern})")
            # a non-match is a null struct (its child value is not null): mask explicitly
            lengths = pc.if_else(found.is_null(), -1, pc.binary_length(found.field("p")))
            result[rows] = np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
        return result


@dataclass(slots=True)
class _Parsed:
    """Outcome of replaying phonenumbers.parse: status, country code, digits skipped before the NSN."""

    status: Ints
    country_code: Ints
    skip: Ints


def _strip_national_prefix(batch: _Batch, start: Ints, parser: _Parser) -> Ints:
    """Replay _maybe_strip_national_prefix_carrier_code: where the stripped number starts."""
    found = batch.prefix_length(parser.national_prefix, start)
    result = start.copy()
    hit = found >= 0
    if hit.any():
        sub = batch.subset(hit)
        before = start[hit]
        after = before + found[hit]
        viable = sub.matches(parser.general, before)
        still = sub.matches(parser.general, after)
        result[hit] = np.where(viable & ~still, before, after)
    return result


def _finish_parse(batch: _Batch, start: Ints, parser: _Parser, parsed: _Parsed, rows: Bools) -> None:
    """Replay the end of phonenumbers.parse for rows whose NSN begins at ``start``."""
    sub = batch.subset(rows)
    begin = start[rows]
    status = np.full(len(sub), _OK, dtype=np.int64)
    status[sub.length - begin < 2] = _ERR_TOO_SHORT
    live = status == _OK
    skip = begin.copy()
    if parser.national_prefix is not None and live.any():
        sub_live = sub.subset(live)
        stripped = _strip_national_prefix(sub_live, begin[live], parser)
        lengths = np.minimum(sub_live.length - stripped, _LENGTHS - 1)
        accepted = np.isin(parser.length_results[lengths], _ACCEPTED_STRIP)
        skip[live] = np.where(accepted, stripped, begin[live])
    nsn = sub.length - skip
    status[live & (nsn > _MAX_NSN)] = _ERR_TOO_LONG
    status[live & (nsn < 2)] = _ERR_TOO_SHORT
    parsed.status[rows] = status
    parsed.country_code[rows] = parser.country_code
    parsed.skip[rows] = skip


def _parse_international(batch: _Batch, start: Ints) -> _Parsed:
    """Replay phonenumbers.parse("+" + digits[start:], None) on every candidate."""
    n = len(batch)
    parsed = _Parsed(
        np.full(n, _OK, dtype=np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    )
    digits = batch.length - start
    parsed.status[digits < 3] = _ERR_NOT_A_NUMBER
    one = _window(batch.value, batch.length, start, 1)
    two = _window(batch.value, batch.length, start, 2)
    three = _window(batch.value, batch.length, start, 3)
    live = parsed.status == _OK
    parsed.status[live & (one == 0)] = _ERR_COUNTRY_CODE
    live = parsed.status == _OK
    width = np.where(
        _IS_COUNTRY_CODE[one], 1, np.where(_IS_COUNTRY_CODE[two], 2, np.where(_IS_COUNTRY_CODE[three], 3, 0))
    )
    parsed.status[live & (width == 0)] = _ERR_COUNTRY_CODE
    live = parsed.status == _OK
    code = np.where(width == 1, one, np.where(width == 2, two, three))
    if not live.any():
        return parsed
    for country_code in np.unique(code[live]):
        rows = live & (code == country_code)
        parser = _main_parser(int(country_code))
        if parser is None:
            parsed.status[rows] = _SLOW
            continue
        _finish_parse(batch, start + width, parser, parsed, rows)
    return parsed


def _parse_national(batch: _Batch, region: str) -> _Parsed:
    """Replay phonenumbers.parse(digits, region) on every candidate."""
    n = len(batch)
    parser = _region_parser(region)
    if parser is None:
        return _Parsed(np.full(n, _SLOW, dtype=np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64))
    parsed = _Parsed(
        np.full(n, _OK, dtype=np.int64),
        np.full(n, parser.country_code, dtype=np.int64),
        np.zeros(n, np.int64),
    )
    zero = np.zeros(n, dtype=np.int64)
    parsed.status[batch.length < 2] = _ERR_NOT_A_NUMBER
    # a leading international dialling prefix of the region: not modelled
    parsed.status[(parsed.status == _OK) & (batch.prefix_length(parser.idd, zero) >= 0)] = _SLOW
    live = parsed.status == _OK
    start = zero.copy()
    # the region's own country code without '+': _maybe_extract_country_code
    code = str(parser.country_code)
    starts_with_code = (
        live
        & (batch.length >= len(code))
        & (_window(batch.value, batch.length, 0, len(code)) == parser.country_code)
    )
    extracted = np.zeros(n, dtype=np.bool_)
    if starts_with_code.any():
        sub = batch.subset(starts_with_code)
        potential = _strip_national_prefix(sub, np.full(len(sub), len(code), np.int64), parser)
        whole = sub.matches(parser.general, 0)
        rest = sub.matches(parser.general, potential)
        too_long = (
            parser.length_results[np.minimum(sub.length, _LENGTHS - 1)] == ValidationResult.TOO_LONG
        )
        take = (~whole & rest) | too_long
        extracted[starts_with_code] = take
        start[starts_with_code] = np.where(take, potential, 0)
    main = phonenumbers.region_code_for_country_code(parser.country_code)
    main_parser = parser if main == region else _main_parser(parser.country_code)
    if main_parser is None:
        parsed.status[extracted] = _SLOW
    elif extracted.any():
        _finish_parse(batch, start, main_parser, parsed, extracted)
    others = live & ~extracted
    if others.any():
        _finish_parse(batch, start, parser, parsed, others)
    return parsed


def _valid_for(strings: Any, checker: _Checker, skip: int, nsn_length: int) -> Bools:
    """is_valid_number_for_region for NSNs of one length that follow ``skip`` digits."""
    n = len(strings)
    union = checker.types_by_length[min(nsn_length, _LENGTHS - 1)]
    if (
        checker.general is None
        or union is None
        or (checker.general_lengths and nsn_length not in checker.general_lengths)
    ):
        return np.zeros(n, dtype=np.bool_)
    general = _match(strings, f"^.{{{skip}}}(?:{checker.general})$")
    if not general.any():
        return general
    return general & _match(strings, f"^.{{{skip}}}(?:{union})$")


def _valid_group(strings: Any, country_code: int, skip: int, nsn_length: int) -> Bools:
    """is_valid_number for NSNs of one country code and length, including region resolution."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    n = len(strings)
    if len(regions) == 1:
        checker = _checker(country_code, regions[0])
        if checker is None:
            return np.zeros(n, dtype=np.bool_)
        return _valid_for(strings, checker, skip, nsn_length)
    # region_code_for_number: the first region whose leading digits match, or (without
    # leading digits) for which the number is valid; then is_valid_number_for_region
    valid = np.zeros(n, dtype=np.bool_)
    remaining = np.arange(n, dtype=np.int64)
    for region in regions:
        if remaining.size == 0:
            break
        checker = _checker(country_code, region)
        if checker is None:
            continue
        if checker.leading_digits is not None:
            picked = _match(strings, f"^.{{{skip}}}(?:{checker.leading_digits})")
            if picked.any():
                chosen = strings.filter(pa.array(picked, type=pa.bool_()))
                valid[remaining[picked]] = _valid_for(chosen, checker, skip, nsn_length)
        else:
            picked = _valid_for(strings, checker, skip, nsn_length)
            valid[remaining[picked]] = True
        if picked.any():
            remaining = remaining[~picked]
            strings = strings.filter(pa.array(~picked, type=pa.bool_()))
    return valid


def _validate(batch: _Batch, parsed: _Parsed) -> Bools:
    """is_valid_number for every parsed candidate (status OK); False elsewhere."""
    valid = np.zeros(len(batch), dtype=np.bool_)
    ok = np.flatnonzero(parsed.status == _OK)
    if ok.size == 0:
        return valid
    nsn = batch.length[ok] - parsed.skip[ok]
    key = (parsed.country_code[ok] * 64 + parsed.skip[ok]) * 64 + nsn
    order = np.argsort(key, kind="stable")
    key = key[order]
    rows = ok[order]
    strings = batch.strings.take(pa.array(rows))
    cuts = np.flatnonzero(np.diff(key)) + 1
    bounds = zip(np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [len(key)])).tolist())
    result = np.zeros(len(rows), dtype=np.bool_)
    for begin, end in bounds:
        group = int(key[begin])
        result[begin:end] = _valid_group(
            strings.slice(begin, end - begin), group >> 12, (group >> 6) & 63, group & 63
        )
    valid[rows] = result
    return valid


@dataclass(slots=True)
class _Cleaned:
    """The column after cleaning: candidates to parse and the rows already decided."""

    batch: _Batch  # digits of every candidate ('+' written as '0')
    row: Ints  # row of each candidate
    plus: Bools  # the candidate was written with a leading '+'
    usable: Bools  # the candidate is a cleaned number (else decided or slow)
    decided_rows: list[int]
    decided_reasons: list[str]
    slow_rows: Ints


def _arrow_column(raw: pd.Series[Any] | Sequence[object]) -> Any:
    """The cells as one pyarrow large_string array (missing cells null, others str())."""
    try:
        array = pa.array(raw, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        array = None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array is None or not (
        pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    ):
        values: Iterable[object] = raw.tolist() if isinstance(raw, pd.Series) else raw
        array = pa.array(
            [None if _is_missing(v) else v if isinstance(v, str) else str(v) for v in values],
            type=pa.large_string(),
        )
    if pa.types.is_string(array.type):
        array = array.cast(pa.large_string())
    return array


def _clean_column(array: Any) -> _Cleaned:
    """Clean every cell: numpy on the Arrow bytes for plain ASCII cells, _clean() for the rest."""
    n = len(array)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    )
    first = int(offsets[0])
    data = data[first : int(offsets[-1])]
    offsets = offsets - first
    lengths = np.diff(offsets)
    missing = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)

    classes = _BYTE_CLASS[data]
    odd = np.zeros(n, dtype=np.bool_)
    odd_bytes = np.flatnonzero(classes == 2)
    if odd_bytes.size:
        odd[_rows_of(offsets, odd_bytes)] = True
    dots = np.flatnonzero(data == ord("."))
    if dots.size:
        dotted = np.unique(_rows_of(offsets, dots))
        dotted = dotted[~odd[dotted] & ~missing[dotted]]
        if dotted.size:
            odd[dotted[_match(array.take(pa.array(dotted)), _FAST_INTEGER_FLOAT)]] = True
    special = odd | missing
    keep = classes == 1
    special_rows = np.flatnonzero(special & (lengths > 0))
    if special_rows.size:
        keep[_ranges(offsets[special_rows], lengths[special_rows])] = False
    counts = np.zeros(len(data) + 1, dtype=np.int32 if len(data) < 2**31 else np.int64)
    np.cumsum(keep, dtype=counts.dtype, out=counts[1:])
    kept = (counts[offsets[1:]] - counts[offsets[:-1]]).astype(np.int64)
    digits = data[keep]
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept, out=new_offsets[1:])

    plus = np.zeros(n, dtype=np.bool_)
    bad_plus = np.zeros(n, dtype=np.bool_)
    plus_bytes = np.flatnonzero(digits == ord("+"))
    if plus_bytes.size:
        plus_rows = _rows_of(new_offsets, plus_bytes)
        leading = plus_bytes == new_offsets[plus_rows]
        bad_plus[plus_rows[~leading]] = True
        plus[plus_rows[leading]] = True
        digits[plus_bytes] = ord("0")

    decided_rows: list[int] = []
    decided_reasons: list[str] = []
    for reason, rows in (
        (EMPTY, missing | (~special & (kept == 0))),
        (NOT_A_NUMBER, ~special & (bad_plus | (plus & (kept == 1)))),
    ):
        found = np.flatnonzero(rows).tolist()
        decided_rows += found
        decided_reasons += [reason] * len(found)
    usable = ~special & (kept > 0) & ~bad_plus & ~(plus & (kept == 1))

    # cells with other characters: the reference cleaner, appended as extra candidates
    odd_rows = np.flatnonzero(odd & ~missing)
    extra_rows: list[int] = []
    extra: list[str] = []
    for row, text in zip(odd_rows.tolist(), array.take(pa.array(odd_rows)).to_pylist(), strict=True):
        cleaned, reason = _clean(text)
        if cleaned is None:
            decided_rows.append(row)
            decided_reasons.append(reason or NOT_A_NUMBER)
        else:
            extra_rows.append(row)
            extra.append(cleaned)
    if extra:
        extra_plus = np.array([text.startswith("+") for text in extra], dtype=np.bool_)
        encoded = "".join("0" + text[1:] if text[0] == "+" else text for text in extra).encode()
        extra_lengths = np.array([len(text) for text in extra], dtype=np.int64)
        digits = np.concatenate((digits, np.frombuffer(encoded, dtype=np.uint8)))
        new_offsets = np.concatenate((new_offsets, new_offsets[-1] + np.cumsum(extra_lengths)))
        plus = np.concatenate((plus, extra_plus))
        usable = np.concatenate((usable, np.ones(len(extra), dtype=np.bool_)))
    rows = np.concatenate((np.arange(n, dtype=np.int64), np.array(extra_rows, dtype=np.int64)))

    length = np.diff(new_offsets)
    too_long = usable & (length - plus > _MAX_DIGITS)
    usable &= ~too_long
    validity = pa.py_buffer(np.packbits(usable, bitorder="little"))
    strings = pa.LargeStringArray.from_buffers(
        len(rows), pa.py_buffer(new_offsets), pa.py_buffer(digits), validity
    )
    values = pc.cast(strings, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    slow_rows = rows[too_long]
    index = np.arange(len(rows), dtype=np.int64)
    return _Cleaned(
        _Batch(index, strings, length, np.asarray(values, dtype=np.int64)),
        rows,
        plus,
        usable,
        decided_rows,
        decided_reasons,
        slow_rows,
    )


def normalise_many(
    raw: pd.Series[Any] | Sequence[str | None], region: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Vectorised normalise_one: E.164 digits (int64, 0 where invalid) and reasons (None where valid).

    Gives exactly the answer of :func:`normalise_one` for every element.  The
    input may be a pandas Series of str (pyarrow-backed) or object dtype, or a
    plain sequence; missing values are "empty".
    """
    code = _canonical_region(region)
    array = _arrow_column(raw)
    n = len(array)
    numbers = np.zeros(n, dtype=np.int64)
    reasons = np.full(n, None, dtype=object)
    if n == 0:
        return numbers, reasons
    cleaned = _clean_column(array)
    for row, reason in zip(cleaned.decided_rows, cleaned.decided_reasons, strict=True):
        reasons[row] = reason
    slow: list[Ints] = [cleaned.slow_rows]

    all_candidates = cleaned.batch
    usable = cleaned.usable
    value, length = all_candidates.value, all_candidates.length
    double_zero = (~cleaned.plus) & (length >= 2) & (_window(value, length, 0, 2) == 0)
    international = usable & (cleaned.plus | double_zero)
    national_prefix = _national_prefix(code)
    national = usable & ~international
    if national_prefix is not None:
        marked = (
            national
            & (length >= len(national_prefix))
            & (_window(value, length, 0, len(national_prefix)) == int(national_prefix))
        )
    else:
        marked = np.zeros(len(all_candidates), dtype=np.bool_)

    outcomes: list[tuple[_Batch, _Parsed, Bools]] = []

    intl = all_candidates.subset(international)
    intl_parsed = _parse_international(intl, np.where(cleaned.plus[international], 1, 2))
    outcomes.append((intl, intl_parsed, _validate(intl, intl_parsed)))

    nat = all_candidates.subset(national)
    nat_parsed = _parse_national(nat, code)
    nat_valid = _validate(nat, nat_parsed)
    # bare digits (no national prefix): international first when they start with the
    # region's country code, else only when the national reading is not valid
    bare = ~marked[national]
    home_code = phonenumbers.country_code_for_region(code)
    home = (
        bare
        & (nat.length >= len(str(home_code)))
        & (_window(nat.value, nat.length, 0, len(str(home_code))) == home_code)
    )
    need = bare & (home | (~nat_valid & (nat_parsed.status != _SLOW)))
    if need.any():
        other = nat.subset(need)
        other_parsed = _parse_international(other, np.zeros(len(other), dtype=np.int64))
        other_valid = _validate(other, other_parsed)
        rows = np.flatnonzero(need)
        use = rows[other_valid]
        nat_parsed.status[use] = other_parsed.status[other_valid]
        nat_parsed.country_code[use] = other_parsed.country_code[other_valid]
        nat_parsed.skip[use] = other_parsed.skip[other_valid]
        nat_valid[use] = True
        # an international attempt that needs the slow path: so does the cell
        nat_parsed.status[rows[other_parsed.status == _SLOW]] = _SLOW
    outcomes.append((nat, nat_parsed, nat_valid))

    for batch, parsed, valid in outcomes:
        rows = cleaned.row[batch.index]
        status = parsed.status
        slow.append(rows[status == _SLOW])
        good = valid & (status == _OK)
        nsn = batch.length[good] - parsed.skip[good]
        numbers[rows[good]] = parsed.country_code[good] * _POW10[nsn] + (
            batch.value[good] % _POW10[nsn]
        )
        for error, reason in _STATUS_REASONS.items():
            reasons[rows[status == error]] = reason
        bad = ~valid & (status == _OK)
        if bad.any():
            nsn = np.minimum(batch.length[bad] - parsed.skip[bad], _LENGTHS - 1)
            key = parsed.country_code[bad] * _LENGTHS + nsn
            unique, inverse = np.unique(key, return_inverse=True)
            texts = np.array(
                [_reason_table(int(k) // _LENGTHS, code)[int(k) % _LENGTHS] for k in unique],
                dtype=object,
            )
            reasons[rows[bad]] = texts[inverse]

    slow_rows = np.unique(np.concatenate(slow))
    if slow_rows.size:
        texts = array.take(pa.array(slow_rows)).to_pylist()
        for row, text in zip(slow_rows.tolist(), texts, strict=True):
            numbers[row], reasons[row] = normalise_one(text, code)
    return numbers, reasons
