"""Spreadsheet cells as text, the way a spreadsheet shows them in a given locale.

`CellLocale` holds what a locale changes (separators, month and day names, AM/PM, TRUE/FALSE, the
short date); its data comes from CLDR through Babel, and never from the machine's own locale, so a
cron job and a shell render alike. `Renderer` applies an Excel number format code (ECMA-376
18.8.31) to a number: digit placeholders `0 # ?`, grouping and scaling commas, `%`, `E+00`,
fractions, quoted and escaped literals, up to four sections with conditions, dates and times
(elapsed `[h]` too), and `[$sym-LCID]` tags, whose locale renders that section. Format codes
store `.` and `,`; they become the locale's separators. `general` is the rule for numbers without
a format: whole numbers show all their digits, others are rounded to 15 significant digits and
shown as the shortest text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import locale as stdlib_locale
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction

from babel import Locale
from babel import UnknownLocaleError as BabelUnknownLocale
from babel.dates import get_date_format, get_day_names, get_month_names, get_time_format
from babel.numbers import get_decimal_symbol, get_group_symbol

# Enough digits for any double in fixed notation (about 310 before the point).
_CONTEXT = Context(prec=400, rounding=ROUND_HALF_UP)
_MEMO_SIZE = 65_536  # rendered texts a Renderer keeps: dates, ZIP codes and prices repeat
EPOCH = dt.datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system, past its 1900-02-29
DAY = 86_400.0
# Serials of 0001-01-01 and 9999-12-31: dates outside them show as General.
_FIRST_DAY = (dt.date.min - EPOCH.date()).days
_LAST_DAY = (dt.date.max - EPOCH.date()).days

# Excel's words for TRUE and FALSE by language; CLDR has none. English is the fallback.
_BOOLEANS = {
    "cs": ("PRAVDA", "NEPRAVDA"),
    "da": ("SAND", "FALSK"),
    "de": ("WAHR", "FALSCH"),
    "es": ("VERDADERO", "FALSO"),
    "fi": ("TOSI", "EPÄTOSI"),
    "fr": ("VRAI", "FAUX"),
    "hu": ("IGAZ", "HAMIS"),
    "it": ("VERO", "FALSO"),
    "nb": ("SANN", "USANN"),
    "nl": ("WAAR", "ONWAAR"),
    "pl": ("PRAWDA", "FAŁSZ"),
    "pt": ("VERDADEIRO", "FALSO"),
    "ru": ("ИСТИНА", "ЛОЖЬ"),
    "sv": ("SANT", "FALSKT"),
    "tr": ("DOĞRU", "YANLIŞ"),
}

# The built-in formats (ECMA-376 18.8.30) a workbook may name by number alone. 14 and 22 are
# the locale's short date; the East Asian date numbers are read the same way.
BUILTIN_FORMATS = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    37: "#,##0 ;(#,##0)",
    38: "#,##0 ;[Red](#,##0)",
    39: "#,##0.00;(#,##0.00)",
    40: "#,##0.00;[Red](#,##0.00)",
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mmss.0",
    48: "##0.0E+0",
    49: "@",
}
SHORT_DATE = "<short date>"  # stands for the locale's short date in a built-in format
_SHORT_DATE_IDS = {14, *range(27, 37), *range(50, 59)}


class UnknownLocale(ValueError):
    """A locale name that CLDR does not know."""


@dataclass(frozen=True)
class CellLocale:
    """What a locale changes in a rendered cell."""

    tag: str  # BCP 47, e.g. "de-DE"
    decimal: str
    group: str
    months: tuple[str, ...]  # 12 names
    months_short: tuple[str, ...]
    days: tuple[str, ...]  # 7 names, Monday first (as `date.weekday()`)
    days_short: tuple[str, ...]
    am: str
    pm: str
    true: str
    false: str
    short_date: str  # an Excel format code, year in four digits
    long_date: str
    time: str


def locale_for_region(region: str) -> str:
    """The locale most people of `region` (e.g. "DE") use, as a tag ("de-DE"), from CLDR."""
    try:
        found = Locale.parse(f"und_{region.upper()}")
    except (BabelUnknownLocale, ValueError):
        raise UnknownLocale(region) from None
    return f"{found.language}-{found.territory or region.upper()}"


@functools.lru_cache(maxsize=64)
def cell_locale(tag: str) -> CellLocale:
    """The `CellLocale` of a tag such as "de-DE", "de_DE" or "de"; UnknownLocale if none."""
    try:
        found = Locale.parse(tag.strip().replace("-", "_"))
    except (BabelUnknownLocale, ValueError, TypeError):
        raise UnknownLocale(tag) from None
    true, false = _BOOLEANS.get(found.language, ("TRUE", "FALSE"))
    periods = found.day_periods["format"]["abbreviated"]

    months = get_month_names("wide", context="stand-alone", locale=found)
    months_short = get_month_names("abbreviated", context="stand-alone", locale=found)
    days = get_day_names("wide", context="stand-alone", locale=found)
    days_short = get_day_names("abbreviated", context="stand-alone", locale=found)
    tag_text = "-".join(p for p in (found.language, found.script, found.territory) if p)
    return CellLocale(
        tag=tag_text,
        decimal=get_decimal_symbol(found, numbering_system="latn"),
        group=get_group_symbol(found, numbering_system="latn"),
        months=tuple(months[i] for i in range(1, 13)),
        # Excel writes "Jan", where CLDR's German has "Jan.".
        months_short=tuple(months_short[i].rstrip(".") for i in range(1, 13)),
        days=tuple(days[i] for i in range(7)),
        days_short=tuple(days_short[i].rstrip(".") for i in range(7)),
        am=str(periods.get("am", "AM")),
        pm=str(periods.get("pm", "PM")),
        true=true,
        false=false,
        short_date=_excel_date(get_date_format("short", found).pattern, four_digit_year=True),
        long_date=_excel_date(get_date_format("full", found).pattern, four_digit_year=True),
        time=_excel_date(get_time_format("medium", found).pattern, four_digit_year=True),
    )


def _excel_date(pattern: str, *, four_digit_year: bool) -> str:
    """A CLDR date pattern (`dd.MM.yy`) as an Excel format code (`dd.mm.yyyy`)."""
    out: list[str] = []
    for match in re.finditer(r"'([^']*)'|([A-Za-z])\2*|.", pattern):
        text = match.group(0)
        if match.group(1) is not None:
            out.append(f'"{match.group(1)}"' if match.group(1) else "'")
            continue
        letter = match.group(2)
        if letter is None:
            out.append(f"\\{text}" if text not in " .,:/-" else text)
        elif letter in "yYu":
            out.append("yyyy" if four_digit_year or len(text) != 2 else "yy")
        elif letter in "ML":
            out.append("m" * min(len(text), 4))
        elif letter == "d":
            out.append("d" * min(len(text), 2))
        elif letter in "Ec":
            out.append("dddd" if len(text) >= 4 else "ddd")
        elif letter in "Hh":
            out.append("h" * min(len(text), 2))
        elif letter == "m":
            out.append("mm")
        elif letter == "s":
            out.append("ss")
        elif letter in "ab":
            out.append("AM/PM")
        else:
            out.append(f'"{text}"')
    return "".join(out)


def locale_for_lcid(lcid: int, fallback: CellLocale) -> CellLocale:
    """The locale a Windows LCID in a `[$-407]` tag names; `fallback` when it names none we know."""
    name = stdlib_locale.windows_locale.get(lcid & 0xFFFF)
    if name is None:
        return fallback
    try:
        return cell_locale(name)
    except UnknownLocale:
        return fallback


# ---- numbers without a format -----------------------------------------------------------------


def general(value: float, decimal: str = ".") -> str:
    """Excel's General for a number: whole numbers in all their digits, never `E+`; others rounded
    to 15 significant digits, as the shortest text (scientific only for tiny fractions)."""
    if not math.isfinite(value):
        return ""
    if value.is_integer():
        if abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(format(value, ".15g")), "f")
    text = repr(float(format(value, ".15g")))
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}E{int(exponent):+03d}"
    return text.replace(".", decimal) if decimal != "." else text


def shortest(value: float) -> str:
    """A float as Parquet's text: rounded to 15 significant digits, shortest form; a whole number
    below 2**53 has no `.0` (a phone column stored as float)."""
    if not math.isfinite(value):
        return repr(value)
    rounded = float(format(value, ".15g"))
    if rounded.is_integer() and abs(rounded) < 2.0**53:
        return str(int(rounded))
    return repr(rounded)


def to_serial(value: dt.datetime | dt.date | dt.time | dt.timedelta) -> float:
    """A date, time or duration as Excel's serial number (days since 1899-12-30)."""
    if isinstance(value, dt.datetime):
        return (value.replace(tzinfo=None) - EPOCH) / dt.timedelta(days=1)
    if isinstance(value, dt.date):
        return float((value - EPOCH.date()).days)
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / DAY + (
            value.microsecond / 1e6 / DAY
        )
    return value / dt.timedelta(days=1)


