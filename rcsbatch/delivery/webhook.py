"""seven's webhooks, without HTTP: checking a request's signature, reading the reports it carries.

seven signs each webhook with the account's signing key: ``X-Signature`` is the hex HMAC-SHA256 of
``timestamp \\n nonce \\n METHOD \\n full_url \\n md5_hex(raw body)``, with ``X-Timestamp`` (Unix
seconds) and ``X-Nonce`` beside it. `verify` checks that in constant time and refuses stale
timestamps; `parse_reports` reads the delivery reports out of every body form seven may use.

What a body may look like (seven documents the first; the rest are plausible and all accepted):

* the envelope ``{"webhook_event": "dlr", "webhook_timestamp": ISO 8601,
  "data": {"msg_id", "status", "timestamp"}}``, as JSON (``request_method`` JSON);
* an RCS status payload ``{"agent_id", "sender", "status", "foreign_id", "msg_id",
  "timestamp"}``, bare or as the envelope's ``data`` (unconfirmed which, so both);
* the same fields form-encoded (``request_method`` POST), flat or as ``data[msg_id]=…``, or
  ``data`` holding the JSON object as a string;
* the same in the query string of a GET (``request_method`` GET), the body then empty;
* ``data`` as a list of such objects.

Events that are not about delivery (inbound RCS or SMS messages, click tracking, voice, newsletter)
are acknowledged and dropped: `parse_reports` returns nothing for them. Their content is other
people's messages, which a delivery report has no business keeping.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from rcsbatch.delivery.states import normalise
from rcsbatch.errors import ReportFormatError, SignatureError

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
NONCE_HEADER = "X-Nonce"
MAX_AGE = 300.0  # seconds a signature stays good, either way of now (seven's JS client: 300)

# seven writes `data.timestamp` as "YYYY-MM-DD HH:MM:SS.ffffff" with no zone, beside a
# `webhook_timestamp` with an offset. Its zone is unconfirmed: we assume the gateway's local time,
# Europe/Berlin, as for the logbook (the documented example has both at 08:08 with +02:00).
GATEWAY_TZ = ZoneInfo("Europe/Berlin")

# Events that never carry a delivery state: acknowledged, then dropped.
OTHER_EVENTS = re.compile(r"sms_mo|rcs_mo|inbound.*|tracking|voice_.*|newsletter_.*")
# Events whose payload must be a delivery report (None: a bare payload without an envelope).
DELIVERY_EVENTS = frozenset({None, "dlr", "rcs_dlr", "rcs_status", "status"})

_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
_FORM_KEY = re.compile(r"(\w+)\[(\w*)\]")


@dataclass(frozen=True)
class DeliveryReport:
    """One message's delivery state as a webhook reported it; `state_at` in Unix seconds."""

    msg_id: str
    state: str
    state_at: float | None
    foreign_id: str | None = None


