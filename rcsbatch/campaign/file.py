"""The campaign file: read a TOML file into a checked, frozen `Campaign`.

Every path in the file is relative to the file itself, so a cron job started from any folder finds
the same recipients and the same report folder. An unknown key, a wrong type or an impossible value
raises `CampaignError` naming the key and the file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rcsbatch.campaign import rich as richcontent
from rcsbatch.campaign.limits import UNITS, Limits, parse_limits, size
from rcsbatch.campaign.rich import RichSpec
from rcsbatch.campaign.template import Template
from rcsbatch.campaign.window import Window, parse_window
from rcsbatch.errors import CampaignError
from rcsbatch.recipients import cellformat, phones
from rcsbatch.reports import csvfile

NAME_RE = re.compile(r"[A-Za-z0-9._\-@]{1,64}")
FALLBACKS = ("sms", "webview")
DEFAULT_TTL = 2880
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 5
MAX_PRICE_ESTIMATE = 1000
# seven does not say how soon an accepted message shows in its logbook. Five minutes is far longer
# than a logging pipeline's usual lag of seconds, yet short enough that a run settling a lost
# answer at its end waits at most that long. A logbook slower than this can still lead to a
# second message: docs/sending-and-resuming.md says so.
DEFAULT_SETTLE_SECONDS = 300.0
# A lost answer's request may have been accepted up to the client's timeout after it left; a
# row absent from the logbook goes again only a floor after that, and only once messages sent a
# margin later are visible there (engine/settle.py).
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_SETTLE_FLOOR = 30.0
DEFAULT_EVIDENCE_MARGIN = 10.0
# How long the gateway may keep failing (5xx, unreachable) before the run gives up and stops.
DEFAULT_GIVE_UP_AFTER = 600.0
ON_UNKNOWN = ("reconcile", "resend", "skip")
MIN_RATE = 0.001  # messages per second: one every 1000 s
OUTSIDE_WINDOW = ("wait", "schedule")
#: The capability names seven's lookup lists (seven-gateway.md, and the simulator): what `require`
#: may name. Here, not in actions/capabilities.py, because the campaign file owns `require`.
CAPABILITIES = (
    "REVOCATION",
    "RICHCARD_STANDALONE",
    "RICHCARD_CAROUSEL",
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
)


@dataclass(frozen=True)
class MessageSpec:
    """The `[message]` table: what every row's request carries, as templates and options.

    `text` is None for a rich card, carousel or file message; `rich` is None for plain text.
    """

    text: Template | None
    sender: str | None = None
    label: Template | None = None
    foreign_id: Template | None = None
    ttl: int = DEFAULT_TTL
    delay: dt.datetime | None = None  # aware, in UTC
    timezone: dt.tzinfo | None = None  # None: the machine's zone
    performance_tracking: bool = False
    fallback: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    rich: RichSpec | None = None

    @property
    def templates(self) -> dict[str, Template]:
        """The templates this message has, by key: text, label / foreign_id when given, and
        each text field of its rich content (e.g. `richcard.title`)."""
        found = {"text": self.text, "label": self.label, "foreign_id": self.foreign_id}
        if self.rich is not None:
            found.update(self.rich.templates)
        return {key: t for key, t in found.items() if t is not None}

    @property
    def columns(self) -> frozenset[str]:
        """Every column a template of this message names."""
        return frozenset(name for t in self.templates.values() for name in t.fields)


@dataclass(frozen=True)
class SendSpec:
    """The `[send]` table: how fast and how persistently to send."""

    concurrency: int = DEFAULT_CONCURRENCY
    rate: float = 0.0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    price_estimate: Decimal | None = None
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    on_unknown: str = "reconcile"
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    settle_floor: float = DEFAULT_SETTLE_FLOOR
    evidence_margin: float = DEFAULT_EVIDENCE_MARGIN
    not_after: dt.datetime | None = None  # aware, in UTC
    window: Window | None = None
    outside_window: str = "wait"
    give_up_after: float = DEFAULT_GIVE_UP_AFTER
    max_cost: Decimal | None = None  # the most the campaign may cost, all its runs together
    # RCS capabilities a recipient needs (see actions/capabilities.py)
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestSpec:
    """The `[test]` table: the numbers `run --test` sends test messages to (normalised digits)."""

    __test__ = False  # not a pytest test class, whatever its name

    numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Campaign:
    """A checked campaign file; paths are absolute."""

    path: Path
    name: str
    recipients: Path
    message: MessageSpec
    phone_column: str = "phone"
    default_region: str = "DE"
    suppress: Path | None = None
    # "refuse": an entry of the suppress list that is not a number stops the run, for that
    # person's opt-out would silently be lost; "ignore" drops such entries.
    suppress_invalid: str = "refuse"
    sheet: str | None = None
    # How spreadsheet cells render (separators, dates, TRUE/FALSE); default from default_region.
    locale: str = "de-DE"
    raw_columns: tuple[str, ...] = ()  # xlsx columns taken as stored, without their format
    encoding: str = "utf-8"
    # The number types (phones.NUMBER_TYPES) sent to; a capability lookup that shows RCS lets
    # a number of another type go too (recipients/prepare.py).
    number_types: frozenset[str] = phones.DEFAULT_NUMBER_TYPES
    report_dir: Path = Path("reports")
    # How the campaign's CSV files are written (reports/csvfile.py): "standard" or "excel".
    csv_dialect: str = "standard"
    journal: Path | None = None  # None: in the state folder (see state/paths.py)
    send: SendSpec = field(default_factory=SendSpec)
    test: TestSpec = field(default_factory=TestSpec)
    limits: Limits = field(default_factory=Limits)

    @property
    def csv(self) -> csvfile.Dialect:
        """The dialect `csv_dialect` names, for every CSV file of the campaign."""
        return csvfile.dialect(self.csv_dialect)


SUPPRESS_INVALID = ("refuse", "ignore")
_TOP_KEYS = {
    "name",
    "recipients",
    "phone_column",
    "default_region",
    "suppress",
    "suppress_invalid",
    "number_types",
    "sheet",
    "locale",
    "raw_columns",
    "encoding",
    "report_dir",
    "csv_dialect",
    "journal",
    "message",
    "send",
    "test",
    "limits",
}
_MESSAGE_KEYS = {
    "from",
    "text",
    "label",
    "foreign_id",
    "ttl",
    "delay",
    "timezone",
    "performance_tracking",
    "fallback",
    "defaults",
}
_SEND_KEYS = {
    "concurrency",
    "rate",
    "max_attempts",
    "price_estimate",
    "settle_seconds",
    "request_timeout",
    "settle_floor",
    "evidence_margin",
    "on_unknown",
    "not_after",
    "window",
    "outside_window",
    "give_up_after",
    "max_cost",
    "require",
}
_TEST_KEYS = {"numbers"}


class _Reader:
    """Typed access to one TOML table, raising errors that name the key and the file."""

    def __init__(self, table: Mapping[str, Any], prefix: str, path: Path) -> None:
        self.table = table
        self.prefix = prefix
        self.path = path

    def fail(self, key: str, problem: str) -> CampaignError:
        return CampaignError(f"{self.path}: `{self.prefix}{key}` {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key, f"is not a campaign setting (known here: {known})")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.table:
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are ints to Python; never accept one where a number is meant.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_name(kinds)}, not {type(value).__name__}")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> Any:
        if required and key not in self.table:
            raise self.fail(key, "is required")
        value = self.get(key, str, default)
        if isinstance(value, str) and not value.strip():
            raise self.fail(key, "must not be empty")
        return value


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        dict: "a table",
        list: "a list",
        dt.datetime: "a date-time",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_campaign(path: str | Path) -> Campaign:
    """Read and check the campaign file at `path`; raise `CampaignError` saying what to fix."""
    path = Path(path).expanduser().resolve()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such campaign file") from None
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read the campaign file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise CampaignError(f"{path}: the campaign file must be UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{path}: not valid TOML: {exc}") from None
    return parse_campaign(data, path)


def parse_campaign(data: Mapping[str, Any], path: Path) -> Campaign:
    """Check the parsed TOML `data` of the campaign file at `path` (absolute)."""
    base = path.parent
    top = _Reader(data, "", path)
    top.check_keys(_TOP_KEYS)

    name = top.text("name", required=True)
    if not NAME_RE.fullmatch(name):
        raise top.fail("name", "may hold only A-Z a-z 0-9 . _ - @, at most 64 characters")
    if name in (".", ".."):
        # The name is a folder under the report folder; these two would point outside it.
        raise top.fail("name", "must not be `.` or `..`; it names the campaign's report folder")

    recipients = (base / top.text("recipients", required=True)).resolve()
    if recipients.suffix.lower() not in (".csv", ".parquet", ".xlsx", ".txt", ".tsv"):
        raise top.fail("recipients", "must be a .csv, .parquet or .xlsx file")
    suppress_name = top.text("suppress")
    suppress_invalid = top.text("suppress_invalid", "refuse")
    if suppress_invalid not in SUPPRESS_INVALID:
        raise top.fail(
            "suppress_invalid", f'must be "refuse" or "ignore", not {suppress_invalid!r}'
        )
    region = top.text("default_region", "DE").upper()
    if not phones.is_known_region(region):
        raise top.fail("default_region", f'is not a known country code ({region!r}); use e.g. "DE"')
    cell_locale = _parse_locale(top, region)
    raw_columns = top.get("raw_columns", list, [])
    if not all(isinstance(c, str) and c.strip() for c in raw_columns):
        raise top.fail("raw_columns", 'must be a list of column names, e.g. ["zip"]')
    encoding = top.text("encoding", "utf-8")
    try:
        "".encode(encoding)
    except LookupError:
        raise top.fail("encoding", f"names an unknown encoding ({encoding!r})") from None

    csv_dialect = top.text("csv_dialect", csvfile.STANDARD.name)
    if csv_dialect not in csvfile.DIALECTS:
        known = " or ".join(f'"{d}"' for d in csvfile.DIALECTS)
        raise top.fail("csv_dialect", f"must be {known}, not {csv_dialect!r}")
    journal_name = top.text("journal")
    limits = parse_limits(data.get("limits"), path)
    number_types = _parse_number_types(top)
    message = _parse_message(data.get("message"), path, limits)
    send = _parse_send(data.get("send"), path, message.timezone)
    test = _parse_test(data.get("test"), path, region, number_types)
    return Campaign(
        path=path,
        name=name,
        recipients=recipients,
        phone_column=top.text("phone_column", "phone"),
        default_region=region,
        suppress=(base / suppress_name).resolve() if suppress_name else None,
        suppress_invalid=suppress_invalid,
        number_types=number_types,
        # The contract's own example names a sheet beside a CSV file: it is simply unused there.
        sheet=top.text("sheet"),
        locale=cell_locale,
        raw_columns=tuple(dict.fromkeys(c.strip() for c in raw_columns)),
        encoding=encoding,
        report_dir=(base / top.text("report_dir", "reports")).resolve(),
        csv_dialect=csv_dialect,
        journal=(base / journal_name).resolve() if journal_name else None,
        message=message,
        send=send,
        test=test,
        limits=limits,
    )


def _parse_locale(top: _Reader, region: str) -> str:
    """The `locale` tag, or the one most people of `region` use; never the machine's own."""
    name = top.text("locale")
    if name is None:
        try:
            return cellformat.cell_locale(cellformat.locale_for_region(region)).tag
        except (cellformat.UnknownLocale, ValueError):
            return "en-US"
    try:
        return cellformat.cell_locale(name).tag
    except cellformat.UnknownLocale:
        raise top.fail(
            "locale", f'is not a known locale ({name!r}); use a tag such as "de-DE" or "en-US"'
        ) from None


