"""The two long-running servers of the command line, as library calls: `serve_webhooks` (the
receiver of seven's delivery reports) and `serve_simulator` (the gateway simulator).

They run until a KeyboardInterrupt, which reaches the caller once they have closed; they install
signal handlers only when asked (`stop_on_signals=True`, which the command line passes).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from rcsbatch.campaign.file import Campaign
from rcsbatch.errors import InputError
from rcsbatch.gateway import config
from rcsbatch.gateway.config import Gateway
from rcsbatch.state import paths

if TYPE_CHECKING:
    from rcsbatch.delivery.receiver import Receiver

__all__ = ["SIGNING_KEY_ENV", "serve_simulator", "serve_webhooks"]


SIGNING_KEY_ENV = "SEVEN_SIGNING_KEY"


def serve_webhooks(
    campaign: Campaign,
    *,
    signing_key: str | None = None,
    allow_unsigned: bool = False,
    host: str = "127.0.0.1",
    port: int = 8080,
    public_url: str | None = None,
    idle_timeout: float = 10.0,
    body_timeout: float = 3.0,
    gateway: Gateway | None = None,
    ready: Callable[[Receiver], None] | None = None,
    stop_on_signals: bool = False,
) -> dict[str, int]:
    """Receive seven's delivery reports into the campaign's journal, as `rcsbatch webhook serve`
    does, until stopped; the counts of what it answered.

    Every report must be signed with `signing_key` (default: $SEVEN_SIGNING_KEY); without one,
    InputError unless `allow_unsigned` (anyone who finds the URL can then forge reports). The
    journal is the account's of `gateway` (default: $SEVEN_API_KEY's when set, else the one
    account that ran the campaign). `ready` is called with the receiver once it listens.
    `stop_on_signals` (console scripts) stops it on SIGINT and SIGTERM; otherwise a
    KeyboardInterrupt or cancellation stops it and goes on to the caller. OSError when the port
    cannot be bound.
    """
    from rcsbatch.delivery import receiver

    if signing_key is None:
        signing_key = os.environ.get(SIGNING_KEY_ENV, "").strip() or None
    if signing_key is None and not allow_unsigned:
        raise InputError(
            f"no signing key: set {SIGNING_KEY_ENV} to the account's webhook signing key "
            "(seven's dashboard → Developer), so forged reports are refused"
        )
    settings = receiver.ReceiverSettings(
        signing_key, public_url, idle_timeout=idle_timeout, body_timeout=body_timeout
    )
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    journal = paths.journal_path(campaign, paths.account_for(campaign, gateway))
    return receiver.serve(
        journal, settings, host, port, ready=ready, stop_on_signals=stop_on_signals
    )


def serve_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 8089,
    state: str | os.PathLike[str] | None = None,
    latency_ms: float = 0.0,
    api_key: str | None = None,
    price: Decimal | None = None,
    balance: Decimal | None = None,
    ready: Callable[[str], None] | None = None,
    stop_on_signals: bool = False,
) -> None:
    """Run the gateway simulator on its own, as `rcsbatch simulator` does, until stopped.

    `state` keeps what it accepted across restarts; `api_key` is the only key it accepts
    (default: any); `price` and `balance` are the account's. `ready` hears the base URL once it
    listens. Stopping as for `serve_webhooks`. OSError when the port cannot be bound,
    InputError when the state file is damaged.
    """
    from rcsbatch.simulator import Faults
    from rcsbatch.simulator import serve as serve_sim

    faults = Faults(latency_ms=latency_ms)
    if price is not None:
        faults.price = price
    if balance is not None:
        faults.balance = balance
    path = Path(state) if state is not None else None
    try:
        serve_sim(
            host, port, faults, path, api_key=api_key, ready=ready, stop_on_signals=stop_on_signals
        )
    except ValueError as exc:
        raise InputError(f"{path}: {exc}; delete the file to start afresh") from None
