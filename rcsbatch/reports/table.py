"""A campaign report for people at a terminal: rich tables, money to the cent."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from rcsbatch.recipients.controls import visible
from rcsbatch.reports.figures import CostLine, Figures, RunLine
from rcsbatch.reports.money import money_text, price_text


def cost_text(line: CostLine, currency: str) -> str:
    """A group's cost to the cent; "no price yet" when none of its messages is priced."""
    if line.sent and not line.priced:
        return "no price yet"
    return money_text(line.cost, currency)


def seconds(value: float | None) -> str:
    """A duration for people: 0.42 s, 12.3 s, 1,234 s."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:,.1f} s" if value < 1000 else f"{value:,.0f} s"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _data(value: str) -> Text:
    """A value from the journal (the gateway's codes and texts, labels): shown as written, never
    read as markup, its control characters written out."""
    return Text(visible(value))


def render(f: Figures) -> RenderableType:
    """The whole report as one rich renderable."""
    sim = " (simulated)" if f.simulated else ""
    title = Text(f"Campaign {f.campaign}: {f.scope}{sim}", style="bold")
    parts: list[RenderableType] = [title, Text(f"generated {f.generated_at.isoformat()}")]
    parts.append(_summary(f))
    statuses = Table("status", "rows", title="Rows by status", title_justify="left")
    for status, n in f.statuses.items():
        statuses.add_row(status, f"{n:,}")
    parts.append(statuses)
    funnel = Table("stage", "messages", "of sent", title="Delivery", title_justify="left")
    for stage, n in f.funnel.stages():
        funnel.add_row(stage, f"{n:,}", percent(n, f.funnel.sent))
    parts.append(funnel)
    if f.errors:
        errors = Table("code", "status", "rows", "gateway's text", title="Gateway errors")
        errors.title_justify = "left"
        for e in f.errors:
            errors.add_row(_data(e.code), _data(e.status), f"{e.count:,}", _data(e.text or ""))
        parts.append(errors)
    for name, lines in (
        ("label", f.by_label),
        ("country", f.by_country),
        ("day (UTC)", f.by_day),
        ("run", f.by_run),
        ("channel", f.by_channel),
    ):
        parts.append(_costs(name, lines, f.currency))
    parts.append(_runs(f))
    for note in f.notes:
        parts.append(Text("note: " + visible(note), style="yellow"))
    return Group(*parts)


def _summary(f: Figures) -> Table:
    table = Table(show_header=False, title="Summary", title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    total = f.total
    table.add_row("messages sent", f"{total.sent:,}")
    table.add_row("total cost", money_text(total.cost, f.currency))
    table.add_row("average price per message", price_text(total.average))
    if total.unpriced:
        table.add_row("sent without a price (not in the cost)", f"{total.unpriced:,}")
    if f.estimated_unpriced_cost is not None:
        table.add_row(
            "their cost, estimated at the average price",
            money_text(f.estimated_unpriced_cost, f.currency),
        )
    before = money_text(f.balance_before, f.currency)
    if f.balance_before_estimated:
        before += " (estimated)"
    table.add_row("balance before", before)
    table.add_row("balance after", money_text(f.balance_after, f.currency))
    table.add_row("sending time", seconds(f.send_seconds))
    table.add_row("runs' total duration", seconds(f.duration_seconds))
    rate = f.messages_per_second
    table.add_row("send rate", "-" if rate is None else f"{rate:,} messages/s")
    return table


def _costs(name: str, lines: list[CostLine], currency: str) -> Table:
    table = Table(name, "sent", "priced", "unpriced", "cost", "avg price")
    table.title = f"Cost per {name}"
    table.title_justify = "left"
    for c in lines:
        table.add_row(
            _data(c.key),
            f"{c.sent:,}",
            f"{c.priced:,}",
            f"{c.unpriced:,}",
            cost_text(c, currency),
            price_text(c.average),
        )
    return table


RUN_HEADINGS = (
    "run",
    "exit",
    "sent",
    "cost",
    "balance before",
    "balance after",
    "duration",
    "rate",
    "stopped by gateway",
)


def run_cells(f: Figures, r: RunLine) -> list[str]:
    """One run as text cells under RUN_HEADINGS (the terminal table and the HTML page)."""
    return [
        r.run_id,
        "-" if r.exit_code is None else str(r.exit_code),
        "-" if r.sent is None else f"{r.sent:,}",
        cost_text(f.run_cost(r.run_id), f.currency),
        money_text(r.balance_before, f.currency)
        + (" (est.)" if r.balance_before_estimated else ""),
        money_text(r.balance_after, f.currency),
        seconds(r.duration_seconds),
        "-" if r.messages_per_second is None else f"{r.messages_per_second:,}/s",
        r.stopped_by_gateway or "",
    ]


def _runs(f: Figures) -> Table:
    table = Table(*RUN_HEADINGS, title="Runs", title_justify="left")
    for r in f.runs:
        table.add_row(*run_cells(f, r))
    return table


def print_table(f: Figures, console: Console) -> None:
    """Print the report on `console`."""
    console.print(render(f))
