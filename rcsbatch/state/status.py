"""The row statuses: the words the journal, the results files and the reports use for a row,
and the one mapping from a gateway error to a row's status.

`RowStatus` names every one; the strings themselves are the file formats' and never change.
The journal's own working states (`pending`, `in_flight`) are reported as `not_sent` and
`unknown` (`reports.outcome.REPORT_STATUS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from rcsbatch.errors import AccountError, GatewayError, RecipientRefusedError, RetriableError

RowStatus = Literal[
    # The journal's working states, before a run settles the row.
    "pending",
    "in_flight",
    # What sending made of a row.
    "sent",
    "failed",
    "unknown",
    "expired",
    "not_sent",
    # After a revoke.
    "revoke_requested",
    "revoked",
    # What our own checks made of a row before sending (a dry run's rows are `ready`).
    "ready",
    "invalid",
    "duplicate",
    "suppressed",
    "incapable",
]

ROW_STATUSES: tuple[RowStatus, ...] = get_args(RowStatus)


@dataclass(frozen=True)
class Failure:
    """What a gateway error makes of a row: its status, and the code and text its results show."""

    status: RowStatus
    code: str | None
    text: str
    trace_id: str | None


def failure(exc: GatewayError, attempts: int, *, settled_later: bool = False) -> Failure:
    """The row a request that raised `exc` leaves, after `attempts` requests.

    Refused for the account (key, credit): `not_sent`, as is every row after it. Still refused
    after the retries: `failed`, saying how many were made. Refused for this recipient: `failed`.
    A lost answer (or an error of no known kind): `unknown`, since the message may have gone; a
    one-shot action says that it is not sent again, while a run (`settled_later`) settles it
    through the logbook.
    """
    if isinstance(exc, AccountError):
        status: RowStatus = "not_sent"
        text = str(exc)
    elif isinstance(exc, RetriableError):
        status, text = "failed", f"gave up after {attempts} attempts: {exc}"
    elif isinstance(exc, RecipientRefusedError):
        status, text = "failed", str(exc)
    else:  # AnswerLostError, or a kind the mapping does not know: it may have gone
        status = "unknown"
        text = str(exc) if settled_later else f"{exc}; it may have arrived, not sent again"
    return Failure(status, exc.code, text, exc.trace_id)
