"""Delivery states: seven's names for what happened to a message after it was accepted, and the
rule that decides which report about one message wins.

seven retries webhooks for days, and reports come late and out of order, so the same message may
be reported several times. The rule: a final state (DELIVERED, NOTDELIVERED, EXPIRED, REJECTED,
FAILED) is never replaced by a non-final one (BUFFERED, TRANSMITTED, ACCEPTED, UNKNOWN); READ may
follow DELIVERED and is never replaced; otherwise the report with the later state time wins.
"""

from __future__ import annotations

FINAL = frozenset({"DELIVERED", "NOTDELIVERED", "EXPIRED", "REJECTED", "FAILED"})
PENDING = frozenset({"BUFFERED", "TRANSMITTED", "ACCEPTED", "UNKNOWN"})
READ = "READ"
STATES = FINAL | PENDING | {READ}
# Where a row has several messages (one request, several entries), the row shows the best state.
_ROW_ORDER = (
    "READ",
    "DELIVERED",
    "TRANSMITTED",
    "BUFFERED",
    "ACCEPTED",
    "UNKNOWN",
    "EXPIRED",
    "NOTDELIVERED",
    "REJECTED",
    "FAILED",
)


def normalise(state: object) -> str | None:
    """seven's state name in upper case; None when it is not one of seven's states."""
    if not isinstance(state, str):
        return None
    name = state.strip().upper()
    return name if name in STATES else None


def replaces(new: str, new_at: float | None, old: str | None, old_at: float | None) -> bool:
    """True when a report of `new` (at `new_at`) should replace the stored `old` (at `old_at`)."""
    if old is None:
        return True
    if new == old:
        return False
    if old == READ:
        return False
    if new == READ:
        return old in PENDING or old == "DELIVERED"
    if old in FINAL and new in PENDING:
        return False
    if new in FINAL and old in PENDING:
        return True
    return (new_at or 0.0) >= (old_at or 0.0)


def row_state(states: list[str | None]) -> str | None:
    """The state a row shows for its messages' states: the best one."""
    known = [s for s in states if s]
    if not known:
        return None
    return min(known, key=lambda s: _ROW_ORDER.index(s) if s in _ROW_ORDER else len(_ROW_ORDER))


def is_final(state: str | None) -> bool:
    return state in FINAL or state == READ
