"""The gateway simulator over real loopback sockets: seven's shapes, and each fault on demand."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcsbatch.simulator import (
    FIRST_MESSAGE_ID,
    AsyncSimulatorServer,
    Backend,
    Faults,
    Message,
    SimulatorServer,
)
from rcsbatch.simulator.jsonout import dumps

KEY = "test-key"
NUMBER = "49176123456789"  # last digit 9: every RCS capability
NO_REVOCATION = "49176123456781"  # last digit 1: RCS without REVOCATION
BERLIN = ZoneInfo("Europe/Berlin")


def parse(r: httpx.Response) -> Any:
    """The body as JSON with money as Decimal."""
    return json.loads(r.text, parse_float=Decimal)


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as sim:
        yield sim


@pytest.fixture
def sim(server: SimulatorServer) -> SimulatorServer:
    server.reset()
    return server


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[httpx.Client]:
    headers = {"X-Api-Key": KEY, "Accept": "application/json"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=5) as c:
        yield c


@pytest.fixture
def control(sim: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.root_url + "/_sim", timeout=5) as c:
        yield c


def send(client: httpx.Client, **params: Any) -> httpx.Response:
    params.setdefault("to", NUMBER)
    params.setdefault("text", "Hello World!")
    if "from_" in params:
        params["from"] = params.pop("from_")
    return client.post("/rcs/messages", data=params)


# ---- POST /rcs/messages ------------------------------------------------------------------


def test_send_answers_seven_shape(sim: SimulatorServer, client: httpx.Client) -> None:
    """A form-encoded send answers seven's documented shape with exact prices and a trace id."""
    r = send(client)
    assert r.status_code == 200
    assert len(r.headers["X-sms77-trace-id"]) == 32
    int(r.headers["X-sms77-trace-id"], 16)
    assert parse(r) == {
        "success": "100",
        "total_price": Decimal("0.0475"),
        "balance": Decimal("499.9525"),
        "debug": "false",
        "sms_type": "direct",
        "messages": [
            {
                "id": str(FIRST_MESSAGE_ID),
                "sender": "myfancyagent",
                "recipient": NUMBER,
                "text": "Hello World!",
                "encoding": "gsm",
                "label": None,
                "parts": 1,
                "udh": None,
                "is_binary": False,
                "price": Decimal("0.0475"),
                "channel": "RCS",
                "success": True,
                "error": None,
                "error_text": None,
            }
        ],
    }
    assert '"price":0.0475' in r.text  # a number token with the exact digits
    [m] = sim.backend.accepted()
    assert (m.id, m.to, m.text, m.price) == (
        str(FIRST_MESSAGE_ID),
        NUMBER,
        "Hello World!",
        Decimal("0.0475"),
    )


def test_send_json_body_and_increasing_ids(client: httpx.Client) -> None:
    """A JSON body is read like a form; ids are numeric strings counting up."""
    ids = [
        parse(client.post("/rcs/messages", json={"to": NUMBER, "text": f"n{i}"}))["messages"][0][
            "id"
        ]
        for i in range(3)
    ]
    assert ids == [str(FIRST_MESSAGE_ID + i) for i in range(3)]


@pytest.mark.parametrize(
    "to", [NUMBER, "+" + NUMBER, "00" + NUMBER, "0176123456789", " +49176123456789 "]
)
def test_recipient_written_with_country_code(client: httpx.Client, to: str) -> None:
    """Every accepted spelling of a number comes back as digits with country code."""
    assert parse(send(client, to=to))["messages"][0]["recipient"] == NUMBER


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": ""}, "301"),
        ({"to": "hello"}, "202"),
        ({"to": "+4917"}, "202"),
        ({"to": "4917612345678901234"}, "202"),
        ({"text": ""}, "305"),
        ({"text": "x" * 3073}, "401"),
        ({"label": "bad label!"}, "802"),
        ({"label": "x" * 101}, "802"),
        ({"foreign_id": "x" * 65}, "802"),
        ({"from_": "nosuchagent"}, "201"),
        ({"fallback": "mms"}, "305"),
        ({"ttl": "0"}, "305"),
        ({"ttl": "soon"}, "305"),
        ({"delay": "tomorrow"}, "305"),
        ({"performance_tracking": "maybe"}, "305"),
    ],
)
def test_invalid_send_answers_bare_code(
    sim: SimulatorServer, client: httpx.Client, params: dict[str, str], code: str
) -> None:
    """Each invalid parameter answers its bare code in an HTTP 200 and accepts nothing."""
    r = send(client, **params)
    assert (r.status_code, r.text) == (200, code)
    assert sim.backend.accepted() == []


def test_optional_parameters_recorded(sim: SimulatorServer, client: httpx.Client) -> None:
    """from, delay, ttl, label, foreign_id, performance_tracking and fallback are recorded."""
    future = int(time.time()) + 3600
    r = send(
        client,
        to="+4917600000001",  # one of testagent's test numbers: an agent in test reaches only those
        from_="testagent",
        delay=str(future),
        ttl="60",
        label="spring-2026",
        foreign_id="row@42",
        performance_tracking="1",
        fallback="sms",
    )
    entry = parse(r)["messages"][0]
    assert (entry["sender"], entry["label"]) == ("testagent", "spring-2026")
    [m] = parse(httpx.get(sim.root_url + "/_sim/state"))["messages"]
    assert {k: m[k] for k in ("from", "delay", "ttl", "label", "foreign_id", "fallback")} == {
        "from": "testagent",
        "delay": str(future),
        "ttl": 60,
        "label": "spring-2026",
        "foreign_id": "row@42",
        "fallback": "sms",
    }
    assert m["performance_tracking"] is True
    assert m["send_at"] == future
    assert abs(float(m["accepted_at"]) - time.time()) < 5


def test_delay_as_berlin_date(sim: SimulatorServer, client: httpx.Client) -> None:
    """A delay written YYYY-MM-DD hh:mm is read as Europe/Berlin time."""
    send(client, delay="2030-07-01 10:30")
    [m] = sim.backend.accepted()
    assert m.send_at == datetime(2030, 7, 1, 10, 30, tzinfo=BERLIN).timestamp()


def test_comma_list_one_entry_per_recipient(sim: SimulatorServer, client: httpx.Client) -> None:
    """A comma list of recipients answers one entry each; a bad one fails alone with 202."""
    body = parse(send(client, to=f"{NUMBER},49176222222222,nonsense"))
    assert body["success"] == "101"
    assert [(e["recipient"], e["success"], e["error"]) for e in body["messages"]] == [
        (NUMBER, True, None),
        ("49176222222222", True, None),
        ("nonsense", False, "202"),
    ]
    assert body["total_price"] == Decimal("0.0950")
    assert len(sim.backend.accepted()) == 2


