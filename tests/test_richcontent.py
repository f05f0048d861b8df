"""Rich messages: reading the campaign's rich tables, merging them per row, sending and preview."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory

from rcsbatch.campaign import Campaign, load_campaign
from rcsbatch.cli import cli
from rcsbatch.errors import CampaignError
from rcsbatch.prepare import open_plan
from rcsbatch.request import SendSettings, message_params
from rcsbatch.richcontent import RICH_FORMS
from rcsbatch.runner import Gateway, run
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
    ("code", "reason"),
    [
        ("A1 B2", "the merged `message.richcard.file.url` is not an http(s) URL"),
        ("x" * 2100, "is longer than"),
    ],
)
def test_rows_whose_merged_url_is_malformed_are_invalid(
    tmp_path: Path, code: str, reason: str
) -> None:
    """A URL that is well formed only for some rows makes the others `invalid`, with the reason."""
    csv = f"phone,first_name,code,customer_id\n+4917610000001,A,ok,c1\n+4917610000002,B,{code},c2\n"
    rows = merged(write(tmp_path, CARD, csv=csv))
    assert rows.loc[2, "status"] == "ready"
    assert rows.loc[3, "status"] == "invalid" and reason in rows.loc[3, "reason"]


def test_row_whose_suggestion_text_merges_too_long_is_invalid(tmp_path: Path) -> None:
    """A suggestion text over RBM's 25 characters after merging makes that row `invalid`."""
    csv = "phone,first_name,code,customer_id\n+4917610000001,Maximilian-Alexander-X,A1,c1\n"
    rows = merged(write(tmp_path, CARD, csv=csv))
    assert rows.loc[2, "status"] == "invalid"
    assert "`message.richcard.suggestions[1].text` is longer than 25" in rows.loc[2, "reason"]


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
        result = run(campaign, campaign.report_dir, Gateway(sim.base_url, API_KEY, simulated=True))
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
        result = run(campaign, campaign.report_dir, Gateway(sim.base_url, API_KEY, simulated=True))
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


def test_readme_rich_examples_are_valid_campaigns() -> None:
    """The README's rich card example loads, and its carousel block is a valid carousel."""
    import re
    import tomllib

    from rcsbatch.campaign import parse_campaign

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Rich messages", 1)[1].split("\n## ", 1)[0]
    card, carousel = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    campaign = parse_campaign(tomllib.loads(card), ROOT / "campaigns" / "readme.toml")
    assert campaign.message.rich is not None and campaign.message.rich.content == "richcard"
    head = card.split("[message.richcard]", 1)[0]
    campaign = parse_campaign(tomllib.loads(head + carousel), ROOT / "campaigns" / "readme.toml")
    assert campaign.message.rich is not None and campaign.message.rich.content == "carousel"
