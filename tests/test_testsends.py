"""Test sends against the loopback simulator: chosen rows to test numbers, apart from a campaign."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CampaignFactory

import rcsbatch
from rcsbatch.actions import testsends
from rcsbatch.actions.testsends import (
    TestSendResult,
    choose_rows,
    label_for_test,
    parse_rows,
    resolve_numbers,
)
from rcsbatch.campaign.file import Campaign, load_campaign
from rcsbatch.errors import InputError
from rcsbatch.gateway.config import Gateway
from rcsbatch.recipients.prepare import open_plan
from rcsbatch.reports.outcome import EXIT_OK
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state.paths import journal_path

R = CampaignFactory.recipient
PHONE_A, PHONE_B = 4917699990001, 4917699990002


def test_send(
    campaign: Campaign, gateway: Gateway, numbers: tuple[int, ...], rows: tuple[int, ...] = ()
) -> TestSendResult:
    """A test send through the library's `rcsbatch.send_test_messages`, as a user makes it."""
    return rcsbatch.send_test_messages(
        campaign, to=[f"+{n}" for n in numbers], rows=rows, gateway=gateway
    )


test_send.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def results(result: TestSendResult) -> list[dict[str, str]]:
    with result.path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def with_rows(campaign: Campaign, extra: str) -> Campaign:
    """The campaign with TOML text added to its file."""
    with campaign.path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + extra + "\n")
    return load_campaign(campaign.path)