# ---- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"X-Api-Key": KEY}, True),
        ({"Authorization": f"basic {KEY}"}, True),
        ({"Authorization": "Bearer some-oauth-token"}, True),
        ({}, False),
        ({"Authorization": "Digest whatever"}, False),
    ],
)
def test_auth_forms(sim: SimulatorServer, headers: dict[str, str], accepted: bool) -> None:
    """X-Api-Key, Authorization basic (raw key) and Bearer are accepted; no key answers 900."""
    r = httpx.post(
        sim.base_url + "/rcs/messages", data={"to": NUMBER, "text": "x"}, headers=headers
    )
    assert r.status_code == 200
    assert (r.text == "900") is not accepted


def test_fixed_api_key_refuses_others() -> None:
    """A server started with a fixed key answers 900 to every other key."""
    with SimulatorServer(api_key="right") as sim:
        url = sim.base_url + "/balance"
        assert httpx.get(url, headers={"X-Api-Key": "wrong"}).text == "900"
        assert httpx.get(url, headers={"X-Api-Key": "right"}).text == "500.00"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("bare", 900),
        ("json_string", "900"),
        ("json_object", {"success": "900"}),
    ],
)
def test_refused_key_code_forms(
    sim: SimulatorServer, client: httpx.Client, form: str, expected: Any
) -> None:
    """refuse_key answers 900 written bare, as a JSON string or inside an object."""
    sim.set_faults(refuse_key=KEY, code_form=form)
    body = parse(send(client))
    if isinstance(expected, dict):
        assert body["success"] == "900" and body["messages"] == []
    else:
        assert body == expected
    assert parse(client.get("/balance")) == (
        expected if not isinstance(expected, dict) else {"success": "900"}
    )
    assert sim.backend.accepted() == []


# ---- HTTP faults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("knob", "status", "retry_after"),
    [
        ("error_500_rate", 500, False),
        ("error_502_rate", 502, False),
        ("error_503_rate", 503, True),
        ("rate_429", 429, True),
    ],
)
def test_error_pages_accept_nothing(
    sim: SimulatorServer, client: httpx.Client, knob: str, status: int, retry_after: bool
) -> None:
    """A 5xx/429 fault answers an HTML page of that status and accepts nothing."""
    sim.set_faults(**{knob: 1.0})
    r = send(client)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<html>")
    assert ("Retry-After" in r.headers) is retry_after
    assert sim.backend.accepted() == []


def test_retry_after_seconds_rounds_up(sim: SimulatorServer, client: httpx.Client) -> None:
    """Retry-After in seconds is a whole number, rounded up."""
    sim.set_faults(rate_429=1.0, retry_after=1.2)
    assert send(client).headers["Retry-After"] == "2"


def test_retry_after_http_date(sim: SimulatorServer, client: httpx.Client) -> None:
    """Retry-After in date form is an HTTP-date retry_after seconds ahead."""
    sim.set_faults(rate_429=1.0, retry_after=30, retry_after_form="date")
    when = parsedate_to_datetime(send(client).headers["Retry-After"]).timestamp()
    assert 28 <= when - time.time() <= 31


