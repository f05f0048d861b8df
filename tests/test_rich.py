"""Rich messages: reading the campaign's rich tables, merging them per row, sending and preview."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory
from hypothesis import given
from hypothesis import strategies as st

import rcsbatch
from rcsbatch.campaign.file import Campaign, load_campaign
from rcsbatch.campaign.rich import (
    AS_IS,
    FRAGMENT,
    PATH,
    QUERY,
    RICH_FORMS,
    encode_component,
    url_parts,
)
from rcsbatch.campaign.template import Template
from rcsbatch.cli import cli
from rcsbatch.errors import CampaignError
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import SendSettings, message_params
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.simulator import Faults, SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
R = CampaignFactory.recipient

CARD = """
[message.richcard]
title = "Hi {first_name}"
description = "Code {code}"
orientation = "horizontal"
thumbnail_alignment = "left"
file = { url = "https://example.com/{code}.png", thumbnail_url = "https://example.com/t.png", \
  height = "tall" }

[[message.richcard.suggestions]]
type = "openUrl"
text = "Shop {first_name}"
url = "https://shop.example.com/?c={customer_id}"
"""

SUGGESTIONS = """
[[message.suggestions]]
type = "reply"
text = "Stop"
postback_data = "stop-{customer_id}"

[[message.suggestions]]
type = "dial"
text = "Call us"
phone_number = "+4930123456"

[[message.suggestions]]
type = "viewLocation"
text = "Find us"
location = { latitude = 52.52, longitude = 13.405, label = "Shop" }

[[message.suggestions]]
type = "createCalendarEvent"
text = "Remind me"
[message.suggestions.calendar_event]
title = "Sale"
start = "2026-12-01T09:00:00+01:00"
end = "2026-12-01T20:00:00+01:00"

[[message.suggestions]]
type = "shareLocation"
text = "Share"
"""

CAROUSEL = """
[message.carousel]
width = "small"

[[message.carousel.cards]]
title = "One {first_name}"

