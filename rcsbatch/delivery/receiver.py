"""The webhook receiver: seven posts delivery reports, the receiver checks them and stores them in
the campaign's journal.

It answers on any path and method (seven calls the URL it was given, with POST, or GET for hooks
registered with ``request_method`` GET):

=====  =================================================================================
2xx    stored, or nothing to store: a report about a message this campaign does not know
       (webhooks are per account) is kept aside in the journal's ``stray_reports``, an event
       that is not about delivery (an inbound message, a click) is dropped
2xx    signed, but not a body we can read (not JSON, nested too deeply, an unexpected
       shape): kept raw among the stray reports, since seven may not retry a 4xx and the
       report would be lost
401    no signature (refused before the body is read), a wrong one, or a timestamp more than
       ``max_age`` seconds from now
400    unsigned and unreadable, with ``--insecure-no-signature`` (nobody vouches for it)
408    the body did not arrive within ``body_timeout`` seconds; the connection is closed
503    the journal could not take it in time (seven retries on 5xx)
=====  =================================================================================

Connections are bounded in time, so idle or slow clients cannot pile up: one that has not sent a
whole request head within ``idle_timeout`` seconds of opening (or of its last answer) is closed,
and a request whose body takes longer than ``body_timeout`` is cut off. seven sends at once and
wants its answer within 5 s, so neither bound touches it. A client that goes away mid-request is
one line in the log, never a traceback.

seven wants an answer within 5 s and retries up to 14 times over days, so storing is idempotent
(`Journal.record_delivery`: the same report twice, or an older one late, changes nothing) and a
request waits at most ``answer_within`` seconds for the journal. The journal is written from one
thread of its own, so a `run` of the same campaign writing at the same time only makes a report
wait (SQLite WAL with a busy timeout), never blocks the server. A replayed request is harmless:
within ``max_age`` it stores nothing new, after it is refused as stale.

A report can overtake the answer that tells the run its message id; such a report lands among the
strays and is applied once the id is recorded (`Journal.adopt_strays`, every few seconds).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import signal
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import ClientPayloadError, web

from rcsbatch.delivery.webhook import MAX_AGE, parse_reports, signature_headers, verify
from rcsbatch.engine.loop import run_sync
from rcsbatch.errors import InputError, ReportFormatError, SignatureError
from rcsbatch.state.journal import Journal

SIGNING_KEY_ENV = "SEVEN_SIGNING_KEY"
ANSWER_WITHIN = 4.0  # seconds: seven gives up on an answer after 5
# A connection without a whole request head for this long is closed. seven sends at once; this
# only keeps a short keep-alive for it and sheds idle or header-dripping clients.
IDLE_TIMEOUT = 10.0
# A body must arrive this soon after its headers: seven's answer is due within 5 s of sending.
BODY_TIMEOUT = 3.0
BACKLOG = 512  # pending connections the kernel holds for us: a burst of retries, not an error
ADOPT_EVERY = 2.0  # seconds between looks for stray reports whose id is now known

log = logging.getLogger("rcsbatch.receiver")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ReceiverSettings:
    """How the receiver checks requests. `signing_key` None: it does not (never the default).

    `public_url` is the URL seven calls when a proxy in front changes it; its scheme, host and
    path stand in for what the receiver sees, and each request's query string is kept as sent.
    """

    signing_key: str | None = field(repr=False)
    public_url: str | None = None
    max_age: float = MAX_AGE
    answer_within: float = ANSWER_WITHIN
    adopt_every: float = ADOPT_EVERY
    idle_timeout: float = IDLE_TIMEOUT
    body_timeout: float = BODY_TIMEOUT

    def __post_init__(self) -> None:
        if self.signing_key is not None and not self.signing_key.strip():
            raise InputError(f"the signing key is empty: set {SIGNING_KEY_ENV}")
        for name in ("idle_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be more than 0 seconds")
        if self.public_url is not None:
            check_public_url(self.public_url)


def check_public_url(url: str) -> str:
    """`url` when it can stand for the URL seven calls; InputError saying why not otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"public URL {url!r} is not an http(s) URL", option="public_url")
    if parts.query or parts.fragment:
        raise InputError(
            f"public URL {url!r}: leave out the query string; each request's own query "
            "string (the one seven called) is used as it arrives",
            option="public_url",
        )
    return url


