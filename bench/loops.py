"""Reference send loops: N × ``POST /rcs/messages`` at a fixed concurrency, one client per loop.

Each loop sends the same JSON bodies (``to``, ``text``, ``from``, ``label``, ``foreign_id``,
``ttl``; distinct valid German mobile numbers) with ``X-Api-Key``, through ``concurrency``
workers sharing one client, and prints one JSON line: the loop's name, N, the seconds from the
first request to the last answer, and how many answers were accepted.

=============  ==============================================================================
``aiohttp``    one ``aiohttp.ClientSession`` (``TCPConnector(limit=concurrency)``), body read
``httpx``      ``httpx.AsyncClient`` on httpx's default transport (httpcore's pool)
``httpx-aio``  ``httpx.AsyncClient`` over ``httpx_aiohttp.AiohttpTransport``
``httpx-rcs``  ``httpx.AsyncClient`` over ``rcsbatch.gateway.transport.AiohttpTransport``
``client``     ``rcsbatch.gateway.client.GatewayClient.send`` (its transport, headers and answer
parsing) ``direct``     diagnostic: an ``httpx.Request`` handed straight to rcsbatch's transport (no
               ``AsyncClient``), answer parsed with ``rcsbatch.gateway.answers.read_send_answer``
``aio-parse``  diagnostic: the bare aiohttp loop, answer parsed with ``read_send_answer``
=============  ==============================================================================

The loops ``aiohttp`` to ``httpx-rcs`` read the body but do not parse it (a cheap byte check
counts the accepted answers); ``client``, ``direct`` and ``aio-parse`` parse every answer as a
campaign run does. Between them they split rcsbatch's per-request cost into answer parsing
(``aio-parse`` − ``aiohttp``), httpx's request and response objects plus the transport wrapper
(``direct`` − ``aio-parse``), and whatever ``GatewayClient`` adds around its transport
(``client`` − ``direct``: ``httpx.AsyncClient`` up to commit c2bd15d, next to nothing since).

Run one in its own process, as ``bench/run.py`` does::

    python bench/loops.py aiohttp --url http://127.0.0.1:8089/api -n 50000 -c 32
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

ACCEPTED_MARK = b'"success":true'
KEY = "bench"


def message(i: int) -> dict[str, Any]:
    """The parameters of message ``i``: a distinct valid +49 151 number, a short merged text."""
    return {
        "to": f"49151{i:08d}",
        "text": f"Hi Kunde{i}, your code C{i:07d} is valid until Sunday.",
        "from": "myfancyagent",
        "label": "bench",
        "foreign_id": f"c{i}",
        "ttl": 2880,
    }


def body(i: int) -> bytes:
    """Message ``i`` as the JSON body a client sends."""
    return json.dumps(message(i), ensure_ascii=False).encode()


HEADERS = {"X-Api-Key": KEY, "Content-Type": "application/json", "Accept": "application/json"}


async def _workers(n: int, concurrency: int, one: Callable[[int], Awaitable[bool]]) -> int:
    """Run ``one(i)`` for i in range(n) on ``concurrency`` workers; return how many were True."""
    items: Iterator[int] = iter(range(n))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for i in items:  # a shared iterator: each worker takes the next index
            if await one(i):
                ok += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def loop_aiohttp(url: str, n: int, concurrency: int) -> int:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        send_url = url + "/rcs/messages"

        async def one(i: int) -> bool:
            async with session.post(send_url, data=body(i), headers=HEADERS) as response:
                data = await response.read()
                return response.status == 200 and ACCEPTED_MARK in data

        return await _workers(n, concurrency, one)


async def _loop_httpx(url: str, n: int, concurrency: int, transport: Any) -> int:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(transport=transport, limits=limits, timeout=30.0) as client:
        send_url = httpx.URL(url + "/rcs/messages")

        async def one(i: int) -> bool:
            response = await client.post(send_url, content=body(i), headers=HEADERS)
            return response.status_code == 200 and ACCEPTED_MARK in response.content

        return await _workers(n, concurrency, one)


async def loop_httpx(url: str, n: int, concurrency: int) -> int:
    return await _loop_httpx(url, n, concurrency, None)


async def loop_httpx_aio(url: str, n: int, concurrency: int) -> int:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return await _loop_httpx(url, n, concurrency, AiohttpTransport(limits=limits))


def gateway(name: str) -> Any:
    """rcsbatch's module `name` of the gateway code: `rcsbatch.gateway.<name>`, or, in a commit
    measured with `--source` from before the subpackages (issue 12), `rcsbatch.<name>`."""
    try:
        return importlib.import_module(f"rcsbatch.gateway.{name}")
    except ImportError:
        # Not ModuleNotFoundError alone: the editable install may still find the working tree's
        # rcsbatch/gateway/, whose imports then fail against the older commit's modules.
        return importlib.import_module(f"rcsbatch.{name}")


async def loop_httpx_rcs(url: str, n: int, concurrency: int) -> int:
    transport = gateway("transport").AiohttpTransport(max_connections=concurrency)
    return await _loop_httpx(url, n, concurrency, transport)


async def loop_client(url: str, n: int, concurrency: int) -> int:
    async with gateway("client").GatewayClient(url, KEY, max_connections=concurrency) as client:

        async def one(i: int) -> bool:
            params = message(i)
            accepted = await client.send(params, params["to"])
            return bool(accepted.message_ids)

        return await _workers(n, concurrency, one)


async def loop_direct(url: str, n: int, concurrency: int) -> int:
    import httpx

    read_send_answer = gateway("answers").read_send_answer
    transport = gateway("transport").AiohttpTransport(max_connections=concurrency)
    send_url = httpx.URL(url + "/rcs/messages")
    extensions = {"timeout": httpx.Timeout(30.0, connect=10.0).as_dict()}

    async def one(i: int) -> bool:
        params = message(i)
        content = json.dumps(params, ensure_ascii=False).encode()
        request = httpx.Request(
            "POST", send_url, headers=HEADERS, content=content, extensions=extensions
        )
        response = await transport.handle_async_request(request)
        accepted = read_send_answer(
            response.status_code, response.headers, response.content, params["to"]
        )
        return bool(accepted.message_ids)

    try:
        return await _workers(n, concurrency, one)
    finally:
        await transport.aclose()


async def loop_aio_parse(url: str, n: int, concurrency: int) -> int:
    import aiohttp

    read_send_answer = gateway("answers").read_send_answer

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        send_url = url + "/rcs/messages"

        async def one(i: int) -> bool:
            params = message(i)
            content = json.dumps(params, ensure_ascii=False).encode()
            async with session.post(send_url, data=content, headers=HEADERS) as response:
                data = await response.read()
                accepted = read_send_answer(response.status, response.headers, data, params["to"])
                return bool(accepted.message_ids)

        return await _workers(n, concurrency, one)


LOOPS: dict[str, Callable[[str, int, int], Awaitable[int]]] = {
    "aiohttp": loop_aiohttp,
    "httpx": loop_httpx,
    "httpx-aio": loop_httpx_aio,
    "httpx-rcs": loop_httpx_rcs,
    "client": loop_client,
    "direct": loop_direct,
    "aio-parse": loop_aio_parse,
}


async def _timed(name: str, url: str, n: int, concurrency: int) -> dict[str, Any]:
    started = time.perf_counter()
    ok = await LOOPS[name](url, n, concurrency)
    seconds = time.perf_counter() - started
    return {"loop": name, "n": n, "concurrency": concurrency, "seconds": seconds, "accepted": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("loop", choices=sorted(LOOPS))
    parser.add_argument("--url", required=True, help="the gateway's base URL (…/api)")
    parser.add_argument("-n", type=int, default=10_000, help="messages to send")
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    result = asyncio.run(_timed(args.loop, args.url.rstrip("/"), args.n, args.concurrency))
    print(json.dumps(result))
    return 0 if result["accepted"] == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
