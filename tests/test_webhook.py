"""seven's webhook signature and report forms, as seven-gateway.md describes them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from rcsbatch.delivery.webhook import DeliveryReport, parse_reports, signature, verify
from rcsbatch.errors import ReportFormatError, SignatureError

# The test vector of seven-gateway.md, "Webhooks".
KEY = "test-signing-key"
TIMESTAMP = "1764151200"
NONCE = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
URL = "https://hooks.example.com/seven?campaign=spring"
BODY = (
    b'{"webhook_event":"dlr","webhook_timestamp":"2026-11-26T10:00:00+01:00",'
    b'"data":{"msg_id":"77149843739","status":"DELIVERED",'
    b'"timestamp":"2026-11-26 10:00:00.000000"}}'
)
MD5 = "bb7c3febb3520ef70e04735ff580a6d1"
SIGNATURE = "d14e030d28281e229028c752b8f417586b9f99380a319b7f5021c211cf72e915"
NOW = float(TIMESTAMP)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def headers(sig: str = SIGNATURE, ts: str = TIMESTAMP, nonce: str = NONCE) -> dict[str, str]:
    return {"X-Signature": sig, "X-Timestamp": ts, "X-Nonce": nonce}


def utc(text: str) -> float:
    """Unix seconds of a UTC wall time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_signature_matches_the_documented_test_vector() -> None:
    """md5 of the body and the HMAC-SHA256 signature are those of seven-gateway.md."""
    assert hashlib.md5(BODY).hexdigest() == MD5
    assert signature(KEY, TIMESTAMP, NONCE, "POST", URL, BODY) == SIGNATURE
    assert signature(KEY, TIMESTAMP, NONCE, "post", URL, BODY) == SIGNATURE


def test_verify_accepts_the_test_vector_with_headers_in_any_case() -> None:
    """A correctly signed request passes, whatever the case of its header names."""
    verify(headers(), "POST", URL, BODY, KEY, NOW)
    lower = {k.lower(): v for k, v in headers(sig=SIGNATURE.upper()).items()}
    verify(lower, "POST", URL, BODY, KEY, NOW + 299)


def test_a_get_is_signed_over_the_md5_of_nothing() -> None:
    """For a GET the body part is md5("") and the URL carries the query."""
    url = URL + "&msg_id=1&status=DELIVERED"
    sig = signature(KEY, TIMESTAMP, NONCE, "GET", url, b"")
    verify(headers(sig), "GET", url, b"", KEY, NOW)


@pytest.mark.parametrize("missing", ["X-Signature", "X-Timestamp", "X-Nonce"])
def test_a_missing_header_is_a_missing_signature(missing: str) -> None:
    """Any of the three headers absent or empty: kind "missing", naming it."""
    given = headers()
    del given[missing]
    with pytest.raises(SignatureError, match=missing) as caught:
        verify(given, "POST", URL, BODY, KEY, NOW)
    assert caught.value.kind == "missing"
    with pytest.raises(SignatureError):
        verify({**given, missing: " "}, "POST", URL, BODY, KEY, NOW)


@pytest.mark.parametrize(
    ("key", "method", "url", "body", "given"),
    [
        ("another-key", "POST", URL, BODY, headers()),
        (KEY, "GET", URL, BODY, headers()),
        (KEY, "POST", "https://hooks.example.com/seven", BODY, headers()),
        (KEY, "POST", "http://127.0.0.1:8080/seven?campaign=spring", BODY, headers()),
        (KEY, "POST", URL, BODY.replace(b"DELIVERED", b"REJECTED"), headers()),
        (KEY, "POST", URL, BODY, headers(nonce="0" * 32)),
        (KEY, "POST", URL, BODY, headers(ts=str(int(TIMESTAMP) + 1))),
        (KEY, "POST", URL, BODY, headers(sig="zz" + SIGNATURE[2:])),
        (KEY, "POST", URL, BODY, headers(sig="ü" * 64)),
    ],
    ids=["key", "method", "url", "proxy-url", "body", "nonce", "timestamp", "hex", "non-ascii"],
)
def test_anything_changed_is_a_bad_signature(
    key: str, method: str, url: str, body: bytes, given: dict[str, str]
) -> None:
    """Another key, method, URL, body, nonce or timestamp: kind "bad"."""
    with pytest.raises(SignatureError) as caught:
        verify(given, method, url, body, key, NOW)
    assert caught.value.kind == "bad"


