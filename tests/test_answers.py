"""Reading the gateway's answers to a send: every shape in seven-gateway.md, every return code."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcsbatch.errors import (
    AccountError,
    AnswerLostError,
    GatewayError,
    RecipientRefusedError,
    RetriableError,
)
from rcsbatch.gateway.answers import (
    RETRY_AFTER_MAX,
    Accepted,
    _read_answer,
    read_send_answer,
    retry_after,
    to_decimal,
)

TO = "49176123456789"
OTHER = "49176999999999"
NO_HEADERS = httpx.Headers()


def entry(
    recipient: str = TO,
    *,
    id: str | None = "77233319353",
    price: Any = 0.05,
    success: Any = True,
    error: Any = None,
    error_text: Any = None,
) -> dict[str, Any]:
    """One `messages[i]` entry as seven writes it (abridged to the fields that matter)."""
    return {
        "id": id,
        "sender": "myfancyagent",
        "recipient": recipient,
        "text": "Hello World!",
        "encoding": "gsm",
        "label": None,
        "parts": 0,
        "udh": None,
        "is_binary": False,
        "price": price,
        "channel": "RCS",
        "success": success,
        "error": error,
        "error_text": error_text,
    }


def answer(
    *entries: dict[str, Any], success: str = "100", balance: Any = 3218.988, total_price: Any = None
) -> bytes:
    """A JSON answer body. Numbers are written by json.dumps, as the wire would carry them."""
    return json.dumps(
        {
            "success": success,
            "total_price": total_price,
            "balance": balance,
            "debug": "false",
            "sms_type": "direct",
            "messages": list(entries),
        }
    ).encode()


def read(
    body: bytes | str,
    *,
    status: int = 200,
    headers: httpx.Headers = NO_HEADERS,
    recipient: str = TO,
) -> Accepted:
    raw = body.encode() if isinstance(body, str) else body
    return read_send_answer(status, headers, raw, recipient)


# -- success -----------------------------------------------------------------------------------


def test_success_100_returns_ids_price_and_balance() -> None:
    """A "100" answer with a successful entry is Accepted with its id, price and balance."""
    accepted = read(answer(entry(price=0.05)))
    assert accepted == Accepted(("77233319353",), Decimal("0.05"), Decimal("3218.988"))


def test_success_101_with_a_successful_entry_for_this_recipient_is_accepted() -> None:
    """A "101" (some recipient failed) still accepts the row whose own entry succeeded."""
    body = answer(entry(OTHER, success=False, error="202"), entry(TO, id="9"), success="101")
    assert read(body).message_ids == ("9",)


def test_message_id_numbers_are_kept_as_strings() -> None:
    """An id written as a JSON number is kept as a string."""
    body = answer(entry()).replace(b'"77233319353"', b"77233319353")
    assert read(body).message_ids == ("77233319353",)


def test_success_written_as_text_true_counts() -> None:
    """`messages[i].success` as the string "true" counts as success."""
    assert read(answer(entry(success="true"))).message_ids == ("77233319353",)


# -- per-recipient refusals hidden in a "100" ------------------------------------------------------


@pytest.mark.parametrize("top", ["100", "101"])
@pytest.mark.parametrize(
    ("error", "text"),
    [
        ("202", "Recipient number invalid"),
        (202, "Recipient number invalid"),
        ("401", "Text too long"),
    ],
)
def test_refused_entry_raises_recipient_error_with_its_code_and_text(
    top: str, error: Any, text: str
) -> None:
    """A "100"/"101" whose entry for the row failed is a RecipientRefusedError with its code and
    text."""
    body = answer(entry(id=None, price=0, success=False, error=error, error_text=text), success=top)
    with pytest.raises(RecipientRefusedError) as info:
        read(body)
    assert info.value.code == str(error)
    assert str(info.value) == text


def test_refused_entry_without_text_names_the_code() -> None:
    """A refused entry without `error_text` gets the code's meaning as its text."""
    body = answer(entry(id=None, success=False, error="403", error_text=None))
    with pytest.raises(RecipientRefusedError, match="daily limit") as info:
        read(body)
    assert info.value.code == "403"


def test_refused_entry_without_any_code_is_a_recipient_error() -> None:
    """A failed entry with neither code nor text is still a refusal for that row (700)."""
    with pytest.raises(RecipientRefusedError) as info:
        read(answer(entry(id=None, success=False)))
    assert info.value.code == "700"


