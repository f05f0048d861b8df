"""The gateway a library call talks to, for the length of the call: the one given, the
environment's (`Gateway.from_env`), or the built-in simulator with the campaign's saved state;
the one client each call makes, and the agent check `run` and `validate` share."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rcsbatch.campaign.file import Campaign
from rcsbatch.errors import CampaignError, GatewayError, ReportError
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.folder import report_root
from rcsbatch.state import privacy

if TYPE_CHECKING:
    from rcsbatch.gateway.client import GatewayClient
    from rcsbatch.simulator import Faults

__all__ = [
    "check_agent",
    "client_for",
    "gateway_for",
    "given_gateway",
    "report_root_for",
    "simulated",
    "simulator_gateway",
]

log = logging.getLogger(__name__)


def client_for(gateway: Gateway, *, max_connections: int) -> GatewayClient:
    from rcsbatch.gateway.client import GatewayClient  # aiohttp/httpx: only when a request goes

    return GatewayClient(gateway.base_url, gateway.api_key, max_connections=max_connections)


async def check_agent(
    campaign: Campaign, client: GatewayClient, on_status: Callable[[str], None] | None
) -> None:
    """Refuse (CampaignError) a `[message] from` the account does not have; a warning for a
    `test` agent. The gateway not answering the list only earns a line: the run finds out."""
    from rcsbatch.actions.agents import check_agent as judge

    if campaign.message.sender is None:
        return
    say = on_status or (lambda line: log.warning("%s", line))
    try:
        found = judge(await client.agents(), campaign.message.sender)
    except GatewayError as exc:
        say(f"could not check the agent ({exc})")
        return
    if found.error:
        raise CampaignError(found.error)
    if found.warning:
        say(f"warning: {found.warning}")


@contextlib.contextmanager
def simulated(
    campaign: Campaign, root: Path, *, on_trouble: Callable[[str], None] | None = None
) -> Iterator[Gateway]:
    """The built-in simulator as the gateway (`simulator_gateway`), started with the campaign's
    saved state (what it accepted, its balance) and stopped afterwards, saving it."""
    from rcsbatch.campaign.rich import RICH_FORMS
    from rcsbatch.simulator import Faults
    from rcsbatch.state import paths

    found = paths.campaign_state(campaign, paths.SIMULATOR)
    with contextlib.suppress(OSError):
        # A journal an older rcsbatch kept in the report folder, with the simulator's state.
        paths.adopt_legacy(found, root / campaign.name)
    faults = Faults()
    if campaign.message.rich is not None:
        # Which place for rich content seven takes is unconfirmed: the simulated gateway takes
        # the one the campaign chose, so a simulated run tries the campaign, not the guess.
        faults.rich_form = RICH_FORMS[campaign.message.rich.form]  # type: ignore[assignment]
    state = found.simulator
    with simulator_gateway(
        state, on_trouble, faults=faults, trouble=lambda exc: _state_trouble(exc, state)
    ) as gateway:
        yield gateway


def _state_trouble(exc: OSError | ValueError, state: Path) -> ReportError:
    """Why a campaign's simulator could not start: its state folder (which the user may move)
    or its state file (which the user may delete)."""
    from rcsbatch.state import paths

    if isinstance(exc, ValueError):
        return ReportError(
            f"{state}: the simulator's state file is damaged ({exc}); delete it to start "
            "the simulated gateway afresh"
        )
    return ReportError(
        f"cannot use {state.parent} ({exc.strerror}); set {paths.STATE_DIR_ENV} to a "
        "folder you can write"
    )


def _start_trouble(exc: OSError | ValueError, state: Path | None) -> ReportError:
    """Why a simulator could not start."""
    if isinstance(exc, ValueError):
        return ReportError(f"{state}: the simulator's state file is damaged ({exc})")
    return ReportError(f"cannot start the simulator ({exc.strerror or exc})")


def report_root_for(
    campaign: Campaign,
    report_dir: str | os.PathLike[str] | None,
    simulate: bool,
    gateway: Gateway | None,
) -> Path:
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    return report_root(campaign, Path(report_dir) if report_dir is not None else None)


@contextlib.contextmanager
def gateway_for(
    campaign: Campaign,
    root: Path,
    gateway: Gateway | None,
    simulate: bool,
    on_warning: Callable[[str], None] | None,
) -> Iterator[Gateway]:
    """The gateway given, the campaign's built-in simulator, or the environment's."""
    if simulate:
        with simulated(campaign, root, on_trouble=on_warning) as chosen:
            yield chosen
    else:
        yield gateway or Gateway.from_env()


@contextlib.contextmanager
def given_gateway(gateway: Gateway | None) -> Iterator[Gateway]:
    yield gateway or Gateway.from_env()


@contextlib.contextmanager
def simulator_gateway(
    state: Path | None,
    on_trouble: Callable[[str], None] | None,
    *,
    faults: Faults | None = None,
    trouble: Callable[[OSError | ValueError], ReportError] | None = None,
) -> Iterator[Gateway]:
    """A built-in simulator keeping its state in `state`, so later calls meet the same account
    (None: a throwaway one), with `faults` (default: none); a state it cannot save is told to
    `on_trouble` (default: logged), never raised: it must not hide how the call ended. One it
    cannot start raises the ReportError `trouble` makes of the error (default: _start_trouble)."""
    from rcsbatch.simulator import SimulatorServer

    try:
        if state is not None:
            privacy.make_folder(state.parent)
        server = SimulatorServer(faults, state_path=state).start()
    except (OSError, ValueError) as exc:
        raise (trouble(exc) if trouble else _start_trouble(exc, state)) from None
    try:
        yield Gateway(
            server.base_url, "simulated", simulated=True, lookup_price=server.backend.lookup_price
        )
    finally:
        try:
            server.stop()
        except OSError as exc:
            (on_trouble or log.error)(
                f"the simulator could not save its state in {state} ({exc.strerror or exc}): "
                "the simulated account forgets what this command did"
            )