[[message.carousel.cards]]
description = "Two"
file = { url = "https://example.com/2.png" }
"""

FILE = """
[message.file]
url = "https://example.com/{code}.pdf"
"""


def write(tmp_path: Path, message: str, csv: str | None = None, text: str | None = None) -> Path:
    """A campaign whose [message] holds `message` (TOML) after an optional text."""
    csv = csv or (
        "phone,first_name,code,customer_id\n+4917610000001,Anna,A1,c1\n+4917610000002,Ben,B2,c2\n"
    )
    (tmp_path / "people.csv").write_text(csv, encoding="utf-8")
    head = 'name = "rich"\nrecipients = "people.csv"\n\n[message]\nforeign_id = "{customer_id}"\n'
    if text is not None:
        head += f"text = {json.dumps(text)}\n"
    path = tmp_path / "rich.toml"
    path.write_text(head + message, encoding="utf-8")
    return path


def merged(path: Path) -> pd.DataFrame:
    return pd.concat(list(open_plan(load_campaign(path)).chunks()))


@pytest.mark.parametrize(
    ("message", "text"),
    [(CARD, None), (CARD + SUGGESTIONS, None), (CAROUSEL, None), (FILE, None), (SUGGESTIONS, "Hi")],
    ids=["richcard", "richcard+suggestions", "carousel", "file", "text+suggestions"],
)
def test_valid_rich_campaigns_load(tmp_path: Path, message: str, text: str | None) -> None:
    """Each content type (with or without suggestions) reads into a rich message spec."""
    campaign = load_campaign(write(tmp_path, message, text=text))
    assert campaign.message.rich is not None
    assert campaign.message.rich.form == "json_text"


def test_plain_text_without_suggestions_is_not_rich(tmp_path: Path) -> None:
    """A text message with no suggestions stays plain text, even with rich_form set."""
    campaign = load_campaign(write(tmp_path, 'rich_form = "top_level"\n', text="Hi"))
    assert campaign.message.rich is None


BAD_SUGGESTION = '[[message.suggestions]]\ntype = "{type}"\ntext = "x"\n'


@pytest.mark.parametrize(
    ("message", "text", "key"),
    [
        (CARD, "Hi", "message.richcard"),
        (CARD + FILE, None, "message.file"),
        ('rich_form = "form"\n' + FILE, None, "message.rich_form"),
        (CARD + "colour = 1\n", None, "message.richcard.suggestions[1].colour"),
        ("[message.richcard]\norientation = 'vertical'\n", None, "message.richcard"),
        (
            "[message.richcard]\ntitle = 'x'\norientation = 'up'\n",
            None,
            "message.richcard.orientation",
        ),
        (
            "[message.richcard]\ntitle = 'x'\nfile = { url = 'ftp://x/y' }\n",
            None,
            "message.richcard.file.url",
        ),
        (
            "[message.richcard]\ntitle = 'x'\nfile = { url = 'https://x/y', height = 'huge' }\n",
            None,
            "message.richcard.file.height",
        ),
        ("[message.richcard]\ntitle = '" + "x" * 201 + "'\n", None, "message.richcard.title"),
        ("[message.richcard]\ntitle = 'x {'\n", None, "message.richcard.title"),
        (
            "[message.richcard]\ntitle = 'x'\n" + "[[message.richcard.suggestions]]\n"
            "type = 'reply'\ntext = 'r'\n" * 5,
            None,
            "message.richcard.suggestions",
        ),
        ('[[message.suggestions]]\ntype = "reply"\ntext = "r"\n' * 12, "Hi", "message.suggestions"),
        (BAD_SUGGESTION.format(type="call"), "Hi", "message.suggestions[1].type"),
        (BAD_SUGGESTION.format(type="dial"), "Hi", "message.suggestions[1].phone_number"),
        (BAD_SUGGESTION.format(type="openUrl"), "Hi", "message.suggestions[1].url"),
        (BAD_SUGGESTION.format(type="viewLocation"), "Hi", "message.suggestions[1].location"),
        (
            BAD_SUGGESTION.format(type="createCalendarEvent"),
            "Hi",
            "message.suggestions[1].calendar_event",
        ),
        (
            BAD_SUGGESTION.format(type="reply") + 'url = "https://x.y"\n',
            "Hi",
            "message.suggestions[1].url",
        ),
        (
            BAD_SUGGESTION.format(type="openUrl") + 'url = "example.com"\n',
            "Hi",
            "message.suggestions[1].url",
        ),
        (
            '[[message.suggestions]]\ntype = "reply"\ntext = "' + "x" * 26 + '"\n',
            "Hi",
            "message.suggestions[1].text",
        ),
        (
            BAD_SUGGESTION.format(type="viewLocation")
            + "location = { latitude = 91, longitude = 0 }\n",
            "Hi",
            "message.suggestions[1].location.latitude",
        ),
        (
            BAD_SUGGESTION.format(type="createCalendarEvent")
            + 'calendar_event = { title = "t", start = "2026-12-02 09:00", '
            + 'end = "2026-12-01 09:00" }\n',
            "Hi",
            "message.suggestions[1].calendar_event.end",
        ),
        (
            "[message.carousel]\nwidth = 'SMALL'\n[[message.carousel.cards]]\ntitle = 'one'\n",
            None,
            "message.carousel.cards",
        ),
        (CAROUSEL.replace('"small"', '"LARGE"'), None, "message.carousel.width"),
        (CAROUSEL + "orientation = 'vertical'\n", None, "message.carousel.cards[2].orientation"),
        ("[message.file]\nthumbnail_url = 'https://x.y/t.png'\n", None, "message.file.url"),
        (
            "[message.file]\nurl = 'https://x.y/f.pdf'\nheight = 'tall'\n",
            None,
            "message.file.height",
        ),
    ],
)
def test_invalid_rich_campaigns_name_the_key_and_the_file(
    tmp_path: Path, message: str, text: str | None, key: str
) -> None:
    """A broken rich table (two contents, limits, missing or stray keys, bad URL) names the key."""
    path = write(tmp_path, message, text=text)
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert f"`{key}`" in str(caught.value) and str(path) in str(caught.value)


def test_unknown_placeholder_in_a_rich_field_names_the_field(tmp_path: Path) -> None:
    """A placeholder in a card title naming no column is refused, naming the field."""
    path = write(tmp_path, "[message.richcard]\ntitle = 'Hi {nickname}'\n")
    with pytest.raises(Exception, match=r"nickname.*message\.richcard\.title"):
        open_plan(load_campaign(path))


def test_rich_fields_are_merged_per_row(tmp_path: Path) -> None:
    """Card title, suggestion text and URLs take each row's cells; the text is the RCS object."""
    rows = merged(write(tmp_path, CARD + SUGGESTIONS))
    first = json.loads(rows.loc[2, "text"])
    card = first["richcard"]
    assert card["title"] == "Hi Anna" and card["description"] == "Code A1"
    assert card["file"] == {
        "fileUrl": "https://example.com/A1.png",
        "thumbnailUrl": "https://example.com/t.png",
        "height": "tall",
    }
    assert card["orientation"] == "horizontal" and card["thumbnailImageAlignment"] == "left"
    assert card["suggestions"] == [
        {"type": "openUrl", "text": "Shop Anna", "url": "https://shop.example.com/?c=c1"}
    ]
    types = [s["type"] for s in first["suggestions"]]
    assert types == ["reply", "dial", "viewLocation", "createCalendarEvent", "shareLocation"]
    assert first["suggestions"][0]["postbackData"] == "stop-c1"
    assert first["suggestions"][2]["location"] == {
        "latitude": 52.52,
        "longitude": 13.405,
        "label": "Shop",
    }
    assert first["suggestions"][3]["calendarEvent"]["startTime"] == "2026-12-01T08:00:00Z"
    second = json.loads(rows.loc[3, "text"])
    assert second["richcard"]["suggestions"][0]["url"] == "https://shop.example.com/?c=c2"