def _parse_message(table: Any, path: Path, limits: Limits) -> MessageSpec:
    if not isinstance(table, dict):
        raise CampaignError(f"{path}: a `[message]` table with at least `text` is required")
    msg = _Reader(table, "message.", path)
    msg.check_keys(_MESSAGE_KEYS | richcontent.MESSAGE_KEYS)

    def template(key: str) -> Template | None:
        value = msg.text(key, required=key == "text")
        if value is None:
            return None
        try:
            return Template.parse(value)
        except ValueError as exc:
            raise msg.fail(key, str(exc)) from None

    # A rich card, carousel or file message has no text; without one of them text is required.
    rich_content = any(k in table for k in richcontent.CONTENT_KEYS if k != "text")
    text = template("text") if "text" in table or not rich_content else None
    ttl = msg.get("ttl", int, DEFAULT_TTL)
    if ttl < 1:
        raise msg.fail("ttl", "must be at least 1 (minutes)")
    fallback = msg.text("fallback")
    if fallback is not None and fallback not in FALLBACKS:
        raise msg.fail("fallback", f"must be one of {', '.join(FALLBACKS)} (got {fallback!r})")
    if text is not None:
        _check_text_alone(msg, text, limits, fallback)
    tz_name = msg.text("timezone")
    timezone: dt.tzinfo | None = None
    if tz_name is not None:
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise msg.fail(
                "timezone",
                f'is not a known time zone ({tz_name!r}); use a name such as "Europe/Berlin"',
            ) from None
    delay_value = msg.get("delay", (str, int, dt.datetime))
    delay = None
    if delay_value is not None:
        try:
            delay = parse_moment(delay_value, timezone)
        except (ValueError, OverflowError) as exc:  # Overflow: a local time near year 1 or 9999
            raise msg.fail("delay", str(exc)) from None
    defaults_table = msg.get("defaults", dict, {})
    defaults: dict[str, str] = {}
    for key, value in defaults_table.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise msg.fail(f"defaults.{key}", "must be a string or a number")
        defaults[key] = str(value)
    sender = msg.text("from")
    rich = richcontent.parse_rich(table, path, text, timezone, parse_moment, limits)
    return MessageSpec(
        text=text,
        sender=sender,
        label=template("label"),
        foreign_id=template("foreign_id"),
        ttl=ttl,
        delay=delay,
        timezone=timezone,
        performance_tracking=msg.get("performance_tracking", bool, False),
        fallback=fallback,
        defaults=defaults,
        rich=rich,
    )


