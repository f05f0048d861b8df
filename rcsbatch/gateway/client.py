"""The gateway client: one httpx client per command, speaking seven's HTTP API.

Requests carry `X-Api-Key` and JSON bodies (as seven's official JS client sends them). Transport
errors become `GatewayError` kinds by whether the request may have reached the gateway: a refused
connection is retriable, a dropped or timed-out one after the request left is a lost answer.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from rcsbatch import __version__
from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RecipientRefusedError,
    RetriableError,
)
from rcsbatch.gateway.answers import (
    ACCOUNT_CODES,
    Accepted,
    raise_for_status,
    read_send_answer,
    retry_after,
    to_decimal,
)
from rcsbatch.gateway.request import send_body
from rcsbatch.gateway.transport import AiohttpTransport

DEFAULT_BASE_URL = "https://gateway.seven.io/api"
TRACE_HEADER = "x-sms77-trace-id"


@dataclass(frozen=True)
class Balance:
    """The account's balance as the gateway reports it."""

    amount: Decimal
    currency: str


class GatewayClient:
    """An async client for seven's gateway; use as `async with GatewayClient(...) as client`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_connections: int = 100,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        # (left, answered, the gateway's Date) of answers other than sends: the gateway's clock
        # measured against ours (engine/settle.py reads the logbook's times with it).
        self.clock_samples: list[tuple[float, float, float]] = []
        self._send_url = httpx.URL(self.base_url + "/rcs/messages")
        self._headers = httpx.Headers(
            {
                "X-Api-Key": api_key,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"rcsbatch/{__version__}",
            }
        )
        # A request ends within `timeout` of its start: settling counts on a lost answer's
        # request being accepted no later (engine/settle.py). Waiting for a connection and
        # connecting take at most a third of it (10 s at most), the answer the rest: it comes in one
        # or two reads, each bounded (an answer trickling in over many reads is not bounded).
        connecting = min(timeout / 3, 10.0)
        self._extensions = {
            "timeout": httpx.Timeout(
                timeout - connecting, connect=connecting, pool=connecting
            ).as_dict()
        }
        # A send's headers but its Content-Length, in the order httpx.Request writes them.
        self._send_headers = httpx.Headers([(b"Host", self._send_url.netloc), *self._headers.raw])
        # Requests go straight to the transport: httpx.AsyncClient's per-request machinery
        # (auth, cookies, redirects, hooks) costs more than the rest of the send path together,
        # and a gateway client needs none of it. The benchmark records the comparison.
        self._transport = transport or AiohttpTransport(max_connections=max_connections)

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._transport.aclose()

    def __repr__(self) -> str:  # never show the key
        return f"GatewayClient({self.base_url!r})"

    async def send(self, params: dict[str, Any], recipient: str) -> Accepted:
        """POST one message; return what was accepted or raise the fitting GatewayError."""
        body = send_body(params)
        response = await self._request(self._send_request(body))
        try:
            return read_send_answer(
                response.status_code, response.headers, response.content, recipient
            )
        except GatewayError as exc:
            exc.trace_id = response.headers.get(TRACE_HEADER)
            raise

    async def balance(self) -> Balance:
        """GET /balance."""
        url = httpx.URL(self.base_url + "/balance")
        response = await self._request(
            httpx.Request("GET", url, headers=self._headers, extensions=self._extensions),
            measure=True,
        )
        data = self._json(response)
        if isinstance(data, dict) and to_decimal(data.get("amount")) is not None:
            return Balance(
                to_decimal(data["amount"]) or Decimal(0), str(data.get("currency") or "EUR")
            )
        number = to_decimal(data)
        if number is None or (isinstance(data, (int, str)) and str(data).strip() in ("900", "902")):
            raise AccountError("the gateway refused the API key: check SEVEN_API_KEY", code="900")
        return Balance(number, "EUR")

    async def logbook(self, query: dict[str, str | int]) -> list[dict[str, Any]]:
        """GET /journal/outbound (the logbook) with `query`; one page of rows.

        An account code (900, …) raises AccountError; another code or an unreadable answer
        raises AnswerLostError, so the caller leaves its rows unsettled rather than guess.
        """
        url = httpx.URL(self.base_url + "/journal/outbound", params=query)
        response = await self._request(
            httpx.Request("GET", url, headers=self._headers, extensions=self._extensions),
            measure=True,
        )
        data = self._json(response)
        if isinstance(data, list):
            return [entry for entry in data if isinstance(entry, dict)]
        code = str(data).strip().strip('"')
        if code in ACCOUNT_CODES:
            raise AccountError(ACCOUNT_CODES[code], code=code)
        raise AnswerLostError(f"the logbook answered {code[:40]!r}", code=code[:10] or None)

    async def add_hook(self, target_url: str, event_type: str, request_method: str) -> str:
        """POST /hooks: have seven call `target_url` for `event_type`; return the hook's id."""
        body = {
            "target_url": target_url,
            "event_type": event_type,
            "request_method": request_method,
        }
        data = await self._hooks_call("POST", content=json.dumps(body).encode())
        if isinstance(data, dict) and data.get("success") in (True, "true", 1, "1"):
            return str(data.get("id"))
        raise GatewayError(
            "the gateway refused the webhook (is the URL reachable over http(s), and the event "
            f"type one seven knows?): {json.dumps(data, default=str)[:200]}"
        )

    async def hooks(self) -> list[dict[str, Any]]:
        """GET /hooks: the account's webhooks."""
        data = await self._hooks_call("GET")
        if isinstance(data, dict) and isinstance(data.get("hooks"), list):
            return [h for h in data["hooks"] if isinstance(h, dict)]
        raise GatewayError(f"unreadable list of webhooks: {json.dumps(data, default=str)[:200]}")

    async def remove_hook(self, hook_id: str) -> bool:
        """DELETE /hooks?id=…; False when the gateway has no such hook."""
        data = await self._hooks_call("DELETE", params={"id": hook_id})
        return isinstance(data, dict) and data.get("success") in (True, "true", 1, "1")

    async def revoke(self, msg_id: str) -> bool:
        """DELETE /rcs/messages/{id}: ask the gateway to delete a message not delivered yet.

        seven answers `{"success": true}` whether or not anything was deleted, so True only says
        the request was taken; False: the gateway said `false`. A DELETE may be repeated without
        harm, so every failure that leaves the outcome open (5xx, an unreadable body, a
        dropped connection) is a RetriableError; account codes raise AccountError.
        """
        url = httpx.URL(self.base_url + "/rcs/messages/" + urllib.parse.quote(msg_id, safe=""))
        request = httpx.Request("DELETE", url, headers=self._headers, extensions=self._extensions)
        try:
            response = await self._request(request)
        except AnswerLostError as exc:
            raise RetriableError(str(exc), code=exc.code) from exc
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise RetriableError(
                f"the gateway answered HTTP {response.status_code}",
                code=str(response.status_code),
                retry_after=retry_after(response.headers),
            )
        data = self._json(response)
        code = data.get("success") if isinstance(data, dict) else data
        if isinstance(code, bool):
            return code
        code = str(code).strip().strip('"')
        if code in ACCOUNT_CODES:
            raise AccountError(ACCOUNT_CODES[code], code=code)
        if code.lower() in ("true", "1", "100"):
            return True
        if code.lower() in ("false", "0"):
            return False
        raise RetriableError(f"unreadable answer to a revoke: {code[:40]!r}")

    async def agents(self) -> list[dict[str, Any]]:
        """GET /rcs/agents: the account's RCS agents (id, display_name, status, …)."""
        url = httpx.URL(self.base_url + "/rcs/agents")
        response = await self._request(
            httpx.Request("GET", url, headers=self._headers, extensions=self._extensions)
        )
        data = self._json(response)
        if isinstance(data, dict) and isinstance(data.get("agents"), list):
            return [a for a in data["agents"] if isinstance(a, dict)]
        code = str(data.get("success") if isinstance(data, dict) else data).strip().strip('"')
        if code in ACCOUNT_CODES:
            raise AccountError(ACCOUNT_CODES[code], code=code)
        raise GatewayError(f"unreadable list of agents: {json.dumps(data, default=str)[:200]}")

    async def event(self, params: dict[str, str]) -> None:
        """POST /rcs/events (`event` plus `to` or `msg_id`, maybe `from`); return when accepted.

        Raises RetriableError (429, 503 with Retry-After, unreachable), AccountError (a refused
        key, 900-903), RecipientRefusedError (`{"success": false}` or another code: refused) or
        AnswerLostError (5xx, an unreadable answer: it may have arrived).
        """
        url = httpx.URL(self.base_url + "/rcs/events")
        data = await self._checked_call("POST", url, json.dumps(params).encode())
        success = data.get("success") if isinstance(data, dict) else data
        if success is True or str(success).strip().lower() in ("true", "1", "100"):
            return
        code = str(success).strip().strip('"')
        if code in ACCOUNT_CODES and code != "500":
            raise AccountError(ACCOUNT_CODES[code], code=code)
        if isinstance(data, dict) or code.isdigit():
            raise RecipientRefusedError(
                "the gateway refused the event (success false: an unknown number or "
                "message id, or an agent that may not send to it)",
                code=None if not code.isdigit() else code,
            )
        raise AnswerLostError(f"the gateway answered {code[:40]!r}")

    async def lookup(self, numbers: list[str]) -> list[dict[str, Any]]:
        """GET /lookup/rcs?number=A,B,… (billed per number): one object per number.

        Errors as for `event`; 500 (no credit) is an AccountError here, since nothing more can
        be looked up.
        """
        url = httpx.URL(self.base_url + "/lookup/rcs", params={"number": ",".join(numbers)})
        data = await self._checked_call("GET", url, None)
        if isinstance(data, dict) and isinstance(data.get("number"), str):
            data = [data]  # a lookup of one number may come as an object, not a list
        if isinstance(data, list):
            return [row for row in data if isinstance(row, dict)]
        code = str(data.get("success") if isinstance(data, dict) else data).strip().strip('"')
        if code in ACCOUNT_CODES:
            raise AccountError(ACCOUNT_CODES[code], code=code)
        raise AnswerLostError(f"the lookup answered {code[:40]!r}", code=code[:10] or None)

    async def _checked_call(self, method: str, url: httpx.URL, content: bytes | None) -> Any:
        """One request; a non-200 status raised as the send path reads it (429/503 retriable,
        401/403 account, other 5xx lost), else the parsed body."""
        response = await self._request(
            httpx.Request(
                method, url, headers=self._headers, content=content, extensions=self._extensions
            )
        )
        try:
            if response.status_code != 200:
                raise_for_status(response.status_code, response.headers)
            return self._json(response)
        except GatewayError as exc:
            exc.trace_id = response.headers.get(TRACE_HEADER)
            raise

    async def _hooks_call(
        self, method: str, *, content: bytes | None = None, params: dict[str, str] | None = None
    ) -> Any:
        url = httpx.URL(self.base_url + "/hooks", params=params)
        response = await self._request(
            httpx.Request(
                method, url, headers=self._headers, content=content, extensions=self._extensions
            )
        )
        data = self._json(response)
        code = data.get("success") if isinstance(data, dict) else data
        code = str(code).strip().strip('"')
        if code == "902":
            raise AccountError(
                "the API key lacks the right to manage webhooks: enable it for this key in "
                "seven's dashboard",
                code=code,
            )
        if code in ("900", "901", "903"):
            raise AccountError(ACCOUNT_CODES[code], code=code)
        return data

    def _send_request(self, body: bytes) -> httpx.Request:
        """The request `httpx.Request("POST", url, headers=..., content=body)` builds, cheaper.

        `content=` runs httpx's request encoding (body type checks, a multipart boundary lookup,
        headers set one by one), ~5 µs of the ~8 µs a request cost. With `stream=` httpx adds no
        headers of its own, so Host and Content-Length are written here as httpx would write them.
        """
        headers = httpx.Headers(self._send_headers)
        headers["Content-Length"] = str(len(body))
        request = httpx.Request(
            "POST",
            self._send_url,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions=self._extensions,
        )
        request.read()  # request.content, as content= sets it
        return request

    def clock_offset(self) -> tuple[float, float] | None:
        """How far the gateway's clock is ahead of ours, as (least, most) seconds, from the
        `Date` headers of its answers; None before any answer carried one.

        A Date names a whole second, and the answer was made between the moment the request
        left and the moment the answer came: each sample bounds the offset, and together they
        bound it as tightly as their intersection (their union if they disagree, e.g. after a
        clock step)."""
        if not self.clock_samples:
            return None
        bounds = [(date - answered, date + 1 - left) for left, answered, date in self.clock_samples]
        least = max(lo for lo, _ in bounds)
        most = min(hi for _, hi in bounds)
        if least > most:
            least, most = min(lo for lo, _ in bounds), max(hi for _, hi in bounds)
        return least, most

    async def _request(self, request: httpx.Request, *, measure: bool = False) -> httpx.Response:
        left = self.clock() if measure else 0.0
        try:
            response = await self._transport.handle_async_request(request)
            await response.aread()
            if measure:
                self._sample_clock(left, response)
            return response
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RetriableError(f"cannot reach the gateway ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise AnswerLostError(
                f"the connection failed after the request left ({type(exc).__name__})"
            ) from exc

    def _sample_clock(self, left: float, response: httpx.Response) -> None:
        date = response.headers.get("date")
        if not date:
            return
        try:
            moment = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if moment.tzinfo is None:
            return  # not the HTTP-date form (GMT): nothing to measure with
        samples = self.clock_samples
        samples.append((left, self.clock(), moment.timestamp()))
        if len(samples) > 64:
            del samples[: len(samples) - 64]

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code != 200:
            raise AnswerLostError(
                f"the gateway answered HTTP {response.status_code}", code=str(response.status_code)
            )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            return response.text.strip()
