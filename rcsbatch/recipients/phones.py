"""Normalise and validate the phone numbers of a recipient column.

A recipient is written as the digits of its E.164 form without the plus
(``4917612345678``), which is how seven expects recipients.  Spreadsheet cells
hold numbers in many shapes (``+49 176 1234 5678``, ``0049 176-12345678``,
``0176 12345678`` read with a default region, ``4917612345678``), so every cell
goes through the same rules:

1. Read compatibility characters as ASCII (NFKC: full-width ``０１７６`` and
   ``＋``), drop one leading apostrophe (a spreadsheet's text marker) and strip
   visual separators (whitespace, dashes, dots, slashes, parentheses,
   brackets).  Anything else that is not a digit, apart from one leading
   ``+``, makes the cell "not a phone number".  A cell holding an
   integer-valued float (``4917612345678.0``) counts as its digits; scientific
   notation (``4.917612345678e+12``) is refused because digits were lost.
2. ``+...`` and ``00...`` are international.  A number that starts with the
   default region's national (trunk) prefix is national.  Other bare digits
   are tried as a national number of the default region first and, if that is
   not valid, as an international number (country code without ``+``); bare
   digits that start with the default region's own country code are tried the
   other way round, because phonenumbers accepts ``4917612345678`` as a (valid)
   German national number ``+49 4917612345678``.
3. Validity and the national significant number are decided by
   ``phonenumbers`` (``parse`` + ``is_valid_number``): :func:`normalise_one` is
   the reference; invalid cells get a short reason.
4. :func:`check_one` then judges a valid number by its type
   (``phonenumbers.number_type``) against the types a campaign sends to:
   landlines and the like are refused with the type as the reason, VoIP,
   personal and unknown types go with a warning, and bare digits read as a
   national number of a refused type whose international reading is allowed
   ask "did you mean +43 664 1234567?".

:func:`normalise_many` gives exactly the answers of :func:`normalise_one` for
a whole column, vectorised: cells are cleaned on the raw Arrow bytes with
numpy, the steps of ``phonenumbers.parse`` (country code extraction, national
prefix stripping, length checks) are replayed with integer arithmetic on the
digits, and ``is_valid_number`` is replayed with RE2 (``pyarrow.compute``) on
phonenumbers' own metadata patterns, one pass per country code, digits skipped
and NSN length.  Large columns are split over threads (numpy and pyarrow
release the GIL).  Cells whose shape or metadata the fast path does not model
go to :func:`normalise_one` one by one: metadata whose national prefix rule
rewrites digits (default regions AR, BR, JP, GA, MG, NF, SM, CC, CX, GG, IM,
JE and the NANPA territories such as AG or BB; country codes +54, +55, +81,
+241, +261, +378 and +672), numbers written with the default region's own
international prefix (``011...`` in the US) and cells of more than 18 digits.
:func:`check_many` is the same for :func:`check_one`: the type is decided in the
validity pass (a valid number matching only mobile's pattern is a mobile; the
other type patterns are skipped where they cannot start like the number), and
the suggested numbers are formatted with RE2 on phonenumbers' format rules.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    SUPPORTED_REGIONS,
    ValidationResult,
)

__all__ = [
    "DEFAULT_NUMBER_TYPES",
    "EMPTY",
    "FLOAT_NOTATION",
    "NOT_A_NUMBER",
    "NUMBER_TYPES",
    "PLAIN_TYPES",
    "TOO_LONG",
    "TOO_SHORT",
    "TWO_READINGS",
    "UNKNOWN_COUNTRY_CODE",
    "Check",
    "Checks",
    "check_many",
    "check_one",
    "describe_type",
    "format_international",
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
    if not text.isascii():
        # full-width digits and '+' (０１７６, ＋４９) are the ASCII ones to a reader
        text = unicodedata.normalize("NFKC", text)
    text = text.strip(_WHITESPACE)
    if text.startswith("'"):
        # a spreadsheet's text marker (rcsbatch's own CSV files write one before '+49 176 …')
        text = text[1:].strip(_WHITESPACE)
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


_Reading = tuple[int, str | None, phonenumbers.PhoneNumber | None]


def _evaluate(digits: str, parse_region: str | None, region: str) -> _Reading:
    """Parse digits (national for parse_region, else international) and judge validity:
    (E.164 digits, None, the parsed number) when valid, else (0, reason, None)."""
    try:
        number = phonenumbers.parse(digits if parse_region else "+" + digits, parse_region)
    except NumberParseException as error:
        return 0, _PARSE_ERROR_REASONS.get(error.error_type, NOT_A_NUMBER), None
    if phonenumbers.is_valid_number(number):
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        return int(e164[1:]), None, number
    country_code = number.country_code or 0
    possible = phonenumbers.is_possible_number_with_reason(number)
    return 0, _invalid_reason(country_code, possible, region), None


def _read_one(raw: object, code: str) -> tuple[_Reading, _Reading | None]:
    """The reading normalise_one gives a cell, and for bare digits read as a national number
    the valid international reading of the same digits (None when there is none)."""
    if _is_missing(raw):
        return (0, EMPTY, None), None
    cleaned, reason = _clean(raw if isinstance(raw, str) else str(raw))
    if cleaned is None:
        return (0, reason, None), None
    if cleaned.startswith("+"):
        return _evaluate(cleaned[1:], None, code), None
    if cleaned.startswith("00"):
        return _evaluate(cleaned[2:], None, code), None
    national_prefix = _national_prefix(code)
    if national_prefix is not None and cleaned.startswith(national_prefix):
        return _evaluate(cleaned, code, code), None
    # bare digits: E.164 without '+' when they start with the region's own country
    # code (4917612345678 in DE, although phonenumbers would take it as a valid
    # national number), else national first; the national reason when neither is valid
    if cleaned.startswith(str(phonenumbers.country_code_for_region(code))):
        international = _evaluate(cleaned, None, code)
        if international[1] is None:
            return international, None
        return _evaluate(cleaned, code, code), None
    national = _evaluate(cleaned, code, code)
    international = _evaluate(cleaned, None, code)
    if national[1] is None:
        return national, international if international[1] is None else None
    return (international if international[1] is None else national), None


def normalise_one(raw: str | None, region: str) -> tuple[int, str | None]:
    """Return (E.164 digits as int, None) when the cell is a valid number, else (0, reason).

    This is the reference implementation, built on phonenumbers; ``region`` is
    the default region for national numbers (ValueError when unknown).
    Missing cells (None, NaN, pd.NA) give ``(0, "empty")``; non-string cells
    are read as ``str(raw)``.  The number's type is not looked at (see
    :func:`check_one`).
    """
    (number, reason, _), _ = _read_one(raw, _canonical_region(region))
    return number, reason


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


# --------------------------------------------------------------------------- number types

#: phonenumbers' number types by the name a campaign file uses for them.
NUMBER_TYPES: Final[dict[str, int]] = {
    "mobile": PhoneNumberType.MOBILE,
    "fixed_line_or_mobile": PhoneNumberType.FIXED_LINE_OR_MOBILE,
    "fixed_line": PhoneNumberType.FIXED_LINE,
    "toll_free": PhoneNumberType.TOLL_FREE,
    "premium_rate": PhoneNumberType.PREMIUM_RATE,
    "shared_cost": PhoneNumberType.SHARED_COST,
    "uan": PhoneNumberType.UAN,
    "voicemail": PhoneNumberType.VOICEMAIL,
    "pager": PhoneNumberType.PAGER,
    "voip": PhoneNumberType.VOIP,
    "personal_number": PhoneNumberType.PERSONAL_NUMBER,
    "unknown": PhoneNumberType.UNKNOWN,
}
_TYPE_NAME: Final = {code: name for name, code in NUMBER_TYPES.items()}
#: The types a campaign sends to unless its `number_types` says otherwise: RCS reaches
#: mobile phones; the types phonenumbers cannot tell from a mobile go with a warning.
DEFAULT_NUMBER_TYPES: Final = frozenset(
    {"mobile", "fixed_line_or_mobile", "voip", "personal_number", "unknown"}
)
#: Types sent without a warning (every US and Canadian number is fixed_line_or_mobile).
PLAIN_TYPES: Final = frozenset({"mobile", "fixed_line_or_mobile"})
TWO_READINGS: Final = "two_readings"  # the warning kind of bare digits that read two ways
_DESCRIPTIONS: Final = {
    "mobile": "a mobile number",
    "fixed_line_or_mobile": "a number that may be a landline or a mobile",
    "fixed_line": "a landline number",
    "toll_free": "a freephone number",
    "premium_rate": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "uan": "a company (universal access) number",
    "voicemail": "a voicemail access number",
    "pager": "a pager number",
    "voip": "an internet telephony (VoIP) number",
    "personal_number": "a personal (forwarding) number",
    "unknown": "a number of unknown type",
}


def describe_type(name: str) -> str:
    """The type in plain words with its name, e.g. "a landline number (fixed_line)"."""
    return f"{_DESCRIPTIONS[name]} ({name})"


def type_reason(name: str) -> str:
    """Why a number of this type is not sent."""
    if name in DEFAULT_NUMBER_TYPES:
        return f"{describe_type(name)}; `number_types` leaves it out"
    return f"{describe_type(name)}; RCS reaches mobile phones"


def type_warning(name: str) -> str:
    """What to know about a number of this type that is sent."""
    return f"{describe_type(name)}: it may not receive RCS"


def _did_you_mean(name: str, region: str, other: str) -> str:
    return f"{_DESCRIPTIONS[name]} when read as a {region} number ({name}); did you mean {other}?"


def _also_reads(other: str) -> str:
    return f"the bare digits also read as {other}: write the number with + or 00 to be sure"


def _international(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def format_international(number: int) -> str:
    """A valid number given as E.164 digits in phonenumbers' INTERNATIONAL format."""
    text = str(number)
    width = 1 if _IS_COUNTRY_CODE[int(text[:1])] else 2 if _IS_COUNTRY_CODE[int(text[:2])] else 3
    nsn = text[width:]
    zeros = len(nsn) - len(nsn.lstrip("0"))
    parsed = phonenumbers.PhoneNumber(
        country_code=int(text[:width]),
        national_number=int(nsn),
        italian_leading_zero=zeros > 0 or None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )
    return _international(parsed)


