"""The report's figures, read from journals that real simulated runs wrote, checked against the
simulator's own record of what it accepted and charged."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import API_KEY, CampaignFactory
from history import (
    COUNTRY,
    EXPIRED,
    NO_REPORT,
    NOT_DELIVERED,
    PHONES,
    READ,
    SECOND_PRICE,
    History,
    make_history,
)

import rcsbatch
from rcsbatch.errors import ReportError
from rcsbatch.gateway.config import Gateway
from rcsbatch.reports.figures import Figures, figures, recipient_rows, region
from rcsbatch.simulator import DEFAULT_BALANCE, DEFAULT_PRICE, SimulatorServer
from rcsbatch.state.paths import journal_path


@pytest.fixture
def history(make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway) -> History:
    """Three runs with faults, a credit stop and late prices (tests/history.py)."""
    return make_history(make_campaign, sim, gateway)


def report_of(h: History, run_id: str | None = None) -> Figures:
    return figures(journal_path(h.campaign, "simulator"), h.campaign.name, run_id)


def unpriced(h: History) -> set[str]:
    """Recipients whose answer had no price and whose final price never came."""
    return {m.to for m in h.sim.backend.accepted() if m.price == SECOND_PRICE} - {h.late_priced}


def results(h: History) -> list[dict[str, Any]]:
    """The last run's results file: every row, as the run itself reported it."""
    return pq.read_table(h.results[-1].folder / "results.parquet").to_pylist()


def run_of(h: History) -> dict[str, str]:
    """The run that settled each sent recipient, from the last run's results file."""
    return {r["recipient"]: r["run_id"] for r in results(h) if r["status"] == "sent"}


def test_costs_match_the_simulators_record_to_the_cent(history: History) -> None:
    """Total, per label, country, day and run: the exact sum of the prices the gateway charged,
    leaving out (and counting) the messages whose price is still unknown."""
    f = report_of(history)
    record = history.accepted()
    missing = unpriced(history)
    assert missing and history.late_priced not in missing
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    runs = run_of(history)
    for to, messages in record.items():
        price = sum((m.price for m in messages), Decimal(0))
        day = dt.datetime.fromtimestamp(messages[0].accepted_at, dt.UTC).date().isoformat()
        keys = {
            "total": "total",
            "label": PHONES[to][1],
            "country": COUNTRY[to],
            "day": day,
            "run": runs[to],
        }
        for group, key in keys.items():
            sent[group][key] += 1
            expected[group][key] += 0
            if to not in missing:
                expected[group][key] += price
    assert f.total.cost == expected["total"]["total"] == Decimal("0.3462")
    assert (f.total.sent, f.total.unpriced) == (len(record), len(missing))
    for group, lines in (
        ("label", f.by_label),
        ("country", f.by_country),
        ("day", f.by_day),
        ("run", f.by_run),
    ):
        assert {c.key: c.cost for c in lines} == expected[group], group
        assert {c.key: c.sent for c in lines} == dict(sent[group]), group
    assert sum((c.cost for c in f.by_run), Decimal(0)) == f.total.cost
    assert f.total.average == f.total.cost / f.total.priced
    assert f.estimated_unpriced_cost == (f.total.cost / f.total.priced * len(missing)).quantize(
        Decimal("0.000001")
    )
    assert any("no price" in n for n in f.notes)


def test_statuses_errors_and_delivery_funnel(history: History) -> None:
    """Counts per status equal the last run's; the refusal is counted under its code; the funnel
    follows the delivery reports (READ is delivered; no report yet is pending)."""
    f = report_of(history)
    assert f.statuses == dict(history.results[-1].report.counts)
    assert f.statuses == {"sent": 9, "failed": 1, "invalid": 1, "duplicate": 1}
    assert [(e.code, e.status, e.count) for e in f.errors] == [("202", "failed", 1)]
    fu = f.funnel
    assert (fu.sent, fu.delivered, fu.read, fu.failed, fu.expired, fu.pending) == (9, 6, 1, 1, 1, 1)
    assert {READ, NOT_DELIVERED, EXPIRED, NO_REPORT} <= set(history.accepted())
    last = f.timeline[-1]
    assert (last.sent, last.delivered, last.failed, last.expired) == (9, 6, 1, 1)
    assert f.timeline[0].sent == 0 and len(f.timeline) > 10  # reports came over minutes