def test_drop_after_accept_is_recorded(sim: SimulatorServer, client: httpx.Client) -> None:
    """A dropped connection after accept leaves the client without an answer, the message kept."""
    sim.set_faults(drop_after_accept_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        send(client)
    sim.set_faults(drop_after_accept_rate=0.0)
    assert [m.id for m in sim.backend.accepted()] == [str(FIRST_MESSAGE_ID)]
    assert parse(send(client))["messages"][0]["id"] == str(FIRST_MESSAGE_ID + 1)


def test_garbled_after_accept(sim: SimulatorServer, client: httpx.Client) -> None:
    """A garbled answer is a 200 whose body is not JSON, the message accepted."""
    sim.set_faults(garbled_after_accept_rate=1.0)
    for _ in range(2):
        r = send(client)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            json.loads(r.text)
    assert len(sim.backend.accepted()) == 2


def test_fail_first_n_then_accepts(sim: SimulatorServer, client: httpx.Client) -> None:
    """fail_first_n answers the first N sends with HTTP 500, then accepts."""
    sim.set_faults(fail_first_n=2)
    assert [send(client).status_code for _ in range(3)] == [500, 500, 200]
    assert len(sim.backend.accepted()) == 1


def test_script_outcomes_in_order(sim: SimulatorServer, client: httpx.Client) -> None:
    """script plays its outcomes in order, one per send, then sends behave."""
    sim.set_faults(script=["429", "ok", "502", "extra"])
    assert send(client).status_code == 429
    assert parse(send(client))["success"] == "100"
    assert send(client).status_code == 502
    assert len(parse(send(client))["messages"]) == 2
    assert len(parse(send(client))["messages"]) == 1
    assert sim.faults.script == []


def test_seeded_rates_repeat() -> None:
    """Random faults drawn with the same seed repeat exactly."""

    def outcomes() -> list[str | None]:
        b = Backend(Faults(seed=7, error_500_rate=0.3, rate_429=0.2, drop_after_accept_rate=0.2))
        return [b.send({"to": NUMBER, "text": str(i)}, KEY).fault for i in range(50)]

    first = outcomes()
    assert first == outcomes()
    assert {"500", "429", "drop", None} <= set(first)


def test_latency_is_added(sim: SimulatorServer, client: httpx.Client) -> None:
    """latency_ms delays every API answer."""
    sim.set_faults(latency_ms=150)
    start = time.perf_counter()
    client.get("/balance")
    assert time.perf_counter() - start >= 0.15


def test_logbook_latency_replaces_latency_for_the_logbook_only(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    """logbook_latency_ms sets the logbook's delay apart from latency_ms, which stays elsewhere."""
    # 0.6 s apart, so a loaded machine's slow loopback cannot pass for the latency.
    sim.set_faults(latency_ms=600, logbook_latency_ms=0)
    start = time.perf_counter()
    client.get("/journal/outbound")
    assert time.perf_counter() - start < 0.5
    start = time.perf_counter()
    client.get("/balance")
    assert time.perf_counter() - start >= 0.6


def test_client_timeout_still_accepts(sim: SimulatorServer, client: httpx.Client) -> None:
    """A client giving up during the latency leaves a lost answer: the send is still accepted."""
    sim.set_faults(latency_ms=200)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/rcs/messages", data={"to": NUMBER, "text": "x"}, timeout=0.05)
    deadline = time.monotonic() + 20
    while not sim.backend.accepted() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(sim.backend.accepted()) == 1


# ---- account-level codes -----------------------------------------------------------------


def test_credit_stop_until_topup(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """After credit_after accepted messages sends answer 500 until a top-up."""
    sim.set_faults(credit_after=2)
    assert [send(client, text=str(i)).text[:13] for i in range(3)][2] == "500"
    assert send(client).text == "500"
    r = control.post("/topup", json={"amount": "10.00"})
    assert parse(r) == {"balance": Decimal("509.9050")}
    assert parse(send(client))["success"] == "100"
    assert len(sim.backend.accepted()) == 3


def test_balance_is_enforced(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """A send costing more than the balance answers 500."""
    control.patch("/account", json={"balance": "0.05"})
    assert parse(send(client))["balance"] == Decimal("0.0025")
    assert send(client).text == "500"


def test_price_and_balance_knobs_survive_reset() -> None:
    """The price and starting-balance knobs set the account; a reset returns to them."""
    faults = Faults(price=Decimal("0.10"), balance=Decimal("1.00"))
    with SimulatorServer(faults) as sim, httpx.Client(headers={"X-Api-Key": KEY}) as c:
        url = sim.base_url + "/rcs/messages"
        body = parse(c.post(url, data={"to": NUMBER, "text": "a"}))
        assert (body["messages"][0]["price"], body["balance"]) == (Decimal("0.10"), Decimal("0.90"))
        httpx.patch(sim.root_url + "/_sim/faults", json={"price": 0.25, "latency_ms": 5})
        assert parse(c.post(url, data={"to": NUMBER, "text": "b"}))["total_price"] == Decimal(
            "0.25"
        )
        sim.reset()
        assert (sim.faults.price, sim.faults.latency_ms) == (Decimal("0.10"), 0)
        assert sim.backend.balance == Decimal("1.00")


def test_price_only_in_logbook(sim: SimulatorServer, client: httpx.Client) -> None:
    """With price_in_answer off the answer shows price 0 / total null; the logbook the price."""
    sim.set_faults(price_in_answer=False)
    body = parse(send(client))
    assert (body["total_price"], body["messages"][0]["price"], body["messages"][0]["parts"]) == (
        None,
        0,
        0,
    )
    [row] = parse(client.get("/journal/outbound"))
    assert row["price"] == "0.0475"
    assert sim.backend.balance == Decimal("499.9525")


# ---- per-recipient refusals and odd answers ----------------------------------------------


@pytest.mark.parametrize(("hide", "success"), [(False, "101"), (True, "100")])
@pytest.mark.parametrize("code", [202, 403, 600, 700])
def test_refused_recipient_inside_answer(
    sim: SimulatorServer, client: httpx.Client, hide: bool, success: str, code: int
) -> None:
    """A refused recipient shows in its entry (id null) under "101", or a hiding "100"."""
    sim.set_faults(refuse={"+" + NUMBER: code}, hide_refusals_in_100=hide)
    body = parse(send(client))
    assert body["success"] == success
    [entry] = body["messages"]
    assert (entry["id"], entry["success"], entry["error"]) == (None, False, str(code))
    assert entry["error_text"]
    assert sim.backend.accepted() == []


def test_extra_entry_for_one_recipient(sim: SimulatorServer, client: httpx.Client) -> None:
    """extra_entry_rate adds a second accepted entry (own id, own price) for the same to."""
    sim.set_faults(extra_entry_rate=1.0)
    body = parse(send(client))
    assert [(e["id"], e["recipient"]) for e in body["messages"]] == [
        (str(FIRST_MESSAGE_ID), NUMBER),
        (str(FIRST_MESSAGE_ID + 1), NUMBER),
    ]
    assert body["total_price"] == sum(e["price"] for e in body["messages"]) == Decimal("0.0950")
    assert [m.extra_entry for m in sim.backend.accepted()] == [False, True]


@pytest.mark.parametrize("lock", [True, False])
def test_reload_lock(client: httpx.Client, sim: SimulatorServer, lock: bool) -> None:
    """With reload_lock the same text to the same number within 180 s answers 402."""
    sim.set_faults(reload_lock=lock)
    assert parse(send(client))["success"] == "100"
    assert (send(client).text == "402") is lock
    assert parse(send(client, text="other text"))["success"] == "100"


@pytest.mark.parametrize(
    ("accepts", "request_form"),
    [
        (a, r)
        for a in ("json_text", "form_string", "top_level")
        for r in ("json_text", "form_string", "top_level")
    ],
)
def test_rich_content_forms(
    sim: SimulatorServer, client: httpx.Client, accepts: str, request_form: str
) -> None:
    """Only the rich-content form rich_form names is accepted; the others answer 305."""
    sim.set_faults(rich_form=accepts)
    card = {
        "title": "Spring sale",
        "description": "20% off",
        "suggestions": [{"type": "reply", "text": "Yes"}],
    }
    if request_form == "json_text":
        r = client.post("/rcs/messages", json={"to": NUMBER, "text": {"richcard": card}})
    elif request_form == "form_string":
        r = send(client, text=json.dumps({"richcard": card}))
    else:
        r = client.post("/rcs/messages", json={"to": NUMBER, "richcard": card})
    if accepts == request_form:
        assert parse(r)["success"] == "100"
        [m] = sim.backend.accepted()
        assert m.rich and json.loads(m.text) == {"richcard": card}
    else:
        assert r.text == "305"


@pytest.mark.parametrize(
    "obj",
    [
        {"text": "a", "richcard": {"title": "b"}},
        {"richcard": {}},
        {"carousel": {"width": "LARGE", "richcards": [{"title": "a"}, {"title": "b"}]}},
        {"text": "a", "suggestions": [{"type": "reply", "text": str(i)} for i in range(12)]},
    ],
)
def test_malformed_rich_content(client: httpx.Client, obj: dict[str, Any]) -> None:
    """A malformed RCS object answers 305."""
    assert client.post("/rcs/messages", json={"to": NUMBER, "text": obj}).text == "305"


# ---- logbook -----------------------------------------------------------------------------


def test_logbook_row_shape(client: httpx.Client) -> None:
    """A logbook row carries seven's columns, Berlin time and channel RCS."""
    send(client, label="lbl", foreign_id="f1")
    [row] = parse(client.get("/journal/outbound"))
    assert set(row) == {
        "id", "to", "from", "text", "timestamp", "price", "dlr", "dlr_timestamp", "mccmnc",
        "latency", "type", "channel", "connection", "label", "foreign_id",
    }  # fmt: skip
    assert (row["id"], row["to"], row["from"], row["channel"]) == (
        str(FIRST_MESSAGE_ID), NUMBER, "myfancyagent", "RCS",
    )  # fmt: skip
    assert (row["label"], row["foreign_id"], row["dlr"]) == ("lbl", "f1", "DELIVERED")
    stamp = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BERLIN)
    assert abs(stamp.timestamp() - time.time()) < 5


def test_logbook_lag(sim: SimulatorServer, client: httpx.Client) -> None:
    """An accepted message shows in the logbook only logbook_lag_s after acceptance."""
    sim.set_faults(logbook_lag_s=0.5)  # room for a loaded machine between the send and the look
    send(client)
    assert parse(client.get("/journal/outbound")) == []
    time.sleep(0.55)
    assert len(parse(client.get("/journal/outbound"))) == 1


def test_delivery_state_after_delay(sim: SimulatorServer, client: httpx.Client) -> None:
    """The logbook's dlr is null until delivery_after_s, then the delivery knob's state."""
    sim.set_faults(delivery="NOTDELIVERED", delivery_after_s=0.5)  # room for a loaded machine
    send(client)
    assert parse(client.get("/journal/outbound"))[0]["dlr"] is None
    time.sleep(0.55)
    row = parse(client.get("/journal/outbound"))[0]
    assert (row["dlr"], row["dlr_timestamp"] is not None) == ("NOTDELIVERED", True)


def test_logbook_paging_and_filters(sim: SimulatorServer, client: httpx.Client) -> None:
    """The logbook pages newest first (limit at most 100, offset) and filters by id and to."""
    for i in range(105):
        sim.backend.send({"to": NUMBER if i % 2 else "49176222222222", "text": str(i)}, KEY)
    rows = parse(client.get("/journal/outbound", params={"limit": 500}))
    assert len(rows) == 100
    assert rows[0]["id"] == str(FIRST_MESSAGE_ID + 104)
    assert [int(r["id"]) for r in rows] == sorted((int(r["id"]) for r in rows), reverse=True)
    tail = parse(client.get("/journal/outbound", params={"limit": 10, "offset": 100}))
    assert [r["text"] for r in tail] == ["4", "3", "2", "1", "0"]
    assert len(parse(client.get("/journal/outbound", params={"to": "+" + NUMBER}))) == 52
    one = parse(client.get("/journal/outbound", params={"id": str(FIRST_MESSAGE_ID + 7)}))
    assert [r["text"] for r in one] == ["7"]
    today = datetime.now(BERLIN).date().isoformat()
    assert (
        len(
            parse(
                client.get(
                    "/journal/outbound", params={"date_from": today, "date_to": today, "limit": 100}
                )
            )
        )
        == 100
    )
    assert parse(client.get("/journal/outbound", params={"date_to": "2000-01-01"})) == []
    assert (
        len(parse(client.get("/journal/outbound", params={"state": "delivered", "limit": 3}))) == 3
    )
    assert client.get("/journal/outbound", params={"limit": "lots"}).text == "305"


def test_revoke_always_true_and_revokes_pending(sim: SimulatorServer, client: httpx.Client) -> None:
    """DELETE always answers true; it revokes scheduled, or pending on a capable handset."""
    sim.set_faults(delivery_after_s=60)
    scheduled = parse(send(client, to=NO_REVOCATION, delay=str(int(time.time()) + 3600)))[
        "messages"
    ][0]["id"]
    pending = parse(send(client))["messages"][0]["id"]
    incapable = parse(send(client, to=NO_REVOCATION))["messages"][0]["id"]
    sim.set_faults(delivery_after_s=0)
    delivered = parse(send(client, text="later"))["messages"][0]["id"]
    for msg_id in (scheduled, pending, incapable, delivered, "123456"):
        assert parse(client.delete(f"/rcs/messages/{msg_id}")) == {"success": True}
    outcome = {r["id"]: r["revoked"] for r in sim.state()["revocations"]}
    assert outcome == {
        scheduled: True,
        pending: True,
        incapable: False,
        delivered: False,
        "123456": False,
    }
    dlr = {r["id"]: r["dlr"] for r in parse(client.get("/journal/outbound"))}
    assert (dlr[scheduled], dlr[pending], dlr[incapable], dlr[delivered]) == (
        "REJECTED",
        "REJECTED",
        None,
        "DELIVERED",
    )


# ---- the logbook's unconfirmed behaviours ------------------------------------------------


def texts(client: httpx.Client, **params: Any) -> list[str]:
    """The logbook's texts for a query, newest first."""
    return [r["text"] for r in parse(client.get("/journal/outbound", params=params))]


def http_date(r: httpx.Response) -> float:
    return parsedate_to_datetime(r.headers["Date"]).timestamp()


@pytest.mark.parametrize(
    ("zone", "shown", "day", "other_day"),
    [
        ("Europe/Berlin", "2026-03-11 00:30:00", "2026-03-11", "2026-03-10"),
        ("UTC", "2026-03-10 23:30:00", "2026-03-10", "2026-03-11"),
        ("America/New_York", "2026-03-10 19:30:00", "2026-03-10", "2026-03-11"),
    ],
)
def test_logbook_zone_sets_stamps_and_day_filters(
    sim: SimulatorServer,
    client: httpx.Client,
    control: httpx.Client,
    zone: str,
    shown: str,
    day: str,
    other_day: str,
) -> None:
    """logbook_tz is the zone of timestamp, dlr_timestamp and the date_from/date_to days."""
    assert control.patch("/faults", json={"logbook_tz": zone}).status_code == 200
    at = datetime(2026, 3, 10, 23, 30, tzinfo=UTC).timestamp()
    sim.backend.send({"to": NUMBER, "text": "late"}, KEY, now=at)
    [row] = parse(client.get("/journal/outbound"))
    assert (row["timestamp"], row["dlr_timestamp"]) == (shown, shown)
    assert texts(client, date_from=day, date_to=day) == ["late"]
    assert texts(client, date_from=other_day, date_to=other_day) == []
    [m] = sim.backend.accepted()
    assert m.accepted_at == at


def test_a_delay_date_stays_berlin_time_in_another_logbook_zone(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    """With logbook_tz UTC, a delay written as a date is still read as Berlin time."""
    sim.set_faults(logbook_tz="UTC")
    send(client, delay="2030-07-01 10:30")
    [m] = sim.backend.accepted()
    assert m.send_at == datetime(2030, 7, 1, 10, 30, tzinfo=BERLIN).timestamp()
    assert parse(client.get("/journal/outbound"))[0]["timestamp"] == "2030-07-01 08:30:00"


def test_clock_offset_moves_what_the_gateway_stamps(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """clock_offset_s moves the logbook's stamps and days and every Date header, not the
    simulator's own record of when a message was accepted."""
    control.patch("/faults", json={"clock_offset_s": 3600})
    at = datetime(2026, 3, 10, 23, 30, tzinfo=BERLIN).timestamp()
    sim.backend.send({"to": NUMBER, "text": "late"}, KEY, now=at)
    [row] = parse(client.get("/journal/outbound"))
    assert (row["timestamp"], row["dlr_timestamp"]) == ("2026-03-11 00:30:00",) * 2
    assert texts(client, date_from="2026-03-11") == ["late"]
    assert texts(client, date_to="2026-03-10") == []
    assert sim.backend.accepted()[0].accepted_at == at
    for offset in (3600, -7200, 0):
        assert control.patch("/faults", json={"clock_offset_s": offset}).status_code == 200
        answers = [
            client.get("/balance"),
            client.get("/journal/outbound"),
            send(client, to="nonsense"),  # a bare code
            client.get("/nothing/here"),  # a 404 page
        ]
        for r in answers:
            assert abs(http_date(r) - (time.time() + offset)) < 5, (offset, r.text)


def test_retry_after_date_follows_the_gateway_clock(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    """With the gateway's clock an hour ahead, a Retry-After date is an hour ahead too: only its
    distance from the answer's Date header tells the wait."""
    sim.set_faults(rate_429=1.0, retry_after=30, retry_after_form="date", clock_offset_s=3600)
    r = send(client)
    wait = parsedate_to_datetime(r.headers["Retry-After"]).timestamp() - http_date(r)
    assert 29 <= wait <= 31
    assert parsedate_to_datetime(r.headers["Retry-After"]).timestamp() - time.time() > 3600


@pytest.fixture
def catcher() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A loopback HTTP server answering 200 to every POST; keeps each one's headers and body."""
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_clock_offset_moves_webhook_timestamps(
    sim: SimulatorServer,
    client: httpx.Client,
    catcher: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """A report's X-Timestamp, webhook_timestamp and data.timestamp come off the gateway's
    clock."""
    url, got = catcher
    client.post("/hooks", data={"target_url": url, "event_type": "dlr", "request_method": "JSON"})
    sim.set_faults(webhooks=True, clock_offset_s=3600)
    send(client)
    deadline = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    [m] = sim.backend.accepted()
    expected = datetime.fromtimestamp(m.send_at + 3600, BERLIN).strftime("%Y-%m-%d %H:%M:%S.%f")
    assert len(got) == 2
    for headers, body in got:
        report = json.loads(body)
        assert report["data"]["timestamp"] == expected
        assert abs(int(headers["X-Timestamp"]) - (time.time() + 3600)) < 5
        sent = datetime.fromisoformat(report["webhook_timestamp"]).timestamp()
        assert abs(sent - (time.time() + 3600)) < 5


def test_lag_jitter_shows_messages_out_of_order(sim: SimulatorServer, client: httpx.Client) -> None:
    """Each message waits its own seeded lag from [0, jitter], drawn once: later ones can show
    before earlier ones."""
    sim.set_faults(seed=2, logbook_lag_jitter_s=1000)
    base = time.time() - 500
    for i in range(20):
        sim.backend.send({"to": NUMBER, "text": str(i)}, KEY, now=base + i)
    jitters = [m.lag_jitter for m in sim.backend.accepted()]
    assert all(0 <= j <= 1000 for j in jitters) and len(set(jitters)) == 20
    # The seed puts no message within seconds of showing, so the test's clock cannot matter.
    assert all(abs(base + i + j - time.time()) > 30 for i, j in enumerate(jitters))
    shown = texts(client)
    visible = [i for i in range(20) if base + i + jitters[i] <= time.time()]
    assert shown == [str(i) for i in reversed(visible)]
    assert 0 < len(visible) < 20 and visible != list(range(len(visible)))  # not oldest first
    assert texts(client) == shown  # drawn once, not at each look
    again = Backend(Faults(seed=2, logbook_lag_jitter_s=1000))
    for i in range(20):
        again.send({"to": NUMBER, "text": str(i)}, KEY)
    assert [m.lag_jitter for m in again.accepted()] == jitters


def test_stalled_logbook_hides_what_came_after(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """While logbook_stalled, messages accepted since it turned on stay out of the logbook;
    turned off, they show; turned on again, only later ones are held back."""
    send(client, text="before")
    control.patch("/faults", json={"logbook_stalled": True})
    send(client, text="during")
    assert texts(client) == ["before"]
    assert texts(client, to=NUMBER, date_from=datetime.now(BERLIN).date().isoformat()) == ["before"]
    sim.faults.logbook_stalled = False  # on the object, as well as over HTTP
    assert texts(client) == ["during", "before"]
    sim.faults.logbook_stalled = True
    send(client, text="after")
    assert texts(client) == ["during", "before"]
    control.patch("/faults", json={"logbook_stalled": False})
    assert texts(client) == ["after", "during", "before"]


TEXT = "  Sale:  https://example.com/a?x=1 and\n\n http://shop.example/b.  "


@pytest.mark.parametrize("tracking", ["0", "1"])
@pytest.mark.parametrize("rendering", ["exact", "tracked_links", "trimmed"])
def test_text_rendering(
    sim: SimulatorServer, client: httpx.Client, rendering: str, tracking: str
) -> None:
    """The logbook shows a plain text as sent, with short links, or trimmed; the message
    keeps the text as sent."""
    sim.set_faults(text_rendering=rendering)
    send(client, text=TEXT, performance_tracking=tracking)
    send(client, text=TEXT + " ", performance_tracking=tracking)
    first, second = reversed(texts(client))
    assert [m.text for m in sim.backend.accepted()] == [TEXT, TEXT + " "]
    if rendering == "exact":
        assert first == TEXT
    elif rendering == "trimmed":
        assert first == second == "Sale: https://example.com/a?x=1 and http://shop.example/b."
    else:
        link = r"https://s\.seven\.io/([0-9a-f]{8})"
        match = re.fullmatch(rf"  Sale:  {link} and\n\n {link}\.  ", first)
        assert match is not None, first
        assert match.group(1) != match.group(2)
        assert second == first + " "  # the same URL, the same short link


RICH = {
    "richcard": {"richcard": {"title": "Frühling", "description": "20 % off"}},
    "carousel": {
        "carousel": {"width": "MEDIUM", "richcards": [{"title": "One"}, {"title": "Two"}]},
        "suggestions": [{"type": "reply", "text": "Yes"}],
    },
    "file": {"file": {"fileUrl": "https://example.com/a.png"}},
    "untitled": {"richcard": {"description": "Just this"}},
    "text": {"text": "Hi", "suggestions": [{"type": "reply", "text": "Yes"}]},
}
TITLES = {
    "richcard": "Frühling",
    "carousel": "One",
    "file": "https://example.com/a.png",
    "untitled": "Just this",
    "text": "Hi",
}


@pytest.mark.parametrize("kind", list(RICH))
def test_rich_rendering(sim: SimulatorServer, client: httpx.Client, kind: str) -> None:
    """The logbook shows a rich message as compact JSON in the order sent (the default), or
    only its title."""
    assert parse(client.post("/rcs/messages", json={"to": NUMBER, "text": RICH[kind]}))["success"]
    compact = json.dumps(RICH[kind], separators=(",", ":"), ensure_ascii=False)
    assert texts(client) == [compact]
    sim.set_faults(rich_rendering="title")
    assert texts(client) == [TITLES[kind]]
    sim.set_faults(text_rendering="trimmed")  # plain-text renderings leave rich ones be
    assert texts(client) == [TITLES[kind]]
    assert sim.backend.accepted()[0].text == compact


def test_scheduled_stamp(sim: SimulatorServer, client: httpx.Client) -> None:
    """A scheduled message's timestamp and day are its send time, or with scheduled_stamp
    acceptance the time it was accepted; whether it is listed early is a knob of its own."""
    delay = int(time.time()) + 3 * 86400
    send(client, text="later", delay=str(delay))
    send(client, text="now")
    later, now = sim.backend.accepted()
    later_day = datetime.fromtimestamp(delay, BERLIN).date().isoformat()
    today = datetime.fromtimestamp(now.accepted_at, BERLIN).date().isoformat()

    def stamp(ts: float) -> str:
        return datetime.fromtimestamp(ts, BERLIN).strftime("%Y-%m-%d %H:%M:%S")

    rows = parse(client.get("/journal/outbound"))
    assert [r["timestamp"] for r in rows] == [stamp(now.accepted_at), stamp(delay)]
    assert texts(client, date_from=later_day) == ["later"]
    sim.set_faults(scheduled_stamp="acceptance")
    rows = parse(client.get("/journal/outbound"))
    assert [r["timestamp"] for r in rows] == [stamp(now.accepted_at), stamp(later.accepted_at)]
    assert texts(client, date_from=later_day) == []
    assert texts(client, date_from=today, date_to=today) == ["now", "later"]
    for stamped in ("acceptance", "delay"):
        sim.set_faults(scheduled_stamp=stamped, scheduled_in_logbook=False)
        assert texts(client) == ["now"]


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "undefined", "date_to": "undefined"},
        {"date_from": "undefined"},
        {"date_to": "undefined", "limit": "100"},
    ],
)
def test_undefined_dates_filter_nothing(client: httpx.Client, params: dict[str, str]) -> None:
    """date_from/date_to=undefined, as seven's JS client sends them without dates, are no filter."""
    send(client, text="a")
    send(client, text="b")
    assert texts(client, **params) == ["b", "a"]
    assert client.get("/journal/outbound", params={"date_from": "someday"}).text == "305"


OTHER = "49176222222222"


def test_logbook_pages_100000_messages(sim: SimulatorServer, client: httpx.Client) -> None:
    """100,000 messages page right at the start, middle and end: unfiltered, by day, by
    recipient."""
    backend = sim.backend
    backend.update_account({"balance": "10000"})
    for i in range(100_000):
        backend.send({"to": NUMBER if i % 2 else OTHER, "text": str(i)}, KEY)
    today = datetime.fromtimestamp(backend.accepted()[0].accepted_at, BERLIN).date().isoformat()
    for params in ({}, {"date_from": today, "date_to": today}, {"date_from": today}):
        for offset in (0, 50_000, 99_900):
            got = texts(client, offset=offset, **params)
            assert got == [str(i) for i in range(99_999 - offset, 99_899 - offset, -1)]
        assert texts(client, offset=99_950, **params) == [str(i) for i in range(49, -1, -1)]
        assert texts(client, offset=100_000, **params) == []
    for params in ({"to": NUMBER}, {"to": "+" + NUMBER, "date_from": today}):
        for offset in (0, 25_000, 49_900):
            got = texts(client, offset=offset, **params)
            assert got == [str(i) for i in range(99_999 - 2 * offset, 99_799 - 2 * offset, -2)]


def test_logbook_pages_match_a_plain_filter(sim: SimulatorServer, client: httpx.Client) -> None:
    """Every page, by day and recipient, is what filtering every message gives: with scheduled
    messages stamped days later, injected ones stamped days earlier, both stamp modes, and
    with a hidden message (which makes the logbook walk instead of skipping by index)."""
    backend = sim.backend
    start = time.time()
    for i in range(240):
        to = NUMBER if i % 3 else OTHER
        if i % 17 == 0:
            delay = int(start) + 86400 * (1 + i % 3)
            backend.send({"to": to, "text": f"s{i}", "delay": str(delay)}, KEY)
        elif i % 13 == 0:
            backend.inject(to, f"j{i}", at=start - 86400 * (1 + i % 4))
        else:
            backend.send({"to": to, "text": f"m{i}"}, KEY)
    today = datetime.fromtimestamp(start, BERLIN).date()
    spans = [
        (None, None),
        (today, today),
        (today + timedelta(days=1), None),
        (None, today - timedelta(days=1)),
        (today - timedelta(days=2), today + timedelta(days=2)),
    ]

    def check(hidden: set[str]) -> None:
        for stamped in ("delay", "acceptance"):
            sim.set_faults(scheduled_stamp=stamped)
            for to in (None, NUMBER, OTHER):
                for lo, hi in spans:
                    every = [
                        m.id
                        for m in reversed(backend.messages)
                        if m.id not in hidden
                        and (to is None or m.to == to)
                        and (lo is None or day(m, stamped) >= lo)
                        and (hi is None or day(m, stamped) <= hi)
                    ]
                    params: dict[str, Any] = {"limit": 10}
                    if to is not None:
                        params["to"] = to
                    if lo is not None:
                        params["date_from"] = lo.isoformat()
                    if hi is not None:
                        params["date_to"] = hi.isoformat()
                    for offset in range(0, len(every) + 10, 9):
                        r = client.get("/journal/outbound", params={**params, "offset": offset})
                        got = [row["id"] for row in parse(r)]
                        assert got == every[offset : offset + 10], (stamped, to, lo, hi, offset)

    def day(m: Message, stamped: str) -> date:
        at = m.accepted_at if stamped == "acceptance" else m.send_at
        return datetime.fromtimestamp(at, BERLIN).date()

    check(set())
    # Accepted "in the future": hidden by the lag until then, so every query walks.
    check({backend.inject(NUMBER, "future", at=time.time() + 3600)})


def test_inject_adds_logbook_entries_from_elsewhere(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """An injected message (another campaign, another machine) shares ids, recipients and
    foreign_ids with ours in the logbook, but stays out of what the API accepted."""
    ours = parse(send(client, foreign_id="c1"))["messages"][0]["id"]
    r = control.post(
        "/inject",
        json={
            "to": "+" + NUMBER,
            "text": "from elsewhere",
            "foreign_id": "c1",
            "label": "other-campaign",
            "price": "0.10",
            "sender": "othermachine",
            "at": time.time() - 60,
        },
    )
    theirs = parse(r)["id"]
    later = parse(send(client, text="later"))["messages"][0]["id"]
    direct = sim.backend.inject(OTHER, {"file": {"fileUrl": "https://example.com/a.png"}})
    assert [ours, theirs, later, direct] == [str(FIRST_MESSAGE_ID + i) for i in range(4)]
    rows = parse(client.get("/journal/outbound", params={"to": NUMBER}))
    assert [r["id"] for r in rows] == [later, theirs, ours]
    row = rows[1]
    assert (row["text"], row["foreign_id"], row["label"], row["price"], row["from"]) == (
        "from elsewhere", "c1", "other-campaign", "0.10", "othermachine",
    )  # fmt: skip
    assert [m.id for m in sim.backend.accepted()] == [ours, later]
    state = parse(control.get("/state"))
    assert [m["id"] for m in state["messages"]] == [ours, later]
    assert (state["accepted_count"], state["injected_count"]) == (2, 2)
    assert state["balance"] == Decimal("500.00") - 2 * Decimal("0.0475")
    for bad in (
        {"to": "nonsense", "text": "x"},
        {"to": NUMBER},
        {"to": NUMBER, "text": "x", "foreign_id": "not ok!"},
        {"to": NUMBER, "text": "x", "colour": "red"},
        {"to": NUMBER, "text": "x", "price": "lots"},
    ):
        assert control.post("/inject", json=bad).status_code == 400, bad
    assert len(sim.backend.messages) == 4


# ---- the other endpoints -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "ok"),
    [
        ({"event": "IS_TYPING", "to": NUMBER, "from": "myfancyagent"}, True),
        ({"event": "READ", "msg_id": "abc"}, True),
        ({"event": "WAVE", "to": NUMBER}, False),
        ({"event": "READ"}, False),
        ({"event": "READ", "to": "nope"}, False),
    ],
)
def test_events(
    sim: SimulatorServer, client: httpx.Client, params: dict[str, str], ok: bool
) -> None:
    """An event answers success true when well formed, false otherwise."""
    assert parse(client.post("/rcs/events", data=params)) == {"success": ok}
    assert len(sim.state()["events"]) == int(ok)


def test_agents(sim: SimulatorServer, client: httpx.Client, control: httpx.Client) -> None:
    """The agent list has seven's fields; /_sim/account replaces it until a reset."""
    agents = parse(client.get("/rcs/agents"))["agents"]
    assert [(a["id"], a["status"]) for a in agents] == [
        ("myfancyagent", "launched"),
        ("testagent", "test"),
    ]
    assert set(agents[0]) == {"id", "display_name", "status", "logo_url", "created", "is_generic"}
    control.patch("/account", json={"agents": [{"id": "solo", "status": "launched"}]})
    assert [a["id"] for a in parse(client.get("/rcs/agents"))["agents"]] == ["solo"]
    assert parse(send(client))["messages"][0]["sender"] == "solo"
    control.post("/reset")
    assert len(parse(client.get("/rcs/agents"))["agents"]) == 2


def test_lookup_is_deterministic_and_billed(sim: SimulatorServer, client: httpx.Client) -> None:
    """A lookup answers one row per number, capabilities by last digit, billed per valid number."""
    rows = parse(client.get("/lookup/rcs", params={"number": "+49176123456789,4917612345670,xyz"}))
    assert [r["success"] for r in rows] == [True, True, False]
    assert (rows[0]["international"], rows[0]["national"], rows[0]["country_iso"]) == (
        "+49176123456789", "0176123456789", "DE",
    )  # fmt: skip
    assert "REVOCATION" in rows[0]["rcs_capabilities"] and rows[0]["carrier"]
    assert rows[1]["rcs_capabilities"] == []
    assert sim.backend.balance == Decimal("500.00") - 2 * Decimal("0.0050")


def test_balance_json_or_bare(client: httpx.Client) -> None:
    """The balance is JSON with Accept: application/json and a bare number otherwise."""
    r = client.get("/balance")
    assert parse(r) == {"amount": Decimal("500.00"), "currency": "EUR"}
    assert '"amount":500.00' in r.text
    assert client.get("/balance", headers={"Accept": "*/*"}).text == "500.00"


@pytest.mark.parametrize(
    ("group", "key", "value"),
    [
        ("date", "date", None),
        ("label", "label", "a"),
        ("country", "country", "DE"),
        ("subaccount", "account", "main"),
    ],
)
def test_analytics(client: httpx.Client, group: str, key: str, value: str | None) -> None:
    """Analytics rows count RCS messages and their cost per group."""
    send(client, label="a")
    send(client, label="a", text="again")
    [row] = parse(client.get(f"/analytics/{group}", params={"label": "a"}))
    expected = value if value is not None else datetime.now(BERLIN).date().isoformat()
    assert (row[key], row["rcs"], row["sms"], row["usage_eur"]) == (
        expected,
        2,
        0,
        Decimal("0.0950"),
    )


def test_hooks(client: httpx.Client) -> None:
    """Hooks are created, listed and deleted; a bad target answers success false."""
    created = parse(
        client.post("/hooks", data={"target_url": "https://example.com/h", "event_type": "dlr"})
    )
    assert created == {"success": True, "id": 1}
    assert parse(client.post("/hooks", data={"target_url": "ftp://x", "event_type": "dlr"})) == {
        "success": False
    }
    listed = parse(client.get("/hooks"))
    assert listed["code"] is None
    assert [(h["id"], h["target_url"], h["request_method"]) for h in listed["hooks"]] == [
        (1, "https://example.com/h", "POST")
    ]
    assert parse(client.delete("/hooks", params={"id": 1})) == {"success": True}
    assert parse(client.get("/hooks"))["hooks"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nothing/here"), ("POST", "/balance"), ("GET", "/analytics/planet")],
)
def test_unknown_path_is_404_page(client: httpx.Client, method: str, path: str) -> None:
    """An unknown path (or method) answers a 404 HTML page."""
    r = client.request(method, path)
    assert r.status_code == 404 and "<html>" in r.text


# ---- control endpoints, state file, other faces ------------------------------------------


def test_control_endpoints(
    sim: SimulatorServer, client: httpx.Client, control: httpx.Client
) -> None:
    """/_sim exposes faults (validated), state, stats and reset over HTTP."""
    assert parse(control.patch("/faults", json={"latency_ms": 1, "refuse": {"+491761": 403}}))[
        "refuse"
    ] == {"491761": 403}
    assert sim.faults.latency_ms == 1
    assert control.patch("/faults", json={"no_such_knob": 1}).status_code == 400
    assert control.patch("/faults", json={"error_500_rate": 2}).status_code == 400
    assert control.post("/topup", json={"amount": "-1"}).status_code == 400
    send(client)
    send(client, text="second")
    assert parse(control.get("/state", params={"offset": 1}))["messages"][0]["text"] == "second"
    state = parse(control.get("/state", params={"limit": 1}))
    assert (state["accepted_count"], state["send_requests"], state["balance"]) == (
        2,
        2,
        Decimal("499.9050"),
    )
    assert len(state["messages"]) == 1
    assert set(state["messages"][0]) >= {
        "id", "to", "from", "text", "label", "foreign_id", "ttl", "delay", "performance_tracking",
        "fallback", "price", "accepted_at", "request_no",
    }  # fmt: skip
    stats = parse(control.get("/stats"))
    assert stats["accepted"] == 2 and stats["requests"] >= 2 and stats["cpu_time"] > 0
    assert parse(control.post("/reset")) == {"ok": True}
    assert parse(control.get("/state"))["messages"] == []
    assert sim.faults == Faults()


def test_state_file_round_trip(tmp_path: Path) -> None:
    """The state file saved at stop brings back messages, balance and the id counter."""
    path = tmp_path / "sim.json"
    with SimulatorServer(state_path=path) as sim:
        for i in range(2):
            httpx.post(
                sim.base_url + "/rcs/messages",
                data={"to": NUMBER, "text": str(i)},
                headers={"X-Api-Key": KEY},
            )
    assert json.loads(path.read_text())["balance"] == "499.9050"
    assert [p.name for p in tmp_path.iterdir()] == ["sim.json"]
    with SimulatorServer(state_path=path) as sim:
        headers = {"X-Api-Key": KEY, "Accept": "application/json"}
        body = parse(
            httpx.post(
                sim.base_url + "/rcs/messages", data={"to": NUMBER, "text": "2"}, headers=headers
            )
        )
        assert body["messages"][0]["id"] == str(FIRST_MESSAGE_ID + 2)
        assert body["balance"] == Decimal("499.8575")
        rows = parse(httpx.get(sim.base_url + "/journal/outbound", headers=headers))
        assert [r["text"] for r in rows] == ["2", "1", "0"]


def test_a_restarted_gateway_keeps_its_logbook(tmp_path: Path) -> None:
    """Stopped and started again, on the same backend or from its state file, the gateway lists
    every message with its own lag and injected mark, and its ids go on without reuse."""
    path = tmp_path / "sim.json"
    headers = {"X-Api-Key": KEY}
    backend = Backend(Faults(seed=5, logbook_lag_jitter_s=0.05))

    def sent(sim: SimulatorServer, text: str) -> str:
        r = httpx.post(
            sim.base_url + "/rcs/messages", data={"to": NUMBER, "text": text}, headers=headers
        )
        return str(parse(r)["messages"][0]["id"])

    def logbook(sim: SimulatorServer) -> list[str]:
        time.sleep(0.06)  # past every message's jitter
        rows = parse(httpx.get(sim.base_url + "/journal/outbound", headers=headers))
        return [r["id"] for r in rows]

    with SimulatorServer(backend=backend, state_path=path) as sim:
        ids = [sent(sim, "a"), backend.inject(NUMBER, "elsewhere"), sent(sim, "b")]
    lags = {m.id: m.lag_jitter for m in backend.messages}
    assert len(set(lags.values())) == 3 and all(0 < v <= 0.05 for v in lags.values())
    with SimulatorServer(backend=backend, state_path=path) as sim:
        ids.append(sent(sim, "c"))
        assert logbook(sim) == ids[::-1]
    assert ids == [str(FIRST_MESSAGE_ID + i) for i in range(4)]
    fresh = Backend(Faults(logbook_lag_jitter_s=0.05))
    with SimulatorServer(backend=fresh, state_path=path) as sim:
        assert {m.id: m.lag_jitter for m in fresh.messages if m.id in lags} == lags
        assert [m.id for m in fresh.accepted()] == [ids[0], ids[2], ids[3]]
        ids.append(sent(sim, "d"))
        assert ids[-1] == str(FIRST_MESSAGE_ID + 4)
        assert logbook(sim) == ids[::-1]


def test_version_1_state_files_still_load() -> None:
    """A state file from before lag jitter and injected messages loads, with neither."""
    old = Backend()
    old.send({"to": NUMBER, "text": "x"}, KEY)
    state = old.to_state()
    state["version"] = 1
    for m in state["messages"]:
        del m["lag_jitter"], m["injected"]
    backend = Backend()
    backend.load_state(state)
    [m] = backend.accepted()
    assert (m.text, m.lag_jitter, m.injected) == ("x", 0.0, False)
    assert backend.to_state()["version"] == 2
    with pytest.raises(ValueError, match="version"):
        backend.load_state({**state, "version": 99})


def test_async_server_in_running_loop() -> None:
    """AsyncSimulatorServer serves inside an already running event loop."""

    async def main() -> dict[str, Any]:
        async with AsyncSimulatorServer() as sim, httpx.AsyncClient(base_url=sim.base_url) as c:
            r = await c.post(
                "/rcs/messages", json={"to": NUMBER, "text": "hi"}, headers={"X-Api-Key": KEY}
            )
            return dict(parse(r))

    assert asyncio.run(main())["success"] == "100"


def test_concurrent_sends_get_unique_ids(sim: SimulatorServer) -> None:
    """Concurrent sends are each accepted once with distinct consecutive ids."""

    async def main() -> list[str]:
        async with httpx.AsyncClient(base_url=sim.base_url, headers={"X-Api-Key": KEY}) as c:
            rs = await asyncio.gather(
                *(c.post("/rcs/messages", data={"to": NUMBER, "text": str(i)}) for i in range(64))
            )
            return [parse(r)["messages"][0]["id"] for r in rs]

    ids = asyncio.run(main())
    assert sorted(ids) == [str(FIRST_MESSAGE_ID + i) for i in range(64)]
    assert sim.backend.balance == Decimal("500.00") - 64 * Decimal("0.0475")


def test_serve_stops_on_sigterm_and_saves(tmp_path: Path) -> None:
    """serve() in its own process stops cleanly on SIGTERM and saves its state file."""
    path = tmp_path / "state.json"
    code = (
        "from pathlib import Path; from rcsbatch.simulator import serve, Faults;"
        f"serve('127.0.0.1', 0, Faults(), Path({str(path)!r}), ready=lambda u: print(u, flush=1))"
    )
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().strip()
            httpx.post(
                base + "/rcs/messages", data={"to": NUMBER, "text": "x"}, headers={"X-Api-Key": KEY}
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
    assert len(json.loads(path.read_text())["messages"]) == 1


# ---- pieces ------------------------------------------------------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(_json_values)
def test_json_keeps_decimals_exact(value: Any) -> None:
    """The JSON writer reads back identically, Decimals digit for digit."""
    assert json.loads(dumps(value), parse_float=Decimal, parse_int=Decimal) == _as_decimals(value)


def _as_decimals(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | Decimal):
        return Decimal(v)
    if isinstance(v, list):
        return [_as_decimals(x) for x in v]
    return {k: _as_decimals(x) for k, x in v.items()}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"code_form": "xml"}, "code_form"),
        ({"price_in_answer": 1}, "price_in_answer"),
        ({"script": ["explode"]}, "script"),
        ({"fail_first_n": -1}, "fail_first_n"),
        ({"price": 0.05}, "price"),
        ({"balance": "-1"}, "balance"),
        ({"logbook_tz": "Mars/Olympus_Mons"}, "logbook_tz"),
        ({"logbook_tz": "../etc/passwd"}, "logbook_tz"),
        ({"clock_offset_s": "inf"}, "clock_offset_s"),
        ({"logbook_lag_jitter_s": -1}, "logbook_lag_jitter_s"),
        ({"logbook_stalled": "yes"}, "logbook_stalled"),
        ({"text_rendering": "fancy"}, "text_rendering"),
        ({"rich_rendering": "html"}, "rich_rendering"),
        ({"scheduled_stamp": "dispatch"}, "scheduled_stamp"),
    ],
)
def test_faults_update_validates(changes: dict[str, Any], message: str) -> None:
    """A bad knob value is refused whole with the knob's name in the message."""
    faults = Faults()
    with pytest.raises(ValueError, match=message):
        faults.update(changes)
    assert faults == Faults()


def test_an_agent_in_test_status_refuses_numbers_not_among_its_test_numbers(
    client: httpx.Client,
) -> None:
    """testagent (status test) sends to its test numbers; another number gets the knob's code
    (700) for that recipient, nothing accepted."""
    ok = parse(send(client, to="+4917600000001", from_="testagent"))
    assert ok["messages"][0]["success"] is True
    refused = parse(send(client, to=NUMBER, from_="testagent"))
    assert refused["messages"][0]["success"] is False
    assert refused["messages"][0]["error"] == "700"