@dataclass(frozen=True, slots=True)
class Check:
    """What a cell is as a recipient: its number, why it is not sent, what to know if it is.

    ``number`` is the E.164 digits of a valid number (0 when the cell is none), also when
    the number is refused for its type (``refused_type``: a capability lookup that shows
    RCS may still let it go); ``warning_kind`` is a type name or TWO_READINGS. ``other`` is
    the valid international reading of bare digits read as a national number, whatever its
    type (0 when there is none): the cell may mean either person, so a suppress list that
    holds either reading must stop it.
    """

    number: int
    reason: str | None
    warning: str | None = None
    warning_kind: str | None = None
    refused_type: bool = False
    other: int = 0


def _judge(
    number: int,
    kind: str,
    other: tuple[int, str, str] | None,
    allowed: frozenset[str],
    region: str,
) -> Check:
    """The verdict on a valid number of type ``kind``; ``other`` is the international reading
    of bare digits read nationally: (digits, type, INTERNATIONAL text)."""
    if kind not in allowed:
        if other is not None and other[1] in allowed:
            return Check(number, _did_you_mean(kind, region, other[2]), refused_type=True)
        return Check(number, type_reason(kind), refused_type=True)
    if other is not None and other[1] in allowed:
        return Check(number, None, _also_reads(other[2]), TWO_READINGS)
    if kind not in PLAIN_TYPES:
        return Check(number, None, type_warning(kind), kind)
    return Check(number, None)


def check_one(raw: object, region: str, allowed: frozenset[str] = DEFAULT_NUMBER_TYPES) -> Check:
    """The reference verdict on one cell, built on phonenumbers: normalise_one, then the number
    type (``phonenumbers.number_type``) against ``allowed`` (names of NUMBER_TYPES).

    Bare digits read as a national number of a refused type whose international reading is
    an allowed number are refused with "did you mean +43 664 1234567?"; when both readings
    are allowed the national one is sent with a warning naming the other.
    """
    code = _canonical_region(region)
    (number, reason, parsed), alternative = _read_one(raw, code)
    if parsed is None:
        return Check(0, reason)
    kind = _TYPE_NAME[phonenumbers.number_type(parsed)]
    other = None
    if alternative is not None and alternative[2] is not None:
        other_kind = _TYPE_NAME[phonenumbers.number_type(alternative[2])]
        other = (alternative[0], other_kind, _international(alternative[2]))
        return replace(_judge(number, kind, other, allowed, code), other=other[0])
    return _judge(number, kind, other, allowed, code)


# --------------------------------------------------------------------------- metadata

_MAX_NSN: Final = 17  # phonenumbers' _MAX_LENGTH_FOR_NSN
_MAX_DIGITS: Final = 18  # cells with more digits do not fit int64 arithmetic: slow path
_LEAD: Final = 16  # digits kept in _Column.lead for prefix checks
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


def _first_characters(pattern: str) -> frozenset[str] | None:
    """The characters a non-empty match of the regex can start with; None when unknown.

    Lets the fast path skip regex checks that cannot succeed (a general pattern
    that never starts with the national prefix "0").  Any construct it does not
    know makes it answer None, and the caller then runs the regex.
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        constants: Any = importlib.import_module("re._constants")
        tree = parser.parse(pattern)
    except (ImportError, re.error):
        return None
    everything = frozenset(chr(c) for c in range(128))

    def first(sequence: Any) -> tuple[frozenset[str], bool]:
        found: frozenset[str] = frozenset()
        for op, argument in sequence:
            chars, nullable = item(op, argument)
            found |= chars
            if not nullable:
                return found, False
        return found, True

    def item(op: Any, argument: Any) -> tuple[frozenset[str], bool]:
        if op is constants.LITERAL:
            return frozenset(chr(argument)), False
        if op is constants.ANY:
            return everything, False
        if op is constants.AT:
            return frozenset(), True
        if op is constants.IN:
            chars = _set_characters(constants, argument)
            return (everything if chars is None else chars), False
        if op is constants.SUBPATTERN:
            return first(argument[-1])
        if op is constants.BRANCH:
            results = [first(branch) for branch in argument[1]]
            return frozenset().union(*(r[0] for r in results)), any(r[1] for r in results)
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            chars_, nullable = first(argument[2])
            return chars_, nullable or argument[0] == 0
        raise LookupError(op)

    try:
        chars, nullable = first(tree)
    except LookupError:
        return None
    return None if nullable else chars


def _set_characters(constants: Any, argument: Any) -> frozenset[str] | None:
    """The characters a parsed `[...]` set matches; None for what this does not model (a
    negation, a category other than `\\d`, which matches the ASCII digits the checks see)."""
    chars: set[str] = set()
    for kind, value in argument:
        if kind is constants.LITERAL:
            chars.add(chr(value))
        elif kind is constants.RANGE:
            chars.update(chr(c) for c in range(value[0], value[1] + 1))
        elif kind is constants.CATEGORY and value is constants.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return frozenset(chars)


_PREFIX_DIGITS: Final = 3  # _may_start tells which NSNs of this many leading digits can match


@functools.cache
def _may_start(pattern: str) -> Bools | None:
    """Which three-digit starts a full match of the regex can have, as a table by their value;
    None when unknown (a construct it does not model).

    A type's pattern that cannot start like a number need not be run on it: a German mobile
    (176...) is never tried against the landline, premium-rate or voicemail patterns.
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        constants: Any = importlib.import_module("re._constants")
        tree = parser.parse(pattern)
    except (ImportError, re.error):
        return None
    width = _PREFIX_DIGITS
    digits = frozenset("0123456789")

    def chars_of(op: Any, argument: Any) -> frozenset[str]:
        if op is constants.LITERAL:
            return frozenset(chr(argument)) & digits
        if op is constants.ANY:
            return digits
        if op is constants.IN:
            found = _set_characters(constants, argument)
            if found is None:
                raise LookupError(op)
            return found & digits
        raise LookupError(op)

    def sequence(items: Any, states: set[str]) -> set[str]:
        for op, argument in items:
            short = {state for state in states if len(state) < width}
            if not short:
                break
            states = (states - short) | item(op, argument, short)
        return states

    def item(op: Any, argument: Any, states: set[str]) -> set[str]:
        if op is constants.AT:
            return states
        if op is constants.SUBPATTERN:
            return sequence(argument[-1], states)
        if op is constants.BRANCH:
            return set().union(*(sequence(branch, states) for branch in argument[1]))
        if op in (constants.MAX_REPEAT, constants.MIN_REPEAT):
            low, high, body = argument

            def again(current: set[str]) -> set[str]:
                short = {state for state in current if len(state) < width}
                return (current - short) | sequence(body, short)

            current = states
            for _ in range(min(low, width + 1)):
                current = again(current)
            found = set(current)
            for _ in range(min(high - low, width + 1)):
                current = again(current)
                if current <= found:
                    break
                found |= current
            return found
        chars = chars_of(op, argument)
        return {state + char for state in states for char in chars}

    try:
        ends = sequence(tree, {""})
    except LookupError:
        return None
    table = np.zeros(10**width, dtype=np.bool_)
    table[[int(state) for state in ends if len(state) == width]] = True
    return table


