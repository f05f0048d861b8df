"""The simulated gateway's state and rules, without HTTP.

:class:`Backend` is the one fake seven account both faces use (in-process tests and the standalone
server): balance, the messages it accepted (the ground truth tests compare against), the logbook
shown as a view of those messages, agents, lookups, hooks and events. Its methods take request
parameters as plain mappings and return plain values; ``server.py`` turns them into HTTP.

The logbook is rendered when it is read, through the knobs of the moment (its zone, the gateway's
clock offset, lag, text renderings), so a test can change how it looks without resending. Messages
keep machine time and the text as sent; only what the gateway shows moves.

Every public method holds one lock, so a test thread may read or change the backend while the
server thread serves requests. Money is :class:`decimal.Decimal` throughout.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import math
import os
import random
import re
import secrets
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rcsbatch.state import privacy

from . import numbers, rich
from .faults import Faults

FIRST_MESSAGE_ID = 77233319353
#: What one number in ``GET /lookup/rcs`` costs (seven bills lookups; the amount is made up).
DEFAULT_LOOKUP_PRICE = Decimal("0.0050")
DEFAULT_TTL_MINUTES = 2880
#: seven's gateway runs on German time: a ``delay`` written as ``YYYY-MM-DD hh:mm[:ss]``, webhook
#: timestamps, hooks' ``created`` and analytics days use it. The logbook's zone is the
#: ``logbook_tz`` knob (Berlin by default; unconfirmed upstream).
GATEWAY_TZ = ZoneInfo("Europe/Berlin")
JOURNAL_MAX_LIMIT = 100
#: The account's webhook signing key until ``PATCH /_sim/account`` sets another.
DEFAULT_SIGNING_KEY = "simulated-signing-key"
#: 2 added each message's ``lag_jitter`` and ``injected``; version 1 files still load.
STATE_VERSION = 2
_READABLE_VERSIONS = frozenset({1, 2})
#: A logbook lane this short is filtered by walking it; a longer one gets a :class:`_Timeline`.
_SHORT_LANE = 64
#: Where the ``tracked_links`` rendering points shortened links.
SHORT_LINK_BASE = "https://s.seven.io/"


class _Everyone:
    """Every number: what a launched agent may message."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERYONE = _Everyone()

DEFAULT_AGENTS: tuple[dict[str, Any], ...] = (
    {
        "id": "myfancyagent",
        "display_name": "My Fancy Agent",
        "status": "launched",
        "logo_url": "https://static.seven.io/rcs/myfancyagent.png",
        "created": "2024-05-02 10:15:00",
        "is_generic": False,
    },
    {
        "id": "testagent",
        "display_name": "Test Agent",
        "status": "test",
        # seven: "you can only use the test numbers stored for the agent".
        "test_numbers": ["4915112345678", "4917600000001"],
        "logo_url": "https://static.seven.io/rcs/testagent.png",
        "created": "2024-06-11 08:00:00",
        "is_generic": False,
    },
)

ERROR_TEXTS = {
    "201": "Sender invalid",
    "202": "Recipient number invalid",
    "301": "Variable to not set",
    "305": "Variable text not set or invalid",
    "401": "Text too long",
    "402": "Reload lock: same text to this number within 180 seconds",
    "403": "Daily limit for this recipient reached",
    "500": "Insufficient credit",
    "600": "Carrier error while sending",
    "700": "Unknown error",
    "802": "Label invalid",
    "900": "Invalid API key",
}

_LABEL = re.compile(r"[A-Za-z0-9.\-_@]{1,100}")
_FOREIGN_ID = re.compile(r"[A-Za-z0-9.\-_@]{1,64}")
_DELAY_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# An http(s) URL up to whitespace, without the punctuation that usually ends the sentence around it.
_URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)\]]")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
EVENTS = frozenset({"IS_TYPING", "READ"})
HOOK_EVENTS = frozenset(
    {
        "all",
        "dlr",
        "sms_mo",
        "rcs",
        "tracking",
        "voice_status",
        "voice_call",
        "voice_dtmf",
        "newsletter_subscribe",
        "newsletter_unsubscribe",
    }
)
HOOK_METHODS = frozenset({"POST", "GET", "JSON"})
ANALYTICS_GROUPS = {"date": "date", "label": "label", "country": "country", "subaccount": "account"}
FAULT_PAGES = frozenset({"500", "502", "503", "429"})


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A bare gateway code (``900``, ``500``, ...) answered instead of the endpoint's shape."""

    code: str


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """An HTTP error page from the infrastructure in front of the gateway (nothing done)."""

    status: int


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What the gateway does with one send request; the server turns it into HTTP.

    Exactly one of ``answer`` and ``code`` is set unless ``fault`` is an HTTP error page
    (``"500"``, ``"502"``, ``"503"``, ``"429"``: nothing accepted). With ``fault`` ``"drop"`` or
    ``"garbled"`` the messages in ``answer`` were accepted, but the client never reads it.
    """

    answer: dict[str, Any] | None = None
    code: str | None = None
    fault: str | None = None


@dataclass(slots=True)
class Message:
    """One message the gateway accepted: what the client sent, what it cost, how it ends."""

    id: str
    to: str
    sender: str
    text: str
    rich: bool
    label: str | None
    foreign_id: str | None
    ttl: int
    delay: str | None
    send_at: float
    performance_tracking: bool
    fallback: str | None
    price: Decimal
    accepted_at: float
    request_no: int
    extra_entry: bool
    dlr: str
    dlr_at: float
    revoked_at: float | None = None
    #: This message's own extra logbook lag (the ``logbook_lag_jitter_s`` draw at acceptance).
    lag_jitter: float = 0.0
    #: Put in by :meth:`Backend.inject` (another campaign or machine on the account): listed in the
    #: logbook, left out of :meth:`Backend.accepted`.
    injected: bool = False

    def to_json(self) -> dict[str, Any]:
        """The message for ``/_sim/state`` (``from`` spelled as in the API; price a Decimal)."""
        d = asdict(self)
        d["from"] = d.pop("sender")
        return d

    def to_state(self) -> dict[str, Any]:
        """The message for the state file (price as an exact string)."""
        d = asdict(self)
        d["price"] = str(self.price)
        return d

    @classmethod
    def from_state(cls, d: Mapping[str, Any]) -> Message:
        """Read a message written by :meth:`to_state`."""
        values = dict(d)
        values["price"] = Decimal(values["price"])
        return cls(**values)


@dataclass(slots=True)
class _Hook:
    id: int
    target_url: str
    event_type: str
    request_method: str
    created: str


@dataclass(slots=True)
class _Counters:
    requests: dict[str, int] = field(default_factory=dict)
    send_requests: int = 0
    accepted: int = 0
    lookups: int = 0
    started: float = field(default_factory=time.time)


def _stamp(ts: float, tz: ZoneInfo = GATEWAY_TZ) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")


def _midnight(day: date, tz: ZoneInfo) -> float:
    """The first moment of ``day`` in ``tz``, as Unix seconds."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _short_link(match: re.Match[str]) -> str:
    # Deterministic per URL, so a test can predict it.
    return SHORT_LINK_BASE + hashlib.sha256(match.group().encode()).hexdigest()[:8]


