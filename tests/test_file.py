"""Tests for rcsbatch.campaign.file: the campaign file contract (keys, defaults, paths, errors)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rcsbatch.campaign.file import Campaign, check_validity, load_campaign
from rcsbatch.errors import CampaignError
from rcsbatch.recipients import phones

# The example from the campaign-file contract, comments and all.
FULL_EXAMPLE = """\
name = "spring-sale"                          # A-Z a-z 0-9 . _ - @, at most 64 characters
recipients = "../sample_data/customers.csv"   # .csv, .parquet or .xlsx; relative to this file
phone_column = "phone"                        # default "phone"
default_region = "DE"                         # country for numbers written without a country code
suppress = "../sample_data/optouts.csv"       # optional: numbers never to message (one column)
sheet = "Recipients"                          # optional, xlsx only; default: the first sheet
encoding = "utf-8"                            # optional, CSV only; default utf-8 (a BOM is fine)
report_dir = "../reports"                     # optional; relative to this file; default "reports" beside it

[message]
from = "myfancyagent"                         # optional agent id
text = "Hi {first_name}, your code {code} is valid until Sunday."
label = "spring_2026"                         # optional; may use placeholders too
foreign_id = "{customer_id}"                  # optional template
ttl = 2880                                    # minutes; default 2880
delay = "2026-12-01 09:00"                    # optional: "YYYY-MM-DD HH:MM", ISO 8601 with offset, or Unix seconds
timezone = "Europe/Berlin"                    # how to read a delay without an offset; default: the machine's zone
performance_tracking = false
fallback = "sms"                              # optional: sms | webview

[message.defaults]                            # optional: values for empty cells
first_name = "there"

[send]
concurrency = 16                              # requests in flight
rate = 0                                      # messages per second at most; 0 = no cap
max_attempts = 5
price_estimate = 0.05                         # optional: price per message for estimates
"""  # noqa: E501 (the contract's text, verbatim)

BASE_TOP = {"name": '"spring-sale"', "recipients": '"customers.csv"'}
BASE_MESSAGE = {"text": '"Hi {first_name}"'}


def campaign_source(
    top: dict[str, str | None] | None = None,
    message: dict[str, str | None] | None = None,
    send: dict[str, str | None] | None = None,
) -> str:
    """A small valid campaign file with keys (as TOML source) added, replaced or (None) removed."""

    def table(base: dict[str, str], changes: dict[str, str | None] | None) -> str:
        merged: dict[str, str | None] = {**base, **(changes or {})}
        return "".join(f"{k} = {v}\n" for k, v in merged.items() if v is not None)

    text = table(BASE_TOP, top) + "\n[message]\n" + table(BASE_MESSAGE, message)
    if send is not None:
        text += "\n[send]\n" + table({}, send)
    return text


def write_campaign(folder: Path, text: str, name: str = "spring.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, **tables: dict[str, str | None]) -> Campaign:
    return load_campaign(write_campaign(tmp_path, campaign_source(**tables)))


def utc(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


# --- a valid file ---------------------------------------------------------------------------


def test_full_example_loads_every_value(tmp_path: Path) -> None:
    """The contract's example file loads with every value, paths resolved beside the file."""
    path = write_campaign(tmp_path / "campaigns", FULL_EXAMPLE)
    campaign = load_campaign(path)
    root = tmp_path.resolve()

    assert campaign.path == path.resolve()
    assert campaign.name == "spring-sale"
    assert campaign.recipients.resolve() == root / "sample_data" / "customers.csv"
    assert campaign.phone_column == "phone"
    assert campaign.default_region == "DE"
    assert campaign.suppress is not None
    assert campaign.suppress.resolve() == root / "sample_data" / "optouts.csv"
    assert campaign.sheet == "Recipients"
    assert campaign.encoding == "utf-8"
    assert campaign.report_dir.resolve() == root / "reports"

    message = campaign.message
    assert message.sender == "myfancyagent"
    assert message.text.source == "Hi {first_name}, your code {code} is valid until Sunday."
    assert message.text.fields == ("first_name", "code")
    assert message.label is not None
    assert message.label.source == "spring_2026"
    assert message.label.is_constant
    assert message.foreign_id is not None
    assert message.foreign_id.fields == ("customer_id",)
    assert message.columns == {"first_name", "code", "customer_id"}
    assert message.ttl == 2880
    assert message.delay == utc(2026, 12, 1, 8, 0)  # 09:00 in Berlin, winter time (UTC+1)
    assert message.timezone == ZoneInfo("Europe/Berlin")
    assert message.performance_tracking is False
    assert message.fallback == "sms"
    assert dict(message.defaults) == {"first_name": "there"}

    send = campaign.send
    assert send.concurrency == 16
    assert send.rate == 0
    assert send.max_attempts == 5
    assert send.price_estimate == Decimal("0.05")


