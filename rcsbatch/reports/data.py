"""A campaign report for scripts: JSON (one nested object) and CSV (long form, one figure a line).

Money is written as exact decimal strings (`"0.5225"`), never floats; `*_cents` fields round to
the cent. The CSV is the JSON flattened to `section,key,metric,value` lines, so both hold the same
figures and a script can filter either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from rcsbatch.reports.csvfile import STANDARD, Dialect, safe_cell
from rcsbatch.reports.figures import CostLine, Figures
from rcsbatch.reports.money import cents, plain_or_none, six_places


def _cost_line(line: CostLine) -> dict[str, Any]:
    return {
        "key": line.key,
        "sent": line.sent,
        "priced": line.priced,
        "unpriced": line.unpriced,
        "cost": plain_or_none(line.cost),
        "cost_cents": str(cents(line.cost)),
        "average_price": plain_or_none(_average(line)),
    }


def _average(line: CostLine) -> Decimal | None:
    """The mean price to 6 places: a price per message has more places than a cent."""
    average = line.average
    return None if average is None else six_places(average)


def as_dict(f: Figures) -> dict[str, Any]:
    """Every figure of the report, JSON-ready."""
    funnel = f.funnel
    return {
        "campaign": f.campaign,
        "run_id": f.run_id,
        "scope": f.scope,
        "generated_at": f.generated_at.isoformat(),
        "currency": f.currency,
        "simulated": f.simulated,
        "rows": f.rows,
        "statuses": f.statuses,
        "errors": [
            {"code": e.code, "status": e.status, "count": e.count, "text": e.text} for e in f.errors
        ],
        "funnel": {
            "sent": funnel.sent,
            "delivered": funnel.delivered,
            "read": funnel.read,
            "failed": funnel.failed,
            "expired": funnel.expired,
            "pending": funnel.pending,
        },
        "cost": {
            **{k: v for k, v in _cost_line(f.total).items() if k != "key"},
            "estimated_unpriced_cost": plain_or_none(f.estimated_unpriced_cost),
            "by_label": [_cost_line(c) for c in f.by_label],
            "by_country": [_cost_line(c) for c in f.by_country],
            "by_day": [_cost_line(c) for c in f.by_day],
            "by_run": [_cost_line(c) for c in f.by_run],
            "by_channel": [_cost_line(c) for c in f.by_channel],
        },
        "balance": {
            "before": plain_or_none(f.balance_before),
            "before_estimated": f.balance_before_estimated,
            "after": plain_or_none(f.balance_after),
        },
        "sending": {
            "send_seconds": f.send_seconds,
            "duration_seconds": f.duration_seconds,
            "messages_per_second": f.messages_per_second,
        },
        "runs": [
            {
                "run_id": r.run_id,
                "started_at": r.started_at.isoformat(),
                "finished_at": None if r.finished_at is None else r.finished_at.isoformat(),
                "exit_code": r.exit_code,
                "sent": r.sent,
                "cost": plain_or_none(r.cost),
                "balance_before": plain_or_none(r.balance_before),
                "balance_before_estimated": r.balance_before_estimated,
                "balance_after": plain_or_none(r.balance_after),
                "duration_seconds": r.duration_seconds,
                "send_seconds": r.send_seconds,
                "messages_per_second": r.messages_per_second,
                "requests_accepted": r.requests,
                "stopped_by_gateway": r.stopped_by_gateway,
                "simulated": r.simulated,
            }
            for r in f.runs
        ],
        "timeline": {
            "bucket_seconds": f.timeline_bucket_seconds,
            "points": [
                {
                    "at": p.at.isoformat(),
                    "sent": p.sent,
                    "delivered": p.delivered,
                    "failed": p.failed,
                    "expired": p.expired,
                }
                for p in f.timeline
            ],
        },
        "notes": f.notes,
    }


def write_json(f: Figures, out: IO[str]) -> None:
    """The report as one indented JSON object."""
    json.dump(as_dict(f), out, indent=2, ensure_ascii=False)
    out.write("\n")


CSV_HEADER = ("section", "key", "metric", "value")


def csv_lines(f: Figures) -> Iterator[tuple[str, str, str, str]]:
    """The JSON's figures as (section, key, metric, value) lines; lists are keyed by their id."""
    data = as_dict(f)
    for name in ("campaign", "run_id", "scope", "generated_at", "currency", "simulated", "rows"):
        yield "report", "", name, _cell(data[name])
    for status, n in data["statuses"].items():
        yield "status", status, "count", str(n)
    for e in data["errors"]:
        for metric in ("status", "count", "text"):
            yield "error", e["code"], metric, _cell(e[metric])
    for stage, n in data["funnel"].items():
        yield "funnel", stage, "count", str(n)
    cost = data["cost"]
    for metric, value in cost.items():
        if not isinstance(value, list):
            yield "cost", "total", metric, _cell(value)
    for group in ("label", "country", "day", "run", "channel"):
        for line in cost[f"by_{group}"]:
            for metric, value in line.items():
                if metric != "key":
                    yield f"cost_by_{group}", line["key"], metric, _cell(value)
    for metric, value in {**data["balance"], **data["sending"]}.items():
        yield "balance" if metric in data["balance"] else "sending", "", metric, _cell(value)
    for run in data["runs"]:
        for metric, value in run.items():
            if metric != "run_id":
                yield "run", run["run_id"], metric, _cell(value)
    for point in data["timeline"]["points"]:
        for metric in ("sent", "delivered", "failed", "expired"):
            yield "timeline", point["at"], metric, str(point[metric])
    for i, note in enumerate(data["notes"], 1):
        yield "note", str(i), "text", note


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(f: Figures, out: IO[str], dialect: Dialect = STANDARD) -> None:
    """The report as CSV with the header `section,key,metric,value` in `dialect` (its BOM is
    written by the caller's file encoding); formula-like cells made safe as reports/csvfile.py says,
    and decimal values in the dialect's decimal mark."""
    writer = dialect.writer(out)
    writer.writerow(CSV_HEADER)
    for *text, value in csv_lines(f):
        writer.writerow([*(safe_cell(c) for c in text), safe_cell(dialect.number(value))])
