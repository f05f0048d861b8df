"""The row statuses and the one mapping from a gateway error to a row's status."""

from __future__ import annotations

import pytest

from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RecipientRefusedError,
    RetriableError,
)
from rcsbatch.state.status import ROW_STATUSES, Failure, failure


def _traced(exc: GatewayError) -> GatewayError:
    exc.trace_id = "trace-1"
    return exc


@pytest.mark.parametrize(
    ("exc", "settled_later", "expected"),
    [
        (AccountError("no credit", code="902"), False, ("not_sent", "902", "no credit")),
        (
            RetriableError("HTTP 503", code="503"),
            False,
            ("failed", "503", "gave up after 3 attempts: HTTP 503"),
        ),
        (
            RecipientRefusedError("not reachable", code="301"),
            False,
            ("failed", "301", "not reachable"),
        ),
        (
            AnswerLostError("no answer", code="timeout"),
            False,
            ("unknown", "timeout", "no answer; it may have arrived, not sent again"),
        ),
        (AnswerLostError("no answer", code="timeout"), True, ("unknown", "timeout", "no answer")),
        (GatewayError("odd answer"), True, ("unknown", None, "odd answer")),
    ],
    ids=["account", "retriable", "recipient", "lost-one-shot", "lost-in-a-run", "unknown-kind"],
)
def test_each_kind_of_error_leaves_its_status(
    exc: GatewayError, settled_later: bool, expected: tuple[str, str | None, str]
) -> None:
    """Account refusals leave `not_sent`, retries used up and recipient refusals `failed`, lost
    answers `unknown` (a one-shot action says it does not send again), with the gateway's code
    and trace id."""
    found = failure(_traced(exc), 3, settled_later=settled_later)
    assert found == Failure(*expected, trace_id="trace-1")
    assert found.status in ROW_STATUSES