def test_defaults_for_a_minimal_file(tmp_path: Path) -> None:
    """A file with only name, recipients and text gets the contract's defaults."""
    campaign = load(tmp_path)
    assert campaign.phone_column == "phone"
    assert campaign.encoding == "utf-8"
    assert campaign.suppress is None
    assert campaign.sheet is None
    assert campaign.report_dir == tmp_path.resolve() / "reports"
    assert campaign.message.ttl == 2880
    assert campaign.message.delay is None
    assert campaign.message.timezone is None
    assert campaign.message.sender is None
    assert campaign.message.label is None
    assert campaign.message.foreign_id is None
    assert campaign.message.fallback is None
    assert campaign.message.performance_tracking is False
    assert dict(campaign.message.defaults) == {}
    assert campaign.send.concurrency == 16
    assert campaign.send.rate == 0
    assert campaign.send.max_attempts == 5
    assert campaign.send.price_estimate is None


def test_guard_settings_default_to_safe_values(tmp_path: Path) -> None:
    """Without them: settle 300 s by the logbook, no not_after, no window, give up after 600 s."""
    send = load(tmp_path).send
    assert (send.settle_seconds, send.on_unknown, send.not_after) == (300, "reconcile", None)
    assert (send.window, send.outside_window, send.give_up_after) == (None, "wait", 600)


def test_not_after_is_read_in_the_campaigns_timezone(tmp_path: Path) -> None:
    """not_after "2026-12-01 20:00" with timezone Europe/Berlin is 19:00 UTC; the window is
    kept as given."""
    campaign = load(
        tmp_path,
        message={"timezone": '"Europe/Berlin"'},
        send={"not_after": '"2026-12-01 20:00"', "window": '"20:00-08:00"'},
    )
    assert campaign.send.not_after == dt.datetime(2026, 12, 1, 19, 0, tzinfo=dt.UTC)
    assert str(campaign.send.window) == "20:00-08:00"


def test_empty_send_table_gives_the_defaults(tmp_path: Path) -> None:
    """An empty `[send]` table means the same as none."""
    campaign = load(tmp_path, send={})
    assert (campaign.send.concurrency, campaign.send.rate, campaign.send.max_attempts) == (16, 0, 5)


@pytest.mark.parametrize("how", ["absolute", "relative-to-cwd"])
def test_paths_are_relative_to_the_campaign_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """recipients, suppress and report_dir resolve beside the file, whatever the cwd."""
    path = write_campaign(
        tmp_path / "project" / "campaigns",
        campaign_source(
            top={
                "recipients": '"../data/people.csv"',
                "suppress": '"optouts.csv"',
                "report_dir": '"out/reports"',
            }
        ),
    )
    elsewhere = tmp_path / "elsewhere" / "deep"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    given = path if how == "absolute" else Path("../../project/campaigns/spring.toml")
    campaign = load_campaign(given)

    project = (tmp_path / "project").resolve()
    assert campaign.path == project / "campaigns" / "spring.toml"
    assert campaign.recipients.resolve() == project / "data" / "people.csv"
    assert campaign.suppress is not None
    assert campaign.suppress.resolve() == project / "campaigns" / "optouts.csv"
    assert campaign.report_dir.resolve() == project / "campaigns" / "out" / "reports"
    for resolved in (campaign.path, campaign.recipients, campaign.suppress, campaign.report_dir):
        assert resolved.is_absolute()