@pytest.mark.parametrize("offset", [-301, 301, -86400 * 4])
def test_a_stale_or_far_future_timestamp_is_refused(offset: float) -> None:
    """More than max_age seconds from now either way: kind "stale" (a replay, a wrong clock)."""
    with pytest.raises(SignatureError, match="stale") as caught:
        verify(headers(), "POST", URL, BODY, KEY, NOW - offset)
    assert caught.value.kind == "stale"
    verify(headers(), "POST", URL, BODY, KEY, NOW - offset, max_age=abs(offset))


def test_a_timestamp_that_is_no_number_is_refused_even_when_signed() -> None:
    """A signature over a non-numeric timestamp is still no good."""
    sig = signature(KEY, "soon", NONCE, "POST", URL, BODY)
    with pytest.raises(SignatureError) as caught:
        verify(headers(sig, ts="soon"), "POST", URL, BODY, KEY, NOW)
    assert caught.value.kind == "bad"


def test_the_error_never_holds_the_key() -> None:
    """No refusal message repeats the signing key."""
    for given in (headers(), {}, headers(ts="1")):
        with pytest.raises(SignatureError) as caught:
            verify(given, "POST", URL, BODY, "s3cret-signing-key", NOW)
        assert "s3cret" not in str(caught.value)


# ---- report forms ---------------------------------------------------------------------------

ENVELOPE = {
    "webhook_event": "dlr",
    "webhook_timestamp": "2021-08-24T08:08:00+02:00",
    "data": {
        "msg_id": "77149843739",
        "status": "DELIVERED",
        "timestamp": "2021-08-24 08:08:00.000000",
    },
}
AT = utc("2021-08-24 06:08:00")  # 08:08 in Berlin's summer time
RCS = {
    "agent_id": "myfancyagent",
    "sender": "myfancyagent",
    "status": "read",
    "foreign_id": "c1",
    "msg_id": 77149843739,
    "timestamp": "2021-08-24 08:08:00.000000",
}
EXPECTED = DeliveryReport("77149843739", "DELIVERED", AT)
RCS_EXPECTED = DeliveryReport("77149843739", "READ", AT, "c1")


def form(obj: dict[str, Any]) -> bytes:
    fields = [(k, v) for k, v in obj.items() if k != "data"]
    fields += [(f"data[{k}]", v) for k, v in obj.get("data", {}).items()]
    return urlencode(fields).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "query", "expected"),
    [
        (json.dumps(ENVELOPE).encode(), JSON, "", EXPECTED),
        (json.dumps(ENVELOPE).encode(), "application/json; charset=utf-8", "", EXPECTED),
        (json.dumps(ENVELOPE).encode(), "", "", EXPECTED),
        (json.dumps(RCS).encode(), JSON, "", RCS_EXPECTED),
        (json.dumps({**ENVELOPE, "data": RCS}).encode(), JSON, "", RCS_EXPECTED),
        (
            json.dumps({**ENVELOPE, "webhook_event": "rcs", "data": RCS}).encode(),
            JSON,
            "",
            RCS_EXPECTED,
        ),
        (json.dumps([ENVELOPE, ENVELOPE]).encode(), JSON, "", EXPECTED),
        (form(ENVELOPE), FORM, "", EXPECTED),
        (urlencode(RCS).encode(), FORM, "", RCS_EXPECTED),
        (urlencode({**ENVELOPE, "data": json.dumps(RCS)}).encode(), FORM, "", RCS_EXPECTED),
        (b"", "", form(ENVELOPE).decode() + "&campaign=spring", EXPECTED),
        (
            b"",
            "",
            {"msg_id": "77149843739", "status": "DELIVERED", "timestamp": "1629785280"},
            EXPECTED,
        ),
    ],
    ids=[
        "envelope-json",
        "json-charset",
        "json-no-type",
        "rcs-bare",
        "rcs-wrapped",
        "rcs-event",
        "list",
        "form-nested",
        "form-flat",
        "form-data-json",
        "get-query",
        "get-mapping-unix",
    ],
)
def test_every_envelope_form_gives_the_report(
    body: bytes, content_type: str, query: Any, expected: DeliveryReport
) -> None:
    """JSON, form-encoded and query forms, bare or wrapped, all read the same report."""
    reports = parse_reports(body, content_type, query)
    assert reports and all(r == expected for r in reports)