class Receiver:
    """The receiver of one campaign's journal: `await start(host, port)`, `await stop()`."""

    def __init__(self, journal_path: Path, settings: ReceiverSettings) -> None:
        self.journal_path = journal_path
        self.settings = settings
        self.host = "127.0.0.1"
        self.port = 0
        self.counts: dict[str, int] = {}
        self._journal: Journal | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._runner: web.AppRunner | None = None
        self._adopter: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT/``: where it listens."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def app(self) -> web.Application:
        """The aiohttp application: one handler for every path and method."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Open the journal (ReportError if it cannot be used), then listen; port 0: a free one."""
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="rcsbatch-journal"
        )
        loop = asyncio.get_running_loop()
        try:
            self._journal = await loop.run_in_executor(self._executor, Journal, self.journal_path)
            # lingering_time 0: a body cut off is not waited for once more after the answer.
            runner = web.AppRunner(
                self.app(),
                access_log=None,
                handle_signals=False,
                shutdown_timeout=1.0,
                keepalive_timeout=self.settings.idle_timeout,
                lingering_time=0,
            )
            await runner.setup()
            try:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
                self.host, self.port = host, sock.getsockname()[1]
                await web.SockSite(runner, sock).start()
            except BaseException:
                await runner.cleanup()
                raise
        except BaseException:
            await self._close_journal()
            raise
        self._runner = runner
        self._adopter = asyncio.create_task(self._adopt_loop())
        return self

    async def stop(self) -> None:
        """Stop listening, let stores under way finish, close the journal."""
        runner, self._runner = self._runner, None
        if self._adopter is not None:
            self._adopter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._adopter
            self._adopter = None
        if runner is not None:
            await runner.cleanup()
        await self._close_journal()

    async def __aenter__(self) -> Self:
        return await self.start(self.host, self.port)

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _close_journal(self) -> None:
        executor, self._executor = self._executor, None
        journal, self._journal = self._journal, None
        if executor is None:
            return
        if journal is not None:
            await asyncio.get_running_loop().run_in_executor(executor, journal.close)
        executor.shutdown(wait=True)

    def full_url(self, request: web.BaseRequest) -> str:
        """The URL seven called, as it signed it: the public URL when set, the query as sent."""
        path, sep, query = request.raw_path.partition("?")
        public = self.settings.public_url
        base = public if public is not None else f"{request.scheme}://{request.host}{path}"
        return base + sep + query

    async def handle(self, request: web.Request) -> web.Response:
        """Check, read and store one webhook request; see the module's table for the answers."""
        key = self.settings.signing_key
        if key is not None:
            try:
                signature_headers(request.headers)
            except SignatureError as exc:
                return self._refuse(request, exc, force_close=True)
        try:
            async with asyncio.timeout(self.settings.body_timeout):
                body = await request.read()
        except TimeoutError:
            self._count("too_slow")
            log.warning(
                "cut off a request from %s: its body took more than %g s",
                request.remote,
                self.settings.body_timeout,
            )
            answer = _answer(408, {"error": "the body came too slowly"})
            answer.force_close()
            return answer
        except (ConnectionError, ClientPayloadError) as exc:
            self._count("cut_short")
            log.info("a request from %s ended before its body did (%s)", request.remote, exc)
            return _answer(400, {"error": "the request ended early"})
        if key is not None:
            try:
                verify(
                    request.headers,
                    request.method,
                    self.full_url(request),
                    body,
                    key,
                    time.time(),
                    self.settings.max_age,
                )
            except SignatureError as exc:
                return self._refuse(request, exc)
        query = request.raw_path.partition("?")[2]
        try:
            reports = parse_reports(body, request.headers.get("Content-Type", ""), query)
        except ReportFormatError as exc:
            if key is None:
                self._count("malformed")
                log.warning("an unsigned webhook that is not a report: %s", exc)
                return _answer(400, {"error": str(exc)})
            return await self._keep_raw(body, str(exc))
        if not reports:
            self._count("ignored")
            return _answer(200, {"ignored": True})
        journal = self._journal
        assert journal is not None
        payload = body.decode("utf-8", "replace")
        received_at = time.time()

        def store() -> list[str]:
            return [
                journal.record_delivery(
                    r.msg_id, r.state, r.state_at, received_at=received_at, payload=payload
                )
                for r in reports
            ]

        try:
            verdicts = await self._in_journal(store)
        except (TimeoutError, sqlite3.Error) as exc:
            return self._busy(exc)
        tally = {v: verdicts.count(v) for v in set(verdicts)}
        for verdict, n in tally.items():
            self._count(verdict, n)
        log.info("reports: %s", ", ".join(f"{n} {v}" for v, n in sorted(tally.items())))
        return _answer(200, tally)

    def _refuse(
        self, request: web.Request, exc: SignatureError, *, force_close: bool = False
    ) -> web.Response:
        self._count(f"refused_{exc.kind}")
        log.warning("refused a webhook from %s: %s", request.remote, exc)
        answer = _answer(401, {"error": str(exc)})
        if force_close:  # its body was never read: the connection cannot carry another request
            answer.force_close()
        return answer

    async def _keep_raw(self, body: bytes, why: str) -> web.Response:
        """A signed body that is no report we can read: kept raw, answered 2xx so seven does not
        give up on it somewhere we never see (it may not retry a 4xx)."""
        journal = self._journal
        assert journal is not None
        received_at = time.time()
        try:
            verdict = await self._in_journal(
                lambda: journal.record_unreadable(body, why, received_at=received_at)
            )
        except (TimeoutError, sqlite3.Error) as exc:
            return self._busy(exc)
        self._count("unreadable")
        log.warning("a signed webhook that is not a report, kept raw in the journal: %s", why)
        return _answer(200, {verdict: 1})

    def _busy(self, exc: BaseException) -> web.Response:
        self._count("busy")
        log.warning("the journal could not take a report in time (%s); seven retries", exc)
        return _answer(503, {"error": "the journal is busy; try again"})

    async def _in_journal(self, work: Callable[[], _T]) -> _T:
        """`work` on the journal's thread, waited for at most ``answer_within`` seconds."""
        if self._executor is None:
            raise TimeoutError("the receiver is stopping")
        future = asyncio.get_running_loop().run_in_executor(self._executor, work)
        # Whoever stops waiting leaves the outcome to this callback, so a late failure is one
        # log line rather than asyncio's "exception was never retrieved" traceback.
        future.add_done_callback(_late_failure)
        # The store goes on if the answer cannot wait for it (idempotent: seven's retry finds it).
        return await asyncio.wait_for(asyncio.shield(future), self.settings.answer_within)

    async def _adopt_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.adopt_every)
            journal, executor = self._journal, self._executor
            if journal is None or executor is None:
                return
            try:
                adopted = await loop.run_in_executor(executor, journal.adopt_strays)
            except sqlite3.Error as exc:
                log.warning("could not look at the stray reports: %s", exc)
                continue
            if adopted:
                self._count("adopted", adopted)

    def _count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def _late_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.debug("a journal write ended in %r", future.exception())


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


