"""Size limits: the `[limits]` table, each limit per row at and over it, template-level breaches,
and the request body counted in the bytes that are sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory
from hypothesis import given
from hypothesis import strategies as st

import rcsbatch
from rcsbatch.campaign.file import Campaign, load_campaign
from rcsbatch.campaign.limits import Limits
from rcsbatch.campaign.rich import RICH_FORMS
from rcsbatch.cli import cli
from rcsbatch.errors import CampaignError, GatewayError
from rcsbatch.gateway.client import GatewayClient
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import SendSettings, bodies_over, message_params, request_params
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.simulator import SimulatorServer

R = CampaignFactory.recipient
EMOJI = "😀"  # one code point, four UTF-8 bytes (two UTF-16 units)


def write(
    tmp_path: Path,
    message: str,
    values: list[str],
    *,
    limits: str = "",
    text: str | None = None,
    top: str = "",
) -> Path:
    """A campaign over one row per value (column `v`), with `message` (TOML) in [message]."""
    frame = pd.DataFrame({"phone": [f"+{R(i)}" for i in range(1, len(values) + 1)], "v": values})
    frame.to_csv(tmp_path / "people.csv", index=False)
    head = f'name = "limits"\nrecipients = "people.csv"\n{top}\n'
    if limits:
        head += f"[limits]\n{limits}\n\n"
    head += "[message]\n"
    if text is not None:
        head += f"text = {json.dumps(text)}\n"
    path = tmp_path / "limits.toml"
    path.write_text(head + message, encoding="utf-8")
    return path


def checked(path: Path) -> pd.DataFrame:
    return pd.concat(list(open_plan(load_campaign(path)).chunks()))


def test_limits_table_sets_what_it_names() -> None:
    """`[limits]` changes the limits it names; the others keep RBM's defaults."""
    campaign = _campaign({"limits": {"text": 160, "payload": 4096}})
    assert campaign.limits == Limits(text=160, payload=4096)
    assert campaign.limits.card_title == 200 and campaign.limits.sms_fallback == 1600


def _campaign(data: dict[str, Any]) -> Campaign:
    from rcsbatch.campaign.file import parse_campaign

    base = {"name": "x", "recipients": "r.csv", "message": {"text": "Hi"}}
    return parse_campaign({**base, **data}, Path("/tmp/x.toml"))


@pytest.mark.parametrize(
    ("limits", "key", "says"),
    [
        ({"txt": 10}, "limits.txt", "is not a campaign setting (known here: card_description"),
        ({"text": 0}, "limits.text", "must be a whole number of characters above 0 (got 0)"),
        ({"payload": -1}, "limits.payload", "must be a whole number of bytes above 0"),
        (
            {"card_title": "200"},
            "limits.card_title",
            "must be a whole number of bytes above 0 (got '200')",
        ),
        (
            {"suggestions": True},
            "limits.suggestions",
            "must be a whole number of suggestions above 0",
        ),
        ({"url": 2000.5}, "limits.url", "must be a whole number of characters above 0"),
    ],
)
def test_bad_limits_are_refused_naming_the_key(limits: dict[str, Any], key: str, says: str) -> None:
    """An unknown key, a value that is not a whole number above 0: refused, naming the key."""
    with pytest.raises(CampaignError) as caught:
        _campaign({"limits": limits})
    assert f"`{key}` {says}" in str(caught.value)


def test_limits_that_is_not_a_table_is_refused() -> None:
    """`limits = 5` instead of a table is refused."""
    with pytest.raises(CampaignError, match=r"`limits` must be a table \(`\[limits\]`\)"):
        _campaign({"limits": 5})


def test_validate_refuses_bad_limits_with_exit_2(tmp_path: Path) -> None:
    """`validate` on a campaign with a bad limit exits 2 with the message, no traceback."""
    path = write(tmp_path, "", ["x"], limits="text = 0", text="Hi")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "`limits.text` must be a whole number of characters above 0" in result.output
    assert "Traceback" not in result.output