def test_default_report_dir_is_beside_the_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without report_dir, reports go to `reports` beside the campaign file."""
    path = write_campaign(tmp_path / "campaigns", campaign_source())
    monkeypatch.chdir(tmp_path)
    assert load_campaign(path).report_dir == (tmp_path / "campaigns" / "reports").resolve()


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    """An absolute path in the file is used as it is."""
    target = (tmp_path / "somewhere" / "people.parquet").resolve()
    campaign = load(tmp_path, top={"recipients": f'"{target}"'})
    assert campaign.recipients == target


@pytest.mark.parametrize(
    "name", ["a", "spring-sale", "Spring_2026.v2", "team@example.com", "x" * 64, "-.-", "0"]
)
def test_name_accepts_the_allowed_characters(tmp_path: Path, name: str) -> None:
    """A name of A-Z a-z 0-9 . _ - @ up to 64 characters is accepted as written."""
    assert load(tmp_path, top={"name": f'"{name}"'}).name == name


@pytest.mark.parametrize("fallback", ["sms", "webview"])
def test_fallback_accepts_sms_and_webview(tmp_path: Path, fallback: str) -> None:
    """`fallback` accepts exactly sms and webview."""
    assert load(tmp_path, message={"fallback": f'"{fallback}"'}).message.fallback == fallback


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("0.05", "0.05"),
        ("0.1", "0.1"),
        ("0.0725", "0.0725"),
        ("1", "1"),
        ("0", "0"),
        ('"0.05"', "0.05"),
    ],
)
def test_price_estimate_is_an_exact_decimal(tmp_path: Path, source: str, expected: str) -> None:
    """price_estimate becomes the Decimal written in the file, never its binary-float twin."""
    estimate = load(tmp_path, send={"price_estimate": source}).send.price_estimate
    assert isinstance(estimate, Decimal)
    assert estimate == Decimal(expected)


def test_rate_and_limits_take_given_values(tmp_path: Path) -> None:
    """Given ttl, concurrency, rate and max_attempts are kept (rate may be fractional)."""
    campaign = load(
        tmp_path,
        message={"ttl": "60"},
        send={"concurrency": "4", "rate": "2.5", "max_attempts": "1"},
    )
    assert campaign.message.ttl == 60
    send = campaign.send
    assert (send.concurrency, send.rate, send.max_attempts) == (4, 2.5, 1)


def test_defaults_values_become_text(tmp_path: Path) -> None:
    """[message.defaults] values, strings or numbers, are kept as text for any column name."""
    path = write_campaign(
        tmp_path,
        campaign_source() + '[message.defaults]\nfirst_name = "there"\n'
        'code = 0\n"first name" = "du"\n',
    )
    assert dict(load_campaign(path).message.defaults) == {
        "first_name": "there",
        "code": "0",
        "first name": "du",
    }


def test_utf8_bom_in_the_campaign_file_is_fine(tmp_path: Path) -> None:
    """A campaign file saved with a UTF-8 BOM (Windows editors) loads."""
    path = tmp_path / "spring.toml"
    path.write_bytes(b"\xef\xbb\xbf" + campaign_source().encode())
    assert load_campaign(path).name == "spring-sale"


# --- delay ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "timezone", "expected"),
    [
        # "YYYY-MM-DD HH:MM" in the campaign's zone, winter and summer time
        ('"2026-12-01 09:00"', "Europe/Berlin", utc(2026, 12, 1, 8, 0)),
        ('"2026-07-01 09:00"', "Europe/Berlin", utc(2026, 7, 1, 7, 0)),
        ('"2026-03-29 03:00"', "Europe/Berlin", utc(2026, 3, 29, 1, 0)),  # first summer hour
        ('"2026-03-29 01:59"', "Europe/Berlin", utc(2026, 3, 29, 0, 59)),  # last winter minute
        ('"2026-07-01 09:00"', "America/New_York", utc(2026, 7, 1, 13, 0)),
        ('"2026-12-01 09:00"', "Asia/Kolkata", utc(2026, 12, 1, 3, 30)),
        ('"2026-12-01 09:00"', "UTC", utc(2026, 12, 1, 9, 0)),
        # ISO 8601: the offset wins over the campaign's zone
        ('"2026-12-01T09:00:00+01:00"', "America/New_York", utc(2026, 12, 1, 8, 0)),
        ('"2026-07-01T09:00:00-04:00"', "Europe/Berlin", utc(2026, 7, 1, 13, 0)),
        ('"2026-12-01T09:00:00Z"', "Europe/Berlin", utc(2026, 12, 1, 9, 0)),
        ('"2026-12-01T09:00:00"', "Europe/Berlin", utc(2026, 12, 1, 8, 0)),
        # Unix seconds, as a number or a string: no zone involved
        ("1796112000", "America/New_York", utc(2026, 12, 1, 8, 0)),
        ('"1796112000"', "America/New_York", utc(2026, 12, 1, 8, 0)),
        # native TOML date-times, with and without offset
        ("2026-12-01T09:00:00+01:00", "America/New_York", utc(2026, 12, 1, 8, 0)),
        ("2026-12-01T09:00:00Z", "Europe/Berlin", utc(2026, 12, 1, 9, 0)),
        ("2026-07-01T09:00:00", "Europe/Berlin", utc(2026, 7, 1, 7, 0)),
        ("2026-12-01 09:00:00", "Europe/Berlin", utc(2026, 12, 1, 8, 0)),
    ],
)
def test_delay_forms_give_the_right_utc_moment(
    tmp_path: Path, delay: str, timezone: str, expected: dt.datetime
) -> None:
    """Every delay form becomes an aware UTC moment; one without offset is read in `timezone`."""
    moment = load(tmp_path, message={"delay": delay, "timezone": f'"{timezone}"'}).message.delay
    assert moment == expected
    assert moment is not None
    assert moment.utcoffset() == dt.timedelta(0)


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the machine's local zone America/New_York for one test."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("machine_zone")
@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        ('"2026-12-01 09:00"', utc(2026, 12, 1, 14, 0)),
        ('"2026-07-01 09:00"', utc(2026, 7, 1, 13, 0)),
        ("2026-07-01T09:00:00", utc(2026, 7, 1, 13, 0)),
        ('"2026-07-01T09:00:00+02:00"', utc(2026, 7, 1, 7, 0)),
    ],
)
def test_delay_without_timezone_is_read_in_the_machines_zone(
    tmp_path: Path, delay: str, expected: dt.datetime
) -> None:
    """Without `timezone`, a delay without offset is read in the machine's zone, DST included."""
    assert load(tmp_path, message={"delay": delay}).message.delay == expected


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("message", "delay", '"2027-03-28 02:30"'),
        ("send", "not_after", '"2027-03-28 02:30"'),
        ("message", "delay", "2027-03-28T02:30:00"),  # a TOML local date-time
    ],
)
def test_a_local_time_the_clocks_skip_is_refused_naming_the_key(
    tmp_path: Path, table: str, key: str, value: str
) -> None:
    """02:30 on 2027-03-28 does not exist in Berlin (02:00 -> 03:00): a CampaignError naming the
    key, saying why and suggesting the time after the jump, instead of a silent 03:30."""
    tables: dict[str, dict[str, str]] = {"message": {"timezone": '"Europe/Berlin"'}}
    tables.setdefault(table, {})[key] = value
    with pytest.raises(CampaignError) as error:
        load(tmp_path, **tables)
    message = str(error.value)
    assert f"`{table}.{key}`" in message and "does not exist in Europe/Berlin" in message
    assert "daylight saving" in message
    assert '"2027-03-28 03:30"' in message and '"2027-03-28T02:30:00+01:00"' in message