@pytest.mark.parametrize("code", ["500", "900"])
def test_refused_entry_with_an_account_code_stops_the_run(code: str) -> None:
    """An entry refused with an account-level code (no credit, bad key) is an AccountError."""
    with pytest.raises(AccountError) as info:
        read(answer(entry(id=None, success=False, error=code)))
    assert info.value.code == code


def test_refused_entry_with_reload_lock_is_answer_lost() -> None:
    """An entry refused with 402 (reload lock) is a lost answer, never a failed row."""
    with pytest.raises(AnswerLostError) as info:
        read(answer(entry(id=None, success=False, error="402")))
    assert not isinstance(info.value, RecipientRefusedError)
    assert info.value.code == "402"


# -- several entries for one request --------------------------------------------------------------


def test_two_entries_for_one_request_keep_both_ids_and_sum_prices_exactly() -> None:
    """Two entries for one `to`: both ids kept, prices summed as exact decimals."""
    body = answer(entry(id="1", price=0.0475), entry(id="2", price=0.0475))
    accepted = read(body)
    assert accepted.message_ids == ("1", "2")
    assert accepted.price == Decimal("0.095")
    assert isinstance(accepted.price, Decimal)


def test_prices_are_decimals_never_floats() -> None:
    """Prices that floats cannot sum exactly (0.1 + 0.2) sum to exactly 0.3."""
    accepted = read(answer(entry(id="1", price=0.1), entry(id="2", price=0.2)))
    assert accepted.price == Decimal("0.3")
    assert str(accepted.price) == "0.3"


@pytest.mark.parametrize("price", ["0.0475", 0.0475, "0.047500"])
def test_price_as_string_or_number_is_the_same_decimal(price: Any) -> None:
    """A price written as a JSON string or number is read as the same decimal."""
    assert read(answer(entry(price=price))).price == Decimal("0.0475")


def test_one_failed_and_one_accepted_entry_is_sent_with_the_accepted_price() -> None:
    """The row is sent when any of its entries succeeded; only the accepted entries count."""
    body = answer(
        entry(id="1", price=0.05),
        entry(id=None, price=0, success=False, error="600"),
        success="101",
    )
    accepted = read(body)
    assert accepted.message_ids == ("1",)
    assert accepted.price == Decimal("0.05")


@pytest.mark.parametrize("written", [TO, "+" + TO, "00" + TO])
def test_entries_for_other_recipients_are_ignored(written: str) -> None:
    """Only entries whose recipient matches the row count, however the number is written."""
    body = answer(
        entry(OTHER, id="other", price=0.07),
        entry(written, id="mine", price=0.05),
        entry(OTHER, id=None, success=False, error="202"),
    )
    accepted = read(body)
    assert accepted.message_ids == ("mine",)
    assert accepted.price == Decimal("0.05")


def test_refusal_of_another_recipient_does_not_fail_this_row() -> None:
    """Another recipient's refused entry does not make this row failed."""
    body = answer(
        entry(OTHER, id=None, success=False, error="202"), entry(TO, id="7"), success="101"
    )
    assert read(body).message_ids == ("7",)


def test_this_recipients_refusal_is_not_hidden_by_another_recipients_success() -> None:
    """This row's own refused entry decides it, even when another recipient's entry succeeded."""
    body = answer(
        entry(OTHER, id="other"), entry(TO, id=None, success=False, error="202"), success="101"
    )
    with pytest.raises(RecipientRefusedError):
        read(body)


# -- unknown prices ----------------------------------------------------------------------------


@pytest.mark.parametrize("price", [0, None, 0.0, "0", "", "n/a"])
def test_zero_or_missing_price_is_unknown(price: Any) -> None:
    """A price of 0, null or unreadable means "not known yet" (None), never free."""
    assert read(answer(entry(price=price))).price is None


def test_one_unknown_price_among_entries_makes_the_sum_unknown() -> None:
    """When one entry's price is unknown, the row's price is unknown, not a partial sum."""
    assert read(answer(entry(id="1", price=0.05), entry(id="2", price=0))).price is None


def test_missing_balance_is_none() -> None:
    """An answer without a balance leaves the balance None."""
    assert read(answer(entry(), balance=None)).balance is None