# ---- format codes ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r'"(?P<quoted>[^"]*)"?'
    r"|\\(?P<escaped>.)"
    r"|_(?P<space>.)"
    r"|\*(?P<fill>.)"
    r"|\[(?P<bracket>[^\]]*)\]"
    r"|(?P<ampm>AM/PM|am/pm|A/P|a/p)"
    r"|(?P<general>[Gg]eneral)"
    r"|(?P<date>[yY]+|[mM]+|[dD]+|[hH]+|[sS]+|[eE](?![+-])|[bB]{2,})"
    r"|(?P<exponent>[eE][+-])"
    r"|(?P<other>.)",
    re.DOTALL,
)
_CONDITION = re.compile(r"(<=|>=|<>|<|>|=)\s*(-?[\d.]+(?:[eE][+-]?\d+)?)")
_ELAPSED = re.compile(r"(?i)(h+|m+|s+)")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
}

Token = tuple[str, str]  # (kind, text)


@dataclass
class _Section:
    tokens: list[Token]
    condition: tuple[str, float] | None
    lcid: int | None
    is_date: bool
    is_general: bool
    plain: _Plain | None = None


@dataclass(frozen=True)
class _Plain:
    """A number section of one run of placeholders between literals (`#,##0.00 "€"`, `00000`,
    `0%`): rendered with Python's own formatting, the common case made fast."""

    prefix: str
    suffix: str
    whole_zeros: int  # `0` placeholders before the point
    fraction_zeros: int  # `0` placeholders after it
    places: int  # all placeholders after it
    point: bool
    grouping: bool
    shift: int  # powers of ten: 2 per `%`, -3 per scaling comma

    def render(self, value: float, loc: CellLocale) -> str:
        size = abs(value)
        if self.shift == 0 and size < 1e15 and size.is_integer():
            whole, fraction = str(int(size)), "0" * self.places
            zero = size == 0
        else:
            number = Decimal(format(size, ".15g"))
            if self.shift:
                number = _CONTEXT.multiply(number, Decimal(10) ** self.shift)
            number = number.quantize(Decimal(1).scaleb(-self.places), context=_CONTEXT)
            whole, _, fraction = f"{number:f}".partition(".")
            zero = not number
        if self.places > self.fraction_zeros:
            fraction = fraction[: self.fraction_zeros] + fraction[self.fraction_zeros :].rstrip("0")
        if whole == "0" and self.whole_zeros == 0:
            whole = ""
        elif len(whole) < self.whole_zeros:
            whole = whole.zfill(self.whole_zeros)
        if self.grouping and len(whole) > 3:
            head = len(whole) % 3 or 3
            groups = [whole[:head]] + [whole[i : i + 3] for i in range(head, len(whole), 3)]
            whole = loc.group.join(groups)
        number_text = f"{whole}{loc.decimal}{fraction}" if self.point else whole
        text = f"{self.prefix}{number_text}{self.suffix}"
        return f"-{text}" if value < 0 and not zero else text


