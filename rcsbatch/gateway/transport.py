"""An httpx transport over aiohttp whose errors say whether a request may have reached the server.

Why our own and not ``httpx-aiohttp``'s: that package maps every ``aiohttp.ClientConnectionError``,
including a connection dropped *after* the request was written, to ``httpx.ConnectTimeout``. For a
sender that retries only what surely did not arrive, that mapping would send a message twice. Here:

- the connection could not be made, or no pooled connection was free in time
  → ``httpx.ConnectError`` / ``httpx.ConnectTimeout`` / ``httpx.PoolTimeout``: nothing was sent;
- anything after the connection was made (reset, server closed, read timed out)
  → ``httpx.ReadError`` / ``httpx.RemoteProtocolError`` / ``httpx.ReadTimeout``: it may have
  arrived.

It also reads the (small) body at once, which makes the per-request path shorter than streaming it:
the benchmark in ``bench/`` compares it with httpx's default transport and with ``httpx-aiohttp``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through one aiohttp session with at most ``max_connections`` sockets."""

    def __init__(self, *, max_connections: int = 100, keepalive_expiry: float = 30.0) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        # The last request's timeout and its aiohttp form: a client sends every request with the
        # same one, so building a ClientTimeout per request is waste.
        self._timeout: dict[str, Any] | None = None
        self._client_timeout = aiohttp.ClientTimeout()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_expiry,
                enable_cleanup_closed=False,
            )
            # aiohttp's own cookie jar would keep what seven sets; a gateway client wants none.
            # httpx decodes the body by its Content-Encoding header (it advertised what it can
            # decode), so aiohttp must hand it over undecoded: decoding twice fails.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        if timeout != self._timeout:
            self._timeout = dict(timeout)
            # No `total`: its timer costs CPU on every request (bench/RESULTS.md); GatewayClient
            # splits its timeout between connecting and reading instead.
            self._client_timeout = aiohttp.ClientTimeout(
                connect=timeout.get("pool"),
                sock_connect=timeout.get("connect"),
                sock_read=timeout.get("read"),
            )
        content = request.content or None
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=content,
                allow_redirects=False,
                timeout=self._client_timeout,
            ) as response:
                body = await response.read()
                if "Content-Encoding" not in response.headers:
                    return _read_response(response.status, response.raw_headers, body, request)
                return httpx.Response(
                    status_code=response.status,
                    headers=response.raw_headers,
                    content=body,
                    request=request,
                )
        except aiohttp.ConnectionTimeoutError as exc:
            # aiohttp's "connect" budget covers waiting for a pooled connection and connecting.
            raise httpx.PoolTimeout(str(exc) or "no connection in time", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc) or "cannot connect", request=request) from exc
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(
                str(exc) or "server closed the connection", request=request
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except httpx.DecodingError as exc:
            # An answer came but cannot be decoded: it may still have been accepted.
            raise httpx.ReadError(str(exc) or "undecodable body", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _read_response(
    status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, request: httpx.Request
) -> httpx.Response:
    """An `httpx.Response` already read: `content` is `body`, headers are as the server sent them.

    Only for a body without Content-Encoding, which is its own content. `httpx.Response(content=)`
    would run the body through httpx's decoder pipeline (decoder, chunker, request context), which
    cost more than the rest of building the response. So the response gets the body as a stream,
    and as its content the attribute `Response.read()` itself stores: should a later httpx name it
    otherwise, `aread()` (which `GatewayClient` and `httpx.AsyncClient` call) reads the stream
    the ordinary way, and nothing breaks but the speed.
    """
    response = httpx.Response(
        status_code=status, headers=headers, stream=httpx.ByteStream(body), request=request
    )
    response._content = body
    return response