@pytest.mark.usefixtures("machine_zone")
def test_a_skipped_local_time_in_the_machines_zone_is_refused(tmp_path: Path) -> None:
    """Without `timezone`, a time New York skips (2027-03-14 02:30) is refused too."""
    with pytest.raises(CampaignError, match="does not exist in the machine's time zone") as error:
        load(tmp_path, message={"delay": '"2027-03-14 02:30"'})
    assert '"2027-03-14 03:30"' in str(error.value)


@pytest.mark.parametrize("key", ["delay", "not_after"])
def test_a_local_time_passed_twice_is_the_earlier_moment(tmp_path: Path, key: str) -> None:
    """02:30 on 2027-10-31 happens twice in Berlin (03:00 -> 02:00): the first, 00:30 UTC."""
    table = "message" if key == "delay" else "send"
    tables: dict[str, dict[str, str]] = {"message": {"timezone": '"Europe/Berlin"'}}
    tables.setdefault(table, {})[key] = '"2027-10-31 02:30"'
    campaign = load(tmp_path, **tables)
    moment = campaign.message.delay if key == "delay" else campaign.send.not_after
    assert moment == utc(2027, 10, 31, 0, 30)


# --- errors that name the key and the file --------------------------------------------------


def assert_names(error: pytest.ExceptionInfo[CampaignError], key: str, path: Path) -> None:
    message = str(error.value)
    assert f"`{key}`" in message, message
    assert str(path.resolve()) in message, message


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"top": {"colour": '"red"'}}, "colour"),
        ({"top": {"Name": '"x"'}}, "Name"),
        ({"top": {"delay": '"2026-12-01 09:00"'}}, "delay"),
        ({"message": {"subject": '"Hello"'}}, "message.subject"),
        ({"message": {"concurrency": "4"}}, "message.concurrency"),
        ({"send": {"workers": "4"}}, "send.workers"),
        ({"send": {"ttl": "60"}}, "send.ttl"),
    ],
)
def test_unknown_key_is_an_error_naming_it_and_the_file(
    tmp_path: Path, tables: dict[str, dict[str, str | None]], key: str
) -> None:
    """A key the contract does not know, at any level, is a CampaignError naming it and the file."""
    path = write_campaign(tmp_path, campaign_source(**tables))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert_names(caught, key, path)


