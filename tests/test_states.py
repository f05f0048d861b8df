"""Delivery states: names, which report wins, and the state a row shows."""

from __future__ import annotations

import pytest

from rcsbatch.delivery.states import is_final, normalise, replaces, row_state


@pytest.mark.parametrize(
    ("value", "expected"),
    [("delivered", "DELIVERED"), (" READ ", "READ"), ("sent", None), (None, None), (3, None)],
)
def test_states_are_seven_names_in_upper_case(value: object, expected: str | None) -> None:
    """Known names in any case are normalised; anything else is None."""
    assert normalise(value) == expected


def test_rows_show_the_best_state_of_their_messages() -> None:
    """One message read and one failed: the row shows READ; none known: None."""
    assert row_state(["FAILED", "READ"]) == "READ"
    assert row_state([None, "BUFFERED"]) == "BUFFERED"
    assert row_state([None]) is None


def test_finality() -> None:
    """DELIVERED and READ are final, BUFFERED is not."""
    assert is_final("DELIVERED") and is_final("READ") and not is_final("BUFFERED")
    assert replaces("FAILED", 50, "EXPIRED", 40)  # two finals: the later wins
    assert not replaces("FAILED", 30, "EXPIRED", 40)