def test_merged_values_are_escaped_as_json(tmp_path: Path) -> None:
    """Quotes, backslashes, newlines and non-ASCII in a cell survive the JSON unchanged."""
    csv = 'phone,first_name,code,customer_id\n+4917610000001,"Ä ""q"" \\ x\ny",A1,c1\n'
    rows = merged(write(tmp_path, CARD, csv=csv))
    assert json.loads(rows.loc[2, "text"])["richcard"]["title"] == 'Hi Ä "q" \\ x\ny'


@pytest.mark.parametrize(
    ("url", "code", "reason"),
    [
        (
            "https://{code}/x",
            "shop example.com",
            "is not an http(s) URL ('https://shop example.com/x')",
        ),
        ("https://{code}/x", "shop.example.com:99999", "Port out of range 0-65535"),
        ("https://{code}/x", "[::1", "is not an http(s) URL"),
        ("https://{code}/x", "", "empty cell in column `code`"),
        ("{code}", "javascript:alert(1)", "is not an http(s) URL ('javascript:alert(1)')"),
        ("{code}", "ftp://example.com/f.png", "is not an http(s) URL"),
        ("{code}", "https://example.com/a b.png", "is not an http(s) URL"),
        ("{code}", "https://example.com/" + "x" * 1981, "is 2,001 characters; the limit is 2,000"),
    ],
)
def test_a_url_placeholder_inserted_as_is_makes_a_bad_url_invalid(
    tmp_path: Path, url: str, code: str, reason: str
) -> None:
    """A placeholder forming the host or the whole URL goes in unencoded, and a row whose merged
    URL is not a well-formed http(s) URL within the limit is `invalid`, saying why."""
    good_code = "example.com" if url.startswith("https") else "https://x.y/"
    good = url.replace("{code}", good_code)
    csv = (
        "phone,first_name,code,customer_id\n"
        f"+4917610000001,A,{good_code},c1\n+4917610000002,B,{code},c2\n"
    )
    rows = merged(write(tmp_path, f"[message.file]\nurl = {json.dumps(url)}\n", csv=csv))
    assert rows.loc[2, "status"] == "ready"
    assert json.loads(rows.loc[2, "text"])["file"]["fileUrl"] == good
    assert rows.loc[3, "status"] == "invalid" and reason in rows.loc[3, "reason"]
    if "empty" not in reason:
        assert rows.loc[3, "reason"].startswith("the merged `message.file.url` ")


def test_row_whose_suggestion_text_merges_too_long_is_invalid(tmp_path: Path) -> None:
    """A suggestion text over RBM's 25 characters after merging makes that row `invalid`."""
    csv = "phone,first_name,code,customer_id\n+4917610000001,Maximilian-Alexander-X,A1,c1\n"
    rows = merged(write(tmp_path, CARD, csv=csv))
    assert rows.loc[2, "status"] == "invalid"
    assert rows.loc[2, "reason"] == (
        "the merged `message.richcard.suggestions[1].text` is 27 characters; "
        "the limit is 25 characters (limits.suggestion_text)"
    )


