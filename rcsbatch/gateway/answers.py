"""Read the gateway's answers to a send: every shape `seven-gateway.md` describes.

seven answers HTTP 200 even for errors, with the code in the body: a JSON object whose `success` is
a string code and whose `messages[i].success` decides each recipient, or a bare code (`900`, or the
JSON string `"900"`). Non-200 statuses, HTML error pages and bodies that are not JSON happen too.

`read_send_answer` returns `Accepted` or raises one of the `GatewayError` kinds, which decide
what the sender does: retry (`RetriableError`), mark the row failed (`RecipientRefusedError`), mark
it unknown (`AnswerLostError`), or stop the run (`AccountError`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rcsbatch.errors import AccountError, AnswerLostError, RecipientRefusedError, RetriableError

RETRY_AFTER_MAX = 120.0

ACCOUNT_CODES = {
    "201": "the gateway refused the sender (`from` in [message]): use an agent id of this account "
    "(seven's dashboard lists them) or leave `from` out",
    "500": "the account has no credit left: top it up, then run the same command again",
    "802": "the gateway refused the label: use at most 100 of A-Z a-z 0-9 . - _ @",
    "900": "the gateway refused the API key: check SEVEN_API_KEY",
    "901": "the gateway refused the request signature: check the account's signing settings",
    "902": "the API key lacks the right to send RCS: enable it for this key in seven's dashboard",
    "903": "the gateway refused this machine's IP address: allow it in seven's dashboard",
}

RECIPIENT_CODES = {
    "202": "recipient number invalid",
    "301": "recipient missing or invalid",
    "305": "text missing or invalid",
    "401": "text too long",
    "403": "daily limit for this recipient reached",
    "600": "carrier error while sending",
    "700": "unknown error",
}

# 402 is SMS's reload lock (the same text to the same number within 180 s): an earlier identical
# request went through. Whether RCS has it is unconfirmed; if it does, the row is settled like a
# lost answer, never reported as failed.
RELOAD_LOCK = "402"

# `json.loads(body, parse_float=Decimal)` builds a new decoder on every call; one shared decoder
# reads the same (numbers with a fraction or exponent as Decimal, exactly as written).
_DECODER = json.JSONDecoder(parse_float=Decimal)


@dataclass(frozen=True)
class Accepted:
    """The gateway accepted the message: its ids, the price (None: not known yet), the balance."""

    message_ids: tuple[str, ...]
    price: Decimal | None
    balance: Decimal | None = None


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number or numeric string as Decimal; None for null, empty or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(value) if isinstance(value, (Decimal, str)) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def retry_after(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header in either form (seconds or HTTP-date), clamped."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def _code_of(value: Any) -> str | None:
    """A return code from a bare body: 900, "900", or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (str, Decimal)):
        text = str(value).strip()
        return text if text.isdigit() else None
    return None


def _digits(recipient: Any) -> str:
    text = str(recipient or "").strip().lstrip("+")
    return text[2:] if text.startswith("00") else text


def _truthy(value: Any) -> bool:
    return (
        value is True or value == 1 or (isinstance(value, str) and value.lower() in ("true", "1"))
    )


def _entry_accepted(entry: dict[str, Any]) -> bool:
    """An entry says success; or, with no `success` at all, it has an id and no error."""
    if "success" in entry:
        return _truthy(entry["success"])
    return entry.get("id") is not None and not entry.get("error")


def _raise_for_code(code: str, text: str | None = None) -> None:
    if code in ACCOUNT_CODES:
        raise AccountError(ACCOUNT_CODES[code], code=code)
    if code == RELOAD_LOCK:
        raise AnswerLostError(
            "reload lock (402): an identical message went out shortly before", code=code
        )
    raise RecipientRefusedError(
        text or RECIPIENT_CODES.get(code, f"refused with code {code}"), code=code
    )


def _loads(body: bytes) -> Any:
    """`json.loads(body, parse_float=Decimal)`, with the module's one decoder."""
    return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))


