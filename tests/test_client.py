"""GatewayClient against httpx.MockTransport: what each request carries, how failures are sorted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RecipientRefusedError,
    RetriableError,
)
from rcsbatch.gateway.client import Balance, GatewayClient

KEY = "sk-live-0123456789abcdef"
BASE = "https://gateway.example/api"
TO = "49176123456789"
OK = {
    "success": "100",
    "balance": 12.5,
    "messages": [{"id": "77233319353", "recipient": TO, "success": True, "price": 0.05}],
}

Responder = Callable[[httpx.Request], httpx.Response]


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def call(responder: Responder, method: str = "send", base: str = BASE) -> Any:
    """Run one client call against a MockTransport that answers with `responder`."""

    async def go() -> Any:
        async with GatewayClient(base, KEY, transport=httpx.MockTransport(responder)) as client:
            if method == "send":
                return await client.send({"to": TO, "text": "Hi ünïcode"}, TO)
            return await client.balance()

    return run(go())


def recording(answer: httpx.Response) -> tuple[list[httpx.Request], Responder]:
    seen: list[httpx.Request] = []

    def responder(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    return seen, responder


def test_send_posts_json_with_key_and_accept_headers() -> None:
    """A send is a POST to /rcs/messages with X-Api-Key, Accept and a JSON body."""
    seen, responder = recording(httpx.Response(200, json=OK))
    call(responder)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == BASE + "/rcs/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"to": TO, "text": "Hi ünïcode"}
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    "base", [BASE, "http://127.0.0.1:8089/api/", "https://gw.example:8443/api"]
)
@pytest.mark.parametrize("text", ["Hi", "Hi ünïcode 🎉", ""])
def test_send_request_is_what_httpx_builds_from_content(base: str, text: str) -> None:
    """A send's request has the method, URL, headers (names, order, values), body and
    extensions that `httpx.Request(..., content=body)` gives it."""
    client = GatewayClient(base, KEY)
    body = json.dumps({"to": TO, "text": text}, ensure_ascii=False).encode()
    built = client._send_request(body)
    expected = httpx.Request(
        "POST",
        client._send_url,
        headers=client._headers,
        content=body,
        extensions=client._extensions,
    )
    assert built.method == expected.method
    assert built.url == expected.url
    assert built.headers.raw == expected.headers.raw
    assert built.content == expected.content == body
    assert built.extensions == expected.extensions


def test_trailing_slash_in_base_url_is_ignored() -> None:
    """A base URL ending in / still posts to .../api/rcs/messages."""
    seen, responder = recording(httpx.Response(200, json=OK))
    call(responder, base=BASE + "/")
    assert str(seen[0].url) == BASE + "/rcs/messages"


def test_send_returns_what_was_accepted() -> None:
    """A "100" answer comes back as Accepted: ids, decimal price and balance."""
    accepted = call(recording(httpx.Response(200, json=OK))[1])
    assert accepted.message_ids == ("77233319353",)
    assert accepted.price == Decimal("0.05")
    assert accepted.balance == Decimal("12.5")


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(200, text="900"), AccountError),
        (
            httpx.Response(
                200,
                json={
                    "success": "100",
                    "messages": [{"id": None, "recipient": TO, "success": False, "error": "202"}],
                },
            ),
            RecipientRefusedError,
        ),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), AnswerLostError),
        (httpx.Response(429, headers={"Retry-After": "3"}), RetriableError),
    ],
)
def test_trace_id_is_copied_onto_errors(response: httpx.Response, kind: type[GatewayError]) -> None:
    """The answer's X-sms77-trace-id travels on the error, for support requests."""
    response.headers["X-sms77-trace-id"] = "trace-abc"
    with pytest.raises(kind) as info:
        call(lambda request: response)
    assert info.value.trace_id == "trace-abc"


def test_error_without_trace_header_has_no_trace_id() -> None:
    """Without the trace header, the error's trace_id is None."""
    with pytest.raises(AccountError) as info:
        call(lambda request: httpx.Response(200, text="900"))
    assert info.value.trace_id is None


def raising(exc_type: type[httpx.TransportError]) -> Responder:
    def responder(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return responder


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
@pytest.mark.parametrize("method", ["send", "balance"])
def test_failures_before_the_request_left_are_retriable(
    exc_type: type[httpx.TransportError], method: str
) -> None:
    """Connect errors and pool timeouts: nothing was sent, so RetriableError."""
    with pytest.raises(RetriableError) as info:
        call(raising(exc_type), method)
    assert isinstance(info.value.__cause__, exc_type)


@pytest.mark.parametrize(
    "exc_type",
    [
        httpx.ReadTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.WriteError,
        httpx.WriteTimeout,
    ],
)
def test_failures_after_the_request_left_are_answer_lost(
    exc_type: type[httpx.TransportError],
) -> None:
    """Read timeouts, dropped connections: it may have been accepted, so AnswerLostError."""
    with pytest.raises(AnswerLostError) as info:
        call(raising(exc_type))
    assert not isinstance(info.value, RetriableError)
    assert isinstance(info.value.__cause__, exc_type)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"amount": 290.67, "currency": "EUR"}, Balance(Decimal("290.67"), "EUR")),
        ({"amount": "12.10", "currency": "CHF"}, Balance(Decimal("12.10"), "CHF")),
        ({"amount": 0}, Balance(Decimal(0), "EUR")),
        (290.67, Balance(Decimal("290.67"), "EUR")),
        ("290.67", Balance(Decimal("290.67"), "EUR")),
    ],
)
def test_balance_reads_json_and_bare_number(body: Any, expected: Balance) -> None:
    """GET /balance reads the JSON object and the bare-number form, as exact decimals."""
    seen, responder = recording(httpx.Response(200, content=json.dumps(body).encode()))
    assert call(responder, "balance") == expected
    assert seen[0].method == "GET"
    assert str(seen[0].url) == BASE + "/balance"
    assert seen[0].headers["x-api-key"] == KEY


def test_balance_reads_a_bare_number_that_is_not_json() -> None:
    """A bare balance written as plain text (not JSON) is read too."""
    response = httpx.Response(200, text="290.67\n")
    assert call(lambda request: response, "balance") == Balance(Decimal("290.67"), "EUR")


@pytest.mark.parametrize("body", ["900", '"900"', '{"success": "900"}'])
def test_balance_refused_key_is_an_account_error(body: str) -> None:
    """A refused key on /balance is an AccountError."""
    with pytest.raises(AccountError):
        call(lambda request: httpx.Response(200, text=body), "balance")


@pytest.mark.parametrize(("status", "body"), [(503, "down"), (200, "nonsense"), (200, "[]")])
def test_balance_unreadable_answer_is_a_gateway_error(status: int, body: str) -> None:
    """A non-200 or unreadable answer to /balance is a GatewayError, never a crash."""
    with pytest.raises(GatewayError):
        call(lambda request: httpx.Response(status, text=body), "balance")


def test_key_never_in_repr() -> None:
    """The API key shows neither in repr nor in str of the client."""

    async def go() -> list[str]:
        async with GatewayClient(
            BASE, KEY, transport=httpx.MockTransport(lambda request: httpx.Response(200))
        ) as client:
            return [repr(client), str(client)]

    for text in run(go()):
        assert KEY not in text
        assert KEY[-8:] not in text


def test_key_never_in_error_text() -> None:
    """An error raised by the client does not carry the key in its message."""
    with pytest.raises(RetriableError) as info:
        call(raising(httpx.ConnectError))
    assert KEY not in str(info.value)