def _plain(tokens: list[Token]) -> _Plain | None:
    """The `_Plain` form of a number section's tokens, or None when it has another shape."""
    core = [i for i, (k, t) in enumerate(tokens) if k == "other" and t in "0#?.,"]
    if not core or core != list(range(core[0], core[-1] + 1)):
        return None
    run = "".join(tokens[i][1] for i in core)
    if "?" in run or run.count(".") > 1 or (run.startswith((",", ".")) and len(run) == 1):
        return None
    whole, point, fraction = run.partition(".")
    # Commas after the last placeholder scale, after the decimals too (`0.0,` shows thousands).
    if point and fraction.rstrip(","):
        scaling = len(fraction) - len(fraction.rstrip(","))
        fraction = fraction.rstrip(",")
    else:
        scaling = len(whole) - len(whole.rstrip(","))
        whole = whole.rstrip(",")
    if "," in fraction or (not whole and not fraction):
        return None
    if whole.startswith(",") or ",," in whole or ("," in whole and whole.count("0") > 1):
        return None
    rest = [t for i, t in enumerate(tokens) if i not in core]
    if any(k not in ("lit", "other") for k, _ in rest) or any(
        k == "other" and t in "0#?.,/@" for k, t in rest
    ):
        return None
    percent = sum(1 for k, t in rest if k == "other" and t == "%")
    return _Plain(
        prefix="".join(t for _, t in (tokens[i] for i in range(core[0]))),
        suffix="".join(t for _, t in (tokens[i] for i in range(core[-1] + 1, len(tokens)))),
        whole_zeros=whole.count("0"),
        fraction_zeros=len(fraction) - len(fraction.lstrip("0")),
        places=len(fraction),
        point=bool(point),
        grouping="," in whole,
        shift=2 * percent - 3 * scaling,
    )