def test_unknown_table_is_an_error_naming_it(tmp_path: Path) -> None:
    """An unknown table such as `[sending]` is a CampaignError naming it."""
    path = write_campaign(tmp_path, campaign_source() + "\n[sending]\nrate = 1\n")
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert_names(caught, "sending", path)


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"top": {"name": "5"}}, "name"),
        ({"top": {"recipients": '["a.csv"]'}}, "recipients"),
        ({"top": {"phone_column": "1"}}, "phone_column"),
        ({"top": {"default_region": "49"}}, "default_region"),
        ({"top": {"suppress": "true"}}, "suppress"),
        ({"top": {"sheet": "1"}}, "sheet"),
        ({"top": {"locale": '"xx-YY"'}}, "locale"),
        ({"top": {"locale": "1"}}, "locale"),
        ({"top": {"raw_columns": '"zip"'}}, "raw_columns"),
        ({"top": {"raw_columns": "[1]"}}, "raw_columns"),
        ({"top": {"encoding": "8"}}, "encoding"),
        ({"top": {"report_dir": "{ path = 'x' }"}}, "report_dir"),
        ({"message": {"text": "42"}}, "message.text"),
        ({"message": {"from": "1"}}, "message.from"),
        ({"message": {"label": "false"}}, "message.label"),
        ({"message": {"foreign_id": "7"}}, "message.foreign_id"),
        ({"message": {"ttl": '"2880"'}}, "message.ttl"),
        ({"message": {"ttl": "2880.0"}}, "message.ttl"),
        ({"message": {"ttl": "true"}}, "message.ttl"),
        ({"message": {"delay": "1.5"}}, "message.delay"),
        ({"message": {"delay": "true"}}, "message.delay"),
        ({"message": {"delay": "2026-12-01"}}, "message.delay"),
        ({"message": {"delay": "09:00:00"}}, "message.delay"),
        ({"message": {"timezone": "1"}}, "message.timezone"),
        ({"message": {"performance_tracking": '"yes"'}}, "message.performance_tracking"),
        ({"message": {"performance_tracking": "1"}}, "message.performance_tracking"),
        ({"message": {"fallback": "true"}}, "message.fallback"),
        ({"message": {"defaults": '"there"'}}, "message.defaults"),
        ({"message": {"defaults": "{ first_name = [1] }"}}, "message.defaults.first_name"),
        ({"message": {"defaults": "{ first_name = true }"}}, "message.defaults.first_name"),
        ({"send": {"concurrency": "true"}}, "send.concurrency"),
        ({"send": {"concurrency": '"16"'}}, "send.concurrency"),
        ({"send": {"concurrency": "16.0"}}, "send.concurrency"),
        ({"send": {"rate": '"fast"'}}, "send.rate"),
        ({"send": {"rate": "false"}}, "send.rate"),
        ({"send": {"max_attempts": "5.0"}}, "send.max_attempts"),
        ({"send": {"max_attempts": "true"}}, "send.max_attempts"),
        ({"send": {"price_estimate": "true"}}, "send.price_estimate"),
        ({"send": {"price_estimate": '"five cents"'}}, "send.price_estimate"),
    ],
)
def test_wrong_type_is_an_error_naming_the_key_and_the_file(
    tmp_path: Path, tables: dict[str, dict[str, str | None]], key: str
) -> None:
    """A value of the wrong TOML type (a boolean is never a number) names the key and the file."""
    path = write_campaign(tmp_path, campaign_source(**tables))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert_names(caught, key, path)