def test_a_list_in_data_gives_each_report() -> None:
    """``data`` may hold several reports."""
    body = {**ENVELOPE, "data": [ENVELOPE["data"], {**RCS, "msg_id": "2"}]}
    got = parse_reports(json.dumps(body).encode(), JSON)
    assert [(r.msg_id, r.state) for r in got] == [("77149843739", "DELIVERED"), ("2", "READ")]


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2021-08-24 08:08:00.000000", AT),
        ("2021-01-24 08:08:00", utc("2021-01-24 07:08:00")),  # winter: +01:00
        ("2021-08-24T06:08:00Z", AT),
        ("2021-08-24T08:08:00+02:00", AT),
        (1629785280, AT),
        ("1629785280", AT),
        ("not a time", utc("2021-08-24 06:08:00")),  # falls back to webhook_timestamp
        (None, utc("2021-08-24 06:08:00")),
    ],
)
def test_state_times_are_read_in_every_form_naive_ones_as_utc(stamp: Any, expected: float) -> None:
    """Unix seconds, ISO 8601 with offset, and zone-less wall time read as Europe/Berlin."""
    body = {**ENVELOPE, "data": {**ENVELOPE["data"], "timestamp": stamp}}
    (report,) = parse_reports(json.dumps(body).encode(), JSON)
    assert report.state_at == expected


def test_no_time_anywhere_gives_none() -> None:
    """A report without any readable time still counts, with no state time."""
    (report,) = parse_reports(b'{"msg_id": "1", "status": "ACCEPTED"}', JSON)
    assert report == DeliveryReport("1", "ACCEPTED", None)


@pytest.mark.parametrize(
    "body",
    [
        {"webhook_event": "sms_mo", "data": {"id": "1", "sender": "49176", "text": "hi"}},
        {"webhook_event": "tracking", "data": {"msg_id": "1", "url": "https://x"}},
        {"webhook_event": "rcs", "data": {"msg_id": "9", "sender": "49176", "text": "STOP"}},
        {"webhook_event": "rcs", "data": {"msg_id": "9", "event": "IS_TYPING"}},
        {"webhook_event": "voice_call", "data": {"id": "1"}},
        {"webhook_event": "newsletter_subscribe", "data": None},
    ],
    ids=["sms-mo", "tracking", "rcs-inbound", "rcs-typing", "voice", "newsletter"],
)
def test_events_that_are_not_delivery_are_dropped(body: dict[str, Any]) -> None:
    """Inbound messages, clicks and the like give no report (and no error)."""
    assert parse_reports(json.dumps(body).encode(), JSON) == []


@pytest.mark.parametrize(
    ("body", "content_type", "query"),
    [
        (b"{not json", JSON, ""),
        (b"[1, 2]", JSON, ""),
        (b"null", JSON, ""),
        (b'{"webhook_event": "dlr"}', JSON, ""),
        (b'{"webhook_event": "dlr", "data": "x"}', JSON, ""),
        (b'{"webhook_event": "dlr", "data": {"status": "DELIVERED"}}', JSON, ""),
        (b'{"msg_id": "1", "status": "GONE"}', JSON, ""),
        (b'{"msg_id": "", "status": "DELIVERED"}', JSON, ""),
        (b'{"something": "else"}', JSON, ""),
        (b"", "", ""),
        (b"\xff\xfe\x00garbage", "application/octet-stream", ""),
        (b"data=%7Bbroken", FORM, ""),
        (b"webhook_event=dlr", FORM, ""),
        (b"[" * 100_000, JSON, ""),
        (b'{"a":' * 100_000, "", ""),
        (b"data=" + b"%5B" * 100_000, FORM, ""),
    ],
    ids=[
        "bad-json",
        "list-of-numbers",
        "null",
        "no-data",
        "data-string",
        "no-msg-id",
        "unknown-status",
        "empty-msg-id",
        "unknown-object",
        "empty",
        "binary",
        "form-bad-json",
        "form-no-report",
        "nested-deeply",
        "nested-deeply-untyped",
        "form-nested-deeply",
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(
    body: bytes, content_type: str, query: str
) -> None:
    """A body that cannot be read as a report raises ReportFormatError."""
    with pytest.raises(ReportFormatError):
        parse_reports(body, content_type, query)
