"""The simulator posting delivery reports to registered webhooks, signed as seven signs them.

This is a second, independent implementation of seven's webhook format (it shares no code with
``rcsbatch.delivery.webhook``), written from seven-gateway.md, so a loop through the simulator
really tests the receiver: ``X-Signature`` is the hex HMAC-SHA256 (the account's signing key) of
``timestamp, nonce, METHOD, full URL, md5 of the body`` joined by newlines. Reports go in the
documented envelope: as JSON (``request_method`` JSON), form-encoded with ``data[...]`` fields
(POST) or in the query string (GET). A report is tried again on 429, 5xx, a timeout or a connection
error, up to ``webhook_attempts`` times, ``webhook_retry_s`` apart, and signed anew each time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from .backend import GATEWAY_TZ, Backend

TICK_S = 0.05
TIMEOUT_S = 5.0  # seven waits this long for an answer


def sign(key: str, timestamp: str, nonce: str, method: str, url: str, body: bytes) -> str:
    """seven's signature of one webhook request (see the module docstring)."""
    lines = [timestamp, nonce, method, url, hashlib.md5(body).hexdigest()]
    return hmac.new(key.encode("utf-8"), "\n".join(lines).encode("utf-8"), "sha256").hexdigest()


def envelope(report: dict[str, Any], now: float) -> dict[str, Any]:
    """The documented envelope: ISO 8601 with offset outside, Berlin wall time inside."""
    data = {
        "msg_id": report["msg_id"],
        "status": report["status"],
        "timestamp": datetime.fromtimestamp(report["at"], GATEWAY_TZ).strftime(
            "%Y-%m-%d %H:%M:%S.%f"
        ),
    }
    if report.get("foreign_id"):
        data["foreign_id"] = report["foreign_id"]
    return {
        "webhook_event": "dlr",
        "webhook_timestamp": datetime.fromtimestamp(now, GATEWAY_TZ).isoformat(timespec="seconds"),
        "data": data,
    }


def request_for(report: dict[str, Any], now: float) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, url, body, headers but the signature's) for a report to its hook's URL."""
    env = envelope(report, now)
    url = str(report["target_url"])
    kind = report["request_method"]
    if kind == "JSON":
        return "POST", url, json.dumps(env).encode(), {"Content-Type": "application/json"}
    fields = [
        ("webhook_event", env["webhook_event"]),
        ("webhook_timestamp", env["webhook_timestamp"]),
    ]
    fields += [(f"data[{k}]", str(v)) for k, v in env["data"].items()]
    form = urlencode(fields)
    if kind == "GET":
        return "GET", url + ("&" if "?" in url else "?") + form, b"", {}
    return "POST", url, form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}


class Dispatcher:
    """Posts due reports from the backend while the server runs; `start()` / `await stop()`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._session: aiohttp.ClientSession | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._posts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        tasks = [t for t in (self._ticker, *self._posts) if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ticker = None
        self._posts.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _tick(self) -> None:
        while True:
            for report in self.backend.due_webhooks(time.time()):
                task = asyncio.create_task(self._post(report))
                self._posts.add(task)
                task.add_done_callback(self._posts.discard)
            await asyncio.sleep(TICK_S)

    async def _post(self, report: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        faults = self.backend.faults
        for attempt in range(1, max(1, faults.webhook_attempts) + 1):
            # Every timestamp a report carries is read off the gateway's clock.
            now = time.time() + faults.clock_offset_s
            shown = {**report, "at": report["at"] + faults.clock_offset_s}
            method, url, body, headers = request_for(shown, now)
            timestamp, nonce = str(int(now)), secrets.token_hex(16)
            headers = {
                **headers,
                "X-Timestamp": timestamp,
                "X-Nonce": nonce,
                "X-Signature": sign(self.backend.signing_key, timestamp, nonce, method, url, body),
            }
            status: int | None = None
            error: str | None = None
            try:
                # encoded=True: the URL goes exactly as signed, not re-quoted.
                target = URL(url, encoded=True)
                async with self._session.request(method, target, data=body, headers=headers) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = type(exc).__name__
            self.backend.log_webhook(
                {
                    "hook": report["hook"],
                    "msg_id": report["msg_id"],
                    "status": report["status"],
                    "attempt": attempt,
                    "http_status": status,
                    "error": error,
                }
            )
            if status is not None and status != 429 and status < 500:
                return  # answered: 2xx taken, any other 4xx not retried (as seven)
            if attempt < faults.webhook_attempts:
                await asyncio.sleep(faults.webhook_retry_s)