@pytest.mark.parametrize("form", sorted(RICH_FORMS))
def test_message_params_place_the_object_where_the_form_says(form: str) -> None:
    """json_text sends the object as text, json_string its JSON, top_level its keys beside to."""
    obj = {"richcard": {"title": "Hi"}, "suggestions": [{"type": "reply", "text": "r"}]}
    text = json.dumps(obj, separators=(",", ":"))
    params = message_params(
        SendSettings(rich_form=form),
        recipient=49,
        text=text,
        label=None,
        foreign_id=None,
        now=0.0,
        deadline=6000.0,
    )
    expected = {"json_text": {"text": obj}, "json_string": {"text": text}, "top_level": obj}
    assert {k: v for k, v in params.items() if k not in ("to", "ttl")} == expected[form]


def test_plain_campaign_sends_braces_as_text() -> None:
    """Without rich content a text that looks like JSON is sent as it is."""
    params = message_params(
        SendSettings(),
        recipient=49,
        text='{"richcard":{}}',
        label=None,
        foreign_id=None,
        now=0.0,
        deadline=6000.0,
    )
    assert params["text"] == '{"richcard":{}}'


def rich_campaign(tmp_path: Path, form: str) -> Campaign:
    """Three customers, each sent a card whose title, picture and button URL name them."""
    csv = "phone,first_name,code,customer_id\n" + "".join(
        f"+{R(i)},Name{i},K{i},c{i}\n" for i in (1, 2, 3)
    )
    message = (
        f'rich_form = "{form}"\n\n[message.richcard]\ntitle = "Hi {{first_name}}"\n'
        'file = { url = "https://example.com/{customer_id}.png" }\n'
        '[[message.richcard.suggestions]]\ntype = "openUrl"\ntext = "Open"\n'
        'url = "https://example.com/?c={customer_id}"\n'
    )
    return load_campaign(write(tmp_path, message, csv=csv))


@pytest.mark.parametrize("form", sorted(RICH_FORMS))
def test_rich_campaign_end_to_end_under_each_form(tmp_path: Path, form: str) -> None:
    """Each rich_form is accepted by a gateway that takes that form: every row sent, merged."""
    campaign = rich_campaign(tmp_path, form)
    with SimulatorServer(Faults(rich_form=RICH_FORMS[form])) as sim:  # type: ignore[arg-type]
        result = rcsbatch.run(campaign, gateway=Gateway(sim.base_url, API_KEY, simulated=True))
        accepted = {m.to: m for m in sim.backend.accepted()}
    assert result.report.exit_code == 0 and result.report.counts["sent"] == 3
    for i in (1, 2, 3):
        m = accepted[R(i)]
        assert m.rich
        card = json.loads(m.text)["richcard"]
        assert card["title"] == f"Hi Name{i}"
        assert card["file"]["fileUrl"] == f"https://example.com/c{i}.png"
        assert card["suggestions"][0]["url"] == f"https://example.com/?c=c{i}"


@pytest.mark.parametrize("form", sorted(RICH_FORMS))
def test_mismatched_rich_form_fails_each_row_with_305(tmp_path: Path, form: str) -> None:
    """A gateway that takes another form refuses each row (305 `failed`); the run completes."""
    campaign = rich_campaign(tmp_path, form)
    other = next(v for k, v in RICH_FORMS.items() if k != form)
    with SimulatorServer(Faults(rich_form=other)) as sim:  # type: ignore[arg-type]
        result = rcsbatch.run(campaign, gateway=Gateway(sim.base_url, API_KEY, simulated=True))
        assert not sim.backend.accepted()
    assert result.report.counts["failed"] == 3 and result.report.exit_code == 1
    results = pd.read_csv(result.folder / "results.csv", dtype=str)
    assert set(results["error_code"]) == {"305"}


def test_simulate_takes_the_campaigns_rich_form(tmp_path: Path) -> None:
    """`run --simulate` starts a simulator that takes the campaign's rich_form."""
    path = write(tmp_path, 'rich_form = "top_level"\n' + CARD)
    result = CliRunner().invoke(cli, ["run", str(path), "--simulate", "-q"])
    assert result.exit_code == 0, result.output