def _split_sections(code: str) -> list[str]:
    sections, current, quoted, i = [], [], False, 0
    while i < len(code):
        char = code[i]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and not quoted and i + 1 < len(code):
            current.append(code[i : i + 2])
            i += 2
            continue
        elif char == ";" and not quoted:
            sections.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    sections.append("".join(current))
    return sections


def _parse_section(text: str) -> _Section:
    tokens: list[Token] = []
    condition: tuple[str, float] | None = None
    lcid: int | None = None
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group(kind)
        if kind == "quoted" or kind == "escaped":
            tokens.append(("lit", value))
        elif kind == "space":
            tokens.append(("lit", " "))
        elif kind == "fill":
            continue
        elif kind == "bracket":
            if value.startswith("$"):
                symbol, _, code = value[1:].partition("-")
                if symbol:
                    tokens.append(("lit", symbol))
                with contextlib.suppress(ValueError):
                    lcid = int(code, 16) if code else lcid
            elif _ELAPSED.fullmatch(value):
                tokens.append(("elapsed", value.lower()))
            elif found := _CONDITION.fullmatch(value.strip()):
                condition = (found.group(1), float(found.group(2)))
            # Colours ([Red], [Color10]) and numeral systems ([DBNum1]) do not change the text.
        elif kind == "date":
            tokens.append(("date", value.lower()))
        elif kind == "ampm":
            tokens.append(("ampm", value))
        else:
            tokens.append((kind, value))
    is_date = any(k in ("date", "elapsed", "ampm") for k, _ in tokens)
    if is_date:
        tokens = _date_tokens(tokens)
    is_general = any(k == "general" for k, _ in tokens)
    plain = None if is_date or is_general else _plain(tokens)
    return _Section(tokens, condition, lcid, is_date, is_general, plain)


def _date_tokens(tokens: list[Token]) -> list[Token]:
    """Mark `m` as minutes after an hour or before a second; `.0` after seconds as a fraction."""
    out: list[Token] = []
    for i, (kind, text) in enumerate(tokens):
        if kind == "date" and text[0] == "m" and len(text) <= 2:
            before = next((t for k, t in reversed(out) if k in ("date", "elapsed")), "")
            after = next((t for k, t in tokens[i + 1 :] if k in ("date", "elapsed")), "")
            if before.strip("[]").startswith("h") or after.strip("[]").startswith("s"):
                kind = "minute"
        elif kind == "other" and text == "." and i + 1 < len(tokens) and tokens[i + 1][1] == "0":
            zeros = 0
            while i + 1 + zeros < len(tokens) and tokens[i + 1 + zeros][1] == "0":
                zeros += 1
            out.append(("subsecond", "0" * zeros))
            continue
        elif kind == "other" and text == "0" and out and out[-1][0] == "subsecond":
            continue
        elif kind in ("other", "general", "exponent"):
            kind = "lit"
        out.append((kind, text))
    return out