@dataclass(frozen=True, slots=True)
class _Parser:
    """The parts of one metadata record that phonenumbers.parse uses, for the fast path."""

    country_code: int
    general: str | None  # general_desc pattern: national_prefix stripping checks it
    general_first: frozenset[str] | None  # what a match of general can start with
    length_results: Ints
    national_prefix: _Prefix | None  # national_prefix_for_parsing
    idd: _Prefix | None  # international_prefix


def _parser_of(metadata: PhoneMetadata | None) -> _Parser | None:
    """The fast-path parser for a metadata record, None when its rules are not modelled."""
    if metadata is None or metadata.national_prefix_transform_rule:
        return None
    general = metadata.general_desc.national_number_pattern if metadata.general_desc else None
    return _Parser(
        country_code=metadata.country_code or 0,
        general=general or None,
        general_first=_first_characters(general) if general else frozenset(),
        length_results=_length_results(metadata),
        national_prefix=_Prefix.of(metadata.national_prefix_for_parsing),
        idd=_Prefix.of(metadata.international_prefix),
    )


@dataclass(frozen=True, slots=True)
class _Checker:
    """What is_valid_number and number_type check for one region (or non-geographic entity).

    The per-length tables hold, for national numbers of that length, the patterns of the
    number types whose possible lengths allow it (None when there are none).
    """

    general: str | None
    general_lengths: frozenset[int]
    types_by_length: tuple[str | None, ...]  # union of number-type patterns allowing the length
    leading_digits: str | None
    same_mobile_and_fixed_line: bool
    # number_type's order of the types before fixed_line, as (type, pattern), and their union
    specials_by_length: tuple[tuple[tuple[int, str], ...], ...]
    special_by_length: tuple[str | None, ...]
    fixed_by_length: tuple[str | None, ...]
    mobile_by_length: tuple[str | None, ...]  # None as well when mobile is fixed_line's pattern
    not_mobile_by_length: tuple[str | None, ...]  # the specials and fixed_line


def _union(patterns: Iterable[str | None]) -> str | None:
    """One regex matching what any of the patterns matches; None for no pattern."""
    return "|".join(f"(?:{p})" for p in patterns if p is not None) or None


@functools.cache
def _checker(country_code: int, region: str) -> _Checker | None:
    """Validity checker of a region, built from its phonenumbers metadata."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    general = metadata.general_desc
    same = bool(metadata.same_mobile_and_fixed_line_pattern)

    def pattern(field: str, length: int) -> str | None:
        desc = getattr(metadata, field)
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and length not in desc.possible_length:
            return None
        return str(desc.national_number_pattern)

    specials = _TYPE_FIELDS[:-1]
    by_length, by_kind, special, fixed, mobile, not_mobile = [], [], [], [], [], []
    for length in range(_LENGTHS):
        kinds = tuple(
            (int(getattr(PhoneNumberType, field.upper())), found)
            for field in specials
            if (found := pattern(field, length)) is not None
        )
        fixed_line = pattern("fixed_line", length)
        mobile_pattern = None if same else pattern("mobile", length)
        by_kind.append(kinds)
        special.append(_union(p for _, p in kinds))
        fixed.append(fixed_line)
        mobile.append(mobile_pattern)
        not_mobile.append(_union([special[-1], fixed_line]))
        by_length.append(_union([not_mobile[-1], mobile_pattern]))
    return _Checker(
        general=general.national_number_pattern or None if general is not None else None,
        general_lengths=frozenset(general.possible_length if general is not None else ()),
        types_by_length=tuple(by_length),
        leading_digits=metadata.leading_digits,
        same_mobile_and_fixed_line=same,
        specials_by_length=tuple(by_kind),
        special_by_length=tuple(special),
        fixed_by_length=tuple(fixed),
        mobile_by_length=tuple(mobile),
        not_mobile_by_length=tuple(not_mobile),
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
_FAST_INTEGER_FLOAT: Final = r"^'? *[0-9]+\.0+ *$"

_SMALL_GROUP: Final = 24  # validity of smaller groups is checked with Python's re
_CHUNK: Final = 100_000  # rows per worker thread at least
_MAX_CHUNK: Final = 250_000  # rows per chunk at most (temporaries stay small and reused)


# kinds of national prefix handling, per parser
_KIND_SLOW: Final = 0  # no parser: the slow path
_KIND_NONE: Final = 1  # no national prefix for parsing
_KIND_LITERAL: Final = 2  # one literal prefix of up to three digits: vectorised
_KIND_OTHER: Final = 3  # alternatives or a regex: handled per parser


class _Parsers:
    """The fast-path parsers in use, numbered, with per-parser tables for per-row lookups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.parsers: list[_Parser | None] = []
        self._ids: dict[tuple[str, str | int], int] = {}
        self.kind: Ints = np.zeros(0, dtype=np.int64)
        self.prefix_width: Ints = np.zeros(0, dtype=np.int64)
        self.prefix_value: Ints = np.zeros(0, dtype=np.int64)
        self.first_ok: Bools = np.zeros((0, 10), dtype=np.bool_)
        self.length_results: Ints = np.zeros((0, _LENGTHS), dtype=np.int64)
        self.by_country_code: Ints = np.full(1000, -1, dtype=np.int64)

    def _add(self, key: tuple[str, str | int], parser: _Parser | None) -> int:
        """Number a parser and extend the tables (caller holds the lock)."""
        number = len(self.parsers)
        kind, width, value = _KIND_SLOW, 0, 0
        first = np.ones(10, dtype=np.bool_)
        lengths = np.full(_LENGTHS, ValidationResult.INVALID_LENGTH, dtype=np.int64)
        if parser is not None:
            lengths = parser.length_results
            prefix = parser.national_prefix
            if prefix is None:
                kind = _KIND_NONE
            elif (
                prefix.literals is not None
                and len(prefix.literals) == 1
                and len(prefix.literals[0]) <= 3
            ):
                kind, width, value = _KIND_LITERAL, len(prefix.literals[0]), int(prefix.literals[0])
                if parser.general_first is not None:
                    first = np.array([str(d) in parser.general_first for d in range(10)])
            else:
                kind = _KIND_OTHER
        # readers use the old arrays until the new ones are complete
        self.kind = np.append(self.kind, kind)
        self.prefix_width = np.append(self.prefix_width, width)
        self.prefix_value = np.append(self.prefix_value, value)
        self.first_ok = np.vstack((self.first_ok, first[None, :]))
        self.length_results = np.vstack((self.length_results, lengths[None, :]))
        self.parsers.append(parser)
        self._ids[key] = number
        return number

    def for_region(self, region: str) -> int:
        """Id of the parser for national numbers of a default region."""
        key = ("region", region)
        if key not in self._ids:
            with self._lock:
                if key not in self._ids:
                    self._add(key, _parser_of(PhoneMetadata.metadata_for_region(region)))
        return self._ids[key]

    def for_country_code(self, country_code: int) -> int:
        """Id of the parser phonenumbers uses for a country code (its main region's)."""
        key = ("code", country_code)
        if key not in self._ids:
            with self._lock:
                if key not in self._ids:
                    main = phonenumbers.region_code_for_country_code(country_code)
                    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main)
                    number = self._add(key, _parser_of(metadata))
                    self.by_country_code[country_code] = number
        return self._ids[key]

    def for_country_codes(self, codes: Ints) -> Ints:
        """Parser ids for an array of (valid) country codes."""
        for code in _distinct(codes):
            self.for_country_code(code)
        return self.by_country_code[codes]


_PARSERS: Final = _Parsers()


def _distinct(values: Ints) -> list[int]:
    """The distinct values of a non-negative int array, sorted (bincount for small ranges)."""
    if values.size == 0:
        return []
    low, high = int(values.min()), int(values.max())
    if low == high:
        return [low]
    if high - low < 65536:
        return (np.flatnonzero(np.bincount(values - low)) + low).tolist()
    return [int(v) for v in np.unique(values)]


