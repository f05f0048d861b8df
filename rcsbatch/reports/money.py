"""Money: amounts are `Decimal`, summed exactly; this module owns how they are read, rounded and
written.

Prices and costs are kept to every place the gateway gave and rounded only where a person reads
them: an invoice's cent (`cents`, half up), a price per message's four places (`price_text`), a
mean price's six (`six_places`). Machine-read files get the exact amount as plain text (`plain`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
# A price per message has more places than a cent.
PRICE_STEP = Decimal("0.0001")
# A mean price, and an estimate made from one.
MEAN_STEP = Decimal("0.000001")
# The places results.parquet's price column holds (decimal128 with scale 18).
STORED_STEP = Decimal(1).scaleb(-18)


def cents(amount: Decimal) -> Decimal:
    """An amount rounded to the cent, half up, as an invoice rounds it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_even(amount: Decimal) -> Decimal:
    """An amount to the cent by the decimal context's rounding (half to even), as the budget's
    and the run's estimate messages have always shown it."""
    return amount.quantize(CENT)


def six_places(amount: Decimal) -> Decimal:
    """A mean price (or an estimate made from one) to six places."""
    return amount.quantize(MEAN_STEP)


def plain(number: Decimal) -> str:
    """A decimal as plain text without trailing zeros: 0.047500 → "0.0475", 10.00 → "10"."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def plain_or_none(amount: Decimal | None) -> str | None:
    """`plain`, or None when the amount is unknown (JSON's null)."""
    return None if amount is None else plain(amount)


def read_amount(text: Any) -> Decimal | None:
    """An amount stored as text (the journal's prices, a summary's costs); None when missing or
    unreadable."""
    if text is None:
        return None
    try:
        return Decimal(str(text))
    except InvalidOperation:
        return None


def stored_price(text: str) -> Decimal:
    """A price as results.parquet's decimal column can hold it (at most 18 places)."""
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -18:
        value = value.quantize(STORED_STEP)
    return value


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount to the cent with its currency, for people; "-" when unknown."""
    return "-" if amount is None else f"{cents(amount):,} {currency}"


def price_text(amount: Decimal | None) -> str:
    """A price per message to four places, for people; "-" when unknown."""
    return "-" if amount is None else plain(amount.quantize(PRICE_STEP))