class Renderer:
    """A compiled format code: `render(number)` gives the cell's text in the locale."""

    def __init__(self, code: str, loc: CellLocale) -> None:
        self.code = code
        self.locale = loc
        # A fourth section is for text, which is shown as stored.
        self.sections = [_parse_section(s) for s in _split_sections(code or "General")][:3]
        self.is_date = any(s.is_date for s in self.sections)
        self._memo: dict[float, str] = {}

    def render(self, value: float) -> str:
        """The number `value` (a date as its serial) as the format shows it."""
        text = self._memo.get(value)
        if text is None:
            text = self._render(value)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[value] = text
        return text

    def _render(self, value: float) -> str:
        if not math.isfinite(value):
            return ""
        section, value = self._pick(value)
        loc = self.locale
        system = None if section.lcid is None else section.lcid & 0xFFFF
        if system not in (None, 0, 0xF800, 0xF400):
            loc = locale_for_lcid(system, loc)
        if section.is_general:
            text = general(value, loc.decimal)
            return "".join(text if k == "general" else t for k, t in section.tokens)
        if section.is_date:
            if system == 0xF800:
                section = _parse_section(loc.long_date)
            elif system == 0xF400:
                section = _parse_section(loc.time)
            return _render_date(section.tokens, value, loc)
        if section.plain is not None:
            return section.plain.render(value, loc)
        if any(k == "other" and t == "@" for k, t in section.tokens):
            return general(value, loc.decimal)  # a text format shows a number as General
        return _render_number(section.tokens, value, loc)

    def _pick(self, value: float) -> tuple[_Section, float]:
        """The section for `value`, and the value it shows: a section after the first gets the
        size only, for it writes its own sign."""
        sections = self.sections
        if any(s.condition is not None for s in sections[:2]):
            for s in sections[:3]:
                if s.condition is None or _COMPARE[s.condition[0]](value, s.condition[1]):
                    return s, value if s is sections[0] else abs(value)
            return sections[-1], abs(value)
        if value < 0 and len(sections) >= 2:
            return sections[1], -value
        if value == 0 and len(sections) >= 3:
            return sections[2], value
        return sections[0], value


@functools.lru_cache(maxsize=512)
def renderer(code: str, tag: str) -> Renderer:
    """The cached `Renderer` of `code` in the locale named `tag`."""
    return Renderer(code, cell_locale(tag))


def builtin_format(number: int, loc: CellLocale) -> str:
    """The code of built-in format `number`; the locale's short date for the date ones."""
    if number in _SHORT_DATE_IDS:
        return loc.short_date
    if number == 22:
        return f"{loc.short_date} h:mm"
    return BUILTIN_FORMATS.get(number, "General")


def render(value: object, code: str, tag: str) -> str:
    """A cell value (number, bool, str, date/time) as format `code` shows it in locale `tag`."""
    loc = cell_locale(tag)
    if isinstance(value, bool):
        return loc.true if value else loc.false
    if isinstance(value, str):
        return value
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        value = to_serial(value)
    assert isinstance(value, (int, float))
    return renderer(code, tag).render(float(value))


# ---- number sections ------------------------------------------------------------------------


def _number_parts(tokens: list[Token]) -> tuple[int, int, bool, int, int]:
    """(integer placeholders, decimal placeholders, grouping, scaling commas, percent signs)."""
    digits = [i for i, (k, t) in enumerate(tokens) if k == "other" and t in "0#?"]
    dot = next((i for i, (k, t) in enumerate(tokens) if k == "other" and t == "."), None)
    end = dot if dot is not None else len(tokens)
    integer = [i for i in digits if i < end]
    decimals = [i for i in digits if dot is not None and i > dot]
    grouping, scaling = False, 0
    for i, (k, t) in enumerate(tokens):
        if k != "other" or t != ",":
            continue
        if integer and integer[0] < i < integer[-1]:
            grouping = True
        elif (
            digits
            and i > digits[-1]
            and all(tokens[j] == ("other", ",") for j in range(digits[-1] + 1, i))
        ):
            scaling += 1
    percent = sum(1 for k, t in tokens if k == "other" and t == "%")
    return len(integer), len(decimals), grouping, scaling, percent


def _render_number(tokens: list[Token], value: float, loc: CellLocale) -> str:
    if any(k == "exponent" for k, _ in tokens):
        return _render_scientific(tokens, value, loc)
    if any(k == "other" and t == "/" for k, t in tokens):
        return _render_fraction(tokens, value, loc)
    _, places, grouping, scaling, percent = _number_parts(tokens)
    number = Decimal(format(abs(value), ".15g"))
    if percent or scaling:
        number = _CONTEXT.multiply(number, Decimal(10) ** (2 * percent - 3 * scaling))
    number = number.quantize(Decimal(1).scaleb(-places), context=_CONTEXT)
    whole, _, fraction = f"{number:f}".partition(".")
    text = _fill(tokens, whole.lstrip("0"), fraction, grouping, loc)
    negative = value < 0 and number != 0
    return f"-{text}" if negative else text


