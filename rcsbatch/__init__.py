"""rcsbatch: run bulk RCS campaigns through seven's RCS API, safely and fast.

    import rcsbatch

    result = rcsbatch.run(rcsbatch.load_campaign("campaigns/example.toml"), simulate=True)

The names below load on first use (PEP 562): `import rcsbatch` stays cheap (no pandas, no HTTP
stack) until one of them is asked for. See
`rcsbatch.api` (one module per kind of call) for what each does.
"""

from __future__ import annotations

import importlib

# Not `typing.TYPE_CHECKING`: importing typing would cost more than the rest of this module.
TYPE_CHECKING = False

__version__ = "0.1.0"

# The public errors live in rcsbatch.errors; every other public name in rcsbatch.api.
_ERRORS = frozenset(
    {
        "AccountError",
        "CampaignBusyError",
        "CampaignError",
        "GatewayError",
        "InputError",
        "RcsbatchError",
        "RecipientsError",
        "StorageError",
    }
)

__all__ = [
    "AccountError",
    "CampaignBusyError",
    "CampaignError",
    "CapabilitiesResult",
    "EventsResult",
    "Figures",
    "Gateway",
    "GatewayError",
    "InputError",
    "LookupPlan",
    "RcsbatchError",
    "RecipientsError",
    "RevokeResult",
    "RowNote",
    "RowPreview",
    "RunResult",
    "StorageError",
    "SyncResult",
    "TestMessage",
    "TestSendResult",
    "ValidationResult",
    "list_agents",
    "list_agents_async",
    "list_hooks",
    "list_hooks_async",
    "load_campaign",
    "look_up_capabilities",
    "look_up_capabilities_async",
    "preview",
    "preview_test_messages",
    "register_hook",
    "register_hook_async",
    "remove_hook",
    "remove_hook_async",
    "report_figures",
    "revoke_messages",
    "revoke_messages_async",
    "run",
    "run_async",
    "send_event",
    "send_event_async",
    "send_events",
    "send_events_async",
    "send_test_messages",
    "send_test_messages_async",
    "serve_simulator",
    "serve_webhooks",
    "sync_campaign",
    "sync_campaign_async",
    "validate",
    "validate_async",
    "write_report",
]

if TYPE_CHECKING:
    from typing import Any

    from rcsbatch.api import (
        CapabilitiesResult,
        EventsResult,
        Figures,
        Gateway,
        LookupPlan,
        RevokeResult,
        RowNote,
        RowPreview,
        RunResult,
        SyncResult,
        TestMessage,
        TestSendResult,
        ValidationResult,
        list_agents,
        list_agents_async,
        list_hooks,
        list_hooks_async,
        load_campaign,
        look_up_capabilities,
        look_up_capabilities_async,
        preview,
        preview_test_messages,
        register_hook,
        register_hook_async,
        remove_hook,
        remove_hook_async,
        report_figures,
        revoke_messages,
        revoke_messages_async,
        run,
        run_async,
        send_event,
        send_event_async,
        send_events,
        send_events_async,
        send_test_messages,
        send_test_messages_async,
        serve_simulator,
        serve_webhooks,
        sync_campaign,
        sync_campaign_async,
        validate,
        validate_async,
        write_report,
    )
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
    if name not in __all__:
        raise AttributeError(f"module 'rcsbatch' has no attribute {name!r}")
    module = "rcsbatch.errors" if name in _ERRORS else "rcsbatch.api"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
