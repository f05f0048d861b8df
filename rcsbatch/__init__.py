"""rcsbatch: run bulk RCS campaigns through seven's RCS API, safely and fast.

    import rcsbatch

    result = rcsbatch.run(rcsbatch.load_campaign("campaigns/example.toml"), simulate=True)

The names below load on first use (PEP 562): `import rcsbatch` stays cheap, and so does the
command line's start-up, which needs none of pandas or the HTTP stack for `--help`. See
`rcsbatch.api` for what `run` and `run_async` do.
"""

from __future__ import annotations

import importlib

# Not `typing.TYPE_CHECKING`: importing typing would cost more than the rest of this module.
TYPE_CHECKING = False

__version__ = "0.1.0"

# Each public name and the module that holds it.
_EXPORTS = {
    "load_campaign": "rcsbatch.api",
    "run": "rcsbatch.api",
    "run_async": "rcsbatch.api",
    "Gateway": "rcsbatch.api",
    "RunResult": "rcsbatch.api",
    "RcsbatchError": "rcsbatch.errors",
    "InputError": "rcsbatch.errors",
    "CampaignError": "rcsbatch.errors",
    "RecipientsError": "rcsbatch.errors",
    "CampaignBusyError": "rcsbatch.errors",
    "StorageError": "rcsbatch.errors",
    "GatewayError": "rcsbatch.errors",
    "AccountError": "rcsbatch.errors",
}

__all__ = [
    "AccountError",
    "CampaignBusyError",
    "CampaignError",
    "Gateway",
    "GatewayError",
    "InputError",
    "RcsbatchError",
    "RecipientsError",
    "RunResult",
    "StorageError",
    "load_campaign",
    "run",
    "run_async",
]

if TYPE_CHECKING:
    from typing import Any

    from rcsbatch.api import Gateway, RunResult, load_campaign, run, run_async
    from rcsbatch.errors import (
        AccountError,
        CampaignBusyError,
        CampaignError,
        GatewayError,
        InputError,
        RcsbatchError,
        RecipientsError,
        StorageError,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rcsbatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
