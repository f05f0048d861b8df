"""The simulator's fault knobs: what the fake gateway does wrong, and when.

Every knob defaults to "off", so a fresh :class:`Faults` gives a well-behaved gateway. The object
is mutable on purpose: tests and the benchmark flip knobs on a running server (directly on the
Python object, or with ``PATCH /_sim/faults`` and a JSON partial update, see :meth:`Faults.update`).

Random faults (the ``*_rate`` knobs) draw from ``random.Random(seed)``; the deterministic ones
(``fail_first_n``, ``script``, a rate of 1.0) need no seed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_PRICE = Decimal("0.0475")
DEFAULT_BALANCE = Decimal("500.00")

RetryAfterForm = Literal["seconds", "date"]
CodeForm = Literal["bare", "json_string", "json_object"]
RichForm = Literal["json_text", "form_string", "top_level"]
PriceForm = Literal["string", "number"]
TextRendering = Literal["exact", "tracked_links", "trimmed"]
RichRendering = Literal["json", "title"]
ScheduledStamp = Literal["delay", "acceptance"]

#: Outcomes a ``script`` entry may name; see :attr:`Faults.script`.
SCRIPT_OUTCOMES = frozenset({"ok", "500", "502", "503", "429", "drop", "garbled", "extra"})
#: Outcomes an ``event_script`` or ``lookup_script`` entry may name.
OTHER_SCRIPT_OUTCOMES = frozenset({"ok", "500", "502", "503", "429", "drop"})


@dataclass
class Faults:
    """Mutable knobs for the simulated account and its misbehaviour; faults default to off."""

    #: Price in EUR of one accepted RCS message; changes apply to the next send.
    price: Decimal = DEFAULT_PRICE
    #: The account's starting balance in EUR, applied when the backend is made and on reset (a
    #: loaded state file's balance wins). Top up, or ``PATCH /_sim/account``, to change the
    #: balance of a running simulator.
    balance: Decimal = DEFAULT_BALANCE

    #: Added to every API request (not the ``/_sim`` control endpoints), awaited, not blocking.
    latency_ms: float = 0.0
    #: Latency of the logbook (``GET /journal/outbound``) instead of ``latency_ms``; None: the
    #: same as every other request.
    logbook_latency_ms: float | None = None
    #: Fractions of send requests answered with an HTML error page of that status; not accepted.
    error_500_rate: float = 0.0
    error_502_rate: float = 0.0
    #: Fraction of send requests answered 503 with ``Retry-After``; not accepted.
    error_503_rate: float = 0.0
    #: Fraction of send requests answered 429 with ``Retry-After``; not accepted.
    rate_429: float = 0.0
    #: Seconds written in ``Retry-After`` (429 and 503).
    retry_after: float = 1.0
    #: ``"seconds"`` (delta-seconds, rounded up) or ``"date"`` (an HTTP-date that far ahead).
    retry_after_form: RetryAfterForm = "seconds"
    #: Fraction of sends that are accepted and recorded, then the connection is aborted unanswered.
    drop_after_accept_rate: float = 0.0
    #: Fraction of sends that are accepted and recorded, then answered 200 with a non-JSON body.
    garbled_after_accept_rate: float = 0.0
    #: After this many accepted messages every send answers code 500 (insufficient credit) until a
    #: top-up; each top-up grants another ``credit_after`` messages. The balance is always enforced.
    credit_after: int | None = None
    #: Requests with this API key answer code 900.
    refuse_key: str | None = None
    #: How a bare error code is written (unconfirmed upstream, so one knob per variant):
    #: ``900``, ``"900"`` or ``{"success": "900", ...}``.
    code_form: CodeForm = "bare"
    #: When False, answers carry ``price: 0``, ``parts: 0`` and ``total_price: null`` as seven's own
    #: example does, and the real price shows only in the logbook.
    price_in_answer: bool = True
    #: An accepted message appears in the logbook only this many seconds after acceptance.
    logbook_lag_s: float = 0.0
    #: Each accepted message waits a further lag of its own, drawn uniformly from [0, this] (from
    #: the seeded random source, once, at acceptance, and kept with the message and in the state
    #: file), so messages can appear in the logbook in another order than they were accepted.
    logbook_lag_jitter_s: float = 0.0
    #: While True, no message accepted after the moment this turned on appears in the logbook
    #: (older ones stay listed), however long one waits: a stalled logbook. Turning it off lets
    #: them appear, subject to the lag. The moment is :attr:`logbook_stalled_since`.
    logbook_stalled: bool = False
    #: Whether a scheduled (delayed) message is listed in the logbook before its send time
    #: (unconfirmed upstream).
    scheduled_in_logbook: bool = True
    #: Which time a scheduled (delayed) message's logbook ``timestamp`` shows, and its day for
    #: ``date_from``/``date_to``: its send time (``"delay"``) or when it was accepted
    #: (``"acceptance"``); unconfirmed upstream. Whether it is listed before its send time is
    #: ``scheduled_in_logbook``.
    scheduled_stamp: ScheduledStamp = "delay"
    #: The IANA zone (``"Europe/Berlin"``, ``"UTC"``, ...) of the logbook's zone-less
    #: ``timestamp``/``dlr_timestamp`` and of its ``date_from``/``date_to`` days: Berlin is likely,
    #: UTC possible (unconfirmed upstream). A ``delay`` written as a date stays Berlin time.
    logbook_tz: str = "Europe/Berlin"
    #: The gateway's clock runs this many seconds ahead of the machine's (negative: behind). It
    #: moves everything the gateway stamps: the logbook's ``timestamp``/``dlr_timestamp`` and the
    #: days ``date_from``/``date_to`` select, webhook timestamps (``X-Timestamp`` included), a
    #: ``Retry-After`` date, a hook's ``created`` and analytics days, and the HTTP ``Date`` header
    #: of every response. The simulator's own records (``/_sim/state``) stay in machine time.
    clock_offset_s: float = 0.0
    #: How the logbook's ``text`` shows a plain-text message: ``"exact"`` as sent;
    #: ``"tracked_links"`` with every http(s) URL replaced by a short link
    #: (``https://s.seven.io/`` and a code fixed per URL), in every plain message (seven does it
    #: for messages sent with ``performance_tracking``; the default leaves those exact too);
    #: ``"trimmed"`` stripped, with each run of whitespace as one space. The accepted message
    #: (``/_sim/state``) keeps the text as sent.
    text_rendering: TextRendering = "exact"
    #: How the logbook's ``text`` shows a rich (RCS object) message: ``"json"``, the object as
    #: compact JSON in the order sent (``json.dumps(obj, separators=(",", ":"),
    #: ensure_ascii=False)``, what the simulator has always shown); ``"title"``, only the rich
    #: card's title (a carousel: its first card's; a card without one: its description, else its
    #: media URL), a file message's ``fileUrl``, or a text message's text.
    rich_rendering: RichRendering = "json"
    #: How the logbook writes ``price``: a JSON string ``"0.0475"`` (default) or a number.
    journal_price_form: PriceForm = "string"
    #: Recipient digits (as in ``recipient``: country code, no ``+``/``00``) -> per-recipient
    #: error code (202, 401, 403, 600, 700, ...). That recipient is refused inside a
    #: ``"101"`` answer (``"100"`` with ``hide_refusals_in_100``) and not accepted.
    refuse: dict[str, int] = field(default_factory=dict)
    #: The per-recipient code for a number an agent in ``test`` status may not reach (only its
    #: ``test_numbers`` receive; which code seven answers is not documented).
    test_agent_code: str = "700"
    #: Answer ``"100"`` even when a recipient was refused (seven's docs allow it).
    hide_refusals_in_100: bool = False
    #: Fraction of accepted recipients that get a second ``messages`` entry (a second id and a
    #: second charge) for the same ``to``, as in seven's own example.
    extra_entry_rate: float = 0.0
    #: SMS's reload lock applied to RCS (unconfirmed): same text to the same number within
    #: ``reload_lock_s`` seconds answers 402.
    reload_lock: bool = False
    reload_lock_s: float = 180.0
    #: The dlr state the logbook shows for an accepted message ``delivery_after_s`` seconds after
    #: its send time (before that: ``null``).
    delivery: str = "DELIVERED"
    delivery_after_s: float = 0.0
    #: Recipient digits -> dlr state, overriding ``delivery`` for that recipient.
    delivery_for: dict[str, str] = field(default_factory=dict)
    #: Recipients whose lookup shows no RCS capability end ``NOTDELIVERED`` unless sent with a
    #: ``fallback`` (off by default so ``delivery`` alone decides).
    undeliverable_without_rcs: bool = False
    #: The dlr state a revoked message shows (it never reaches DELIVERED).
    revoked_dlr: str | None = "REJECTED"
    #: The first N revoke requests (``DELETE /rcs/messages/{id}``, counted since start or reset)
    #: get an HTTP 500 page and change nothing.
    revoke_fail_first_n: int = 0
    #: Which of the three unconfirmed rich-content forms is accepted; the others answer 305:
    #: ``json_text`` (an object as ``text`` in a JSON body), ``form_string`` (that object as a JSON
    #: string in ``text``), ``top_level`` (``richcard``/``carousel``/``file``/``suggestions`` beside
    #: ``to``).
    rich_form: RichForm = "json_text"
    #: The first N send requests (counted since start or reset) get an HTTP 500 page.
    fail_first_n: int = 0
    #: Outcomes for the next send requests, consumed (popped) one per request before any rate
    #: applies: ``ok``, ``500``, ``502``, ``503``, ``429``, ``drop``, ``garbled``, ``extra``.
    script: list[str] = field(default_factory=list)
    #: Outcomes for the next ``POST /rcs/events`` and ``GET /lookup/rcs`` requests, popped one
    #: per request as ``script`` is for sends: ``ok``, ``500``, ``502``, ``503``, ``429`` (an
    #: HTML page, not carried out) or ``drop`` (carried out, then the connection is aborted).
    event_script: list[str] = field(default_factory=list)
    lookup_script: list[str] = field(default_factory=list)
    #: Post signed delivery reports to the hooks registered for ``dlr`` or ``all`` (``POST
    #: /hooks``) as each message's states fall due: ``TRANSMITTED`` at its send time, then its
    #: ``dlr`` at ``delivery_after_s``. Signed with the account's ``signing_key`` (``PATCH
    #: /_sim/account``). Off by default, so a simulator never calls out unasked.
    webhooks: bool = False
    #: Attempts per report (seven: up to 14 over days) and seconds between them; a report is
    #: tried again on 429, 5xx, a timeout or a connection error, as seven does.
    webhook_attempts: int = 14
    webhook_retry_s: float = 0.2
    #: Fraction of reports posted twice (seven's retries make duplicates).
    webhook_duplicate_rate: float = 0.0
    #: Post each message's final state before its earlier TRANSMITTED report (out of order).
    webhook_reorder: bool = False
    #: Seed for the random faults; None seeds from the OS.
    seed: int | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # The stall moment is taken where the knob flips, so it is right however it is set: by
        # update(), reset() or an assignment on the object.
        if name == "logbook_stalled" and value and not getattr(self, name):
            self.__dict__["_stalled_since"] = time.time()
        super().__setattr__(name, value)

    @property
    def logbook_stalled_since(self) -> float | None:
        """When (machine time) ``logbook_stalled`` last turned on; None if it never did."""
        since: float | None = self.__dict__.get("_stalled_since")
        return since

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update from JSON-like values, all or nothing; raise ValueError if bad."""
        hints = _hints()
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in hints:
                raise ValueError(f"unknown fault knob {name!r}; known: {', '.join(sorted(hints))}")
            try:
                coerced[name] = _coerce(hints[name], value)
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ValueError(f"{name}: {exc}") from None
        for name, value in coerced.items():
            if (name.endswith("_rate") or name == "rate_429") and not 0 <= value <= 1:
                raise ValueError(f"{name}: a fraction between 0 and 1, got {value!r}")
            if name in _NON_NEGATIVE and value is not None and value < 0:
                raise ValueError(f"{name}: must not be negative, got {value!r}")
            if name in _FINITE and not math.isfinite(value):
                raise ValueError(f"{name}: must be a finite number, got {value!r}")
        if "logbook_tz" in coerced:
            try:
                ZoneInfo(coerced["logbook_tz"])
            except (ZoneInfoNotFoundError, ValueError, OSError):
                raise ValueError(
                    f"logbook_tz: not an IANA time zone such as Europe/Berlin or UTC: "
                    f"{coerced['logbook_tz']!r}"
                ) from None
        for key, known in (
            ("script", SCRIPT_OUTCOMES),
            ("event_script", OTHER_SCRIPT_OUTCOMES),
            ("lookup_script", OTHER_SCRIPT_OUTCOMES),
        ):
            if key in coerced:
                bad = [s for s in coerced[key] if s not in known]
                if bad:
                    raise ValueError(f"{key}: unknown outcomes {bad}; known: {sorted(known)}")
        for key in ("refuse", "delivery_for"):
            if key in coerced:
                coerced[key] = {_digits(k): v for k, v in coerced[key].items()}
        for name, value in coerced.items():
            setattr(self, name, value)

    def reset(self, to: Faults | None = None) -> None:
        """Set every knob back to ``to``'s value (default: the defaults), in place."""
        for f in dataclasses.fields(self):
            if to is not None:
                value = copy.deepcopy(getattr(to, f.name))
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = f.default
            setattr(self, f.name, value)

    def to_dict(self) -> dict[str, Any]:
        """The knobs as JSON-ready values."""
        return {f.name: _copy(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _digits(number: str) -> str:
    number = str(number).strip()
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


_NON_NEGATIVE = frozenset(
    {
        "latency_ms",
        "logbook_latency_ms",
        "retry_after",
        "credit_after",
        "logbook_lag_s",
        "logbook_lag_jitter_s",
        "reload_lock_s",
        "delivery_after_s",
        "fail_first_n",
        "webhook_attempts",
        "webhook_retry_s",
    }
)
# A clock offset or a jitter of infinity (or NaN) would stamp or hide nonsense.
_FINITE = frozenset({"clock_offset_s", "logbook_lag_jitter_s"})
_HINTS: dict[str, Any] = {}


def _hints() -> dict[str, Any]:
    if not _HINTS:
        _HINTS.update(typing.get_type_hints(Faults))
    return _HINTS


def _coerce(hint: Any, value: Any) -> Any:
    """Convert a JSON value to the knob's declared type, or raise."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value)
    if origin is Literal:
        if value not in args:
            raise ValueError(f"expected one of {list(args)}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {value!r}")
        key_t, val_t = args
        return {_coerce(key_t, k): _coerce(val_t, v) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        (item_t,) = args
        return [_coerce(item_t, v) for v in value]
    if hint is Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            # A binary float cannot carry money exactly: write "0.0475".
            raise TypeError(f'expected an exact amount such as "0.0475", got {value!r}')
        d = Decimal(value)
        if not d.is_finite() or d < 0:
            raise ValueError(f"expected a non-negative amount, got {value!r}")
        return d
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool):
            raise TypeError(f"expected an integer, got {value!r}")
        if isinstance(value, str | Decimal | float) and int(value) != Decimal(str(value)):
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise TypeError(f"expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported knob type {hint!r}")  # pragma: no cover - a bug in Faults
