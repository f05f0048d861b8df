"""The report: counts, exact cost, and the exit code rule in its docstring."""

from __future__ import annotations

import json
import signal
from decimal import Decimal

import pytest

from rcsbatch.reports.outcome import Report

NOT_PROBLEMS = ["sent", "invalid", "duplicate", "suppressed"]
PROBLEMS = ["failed", "unknown", "expired", "not_sent"]


def report(counts: dict[str, int], **kw: object) -> Report:
    r = Report(**kw)  # type: ignore[arg-type]
    r.add(counts, Decimal(0), 0)
    return r


def test_empty_run_exits_0() -> None:
    """A run with no rows at all exits 0."""
    assert Report().exit_code == 0


@pytest.mark.parametrize("status", NOT_PROBLEMS)
def test_sent_and_own_rejects_exit_0(status: str) -> None:
    """Sent rows and rows our own checks refused (invalid, duplicate, suppressed) exit 0."""
    assert report({"sent": 3, status: 2}).exit_code == 0


@pytest.mark.parametrize("status", PROBLEMS)
def test_each_problem_status_exits_1(status: str) -> None:
    """Any failed, unknown, expired or not_sent row makes the exit code 1."""
    assert report({"sent": 5, status: 1}).exit_code == 1


@pytest.mark.parametrize(
    ("counts", "code"),
    [
        ({"ready": 4}, 0),
        ({"ready": 4, "duplicate": 1, "suppressed": 1}, 0),
        ({"ready": 4, "invalid": 1}, 1),
        ({"invalid": 1}, 1),
    ],
)
def test_dry_run_exits_1_only_for_invalid(counts: dict[str, int], code: int) -> None:
    """A dry run exits 1 only when some row is invalid."""
    assert report(counts, dry_run=True).exit_code == code


@pytest.mark.parametrize("status", PROBLEMS)
def test_dry_run_ignores_send_problems(status: str) -> None:
    """Send-phase problem statuses do not count for a dry run's exit code."""
    assert report({status: 1}, dry_run=True).exit_code == 0


@pytest.mark.parametrize("counts", [{}, {"sent": 1}, {"sent": 1, "not_sent": 9, "failed": 1}])
def test_gateway_stop_exits_3_and_beats_1(counts: dict[str, int]) -> None:
    """A run the gateway stopped exits 3, even when rows would make it 1."""
    r = report(counts)
    r.stop_reason, r.stop_code = "the gateway refused the API key", "900"
    assert r.exit_code == 3


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("stopped", [False, True])
def test_interrupted_runs_exit_128_plus_signal(signum: int, code: int, stopped: bool) -> None:
    """Ctrl-C exits 130 and SIGTERM 143, the highest code, above a gateway stop and problem rows."""
    r = report({"sent": 1, "not_sent": 4})
    r.interrupted = signum
    if stopped:
        r.stop_reason = "no credit"
    assert r.exit_code == code
    assert r.summary()["interrupted_by"] == signal.Signals(signum).name


def test_cost_sums_exactly() -> None:
    """Costs added batch by batch sum exactly, as decimals (0.1 + 0.2 == 0.3)."""
    r = Report()
    r.add({"sent": 1}, Decimal("0.1"), 0)
    r.add({"sent": 1}, Decimal("0.2"), 0)
    r.add({"sent": 2}, Decimal("0.0475") * 2, 0)
    assert r.cost == Decimal("0.395")
    assert r.summary()["total_cost"] == "0.395"
    assert r.rows == 4
    assert r.counts["sent"] == 4


def test_cost_complete_false_when_a_sent_row_lacks_a_price() -> None:
    """cost_complete is False as soon as one sent row has no price, and the summary says so."""
    r = Report()
    r.add({"sent": 2}, Decimal("0.05"), 0)
    assert r.cost_complete
    r.add({"sent": 1}, Decimal(0), 1)
    assert not r.cost_complete
    summary = r.summary()
    assert summary["cost_complete"] is False
    assert summary["sent_without_price"] == 1
    assert any("incomplete" in line for line in r.lines())


def test_summary_is_json_with_money_as_strings() -> None:
    """summary() dumps to JSON as is; money (cost, balance, estimate) are decimal strings."""
    r = Report(simulated=True)
    r.add({"sent": 2, "failed": 1, "invalid": 1}, Decimal("0.0950"), 0)
    r.balance_after = Decimal("3218.893")
    r.estimate, r.estimate_source = Decimal("0.15"), "price_estimate"
    summary = json.loads(json.dumps(r.summary()))
    assert summary["total_cost"] == "0.095"
    assert summary["balance_after"] == "3218.893"
    assert summary["estimated_cost"] == "0.15"
    assert summary["counts"] == {"sent": 2, "failed": 1, "invalid": 1}
    assert list(summary["counts"]) == ["sent", "failed", "invalid"]
    assert summary["rows"] == 4
    assert summary["exit_code"] == 1
    assert summary["simulated"] is True
    assert summary["interrupted_by"] is None


def test_summary_leaves_out_zero_counts_and_keeps_unknown_statuses() -> None:
    """Zero counts are left out; a status the report does not know still shows, sorted after."""
    r = report({"sent": 1, "failed": 0, "revoked": 2})
    assert r.summary()["counts"] == {"sent": 1, "revoked": 2}


def test_summary_without_money_has_nulls() -> None:
    """Without a balance or estimate, those summary fields are null (not "None")."""
    summary = Report().summary()
    assert summary["balance_after"] is None
    assert summary["estimated_cost"] is None
    assert summary["total_cost"] == "0"


def test_stop_reason_appears_in_summary_and_lines() -> None:
    """A gateway stop shows its reason and code in the summary and the human lines."""
    r = report({"sent": 1, "not_sent": 2})
    r.stop_reason, r.stop_code = "the account has no credit left", "500"
    assert r.summary()["stopped_by_gateway"] == "the account has no credit left"
    assert r.summary()["stop_code"] == "500"
    assert any("no credit" in line for line in r.lines())


def test_lines_show_the_exact_cost_for_people() -> None:
    """The human summary shows the exact cost, as the JSON does: no silent rounding."""
    r = Report()
    r.add({"sent": 2}, Decimal("0.0950"), 0)
    assert "cost 0.095 EUR" in r.lines()[1]
    assert r.summary()["total_cost"] == "0.095"