def _scalar_window(lead: Ints, start: int, width: int) -> Ints:
    """_window for one start: divisions by a scalar are much faster than by an array."""
    if start + width > _LEAD:
        raise AssertionError(f"digits {start}..{start + width} are beyond the lead digits")
    result = lead // int(_POW10[_LEAD - start - width])
    tens = int(_POW10[width])
    result -= (result // tens) * tens  # % is slower than // in numpy
    return result


def _window(lead: Ints, start: Ints | int, width: int) -> Ints:
    """Integer of the digits [start, start + width) of numbers given by their first 16 digits.

    Rows shorter than start + width get meaningless values: mask them.
    """
    if isinstance(start, int):
        return _scalar_window(lead, start, width)
    starts = _distinct(start)
    result = _scalar_window(lead, starts[0], width) if starts else np.zeros(0, np.int64)
    for value in starts[1:]:
        np.copyto(result, _scalar_window(lead, value, width), where=start == value)
    return result


def _rows_of(offsets: Ints, positions: Ints) -> Ints:
    """Row of each byte position, given the rows' offsets."""
    return np.searchsorted(offsets, positions, side="right").astype(np.int64) - 1


def _ranges(starts: Ints, lengths: Ints) -> Ints:
    """Concatenated aranges [start, start + length) for every pair."""
    total = int(lengths.sum())
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return shift + np.arange(total, dtype=np.int64)


def _match(strings: Any, pattern: str) -> Bools:
    """RE2 match of every string (pyarrow array) as a numpy bool array."""
    if len(strings) == 0:
        return np.zeros(0, dtype=np.bool_)
    return np.asarray(
        pc.match_substring_regex(strings, pattern).to_numpy(zero_copy_only=False),
        dtype=np.bool_,
    )


def _mask(values: Bools) -> Any:
    """A numpy bool array as a pyarrow filter."""
    return pa.array(values, type=pa.bool_())


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Python's compiled regex, for small groups."""
    return re.compile(pattern)


def _stable_order(keys: Ints) -> Ints:
    """Stable argsort of non-negative keys, as a radix sort over their dense rank.

    Stability keeps the rows of a group in column order, which keeps takes cache friendly.
    """
    distinct = _distinct(keys)
    if len(distinct) <= 1:
        return np.arange(len(keys), dtype=np.int64)
    low, high = distinct[0], distinct[-1]
    if len(distinct) >= 2**15 or high - low >= 2**22:
        return np.argsort(keys, kind="stable").astype(np.int64)
    rank = np.zeros(high - low + 1, dtype=np.int16)
    rank[np.array(distinct) - low] = np.arange(len(distinct), dtype=np.int16)
    return np.argsort(rank[keys - low], kind="stable").astype(np.int64)


def _groups(keys: Ints) -> list[tuple[int, int]]:
    """[begin, end) bounds of the runs of equal values in sorted keys."""
    cuts = (np.flatnonzero(np.diff(keys)) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(keys)], strict=True))


@dataclass(slots=True)
class _Column:
    """The cleaned candidates: digit strings ('+' written as '0'), their lengths and values."""

    strings: Any  # pyarrow large_string array (meaningless where the candidate is not usable)
    length: Ints
    value: Ints  # the digits as an integer (leading zeros are kept by length)
    lead: Ints  # the first 16 digits as an integer, right-padded with zeros


class _Rows:
    """Some candidates of a column: indices, lengths and values; strings are taken lazily."""

    __slots__ = ("_strings", "column", "index", "lead", "length", "value")

    def __init__(self, column: _Column, index: Ints) -> None:
        self.column = column
        self.index = index
        self.length: Ints = column.length[index]
        self.value: Ints = column.value[index]
        self.lead: Ints = column.lead[index]
        self._strings: Any = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def strings(self) -> Any:
        """The digit strings of these rows (pyarrow), taken from the column on first use."""
        if self._strings is None:
            self._strings = self.column.strings.take(pa.array(self.index))
        return self._strings

    def pick(self, positions: Ints) -> _Rows:
        """The rows at these positions."""
        n = len(self)
        if len(positions) == n and (n == 0 or (positions[0] == 0 and positions[-1] == n - 1)):
            return self  # positions are sorted and unique: all rows
        return _Rows(self.column, self.index[positions])

    def window(self, start: Ints | int, width: int) -> Ints:
        """Integer of the digits [start, start + width) of every row (start + width <= 16)."""
        return _window(self.lead, start, width)

    def matches(self, pattern: str | None, skip: Ints | int, *, full: bool = True) -> Bools:
        """Whether the digits after ``skip`` (per row) match the pattern (wholly or as a prefix)."""
        n = len(self)
        if pattern is None or n == 0:
            return np.zeros(n, dtype=np.bool_)
        end = "$" if full else ""
        values = [skip] if isinstance(skip, int) else _distinct(skip)
        if len(values) == 1:
            return _match(self.strings, f"^.{{{values[0]}}}(?:{pattern}){end}")
        result = np.zeros(n, dtype=np.bool_)
        for value in values:
            rows = np.asarray(skip == value, dtype=np.bool_)
            strings = self.strings.filter(_mask(rows))
            result[rows] = _match(strings, f"^.{{{value}}}(?:{pattern}){end}")
        return result

    def prefix_length(self, prefix: _Prefix | None, start: Ints | int) -> Ints:
        """Length of the prefix matched at ``start`` (per row), -1 where it does not match."""
        result = np.full(len(self), -1, dtype=np.int64)
        if prefix is None or len(self) == 0:
            return result
        if prefix.literals is not None:
            for literal in prefix.literals:
                width = len(literal)
                hit = (
                    (result < 0)
                    & (self.length - start >= width)
                    & (self.window(start, width) == int(literal))
                )
                result[hit] = width
            return result
        starts = np.broadcast_to(np.asarray(start, dtype=np.int64), (len(self),))
        for value in _distinct(starts):
            rows = (starts == value) & (self.length > value)
            if not rows.any():
                continue
            strings = self.strings.filter(_mask(rows))
            found = pc.extract_regex(strings, f"^.{{{value}}}(?P<p>{prefix.pattern})")
            # a non-match is a null struct (its child value is not null): mask explicitly
            lengths = pc.if_else(found.is_null(), -1, pc.binary_length(found.field("p")))
            result[rows] = np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
        return result


@dataclass(slots=True)
class _Parsed:
    """Outcome of replaying phonenumbers.parse per row.

    ``status`` is _OK, _SLOW or an _ERR_ code; for _OK rows ``country_code`` is the
    number's country code and ``skip`` the count of characters before its NSN;
    ``zeros`` marks rows whose skipped characters are one or two zeros ('+' is
    written as '0') and the country code, which _validate checks together.
    """

    status: Ints
    country_code: Ints
    skip: Ints
    zeros: Bools

    def subset(self, rows: Bools) -> _Parsed:
        """The outcomes of some rows."""
        return _Parsed(
            self.status[rows], self.country_code[rows], self.skip[rows], self.zeros[rows]
        )


def _strip_national_prefix(rows: _Rows, start: Ints, parser: _Parser) -> Ints:
    """Replay _maybe_strip_national_prefix_carrier_code: where the number begins afterwards.

    The prefix is kept only when the whole number matches the general pattern
    and the rest does not.
    """
    found = rows.prefix_length(parser.national_prefix, start)
    result = start.copy()
    hit = np.flatnonzero(found >= 0)
    if hit.size:
        sub = rows.pick(hit)
        before = start[hit]
        after = before + found[hit]
        viable = sub.matches(parser.general, before)
        still = sub.matches(parser.general, after)
        result[hit] = np.where(viable & ~still, before, after)
    return result


def _strip_literal_prefix(
    rows: _Rows, begin: Ints, parser_id: Ints, literal: Ints, skip: Ints
) -> None:
    """_finish_parse for rows whose parser has one literal national prefix (sets ``skip``).

    The prefix is stripped where present, and kept only when the whole number
    matches the general pattern and the rest does not; the stripped number is
    used when its length is possible.
    """
    tables = _PARSERS
    ids = parser_id[literal]
    width = tables.prefix_width[ids]
    start = begin[literal]
    lead = rows.lead[literal]
    value = tables.prefix_value[ids]
    found = np.zeros(literal.size, dtype=np.bool_)
    for size in _distinct(width):
        found |= (width == size) & (_window(lead, start, size) == value)
    found &= rows.length[literal] - start >= width
    hit = literal[found]
    if not hit.size:
        return
    ids, start, width = ids[found], start[found], width[found]
    stripped = start + width
    # the whole number cannot match a general pattern that never starts like it
    maybe = np.flatnonzero(tables.first_ok[ids, _window(lead[found], start, 1)])
    if maybe.size:
        order = maybe[_stable_order(ids[maybe])]
        for first, last in _groups(ids[order]):
            group = order[first:last]
            parser = tables.parsers[int(ids[group[0]])]
            assert parser is not None
            sub = rows.pick(hit[group])
            viable = sub.matches(parser.general, start[group])
            still = sub.matches(parser.general, stripped[group])
            stripped[group] = np.where(viable & ~still, start[group], stripped[group])
    nsn = np.minimum(rows.length[hit] - stripped, _LENGTHS - 1)
    accepted = np.isin(tables.length_results[ids, nsn], _ACCEPTED_STRIP)
    skip[hit[accepted]] = stripped[accepted]


