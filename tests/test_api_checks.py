"""The public API's calls for looking before and after sending (rcsbatch.api): validate,
preview, report, events and test sends, through `import rcsbatch`, against the simulator (real
sockets) where they ask the gateway, from plain code and from inside a running event loop."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import API_KEY, CampaignFactory
from test_api import ProcessState

import rcsbatch
from rcsbatch.simulator import SimulatorServer

R = CampaignFactory.recipient
TEST_NUMBER = "+4917699990001"


def rows_with_a_bad_phone() -> list[dict[str, str]]:
    """Four recipients: rows 2, 4 and 5 good, row 3 not a number."""
    phones = ["+" + R(1), "12", "+" + R(2), "+" + R(3)]
    return [
        {"phone": p, "first_name": f"Name{i}", "customer_id": f"c{i}"}
        for i, p in enumerate(phones, 1)
    ]


def test_validate_counts_the_rows_and_lists_the_invalid_ones(
    make_campaign: CampaignFactory,
) -> None:
    """With no gateway there is no request: the counts per status, the invalid row with its
    reason, exit code 1; a campaign of good rows validates with exit code 0."""
    result = rcsbatch.validate(make_campaign(rows_with_a_bad_phone()))
    assert result.counts == {"ready": 3, "invalid": 1} and result.rows == 4
    assert [(n.row, n.status, n.input_phone) for n in result.problems] == [(3, "invalid", "12")]
    assert result.problems[0].text and result.exit_code == 1
    assert result.lines()[0] == "test.toml: the campaign file is valid; 4 rows: 1 invalid, 3 ready"
    assert rcsbatch.validate(make_campaign(3, name="good")).exit_code == 0
    assert rcsbatch.validate(make_campaign(rows_with_a_bad_phone()), show=0).problems == ()


def test_validate_from_inside_a_running_loop_asks_for_the_agent_once(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """In a coroutine, validate checks the campaign's agent with the gateway given (one
    request) and leaves the caller's process as it was; an agent the account lacks raises
    CampaignError naming it, and no flag."""
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    known = make_campaign(3, message={"from": "myfancyagent"})
    before = ProcessState()
    heard: list[str] = []

    async def main() -> rcsbatch.ValidationResult:
        return rcsbatch.validate(known, gateway=gateway, on_status=heard.append)

    result = asyncio.run(main())
    assert ProcessState() == before
    assert result.exit_code == 0 and heard == []
    assert sim.backend.counters.requests.get("agents") == 1
    unknown = make_campaign(3, name="unknown", message={"from": "nosuchagent"})
    with pytest.raises(rcsbatch.CampaignError, match="nosuchagent") as caught:
        rcsbatch.validate(unknown, gateway=gateway)
    assert "--" not in str(caught.value)


def test_preview_shows_the_first_ready_rows_as_they_would_go(
    make_campaign: CampaignFactory,
) -> None:
    """The first `count` ready rows, numbered as the file shows them, with the merged text the
    gateway would get; the invalid row is passed over; nothing asked of any gateway."""
    shown = rcsbatch.preview(make_campaign(rows_with_a_bad_phone()), count=2)
    assert [p.row for p in shown] == [2, 4]
    assert [(p.params["to"], p.params["text"]) for p in shown] == [
        (R(1), "Hi Name1"),
        (R(2), "Hi Name3"),
    ]
    assert all(p.rich is None and p.warning is None for p in shown)
    assert len(rcsbatch.preview(make_campaign(rows_with_a_bad_phone()), count=10)) == 3


def test_report_figures_and_formats_after_a_run(
    make_campaign: CampaignFactory, sim: SimulatorServer, tmp_path: Path
) -> None:
    """After a run, the figures count its rows; the report writes as json to a stream, as csv
    to a path, and as xlsx into the campaign's report folder by default; a campaign never run
    raises InputError."""
    campaign = make_campaign(3)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    run = rcsbatch.run(campaign, gateway=gateway)
    assert run.exit_code == 0
    figures = rcsbatch.report_figures(campaign, gateway=gateway)
    assert figures.statuses == {"sent": 3} and figures.campaign == campaign.name
    stream = io.StringIO()
    assert rcsbatch.write_report(campaign, "json", output=stream, gateway=gateway) is None
    assert json.loads(stream.getvalue())["campaign"] == campaign.name
    path = rcsbatch.write_report(campaign, "csv", output=tmp_path / "r.csv", gateway=gateway)
    assert path == tmp_path / "r.csv" and path.read_text(encoding="utf-8").strip()
    xlsx = rcsbatch.write_report(campaign, "xlsx", gateway=gateway)
    assert xlsx == run.folder.parent / "report.xlsx" and xlsx.is_file()
    with pytest.raises(rcsbatch.InputError):
        rcsbatch.report_figures(make_campaign(2, name="never"), gateway=gateway)


def test_one_event_and_a_file_of_events(sim: SimulatorServer, tmp_path: Path) -> None:
    """One event goes to the gateway and comes back sent; a file's events are sent and their
    outcomes written beside it; a bad row raises InputError before any event goes."""
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    one = rcsbatch.send_event("read", to="0176 10000001", gateway=gateway)
    assert one.exit_code == 0 and one.counts == {"sent": 1}
    assert [e["to"] for e in sim.backend.events] == [R(1)]
    file = tmp_path / "replies.csv"
    file.write_text(f"to,event\n+{R(2)},READ\n+{R(3)},IS_TYPING\n", encoding="utf-8")
    many = rcsbatch.send_events(file, gateway=gateway)
    assert many.exit_code == 0 and many.counts == {"sent": 2}
    assert many.path == tmp_path / "replies.results.csv" and many.path.is_file()
    assert len(sim.backend.events) == 3
    file.write_text("to\n12\n", encoding="utf-8")
    with pytest.raises(rcsbatch.InputError, match="row 2"):
        rcsbatch.send_events(file, event="READ", gateway=gateway)
    assert len(sim.backend.events) == 3


def test_events_refused_by_the_gateway_come_back_as_exit_3(sim: SimulatorServer) -> None:
    """A key the gateway refuses: the result says why with exit code 3, no exception."""
    sim.set_faults(refuse_key=API_KEY)
    result = rcsbatch.send_event(
        "IS_TYPING", msg_id="m-1", gateway=rcsbatch.Gateway(sim.base_url, API_KEY)
    )
    assert result.exit_code == 3 and result.stop_reason
    assert result.counts == {"not_sent": 1} and sim.backend.events == []


def test_test_send_from_inside_a_running_loop(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """In a coroutine, a test send of row 3 goes to the test number only, labelled as a test,
    its results file written; the preview shows the same message and sends nothing; the
    caller's process is as it was, and the campaign's own run later sends every row."""
    campaign = make_campaign(4, message={"label": "spring"})
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    (planned,) = rcsbatch.preview_test_messages(campaign, to=[TEST_NUMBER], rows=[3])
    assert (planned.row, planned.to, planned.params["label"]) == (3, 4917699990001, "spring-test")
    assert sim.backend.accepted() == []
    before = ProcessState()
    heard: list[str] = []
    outcomes: list[rcsbatch.TestMessage] = []

    async def main() -> rcsbatch.TestSendResult:
        return rcsbatch.send_test_messages(
            campaign,
            to=[TEST_NUMBER],
            rows=[3],
            gateway=gateway,
            on_status=heard.append,
            on_message=outcomes.append,
        )

    result = asyncio.run(main())
    assert ProcessState() == before
    assert result.exit_code == 0 and result.path.is_file()
    assert [(m.row, m.status) for m in outcomes] == [(3, "sent")]
    (message,) = sim.backend.accepted()
    assert (message.to, message.text, message.label) == ("4917699990001", "Hi Name2", "spring-test")
    assert heard[0].startswith("test send: rows 3 to +4917699990001 (1 messages")
    full = rcsbatch.run(campaign, gateway=gateway)
    assert Counter(full.results["status"]) == {"sent": 4}


def test_test_send_refused_by_the_gateway_comes_back_as_exit_3(
    make_campaign: CampaignFactory, sim: SimulatorServer
) -> None:
    """A key the gateway refuses while the test send goes: a result with exit code 3 and the
    reason; a number that is none raises InputError before any request."""
    campaign = make_campaign(3)
    gateway = rcsbatch.Gateway(sim.base_url, API_KEY)
    with pytest.raises(rcsbatch.InputError):
        rcsbatch.send_test_messages(campaign, to=["12"], gateway=gateway)
    sim.set_faults(refuse_key=API_KEY)
    result = rcsbatch.send_test_messages(campaign, to=[TEST_NUMBER], gateway=gateway)
    assert result.exit_code == 3 and result.stop_reason
    assert sim.backend.accepted() == []
