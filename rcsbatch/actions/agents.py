"""The account's RCS agents (`GET /rcs/agents`), and the check of a campaign's `[message] from`.

An RBM agent is `test` (it reaches only the test numbers stored for it), `pending` or `launched`.
A campaign naming an agent the account does not have would have every request refused (201), so
`run` and `validate` refuse it before the first request; one in `test` status earns a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AgentCheck:
    """What the agent check found: an error (refuse the campaign) or a warning, or neither."""

    error: str | None = None
    warning: str | None = None


def check_agent(agents: list[dict[str, Any]], sender: str | None) -> AgentCheck:
    """Judge a campaign's agent id (None: seven picks the first RCS-capable one) by the list."""
    if sender is None:
        return AgentCheck()
    found = next((a for a in agents if str(a.get("id")) == sender), None)
    if found is None:
        known = ", ".join(str(a.get("id")) for a in agents) or "none"
        return AgentCheck(
            error=f"[message] from = {sender!r} is not one of the account's agents ({known}): "
            "every message would be refused"
        )
    if str(found.get("status", "")).lower() == "test":
        return AgentCheck(
            warning=f"agent {sender!r} is in test status: only its test numbers receive "
            "messages (ask seven to launch it)"
        )
    return AgentCheck()