def test_runs_balances_and_rates_come_from_each_runs_summary(
    history: History, sim: SimulatorServer
) -> None:
    """Each run's line holds its summary: exit code, the credit stop, balance after (the
    simulator's balance), balance before as the run read it, duration and rate."""
    f = report_of(history)
    assert [r.run_id for r in f.runs] == [r.run_id for r in history.results]
    assert [r.exit_code for r in f.runs] == [r.report.exit_code for r in history.results]
    assert "credit" in (f.runs[0].stopped_by_gateway or "")
    assert f.balance_after == sim.backend.get_balance(API_KEY) == f.runs[-1].balance_after
    assert all(r.balance_before is not None and not r.balance_before_estimated for r in f.runs)
    for line, result in zip(f.runs, history.results, strict=True):
        summary = json.loads((result.folder / "summary.json").read_text(encoding="utf-8"))
        assert line.send_seconds == summary["send_seconds"]
        assert line.messages_per_second == summary["messages_per_second"]
        assert line.duration_seconds == summary["duration_seconds"]
    assert f.send_seconds == pytest.approx(sum(r.send_seconds or 0 for r in f.runs), abs=1e-3)
    assert f.messages_per_second is not None and f.messages_per_second > 0


def test_one_run_covers_only_the_rows_it_settled(history: History) -> None:
    """--run: the rows whose journal run_id is that run (no rejects), and only its summary."""
    first = history.results[0].run_id
    f = report_of(history, first)
    mine = {to for to, rid in run_of(history).items() if rid == first}
    record = history.accepted()
    assert f.total.sent == len(mine)
    assert f.total.cost == sum((m.price for to in mine for m in record[to]), Decimal(0))
    settled = [r for r in results(history) if r["run_id"] == first]
    assert f.statuses == dict(Counter(r["status"] for r in settled))
    assert "invalid" not in f.statuses and "duplicate" not in f.statuses
    assert [r.run_id for r in f.runs] == [first]
    assert f.scope == f"run {first}"
    path = journal_path(history.campaign, "simulator")
    rows = [r for batch in recipient_rows(path, "history", first) for r in batch]
    assert {r["recipient"] for r in rows} == {r["recipient"] for r in settled} >= mine


def test_per_recipient_rows_stream_in_file_order_with_country_and_exact_price(
    history: History,
) -> None:
    """Every row of the file, in order, with the country of its number and the price as charged."""
    path = journal_path(history.campaign, "simulator")
    rows = [r for batch in recipient_rows(path, "history", batch=3) for r in batch]
    assert [r["row"] for r in rows] == list(range(2, 14))  # lines: the header is 1
    record = history.accepted()
    for r in rows:
        if r["status"] == "sent":
            assert r["country"] == COUNTRY[r["recipient"]]
            if r["recipient"] not in unpriced(history):
                assert r["price"] == sum((m.price for m in record[r["recipient"]]), Decimal(0))
                assert str(r["price"]) in ("0.0475", "0.0612")
            else:
                assert r["price"] is None and r["price_status"] == "unknown"


def test_a_clean_runs_balance_before_is_estimated_and_labelled(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """Without balance_before in the summary (runs of rcsbatch before it read the balance), a
    complete run's is its balance after plus its cost, marked estimated; a summary's own is
    taken as is."""
    campaign = make_campaign(4)
    result = rcsbatch.run(campaign, gateway=gateway)
    path = journal_path(campaign, "simulator")
    summary = json.loads((result.folder / "summary.json").read_text(encoding="utf-8"))
    assert summary.pop("balance_before") == "500"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET summary=?", (json.dumps(summary),))
    f = figures(path, campaign.name)
    assert f.balance_before == DEFAULT_BALANCE and f.balance_before_estimated
    assert f.balance_after == DEFAULT_BALANCE - 4 * DEFAULT_PRICE
    assert any("estimated" in n for n in f.notes)
    # The summary that carries balance_before is read, not estimated.
    summary["balance_before"] = "123.45"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET summary=?", (json.dumps(summary),))
    f = figures(path, campaign.name)
    assert (f.balance_before, f.balance_before_estimated) == (Decimal("123.45"), False)


def test_a_campaign_never_run_or_an_unknown_run_is_a_clear_error(
    make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway
) -> None:
    """No journal: "never run"; a run id the journal lacks: the message lists the runs."""
    campaign = make_campaign(2)
    path = journal_path(campaign, "simulator")
    with pytest.raises(ReportError, match="never run"):
        figures(path, campaign.name)
    result = rcsbatch.run(campaign, gateway=gateway)
    with pytest.raises(ReportError, match=result.run_id):
        figures(path, campaign.name, "20000101T000000Z")


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("4917612345678", "DE"),
        ("447400123456", "GB"),
        ("447781123456", "GG"),
        ("12015550123", "US"),
        ("14165550123", "CA"),
        ("79161234567", "RU"),
        ("77012345678", "KZ"),
        ("436641234567", "AT"),
        ("999123", "unknown"),
    ],
)
def test_region_of_a_number_uses_the_whole_number_for_shared_codes(
    digits: str, expected: str
) -> None:
    """A country code shared by several regions (+1, +7, +44) is resolved from the number."""
    assert region(int(digits)) == expected
