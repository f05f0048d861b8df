"""The library: each command of `rcsbatch` as a function, for a script, a notebook or a service.

    import rcsbatch

    result = rcsbatch.run(rcsbatch.load_campaign("campaigns/example.toml"), simulate=True)

`rcsbatch` exports these names lazily (rcsbatch/__init__.py); this package holds them:

- `account`: `look_up_capabilities`, `list_agents`, the account's hooks
- `checks`: `validate`, `preview`, `report_figures`, `write_report` (nothing is sent)
- `messages`: `sync_campaign`, `revoke_messages`, `send_event(s)`, `send_test_messages`
- `runs`: `run` and `run_async`, a campaign run
- `servers`: `serve_webhooks`, `serve_simulator`
- `session`: the gateway and the one client a call uses (given, from the environment, or the
  built-in simulator)

Every call with an `_async` twin runs its whole command on one event loop with one gateway
client; the plain call works inside a running loop too (engine.loop.run_sync). Errors before the
first request raise; after it a result comes back with the command's exit code.
"""

from __future__ import annotations

from rcsbatch.actions.testsends import TestMessage, TestSendResult
from rcsbatch.api.account import (
    CapabilitiesResult,
    LookupPlan,
    list_agents,
    list_agents_async,
    list_hooks,
    list_hooks_async,
    look_up_capabilities,
    look_up_capabilities_async,
    register_hook,
    register_hook_async,
    remove_hook,
    remove_hook_async,
)
from rcsbatch.api.checks import (
    RowNote,
    RowPreview,
    ValidationResult,
    preview,
    report_figures,
    validate,
    validate_async,
    write_report,
)
from rcsbatch.api.messages import (
    EventsResult,
    RevokeResult,
    SyncResult,
    preview_test_messages,
    revoke_messages,
    revoke_messages_async,
    send_event,
    send_event_async,
    send_events,
    send_events_async,
    send_test_messages,
    send_test_messages_async,
    sync_campaign,
    sync_campaign_async,
)
from rcsbatch.api.runs import run, run_async
from rcsbatch.api.servers import serve_simulator, serve_webhooks
from rcsbatch.api.session import simulated
from rcsbatch.campaign.file import load_campaign
from rcsbatch.engine.runner import RunResult
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.figures import Figures

__all__ = [
    "CapabilitiesResult",
    "EventsResult",
    "Figures",
    "Gateway",
    "LookupPlan",
    "RevokeResult",
    "RowNote",
    "RowPreview",
    "RunResult",
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
    "simulated",
    "sync_campaign",
    "sync_campaign_async",
    "validate",
    "validate_async",
    "write_report",
]