# -- bare codes and account-level answers --------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "900",
        '"900"',
        "900\n",
        " 900 ",
        '{"success": "900"}',
        '{"success": 900}',
        '{"success": "900", "messages": []}',
    ],
)
def test_refused_key_in_every_form_is_an_account_error(body: str) -> None:
    """A refused key, bare, as JSON string, number or object, is an AccountError (code 900)."""
    with pytest.raises(AccountError) as info:
        read(body)
    assert info.value.code == "900"


ACCOUNT = ["201", "500", "802", "900", "901", "902", "903"]
RECIPIENT = ["202", "301", "305", "401", "403", "600", "700"]


@pytest.mark.parametrize("form", ["{}", '"{}"', '{{"success": "{}"}}'])
@pytest.mark.parametrize(
    ("code", "kind"),
    [(c, AccountError) for c in ACCOUNT]
    + [(c, RecipientRefusedError) for c in RECIPIENT]
    + [("402", AnswerLostError)],
)
def test_each_return_code_maps_to_its_kind(code: str, kind: type[GatewayError], form: str) -> None:
    """Every code of the table, bare or as JSON, raises the kind that decides the sender's move."""
    with pytest.raises(GatewayError) as info:
        read(form.format(code))
    assert type(info.value) is kind
    assert info.value.code == code


@pytest.mark.parametrize("code", RECIPIENT)
def test_each_recipient_code_in_an_entry_fails_the_row(code: str) -> None:
    """Every per-recipient code inside `messages[i].error` is a RecipientRefusedError with that
    code."""
    with pytest.raises(RecipientRefusedError) as info:
        read(answer(entry(id=None, success=False, error=code), success="101"))
    assert info.value.code == code


@pytest.mark.parametrize("code", ACCOUNT)
def test_account_error_says_what_to_do(code: str) -> None:
    """An account-level answer carries a message that says what to do (never empty)."""
    with pytest.raises(AccountError) as info:
        read(code)
    assert len(str(info.value)) > 20


def test_reload_lock_is_never_a_recipient_error() -> None:
    """402 (reload lock) means an earlier identical request went through: unknown, not failed."""
    with pytest.raises(AnswerLostError) as info:
        read("402")
    assert not isinstance(info.value, RecipientRefusedError)


@pytest.mark.parametrize(
    "body",
    [
        "100",
        '"100"',
        "101",
        '{"success": "100"}',
        '{"success": "100", "messages": []}',
        '{"success": "100", "messages": ["77233319353"]}',
    ],
)
def test_accepted_code_without_usable_entries_is_answer_lost(body: str) -> None:
    """A "100"/"101" that lists no usable entry may have been accepted: lost, never failed."""
    with pytest.raises(AnswerLostError):
        read(body)


# -- HTTP statuses and unreadable bodies -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("99999", RETRY_AFTER_MAX),
        ("inf", RETRY_AFTER_MAX),
        (" 12 ", 12.0),
    ],
)
def test_retry_after_seconds_are_clamped(value: str, expected: float) -> None:
    """Retry-After in seconds is honoured, negative becomes 0, large is clamped to the maximum."""
    assert retry_after(httpx.Headers({"Retry-After": value})) == expected


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (30, 30.0),
        (-30, 0.0),
        (3600, RETRY_AFTER_MAX),
    ],
)
def test_retry_after_http_date_is_seconds_from_now(offset: int, expected: float) -> None:
    """Retry-After as an HTTP-date is the time until then, clamped to [0, RETRY_AFTER_MAX]."""
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    value = email.utils.format_datetime(now + dt.timedelta(seconds=offset), usegmt=True)
    assert retry_after(httpx.Headers({"Retry-After": value}), now=now) == expected


@pytest.mark.parametrize("value", ["soon", "", "nan"])
def test_unreadable_retry_after_is_none(value: str) -> None:
    """A Retry-After that is neither seconds nor a date is ignored (None)."""
    assert retry_after(httpx.Headers({"Retry-After": value})) is None


def test_no_retry_after_is_none() -> None:
    """Without a Retry-After header there is no wait to honour."""
    assert retry_after(NO_HEADERS) is None