def _fill(tokens: list[Token], whole: str, fraction: str, grouping: bool, loc: CellLocale) -> str:
    """Put the digits into the placeholders: `whole` right to left, `fraction` left to right."""
    dot = next((i for i, (k, t) in enumerate(tokens) if k == "other" and t == "."), len(tokens))
    integer = [i for i, (k, t) in enumerate(tokens[:dot]) if k == "other" and t in "0#?"]
    decimals = [i for i, (k, t) in enumerate(tokens) if i > dot and k == "other" and t in "0#?"]
    out = [_literal(k, t, loc) for k, t in tokens]
    remaining, written = whole, 0

    def digit_text(chars: str) -> str:
        nonlocal written
        pieces = []
        for char in reversed(chars):
            if grouping and written and written % 3 == 0:
                pieces.append(loc.group)
            pieces.append(char)
            written += 1
        return "".join(reversed(pieces))

    for n, i in enumerate(reversed(integer)):
        placeholder = tokens[i][1]
        last = n == len(integer) - 1
        if remaining:
            take = remaining if last else remaining[-1]
            remaining = "" if last else remaining[:-1]
            out[i] = digit_text(take)
        elif placeholder == "0":
            out[i] = digit_text("0")
        else:
            out[i] = " " if placeholder == "?" else ""
    # Trailing zeros are dropped under `#` and blanked under `?`, never under `0`.
    shown = list(fraction)
    for n in range(len(decimals) - 1, -1, -1):
        if shown[n] != "0" or tokens[decimals[n]][1] == "0":
            break
        shown[n] = " " if tokens[decimals[n]][1] == "?" else ""
    for n, i in enumerate(decimals):
        out[i] = shown[n]
    if dot < len(tokens):
        out[dot] = loc.decimal
    return "".join(out)


def _literal(kind: str, text: str, loc: CellLocale) -> str:
    if kind == "lit":
        return text
    if kind == "other":
        if text == ",":
            return ""  # grouping or scaling, never shown itself
        if text == "@":
            return ""
        return text
    return text


def _render_scientific(tokens: list[Token], value: float, loc: CellLocale) -> str:
    at = next(i for i, (k, _) in enumerate(tokens) if k == "exponent")
    mantissa_tokens, exponent_tokens = tokens[:at], tokens[at + 1 :]
    sign_always = tokens[at][1][1] == "+"
    integer, places, _, _, _ = _number_parts(mantissa_tokens)
    engineering = any(t == "#" for k, t in mantissa_tokens if k == "other") and integer > 1
    number = Decimal(format(abs(value), ".15g"))
    exponent = 0
    if number:
        exponent = number.adjusted()
        exponent -= exponent % integer if engineering else max(integer, 1) - 1
        mantissa = number.scaleb(-exponent).quantize(Decimal(1).scaleb(-places), context=_CONTEXT)
        if mantissa >= Decimal(10) ** (integer if engineering else max(integer, 1)):
            exponent += integer if engineering else 1
            mantissa = number.scaleb(-exponent).quantize(
                Decimal(1).scaleb(-places), context=_CONTEXT
            )
    else:
        mantissa = Decimal(0).quantize(Decimal(1).scaleb(-places))
    whole, _, fraction = f"{mantissa:f}".partition(".")
    text = _fill(mantissa_tokens, whole.lstrip("0"), fraction, False, loc)
    width = sum(1 for k, t in exponent_tokens if k == "other" and t in "0#?")
    sign = "-" if exponent < 0 else ("+" if sign_always else "")
    rest = [_literal(k, t, loc) for k, t in exponent_tokens if not (k == "other" and t in "0#?")]
    text += f"E{sign}{abs(exponent):0{max(width, 1)}d}" + "".join(rest)
    return f"-{text}" if value < 0 and mantissa else text