@pytest.mark.parametrize(
    ("tables", "key"),
    [
        ({"top": {"name": '"spring sale"'}}, "name"),
        ({"top": {"name": '"spring/sale"'}}, "name"),
        ({"top": {"name": '"früh"'}}, "name"),
        ({"top": {"name": '"a+b"'}}, "name"),
        ({"top": {"name": '""'}}, "name"),
        ({"top": {"name": '".."'}}, "name"),
        ({"top": {"name": '"."'}}, "name"),
        ({"top": {"name": '"' + "x" * 65 + '"'}}, "name"),
        ({"top": {"name": None}}, "name"),
        ({"top": {"recipients": None}}, "recipients"),
        ({"top": {"recipients": '"people.json"'}}, "recipients"),
        ({"top": {"recipients": '""'}}, "recipients"),
        ({"top": {"phone_column": '""'}}, "phone_column"),
        ({"top": {"default_region": '"XX"'}}, "default_region"),
        ({"top": {"default_region": '"Germany"'}}, "default_region"),
        ({"top": {"encoding": '"klingon-8"'}}, "encoding"),
        ({"message": {"text": None}}, "message.text"),
        ({"message": {"text": '""'}}, "message.text"),
        ({"message": {"ttl": "0"}}, "message.ttl"),
        ({"message": {"ttl": "-1"}}, "message.ttl"),
        ({"message": {"timezone": '"Mars/Olympus_Mons"'}}, "message.timezone"),
        ({"message": {"timezone": '"CEST+2"'}}, "message.timezone"),
        ({"message": {"fallback": '"mms"'}}, "message.fallback"),
        ({"message": {"fallback": '"SMS "'}}, "message.fallback"),
        ({"message": {"delay": '"tomorrow"'}}, "message.delay"),
        ({"message": {"delay": '"2026-13-01 09:00"'}}, "message.delay"),
        ({"message": {"delay": '"01.12.2026 09:00"'}}, "message.delay"),
        ({"message": {"delay": "-5"}}, "message.delay"),
        ({"message": {"delay": "9223372036854775807"}}, "message.delay"),
        ({"message": {"delay": '"100000000000000000000"'}}, "message.delay"),
        ({"message": {"delay": '"0001-01-01 00:00"'}}, "message.delay"),
        ({"message": {"delay": '"\u00b2"'}}, "message.delay"),
        ({"send": {"concurrency": "0"}}, "send.concurrency"),
        ({"send": {"concurrency": "-4"}}, "send.concurrency"),
        ({"send": {"rate": "-1"}}, "send.rate"),
        ({"send": {"rate": "nan"}}, "send.rate"),
        ({"send": {"rate": "1e-308"}}, "send.rate"),
        ({"send": {"max_attempts": "0"}}, "send.max_attempts"),
        ({"send": {"price_estimate": "-0.01"}}, "send.price_estimate"),
        ({"send": {"price_estimate": "nan"}}, "send.price_estimate"),
        ({"send": {"price_estimate": '"1e999999999"'}}, "send.price_estimate"),  # overflowed
        ({"send": {"price_estimate": "1000.01"}}, "send.price_estimate"),
        ({"send": {"settle_seconds": "-1"}}, "send.settle_seconds"),
        ({"send": {"settle_seconds": '"soon"'}}, "send.settle_seconds"),
        ({"send": {"on_unknown": '"retry"'}}, "send.on_unknown"),
        ({"send": {"not_after": '"tomorrow"'}}, "send.not_after"),
        ({"send": {"window": '"8-20"'}}, "send.window"),
        ({"send": {"window": '"08:00-08:00"'}}, "send.window"),
        ({"send": {"window": '"25:00-08:00"'}}, "send.window"),
        ({"send": {"outside_window": '"later"'}}, "send.outside_window"),
        ({"send": {"give_up_after": "0"}}, "send.give_up_after"),
    ],
)
def test_impossible_value_is_an_error_naming_the_key_and_the_file(
    tmp_path: Path, tables: dict[str, dict[str, str | None]], key: str
) -> None:
    """A missing required key or an impossible value is a CampaignError naming the key and file."""
    path = write_campaign(tmp_path, campaign_source(**tables))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert_names(caught, key, path)