def signature(key: str, timestamp: str, nonce: str, method: str, url: str, body: bytes) -> str:
    """The hex HMAC-SHA256 seven puts in ``X-Signature`` for this request."""
    digest = hashlib.md5(body).hexdigest()  # seven's scheme (md5), not our choice
    message = "\n".join((timestamp, nonce, method.upper(), url, digest))
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The signature's three headers, by their canonical names; SignatureError (kind missing)
    when one is absent or blank. Checking them needs no body, so an unsigned request can be
    refused before it is read."""
    found = {name.lower(): value for name, value in headers.items()}
    given = {
        name: found.get(name.lower(), "").strip()
        for name in (SIGNATURE_HEADER, TIMESTAMP_HEADER, NONCE_HEADER)
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise SignatureError(f"unsigned request: no {', '.join(missing)}", kind="missing")
    return given


def verify(
    headers: Mapping[str, str],
    method: str,
    url: str,
    body: bytes,
    key: str,
    now: float,
    max_age: float = MAX_AGE,
) -> None:
    """Return when the request is signed with `key` and its timestamp is within `max_age`
    seconds of `now`; raise SignatureError (kind missing, bad or stale) otherwise.

    `url` is the full URL seven called, query string included.
    """
    given = signature_headers(headers)
    timestamp = given[TIMESTAMP_HEADER]
    expected = signature(key, timestamp, given[NONCE_HEADER], method, url, body)
    if not hmac.compare_digest(
        expected.encode(), given[SIGNATURE_HEADER].lower().encode("utf-8", "replace")
    ):
        raise SignatureError(
            "wrong signature: another signing key, or the URL seven called differs from the one "
            "checked (behind a proxy, give the receiver the public URL seven calls)",
            kind="bad",
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not Unix seconds", kind="bad") from None
    if abs(now - sent_at) > max_age:
        way = "old" if sent_at < now else "far in the future"
        raise SignatureError(
            f"stale request: its timestamp is {abs(now - sent_at):.0f} s {way} "
            f"(at most {max_age:.0f} s allowed; is this machine's clock right?)",
            kind="stale",
        )


def parse_reports(
    body: bytes, content_type: str, query: str | Mapping[str, str] = ""
) -> list[DeliveryReport]:
    """The delivery reports in a webhook request; [] for an event about something else.

    `content_type` is the request's media type; `query` its query string (a GET carries the
    report there). Raises ReportFormatError for a body that cannot be read as any form.
    """
    payload = _payload(body, content_type, query)
    items = payload if isinstance(payload, list) else [payload]
    reports: list[DeliveryReport] = []
    for item in items:
        if not isinstance(item, dict):
            raise ReportFormatError(f"expected a JSON object, got {_kind(item)}")
        reports.extend(_envelope(item))
    return reports


def _payload(body: bytes, content_type: str, query: str | Mapping[str, str]) -> Any:
    text = body.strip()
    if not text:
        fields = list(query.items()) if isinstance(query, Mapping) else _qsl(query)
        if not fields:
            raise ReportFormatError("empty request: no body and no query string")
        return _form(fields)
    media = content_type.split(";", 1)[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if is_json or (media != "application/x-www-form-urlencoded" and text[:1] in (b"{", b"[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ReportFormatError(f"the body is not JSON ({exc})") from None
        except RecursionError:
            raise ReportFormatError("the body is JSON nested too deeply to read") from None
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportFormatError("the body is neither JSON nor UTF-8 form data") from None
    fields = _qsl(decoded)
    if not fields:
        raise ReportFormatError("the body is neither JSON nor form data")
    return _form(fields)


def _qsl(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise ReportFormatError("the body is neither JSON nor form data") from None


def _form(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as the JSON object they stand for: ``data[msg_id]=1`` -> ``{"data": {…}}``,
    ``data={"msg_id": …}`` (a JSON string) -> the object."""
    out: dict[str, Any] = {}
    for name, value in fields:
        nested = _FORM_KEY.fullmatch(name)
        if nested:
            inner = out.setdefault(nested[1], {})
            if isinstance(inner, dict):
                inner[nested[2]] = value
        elif name == "data" and value.strip().startswith(("{", "[")):
            try:
                out[name] = json.loads(value)
            except (ValueError, RecursionError):
                raise ReportFormatError("the form field data is not JSON") from None
        else:
            out[name] = value
    return out


def _envelope(obj: dict[str, Any]) -> list[DeliveryReport]:
    event = obj.get("webhook_event")
    event = event.strip().lower() if isinstance(event, str) else None
    if event is not None and OTHER_EVENTS.fullmatch(event):
        return []
    data = obj.get("data", obj if "msg_id" in obj or "status" in obj else None)
    items = data if isinstance(data, list) else [data]
    strict = event in DELIVERY_EVENTS
    fallback = _moment(obj.get("webhook_timestamp"))
    reports = []
    for item in items:
        if not isinstance(item, dict):
            if strict:
                raise ReportFormatError(f"no report in the body: data is {_kind(item)}")
            continue
        report = _report(item, fallback, strict=strict)
        if report is not None:
            reports.append(report)
    return reports


def _report(item: dict[str, Any], fallback: float | None, *, strict: bool) -> DeliveryReport | None:
    """One report; None for an item of a non-delivery event (an inbound RCS message: no state)."""
    msg_id = item.get("msg_id")
    status = item.get("status")
    state = normalise(status)
    if isinstance(msg_id, int) and not isinstance(msg_id, bool):
        msg_id = str(msg_id)
    if not isinstance(msg_id, str) or not msg_id.strip() or state is None:
        if not strict:
            return None
        if not isinstance(msg_id, str) or not msg_id.strip():
            raise ReportFormatError("a delivery report without msg_id")
        raise ReportFormatError(f"a delivery report with an unknown status {str(status)[:40]!r}")
    foreign_id = item.get("foreign_id")
    return DeliveryReport(
        msg_id.strip(),
        state,
        _moment(item.get("timestamp")) or fallback,
        foreign_id if isinstance(foreign_id, str) and foreign_id else None,
    )


def _moment(value: Any) -> float | None:
    """Unix seconds from seven's time forms: Unix seconds, ISO 8601 with an offset, or
    "YYYY-MM-DD HH:MM:SS.ffffff" without a zone (read as Europe/Berlin, see GATEWAY_TZ)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        if not _NAIVE.fullmatch(text):
            return None
        moment = moment.replace(tzinfo=GATEWAY_TZ)
    return moment.timestamp()


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