def _render_fraction(tokens: list[Token], value: float, loc: CellLocale) -> str:
    slash = next(i for i, (k, t) in enumerate(tokens) if k == "other" and t == "/")
    after = tokens[slash + 1 :]
    fixed = "".join(t for k, t in after if k == "other" and t.isdigit() and t != "0")
    fixed_denominator = int(fixed) if fixed and not any(t in "#?0" for _, t in after) else None
    width = sum(1 for k, t in after if k == "other" and t in "0#?") or 1
    numerator_at = slash - 1
    while (
        numerator_at > 0
        and tokens[numerator_at - 1][0] == "other"
        and (tokens[numerator_at - 1][1] in "0#?")
    ):
        numerator_at -= 1
    has_whole = any(k == "other" and t in "0#?" for k, t in tokens[:numerator_at])
    size = abs(value)
    whole = int(size) if has_whole else 0
    part = Fraction(size - whole).limit_denominator(10**width - 1)
    if fixed_denominator:
        part = Fraction(round((size - whole) * fixed_denominator), fixed_denominator)
    if part >= 1:
        whole, part = whole + int(part), part - int(part)
    numerator = part.numerator if not fixed_denominator else round(part * fixed_denominator)
    denominator = fixed_denominator or part.denominator
    head = "".join(
        _literal(k, t, loc) for k, t in tokens[:numerator_at] if not (k == "other" and t in "0#?")
    )
    whole_text = str(whole) if has_whole and (whole or not numerator) else ""
    if numerator == 0 and has_whole:
        text = f"{whole_text}{head}".rstrip() or "0"
    else:
        text = f"{whole_text}{head}{numerator}/{denominator}".strip()
    return f"-{text}" if value < 0 and (whole or numerator) else text


# ---- date sections --------------------------------------------------------------------------


def _render_date(tokens: list[Token], serial: float, loc: CellLocale) -> str:
    if not _FIRST_DAY <= serial < _LAST_DAY + 1:  # no date: before the year 1 or after 9999
        return general(serial, loc.decimal)
    places = max((len(t) for k, t in tokens if k == "subsecond"), default=0)
    ticks = round(serial * DAY * 10**places)  # in units of the smallest shown second
    seconds, sub = divmod(ticks, 10**places)
    days, in_day = divmod(seconds, 86_400)
    if not _FIRST_DAY <= days <= _LAST_DAY:  # rounded up past 9999-12-31 23:59:59
        return general(serial, loc.decimal)
    date = EPOCH.date() + dt.timedelta(days=days)
    hour, rest = divmod(in_day, 3600)
    minute, second = divmod(rest, 60)
    twelve = any(k == "ampm" for k, _ in tokens)
    out: list[str] = []
    for kind, text in tokens:
        if kind == "date":
            out.append(_date_part(text, date, hour, second, twelve, loc))
        elif kind == "minute":
            out.append(f"{minute:0{len(text)}d}")
        elif kind == "elapsed":
            unit = text[0]
            total = {"h": seconds // 3600, "m": seconds // 60, "s": seconds}[unit]
            out.append(f"{total:0{len(text)}d}")
        elif kind == "subsecond":
            out.append(f"{loc.decimal}{sub:0{places}d}"[: len(text) + len(loc.decimal)])
        elif kind == "ampm":
            morning = hour < 12
            if text.upper() == "A/P":
                out.append(
                    ("A" if morning else "P") if text[0] == "A" else ("a" if morning else "p")
                )
            else:
                out.append(loc.am if morning else loc.pm)
        else:
            out.append(text)
    return "".join(out)


def _date_part(
    text: str, date: dt.date, hour: int, second: int, twelve: bool, loc: CellLocale
) -> str:
    letter, size = text[0], len(text)
    if letter in "ye":
        return f"{date.year % 100:02d}" if letter == "y" and size <= 2 else f"{date.year:04d}"
    if letter == "m":
        if size == 1:
            return str(date.month)
        if size == 2:
            return f"{date.month:02d}"
        if size == 3:
            return loc.months_short[date.month - 1]
        return loc.months[date.month - 1] if size == 4 else loc.months[date.month - 1][:1]
    if letter == "d":
        if size <= 2:
            return f"{date.day:0{size}d}"
        return loc.days_short[date.weekday()] if size == 3 else loc.days[date.weekday()]
    if letter == "h":
        shown = (hour % 12 or 12) if twelve else hour
        return f"{shown:0{min(size, 2)}d}"
    if letter == "s":
        return f"{second % 60:0{min(size, 2)}d}"
    if letter == "b":  # the Buddhist year
        return f"{(date.year + 543) % 100:02d}" if size <= 2 else f"{date.year + 543:04d}"
    return text