@pytest.mark.parametrize("key", ["text", "label", "foreign_id"])
@pytest.mark.parametrize("template", ['"Hi {first_name"', '"Hi } there"', '"Hi {}"'])
def test_template_error_names_the_template_key(tmp_path: Path, key: str, template: str) -> None:
    """A lone brace or empty placeholder in a message template names that key and the file."""
    path = write_campaign(tmp_path, campaign_source(message={key: template}))
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert_names(caught, f"message.{key}", path)


def test_missing_message_table_is_an_error(tmp_path: Path) -> None:
    """A file without `[message]` is a CampaignError naming the table and the file."""
    path = write_campaign(tmp_path, 'name = "x"\nrecipients = "people.csv"\n')
    with pytest.raises(CampaignError) as caught:
        load_campaign(path)
    assert "[message]" in str(caught.value)
    assert str(path.resolve()) in str(caught.value)


# --- unreadable files -----------------------------------------------------------------------


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A campaign file that does not exist is a CampaignError naming it."""
    with pytest.raises(CampaignError, match="no such campaign file") as caught:
        load_campaign(tmp_path / "nothing.toml")
    assert str((tmp_path / "nothing.toml").resolve()) in str(caught.value)


def test_folder_is_an_error(tmp_path: Path) -> None:
    """A folder given as the campaign file is a CampaignError, not an OSError."""
    with pytest.raises(CampaignError):
        load_campaign(tmp_path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('name = "caf\u00e9"\n'.encode("cp1252"), "UTF-8"),
        ('name = "x"\n'.encode("utf-16"), "UTF-8"),
        (b'name = "x"\nrecipients = \n', "TOML"),
        (b'name = "x"\nname = "y"\n', "TOML"),
        (b"[message\ntext = 'x'\n", "TOML"),
    ],
    ids=["cp1252", "utf-16", "missing-value", "duplicate-key", "broken-table"],
)
def test_unreadable_file_is_an_error(tmp_path: Path, content: bytes, problem: str) -> None:
    """A file that is not UTF-8 or not valid TOML is a CampaignError naming the file."""
    path = tmp_path / "spring.toml"
    path.write_bytes(content)
    with pytest.raises(CampaignError, match=problem) as caught:
        load_campaign(path)
    assert str(path.resolve()) in str(caught.value)


def test_check_validity_refuses_a_delay_whose_ttl_has_passed(tmp_path: Path) -> None:
    """delay + ttl less than a minute ahead is refused; reading the file never was (no clock)."""
    campaign = load(tmp_path, message={"delay": "1800000000", "ttl": "60"})
    check_validity(campaign, 1_800_000_000 + 3540 - 1)  # 59 minutes and a second later: fine
    with pytest.raises(CampaignError, match=r"`message.delay` .* has passed"):
        check_validity(campaign, 1_800_000_000 + 3541)
    check_validity(load(tmp_path, message={"ttl": "60"}), 2_000_000_000)  # no delay: no check


# --- number_types --------------------------------------------------------------------------


def test_number_types_default_and_given(tmp_path: Path) -> None:
    """Without `number_types` mobiles, VoIP, personal and unknown types go; a list replaces it."""
    assert load(tmp_path).number_types == phones.DEFAULT_NUMBER_TYPES
    given = load(tmp_path, top={"number_types": '["mobile", "fixed_line"]'})
    assert given.number_types == {"mobile", "fixed_line"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["mobile", "landline"]', "names unknown number types ['landline']; known: mobile,"),
        ('["moblie"]', "types ['moblie'] (did you mean `mobile` for 'moblie'?); known:"),
        (
            '["Mobile", "Fixed-Line", "voip"]',
            "(did you mean `mobile` for 'Mobile', `fixed_line` for 'Fixed-Line'?)",
        ),
        ("[]", "must be a list of number types"),
        ('"mobile"', "must be a list"),
        ("[1]", "must be a list of number types"),
    ],
)
def test_a_bad_number_types_names_the_types(tmp_path: Path, value: str, problem: str) -> None:
    """An unknown type name is refused, listing the names there are and the near one."""
    path = write_campaign(tmp_path, campaign_source(top={"number_types": value}))
    with pytest.raises(CampaignError) as raised:
        load_campaign(path)
    assert problem in str(raised.value) and "`number_types`" in str(raised.value)
    if "unknown" in problem:
        assert ", ".join(phones.NUMBER_TYPES) in str(raised.value)


# --- [test] ---------------------------------------------------------------------------------


def test_test_numbers_are_normalised_with_the_default_region(tmp_path: Path) -> None:
    """`[test] numbers` are read like recipients (default_region), repeats dropped."""
    text = campaign_source(top={"default_region": '"AT"'}) + (
        '\n[test]\nnumbers = ["0664 1234567", "+49 176 1234 5678", "+43 664 1234567"]\n'
    )
    campaign = load_campaign(write_campaign(tmp_path, text))
    assert campaign.test.numbers == (436641234567, 4917612345678)


def test_without_a_test_table_there_are_no_test_numbers(tmp_path: Path) -> None:
    """A campaign without `[test]` has no test numbers."""
    assert load(tmp_path).test.numbers == ()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('numbers = ["12"]', "`test.numbers` holds '12', which is not a valid number"),
        (
            'numbers = ["+49 30 1234567"]',
            "`test.numbers` holds '+49 30 1234567', which cannot be sent to (a landline number",
        ),
        ("numbers = [4917612345678]", "`test.numbers` must be a list of phone numbers as strings"),
        ('numbers = "+4917612345678"', "`test.numbers` must be a list"),
        ('number = ["+4917612345678"]', "`test.number` is not a campaign setting"),
    ],
)
def test_a_bad_test_table_is_an_error_naming_the_key_and_file(
    tmp_path: Path, table: str, problem: str
) -> None:
    """A `[test]` table with an unknown key, a wrong type or a bad number names key and file."""
    path = write_campaign(tmp_path, campaign_source() + f"\n[test]\n{table}\n")
    with pytest.raises(CampaignError) as raised:
        load_campaign(path)
    assert problem in str(raised.value) and str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ({}, "de-DE"),
        ({"default_region": '"US"'}, "en-US"),
        ({"default_region": '"AT"'}, "de-AT"),
        ({"default_region": '"US"', "locale": '"de_DE"'}, "de-DE"),
        ({"locale": '"fr"'}, "fr"),
    ],
)
def test_locale_comes_from_the_file_or_the_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: dict[str, str], expected: str
) -> None:
    """`locale` as given (normalised), else from `default_region`; never the machine's."""
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    monkeypatch.setenv("LC_ALL", "ja_JP.UTF-8")
    campaign = load(tmp_path, top=top)
    assert campaign.locale == expected


def test_raw_columns_are_read(tmp_path: Path) -> None:
    """`raw_columns` lists columns, each once."""
    campaign = load(tmp_path, top={"raw_columns": '["zip", "since", "zip"]'})
    assert campaign.raw_columns == ("zip", "since")