@pytest.mark.parametrize(("value", "expected"), [("5", 5.0), ("1000", RETRY_AFTER_MAX)])
def test_429_is_retriable_with_its_wait(value: str, expected: float) -> None:
    """HTTP 429 is retriable and carries its (clamped) Retry-After."""
    with pytest.raises(RetriableError) as info:
        read("Too Many Requests", status=429, headers=httpx.Headers({"Retry-After": value}))
    assert info.value.retry_after == expected
    assert info.value.code == "429"


def test_429_with_an_http_date_is_retriable() -> None:
    """HTTP 429 with Retry-After as an HTTP-date is retriable with a wait within the clamp."""
    when = email.utils.format_datetime(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60), usegmt=True
    )
    with pytest.raises(RetriableError) as info:
        read("", status=429, headers=httpx.Headers({"Retry-After": when}))
    assert info.value.retry_after is not None
    assert 50 <= info.value.retry_after <= 60


def test_429_without_retry_after_is_retriable() -> None:
    """HTTP 429 without Retry-After is still retriable (the backoff decides the wait)."""
    with pytest.raises(RetriableError) as info:
        read("", status=429)
    assert info.value.retry_after is None


def test_503_with_retry_after_is_retriable() -> None:
    """HTTP 503 with Retry-After says the request was not taken: retriable."""
    with pytest.raises(RetriableError) as info:
        read("busy", status=503, headers=httpx.Headers({"Retry-After": "2"}))
    assert info.value.retry_after == 2.0


HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, "Service Unavailable"),
        (500, HTML),
        (502, HTML),
        (504, HTML),
        (500, '{"success": "100"}'),
    ],
)
def test_server_errors_without_retry_after_are_answer_lost(status: int, body: str) -> None:
    """5xx without Retry-After (HTML pages included) may come after acceptance: lost answer."""
    with pytest.raises(AnswerLostError) as info:
        read(body, status=status)
    assert info.value.code == str(status)


@pytest.mark.parametrize(
    "body", [HTML, "OK", "", "{not json", "[]", "[1, 2]", '"hello"', "12.5", "null", "true"]
)
def test_200_with_an_unreadable_body_is_answer_lost(body: str) -> None:
    """HTTP 200 with a body that is not a known shape is a lost answer (maybe accepted)."""
    with pytest.raises(AnswerLostError):
        read(body)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_auth_and_missing_endpoint_statuses_are_account_errors(status: int) -> None:
    """HTTP 401/403/404 mean the key or base URL is wrong for every row: stop the run."""
    with pytest.raises(AccountError) as info:
        read("", status=status)
    assert info.value.code == str(status)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_request_refusals_are_recipient_errors(status: int) -> None:
    """HTTP 400/413 refuse this request only: the row is failed."""
    with pytest.raises(RecipientRefusedError) as info:
        read("", status=status)
    assert info.value.code == str(status)


def test_200_body_with_utf8_bom_is_read() -> None:
    """A JSON body that starts with a UTF-8 BOM is still read."""
    assert read(b"\xef\xbb\xbf" + answer(entry())).message_ids == ("77233319353",)


# -- to_decimal ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0475", Decimal("0.0475")),
        (Decimal("1.10"), Decimal("1.10")),
        (3, Decimal(3)),
        (0.1, Decimal("0.1")),
        (None, None),
        (True, None),
        ("", None),
        ("abc", None),
        ("NaN", None),
        ("Infinity", None),
        ([1], None),
    ],
)
def test_to_decimal(value: Any, expected: Decimal | None) -> None:
    """to_decimal reads numbers and numeric strings exactly; anything else is None."""
    assert to_decimal(value) == expected


@pytest.mark.parametrize(
    ("error", "accepted"), [(None, True), ("202", False)], ids=["no-error", "error"]
)
def test_entry_without_success_key_is_judged_by_id_and_error(error: Any, accepted: bool) -> None:
    """An entry lacking `success` counts as accepted when it has an id and no error."""
    item = entry(error=error)
    del item["success"]
    if accepted:
        assert read(answer(item)).message_ids == ("77233319353",)
    else:
        with pytest.raises(RecipientRefusedError):
            read(answer(item))


# -- the one-entry fast path -------------------------------------------------------------------


def outcome(read_it: Any) -> Any:
    """What reading an answer gives: the Accepted (prices as written), or the error's kind."""
    try:
        accepted = read_it()
    except GatewayError as exc:
        return type(exc), str(exc), exc.code
    # Decimal("5E+1") == Decimal("50"): compare how they are written too.
    return accepted, str(accepted.price), str(accepted.balance)