def _check_text_alone(msg: _Reader, text: Template, limits: Limits, fallback: str | None) -> None:
    """Refuse a text whose template alone (placeholders left out) is over a limit: every row
    would be invalid."""
    length = size("".join(text.literals), UNITS["text"])
    checks = [("text", "")]
    if fallback == "sms":
        checks.append(("sms_fallback", " for an SMS fallback"))
    for key, to in checks:
        if length > getattr(limits, key):
            without = "" if text.is_constant else " without its placeholders"
            raise msg.fail(
                "text",
                limits.reason("is", key, length, after=without, to=to)
                + ", so every row would be over it",
            )


def _parse_send(table: Any, path: Path, timezone: dt.tzinfo | None) -> SendSpec:
    if table is None:
        return SendSpec()
    if not isinstance(table, dict):
        raise CampaignError(f"{path}: `send` must be a table (`[send]`)")
    send = _Reader(table, "send.", path)
    send.check_keys(_SEND_KEYS)
    concurrency = send.get("concurrency", int, DEFAULT_CONCURRENCY)
    if not 1 <= concurrency <= 1000:
        raise send.fail("concurrency", "must be between 1 and 1000")
    rate = float(send.get("rate", (int, float), 0))
    if not math.isfinite(rate) or rate < 0:
        raise send.fail("rate", "must be 0 (no cap) or a positive number of messages per second")
    if 0 < rate < MIN_RATE:
        # A rate such as 1e-300 would hold the second message for longer than the universe lasts.
        raise send.fail(
            "rate", f"must be 0 (no cap) or at least {MIN_RATE} messages per second (got {rate})"
        )
    max_attempts = send.get("max_attempts", int, DEFAULT_MAX_ATTEMPTS)
    if not 1 <= max_attempts <= 100:
        raise send.fail("max_attempts", "must be between 1 and 100")
    estimate_value = send.get("price_estimate", (int, float, str))
    estimate = None
    if estimate_value is not None:
        try:
            # str() first: a TOML float 0.05 must become Decimal("0.05"), not its binary twin.
            estimate = Decimal(str(estimate_value))
        except InvalidOperation:
            raise send.fail("price_estimate", "must be a number such as 0.05") from None
        # A bound: an estimate multiplies it by the row count, which must not overflow Decimal.
        if not estimate.is_finite() or not 0 <= estimate <= MAX_PRICE_ESTIMATE:
            raise send.fail(
                "price_estimate", f"must be a price per message from 0 to {MAX_PRICE_ESTIMATE}"
            )
    settle = float(send.get("settle_seconds", (int, float), DEFAULT_SETTLE_SECONDS))
    if not math.isfinite(settle) or settle < 0:
        raise send.fail("settle_seconds", "must be a number of seconds, at least 0")
    seconds: dict[str, float] = {}
    for key, default, least in (
        ("request_timeout", DEFAULT_REQUEST_TIMEOUT, 0.1),
        ("settle_floor", DEFAULT_SETTLE_FLOOR, 0.0),
        ("evidence_margin", DEFAULT_EVIDENCE_MARGIN, 0.0),
    ):
        value = float(send.get(key, (int, float), default))
        if not math.isfinite(value) or value < least or value > 86_400:
            raise send.fail(key, f"must be a number of seconds from {least:g} to 86400")
        seconds[key] = value
    on_unknown = send.text("on_unknown", "reconcile")
    if on_unknown not in ON_UNKNOWN:
        raise send.fail(
            "on_unknown", f"must be one of {', '.join(ON_UNKNOWN)} (got {on_unknown!r})"
        )
    not_after_value = send.get("not_after", (str, int, dt.datetime))
    not_after = None
    if not_after_value is not None:
        try:
            not_after = parse_moment(not_after_value, timezone)
        except (ValueError, OverflowError) as exc:
            raise send.fail("not_after", str(exc)) from None
    window_text = send.text("window")
    window = None
    if window_text is not None:
        try:
            window = parse_window(window_text)
        except ValueError as exc:
            raise send.fail("window", str(exc)) from None
    outside = send.text("outside_window", "wait")
    if outside not in OUTSIDE_WINDOW:
        raise send.fail(
            "outside_window", f"must be one of {', '.join(OUTSIDE_WINDOW)} (got {outside!r})"
        )
    give_up = float(send.get("give_up_after", (int, float), DEFAULT_GIVE_UP_AFTER))
    if not math.isfinite(give_up) or give_up <= 0:
        raise send.fail("give_up_after", "must be a positive number of seconds")
    max_cost_value = send.get("max_cost", (int, float, str))
    max_cost = None
    if max_cost_value is not None:
        try:
            max_cost = Decimal(str(max_cost_value))
        except InvalidOperation:
            raise send.fail("max_cost", "must be an amount such as 250.00") from None
        if not max_cost.is_finite() or not 0 < max_cost <= 10**9:
            raise send.fail("max_cost", "must be an amount above 0 (in the account's currency)")
    require = _parse_require(send)
    return SendSpec(
        concurrency=concurrency,
        rate=rate,
        max_attempts=max_attempts,
        price_estimate=estimate,
        settle_seconds=settle,
        on_unknown=on_unknown,
        **seconds,
        not_after=not_after,
        window=window,
        outside_window=outside,
        give_up_after=give_up,
        max_cost=max_cost,
        require=require,
    )


