"""A campaign report as one self-contained HTML file with charts, to open offline and forward.

The charts are plotly's; plotly.js is inlined once into the page, so the file needs no network at
all (no CDN, no web font, no MathJax): it opens the same on a laptop in a train. Everything the
page shows from the journal (labels, error texts, run ids) is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from rcsbatch.reports.figures import CostLine, Figures
from rcsbatch.reports.money import money_text, price_text
from rcsbatch.reports.table import RUN_HEADINGS, cost_text, percent, run_cells, seconds

CHARTS = ("status", "country", "day", "delivery")
_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}
_STATUS_COLOURS = {
    "sent": "#2E7D32",
    "failed": "#C62828",
    "unknown": "#F9A825",
    "expired": "#8E6C8A",
    "not_sent": "#90A4AE",
    "invalid": "#6D4C41",
    "duplicate": "#B0BEC5",
    "suppressed": "#546E7A",
}
_ACCENT = "#1F5F99"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

_CSS = """
:root { --ink: #1d2733; --muted: #5f6b7a; --line: #e3e8ee; --band: #1f5f99; }
* { box-sizing: border-box; }
body { margin: 0; font-family: $FONT; color: var(--ink); background: #f5f7fa; }
header { background: var(--band); color: #fff; padding: 22px 0 18px; }
header > div, main, footer > div { max-width: 1280px; margin: 0 auto; padding-left: 40px;
                                   padding-right: 40px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 600; }
header p { margin: 0; opacity: .85; font-size: 14px; }
.badge { display: inline-block; margin-left: 10px; padding: 2px 8px; border-radius: 10px;
         background: #f9a825; color: #1d2733; font-size: 12px; font-weight: 600;
         vertical-align: middle; }
main { padding: 24px 40px 30px; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-bottom: 22px; }
.tile { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
               letter-spacing: .04em; }
.tile .value { font-size: 22px; font-weight: 600; margin-top: 4px;
               font-variant-numeric: tabular-nums; }
.tile .sub { color: var(--muted); font-size: 12px; margin-top: 2px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; margin-bottom: 22px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card h2 { font-size: 15px; margin: 2px 0 6px; font-weight: 600; }
.chart { height: 300px; }
.tables { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; font-size: 13px;
        font-variant-numeric: tabular-nums; }
th { text-align: left; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line);
     padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 5px 8px; }
td.n, td:first-child { white-space: nowrap; }
td.n, th.n { text-align: right; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.notes { background: #fff8e1; border: 1px solid #f3d98b; border-radius: 8px; color: #6b4a00;
         font-size: 13px; padding: 4px 16px; margin-bottom: 22px; }
.est { color: var(--muted); font-size: 11px; }
footer { color: var(--muted); font-size: 12px; padding: 0 0 30px; }
""".replace("$FONT", _FONT)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure_html(fig: go.Figure, div_id: str) -> str:
    fig.update_layout(
        margin={"l": 50, "r": 16, "t": 10, "b": 40},
        font={"family": _FONT, "size": 12, "color": "#1d2733"},
        paper_bgcolor="#fff",
        plot_bgcolor="#fff",
        showlegend=fig.layout.showlegend,
        xaxis={"gridcolor": "#eef1f5"},
        yaxis={"gridcolor": "#eef1f5", "zerolinecolor": "#d5dbe3"},
    )
    out: str = pio.to_html(
        fig,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        config=_CONFIG,
        div_id=div_id,
        default_height="300px",
        default_width="100%",
    )
    return out


def _float(amount: Decimal) -> float:
    return float(amount)


def _status_chart(f: Figures) -> go.Figure:
    names = list(f.statuses)
    counts = [f.statuses[s] for s in names]
    return go.Figure(
        go.Bar(
            x=counts,
            y=names,
            orientation="h",
            marker_color=[_STATUS_COLOURS.get(s, _ACCENT) for s in names],
            text=[f"{n:,}" for n in counts],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        ),
        layout={"yaxis": {"autorange": "reversed"}, "showlegend": False},
    )


def _cost_chart(lines: Sequence[CostLine], currency: str, *, limit: int = 20) -> go.Figure:
    shown = list(lines[:limit])
    return go.Figure(
        go.Bar(
            x=[c.key for c in shown],
            y=[_float(c.cost) for c in shown],
            marker_color=_ACCENT,
            customdata=[[cost_text(c, currency), c.sent, c.unpriced] for c in shown],
            text=[cost_text(c, currency) for c in shown],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{customdata[0]}<br>%{customdata[1]:,} sent, "
            "%{customdata[2]:,} without a price<extra></extra>",
        ),
        layout={
            "yaxis": {"title": {"text": currency}, "tickformat": ",.2f"},
            "xaxis": {"type": "category"},
            "showlegend": False,
        },
    )


def _delivery_chart(f: Figures) -> go.Figure:
    times = [p.at for p in f.timeline]
    fig = go.Figure(layout={"showlegend": True})
    for name, values, colour in (
        ("sent", [p.sent for p in f.timeline], _ACCENT),
        ("delivered", [p.delivered for p in f.timeline], "#2E7D32"),
        ("failed", [p.failed for p in f.timeline], "#C62828"),
        ("expired", [p.expired for p in f.timeline], "#8E6C8A"),
    ):
        fig.add_trace(
            go.Scatter(
                x=times,
                y=values,
                name=name,
                mode="lines+markers" if len(times) <= 30 else "lines",
                line={"color": colour, "width": 2, "shape": "hv"},
                marker={"size": 5},
            )
        )
    fig.update_layout(
        legend={"orientation": "h", "y": 1.12, "x": 0},
        yaxis={"title": {"text": "messages (cumulative)"}, "rangemode": "tozero"},
        xaxis={"title": {"text": "UTC"}},
    )
    return fig


def _tile(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="sub">{_e(sub)}</div>' if sub else ""
    return (
        f'<div class="tile"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div>{sub_html}</div>'
    )


def _table(
    title: str,
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wide: bool = False,
    numeric: Sequence[int] | None = None,
    total: Sequence[str] | None = None,
) -> str:
    numeric = range(1, len(head)) if numeric is None else numeric

    def cells(row: Sequence[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="n">{_e(c)}</{tag}>' if i in numeric else f"<{tag}>{_e(c)}</{tag}>"
            for i, c in enumerate(row)
        )

    body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
    if total is not None:
        body += f'<tr class="total">{cells(total, "td")}</tr>'
    klass = "card wide" if wide else "card"
    return (
        f'<section class="{klass}"><h2>{_e(title)}</h2><table><thead><tr>{cells(head, "th")}'
        f"</tr></thead><tbody>{body}</tbody></table></section>"
    )


def _cost_rows(lines: Sequence[CostLine], currency: str) -> list[list[str]]:
    return [
        [c.key, f"{c.sent:,}", f"{c.unpriced:,}", cost_text(c, currency), price_text(c.average)]
        for c in lines
    ]


def render(f: Figures) -> str:
    """The report page as one HTML document."""
    cur = f.currency
    total = f.total
    fu = f.funnel
    sim = '<span class="badge">simulated gateway</span>' if f.simulated else ""
    balance_sub = "estimated" if f.balance_before_estimated else ""
    rate = "-" if f.messages_per_second is None else f"{f.messages_per_second:,} msg/s"
    send = "" if f.send_seconds is None else f"{seconds(f.send_seconds)} sending"
    span = ""
    if f.runs:
        first, last = f.runs[0].started_at, f.runs[-1].started_at
        span = f"{first:%Y-%m-%d}" + (f" to {last:%Y-%m-%d}" if last.date() != first.date() else "")
    unpriced = (
        f"{total.unpriced:,} sent without a price yet" if total.unpriced else "every price known"
    )
    tiles = "".join(
        [
            _tile("Total cost", money_text(total.cost, cur), unpriced),
            _tile("Messages sent", f"{total.sent:,}", f"of {f.rows:,} rows"),
            _tile(
                "Delivered",
                percent(fu.delivered, fu.sent),
                f"{fu.delivered:,} delivered, {fu.pending:,} pending",
            ),
            _tile("Average price", price_text(total.average), f"{cur} per priced message"),
            _tile(
                "Balance before",
                money_text(f.balance_before, cur),
                balance_sub
                or ("" if f.balance_before is not None else "not in the runs' summaries"),
            ),
            _tile("Balance after", money_text(f.balance_after, cur)),
            _tile("Send rate", rate, send),
            _tile("Runs", f"{len(f.runs):,}", span),
        ]
    )
    charts = [
        ("Rows by status", _status_chart(f)),
        ("Cost per destination country", _cost_chart(f.by_country, cur)),
        ("Cost per day (UTC)", _cost_chart(f.by_day, cur)),
        ("Delivery over time", _delivery_chart(f)),
    ]
    chart_html = "".join(
        f'<section class="card"><h2>{_e(title)}</h2>'
        f'<div class="chart" data-chart="{name}">{_figure_html(fig, f"chart-{name}")}</div>'
        "</section>"
        for (title, fig), name in zip(charts, CHARTS, strict=True)
    )
    cost_head = ["", "sent", "unpriced", "cost", "avg price"]
    total_row = [
        "total",
        f"{total.sent:,}",
        f"{total.unpriced:,}",
        money_text(total.cost, cur),
        price_text(total.average),
    ]
    tables = [
        _table(
            "Delivery funnel",
            ["stage", "messages", "of sent"],
            [[stage, f"{n:,}", percent(n, fu.sent)] for stage, n in fu.stages()],
        ),
        _table(
            "Rows by status", ["status", "rows"], [[s, f"{n:,}"] for s, n in f.statuses.items()]
        ),
        _table(
            "Cost per country",
            ["country", *cost_head[1:]],
            _cost_rows(f.by_country, cur),
            total=total_row,
        ),
        _table(
            "Cost per label",
            ["label", *cost_head[1:]],
            _cost_rows(f.by_label, cur),
            total=total_row,
        ),
        _table(
            "Cost per day (UTC)",
            ["day", *cost_head[1:]],
            _cost_rows(f.by_day, cur),
            total=total_row,
        ),
        _table("Cost per run", ["run", *cost_head[1:]], _cost_rows(f.by_run, cur), total=total_row),
        _table(
            "Cost per channel (RCS, or the campaign's fallback)",
            ["channel", *cost_head[1:]],
            _cost_rows(f.by_channel, cur),
            total=total_row,
        ),
    ]
    if f.errors:
        tables.append(
            _table(
                "Gateway errors",
                ["code", "status", "rows", "gateway's text"],
                [[e.code, e.status, f"{e.count:,}", e.text or ""] for e in f.errors],
                numeric=[2],
                wide=True,
            )
        )
    tables.append(
        _table(
            "Runs",
            list(RUN_HEADINGS),
            [run_cells(f, r) for r in f.runs],
            wide=True,
            numeric=range(1, 8),
        )
    )
    notes = "".join(f"<p>Note: {_e(n)}</p>" for n in f.notes)
    estimate = ""
    if f.estimated_unpriced_cost is not None:
        estimate = (
            f"<p>Estimated cost of the {total.unpriced:,} messages without a price, at the average "
            f"price: {_e(money_text(f.estimated_unpriced_cost, cur))} "
            "(an estimate, not in the total).</p>"
        )
    title = f"Campaign report: {f.campaign}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<header><div>
<h1>{_e(title)}{sim}</h1>
<p>{_e(f.scope)} · generated {_e(f.generated_at.strftime("%Y-%m-%d %H:%M UTC"))} · amounts in
{_e(cur)}, rounded to the cent</p>
</div></header>
<main>
<div class="tiles">{tiles}</div>
{f'<div class="notes">{estimate}{notes}</div>' if estimate or notes else ""}
<div class="charts">{chart_html}</div>
<div class="tables">{"".join(tables)}</div>
</main>
<footer><div>rcsbatch · costs are the gateway's prices, summed exactly, then rounded to the cent
for display; the JSON and CSV reports hold them exact</div></footer>
</body>
</html>
"""


def write_html(f: Figures, path: Path) -> None:
    """Write the report page to `path`."""
    path.write_text(render(f), encoding="utf-8")