# Each per-row limit: the [message] TOML with `{v}` in the limited field, a cell that merges to
# exactly `n` units, the reason's subject, and the limit at its default.
CARD_SUGGESTION = '[message.richcard]\ntitle = "t"\n[[message.richcard.suggestions]]\n'
PER_ROW: dict[str, tuple[str, str | None, Any, str]] = {
    "text": ("", "{v}", lambda n: EMOJI * n, "text is"),
    "sms_fallback": ('fallback = "sms"\n', "{v}", lambda n: "€" * n, "text is"),
    "card_title": (
        '[message.richcard]\ntitle = "{v}"\n',
        None,
        lambda n: "é" * (n // 2) + "x" * (n % 2),
        "the merged `message.richcard.title` is",
    ),
    "card_description": (
        '[message.richcard]\ndescription = "{v}"\n',
        None,
        lambda n: "€" * (n // 3) + "x" * (n % 3),
        "the merged `message.richcard.description` is",
    ),
    "suggestion_text": (
        CARD_SUGGESTION + 'type = "reply"\ntext = "{v}"\n',
        None,
        lambda n: EMOJI * n,
        "the merged `message.richcard.suggestions[1].text` is",
    ),
    "postback_data": (
        '[[message.suggestions]]\ntype = "reply"\ntext = "r"\npostback_data = "{v}"\n',
        "Hi",
        lambda n: "ü" * n,
        "the merged `message.suggestions[1].postback_data` is",
    ),
    # Counted after encoding: each é becomes %C3%A9, six characters.
    "url": (
        '[message.file]\nurl = "https://example.com/f?c={v}"\n',
        None,
        lambda n: "é" * ((n - 24) // 6) + "x" * ((n - 24) % 6),
        "the merged `message.file.url` is",
    ),
}


@pytest.mark.parametrize("key", sorted(PER_ROW))
def test_each_limit_passes_at_it_and_refuses_one_over(tmp_path: Path, key: str) -> None:
    """A row merging to exactly the default limit is ready; one unit more is invalid, and the
    reason names the field, its size, the limit, the unit and the setting."""
    message, text, cell, subject = PER_ROW[key]
    limit = getattr(Limits(), key)
    rows = checked(write(tmp_path, message, [cell(limit), cell(limit + 1)], text=text))
    assert rows.loc[2, "status"] == "ready", rows.loc[2, "reason"]
    assert rows.loc[3, "status"] == "invalid"
    unit = "bytes" if key in ("card_title", "card_description") else "characters"
    to = " for an SMS fallback" if key == "sms_fallback" else ""
    assert rows.loc[3, "reason"].endswith(
        f"{subject} {limit + 1:,} {unit}; the limit{to} is {limit:,} {unit} (limits.{key})"
    )


@pytest.mark.parametrize("key", sorted(PER_ROW))
def test_each_limit_follows_the_campaigns_setting(tmp_path: Path, key: str) -> None:
    """A limit set in `[limits]` moves the line: at the new limit ready, one over invalid."""
    message, text, cell, _ = PER_ROW[key]
    limit = 40 if key == "url" else 7
    values = [cell(limit), cell(limit + 1)]
    rows = checked(write(tmp_path, message, values, text=text, limits=f"{key} = {limit}"))
    assert list(rows["status"]) == ["ready", "invalid"]
    assert (
        f"the limit{' for an SMS fallback' if key == 'sms_fallback' else ''} is {limit} "
        in (rows.loc[3, "reason"])
    )


def test_card_title_counts_bytes_not_characters(tmp_path: Path) -> None:
    """101 two-byte characters are 202 bytes: over the card title's 200, though 101 characters."""
    rows = checked(write(tmp_path, PER_ROW["card_title"][0], ["é" * 101]))
    assert rows.loc[2, "reason"].endswith(
        "is 202 bytes; the limit is 200 bytes (limits.card_title)"
    )


def test_sms_fallback_limit_only_with_an_sms_fallback(tmp_path: Path) -> None:
    """A 2,000-character text passes without `fallback = "sms"` and is invalid with it."""
    values = ["x" * 2000]
    assert checked(write(tmp_path, "", values, text="{v}"))["status"].tolist() == ["ready"]
    webview = checked(write(tmp_path, 'fallback = "webview"\n', values, text="{v}"))
    assert webview["status"].tolist() == ["ready"]
    sms = checked(write(tmp_path, 'fallback = "sms"\n', values, text="{v}"))
    assert sms["status"].tolist() == ["invalid"]


# ---- limits the template breaks on every row: refused when the file is read -----------------


def _reply(n: int, table: str = "message.suggestions") -> str:
    return f'[[{table}]]\ntype = "reply"\ntext = "r"\n' * n


def _cards(n: int) -> str:
    return '[message.carousel]\nwidth = "SMALL"\n' + '[[message.carousel.cards]]\ntitle = "c"\n' * n


@pytest.mark.parametrize(
    ("key", "build", "text"),
    [
        ("suggestions", _reply, "Hi"),
        (
            "card_suggestions",
            lambda n: (
                '[message.richcard]\ntitle = "t"\n' + _reply(n, "message.richcard.suggestions")
            ),
            None,
        ),
        ("carousel_cards", _cards, None),
    ],
)
def test_counts_are_checked_when_the_file_is_read(
    tmp_path: Path, key: str, build: Any, text: str | None
) -> None:
    """Suggestions per message and per card, cards per carousel: at the limit the campaign
    loads, one more refuses it, naming the limit; a `[limits]` value moves it."""
    limit = getattr(Limits(), key)
    load_campaign(write(tmp_path, build(limit), ["x"], text=text))
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, build(limit + 1), ["x"], text=text))
    assert f"(limits.{key})" in str(caught.value) and f"{limit + 1} " in str(caught.value)
    load_campaign(
        write(tmp_path, build(limit + 1), ["x"], text=text, limits=f"{key} = {limit + 1}")
    )
    with pytest.raises(CampaignError):
        load_campaign(write(tmp_path, build(3), ["x"], text=text, limits=f"{key} = 2"))


@pytest.mark.parametrize(
    ("message", "text", "key", "says"),
    [
        ("", "x" * 3073, "text", "is 3,073 characters; the limit is 3,072 characters"),
        ("", "x" * 3073 + " {v}", "text", "is 3,074 characters without its placeholders"),
        (
            'fallback = "sms"\n',
            "€" * 1601 + "{v}",
            "text",
            "is 1,601 characters without its placeholders; the limit for an SMS fallback is "
            "1,600 characters (limits.sms_fallback)",
        ),
        (
            '[message.richcard]\ntitle = "' + "é" * 100 + 'x{v}"\n',
            None,
            "richcard.title",
            "is 201 bytes without its placeholders; the limit is 200 bytes (limits.card_title)",
        ),
        (
            '[message.richcard]\ntitle = "' + "é" * 101 + '"\n',
            None,
            "richcard.title",
            "is 202 bytes; the limit is 200 bytes (limits.card_title)",
        ),
    ],
)
def test_a_template_over_a_limit_by_itself_refuses_the_campaign(
    tmp_path: Path, message: str, text: str | None, key: str, says: str
) -> None:
    """A template longer than its limit without any cell merged would make every row invalid:
    reading the file refuses it, naming the key."""
    with pytest.raises(CampaignError) as caught:
        load_campaign(write(tmp_path, message, ["x"], text=text))
    assert f"`message.{key}` {says}" in str(caught.value)
    assert "every row would be over it" in str(caught.value)


def test_a_template_at_a_limit_by_itself_loads(tmp_path: Path) -> None:
    """A card title of 200 bytes besides its placeholder loads: only the cells can break it."""
    load_campaign(write(tmp_path, '[message.richcard]\ntitle = "' + "é" * 100 + '{v}"\n', ["x"]))
    load_campaign(write(tmp_path, "", ["x"], text="x" * 3072))


def test_validate_and_run_refuse_a_template_over_a_limit_with_exit_2(tmp_path: Path) -> None:
    """`validate` and `run --simulate` exit 2 on a text template over the limit, sending nothing."""
    path = write(tmp_path, "", ["x"], text="x" * 3073)
    for command in (["validate", str(path)], ["run", str(path), "--simulate", "-q"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert "the limit is 3,072 characters (limits.text)" in result.output
    assert not (tmp_path / "reports" / "limits").exists()


# ---- the request body ----------------------------------------------------------------------


def sent_body(campaign: Campaign, row: pd.Series) -> bytes:
    """The body GatewayClient.send puts on the wire for `row`, caught at the transport."""
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"success": "100", "messages": []})

    async def send() -> None:
        transport = httpx.MockTransport(answer)
        async with GatewayClient("https://gw.test/api", API_KEY, transport=transport) as client:
            # The answer names no message (a GatewayError): only the body matters here.
            with contextlib.suppress(GatewayError):
                await client.send(request_params(campaign, row), str(row["recipient"]))

    asyncio.run(send())
    return bodies[0]


RICH = '[[message.suggestions]]\ntype = "reply"\ntext = "r"\npostback_data = "{v}"\n'


@pytest.mark.parametrize("form", [None, *sorted(RICH_FORMS)])
def test_payload_limit_counts_the_bytes_the_client_sends(tmp_path: Path, form: str | None) -> None:
    """With `limits.payload` at the size of the body the client sends, the row is ready; one
    byte less and it is invalid with that size. Quotes, backslashes, line breaks and
    non-ASCII cells make escaping and UTF-8 count; each rich form places the object its way."""
    cell = 'Ä "q" \\ €\nx😀'
    message = f'label = "spring"\nrich_form = "{form}"\n' + RICH if form else ""
    path = write(tmp_path, message, [cell], text="Hi {v}")
    row = checked(path).loc[2]
    assert row["status"] == "ready"
    size = len(sent_body(load_campaign(path), row))
    at = checked(write(tmp_path, message, [cell], text="Hi {v}", limits=f"payload = {size}"))
    assert at.loc[2, "status"] == "ready"
    over = checked(write(tmp_path, message, [cell], text="Hi {v}", limits=f"payload = {size - 1}"))
    assert over.loc[2, "status"] == "invalid"
    assert over.loc[2, "reason"] == (
        f"the request body is {size:,} bytes; the limit is {size - 1:,} bytes (limits.payload)"
    )


@given(
    # Control characters but LF and TAB make a row invalid before its body is measured.
    text=st.text(
        st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t"), max_size=60
    ),
    label=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9.\-_@]{1,20}", fullmatch=True)),
    form=st.sampled_from([None, *RICH_FORMS]),
    delay=st.booleans(),
)
def test_bodies_over_finds_every_body_over_the_limit(
    text: str, label: str | None, form: str | None, delay: bool
) -> None:
    """Whatever the text, a row whose body is over the limit is found with its exact size (the
    cheap bound never clears a row that is over), and one at the limit is not."""
    if form is not None:
        text = json.dumps({"text": text}, ensure_ascii=False, separators=(",", ":"))
    settings = SendSettings(rich_form=form, delay=2_000_000_000.0 if delay else None)
    params = message_params(
        settings,
        recipient=49176123456789,
        text=text,
        label=label,
        foreign_id="fid.1",
        now=0.0,
        deadline=settings.deadline(0.0),
    )
    size = len(json.dumps(params, ensure_ascii=False).encode())
    column = pd.Series([text], dtype="str")
    labels = pd.Series([label], dtype="str")
    ids = pd.Series(["fid.1"], dtype="str")
    numbers = pd.Series([49176123456789]).to_numpy()
    assert bodies_over(settings, size - 1, numbers, column, labels, ids) == {0: size}
    assert bodies_over(settings, size, numbers, column, labels, ids) == {}


def test_run_sends_only_the_rows_within_the_limits(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A 5,000-character text is `invalid` before sending (the gateway never sees it), and a
    text over the SMS fallback's 1,600 characters too; the rows within the limits are sent."""
    rows = [
        {"phone": f"+{R(1)}", "first_name": "Anna", "customer_id": "c1"},
        {"phone": f"+{R(2)}", "first_name": "x" * 4997, "customer_id": "c2"},
        {"phone": f"+{R(3)}", "first_name": "€" * 1598, "customer_id": "c3"},
    ]
    campaign = make_campaign(rows, message={"fallback": "sms"})
    result = rcsbatch.run(campaign, gateway=gateway)
    assert result.report.counts["sent"] == 1 and result.report.counts["invalid"] == 2
    assert [m.to for m in sim.backend.accepted()] == [R(1)]
    results = pd.read_csv(result.folder / "results.csv", dtype=str).set_index("recipient")
    assert results.loc[R(2), "error_text"] == (
        "text is 5,000 characters; the limit is 3,072 characters (limits.text)"
    )
    assert results.loc[R(3), "error_text"] == (
        "text is 1,601 characters; the limit for an SMS fallback is 1,600 characters "
        "(limits.sms_fallback)"
    )