def _parse_require(send: _Reader) -> tuple[str, ...]:
    value = send.get("require", list, None)
    if value is None:
        return ()
    if not value or not all(isinstance(v, str) for v in value):
        raise send.fail(
            "require", 'must be a list of capability names, e.g. ["RICHCARD_STANDALONE"]'
        )
    unknown = [v for v in value if v not in CAPABILITIES]
    if unknown:
        raise send.fail(
            "require",
            f"names unknown capabilities {unknown}; known: {', '.join(CAPABILITIES)}",
        )
    return tuple(dict.fromkeys(value))


def _parse_number_types(top: _Reader) -> frozenset[str]:
    value = top.get("number_types", list, None)
    if value is None:
        return phones.DEFAULT_NUMBER_TYPES
    known = ", ".join(phones.NUMBER_TYPES)
    if not value or not all(isinstance(v, str) for v in value):
        raise top.fail(
            "number_types", f'must be a list of number types, e.g. ["mobile"]; known: {known}'
        )
    unknown = [v for v in value if v not in phones.NUMBER_TYPES]
    if unknown:
        guesses = [
            f"`{found[0]}` for {v!r}"
            for v in unknown
            if (found := difflib.get_close_matches(_type_key(v), phones.NUMBER_TYPES, 1))
        ]
        hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
        raise top.fail(
            "number_types", f"names unknown number types {unknown}{hint}; known: {known}"
        )
    return frozenset(value)


