"""The budget: max_cost checked before a run and kept during it, reservation by reservation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcsbatch.engine.budget import Budget, check_budget
from rcsbatch.errors import BudgetError

D = Decimal


def test_a_run_within_cap_and_balance_gets_its_budget() -> None:
    """10 spent + 3 unpriced rows at 0.05 + 100 messages at 0.05 = 15.15 ≤ 20: allowed."""
    budget = check_budget(
        D("20"), cost_so_far=D("10"), unpriced=3, price=D("0.05"), messages=100, balance=D("50")
    )
    assert (budget.spent, budget.price) == (D("10.15"), D("0.05"))


@pytest.mark.parametrize(
    ("cap", "balance", "words"),
    [
        (D("15"), None, "max_cost"),  # 10 + 5.15 > 15
        (D("100"), D("4.99"), "balance"),  # the estimate 5 is more than the balance
    ],
)
def test_a_run_that_would_pass_the_cap_or_the_balance_is_refused(
    cap: Decimal, balance: Decimal | None, words: str
) -> None:
    """The refusal names what was passed and says how to go on."""
    with pytest.raises(BudgetError, match=words):
        check_budget(
            cap, cost_so_far=D("10"), unpriced=3, price=D("0.05"), messages=100, balance=balance
        )


def test_without_a_price_max_cost_cannot_be_guarded() -> None:
    """No price_estimate and no earlier price: refused, with the setting to add."""
    with pytest.raises(BudgetError, match="price_estimate"):
        check_budget(D("1"), cost_so_far=D(0), unpriced=0, price=None, messages=1, balance=None)


def test_reservations_never_let_the_total_pass_the_cap() -> None:
    """Cap 1.00 at 0.30: three requests may be in flight, a fourth is refused; spending a
    higher price raises what later requests reserve."""
    budget = Budget(cap=D("1.00"), spent=D(0), price=D("0.30"))
    held = [budget.reserve() for _ in range(3)]
    assert held == [D("0.30")] * 3 and budget.reserve() is None and budget.exhausted
    budget.release(D("0.30"))
    budget.spend(D("0.30"), D("0.35"))
    assert (budget.spent, budget.reserved, budget.price) == (D("0.35"), D("0.30"), D("0.35"))
    assert budget.reserve() == D("0.35")  # 0.35 + 0.30 + 0.35 = 1.00: just within the cap
    assert budget.reserve() is None