def test_chosen_rows_arrive_at_each_test_number_marked_as_tests(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """The first three ready rows' merged text reaches every test number, with the test label
    and a foreign_id of its own; nothing reaches the recipients; the journal is not made."""
    campaign = make_campaign(5, message={"label": "spring_{customer_id}", "from": "myfancyagent"})
    result = test_send(campaign, gateway, (PHONE_A, PHONE_B))
    assert result.exit_code == EXIT_OK
    got = sorted(sim.backend.accepted(), key=lambda m: (m.text, m.to))
    assert [(m.text, m.to) for m in got] == [
        (f"Hi Name{i}", str(n)) for i in (1, 2, 3) for n in (PHONE_A, PHONE_B)
    ]
    for m in got:
        i = int(m.text[-1])  # Name<i> is on line i + 1 (the header is line 1)
        assert m.label == f"spring_c{i}-test"
        assert m.foreign_id == f"test.{result.send_id}.{i + 1}" != f"c{i}"
        assert m.sender == "myfancyagent" and m.delay is None
    table = results(result)
    assert [(r["row"], r["to"], r["status"]) for r in table] == [
        (str(i + 1), str(n), "sent") for i in (1, 2, 3) for n in (PHONE_A, PHONE_B)
    ]
    assert {r["message_id"] for r in table} == {m.id for m in got}
    assert result.path == campaign.report_dir / "test" / "test-sends" / f"{result.send_id}.csv"
    journal = journal_path(campaign, gateway)
    log = sqlite3.connect(journal.parent / "test-sends.sqlite")
    assert log.execute("SELECT count(*) FROM test_sends WHERE status = 'sent'").fetchone() == (6,)
    assert not journal.exists()


def test_a_delay_and_window_do_not_hold_a_test_message(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A test message goes now with the full ttl, whatever the campaign's delay and window."""
    campaign = make_campaign(
        2, message={"delay": "2099-01-01 09:00", "ttl": 60}, send={"window": "03:00-03:01"}
    )
    test_send(campaign, gateway, (PHONE_A,), (3,))
    (m,) = sim.backend.accepted()
    assert m.delay is None and m.ttl == 60 and m.text == "Hi Name2"


@pytest.mark.parametrize(
    ("label", "expected"),
    [("spring_2026", "spring_2026-test"), (None, "rcsbatch-test"), ("x" * 96, "rcsbatch-test")],
)
def test_the_test_label_is_the_rows_label_marked_or_a_fixed_one(
    label: str | None, expected: str
) -> None:
    """label + "-test" when it fits the gateway's rule (≤100 characters), else rcsbatch-test."""
    assert label_for_test(label) == expected


def test_rows_chooses_rows_in_the_order_given(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """`--rows 6,3` sends rows 6 and 3 as the file numbers them (the header is row 1)."""
    test_send(make_campaign(6), gateway, (PHONE_A,), parse_rows("6, 3"))
    assert sorted(m.text for m in sim.backend.accepted()) == ["Hi Name2", "Hi Name5"]


def test_default_rows_skip_rows_that_are_not_ready(make_campaign: CampaignFactory) -> None:
    """Without --rows, the first three ready rows: invalid and duplicate rows are passed over."""
    data = [
        {"phone": "12", "first_name": "Bad", "customer_id": "x"},
        {"phone": "+" + R(1), "first_name": "One", "customer_id": "c1"},
        {"phone": "+" + R(1), "first_name": "Again", "customer_id": "c1b"},
        {"phone": "+" + R(2), "first_name": "Two", "customer_id": "c2"},
        {"phone": "+" + R(3), "first_name": "Three", "customer_id": "c3"},
        {"phone": "+" + R(4), "first_name": "Four", "customer_id": "c4"},
    ]
    chosen = choose_rows(open_plan(make_campaign(data)))
    assert [row for row, _ in chosen] == [3, 5, 6]


def test_a_chosen_row_that_is_not_ready_is_an_error_naming_it(
    make_campaign: CampaignFactory, tmp_path: Path
) -> None:
    """Invalid, duplicate, suppressed, missing rows and the header are named together; nothing
    is chosen."""
    (tmp_path / "optouts.csv").write_text("+" + R(3) + "\n", encoding="utf-8")
    data = [
        {"phone": "+" + R(1), "first_name": "One"},
        {"phone": "12", "first_name": "Bad"},
        {"phone": "+" + R(3), "first_name": "Out"},
        {"phone": "+" + R(1), "first_name": "Again"},
    ]
    campaign = make_campaign(data, message={"foreign_id": None}, suppress="optouts.csv")
    with pytest.raises(InputError) as raised:
        choose_rows(open_plan(campaign), (1, 2, 3, 4, 5, 9))
    text = str(raised.value)
    for part in (
        "row 1 is the header",
        "row 3 is invalid",
        "row 4 is suppressed",
        "row 5 is duplicate",
        "row 9 is not in the recipient file (its last row is 5)",
    ):
        assert part in text
    assert "row 2 " not in text


def test_a_chosen_row_on_a_blank_line_holds_no_recipient(make_campaign: CampaignFactory) -> None:
    """A row number that is a blank line of the file (or inside a quoted cell) is named."""
    campaign = make_campaign(3)
    lines = campaign.recipients.read_text(encoding="utf-8").splitlines()
    campaign.recipients.write_text("\n".join([*lines[:2], ",,", *lines[2:]]) + "\n")
    assert [row for row, _ in choose_rows(open_plan(campaign), (2, 4))] == [2, 4]
    with pytest.raises(InputError, match="row 3 holds no recipient"):
        choose_rows(open_plan(campaign), (3,))


@pytest.mark.parametrize("value", ["0", "1", "2,x", "", "2;3", "-2"])
def test_bad_rows_values_are_input_errors(value: str) -> None:
    """--rows takes the file's row numbers from 2 (the header is 1) separated by commas; the
    error names the `rows` parameter to fix."""
    with pytest.raises(InputError, match="give row numbers as the file shows them") as raised:
        parse_rows(value)
    assert raised.value.option == "rows"


def test_test_to_wins_over_the_file_and_is_normalised(make_campaign: CampaignFactory) -> None:
    """--test-to numbers (read with default_region) win over [test] numbers; a bad one is an
    error; without either there are no numbers to send to."""
    campaign = make_campaign(1)
    with pytest.raises(InputError, match="no test numbers"):
        resolve_numbers(campaign, ())
    campaign = with_rows(campaign, '[test]\nnumbers = ["+4917699990002"]')
    assert resolve_numbers(campaign, ()) == (PHONE_B,)
    assert resolve_numbers(campaign, ("0176 99990001", "+49 176 99990001")) == (PHONE_A,)
    with pytest.raises(InputError, match="test number '12' is not a valid number") as raised:
        resolve_numbers(campaign, ("12",))
    assert raised.value.option == "to"
    # read like recipients: an apostrophe and full-width digits pass, a landline does not
    assert resolve_numbers(campaign, ("'0176 99990001", "\uff10\uff11\uff17\uff16 99990001")) == (
        PHONE_A,
    )
    with pytest.raises(InputError, match=r"cannot be sent to \(a landline number \(fixed_line\)"):
        resolve_numbers(campaign, ("+49 30 1234567",))


def test_a_refused_number_fails_and_the_gateway_stop_stops(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """A number the gateway refuses is `failed` (exit 1); a refused key stops the rest (exit 3)."""
    campaign = make_campaign(1)
    sim.set_faults(refuse={str(PHONE_B): 202})
    result = test_send(campaign, gateway, (PHONE_A, PHONE_B))
    assert [m.status for m in result.messages] == ["sent", "failed"] and result.exit_code == 1
    sim.set_faults(refuse_key="test-key")
    stopped = test_send(campaign, gateway, (PHONE_A,))
    assert stopped.exit_code == 3 and stopped.messages[0].status == "not_sent"
    assert stopped.send_id != result.send_id


def test_a_later_run_sends_every_row_and_reports_no_test_send(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """After a test send, the campaign's run sends every row once; its results and summary hold
    only the campaign's rows and messages."""
    campaign = make_campaign(4)
    tests = test_send(campaign, gateway, (PHONE_A,))
    test_ids = {i for m in tests.messages for i in m.message_ids}
    result = rcsbatch.run(campaign, gateway=gateway)
    assert result.report.exit_code == EXIT_OK
    summary: dict[str, Any] = json.loads((result.folder / "summary.json").read_text())
    assert summary["counts"] == {"sent": 4} and summary["this_run"]["sent"] == 4
    with (result.folder / "results.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert sorted(r["recipient"] for r in table) == [R(i) for i in range(1, 5)]
    assert not test_ids & {r["message_id"] for r in table}
    real = [m for m in sim.backend.accepted() if m.id not in test_ids]
    assert sorted(m.to for m in real) == [R(i) for i in range(1, 5)]
    assert "test" not in json.dumps(summary).replace('"campaign": "test"', "")


@pytest.mark.parametrize("foreign_id", ["{customer_id}", None])
def test_a_test_message_never_settles_a_lost_answer_to_the_same_number(
    make_campaign: CampaignFactory,
    sim: SimulatorServer,
    gateway: Gateway,
    foreign_id: str | None,
) -> None:
    """A test message to a number that is also a recipient is in the logbook, but a lost answer
    for that recipient's row is not `found` by it. A later test message is what shows the
    logbook current past the lost request: then the row is sent again, once."""
    campaign = make_campaign(2, message={"foreign_id": foreign_id}, send={"concurrency": 1})
    tests = test_send(campaign, gateway, (int(R(1)),), (2,))
    assert tests.exit_code == EXIT_OK
    # A second later: a test message in the same second as the lost request would (rightly)
    # keep the row unknown, as a message to the number inside the attempt's window.
    time.sleep(2.5)
    sim.set_faults(script=["500"])  # the real row 2's first request: an HTML page, not accepted
    first = rcsbatch.run(campaign, gateway=gateway)
    assert first.report.settled_found == 0 and first.report.counts == {"unknown": 1, "sent": 1}
    time.sleep(2.5)  # past the lost request's timeout and the margin
    later = test_send(campaign, gateway, (PHONE_A,), (3,))
    result = rcsbatch.run(campaign, gateway=gateway)
    assert result.report.settled_found == 0 and result.report.settled_resent == 1
    assert result.report.counts == {"sent": 2}
    assert later.exit_code == EXIT_OK
    to_r1 = [m for m in sim.backend.accepted() if m.to == R(1)]
    assert len(to_r1) == 2  # the test message and the real one, each once
    test_message, real = sorted(to_r1, key=lambda m: m.id not in tests.messages[0].message_ids)
    assert test_message.foreign_id == f"test.{tests.send_id}.2" != real.foreign_id


@pytest.mark.parametrize("name", ["standard", "excel"])
def test_results_file_follows_the_formula_rule_and_dialect(tmp_path: Path, name: str) -> None:
    """Labels by csvfile's rule (numbers left alone); excel: BOM, `;`, price `0,0475`."""
    from decimal import Decimal

    from test_csvfile import CELLS

    from rcsbatch.reports.csvfile import dialect

    chosen = dialect(name)
    messages = [
        testsends.TestMessage(
            i, 4917699990001, {"foreign_id": cell, "label": cell}, "sent", price=Decimal("0.0475")
        )
        for i, (cell, _) in enumerate(CELLS, 1)
    ]
    data = testsends.write_results(tmp_path / "t.csv", messages, chosen).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (name == "excel")
    text = io.StringIO(data.decode("utf-8-sig"), newline="")
    rows = list(csv.DictReader(text, delimiter=chosen.delimiter))
    assert [(r["label"], r["foreign_id"]) for r in rows] == [(w, w) for _, w in CELLS]
    assert {r["price"] for r in rows} == {"0,0475" if name == "excel" else "0.0475"}