def _type_key(name: str) -> str:
    """A type name as a person may write it (`Fixed-Line`), in the form NUMBER_TYPES uses."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _parse_test(table: Any, path: Path, region: str, number_types: frozenset[str]) -> TestSpec:
    if table is None:
        return TestSpec()
    if not isinstance(table, dict):
        raise CampaignError(f"{path}: `test` must be a table (`[test]`)")
    test = _Reader(table, "test.", path)
    test.check_keys(_TEST_KEYS)
    value = test.get("numbers", list, [])
    if not all(isinstance(v, str) for v in value):
        raise test.fail(
            "numbers", 'must be a list of phone numbers as strings, e.g. ["+49 176 1234 5678"]'
        )
    numbers: list[int] = []
    for raw in value:
        found = phones.check_one(raw, region, number_types)
        if found.reason is not None:
            what = "cannot be sent to" if found.refused_type else "is not a valid number"
            raise test.fail("numbers", f"holds {raw!r}, which {what} ({found.reason})")
        numbers.append(found.number)
    return TestSpec(tuple(dict.fromkeys(numbers)))


def check_validity(campaign: Campaign, now: float) -> None:
    """Raise CampaignError when the delay's validity (delay + ttl) ends within a minute of `now`.

    Validity starts at the delay, so such a campaign could send nothing: a run marks every row
    `expired`, and a preview or dry run has no request to show. Not part of reading the file, so
    reading a campaign file never depends on the clock.
    """
    m = campaign.message
    if m.delay is None:
        return
    # The sender gives a message whole minutes of validity and sends none with less than one.
    if m.delay.timestamp() + m.ttl * 60 - now < 60:
        raise CampaignError(
            f"{campaign.path}: `message.delay` ({m.delay:%Y-%m-%d %H:%M} UTC) plus `message.ttl` "
            f"({m.ttl} minutes) has passed, so every message would expire unsent; "
            "give a later delay, a longer ttl, or no delay"
        )


_LOCAL_FORMS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def parse_moment(value: str | int | dt.datetime, timezone: dt.tzinfo | None) -> dt.datetime:
    """Read a moment given as "YYYY-MM-DD HH:MM[:SS]", ISO 8601, Unix seconds or a TOML date-time.

    A moment without an offset is read in `timezone` (None: the machine's zone). Returns UTC. A
    local time the clocks skip (the hour daylight saving time begins) is a ValueError; one they
    pass twice (the hour it ends) is the earlier of the two moments.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int) or (isinstance(value, str) and value.strip().isdecimal()):
        seconds = int(value)
        if seconds < 1_000_000_000:
            raise ValueError(f"as Unix seconds, must be a moment after 2001 (got {seconds})")
        if seconds > 253_402_300_799:  # 9999-12-31 23:59:59 UTC; beyond it fromtimestamp fails
            raise ValueError(f"as Unix seconds, must be before the year 10000 (got {seconds})")
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    else:
        text = value.strip()
        moment = None
        for form in _LOCAL_FORMS:
            try:
                moment = dt.datetime.strptime(text, form)
                break
            except ValueError:
                pass
        if moment is None:
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f'cannot read {value!r}: write "YYYY-MM-DD HH:MM", an ISO 8601 time with '
                    'offset such as "2026-12-01T09:00:00+01:00", or Unix seconds'
                ) from None
    assert moment is not None
    if moment.tzinfo is None:
        wall = moment.replace(fold=0)  # fold=0: of a repeated hour, the first (earlier) pass
        # astimezone() on a naive time reads it in the machine's zone, DST included.
        moment = wall.replace(tzinfo=timezone) if timezone else wall.astimezone()
        # A skipped wall time still converts (shifted by the jump); only the round trip tells.
        there = moment.astimezone(dt.UTC).astimezone(timezone)
        if timezone is None:
            there = moment.astimezone(dt.UTC).astimezone()
        if there.replace(tzinfo=None) != wall:
            zone = f"in {timezone}" if timezone else "in the machine's time zone"
            # The machine's zone may land before the gap, a ZoneInfo after it: suggest after.
            later = (wall + abs(there.replace(tzinfo=None) - wall)).isoformat(" ", "minutes")
            offset = moment.isoformat(timespec="seconds")[19:]
            raise ValueError(
                f"{wall.isoformat(' ', 'minutes')} does not exist {zone}: the clocks skip that "
                f'hour (daylight saving time begins); write a time after the jump, e.g. "{later}", '
                f'or the offset you mean, e.g. "{wall.isoformat("T", "seconds")}{offset}"'
            )
    return moment.astimezone(dt.UTC)