def _finish_parse(rows: _Rows, begin: Ints, parser_id: Ints) -> tuple[Ints, Ints]:
    """Replay the end of phonenumbers.parse for NSNs starting at ``begin``: (status, skip).

    ``parser_id`` says per row which metadata phonenumbers parses with.
    """
    tables = _PARSERS
    status = np.zeros(len(rows), dtype=np.int64)
    status[rows.length - begin < 2] = _ERR_TOO_SHORT
    kind = tables.kind[parser_id]
    status[(status == _OK) & (kind == _KIND_SLOW)] = _SLOW
    skip = begin.copy()
    live = status == _OK

    # one literal national prefix (most regions): vectorised over all parsers
    literal = np.flatnonzero(live & (kind == _KIND_LITERAL))
    if literal.size:
        _strip_literal_prefix(rows, begin, parser_id, literal, skip)

    # anything else: per parser, with the general replay
    other = np.flatnonzero(live & (kind == _KIND_OTHER))
    if other.size:
        order = other[_stable_order(parser_id[other])]
        for first, last in _groups(parser_id[order]):
            group = order[first:last]
            parser = tables.parsers[int(parser_id[group[0]])]
            assert parser is not None
            sub = rows.pick(group)
            stripped = _strip_national_prefix(sub, begin[group], parser)
            nsn = np.minimum(sub.length - stripped, _LENGTHS - 1)
            accepted = np.isin(parser.length_results[nsn], _ACCEPTED_STRIP)
            skip[group[accepted]] = stripped[accepted]

    nsn_length = rows.length - skip
    status[live & (nsn_length > _MAX_NSN)] = _ERR_TOO_LONG
    status[live & (nsn_length < 2)] = _ERR_TOO_SHORT
    status[live & (skip >= 32)] = _SLOW  # beyond the group keys of _validate
    return status, skip


def _parse_international(rows: _Rows, start: Ints) -> _Parsed:
    """Replay phonenumbers.parse("+" + digits[start:], None) on every row."""
    status = np.zeros(len(rows), dtype=np.int64)
    status[rows.length - start < 3] = _ERR_NOT_A_NUMBER
    three = rows.window(start, 3)
    one, two = three // 100, three // 10
    width = np.where(
        _IS_COUNTRY_CODE[one],
        1,
        np.where(_IS_COUNTRY_CODE[two], 2, np.where(_IS_COUNTRY_CODE[three], 3, 0)),
    )
    width[one == 0] = 0
    status[(status == _OK) & (width == 0)] = _ERR_COUNTRY_CODE
    code = np.where(width == 1, one, np.where(width == 2, two, three))
    live = status == _OK
    code[~live] = 0
    parser_id = np.zeros(len(rows), dtype=np.int64)
    parser_id[live] = _PARSERS.for_country_codes(code[live])
    skip = start + width
    index = np.flatnonzero(live)
    status[index], skip[index] = _finish_parse(rows.pick(index), skip[index], parser_id[index])
    zeros = (start > 0) & (skip == start + width)
    return _Parsed(status, code, skip, zeros)


def _parse_national(rows: _Rows, region: str) -> _Parsed:
    """Replay phonenumbers.parse(digits, region) on every row."""
    n = len(rows)
    region_id = _PARSERS.for_region(region)
    parser = _PARSERS.parsers[region_id]
    if parser is None:
        nothing = np.zeros(n, np.int64)
        return _Parsed(np.full(n, _SLOW, dtype=np.int64), nothing, nothing, nothing == 1)
    status = np.zeros(n, dtype=np.int64)
    skip = np.zeros(n, dtype=np.int64)
    status[rows.length < 2] = _ERR_NOT_A_NUMBER
    # a leading international dialling prefix of the region: not modelled
    status[(status == _OK) & (rows.prefix_length(parser.idd, 0) >= 0)] = _SLOW
    # the region's own country code without '+' (phonenumbers' _maybe_extract_country_code)
    code = str(parser.country_code)
    starts = (
        (status == _OK)
        & (rows.length >= len(code))
        & (rows.window(0, len(code)) == parser.country_code)
    )
    parser_id = np.full(n, region_id, dtype=np.int64)
    hit = np.flatnonzero(starts)
    if hit.size:
        sub = rows.pick(hit)
        potential = _strip_national_prefix(sub, np.full(len(sub), len(code), np.int64), parser)
        whole = sub.matches(parser.general, 0)
        rest = sub.matches(parser.general, potential)
        too_long = (
            parser.length_results[np.minimum(sub.length, _LENGTHS - 1)] == ValidationResult.TOO_LONG
        )
        take = (~whole & rest) | too_long
        skip[hit[take]] = potential[take]
        # phonenumbers then parses with the metadata of the code's main region
        if phonenumbers.region_code_for_country_code(parser.country_code) != region:
            parser_id[hit[take]] = _PARSERS.for_country_code(parser.country_code)
    index = np.flatnonzero(status == _OK)
    status[index], skip[index] = _finish_parse(rows.pick(index), skip[index], parser_id[index])
    code_array = np.full(n, parser.country_code, dtype=np.int64)
    return _Parsed(status, code_array, skip, np.zeros(n, dtype=np.bool_))


class _Matcher:
    """Regex checks over a group's strings: RE2 (pyarrow) for big groups, re for small ones."""

    def __init__(self, strings: Any) -> None:
        self.small = len(strings) < _SMALL_GROUP
        self.strings: Any = strings.to_pylist() if self.small else strings

    def __len__(self) -> int:
        return len(self.strings)

    def match(self, pattern: str) -> Bools:
        """Whether each string matches the (anchored) pattern."""
        if not self.small:
            return _match(self.strings, pattern)
        compiled = _compiled(pattern)
        return np.array([compiled.match(s) is not None for s in self.strings], dtype=np.bool_)

    def slice(self, begin: int, end: int) -> _Matcher:
        """The strings [begin, end)."""
        chosen = _Matcher.__new__(_Matcher)
        chosen.small = self.small
        if self.small:
            chosen.strings = self.strings[begin:end]
        else:
            chosen.strings = self.strings.slice(begin, end - begin)
        return chosen

    def select(self, rows: Bools) -> _Matcher:
        """The strings where rows is true."""
        if rows.all():
            return self
        chosen = _Matcher.__new__(_Matcher)
        chosen.small = self.small
        if not rows.any():
            chosen.strings = [] if self.small else self.strings.slice(0, 0)
        elif self.small:
            chosen.strings = [s for s, k in zip(self.strings, rows.tolist(), strict=True) if k]
        else:
            chosen.strings = self.strings.filter(_mask(rows))
        return chosen


def _valid_for(
    strings: _Matcher,
    checker: _Checker,
    prefix: str,
    nsn_length: int,
    general: Bools | None = None,
) -> Bools:
    """is_valid_number_for_region for NSNs of one length after the regex ``prefix``.

    ``general``, when given, is the general pattern's result already computed.
    """
    union = checker.types_by_length[min(nsn_length, _LENGTHS - 1)]
    if (
        checker.general is None
        or union is None
        or (checker.general_lengths and nsn_length not in checker.general_lengths)
    ):
        return np.zeros(len(strings), dtype=np.bool_)
    if general is None:
        general = strings.match(f"{prefix}(?:{checker.general})$")
    if not general.any():
        return general
    return general & strings.match(f"{prefix}(?:{union})$")


