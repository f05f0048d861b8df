"""A loopback stand-in for seven's RCS gateway: answers as the real one does, faults on demand.

One backend, two faces (like moto): :class:`SimulatorServer` / :class:`AsyncSimulatorServer` serve
it in-process on a free port for ``rcsbatch run --simulate`` and the tests, :func:`serve` runs it
standalone for ``rcsbatch simulator``. :class:`Faults` holds the knobs; :class:`Backend` is the
account whose accepted messages are the ground truth.

- `backend`: The simulated gateway's state and rules, without HTTP
- `faults`: The simulator's fault knobs: what the fake gateway does wrong, and when
- `hooks`: The simulator posting delivery reports to registered webhooks, signed as seven signs them
- `jsonout`: JSON writing that keeps money exact
- `numbers`: Phone numbers as the simulated gateway sees them: countries, carriers, capabilities
- `rich`: Rich content ("RCS object") as the simulated gateway reads and checks it
- `server`: The simulated gateway over HTTP: an aiohttp app on loopback, in a thread or a process
"""

from .backend import (
    DEFAULT_LOOKUP_PRICE,
    FIRST_MESSAGE_ID,
    Backend,
    ErrorCode,
    Message,
    SendOutcome,
)
from .faults import DEFAULT_BALANCE, DEFAULT_PRICE, Faults
from .server import AsyncSimulatorServer, SimulatorServer, create_app, serve

__all__ = [
    "DEFAULT_BALANCE",
    "DEFAULT_LOOKUP_PRICE",
    "DEFAULT_PRICE",
    "FIRST_MESSAGE_ID",
    "AsyncSimulatorServer",
    "Backend",
    "ErrorCode",
    "Faults",
    "Message",
    "SendOutcome",
    "SimulatorServer",
    "create_app",
    "serve",
]
