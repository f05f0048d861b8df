"""The row statuses: the words the journal, the results files and the reports use for a row.

`RowStatus` names every one; the strings themselves are the file formats' and never change.
The journal's own working states (`pending`, `in_flight`) are reported as `not_sent` and
`unknown` (`report.REPORT_STATUS`).
"""

from __future__ import annotations

from typing import Literal, get_args

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
