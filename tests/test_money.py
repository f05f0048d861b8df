"""Money: how amounts are read, rounded and written (outputs as the reports have always shown)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcsbatch.reports import money


@pytest.mark.parametrize(
    ("amount", "cents", "even"),
    [("0.125", "0.13", "0.12"), ("0.135", "0.14", "0.14"), ("10", "10.00", "10.00")],
)
def test_cents_round_half_up_and_the_even_form_half_to_even(
    amount: str, cents: str, even: str
) -> None:
    """`cents` rounds half up as an invoice does; `cents_even` keeps the estimate messages'
    half-to-even rounding."""
    assert str(money.cents(Decimal(amount))) == cents
    assert str(money.cents_even(Decimal(amount))) == even


@pytest.mark.parametrize(
    ("amount", "text"),
    [("0.047500", "0.0475"), ("10.00", "10"), ("0", "0"), ("120", "120"), ("1E+1", "10")],
)
def test_plain_writes_no_trailing_zeros_and_no_exponent(amount: str, text: str) -> None:
    """Machine-read files get the exact amount, without trailing zeros or exponents."""
    assert money.plain(Decimal(amount)) == text
    assert money.plain_or_none(Decimal(amount)) == text
    assert money.plain_or_none(None) is None


@pytest.mark.parametrize(
    ("text", "expected"), [("0.0475", Decimal("0.0475")), (None, None), ("n/a", None), (3, 3)]
)
def test_read_amount_takes_text_and_leaves_the_unreadable_unknown(
    text: object, expected: Decimal | None
) -> None:
    """Stored amounts are read exactly; missing or unreadable ones are unknown, not zero."""
    assert money.read_amount(text) == expected


def test_people_see_cents_with_a_currency_and_prices_to_four_places() -> None:
    """For people: a cost to the cent with thousands separators, a price per message to four
    places, "-" when unknown."""
    assert money.money_text(Decimal("12345.675"), "EUR") == "12,345.68 EUR"
    assert money.money_text(None, "EUR") == "-"
    assert money.price_text(Decimal("0.047549")) == "0.0475"
    assert money.price_text(None) == "-"
    assert money.six_places(Decimal("0.04751234")) == Decimal("0.047512")


def test_a_stored_price_keeps_at_most_eighteen_places() -> None:
    """results.parquet's price column holds 18 places: a longer price is rounded to fit, a
    shorter one kept as it is."""
    assert money.stored_price("0.07500000000000000123") == Decimal("0.075000000000000001")
    assert money.stored_price("0.0475") == Decimal("0.0475")