def _title(text: str) -> str:
    """What the ``title`` rendering shows of a rich message (its compact JSON)."""
    obj = json.loads(text)
    if obj.get("richcard"):
        card = obj["richcard"]
    elif obj.get("carousel"):
        card = obj["carousel"]["richcards"][0]
    elif obj.get("file"):
        return str(obj["file"]["fileUrl"])
    else:
        return str(obj.get("text") or "")
    media = card.get("file") or {}
    return str(card.get("title") or card.get("description") or media.get("fileUrl") or "")


_SEND_AT: Callable[[Message], float] = attrgetter("send_at")
_ACCEPTED_AT: Callable[[Message], float] = attrgetter("accepted_at")


class _Timeline:
    """A logbook lane (every message, or one recipient's) made searchable by stamp time.

    A date filter is a span of stamp times. Messages in lane order whose stamp time keeps rising
    (nearly all: each is stamped when accepted) are ``kept`` with their ``keys`` and lane
    ``positions``, both sorted, so the span is two bisections. The rest go to ``odd`` and are
    checked one by one: a scheduled message stamped with its send time, or one accepted out of
    time order (``inject`` with an earlier ``at``). Built lazily and caught up at each query,
    so sending pays nothing for it.
    """

    __slots__ = ("done", "kept", "key", "keys", "odd", "positions")

    def __init__(self, key: Callable[[Message], float]) -> None:
        self.key = key
        self.done = 0
        self.keys: list[float] = []
        self.positions: list[int] = []
        self.kept: list[Message] = []
        self.odd: list[tuple[int, Message]] = []

    def _catch_up(self, lane: Sequence[Message]) -> None:
        key, keys = self.key, self.keys
        for pos in range(self.done, len(lane)):
            m = lane[pos]
            k = key(m)
            if k == m.accepted_at and (not keys or k >= keys[-1]):
                keys.append(k)
                self.positions.append(pos)
                self.kept.append(m)
            else:
                self.odd.append((pos, m))
        self.done = len(lane)

    def page(
        self, lane: Sequence[Message], lo: float, hi: float, offset: int, limit: int
    ) -> list[Message]:
        """Newest first, the messages stamped in [lo, hi), ``offset`` of them skipped."""
        self._catch_up(lane)
        kept, positions, key = self.kept, self.positions, self.key
        first = bisect_left(self.keys, lo)
        j = bisect_left(self.keys, hi)  # kept[first:j] are in the span, oldest first
        odd = [(pos, m) for pos, m in self.odd if lo <= key(m) < hi]
        out: list[Message] = []
        skip = offset
        while True:
            # The kept messages newer than the newest odd one left come first: skip, then take.
            cut = bisect_right(positions, odd[-1][0] if odd else -1, first, j)
            run = min(j - cut, skip)
            j -= run
            skip -= run
            take = min(j - cut, limit - len(out))
            out.extend(kept[j - take : j][::-1])
            j -= take
            if len(out) >= limit or not odd:
                return out
            _, m = odd.pop()
            if skip:
                skip -= 1
            else:
                out.append(m)


def _blank(value: Any) -> bool:
    return value is None or value == ""


