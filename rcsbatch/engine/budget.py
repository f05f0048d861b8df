"""The budget: `[send] max_cost` caps what a campaign may cost, all its runs together.

Before a run: the cost so far (known prices, plus the estimated price for each sent row whose price
is not known yet) plus this run's estimate must stay within `max_cost`, and the estimate within the
account's balance; otherwise the run refuses to start (exit 2), nothing sent.

During the run: each request reserves a price before it leaves (the estimated price, or the highest
price the gateway has charged in this run if that is more) and no request leaves when spent +
reserved + its own reservation would pass the cap. The rows left are `not_sent`, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rcsbatch.errors import BudgetError
from rcsbatch.reports.money import cents_even


@dataclass
class Budget:
    """What a run may still spend; `reserve` before a request, `spend` or `release` after."""

    cap: Decimal
    spent: Decimal  # the campaign's cost so far, unknown prices counted at `price`
    price: Decimal  # what one message is reserved at
    reserved: Decimal = Decimal(0)
    exhausted: bool = False

    def reserve(self) -> Decimal | None:
        """Reserve one message's price; None (and `exhausted`) when it would pass the cap."""
        amount = self.price
        if self.spent + self.reserved + amount > self.cap:
            self.exhausted = True
            return None
        self.reserved += amount
        return amount

    def spend(self, reserved: Decimal, price: Decimal | None) -> None:
        """The message was accepted (or may have been): its price, or the reserved one."""
        self.reserved -= reserved
        charged = price if price is not None else reserved
        self.spent += charged
        if charged > self.price:
            self.price = charged  # reserve at least what the gateway charges

    def release(self, reserved: Decimal) -> None:
        """The message surely did not go: give its reservation back."""
        self.reserved -= reserved


def check_budget(
    cap: Decimal,
    *,
    cost_so_far: Decimal,
    unpriced: int,
    price: Decimal | None,
    messages: int,
    balance: Decimal | None,
) -> Budget:
    """Refuse (BudgetError) a run whose estimate passes `cap` or the balance; else its Budget."""
    if price is None:
        raise BudgetError(
            "[send] max_cost needs a price per message to guard the budget: set "
            "[send] price_estimate (no earlier run of this campaign has a known price)"
        )
    spent = cost_so_far + unpriced * price
    estimate = messages * price
    if spent + estimate > cap:
        raise BudgetError(
            f"this run would pass [send] max_cost = {cap}: spent so far {cents_even(spent)}, "
            f"estimate for {messages} messages {cents_even(estimate)}; raise max_cost, or "
            "send fewer rows",
            option="limit",
        )
    if balance is not None and estimate > balance:
        raise BudgetError(
            f"the estimate for {messages} messages ({cents_even(estimate)}) is more than the "
            f"account's balance ({balance}): top up the account, or send fewer rows",
            option="limit",
        )
    return Budget(cap=cap, spent=spent, price=price)