class ReceiverServer:
    """A `Receiver` serving from a daemon thread with its own loop: ``with ReceiverServer(…)``."""

    def __init__(
        self,
        journal_path: Path,
        settings: ReceiverSettings,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.receiver = Receiver(journal_path, settings)
        self._where = (host, port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT/``."""
        return self.receiver.url

    def start(self) -> Self:
        """Serve; return once listening (or raise what the start raised)."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                try:
                    loop.run_until_complete(self.receiver.start(*self._where))
                except BaseException as exc:
                    errors.append(exc)
                    return
                finally:
                    started.set()
                loop.run_forever()
                loop.run_until_complete(self.receiver.stop())
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="rcsbatch-receiver", daemon=True)
        thread.start()
        started.wait()
        if errors:
            thread.join()
            raise errors[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the journal."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    journal_path: Path,
    settings: ReceiverSettings,
    host: str,
    port: int,
    *,
    ready: Callable[[Receiver], None] | None = None,
    stop_on_signals: bool = True,
) -> dict[str, int]:
    """Serve until SIGINT or SIGTERM; return the counts of what it answered.

    Without `stop_on_signals` (a library call: no handlers installed) it serves until a
    KeyboardInterrupt or a cancellation, which goes on to the caller once it has closed.
    Raises OSError when the port cannot be bound, ReportError when the journal cannot be used.
    """
    return run_sync(_serve(journal_path, settings, host, port, ready, stop_on_signals))


async def _serve(
    journal_path: Path,
    settings: ReceiverSettings,
    host: str,
    port: int,
    ready: Callable[[Receiver], None] | None,
    stop_on_signals: bool,
) -> dict[str, int]:
    receiver = await Receiver(journal_path, settings).start(host, port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM) if stop_on_signals else ():
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        if ready is not None:
            ready(receiver)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await receiver.stop()
    return dict(receiver.counts)