def _typed_for(
    strings: _Matcher,
    checker: _Checker,
    prefix: str,
    nsn_length: int,
    general: Bools | None = None,
    starts: Ints | None = None,
) -> tuple[Bools, Ints]:
    """_valid_for, and number_type (PhoneNumberType values) of the valid numbers.

    Valid numbers match some type's pattern, so a number that matches the general pattern
    and mobile's but no other type's is a valid mobile: for the usual column of mobiles that
    is one pass more than validity alone, and only the rest is tried type by type in
    number_type's order.  ``starts``, the first three NSN digits of each number (-1 when
    unknown), spare the passes of patterns that cannot start like the number.
    """
    n = len(strings)
    length = min(nsn_length, _LENGTHS - 1)
    valid = np.zeros(n, dtype=np.bool_)
    kinds = np.full(n, int(PhoneNumberType.UNKNOWN), dtype=np.int64)
    if (
        checker.general is None
        or checker.types_by_length[length] is None
        or (checker.general_lengths and nsn_length not in checker.general_lengths)
    ):
        return valid, kinds
    if general is None:
        general = strings.match(f"{prefix}(?:{checker.general})$")

    def matching(chosen: _Matcher, rows: Ints, pattern: str | None) -> Bools:
        """Which of the strings (at ``rows``) match the pattern wholly."""
        if pattern is None or not len(chosen):
            return np.zeros(len(chosen), dtype=np.bool_)
        table = _may_start(pattern) if starts is not None and nsn_length >= 3 else None
        if table is None or starts is None:
            return chosen.match(f"{prefix}(?:{pattern})$")
        first = starts[rows]
        maybe = (first < 0) | table[np.maximum(first, 0)]
        found = np.zeros(len(chosen), dtype=np.bool_)
        if maybe.all():
            found = chosen.match(f"{prefix}(?:{pattern})$")
        elif maybe.any():
            found[maybe] = chosen.select(maybe).match(f"{prefix}(?:{pattern})$")
        return found

    rest = np.flatnonzero(general)
    strings = strings.select(general)
    other = matching(strings, rest, checker.not_mobile_by_length[length])
    if not checker.same_mobile_and_fixed_line:
        maybe = ~other
        mobile = matching(strings.select(maybe), rest[maybe], checker.mobile_by_length[length])
        valid[rest[maybe][mobile]] = True
        kinds[rest[maybe][mobile]] = PhoneNumberType.MOBILE
    rest, strings = rest[other], strings.select(other)
    valid[rest] = True
    special = matching(strings, rest, checker.special_by_length[length])
    plain = ~special
    if checker.same_mobile_and_fixed_line:
        kinds[rest[plain]] = PhoneNumberType.FIXED_LINE_OR_MOBILE
    elif plain.any():
        mobile = matching(strings.select(plain), rest[plain], checker.mobile_by_length[length])
        kinds[rest[plain]] = np.where(
            mobile, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.FIXED_LINE
        )
    rest, strings = rest[special], strings.select(special)
    for kind, pattern in checker.specials_by_length[length]:
        if not len(strings):
            break
        hit = matching(strings, rest, pattern)
        kinds[rest[hit]] = kind
        rest, strings = rest[~hit], strings.select(~hit)
    return valid, kinds


def _at(values: Ints | None, begin: Ints | int, end: int | None = None) -> Ints | None:
    """values[begin:end] (or values[begin] for an index array), None for None."""
    if values is None:
        return None
    if isinstance(begin, int):
        return values[begin:end]
    return values[begin]