def test_preview_draws_cards_and_buttons(tmp_path: Path) -> None:
    """`preview` shows a panel per carousel card with title and media, and the buttons."""
    path = write(tmp_path, CAROUSEL + SUGGESTIONS)
    result = CliRunner().invoke(cli, ["preview", str(path), "-n", "1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "card 1 of 2" in out and "card 2 of 2" in out and "One Anna" in out
    assert "media: https://example.com/2.png" in out
    assert "Stop → postback stop-c1" in out and "Call us → +4930123456" in out
    assert "sent as json_text" in out


def test_preview_json_prints_the_exact_body(tmp_path: Path) -> None:
    """`preview --json` prints the body with the RCS object placed as the form says."""
    path = write(tmp_path, 'rich_form = "top_level"\n' + FILE)
    result = CliRunner().invoke(cli, ["preview", str(path), "-n", "1", "--json"])
    body = json.loads(result.stdout)
    assert body["file"] == {"fileUrl": "https://example.com/A1.pdf"} and "text" not in body


def test_example_richcard_campaign_is_valid() -> None:
    """campaigns/example-richcard.toml loads and merges the sample customers into cards."""
    campaign = load_campaign(ROOT / "campaigns" / "example-richcard.toml")
    rows = pd.concat(list(open_plan(campaign).chunks()))
    ready = rows[rows["status"] == "ready"]
    assert len(ready) > 5
    assert "Anna" in json.loads(ready["text"].iloc[0])["richcard"]["title"]


def test_docs_rich_examples_are_valid_campaigns() -> None:
    """docs/rich-messages.md's rich card example loads, and its carousel block is a valid
    carousel."""
    import re
    import tomllib

    from rcsbatch.campaign.file import parse_campaign

    section = (ROOT / "docs" / "rich-messages.md").read_text(encoding="utf-8")
    card, carousel = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    campaign = parse_campaign(tomllib.loads(card), ROOT / "campaigns" / "readme.toml")
    assert campaign.message.rich is not None and campaign.message.rich.content == "richcard"
    head = card.split("[message.richcard]", 1)[0]
    campaign = parse_campaign(tomllib.loads(head + carousel), ROOT / "campaigns" / "readme.toml")
    assert campaign.message.rich is not None and campaign.message.rich.content == "carousel"


# ---- placeholders in URLs ------------------------------------------------------------------


def url_table() -> list[tuple[str, str, str]]:
    """docs/campaign-file.md's table of cell, URL template and merged URL."""
    import re

    page = (ROOT / "docs" / "campaign-file.md").read_text(encoding="utf-8")
    section = page.split("### Placeholders in URLs", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]*)` \| `([^`]*)` \| `([^`]*)` \|$", section, flags=re.M)


def test_url_table_is_there() -> None:
    """The URL encoding table (docs/campaign-file.md) has its rows (the test below reads them)."""
    assert len(url_table()) >= 8


@pytest.mark.parametrize(("cell", "url", "expected"), url_table())
def test_url_placeholders_merge_as_the_table_says(
    tmp_path: Path, cell: str, url: str, expected: str
) -> None:
    """Each row of the URL table: the cell in that template merges to that URL, in a file
    URL and in an openUrl suggestion alike."""
    message = (
        f"[message.file]\nurl = {json.dumps(url)}\n\n[[message.suggestions]]\n"
        f'type = "openUrl"\ntext = "Open"\nurl = {json.dumps(url)}\n'
    )
    frame = pd.DataFrame({"phone": ["+4917610000001"], "code": [cell], "customer_id": ["c1"]})
    frame.to_csv(tmp_path / "people.csv", index=False)
    rows = merged(write(tmp_path, message, csv=(tmp_path / "people.csv").read_text()))
    assert rows.loc[2, "status"] == "ready", rows.loc[2, "reason"]
    obj = json.loads(rows.loc[2, "text"])
    assert obj["file"]["fileUrl"] == expected
    assert obj["suggestions"][0]["url"] == expected


@pytest.mark.parametrize(
    ("template", "parts"),
    [
        (
            "https://example.com/p/{a}/{b}?{n}={v}&x={w}#s-{f}",
            (PATH, PATH, QUERY, QUERY, QUERY, FRAGMENT),
        ),
        ("https://{host}:8443/{p}", (AS_IS, PATH)),
        ("{scheme}://{host}/{p}?q={q}", (AS_IS, AS_IS, PATH, QUERY)),
        ("{link}", (AS_IS,)),
        ("{link}/{p}", (AS_IS, PATH)),
        ("{link}&ref={r}", (AS_IS, QUERY)),
        ("{link}#{f}", (AS_IS, FRAGMENT)),
        ("{link}{more}", (AS_IS, AS_IS)),
        ("https://example.com/?a={a}#{b}?c={c}", (QUERY, FRAGMENT, FRAGMENT)),
    ],
)
def test_url_parts_reads_where_each_placeholder_lands(
    template: str, parts: tuple[str, ...]
) -> None:
    """The part of the URL a placeholder lands in is read from the text before it."""
    assert url_parts(Template.parse(template)) == parts


@given(st.text(st.characters(exclude_categories=("Cs",))), st.sampled_from([PATH, QUERY, FRAGMENT]))
def test_encoding_is_never_done_twice_and_decodes_back(value: str, part: str) -> None:
    """Encoding an encoded value changes nothing (no %XX is encoded twice); a value without `%`
    decodes back to itself; the result holds none of the part's delimiters."""
    from urllib.parse import unquote

    encoded = encode_component(value, part)
    assert encode_component(encoded, part) == encoded
    if "%" not in value:
        assert unquote(encoded) == value
    forbidden = "/?#;+" if part == PATH else "&=#+;"
    assert not set(encoded) & set(forbidden + " ")


def test_url_template_text_must_fit_a_url(tmp_path: Path) -> None:
    """A URL template whose own text holds a space, or starts with another scheme, refuses the
    campaign naming the field."""
    for url, says in [
        ("https://example.com/a b/{code}", "holds a space or line break outside its placeholders"),
        ("ftp://example.com/{code}", "must start with http:// or https://"),
    ]:
        path = write(tmp_path, f"[message.file]\nurl = {json.dumps(url)}\n")
        with pytest.raises(CampaignError, match=rf"`message\.file\.url` {says}"):
            load_campaign(path)


def test_preview_shows_the_url_encoded_as_sent(tmp_path: Path) -> None:
    """`preview` shows a URL placeholder's cell encoded, as the request carries it."""
    csv = "phone,first_name,code,customer_id\n+4917610000001,Anna,A&B=C#d x,c1\n"
    message = (
        '[[message.suggestions]]\ntype = "openUrl"\ntext = "Shop"\n'
        'url = "https://shop.example.com/?code={code}"\n'
    )
    path = write(tmp_path, message, csv=csv, text="Hi")
    shown = CliRunner().invoke(cli, ["preview", str(path), "-n", "1"])
    assert shown.exit_code == 0, shown.output
    assert "https://shop.example.com/?code=A%26B%3DC%23d%20x" in shown.stdout
    body = json.loads(CliRunner().invoke(cli, ["preview", str(path), "-n", "1", "--json"]).stdout)
    assert (
        body["text"]["suggestions"][0]["url"] == "https://shop.example.com/?code=A%26B%3DC%23d%20x"
    )


def test_run_sends_url_placeholders_encoded(tmp_path: Path) -> None:
    """A run sends a cell `A&B=C#d` in a query as `A%26B%3DC%23d` and a space as `%20`: the
    gateway gets the link the cell meant, and the row is sent, not `invalid`."""
    csv = (
        f"phone,first_name,code,customer_id\n+{R(1)},Anna,A&B=C#d,c1\n+{R(2)},Ben,spring sale,c2\n"
    )
    message = '[message.file]\nurl = "https://example.com/f/{first_name}.pdf?code={code}"\n'
    campaign = load_campaign(write(tmp_path, message, csv=csv))
    with SimulatorServer() as sim:
        result = rcsbatch.run(campaign, gateway=Gateway(sim.base_url, API_KEY, simulated=True))
        urls = {m.to: json.loads(m.text)["file"]["fileUrl"] for m in sim.backend.accepted()}
    assert result.report.counts["sent"] == 2
    assert urls == {
        R(1): "https://example.com/f/Anna.pdf?code=A%26B%3DC%23d",
        R(2): "https://example.com/f/Ben.pdf?code=spring%20sale",
    }
