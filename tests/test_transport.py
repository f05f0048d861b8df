"""The aiohttp transport over real loopback sockets: which failures may have reached the server.

The distinction pinned here is what keeps a message from going out twice: a failure before the
request left is a connect error (retried), a failure after it left is a read/protocol error (the
row is ``unknown``, never resent blindly).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from rcsbatch.errors import AnswerLostError, RetriableError
from rcsbatch.gateway.client import GatewayClient
from rcsbatch.gateway.transport import AiohttpTransport, _read_response

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ANSWER = {
    "success": "100",
    "messages": [
        {"id": "77233319353", "recipient": "49176123456789", "success": True, "price": 0.05}
    ],
}


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Read one HTTP/1.1 request (head and Content-Length body) off the socket."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head, await reader.readexactly(length)


def respond(body: bytes, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: application/json\r\n"
        b"X-sms77-trace-id: trace-42\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


async def answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """(a) Answer every request on the connection normally, echoing what arrived in the body."""
    while True:
        try:
            head, body = await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            break
        request = json.loads(body) if body else None
        seen = {"head": head.decode("latin-1"), "body": request, **ANSWER}
        writer.write(respond(json.dumps(seen).encode()))
        await writer.drain()
    writer.close()


async def drops_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """(b) Read the whole request, then close the connection without a word."""
    await read_request(reader)
    writer.close()


async def resets_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """(b') Read the whole request, then reset the connection (RST instead of FIN)."""
    await read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def half_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """(b'') Read the request, send the status line and part of the body, then close."""
    await read_request(reader)
    writer.write(respond(b'{"success": "100", "messages": [')[:-10])
    await writer.drain()
    writer.close()


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """(c) Read the request and keep the connection open without answering."""
    await read_request(reader)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(5)
    writer.close()


async def answers_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer with a gzip-compressed JSON body, as a proxy in front of the gateway may."""
    await read_request(reader)
    writer.write(
        respond(gzip.compress(json.dumps(ANSWER).encode()), extra=b"Content-Encoding: gzip\r\n")
    )
    await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yield the base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(track, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post(url: str, *, read_timeout: float = 5.0) -> httpx.Response:
    async with httpx.AsyncClient(transport=AiohttpTransport(max_connections=4)) as client:
        return await client.post(
            url + "/rcs/messages",
            json={"to": "49176123456789", "text": "Hi"},
            timeout=httpx.Timeout(5.0, read=read_timeout),
        )


async def client_send(url: str, *, read_timeout: float = 5.0) -> Any:
    transport = AiohttpTransport(max_connections=4)
    async with GatewayClient(
        url, "secret-key-1234", timeout=read_timeout, transport=transport
    ) as client:
        return await client.send({"to": "49176123456789", "text": "Hi"}, "49176123456789")


def run(coro: Awaitable[Any]) -> Any:
    async def main() -> Any:
        return await coro

    return asyncio.run(main())


def test_normal_answer_carries_status_headers_and_body() -> None:
    """A normal answer comes back whole: status, headers and the JSON body as sent."""

    async def go() -> httpx.Response:
        async with serve(answers) as url:
            return await post(url)

    response = run(go())
    assert response.status_code == 200
    assert response.headers["x-sms77-trace-id"] == "trace-42"
    data = response.json()
    assert data["body"] == {"to": "49176123456789", "text": "Hi"}
    assert data["head"].startswith("POST /api/rcs/messages HTTP/1.1\r\n")


def test_request_headers_arrive_once_each() -> None:
    """The request's headers reach the server once each (no duplicated Content-Length or Host)."""

    async def go() -> str:
        async with serve(answers) as url:
            response = await post(url)
        return str(response.json()["head"])

    lines = [line.split(":", 1)[0].lower() for line in run(go()).split("\r\n")[1:] if line]
    assert lines.count("content-length") == 1
    assert lines.count("host") == 1
    assert lines.count("content-type") == 1


def test_connection_is_reused_for_a_second_request() -> None:
    """Two requests in a row on one transport both get answered (keep-alive pool works)."""

    async def go() -> list[int]:
        async with (
            serve(answers) as url,
            httpx.AsyncClient(transport=AiohttpTransport(max_connections=1)) as client,
        ):
            first = await client.post(url + "/rcs/messages", json={"n": 1})
            second = await client.post(url + "/rcs/messages", json={"n": 2})
            return [first.json()["body"]["n"], second.json()["body"]["n"]]

    assert run(go()) == [1, 2]


def test_plain_answer_reads_as_an_ordinary_httpx_response() -> None:
    """Straight from the transport, an answer without Content-Encoding is an httpx.Response whose
    status, headers, content, text and JSON are those of one built with `content=`."""

    async def go() -> tuple[httpx.Response, bytes]:
        async with serve(answers) as url:
            transport = AiohttpTransport(max_connections=1)
            try:
                request = httpx.Request("POST", url + "/rcs/messages", json={"n": 1})
                response = await transport.handle_async_request(request)
                return response, await response.aread()
            finally:
                await transport.aclose()  # before the server stops, as a client would

    response, read = run(go())
    expected = httpx.Response(200, headers=response.headers.raw, content=response.content)
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200
    assert read == response.content == expected.content
    assert response.text == expected.text
    assert response.json() == expected.json()
    assert response.json()["body"] == {"n": 1}
    assert response.headers.multi_items() == expected.headers.multi_items()
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["x-sms77-trace-id"] == "trace-42"


def test_read_response_falls_back_to_reading_its_stream() -> None:
    """Should httpx stop honouring the stored content, `aread()` still reads the same body."""
    request = httpx.Request("POST", "http://127.0.0.1/api/rcs/messages")
    response = _read_response(200, ((b"Content-Type", b"application/json"),), b'{"a":1}', request)
    del response._content

    async def go() -> bytes:
        return await response.aread()

    assert run(go()) == b'{"a":1}'
    assert response.json() == {"a": 1}


def test_a_changed_timeout_applies_to_the_next_request() -> None:
    """One transport honours each request's own read timeout, not the first one it saw."""

    async def go() -> tuple[int, BaseException | None]:
        async with (
            serve(answers) as fast,
            serve(never_answers) as silent,
            httpx.AsyncClient(transport=AiohttpTransport(max_connections=2)) as client,
        ):
            first = await client.post(fast + "/rcs/messages", json={}, timeout=30.0)
            try:
                await client.post(silent + "/rcs/messages", json={}, timeout=0.2)
            except httpx.ReadTimeout as exc:
                return first.status_code, exc
            return first.status_code, None

    status, error = run(go())
    assert status == 200
    assert isinstance(error, httpx.ReadTimeout)


def test_gzip_answer_is_decoded_once() -> None:
    """A gzip-compressed answer is decompressed exactly once and reads as JSON."""

    async def go() -> httpx.Response:
        async with serve(answers_gzip) as url:
            return await post(url)

    assert run(go()).json() == ANSWER


@pytest.mark.parametrize("handler", [drops_after_request, resets_after_request, half_answer])
def test_failure_after_request_left_is_not_a_connect_error(handler: Handler) -> None:
    """A connection closed or reset after the request was read is a read/protocol error."""

    async def go() -> None:
        async with serve(handler) as url:
            await post(url)

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)) as info:
        run(go())
    assert not isinstance(info.value, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def test_no_answer_is_a_read_timeout() -> None:
    """A server that reads the request and never answers gives ReadTimeout, not a connect error."""

    async def go() -> None:
        async with serve(never_answers) as url:
            await post(url, read_timeout=0.2)

    with pytest.raises(httpx.ReadTimeout):
        run(go())


def test_closed_port_is_a_connect_error() -> None:
    """Nothing listening on the port: ConnectError, the request never left."""
    with pytest.raises(httpx.ConnectError):
        run(post(f"http://127.0.0.1:{closed_port()}/api"))


@pytest.mark.parametrize(
    "handler", [drops_after_request, resets_after_request, half_answer, never_answers]
)
def test_client_turns_after_send_failures_into_answer_lost(handler: Handler) -> None:
    """Through GatewayClient, every failure after the request left is AnswerLostError (unknown)."""

    async def go() -> None:
        async with serve(handler) as url:
            await client_send(url, read_timeout=0.2)

    with pytest.raises(AnswerLostError) as info:
        run(go())
    assert not isinstance(info.value, RetriableError)


def test_client_turns_a_refused_connection_into_retriable() -> None:
    """Through GatewayClient, a refused connection is RetriableError: safe to send again."""
    with pytest.raises(RetriableError):
        run(client_send(f"http://127.0.0.1:{closed_port()}/api"))


def test_client_reads_a_normal_answer_over_sockets() -> None:
    """Through GatewayClient over real sockets, a normal answer is Accepted with its id."""

    async def go() -> Any:
        async with serve(answers) as url:
            return await client_send(url)

    accepted = run(go())
    assert accepted.message_ids == ("77233319353",)
    assert str(accepted.price) == "0.05"


def test_client_reads_a_gzip_answer_over_sockets() -> None:
    """Through GatewayClient, a gzip-compressed answer is read, not crashed on."""

    async def go() -> Any:
        async with serve(answers_gzip) as url:
            return await client_send(url)

    assert run(go()).message_ids == ("77233319353",)


async def answers_bad_gzip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer with a body that claims gzip but is not."""
    await read_request(reader)
    writer.write(respond(b"not gzip at all", extra=b"Content-Encoding: gzip\r\n"))
    await writer.drain()
    writer.close()


def test_undecodable_answer_is_a_read_error() -> None:
    """A body that cannot be decoded is a ReadError (an answer came), and AnswerLostError above."""

    async def raw() -> None:
        async with serve(answers_bad_gzip) as url:
            await post(url)

    async def through_client() -> None:
        async with serve(answers_bad_gzip) as url:
            await client_send(url)

    with pytest.raises(httpx.ReadError):
        run(raw())
    with pytest.raises(AnswerLostError):
        run(through_client())


def test_waiting_for_a_pooled_connection_times_out_as_pool_timeout() -> None:
    """No free connection in time is PoolTimeout (nothing sent), and RetriableError above."""

    async def go() -> tuple[BaseException | httpx.Response, ...]:
        async with (
            serve(never_answers) as url,
            httpx.AsyncClient(transport=AiohttpTransport(max_connections=1)) as client,
        ):
            timeout = httpx.Timeout(0.5, pool=0.1)
            busy = asyncio.create_task(client.post(url + "/rcs/messages", json={}, timeout=timeout))
            await asyncio.sleep(0.05)  # let the first request take the only connection
            waiting = client.post(url + "/rcs/messages", json={}, timeout=timeout)
            return tuple(await asyncio.gather(waiting, busy, return_exceptions=True))

    waiting, busy = run(go())
    assert isinstance(waiting, httpx.PoolTimeout)
    assert isinstance(busy, httpx.ReadTimeout)


def test_many_requests_share_a_small_pool() -> None:
    """More concurrent requests than connections all get their own answer."""

    async def go() -> list[int]:
        async with (
            serve(answers) as url,
            httpx.AsyncClient(transport=AiohttpTransport(max_connections=3)) as client,
        ):
            responses = await asyncio.gather(
                *(client.post(url + "/rcs/messages", json={"n": n}) for n in range(20))
            )
            return [r.json()["body"]["n"] for r in responses]

    assert run(go()) == list(range(20))