def _valid_group(
    strings: _Matcher,
    country_code: int,
    prefix: str,
    nsn_length: int,
    typed: bool = False,
    starts: Ints | None = None,
) -> tuple[Bools, Ints]:
    """is_valid_number for NSNs of one country code and length, including region resolution,
    and with ``typed`` number_type of the valid ones (UNKNOWN elsewhere)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    n = len(strings)
    # region_code_for_number: the first region whose leading digits match, or (without
    # leading digits) for which the number is valid; then is_valid_number_for_region
    valid = np.zeros(n, dtype=np.bool_)
    kinds = np.full(n, int(PhoneNumberType.UNKNOWN), dtype=np.int64)
    remaining = np.arange(n, dtype=np.int64)
    for region in regions:
        if remaining.size == 0:
            break
        checker = _checker(country_code, region)
        if checker is None:
            continue
        if checker.leading_digits is not None:
            picked = strings.match(f"{prefix}(?:{checker.leading_digits})")
            if picked.any():
                chosen = strings.select(picked)
                if typed:
                    at = remaining[picked]
                    found, kind = _typed_for(
                        chosen, checker, prefix, nsn_length, None, _at(starts, at)
                    )
                    kinds[at] = kind
                else:
                    found = _valid_for(chosen, checker, prefix, nsn_length)
                valid[remaining[picked]] = found
        elif typed:
            picked, kind = _typed_for(
                strings, checker, prefix, nsn_length, None, _at(starts, remaining)
            )
            valid[remaining[picked]] = True
            kinds[remaining[picked]] = kind[picked]
        else:
            picked = _valid_for(strings, checker, prefix, nsn_length)
            valid[remaining[picked]] = True
        if picked.any():
            remaining = remaining[~picked]
            strings = strings.select(~picked)
    return valid, kinds


def _validate(rows: _Rows, parsed: _Parsed, typed: bool = False) -> tuple[Bools, Ints]:
    """is_valid_number for every parsed row (status OK); False elsewhere.  With ``typed``,
    also number_type (PhoneNumberType values) of the valid rows; UNKNOWN elsewhere.

    Rows are sorted by country code, characters skipped before the NSN and NSN
    length; each run of one country code and skip gets one general-pattern pass,
    each length within it one pass of the union of the number-type patterns.
    """
    valid = np.zeros(len(rows), dtype=np.bool_)
    kinds = np.full(len(rows), int(PhoneNumberType.UNKNOWN), dtype=np.int64)
    ok = np.flatnonzero(parsed.status == _OK)
    if ok.size == 0:
        return valid, kinds
    nsn = rows.length[ok] - parsed.skip[ok]
    skip = np.where(parsed.zeros[ok], 31, parsed.skip[ok])  # 31: '0' or '00', then the code
    key = (parsed.country_code[ok] * 32 + skip) * 32 + nsn
    order = _stable_order(key)
    key = key[order]
    positions = ok[order]
    strings = rows.column.strings.take(pa.array(rows.index[positions]))
    result = np.zeros(len(positions), dtype=np.bool_)
    result_kinds = np.full(len(positions), int(PhoneNumberType.UNKNOWN), dtype=np.int64)
    starts = None
    if typed:
        # the first three digits of each NSN (-1 for shorter ones)
        after = rows.length[positions] - parsed.skip[positions] - _PREFIX_DIGITS
        first = rows.value[positions] // _POW10[np.maximum(after, 0)] % 10**_PREFIX_DIGITS
        starts = np.where(after >= 0, first, -1)
    lengths = _groups(key)
    at = 0  # the first length run of the current (country code, skip) run
    for begin, end in _groups(key >> 5):
        group = int(key[begin])
        country_code, skipped = group >> 10, (group >> 5) & 31
        prefix = f"^0{{1,2}}{country_code}" if skipped == 31 else f"^.{{{skipped}}}"
        matcher = _Matcher(strings.slice(begin, end - begin))
        parts = []
        while at < len(lengths) and lengths[at][0] < end:
            parts.append(lengths[at])
            at += 1
        regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
        checker = _checker(country_code, regions[0]) if len(regions) == 1 else None
        general = None
        if checker is not None and checker.general is not None:
            general = matcher.match(f"{prefix}(?:{checker.general})$")
        for b, e in parts:
            part = matcher.slice(b - begin, e - begin)
            nsn_length = int(key[b]) & 31
            if len(regions) != 1:
                result[b:e], result_kinds[b:e] = _valid_group(
                    part, country_code, prefix, nsn_length, typed, _at(starts, b, e)
                )
            elif checker is not None and general is not None:
                known = general[b - begin : e - begin]
                if typed:
                    result[b:e], result_kinds[b:e] = _typed_for(
                        part, checker, prefix, nsn_length, known, _at(starts, b, e)
                    )
                else:
                    result[b:e] = _valid_for(part, checker, prefix, nsn_length, known)
    valid[positions] = result
    kinds[positions] = result_kinds
    return valid, kinds


def _country_codes(numbers: Ints) -> tuple[Ints, Ints]:
    """Country code and its width in digits of valid numbers given as E.164 digits."""
    length = np.searchsorted(_POW10, numbers, side="right").astype(np.int64)
    three = numbers // _POW10[np.maximum(length - 3, 0)]
    one, two = three // 100, three // 10
    width = np.where(_IS_COUNTRY_CODE[one], 1, np.where(_IS_COUNTRY_CODE[two], 2, 3))
    return np.where(width == 1, one, np.where(width == 2, two, three)), width


def _international_many(numbers: Ints) -> Any:
    """format_international for many valid numbers, as a pyarrow string array: each country
    code's formatting rules (phonenumbers' _choose_formatting_pattern_for_number) replayed with
    RE2, the first rule whose leading digits and pattern fit the NSN rewriting it."""
    codes, _ = _country_codes(numbers)
    pieces: list[Any] = []
    placed: list[Ints] = []
    for code in _distinct(codes):
        rows = np.flatnonzero(codes == code)
        main = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, main.upper())
        if len(rows) < _SMALL_GROUP or metadata is None:
            texts = [format_international(int(n)) for n in numbers[rows].tolist()]
            pieces.append(pa.array(texts, pa.string()))
            placed.append(rows)
            continue
        nsn = pc.utf8_slice_codeunits(pc.cast(pa.array(numbers[rows]), pa.string()), len(str(code)))
        head = f"+{code} "
        remaining = np.arange(len(rows), dtype=np.int64)
        for rule in metadata.intl_number_format or metadata.number_format:
            if remaining.size == 0:
                break
            some = nsn.take(pa.array(remaining))
            hit = _match(some, f"^(?:{rule.pattern})$")
            if rule.leading_digits_pattern:
                hit &= _match(some, f"^(?:{rule.leading_digits_pattern[-1]})")
            if not hit.any():
                continue
            shaped = pc.replace_substring_regex(some.filter(_mask(hit)), rule.pattern, rule.format)
            pieces.append(pc.binary_join_element_wise(head, shaped, ""))
            placed.append(rows[remaining[hit]])
            remaining = remaining[~hit]
        if remaining.size:  # no rule fits: the NSN as it is
            pieces.append(pc.binary_join_element_wise(head, nsn.take(pa.array(remaining)), ""))
            placed.append(rows[remaining])
    if not pieces:
        return pa.array([], pa.string())
    order = np.empty(len(numbers), dtype=np.int64)
    order[np.concatenate(placed)] = np.arange(len(numbers), dtype=np.int64)
    return pa.concat_arrays([piece.cast(pa.string()) for piece in pieces]).take(pa.array(order))


@dataclass(slots=True)
class _Cleaned:
    """The column after cleaning: candidates to parse and the rows already decided."""

    column: _Column  # every candidate's digits ('+' written as '0')
    row: Ints  # row of each candidate
    plus: Bools  # the candidate was written with a leading '+'
    usable: Bools  # the candidate is a cleaned number (else decided or slow)
    decided_rows: list[int]
    decided_reasons: list[str]
    slow_rows: Ints


def _as_text(value: object) -> str | None:
    """A cell as normalise_one reads it: None when missing, else its text."""
    if _is_missing(value):
        return None
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates: not a phone number, whatever else is there
        return "\x00"
    return text


def _arrow_column(raw: pd.Series[Any] | Sequence[object]) -> Any:
    """The cells as one pyarrow large_string array (missing cells null, others str())."""
    try:
        array = pa.array(raw, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):  # mixed, surrogates
        array = None
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array is None or not (
        pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
    ):
        values: Iterable[object] = raw.tolist() if isinstance(raw, pd.Series) else raw
        array = pa.array([_as_text(value) for value in values], type=pa.large_string())
    if pa.types.is_string(array.type):
        array = array.cast(pa.large_string())
    return array


def _clean_column(array: Any) -> _Cleaned:
    """Clean every cell: numpy on the Arrow bytes for plain ASCII cells, _clean() for the rest."""
    n = len(array)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    first = int(offsets[0])
    data = data[first : int(offsets[-1])]
    offsets = offsets - first
    lengths = np.diff(offsets)
    missing = np.zeros(n, dtype=np.bool_)
    if array.null_count:
        missing = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)

    # cells with bytes other than digits, '+' and " -./()", and dotted cells that may be
    # integer-valued floats, are cleaned by _clean() (they become extra candidates)
    classes = _BYTE_CLASS[data]
    # a leading apostrophe (a spreadsheet's text marker) is dropped like a separator
    quoted = np.flatnonzero(lengths > 0)
    quoted = offsets[quoted[data[offsets[quoted]] == ord("'")]]
    classes[quoted] = 0
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
    kept = np.zeros(n, dtype=np.int64)
    filled = np.flatnonzero(lengths > 0)
    if filled.size:
        # empty rows would confuse reduceat (it yields keep[start] for them): skip them
        kept[filled] = np.add.reduceat(keep.view(np.uint8), offsets[filled], dtype=np.int32)
    digits = data[keep]
    new_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(kept, out=new_offsets[1:])

    # a '+' is only allowed as the first character; it is written as '0'
    plus = np.zeros(n, dtype=np.bool_)
    bad_plus = np.zeros(n, dtype=np.bool_)
    plus_bytes = np.flatnonzero(digits == ord("+"))
    if plus_bytes.size:
        starts = np.flatnonzero(kept > 0)
        plus[starts] = digits[new_offsets[starts]] == ord("+")
        if plus_bytes.size != np.count_nonzero(plus):
            plus_rows = _rows_of(new_offsets, plus_bytes)
            bad_plus[plus_rows[plus_bytes != new_offsets[plus_rows]]] = True
            plus &= ~bad_plus
        digits[plus_bytes] = ord("0")

    decided_rows: list[int] = []
    decided_reasons: list[str] = []
    single_plus = plus & (kept == 1)
    for reason, rows in (
        (EMPTY, missing | (~special & (kept == 0))),
        (NOT_A_NUMBER, ~special & (bad_plus | single_plus)),
    ):
        found = np.flatnonzero(rows).tolist()
        decided_rows += found
        decided_reasons += [reason] * len(found)
    usable = ~special & (kept > 0) & ~bad_plus & ~single_plus

    odd_rows = np.flatnonzero(odd & ~missing)
    extra_rows: list[int] = []
    extra: list[str] = []
    texts = array.take(pa.array(odd_rows)).to_pylist()
    for row, text in zip(odd_rows.tolist(), texts, strict=True):
        cleaned, why = _clean(text)
        if cleaned is None:
            decided_rows.append(row)
            decided_reasons.append(why or NOT_A_NUMBER)
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
    offsets_buffer, digits_buffer = pa.py_buffer(new_offsets), pa.py_buffer(digits)
    strings = pa.LargeStringArray.from_buffers(len(rows), offsets_buffer, digits_buffer)
    # unusable candidates (too long, stray '+') are null for the cast only; takes are
    # faster without a validity bitmap, and only usable candidates are ever taken
    validity = pa.py_buffer(np.packbits(usable, bitorder="little"))
    castable = pa.LargeStringArray.from_buffers(len(rows), offsets_buffer, digits_buffer, validity)
    values = pc.cast(castable, pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    value = np.asarray(values, dtype=np.int64)
    lead = value * _POW10[np.maximum(_LEAD - length, 0)]
    longer = np.flatnonzero(usable & (length > _LEAD))
    lead[longer] = value[longer] // _POW10[length[longer] - _LEAD]
    return _Cleaned(
        _Column(strings, length, value, lead),
        rows,
        plus,
        usable,
        decided_rows,
        decided_reasons,
        rows[too_long],
    )


@dataclass(slots=True)
class _Found:
    """The fast path's answers for one chunk, per row; ``slow`` rows are left to the reference.

    ``kinds`` is the number type of valid numbers; ``others`` the valid international reading
    of bare digits read as a national number (0 where there is none) and ``other_kinds`` its
    type: both only when asked for (``typed``).
    """

    numbers: Ints
    reasons: npt.NDArray[np.object_]
    kinds: Ints
    others: Ints
    other_kinds: Ints
    slow: Ints


def _fast_path(array: Any, region: str, typed: bool = False) -> _Found:
    """normalise_many on one chunk (with ``typed``, also the types and the other reading of
    bare digits, as _read_one gives it), except the cells it returns for the reference."""
    n = len(array)
    unknown = int(PhoneNumberType.UNKNOWN)
    numbers = np.zeros(n, dtype=np.int64)
    kinds = np.full(n, unknown, dtype=np.int64)
    others = np.zeros(n, dtype=np.int64)
    other_kinds = np.full(n, unknown, dtype=np.int64)
    reasons = np.full(n, None, dtype=object)
    cleaned = _clean_column(array)
    reasons[cleaned.decided_rows] = np.array(cleaned.decided_reasons, dtype=object)
    column = cleaned.column
    count = len(cleaned.row)
    status = np.full(count, -1, dtype=np.int64)  # -1: not a candidate
    country_code = np.zeros(count, dtype=np.int64)
    skip = np.zeros(count, dtype=np.int64)
    valid = np.zeros(count, dtype=np.bool_)
    kind = np.full(count, unknown, dtype=np.int64)

    def attempt(index: Ints, start: Ints | None) -> tuple[_Parsed, Bools, Ints]:
        """Parse (international from ``start``, else national) and validate some candidates."""
        rows = _Rows(column, index)
        parsed = (
            _parse_national(rows, region) if start is None else _parse_international(rows, start)
        )
        return parsed, *_validate(rows, parsed, typed)

    def record(index: Ints, parsed: _Parsed, ok: Bools, types: Ints) -> None:
        """Make these outcomes the candidates' answers."""
        status[index] = parsed.status
        country_code[index] = parsed.country_code
        skip[index] = parsed.skip
        valid[index] = ok
        kind[index] = types

    length, lead, plus, usable = column.length, column.lead, cleaned.plus, cleaned.usable
    international = usable & (plus | ((length >= 2) & (_window(lead, 0, 2) == 0)))
    bare = usable & ~international
    trunk = _national_prefix(region)
    marked = np.zeros(count, dtype=np.bool_)
    if trunk is not None:
        marked = bare & (length >= len(trunk)) & (_window(lead, 0, len(trunk)) == int(trunk))
        bare &= ~marked
    home_code = phonenumbers.country_code_for_region(region)
    width = len(str(home_code))
    home = bare & (length >= width) & (_window(lead, 0, width) == home_code)
    bare &= ~home

    # '+' / '00' forms, and bare digits starting with the region's country code: international
    first = np.flatnonzero(international | home)
    start = np.where(plus[first], 1, np.where(international[first], 2, 0))
    parsed, ok, types = attempt(first, start)
    record(first, parsed, ok, types)
    # national prefix, other bare digits, and home-code digits that are no valid
    # international number: national
    retry = np.zeros(count, dtype=np.bool_)
    retry[first[home[first] & ~ok & (parsed.status != _SLOW)]] = True
    second = np.flatnonzero(marked | bare | retry)
    parsed, ok, types = attempt(second, None)
    record(second, parsed, ok, types)
    national = second[bare[second] & ok]
    # other bare digits that are no valid national number: international
    third = second[bare[second] & ~ok & (parsed.status != _SLOW)]
    if third.size:
        parsed, ok, types = attempt(third, np.zeros(len(third), dtype=np.int64))
        record(third[ok], parsed.subset(ok), ok[ok], types[ok])
        status[third[parsed.status == _SLOW]] = _SLOW

    rows = cleaned.row
    slow = [cleaned.slow_rows, rows[status == _SLOW]]
    if typed and national.size:
        parsed, ok, types = attempt(national, np.zeros(len(national), dtype=np.int64))
        found, parsed_ok = national[ok], parsed.subset(ok)
        nsn = length[found] - parsed_ok.skip
        others[rows[found]] = (
            parsed_ok.country_code * _POW10[nsn] + column.value[found] % _POW10[nsn]
        )
        other_kinds[rows[found]] = types[ok]
        slow.append(rows[national[parsed.status == _SLOW]])
    good = np.flatnonzero(valid & (status == _OK))
    nsn = length[good] - skip[good]
    numbers[rows[good]] = country_code[good] * _POW10[nsn] + column.value[good] % _POW10[nsn]
    kinds[rows[good]] = kind[good]
    for error, reason in _STATUS_REASONS.items():
        reasons[rows[status == error]] = reason
    bad = np.flatnonzero(~valid & (status == _OK))
    if bad.size:
        key = country_code[bad] * _LENGTHS + np.minimum(length[bad] - skip[bad], _LENGTHS - 1)
        unique, inverse = np.unique(key, return_inverse=True)
        texts = np.array(
            [_reason_table(int(k) // _LENGTHS, region)[int(k) % _LENGTHS] for k in unique],
            dtype=object,
        )
        reasons[rows[bad]] = texts[inverse]
    return _Found(numbers, reasons, kinds, others, other_kinds, np.unique(np.concatenate(slow)))


def _workers(rows: int) -> int:
    """Threads worth using for a column of this many rows."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, rows // _CHUNK))


def normalise_many(
    raw: pd.Series[Any] | Sequence[str | None], region: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Vectorised normalise_one: int64 E.164 digits (0 if invalid), object reasons (None if valid).

    Gives exactly the answer of :func:`normalise_one` for every element.  The
    input may be a pandas Series of str (pyarrow-backed) or object dtype, or a
    plain sequence; missing values are "empty".  Large columns are split over
    the CPUs (numpy and pyarrow release the GIL).
    """
    code = _canonical_region(region)
    array = _arrow_column(raw)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.full(0, None, dtype=object)
    workers = _workers(n)
    pieces = max(workers, -(-n // _MAX_CHUNK))
    pieces = -(-pieces // workers) * workers
    bounds = [n * i // pieces for i in range(pieces + 1)]
    chunks = [array.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    if workers == 1:
        results = [_fast_path(chunk, code) for chunk in chunks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(_fast_path, chunks, [code] * pieces))
    numbers = np.concatenate([r.numbers for r in results])
    reasons = np.concatenate([r.reasons for r in results])
    slow_rows = np.concatenate([r.slow + a for r, a in zip(results, bounds, strict=False)])
    if slow_rows.size:
        texts = array.take(pa.array(slow_rows)).to_pylist()
        for row, text in zip(slow_rows.tolist(), texts, strict=True):
            numbers[row], reasons[row] = normalise_one(text, code)
    return numbers, reasons


@dataclass(frozen=True, slots=True)
class Checks:
    """check_one for every cell of a column, as arrays (see Check for the fields)."""

    number: npt.NDArray[np.int64]
    reason: npt.NDArray[np.object_]
    warning: npt.NDArray[np.object_]
    warning_kind: npt.NDArray[np.object_]
    refused_type: Bools
    other: Ints

    def __len__(self) -> int:
        return len(self.number)

    def at(self, row: int) -> Check:
        """The verdict on one cell."""
        return Check(
            int(self.number[row]),
            self.reason[row],
            self.warning[row],
            self.warning_kind[row],
            bool(self.refused_type[row]),
            int(self.other[row]),
        )

    @staticmethod
    def join(parts: Sequence[Checks]) -> Checks:
        """The parts one after the other."""
        return Checks(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in Checks.__slots__)
        )


def _check_chunk(array: Any, region: str, allowed: frozenset[str]) -> tuple[Checks, Ints]:
    """check_many on one chunk, and the rows left for check_one."""
    found = _fast_path(array, region, typed=True)
    numbers, reasons, kind, others = found.numbers, found.reasons, found.kinds, found.others
    other_kind = found.other_kinds
    n = len(numbers)
    warnings = np.full(n, None, dtype=object)
    kinds_of_warnings = np.full(n, None, dtype=object)
    refused = np.zeros(n, dtype=np.bool_)
    allowed_codes = np.array([NUMBER_TYPES[name] for name in allowed], dtype=np.int64)
    two = (others != 0) & np.isin(other_kind, allowed_codes)
    # without a second reading to weigh, the verdict follows from the type alone
    alone = np.flatnonzero((numbers != 0) & ~two)
    alone_kinds = kind[alone]
    for code in _distinct(alone_kinds):
        verdict = _judge(1, _TYPE_NAME[code], None, allowed, region)
        if verdict == Check(1, None):
            continue  # a plain mobile: nothing to note
        rows = alone[alone_kinds == code]
        reasons[rows] = verdict.reason
        warnings[rows] = verdict.warning
        kinds_of_warnings[rows] = verdict.warning_kind
        refused[rows] = verdict.refused_type
    rows = np.flatnonzero(two)
    if rows.size:
        texts = _international_many(others[rows])
        for code in _distinct(kind[rows]):
            name = _TYPE_NAME[code]
            same = kind[rows] == code
            chosen, named = rows[same], texts.filter(_mask(same))
            if name in allowed:
                head, tail = _also_reads("\0").split("\0")
                column, kinds_of_warnings[chosen] = warnings, TWO_READINGS
            else:
                head, tail = _did_you_mean(name, region, "\0").split("\0")
                column, refused[chosen] = reasons, True
            joined = pc.binary_join_element_wise(head, named, tail, "")
            column[chosen] = joined.to_numpy(zero_copy_only=False)
    return Checks(numbers, reasons, warnings, kinds_of_warnings, refused, others), found.slow


def check_many(
    raw: pd.Series[Any] | Sequence[object],
    region: str,
    allowed: frozenset[str] = DEFAULT_NUMBER_TYPES,
) -> Checks:
    """Vectorised check_one: exactly its verdict for every cell of a column.

    The numbers are normalise_many's; their types are replayed with RE2 on phonenumbers'
    type patterns, grouped by country code and NSN length; only the cells whose bare
    digits read two ways are formatted one by one (to name the other reading).
    """
    code = _canonical_region(region)
    array = _arrow_column(raw)
    n = len(array)
    if n == 0:
        none = np.full(0, None, dtype=object)
        empty = np.zeros(0, np.int64)
        return Checks(empty, none, none, none, np.zeros(0, np.bool_), empty)
    workers = _workers(n)
    pieces = max(workers, -(-n // _MAX_CHUNK))
    pieces = -(-pieces // workers) * workers
    bounds = [n * i // pieces for i in range(pieces + 1)]
    chunks = [array.slice(a, b - a) for a, b in itertools.pairwise(bounds)]
    if workers == 1:
        results = [_check_chunk(chunk, code, allowed) for chunk in chunks]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(_check_chunk, chunks, [code] * pieces, [allowed] * pieces))
    checks = Checks.join([r[0] for r in results])
    slow_rows = np.concatenate([r[1] + a for r, a in zip(results, bounds, strict=False)])
    if slow_rows.size:
        texts = array.take(pa.array(slow_rows)).to_pylist()
        for row, text in zip(slow_rows.tolist(), texts, strict=True):
            verdict = check_one(text, code, allowed)
            checks.number[row] = verdict.number
            checks.reason[row] = verdict.reason
            checks.warning[row] = verdict.warning
            checks.warning_kind[row] = verdict.warning_kind
            checks.refused_type[row] = verdict.refused_type
            checks.other[row] = verdict.other
    return checks
