"""Where to send: the gateway's base URL and API key, from the caller or the environment."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from decimal import Decimal

from rcsbatch.errors import InputError
from rcsbatch.state import paths

API_KEY_ENV = "SEVEN_API_KEY"
BASE_URL_ENV = "SEVEN_BASE_URL"


@dataclass(frozen=True)
class Gateway:
    """Where to send: the base URL and the key (never printed)."""

    base_url: str
    api_key: str
    simulated: bool = False
    lookup_price: Decimal | None = None  # what one capability lookup costs, when known

    def __repr__(self) -> str:
        return f"Gateway({self.base_url!r}, simulated={self.simulated})"

    @property
    def account(self) -> str:
        """The account's name in the state folder (never the key)."""
        return paths.account_id(self.base_url, self.api_key, simulated=self.simulated)

    @classmethod
    def from_env(cls) -> Gateway:
        """The gateway of $SEVEN_BASE_URL (default seven's) with the key in $SEVEN_API_KEY;
        InputError when the key is missing or either is malformed."""
        key = api_key_from_env()
        if not key:
            raise InputError(
                f"no API key: set {API_KEY_ENV} to your seven API key (seven's dashboard → "
                "Developer → API keys)",
                option="simulate",
            )
        return cls(base_url_from_env(), key)


def api_key_from_env() -> str:
    """$SEVEN_API_KEY, stripped; "" when unset. Never shown: not even in an error."""
    key = os.environ.get(API_KEY_ENV, "").strip()
    bad = next((i for i, char in enumerate(key, 1) if not char.isascii()), None)
    if bad is not None:
        # httpx refuses such a header value with a traceback; say why before any request.
        raise InputError(
            f"{API_KEY_ENV} holds a character that is not ASCII (character {bad} of "
            f"{len(key)}); seven's API keys are plain letters and digits: copy it again from "
            "seven's dashboard (a word processor may have changed a quote or a dash)"
        )
    bad = next((i for i, char in enumerate(key, 1) if not char.isprintable()), None)
    if bad is not None:
        # A line break inside (two lines pasted, a file read whole): aiohttp refuses it as
        # header injection, with a traceback.
        raise InputError(
            f"{API_KEY_ENV} holds a control character such as a line break (character {bad} "
            f"of {len(key)}); seven's API keys are one line of letters and digits: set it again"
        )
    return key


def base_url_from_env() -> str:
    """$SEVEN_BASE_URL, checked: a typo must not turn every row into a lost answer."""
    # aiohttp/httpx: only when sending for real
    from rcsbatch.gateway.client import DEFAULT_BASE_URL

    value = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
    try:
        parts = urllib.parse.urlsplit(value)
        port_ok = parts.port is None or parts.port > 0  # raises for a port past 65535
    except ValueError:  # an unclosed `[` of an IPv6 address, a port that is no number
        parts, port_ok = urllib.parse.urlsplit(""), False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise InputError(
            f"{BASE_URL_ENV}={value!r} is not an http(s) URL with a host (and a port 1-65535); "
            f"for seven use {DEFAULT_BASE_URL} (or leave it unset)"
        )
    return value
