"""The simulated gateway over HTTP: an aiohttp app on loopback, in a thread or its own process.

Three ways in, one behaviour (the :class:`~rcsbatch.simulator.backend.Backend`):

* :class:`SimulatorServer` - a sync context manager that serves on a free port of 127.0.0.1 from
  a daemon thread with its own event loop (``rcsbatch run --simulate`` and the tests);
* :class:`AsyncSimulatorServer` - the same inside an already running event loop;
* :func:`serve` - blocking, for ``rcsbatch simulator --port N``; stops cleanly on SIGINT/SIGTERM.

The API lives under ``/api`` (``base_url`` plays ``https://gateway.seven.io/api``). Control
endpoints for tests and the benchmark live under ``/_sim`` and need no key:

=====================  =============================================================
``GET /_sim/state``    accepted messages (``?offset=&limit=``), balance, counters, ...
``GET /_sim/faults``   the fault knobs; ``PATCH``/``POST`` with a partial JSON update
``POST /_sim/topup``   ``{"amount": "10.00"}``: add credit, lift a ``credit_after`` stop
``POST /_sim/reset``   forget all state; ``{"keep_faults": true}`` keeps the knobs
``GET /_sim/stats``    requests served, accepted count, process CPU time
``GET /_sim/account``  price, lookup price, balance, agents, webhook signing key; ``PATCH``
``POST /_sim/save``    write the state file now (when the server has one)
``POST /_sim/inject``  ``{"to", "text", ...}``: a logbook entry from another sender
=====================  =============================================================

With the ``webhooks`` knob on, the server also posts signed delivery reports to the hooks
registered through ``POST /api/hooks`` (``hooks.py``). Every response's ``Date`` header reads the
gateway's clock, which ``clock_offset_s`` may set ahead or behind the machine's.

The request path stays lean for the benchmark: no access log, no middleware, O(1) per send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

from rcsbatch.engine.loop import run_sync

from .backend import FAULT_PAGES, Backend, ErrorCode, ErrorPage
from .faults import Faults
from .hooks import Dispatcher
from .jsonout import dumps

API_PREFIX = "/api"
CONTROL_PREFIX = "/_sim"
TRACE_HEADER = "X-sms77-trace-id"
JSON_TYPE = "application/json"

_REASONS = {
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_trace_rng = random.Random()


def _page(status: int) -> str:
    title = f"{status} {_REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


_PAGES = {status: _page(status) for status in _REASONS}


def _trace() -> dict[str, str]:
    return {TRACE_HEADER: f"{_trace_rng.getrandbits(128):032x}"}


def api_key_of(request: web.BaseRequest) -> str | None:
    """The request's API key: ``X-Api-Key``, else ``Authorization: basic KEY`` / ``Bearer``."""
    headers = request.headers
    key = headers.get("X-Api-Key")
    if key:
        return key
    auth = headers.get("Authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        # "basic" carries the raw key (not base64), as seven documents it.
        if scheme.lower() in ("basic", "bearer") and value.strip():
            return value.strip()
    return None


async def read_params(request: web.BaseRequest) -> dict[str, Any]:
    """Query plus body parameters; the body wins. Form-encoded, multipart or JSON bodies."""
    params: dict[str, Any] = {}
    if request.query_string:
        params.update(request.query.items())
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        form = await request.post()
        params.update((k, v) for k, v in form.items() if isinstance(v, str))
        return params
    body = await request.read()
    if not body:
        return params
    if ctype == JSON_TYPE or ctype.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError:
            # Unreadable JSON reads as no parameters, so the usual "missing" codes answer.
            return params
        if isinstance(data, dict):
            params.update(data)
    else:
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _json(obj: Any, headers: Mapping[str, str] | None = None, status: int = 200) -> web.Response:
    return web.Response(
        body=dumps(obj).encode(), status=status, content_type=JSON_TYPE, headers=headers
    )


def _html(status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(
        text=_PAGES[status], status=status, content_type="text/html", headers=headers
    )


class _Api:
    """Request handlers: parse HTTP, ask the backend, render its answer as seven would."""

    def __init__(self, backend: Backend, state_path: Path | None) -> None:
        self.backend = backend
        self.faults = backend.faults
        self.state_path = state_path

    async def _latency(self, ms: float | None = None) -> None:
        # Handlers read the body first: a client that gives up during the wait then leaves a
        # request the gateway still carries out (aiohttp does not cancel handlers), as a lost
        # answer does in production.
        ms = self.faults.latency_ms if ms is None else ms
        if ms > 0:
            await asyncio.sleep(ms / 1000)

    def _render(self, result: Any, *, send: bool = False) -> web.Response:
        headers = _trace()
        if not isinstance(result, ErrorCode):
            return _json(result, headers)
        code = result.code
        form = self.faults.code_form
        if form == "bare":
            return web.Response(text=code, content_type="text/plain", headers=headers)
        if form == "json_string":
            return web.Response(text=f'"{code}"', content_type=JSON_TYPE, headers=headers)
        body: dict[str, Any] = {"success": code}
        if send:
            body.update(
                total_price=None, balance=None, debug="false", sms_type="direct", messages=[]
            )
        return _json(body, headers)

    # ---- the API -------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.StreamResponse:
        params = await read_params(request)
        await self._latency()
        out = self.backend.send(params, api_key_of(request))
        fault = out.fault
        if fault is None:
            if out.answer is not None:
                return _json(out.answer, _trace())
            return self._render(ErrorCode(out.code or "700"), send=True)
        if fault == "drop":
            # Accepted and recorded; the client sees the connection die without an answer.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=200)
        headers = _trace()
        if fault == "garbled":
            return web.Response(
                text=self.backend.garbled_body(), content_type="text/html", headers=headers
            )
        status = int(fault)
        if status in (429, 503):
            headers["Retry-After"] = self._retry_after()
        return _html(status, headers)

    def _retry_after(self) -> str:
        f = self.faults
        if f.retry_after_form == "date":
            # An HTTP-date has whole seconds: round up so a client never comes back early.
            moment = time.time() + f.clock_offset_s + f.retry_after
            return formatdate(math.ceil(moment), usegmt=True)
        # delta-seconds must be a whole number: round up for the same reason.
        return str(max(0, math.ceil(f.retry_after)))

    async def revoke(self, request: web.Request) -> web.Response:
        await self._latency()
        result = self.backend.revoke(request.match_info["id"], api_key_of(request))
        if isinstance(result, ErrorPage):
            return _html(result.status, _trace())
        return self._render(result)

    async def event(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        await self._latency()
        planned = self.backend.next_scripted("event_script")
        if planned in FAULT_PAGES:
            return self._fault_page(planned)
        result = self._render(self.backend.event(params, api_key_of(request)))
        return self._dropped(request) if planned == "drop" else result

    def _fault_page(self, fault: str) -> web.Response:
        headers = _trace()
        if fault in ("429", "503"):
            headers["Retry-After"] = self._retry_after()
        return _html(int(fault), headers)

    @staticmethod
    def _dropped(request: web.Request) -> web.Response:
        """Carried out; the client sees the connection die without an answer."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=200)

    async def agents(self, request: web.Request) -> web.Response:
        await self._latency()
        return self._render(self.backend.list_agents(api_key_of(request)))

    async def lookup(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        await self._latency()
        number = params.get("number")
        planned = self.backend.next_scripted("lookup_script")
        if planned in FAULT_PAGES:
            return self._fault_page(planned)
        result = self._render(
            self.backend.lookup(number if isinstance(number, str) else None, api_key_of(request))
        )
        return self._dropped(request) if planned == "drop" else result

    async def balance(self, request: web.Request) -> web.Response:
        await self._latency()
        result = self.backend.get_balance(api_key_of(request))
        if isinstance(result, ErrorCode):
            return self._render(result)
        if JSON_TYPE in request.headers.get("Accept", ""):
            return _json({"amount": result, "currency": "EUR"}, _trace())
        return web.Response(text=format(result, "f"), content_type="text/plain", headers=_trace())

    async def journal(self, request: web.Request) -> web.Response:
        await self._latency(self.faults.logbook_latency_ms)
        return self._render(self.backend.journal(request.query, api_key_of(request)))

    async def analytics(self, request: web.Request) -> web.Response:
        await self._latency()
        return self._render(
            self.backend.analytics(request.match_info["group"], request.query, api_key_of(request))
        )

    async def add_hook(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        await self._latency()
        return self._render(self.backend.add_hook(params, api_key_of(request)))

    async def list_hooks(self, request: web.Request) -> web.Response:
        await self._latency()
        return self._render(self.backend.list_hooks(api_key_of(request)))

    async def delete_hook(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        await self._latency()
        hook_id = params.get("id")
        return self._render(
            self.backend.delete_hook(None if hook_id is None else str(hook_id), api_key_of(request))
        )

    async def not_found(self, request: web.Request) -> web.Response:
        return _html(404, {})

    # ---- control -------------------------------------------------------------------------

    async def sim_state(self, request: web.Request) -> web.Response:
        try:
            offset = int(request.query.get("offset", 0))
            limit = int(request.query["limit"]) if "limit" in request.query else None
            if offset < 0 or (limit is not None and limit < 0):
                raise ValueError
        except ValueError:
            return _json({"error": "offset and limit must be whole numbers >= 0"}, status=400)
        return _json(self.backend.snapshot(offset=offset, limit=limit))

    async def sim_stats(self, request: web.Request) -> web.Response:
        return _json(self.backend.stats())

    async def sim_faults(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            try:
                self.faults.update(await _control_body(request))
            except ValueError as exc:
                return _json({"error": str(exc)}, status=400)
        return _json(self.faults.to_dict())

    async def sim_account(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            try:
                self.backend.update_account(await _control_body(request))
            except ValueError as exc:
                return _json({"error": str(exc)}, status=400)
        return _json(self.backend.account())

    async def sim_topup(self, request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            amount = body.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
                raise ValueError('write {"amount": "10.00"}')
            balance = self.backend.topup(Decimal(amount))
        except (ValueError, ArithmeticError) as exc:
            return _json({"error": f"bad top-up: {exc}"}, status=400)
        return _json({"balance": balance})

    async def sim_reset(self, request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
        except ValueError as exc:
            return _json({"error": str(exc)}, status=400)
        self.backend.reset(keep_faults=bool(body.get("keep_faults", False)))
        return _json({"ok": True})

    async def sim_inject(self, request: web.Request) -> web.Response:
        try:
            body = await _control_body(request)
            unknown = set(body) - _INJECT_KEYS
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}; known: {sorted(_INJECT_KEYS)}")
            to, text, at = body.get("to"), body.get("text"), body.get("at")
            if not isinstance(to, str | int) or isinstance(to, bool):
                raise ValueError("to: a phone number")
            if not isinstance(text, str | dict):
                raise ValueError("text: a string or an RCS object")
            if at is not None and (isinstance(at, bool) or not isinstance(at, int | Decimal)):
                raise ValueError("at: Unix seconds")
            for name in ("label", "foreign_id", "sender"):
                if body.get(name) is not None and not isinstance(body[name], str):
                    raise ValueError(f"{name}: a string")
            msg_id = self.backend.inject(
                str(to),
                text,
                label=body.get("label"),
                foreign_id=body.get("foreign_id"),
                at=None if at is None else float(at),
                price=body.get("price"),
                sender=body.get("sender"),
            )
        except (ValueError, ArithmeticError) as exc:
            return _json({"error": f"bad inject: {exc}"}, status=400)
        return _json({"id": msg_id})

    async def sim_save(self, request: web.Request) -> web.Response:
        if self.state_path is None:
            return _json({"error": "this simulator was started without a state file"}, status=400)
        self.backend.save(self.state_path)
        return _json({"saved": str(self.state_path)})


_INJECT_KEYS = frozenset({"to", "text", "label", "foreign_id", "at", "price", "sender"})


async def _control_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        # parse_float=Decimal keeps money exact ({"amount": 10.10}).
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def create_app(backend: Backend, state_path: Path | None = None) -> web.Application:
    """The aiohttp application serving ``backend`` under ``/api`` and ``/_sim``."""
    api = _Api(backend, state_path)
    app = web.Application()
    app.on_response_prepare.append(_clock(backend.faults))
    r = app.router
    a = API_PREFIX
    r.add_post(f"{a}/rcs/messages", api.send)
    r.add_delete(f"{a}/rcs/messages/{{id}}", api.revoke)
    r.add_post(f"{a}/rcs/events", api.event)
    r.add_get(f"{a}/rcs/agents", api.agents)
    r.add_get(f"{a}/lookup/rcs", api.lookup)
    r.add_post(f"{a}/lookup/rcs", api.lookup)
    r.add_get(f"{a}/balance", api.balance)
    r.add_get(f"{a}/journal/outbound", api.journal)
    r.add_get(f"{a}/analytics/{{group:date|label|country|subaccount}}", api.analytics)
    r.add_post(f"{a}/hooks", api.add_hook)
    r.add_get(f"{a}/hooks", api.list_hooks)
    r.add_delete(f"{a}/hooks", api.delete_hook)
    c = CONTROL_PREFIX
    r.add_get(f"{c}/state", api.sim_state)
    r.add_get(f"{c}/stats", api.sim_stats)
    r.add_route("GET", f"{c}/faults", api.sim_faults)
    r.add_route("PATCH", f"{c}/faults", api.sim_faults)
    r.add_route("POST", f"{c}/faults", api.sim_faults)
    r.add_route("GET", f"{c}/account", api.sim_account)
    r.add_route("PATCH", f"{c}/account", api.sim_account)
    r.add_post(f"{c}/topup", api.sim_topup)
    r.add_post(f"{c}/reset", api.sim_reset)
    r.add_post(f"{c}/save", api.sim_save)
    r.add_post(f"{c}/inject", api.sim_inject)
    # Last: anything else (an unknown path, or a known one with the wrong method) is a 404 page.
    r.add_route("*", "/{tail:.*}", api.not_found)
    return app


def _clock(
    faults: Faults,
) -> Callable[[web.BaseRequest, web.StreamResponse], Awaitable[None]]:
    """A response hook writing ``Date`` from the gateway's clock (``clock_offset_s``)."""

    async def date_header(request: web.BaseRequest, response: web.StreamResponse) -> None:
        # aiohttp writes the machine's time unless Date is set already.
        if faults.clock_offset_s:
            moment = time.time() + faults.clock_offset_s
            response.headers["Date"] = formatdate(moment, usegmt=True)

    return date_header


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024)


class _Controls:
    """The control endpoints on the Python object (the backend is shared, so both agree)."""

    backend: Backend

    @property
    def faults(self) -> Faults:
        """The live fault knobs; change attributes or call :meth:`set_faults`."""
        return self.backend.faults

    def set_faults(self, **changes: Any) -> None:
        """Apply a partial update to the knobs, validated as ``PATCH /_sim/faults`` does."""
        self.faults.update(changes)

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers (money as Decimal)."""
        return self.backend.snapshot()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers."""
        return self.backend.stats()

    def topup(self, amount: Decimal | str) -> Decimal:
        """Add credit; return the new balance."""
        return self.backend.topup(Decimal(amount))

    def reset(self, *, keep_faults: bool = False) -> None:
        """Forget all state (and the knobs unless ``keep_faults``)."""
        self.backend.reset(keep_faults=keep_faults)


class AsyncSimulatorServer(_Controls):
    """The simulator inside the running event loop: ``async with AsyncSimulatorServer() as sim``.

    Binds ``host``:``port`` (port 0: a free one). With ``state_path`` the state is loaded at start
    (if the file exists) and saved at stop. ``api_key`` fixes the one key accepted.
    """

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        backend: Backend | None = None,
        state_path: Path | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if backend is None:
            backend = Backend(faults, api_key=api_key)
        else:
            if faults is not None and faults is not backend.faults:
                raise ValueError("pass faults or a backend with its faults, not both")
            if api_key is not None:
                backend.api_key = api_key
        self.backend = backend
        self.state_path = Path(state_path) if state_path is not None else None
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._dispatcher: Dispatcher | None = None

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``: the control endpoints are under ``/_sim``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api``: plays ``https://gateway.seven.io/api``."""
        return self.root_url + API_PREFIX

    async def start(self) -> Self:
        """Load the state file if any, then listen; ``port`` becomes the bound port."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        if self.state_path is not None:
            self.backend.load(self.state_path)
        runner = web.AppRunner(
            create_app(self.backend, self.state_path),
            access_log=None,
            handle_signals=False,
            # Open keep-alive connections must not hold a stop up for aiohttp's default 60 s.
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            sock = _listen(self.host, self.port)
            self.port = sock.getsockname()[1]
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._dispatcher = Dispatcher(self.backend)
        self._dispatcher.start()
        return self

    async def stop(self) -> None:
        """Stop listening, close connections, save the state file if any."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None:
            await dispatcher.stop()
        try:
            await runner.cleanup()
        finally:
            if self.state_path is not None:
                self.backend.save(self.state_path)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class SimulatorServer(_Controls):
    """The simulator on 127.0.0.1 in a daemon thread with its own loop: ``with SimulatorServer()``.

    Same arguments as :class:`AsyncSimulatorServer`; ``base_url`` plays seven's
    ``https://gateway.seven.io/api``, ``root_url`` hosts ``/_sim``; ``backend`` and ``faults``
    are live (change knobs while it serves).
    """

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        backend: Backend | None = None,
        state_path: Path | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._server = AsyncSimulatorServer(
            faults, backend=backend, state_path=state_path, api_key=api_key, host=host, port=port
        )
        self.backend = self._server.backend
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api``."""
        return self._server.base_url

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self._server.root_url

    @property
    def port(self) -> int:
        """The bound port (after start)."""
        return self._server.port

    def start(self) -> Self:
        """Start serving; return once the port is bound (or raise what the start raised)."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        self._errors = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                try:
                    loop.run_until_complete(self._server.start())
                except BaseException as exc:
                    self._errors.append(exc)
                    return
                finally:
                    started.set()
                loop.run_forever()
                try:
                    loop.run_until_complete(self._server.stop())
                except BaseException as exc:
                    self._errors.append(exc)
                _cancel_leftovers(loop)
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="rcsbatch-simulator", daemon=True)
        thread.start()
        started.wait()
        if self._errors:
            thread.join()
            raise self._errors[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving, save the state file if any; re-raise an error from stopping."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        if self._errors:
            raise self._errors[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())


def serve(
    host: str,
    port: int,
    faults: Faults,
    state_path: Path | None,
    api_key: str | None = None,
    *,
    ready: Callable[[str], None] | None = None,
    stop_on_signals: bool = True,
) -> None:
    """Serve until SIGINT or SIGTERM, then close connections and save the state file.

    Without `stop_on_signals` (a library call: no handlers installed) it serves until a
    KeyboardInterrupt or a cancellation, which goes on to the caller once it has saved.

    ``ready`` is called with the base URL (``http://HOST:PORT/api``) once listening, so a caller
    passing port 0 learns the port. The account's price and starting balance are the knobs
    ``faults.price`` and ``faults.balance``. Raises OSError when the port cannot be bound and
    ValueError when the state file is unreadable.
    """
    backend = Backend(faults, api_key=api_key)
    run_sync(_serve(host, port, backend, state_path, ready, stop_on_signals))


async def _serve(
    host: str,
    port: int,
    backend: Backend,
    state_path: Path | None,
    ready: Callable[[str], None] | None,
    stop_on_signals: bool,
) -> None:
    server = AsyncSimulatorServer(backend=backend, state_path=state_path, host=host, port=port)
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM) if stop_on_signals else ():
        # Only the main thread may install handlers; elsewhere KeyboardInterrupt still ends it.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        if ready is not None:
            ready(server.base_url)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.stop()