def read_send_answer(
    status: int, headers: Mapping[str, str], body: bytes, recipient: str
) -> Accepted:
    """Decide what one `POST /rcs/messages` answer means for the row of `recipient` (digits)."""
    if status != 200:
        _raise_for_status(status, headers)
    try:
        data = _loads(body)
    except ValueError:
        code = _code_of(body.decode("latin-1"))
        if code is None:
            raise AnswerLostError("the gateway answered with something that is not JSON") from None
        data = code
    # The common answer, one message entry that says `"success": true`, settled without the
    # general path's lists; what it returns is what the general path would (tests compare both).
    # With a single entry the recipient need not be compared: the general path falls back to all
    # entries when none is this recipient's.
    if type(data) is dict:
        entries = data.get("messages")
        if type(entries) is list and len(entries) == 1:
            entry = entries[0]
            if type(entry) is dict and entry.get("success") is True:
                entry_id = entry.get("id")
                price = to_decimal(entry.get("price"))
                return Accepted(
                    () if entry_id is None else (str(entry_id),),
                    # `Decimal(0) + price`, not `price`: the sum the general path returns.
                    Decimal(0) + price if price is not None and price > 0 else None,
                    to_decimal(data.get("balance")),
                )
    return _read_answer(data, recipient)


def _read_answer(data: Any, recipient: str) -> Accepted:
    """The general path of `read_send_answer`, for an answer already parsed."""
    code = _code_of(data)
    if code is not None:
        if code in ("100", "101"):
            # Accepted (maybe), but nothing says which message for whom: settle it as lost.
            raise AnswerLostError("the gateway's answer lists no messages", code=code)
        _raise_for_code(code)
    if not isinstance(data, dict):
        raise AnswerLostError("the gateway's answer has an unknown shape")
    top = _code_of(data.get("success"))
    entries = data.get("messages")
    entries = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    if not entries:
        if top is not None and top not in ("100", "101"):
            _raise_for_code(top)
        raise AnswerLostError("the gateway's answer lists no messages")
    mine = [e for e in entries if _digits(e.get("recipient")) == recipient] or entries
    accepted = [e for e in mine if _entry_accepted(e)]
    if not accepted:
        first = mine[0] if mine else {}
        entry_code = _code_of(first.get("error")) or (
            top if top not in (None, "100", "101") else None
        )
        error_text = first.get("error_text")
        _raise_for_code(entry_code or "700", str(error_text) if error_text else None)
    ids = tuple(str(e["id"]) for e in accepted if e.get("id") is not None)
    prices = [to_decimal(e.get("price")) for e in accepted]
    # seven's own example answers price 0 and total_price null: RCS prices may be settled later
    # (in the logbook), so 0 or null means "not known yet", never "free".
    known = all(p is not None and p > 0 for p in prices)
    price = sum((p for p in prices if p is not None), Decimal(0)) if known else None
    return Accepted(ids, price, to_decimal(data.get("balance")))


def _raise_for_status(status: int, headers: Mapping[str, str]) -> None:
    wait = retry_after(headers)
    if status == 429:
        raise RetriableError(
            "the gateway asked to slow down (HTTP 429)", code="429", retry_after=wait
        )
    if status == 503 and wait is not None:
        raise RetriableError(
            "the gateway is unavailable for a moment (HTTP 503)", code="503", retry_after=wait
        )
    if status == 408:
        raise RetriableError("the gateway timed out reading the request (HTTP 408)", code="408")
    if status in (401, 403):
        raise AccountError(
            f"the gateway refused access (HTTP {status}): check SEVEN_API_KEY", code=str(status)
        )
    if status in (404, 405):
        raise AccountError(
            f"the gateway has no such endpoint (HTTP {status}): check SEVEN_BASE_URL",
            code=str(status),
        )
    if 400 <= status < 500:
        raise RecipientRefusedError(
            f"the gateway refused the request (HTTP {status})", code=str(status)
        )
    # Any other status (500, 502, 504, …) may come after the gateway took the message.
    raise AnswerLostError(f"the gateway answered HTTP {status}", code=str(status))


def raise_for_status(status: int, headers: Mapping[str, str]) -> None:
    """Raise the GatewayError a non-200 status means, by the send path's rules."""
    _raise_for_status(status, headers)