def fast_and_general(body: bytes, recipient: str = TO) -> tuple[Any, Any]:
    """The answer read by `read_send_answer` and by the general path alone."""
    data = json.loads(body, parse_float=Decimal)
    return (
        outcome(lambda: read_send_answer(200, NO_HEADERS, body, recipient)),
        outcome(lambda: _read_answer(data, recipient)),
    )


@pytest.mark.parametrize(
    "price",
    [0.0475, "0.0475", "0.047500", 3, None, 0, 0.0, "", "n/a", "NaN", True, [1]],
)
@pytest.mark.parametrize("balance", [3218.988, "3218.988", 0, None, "x"])
def test_one_entry_answer_reads_as_the_general_path(price: Any, balance: Any) -> None:
    """A one-entry success answer gives what the general path gives, price and balance alike."""
    fast, general = fast_and_general(answer(entry(price=price), balance=balance))
    assert fast == general
    assert isinstance(fast[0], Accepted)


@pytest.mark.parametrize(
    "number", [b"0.12345678901234567890123456789012345", b"5E+1", b"1.50", b"-0.05"]
)
def test_one_entry_price_is_the_same_decimal_as_the_general_paths(number: bytes) -> None:
    """Prices past 28 digits or with an exponent come out exactly as the general path has them."""
    body = answer(entry(price="PRICE")).replace(b'"PRICE"', number)
    fast, general = fast_and_general(body)
    assert fast == general


@pytest.mark.parametrize("entry_id", ["77233319353", 77233319353, None])
def test_one_entry_id_in_any_form_reads_as_the_general_path(entry_id: Any) -> None:
    """An id as string, number or null gives the general path's message_ids."""
    fast, general = fast_and_general(answer(entry(id=entry_id)))
    assert fast == general


def test_one_entry_without_balance_reads_as_the_general_path() -> None:
    """An answer without `balance` reads as the general path does (balance None)."""
    data = json.loads(answer(entry()))
    del data["balance"]
    fast, general = fast_and_general(json.dumps(data).encode())
    assert fast == general
    assert fast[0].balance is None


@pytest.mark.parametrize("top", ["100", "101", "900"])
@pytest.mark.parametrize("success", [False, "false", 0, None])
def test_one_refused_entry_still_fails_the_row(top: str, success: Any) -> None:
    """`"success": "100"` with `messages[0].success` false is never accepted."""
    body = answer(entry(success=success, error="202"), success=top)
    fast, general = fast_and_general(body)
    assert fast == general
    assert fast[0] is RecipientRefusedError


@pytest.mark.parametrize("success", ["true", "1", 1, "TRUE"])
def test_one_entry_with_success_written_otherwise_reads_as_the_general_path(success: Any) -> None:
    """Success written as text or 1 (not the fast path's `true`) is accepted all the same."""
    fast, general = fast_and_general(answer(entry(success=success)))
    assert fast == general
    assert isinstance(fast[0], Accepted)


def test_one_entry_for_another_recipient_reads_as_the_general_path() -> None:
    """A single successful entry naming another number is this row's, as in the general path."""
    fast, general = fast_and_general(answer(entry(OTHER)))
    assert fast == general
    assert isinstance(fast[0], Accepted)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**30),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["", "0", "1", "true", "false", "100", "202", "n/a"]),
)


@given(
    price=json_scalars,
    balance=json_scalars,
    entry_id=json_scalars,
    success=st.one_of(st.just(True), json_scalars),
    top=st.one_of(st.sampled_from(["100", "101", "202", "500", "900"]), json_scalars),
    recipient=st.sampled_from([TO, OTHER, "+" + TO, None]),
    price_as_number=st.booleans(),
)
def test_one_entry_answers_always_read_as_the_general_path(
    price: Any,
    balance: Any,
    entry_id: Any,
    success: Any,
    top: Any,
    recipient: Any,
    price_as_number: bool,
) -> None:
    """Any one-entry answer, accepted or not, gives what the general path gives."""
    item = entry(recipient, id=entry_id, price=price, success=success)
    body = answer(item, success=top, balance=balance)
    if price_as_number and isinstance(price, str) and to_decimal(price) is not None:
        body = body.replace(json.dumps(price).encode(), price.encode())  # the number, unquoted
    fast, general = fast_and_general(body)
    assert fast == general