class Backend:
    """The fake gateway account: state, validation and fault decisions, no HTTP.

    ``api_key`` fixes the one key accepted (any other answers 900); without it any key is
    accepted except ``faults.refuse_key``. ``faults.price`` is charged per accepted RCS message,
    ``lookup_price`` per looked-up number; the account starts with ``faults.balance``.
    :meth:`reset` brings back the knobs as they were when the backend was made.
    """

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        lookup_price: Decimal = DEFAULT_LOOKUP_PRICE,
        agents: list[dict[str, Any]] | None = None,
        api_key: str | None = None,
        signing_key: str = DEFAULT_SIGNING_KEY,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self._initial_faults = copy.deepcopy(self.faults)
        self._initial_account = (
            Decimal(lookup_price),
            [dict(a) for a in (agents if agents is not None else DEFAULT_AGENTS)],
            signing_key,
        )
        self.api_key = api_key
        self._lock = threading.RLock()
        self._rng = random.Random(self.faults.seed)
        self._rng_seed = self.faults.seed
        self._clear()

    # ---- state ---------------------------------------------------------------------------

    def _clear(self) -> None:
        lookup_price, agents, signing_key = self._initial_account
        self.lookup_price = lookup_price
        self.signing_key = signing_key
        self.agents: list[dict[str, Any]] = [dict(a) for a in agents]
        self.balance = Decimal(self.faults.balance)
        self.next_id = FIRST_MESSAGE_ID
        # Every message the logbook lists, in acceptance (id) order; _sent leaves out injected ones.
        self.messages: list[Message] = []
        self._sent: list[Message] = []
        self._by_id: dict[str, Message] = {}
        self._by_to: dict[str, list[Message]] = {}
        # (stamp mode, recipient or None for every message) -> its lane's timeline.
        self._timelines: dict[tuple[str, str | None], _Timeline] = {}
        # The latest of each time over all messages: while none of them hides a message now,
        # the logbook pages by index instead of walking (see _hides_any).
        self._last_visible_at = -math.inf
        self._last_accepted_at = -math.inf
        self._last_send_at = -math.inf
        self.revocations: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.hooks: list[_Hook] = []
        self.next_hook_id = 1
        # Webhooks: messages up to this index are queued; the queue holds (due, seq, id, final).
        self._hook_cursor = 0
        self._hook_queue: list[tuple[float, int, str, bool]] = []
        self._hook_seq = 0
        self.webhook_log: list[dict[str, Any]] = []
        self.counters = _Counters()
        # Accepted count at the last top-up: ``credit_after`` counts from here.
        self._credit_floor = 0
        self._garble_toggle = False

    def _index(self, m: Message) -> None:
        self.messages.append(m)
        if not m.injected:
            self._sent.append(m)
        self._by_id[m.id] = m
        self._by_to.setdefault(m.to, []).append(m)
        self._last_visible_at = max(self._last_visible_at, m.accepted_at + m.lag_jitter)
        self._last_accepted_at = max(self._last_accepted_at, m.accepted_at)
        self._last_send_at = max(self._last_send_at, m.send_at)

    def reset(self, *, keep_faults: bool = False) -> None:
        """Forget everything: no messages, the starting account, ids from 77233319353 again.

        The fault knobs go back to what they were when the backend was made, unless
        ``keep_faults``; the balance restarts at ``faults.balance``.
        """
        with self._lock:
            if not keep_faults:
                self.faults.reset(self._initial_faults)
            self._clear()
            self._rng = random.Random(self.faults.seed)
            self._rng_seed = self.faults.seed

    @property
    def price(self) -> Decimal:
        """The price of one accepted RCS message (the ``price`` knob)."""
        return self.faults.price

    def topup(self, amount: Decimal) -> Decimal:
        """Add credit and lift a ``credit_after`` stop; return the new balance."""
        amount = Decimal(amount)
        if not amount.is_finite() or amount <= 0:
            raise ValueError("the top-up amount must be a positive number")
        with self._lock:
            self.balance += amount
            self._credit_floor = self.counters.accepted
            return self.balance

    def accepted(self) -> list[Message]:
        """A copy of the messages accepted through the API, oldest first (not injected ones)."""
        with self._lock:
            return list(self._sent)

    def message(self, msg_id: str) -> Message | None:
        """The accepted message with this id, if any."""
        with self._lock:
            return self._by_id.get(msg_id)

    def snapshot(self, *, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """Everything a test compares against (``GET /_sim/state``); money as Decimal.

        ``offset`` / ``limit`` page the (oldest-first) message list of a long benchmark run.
        ``messages`` and ``accepted_count`` are what came through the API; injected messages
        (:meth:`inject`) only count in ``injected_count``.
        """
        with self._lock:
            end = None if limit is None else offset + limit
            return {
                "balance": self.balance,
                "price": self.price,
                "next_id": str(self.next_id),
                "send_requests": self.counters.send_requests,
                "accepted_count": len(self._sent),
                "injected_count": len(self.messages) - len(self._sent),
                "requests": dict(self.counters.requests),
                "messages": [m.to_json() for m in self._sent[offset:end]],
                "revocations": list(self.revocations),
                "events": list(self.events),
                "hooks": [asdict(h) for h in self.hooks],
                "webhooks": list(self.webhook_log),
                "lookups": self.counters.lookups,
            }

    def stats(self) -> dict[str, Any]:
        """Cheap counters for the benchmark (``GET /_sim/stats``)."""
        with self._lock:
            c = self.counters
            return {
                "requests": sum(c.requests.values()),
                "by_endpoint": dict(c.requests),
                "send_requests": c.send_requests,
                "accepted": c.accepted,
                "accepted_total": len(self._sent),
                "balance": self.balance,
                "cpu_time": time.process_time(),
                "uptime": time.time() - c.started,
            }

    def account(self) -> dict[str, Any]:
        """The account settings (``GET /_sim/account``)."""
        with self._lock:
            return {
                "price": self.price,
                "lookup_price": self.lookup_price,
                "balance": self.balance,
                "api_key_fixed": self.api_key is not None,
                "agents": [dict(a) for a in self.agents],
                "signing_key": self.signing_key,
            }

    def update_account(self, changes: Mapping[str, Any]) -> None:
        """Change ``price``, ``lookup_price``, ``balance``, ``agents`` or ``signing_key``;
        ValueError if bad."""
        allowed = {"price", "lookup_price", "balance", "agents", "signing_key"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(
                f"unknown account settings {sorted(unknown)}; known: {sorted(allowed)}"
            )
        parsed: dict[str, Any] = {}
        for key in ("price", "lookup_price", "balance"):
            if key in changes:
                parsed[key] = _money(changes[key], key)
        if "agents" in changes:
            agents = changes["agents"]
            if not isinstance(agents, list) or not all(
                isinstance(a, dict) and isinstance(a.get("id"), str) for a in agents
            ):
                raise ValueError("agents must be a list of objects with an id")
            parsed["agents"] = [dict(a) for a in agents]
        if "signing_key" in changes:
            key = changes["signing_key"]
            if not isinstance(key, str) or not key:
                raise ValueError("signing_key must be a non-empty string")
            parsed["signing_key"] = key
        with self._lock:
            for key, value in parsed.items():
                setattr(self.faults if key == "price" else self, key, value)

    # ---- state file ----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The persistent state as JSON-ready values (money as exact strings)."""
        with self._lock:
            return {
                "version": STATE_VERSION,
                "balance": str(self.balance),
                "next_id": self.next_id,
                "credit_floor_offset": self.counters.accepted - self._credit_floor,
                "messages": [m.to_state() for m in self.messages],
                "revocations": list(self.revocations),
                "events": list(self.events),
                "hooks": [asdict(h) for h in self.hooks],
                "next_hook_id": self.next_hook_id,
            }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the state with one written by :meth:`to_state` (this version or an older
        one); raise ValueError if bad."""
        if state.get("version") not in _READABLE_VERSIONS:
            raise ValueError(f"unsupported simulator state version {state.get('version')!r}")
        try:
            messages = [Message.from_state(m) for m in state["messages"]]
            balance = Decimal(state["balance"])
            next_id = int(state["next_id"])
            hooks = [_Hook(**h) for h in state.get("hooks", [])]
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"malformed simulator state: {exc}") from None
        with self._lock:
            self._clear()
            for m in messages:
                self._index(m)
            self.balance = balance
            self.next_id = next_id
            self.revocations = list(state.get("revocations", []))
            self.events = list(state.get("events", []))
            self.hooks = hooks
            self.next_hook_id = int(state.get("next_hook_id", len(hooks) + 1))
            # A credit stop in force when saved stays in force.
            self._credit_floor = -int(state.get("credit_floor_offset", 0))

    def save(self, path: Path) -> None:
        """Write the state file atomically (temp file in the same folder, then rename)."""
        data = json.dumps(self.to_state(), indent=1)
        path = Path(path)
        privacy.make_folder(path.parent)
        # It holds the numbers and texts sent: private (state/privacy.py), under a name of its own.
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")
        fd = privacy.open_fd(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path: Path) -> bool:
        """Load the state file if it exists; return whether it did."""
        path = Path(path)
        if not path.exists():
            return False
        data = json.loads(path.read_text(encoding="utf-8"))  # a damaged file: ValueError
        if not isinstance(data, dict):
            raise ValueError("not a simulator state file")
        self.load_state(data)
        return True

    # ---- auth and faults -----------------------------------------------------------------

    def _count(self, endpoint: str) -> None:
        r = self.counters.requests
        r[endpoint] = r.get(endpoint, 0) + 1

    def authorize(self, key: str | None) -> str | None:
        """The code refusing this API key (``"900"``), or None when it is accepted."""
        if not key:
            return "900"
        f = self.faults
        if f.refuse_key is not None and key == f.refuse_key:
            return "900"
        if self.api_key is not None and key != self.api_key:
            return "900"
        return None

    def _random(self) -> float:
        f = self.faults
        if f.seed != self._rng_seed:
            self._rng = random.Random(f.seed)
            self._rng_seed = f.seed
        return self._rng.random()

    def _plan(self, request_no: int) -> str | None:
        """Pick this send request's fault: script, then fail_first_n, then the random rates."""
        f = self.faults
        if f.script:
            planned = f.script.pop(0)
            return None if planned == "ok" else planned
        if request_no <= f.fail_first_n:
            return "500"
        pre = f.error_500_rate + f.error_502_rate + f.error_503_rate + f.rate_429
        if pre > 0:
            r = self._random()
            for rate, fault in (
                (f.error_500_rate, "500"),
                (f.error_502_rate, "502"),
                (f.error_503_rate, "503"),
                (f.rate_429, "429"),
            ):
                if r < rate:
                    return fault
                r -= rate
        post = f.drop_after_accept_rate + f.garbled_after_accept_rate
        if post > 0:
            r = self._random()
            if r < f.drop_after_accept_rate:
                return "drop"
            if r < post:
                return "garbled"
        return None

    def next_scripted(self, knob: str) -> str | None:
        """Pop the next outcome of ``event_script`` or ``lookup_script``; None for ``ok``/none."""
        with self._lock:
            script: list[str] = getattr(self.faults, knob)
            planned = script.pop(0) if script else None
            return None if planned == "ok" else planned

    def garbled_body(self) -> str:
        """A 200 body that is not JSON; alternates between an HTML page and a bare ``OK``."""
        with self._lock:
            self._garble_toggle = not self._garble_toggle
            return "<html><body>OK</body></html>" if self._garble_toggle else "OK"

    # ---- POST /rcs/messages --------------------------------------------------------------

    def send(
        self, params: Mapping[str, Any], key: str | None, *, now: float | None = None
    ) -> SendOutcome:
        """Handle one send request as seven would, with the fault knobs applied."""
        with self._lock:
            now = time.time() if now is None else now
            self._count("send")
            c = self.counters
            c.send_requests += 1
            planned = self._plan(c.send_requests)
            # HTTP error pages come from the infrastructure in front of the gateway, so they win
            # over everything, authentication included.
            if planned in FAULT_PAGES:
                return SendOutcome(fault=planned)
            code = self.authorize(key)
            if code is not None:
                return SendOutcome(code=code)
            result = self._send(params, now, c.send_requests, force_extra=planned == "extra")
            if isinstance(result, ErrorCode):
                return SendOutcome(code=result.code)
            if planned in ("drop", "garbled"):
                return SendOutcome(answer=result, fault=planned)
            return SendOutcome(answer=result)

    def _send(
        self, p: Mapping[str, Any], now: float, request_no: int, *, force_extra: bool
    ) -> dict[str, Any] | ErrorCode:
        f = self.faults
        to_raw = p.get("to")
        if isinstance(to_raw, list):
            to_raw = ",".join(str(t) for t in to_raw)
        if _blank(to_raw):
            return ErrorCode("301")
        # Text: plain, or an RCS object in one of three (unconfirmed) places.
        try:
            form, obj = rich.extract(p)
            if obj is not None:
                if form != f.rich_form:
                    return ErrorCode("305")
                rich.validate(obj)
        except rich.RichError as exc:
            return ErrorCode(exc.code)
        if obj is not None:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        else:
            raw_text = p.get("text")
            if not isinstance(raw_text, str) or raw_text == "":
                return ErrorCode("305")
            if len(raw_text) > rich.MAX_TEXT:
                return ErrorCode("401")
            text = raw_text
        from_raw = p.get("from")
        if _blank(from_raw):
            default = self._default_agent()
            if default is None:
                return ErrorCode("201")
            sender = default
        elif isinstance(from_raw, str) and any(a.get("id") == from_raw for a in self.agents):
            sender = from_raw
        else:
            return ErrorCode("201")
        label = p.get("label")
        if _blank(label):
            label = None
        elif not isinstance(label, str) or not _LABEL.fullmatch(label):
            return ErrorCode("802")
        foreign_id = p.get("foreign_id")
        if isinstance(foreign_id, int) and not isinstance(foreign_id, bool):
            foreign_id = str(foreign_id)
        if _blank(foreign_id):
            foreign_id = None
        elif not isinstance(foreign_id, str) or not _FOREIGN_ID.fullmatch(foreign_id):
            # No code is documented for a bad foreign_id. It is label's twin (same charset), so
            # the simulator answers label's 802: a campaign error, not a per-recipient one.
            return ErrorCode("802")
        # delay, ttl, performance_tracking and fallback answer 305 when invalid: seven documents
        # no code for them, and 305 is its "parameter missing or invalid".
        delay = p.get("delay")
        if _blank(delay):
            delay, send_at = None, now
        else:
            parsed_delay = _parse_delay(delay)
            if parsed_delay is None:
                return ErrorCode("305")
            delay, send_at = str(delay), max(now, parsed_delay)
        ttl = _parse_ttl(p.get("ttl"))
        if ttl is None:
            return ErrorCode("305")
        tracking = _parse_bool(p.get("performance_tracking"))
        if tracking is None:
            return ErrorCode("305")
        fallback = p.get("fallback")
        if _blank(fallback):
            fallback = None
        elif fallback not in ("sms", "webview"):
            return ErrorCode("305")

        # Recipients: one per request is documented; a comma list (unconfirmed for RCS) gets one
        # entry each. A lone bad number is a bare 202; in a list it is that entry's error.
        raw_list = [t for t in str(to_raw).split(",") if t.strip()]
        if not raw_list:
            return ErrorCode("301")
        recipients = [(raw, numbers.normalize(raw)) for raw in raw_list]
        single = len(recipients) == 1
        if all(d is None for _, d in recipients):
            return ErrorCode("202")
        plan: list[tuple[str, str | None, int]] = []  # (digits, error, entries)
        for raw, digits in recipients:
            if digits is None:
                plan.append((raw.strip(), "202", 0))
                continue
            if f.reload_lock and self._locked(digits, text, now):
                if single:
                    return ErrorCode("402")
                plan.append((digits, "402", 0))
                continue
            refused = f.refuse.get(digits)
            if refused is not None:
                plan.append((digits, str(refused), 0))
                continue
            if digits not in self._reachable(sender):
                # seven: an agent in test status reaches only its test numbers. The code it
                # answers for another number is not documented: a knob, 700 by default.
                plan.append((digits, f.test_agent_code, 0))
                continue
            extra = force_extra or (f.extra_entry_rate > 0 and self._random() < f.extra_entry_rate)
            plan.append((digits, None, 2 if extra else 1))

        n = sum(entries for _, _, entries in plan)
        c = self.counters
        if f.credit_after is not None and c.accepted - self._credit_floor + n > f.credit_after:
            return ErrorCode("500")
        price = f.price
        if n and price * n > self.balance:
            return ErrorCode("500")

        entries: list[dict[str, Any]] = []
        total = Decimal(0)
        refused_any = False
        show_price = f.price_in_answer
        for digits, error, count in plan:
            if error is not None:
                refused_any = True
                entries.append(self._entry(None, sender, digits, text, label, error, 0, 0))
                continue
            dlr = self._dlr_for(digits, fallback)
            for i in range(count):
                msg_id = str(self.next_id)
                self.next_id += 1
                self._index(
                    Message(
                        id=msg_id,
                        to=digits,
                        sender=sender,
                        text=text,
                        rich=obj is not None,
                        label=label,
                        foreign_id=foreign_id,
                        ttl=ttl,
                        delay=delay,
                        send_at=send_at,
                        performance_tracking=tracking,
                        fallback=fallback,
                        price=price,
                        accepted_at=now,
                        request_no=request_no,
                        extra_entry=i > 0,
                        dlr=dlr,
                        dlr_at=send_at + f.delivery_after_s,
                        lag_jitter=self._lag_jitter(),
                    )
                )
                total += price
                entries.append(
                    self._entry(
                        msg_id,
                        sender,
                        digits,
                        text,
                        label,
                        None,
                        price if show_price else 0,
                        1 if show_price else 0,
                    )
                )
        c.accepted += n
        self.balance -= total
        return {
            "success": "101" if refused_any and not f.hide_refusals_in_100 else "100",
            "total_price": total if show_price else None,
            "balance": self.balance,
            "debug": "false",
            "sms_type": "direct",
            "messages": entries,
        }

    def _lag_jitter(self) -> float:
        # Drawn only with the knob on: with it off, the other random faults draw as they did.
        jitter = self.faults.logbook_lag_jitter_s
        return self._random() * jitter if jitter > 0 else 0.0

    @staticmethod
    def _entry(
        msg_id: str | None,
        sender: str,
        recipient: str,
        text: str,
        label: str | None,
        error: str | None,
        price: Decimal | int,
        parts: int,
    ) -> dict[str, Any]:
        return {
            "id": msg_id,
            "sender": sender,
            "recipient": recipient,
            "text": text,
            # seven's example says "gsm" for RCS, where the encoding means nothing; kept as is.
            "encoding": "gsm",
            "label": label,
            "parts": parts,
            "udh": None,
            "is_binary": False,
            "price": price,
            "channel": "RCS",
            "success": error is None,
            "error": error,
            "error_text": None if error is None else ERROR_TEXTS.get(error, "Error"),
        }

    def _locked(self, digits: str, text: str, now: float) -> bool:
        """Whether the same text went to this number within ``reload_lock_s`` (newest first)."""
        horizon = now - self.faults.reload_lock_s
        for m in reversed(self._by_to.get(digits, ())):
            if m.accepted_at < horizon:
                return False
            if m.text == text:
                return True
        return False

    def _reachable(self, sender: str) -> _Everyone | frozenset[str]:
        """The numbers an agent may message: its `test_numbers` while in `test` status."""
        agent = next((a for a in self.agents if a.get("id") == sender), None)
        if agent is None or agent.get("status") != "test":
            return _EVERYONE
        return frozenset(
            d for d in (numbers.normalize(str(n)) for n in agent.get("test_numbers") or ()) if d
        )

    def _default_agent(self) -> str | None:
        for a in self.agents:
            if a.get("status") == "launched":
                return str(a["id"])
        return str(self.agents[0]["id"]) if self.agents else None

    def _dlr_for(self, digits: str, fallback: str | None) -> str:
        f = self.faults
        state = f.delivery_for.get(digits)
        if state is not None:
            return state
        if f.undeliverable_without_rcs and fallback is None and not numbers.capabilities(digits):
            return "NOTDELIVERED"
        return f.delivery

    # ---- DELETE /rcs/messages/{id} -------------------------------------------------------

    def revoke(self, msg_id: str, key: str | None, *, now: float | None = None) -> Any:
        """Record a revoke request; revoke the message if still scheduled or not yet delivered.

        Answers ``{"success": true}`` whatever happened, as seven does. A sent message is only
        revoked when the recipient's handset has the REVOCATION capability.
        """
        with self._lock:
            self._count("revoke")
            if self.counters.requests["revoke"] <= self.faults.revoke_fail_first_n:
                return ErrorPage(500)
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            now = time.time() if now is None else now
            m = self._by_id.get(msg_id)
            revoked = False
            if m is not None and m.revoked_at is None and now < m.dlr_at:
                scheduled = now < m.send_at
                if scheduled or "REVOCATION" in numbers.capabilities(m.to):
                    m.revoked_at = now
                    revoked = True
            self.revocations.append({"id": msg_id, "at": now, "revoked": revoked})
            return {"success": True}

    # ---- POST /rcs/events ----------------------------------------------------------------

    def event(self, params: Mapping[str, Any], key: str | None) -> Any:
        """Record an IS_TYPING / READ event to ``to`` or ``msg_id``; ``success`` false if bad."""
        with self._lock:
            self._count("event")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            event = params.get("event")
            to = params.get("to")
            msg_id = params.get("msg_id")
            sender = params.get("from")
            ok = (
                event in EVENTS
                and (not _blank(to) or not _blank(msg_id))
                and (_blank(to) or numbers.normalize(to) is not None)
                and (_blank(sender) or any(a.get("id") == sender for a in self.agents))
            )
            if ok:
                self.events.append(
                    {
                        "event": event,
                        "to": None if _blank(to) else numbers.normalize(to),
                        "msg_id": None if _blank(msg_id) else str(msg_id),
                        "from": None if _blank(sender) else sender,
                        "at": time.time(),
                    }
                )
            return {"success": ok}

    # ---- GET /rcs/agents, /balance, /lookup/rcs ------------------------------------------

    def list_agents(self, key: str | None) -> Any:
        """``{"agents": [...]}``."""
        with self._lock:
            self._count("agents")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            return {"agents": [dict(a) for a in self.agents]}

    def get_balance(self, key: str | None) -> Decimal | ErrorCode:
        """The balance in EUR."""
        with self._lock:
            self._count("balance")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            return self.balance

    def lookup(self, number: str | None, key: str | None) -> Any:
        """One row per comma-separated number; each valid number costs ``lookup_price``."""
        with self._lock:
            self._count("lookup")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            raw = [n.strip() for n in (number or "").split(",") if n.strip()]
            if not raw:
                # seven's HLR-style lookups answer 202 without a number.
                return ErrorCode("202")
            rows = [numbers.formats(n) for n in raw]
            cost = self.lookup_price * sum(1 for r in rows if r["success"])
            if cost > self.balance:
                return ErrorCode("500")
            self.balance -= cost
            self.counters.lookups += len(rows)
            return rows

    # ---- GET /journal/outbound -----------------------------------------------------------

    def journal(
        self, query: Mapping[str, str], key: str | None, *, now: float | None = None
    ) -> Any:
        """The logbook: newest first, filtered, paged (limit <= 100), as the knobs render it.

        Invalid filters answer 305. A ``limit`` above 100 is clamped to 100; ``date_from`` and
        ``date_to`` of ``undefined`` (what seven's JS client sends without dates) filter nothing.
        A page costs O(limit) whatever its offset while no message is hidden (lag, jitter, stall,
        ``scheduled_in_logbook``) and no ``state`` filter is given; else the lane is walked.
        """
        with self._lock:
            self._count("journal")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            now = time.time() if now is None else now
            try:
                limit = int(query.get("limit") or JOURNAL_MAX_LIMIT)
                offset = int(query.get("offset") or 0)
                date_from = _parse_day(query.get("date_from"))
                date_to = _parse_day(query.get("date_to"))
            except ValueError:
                return ErrorCode("305")
            if limit < 1 or offset < 0:
                return ErrorCode("305")
            limit = min(limit, JOURNAL_MAX_LIMIT)
            msg_id = query.get("id") or None
            to = query.get("to") or None
            state = (query.get("state") or "").upper() or None
            lane: Sequence[Message]
            digits: str | None = None
            if msg_id is not None:
                m = self._by_id.get(msg_id)
                lane = [m] if m is not None else []
            elif to is not None:
                digits = numbers.normalize(to)
                lane = self._by_to.get(digits, []) if digits else []
            else:
                lane = self.messages
            span = None
            if date_from is not None or date_to is not None:
                span = self._day_span(date_from, date_to)
            if state is None and not self._hides_any(now):
                page = self._skip(lane, digits, span, offset, limit)
                return [self._row(m, now) for m in page]
            return self._walk(lane, span, state, offset, limit, now)

    def _stamp_key(self) -> Callable[[Message], float]:
        """The machine time the logbook's ``timestamp`` shows for a message."""
        return _ACCEPTED_AT if self.faults.scheduled_stamp == "acceptance" else _SEND_AT

    def _shown(self, ts: float) -> str:
        """A moment as the logbook writes it: the gateway's clock, the logbook's zone, no zone."""
        f = self.faults
        return _stamp(ts + f.clock_offset_s, ZoneInfo(f.logbook_tz))

    def _day_span(self, date_from: date | None, date_to: date | None) -> tuple[float, float]:
        """The machine times [lo, hi) whose logbook stamps fall on ``date_from``..``date_to``."""
        f = self.faults
        tz = ZoneInfo(f.logbook_tz)
        lo = -math.inf if date_from is None else _midnight(date_from, tz) - f.clock_offset_s
        hi = math.inf
        if date_to is not None:
            hi = _midnight(date_to + timedelta(days=1), tz) - f.clock_offset_s
        return lo, hi

    def _visible(self, m: Message, now: float) -> bool:
        f = self.faults
        if m.accepted_at + m.lag_jitter + f.logbook_lag_s > now:
            return False
        if not f.scheduled_in_logbook and m.send_at > now:
            return False
        since = f.logbook_stalled_since
        return not (f.logbook_stalled and since is not None and m.accepted_at > since)

    def _hides_any(self, now: float) -> bool:
        """Whether the logbook hides any message now (lag, jitter, stall, scheduled ones).

        The same tests as :meth:`_visible`, on the latest times over all messages.
        """
        f = self.faults
        if self._last_visible_at + f.logbook_lag_s > now:
            return True
        if not f.scheduled_in_logbook and self._last_send_at > now:
            return True
        since = f.logbook_stalled_since
        return f.logbook_stalled and since is not None and self._last_accepted_at > since

    def _skip(
        self,
        lane: Sequence[Message],
        recipient: str | None,
        span: tuple[float, float] | None,
        offset: int,
        limit: int,
    ) -> list[Message]:
        """A page of a lane in which every message is visible, by index: O(limit)."""
        if span is None:
            end = len(lane) - offset
            return list(lane[max(0, end - limit) : max(0, end)][::-1])
        if len(lane) <= _SHORT_LANE:
            key = self._stamp_key()
            lo, hi = span
            return [m for m in reversed(lane) if lo <= key(m) < hi][offset : offset + limit]
        mode = self.faults.scheduled_stamp
        timeline = self._timelines.get((mode, recipient))
        if timeline is None:
            timeline = self._timelines[mode, recipient] = _Timeline(self._stamp_key())
        return timeline.page(lane, *span, offset, limit)

    def _walk(
        self,
        lane: Sequence[Message],
        span: tuple[float, float] | None,
        state: str | None,
        offset: int,
        limit: int,
        now: float,
    ) -> list[dict[str, Any]]:
        """A page found by looking at every message from the newest: O(offset + limit)."""
        key = self._stamp_key()
        rows: list[dict[str, Any]] = []
        skipped = 0
        for m in reversed(lane):
            if not self._visible(m, now):
                continue
            if span is not None and not span[0] <= key(m) < span[1]:
                continue
            row = None
            if state is not None:
                row = self._row(m, now)
                if (row["dlr"] or "").upper() != state:
                    continue
            if skipped < offset:
                skipped += 1
                continue
            rows.append(row or self._row(m, now))
            if len(rows) >= limit:
                break
        return rows

    def _row(self, m: Message, now: float) -> dict[str, Any]:
        f = self.faults
        dlr: str | None
        dlr_at: float | None
        if m.revoked_at is not None:
            dlr = f.revoked_dlr
            dlr_at = m.revoked_at if dlr is not None else None
        elif now >= m.dlr_at:
            dlr, dlr_at = m.dlr, m.dlr_at
        else:
            dlr, dlr_at = None, None
        _, mccmnc = numbers.carrier_of(m.to)
        return {
            "id": m.id,
            "to": m.to,
            "from": m.sender,
            "text": self._logbook_text(m),
            # The time it goes (or went) out, or when it was accepted: scheduled_stamp.
            "timestamp": self._shown(self._stamp_key()(m)),
            # seven's journal writes prices as strings ("0.075"); the knob offers numbers too.
            "price": str(m.price) if f.journal_price_form == "string" else m.price,
            "dlr": dlr,
            "dlr_timestamp": self._shown(dlr_at) if dlr_at is not None else None,
            "mccmnc": mccmnc or None,
            "latency": f"{dlr_at - m.send_at:.3f}" if dlr_at is not None and dlr else None,
            "type": "direct",
            "channel": "RCS",
            "connection": "http",
            "label": m.label,
            "foreign_id": m.foreign_id,
        }

    def _logbook_text(self, m: Message) -> str:
        """The message's text as the logbook shows it (``text_rendering``/``rich_rendering``)."""
        f = self.faults
        if m.rich:
            return _title(m.text) if f.rich_rendering == "title" else m.text
        if f.text_rendering == "tracked_links":
            return _URL.sub(_short_link, m.text)
        if f.text_rendering == "trimmed":
            return " ".join(m.text.split())
        return m.text

    # ---- another sender on the account ---------------------------------------------------

    def inject(
        self,
        to: str,
        text: str | Mapping[str, Any],
        *,
        label: str | None = None,
        foreign_id: str | None = None,
        at: float | None = None,
        price: Decimal | str | int | None = None,
        sender: str | None = None,
    ) -> str:
        """Add a message another campaign or machine sent on this account; return its id.

        It is a normal message of the account (logbook, analytics, webhooks, reload lock, its own
        lag jitter), accepted at ``at`` (machine seconds, default now), but left out of
        :meth:`accepted` and the state's ``messages``, which hold what came through the API, and
        not charged to the balance.
        ``text`` may be an RCS object (a dict). Raises ValueError for a bad number, text, label,
        foreign_id, price or time.
        """
        digits = numbers.normalize(str(to))
        if digits is None:
            raise ValueError(f"not a phone number: {to!r}")
        if isinstance(text, Mapping):
            try:
                rich.validate(text)
            except rich.RichError as exc:
                raise ValueError(f"bad rich content: {exc}") from None
            body = json.dumps(text, separators=(",", ":"), ensure_ascii=False)
        elif isinstance(text, str) and text:
            body = text
        else:
            raise ValueError("text must be a non-empty string or an RCS object")
        if label is not None and not _LABEL.fullmatch(label):
            raise ValueError(f"label: up to 100 of A-Z a-z 0-9 . - _ @, got {label!r}")
        if foreign_id is not None and not _FOREIGN_ID.fullmatch(foreign_id):
            raise ValueError(f"foreign_id: up to 64 of A-Z a-z 0-9 . - _ @, got {foreign_id!r}")
        if at is not None and (isinstance(at, bool) or not math.isfinite(at)):
            raise ValueError(f"at: Unix seconds, got {at!r}")
        cost = self.faults.price if price is None else _money(price, "price")
        with self._lock:
            when = time.time() if at is None else float(at)
            msg_id = str(self.next_id)
            self.next_id += 1
            self._index(
                Message(
                    id=msg_id,
                    to=digits,
                    sender=sender or self._default_agent() or "",
                    text=body,
                    rich=isinstance(text, Mapping),
                    label=label,
                    foreign_id=foreign_id,
                    ttl=DEFAULT_TTL_MINUTES,
                    delay=None,
                    send_at=when,
                    performance_tracking=False,
                    fallback=None,
                    price=cost,
                    accepted_at=when,
                    request_no=0,
                    extra_entry=False,
                    dlr=self._dlr_for(digits, None),
                    dlr_at=when + self.faults.delivery_after_s,
                    lag_jitter=self._lag_jitter(),
                    injected=True,
                )
            )
            return msg_id

    # ---- GET /analytics/{group} ----------------------------------------------------------

    def analytics(self, group: str, query: Mapping[str, str], key: str | None) -> Any:
        """Counts per channel and ``usage_eur`` grouped by date, label, country or subaccount."""
        with self._lock:
            self._count("analytics")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            field_name = ANALYTICS_GROUPS.get(group)
            if field_name is None:
                return ErrorCode("305")
            try:
                start = _parse_date(query.get("start"))
                end = _parse_date(query.get("end"))
            except ValueError:
                return ErrorCode("305")
            label = query.get("label") or None
            groups: dict[Any, dict[str, Any]] = {}
            clock = self.faults.clock_offset_s
            for m in self.messages:
                day = datetime.fromtimestamp(m.send_at + clock, GATEWAY_TZ).date()
                if (start and day < start) or (end and day > end):
                    continue
                if label is not None and m.label != label:
                    continue
                if group == "date":
                    value: Any = day.isoformat()
                elif group == "label":
                    value = m.label
                elif group == "country":
                    country = numbers.country_of(m.to)
                    value = country.iso if country else None
                else:
                    value = "main"
                row = groups.get(value)
                if row is None:
                    row = groups[value] = {
                        field_name: value,
                        "hlr": 0,
                        "inbound": 0,
                        "mnp": 0,
                        "rcs": 0,
                        "sms": 0,
                        "voice": 0,
                        "usage_eur": Decimal(0),
                    }
                row["rcs"] += 1
                row["usage_eur"] += m.price
            return [groups[k] for k in sorted(groups, key=lambda v: (v is None, str(v)))]

    # ---- /hooks --------------------------------------------------------------------------

    def add_hook(self, params: Mapping[str, Any], key: str | None) -> Any:
        """Register a webhook; ``{"success": true, "id": N}`` or ``{"success": false}`` if bad."""
        with self._lock:
            self._count("hooks")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            url = params.get("target_url")
            event_type = params.get("event_type")
            method = params.get("request_method") or "POST"
            if (
                not isinstance(url, str)
                or not url.startswith(("http://", "https://"))
                or event_type not in HOOK_EVENTS
                or method not in HOOK_METHODS
            ):
                return {"success": False}
            created = _stamp(time.time() + self.faults.clock_offset_s)
            hook = _Hook(self.next_hook_id, url, str(event_type), str(method), created)
            self.next_hook_id += 1
            self.hooks.append(hook)
            return {"success": True, "id": hook.id}

    def list_hooks(self, key: str | None) -> Any:
        """``{"code": null, "hooks": [...]}``."""
        with self._lock:
            self._count("hooks")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            return {"code": None, "hooks": [asdict(h) for h in self.hooks]}

    def due_webhooks(self, now: float) -> list[dict[str, Any]]:
        """The delivery reports due by ``now`` for each hook of event ``dlr`` or ``all``, once
        each: ``{"hook", "target_url", "request_method", "msg_id", "status", "at",
        "foreign_id"}``. Only while the ``webhooks`` knob is on."""
        with self._lock:
            f = self.faults
            if not f.webhooks:
                self._hook_cursor = len(self.messages)
                self._hook_queue.clear()
                return []
            for m in self.messages[self._hook_cursor :]:
                transmitted_due = m.dlr_at + 0.05 if f.webhook_reorder else m.send_at
                if m.dlr != "TRANSMITTED":
                    self._queue_hook(transmitted_due, m.id, False)
                self._queue_hook(m.dlr_at, m.id, True)
            self._hook_cursor = len(self.messages)
            due: list[dict[str, Any]] = []
            while self._hook_queue and self._hook_queue[0][0] <= now:
                _, _, msg_id, final = heapq.heappop(self._hook_queue)
                m = self._by_id[msg_id]
                state: str | None
                if not final:
                    state, at = "TRANSMITTED", m.send_at
                elif m.revoked_at is not None and m.revoked_at < m.dlr_at:
                    state, at = f.revoked_dlr, m.revoked_at
                else:
                    state, at = m.dlr, m.dlr_at
                if state is None:
                    continue
                rate = f.webhook_duplicate_rate
                copies = 2 if rate > 0 and self._random() < rate else 1
                for h in self.hooks:
                    if h.event_type not in ("dlr", "all"):
                        continue
                    report = {
                        "hook": h.id,
                        "target_url": h.target_url,
                        "request_method": h.request_method,
                        "msg_id": m.id,
                        "status": state,
                        "at": at,
                        "foreign_id": m.foreign_id,
                    }
                    due.extend([report] * copies)
            return due

    def _queue_hook(self, due: float, msg_id: str, final: bool) -> None:
        self._hook_seq += 1
        heapq.heappush(self._hook_queue, (due, self._hook_seq, msg_id, final))

    def log_webhook(self, entry: Mapping[str, Any]) -> None:
        """Record one attempt to post a report (``GET /_sim/state`` lists them as ``webhooks``)."""
        with self._lock:
            self.webhook_log.append(dict(entry))

    def delete_hook(self, hook_id: str | None, key: str | None) -> Any:
        """Remove a webhook; ``success`` false when no hook has that id."""
        with self._lock:
            self._count("hooks")
            code = self.authorize(key)
            if code is not None:
                return ErrorCode(code)
            before = len(self.hooks)
            self.hooks = [h for h in self.hooks if str(h.id) != str(hook_id)]
            return {"success": len(self.hooks) < before}


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{name}: write money as a string or exact number, got {value!r}")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name}: not a number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{name}: must be a non-negative number")
    return d


def _parse_delay(value: Any) -> float | None:
    """Unix seconds, or ``YYYY-MM-DD hh:mm[:ss]`` read as gateway-local (Berlin) time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    s = value.strip()
    if s.isdigit():
        return float(s)
    if _DELAY_DATE.fullmatch(s):
        fmt = "%Y-%m-%d %H:%M:%S" if s.count(":") == 2 else "%Y-%m-%d %H:%M"
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=GATEWAY_TZ).timestamp()
        except ValueError:
            return None
    return None


def _parse_ttl(value: Any) -> int | None:
    """Minutes as a positive integer (default 2880); None when invalid."""
    if _blank(value):
        return DEFAULT_TTL_MINUTES
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        n = int(value)
        return n if n > 0 else None
    return None


def _parse_bool(value: Any) -> bool | None:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, str):
        s = value.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    return None


def _parse_day(value: str | None) -> date | None:
    """A logbook day filter; ``undefined`` is no filter, as seven's JS client sends it."""
    return None if value == "undefined" else _parse_date(value)


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    if not _DATE.fullmatch(value):
        raise ValueError(value)
    return date.fromisoformat(value)
