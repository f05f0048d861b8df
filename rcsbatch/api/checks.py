"""`validate`, `preview`, `report_figures` and `write_report`: a campaign looked at, not sent.

Each as its command does it. Only `validate` may ask the gateway (the agent and the balance, on
one event loop with one client), and only when a gateway is given or $SEVEN_API_KEY is set;
`preview` and the reports read the recipient file or the journal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rcsbatch.campaign.file import Campaign, check_validity
from rcsbatch.engine import loop, runner
from rcsbatch.errors import ReportError
from rcsbatch.gateway import config
from rcsbatch.gateway.config import Gateway
from rcsbatch.gateway.request import cell_text
from rcsbatch.recipients.prepare import open_plan, warning_counts
from rcsbatch.reports.figures import Figures
from rcsbatch.reports.folder import check_report_folder, report_root
from rcsbatch.state import paths

if TYPE_CHECKING:
    import pandas as pd

from rcsbatch.api.session import check_agent, client_for

__all__ = [
    "RowNote",
    "RowPreview",
    "ValidationResult",
    "preview",
    "report_figures",
    "validate",
    "validate_async",
    "write_report",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RowNote:
    """A row `validate` lists: its number as the file shows it, its status, the phone cell as
    written, and why it will not be sent (or, for a row sent with a warning, the warning)."""

    row: int
    status: str
    input_phone: str
    text: str


@dataclass(frozen=True)
class ValidationResult:
    """What `validate` found: the rows per status, the first rows that will not be sent and
    the first sent with a warning, the warnings by kind.

    `exit_code`: 1 when some row is invalid, else 0 (other rows not sent, such as duplicates or
    opt-outs, are the campaign working as meant).
    """

    file_name: str
    counts: dict[str, int]
    problems: tuple[RowNote, ...]
    warned: tuple[RowNote, ...]
    warnings: dict[str, int]
    foreign_id_warning: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.counts.get("invalid") else 0

    def lines(self) -> list[str]:
        """The summary for people, as `rcsbatch validate` prints it above its tables."""
        from rcsbatch.reports.outcome import warning_lines

        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        rows = f"{self.rows} row" + ("" if self.rows == 1 else "s")
        found = [
            f"{self.file_name}: the campaign file is valid; {rows}"
            + (f": {parts}" if parts else "")
        ]
        if self.foreign_id_warning is not None:
            found.append(self.foreign_id_warning)
        return found + warning_lines(Counter(self.warnings))


def validate(
    campaign: Campaign,
    *,
    show: int = 20,
    gateway: Gateway | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Validate `campaign` (see `validate_async`) from plain code, in a running loop too."""
    return loop.run_sync(validate_async(campaign, show=show, gateway=gateway, on_status=on_status))


async def validate_async(
    campaign: Campaign,
    *,
    show: int = 20,
    gateway: Gateway | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Check `campaign` and every row up to the first request, as `rcsbatch validate` does;
    list at most `show` rows that will not be sent and as many sent with a warning.

    With a gateway (given, or $SEVEN_API_KEY's), one client checks the campaign's agent and
    reads the balance for `[send] max_cost`; `on_status` hears what the agent check says
    (default: logged). Raises InputError kinds for what `run` would refuse before sending (a
    passed validity, an unknown agent, the budget); rows that will not be sent are counted.
    """
    check_validity(campaign, time.time())
    check_report_folder(report_root(campaign), campaign)
    plan = open_plan(campaign)
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    account = paths.account_for(campaign, gateway)
    plan = runner.with_lookups(plan, paths.journal_path(campaign, account))
    counts: dict[str, int] = {}
    warnings: Counter[str] = Counter()
    problems: list[RowNote] = []
    warned: list[RowNote] = []
    for chunk in plan.chunks():
        for status, n in chunk["status"].value_counts().items():
            if n:
                counts[str(status)] = counts.get(str(status), 0) + int(n)
        warnings.update(warning_counts(chunk))
        noted = chunk[chunk["warning"].notna()]
        for row, item in _numbered(noted.head(max(show - len(warned), 0))):
            phone = cell_text(item["input_phone"]) or ""
            warned.append(RowNote(row, str(item["status"]), phone, str(item["warning"])))
        bad = chunk[chunk["status"] != "ready"]
        for row, item in _numbered(bad.head(max(show - len(problems), 0))):
            phone = cell_text(item["input_phone"]) or ""
            problems.append(RowNote(row, str(item["status"]), phone, str(item["reason"])))
    # Only once the rows are known good: a problem in the file is the first thing to say.
    say = on_status or (lambda line: log.warning("%s", line))
    balance = None
    needs_balance = campaign.send.max_cost is not None
    if gateway is not None and (campaign.message.sender is not None or needs_balance):
        async with client_for(gateway, max_connections=1) as client:
            await check_agent(campaign, client, say)
            # A campaign that validates must not be refused by `run` for its budget.
            balance = await runner.balance_of(client) if needs_balance else None
    elif campaign.message.sender is not None:
        say(f"agent check skipped: no {config.API_KEY_ENV} to ask the gateway with")
    runner.check_budget_ahead(campaign, plan, account, balance)
    return ValidationResult(
        campaign.path.name,
        counts,
        tuple(problems),
        tuple(warned),
        dict(warnings),
        _foreign_id_warning(campaign),
    )


def _numbered(chunk: pd.DataFrame) -> Iterator[tuple[int, pd.Series[Any]]]:
    """A checked chunk's rows with their numbers as the file shows them (its index)."""
    for row, (_, item) in zip(chunk.index.tolist(), chunk.iterrows(), strict=True):
        yield int(row), item


def _foreign_id_warning(campaign: Campaign) -> str | None:
    """A foreign_id template that holds nothing of the campaign: lost answers of two campaigns
    with the same template and text could then only be told apart by time."""
    template = campaign.message.foreign_id
    if template is None or any(ch.isalnum() for ch in "".join(template.literals)):
        return None
    return (
        f"warning: foreign_id = {template.source!r} holds nothing of this campaign: another "
        "campaign with the same template and text is told apart from this one only by time "
        f'when a lost answer is settled; write e.g. "{campaign.name}-{template.source}"'
    )


@dataclass(frozen=True)
class RowPreview:
    """What one ready row would send: its number as the file shows it, the request's parameters
    as the gateway gets them, the rich object (parsed) when the campaign sends rich content, and
    the row's warning if any."""

    row: int
    params: dict[str, Any]
    rich: Any = None
    warning: str | None = None


def preview(
    campaign: Campaign, *, count: int = 5, gateway: Gateway | None = None
) -> list[RowPreview]:
    """The first `count` ready rows of `campaign` as they would go, as `rcsbatch preview` shows
    them; no request. The capability lookups in the journal of `gateway`'s account (given, or
    $SEVEN_API_KEY's, else the one account that ran the campaign) count as a run would count
    them. InputError kinds as for `validate`; no ready row gives an empty list."""
    from rcsbatch.gateway.request import request_params

    check_validity(campaign, time.time())
    check_report_folder(report_root(campaign), campaign)
    plan = open_plan(campaign)
    if gateway is None and config.api_key_from_env():
        gateway = Gateway.from_env()
    with contextlib.suppress(ReportError):  # several accounts and no key: no lookups to use
        plan = runner.with_lookups(
            plan, paths.journal_path(campaign, paths.account_for(campaign, gateway))
        )
    found: list[RowPreview] = []
    if count <= 0:
        return found
    for chunk in plan.chunks():
        ready = chunk[chunk["status"] == "ready"]
        for row, item in _numbered(ready):
            rich = json.loads(item["text"]) if campaign.message.rich is not None else None
            warning = None if item["warning"] is None else str(item["warning"])
            found.append(RowPreview(row, request_params(campaign, item), rich, warning))
            if len(found) >= count:
                return found
    return found


def report_figures(
    campaign: Campaign,
    *,
    run_id: str | None = None,
    simulate: bool = False,
    gateway: Gateway | None = None,
) -> Figures:
    """The figures `rcsbatch report` shows for `campaign` (every run, or `run_id`), read from
    the journal of `gateway`'s account (given, or $SEVEN_API_KEY's, else the one that ran it;
    `simulate`: the built-in simulator's). No request. InputError kinds when there is nothing
    to report.

    No report folder: the journal lives in the state folder, whichever folder the runs wrote
    to; `write_report` takes one only as the default place of an xlsx or html file."""
    from rcsbatch.reports.figures import figures

    return figures(_report_journal(campaign, simulate, gateway), campaign.name, run_id)


def write_report(
    campaign: Campaign,
    fmt: str = "table",
    *,
    output: str | os.PathLike[str] | TextIO | None = None,
    run_id: str | None = None,
    simulate: bool = False,
    report_dir: str | os.PathLike[str] | None = None,
    csv_dialect: str | None = None,
    gateway: Gateway | None = None,
) -> Path | None:
    """Write the report of `campaign` (see `report_figures`) as `fmt` (table, csv, json, xlsx or
    html), as `rcsbatch report` does; the file written, or None when it went to a stream.

    `output` is a path, or a text stream (xlsx and html go to its binary buffer); xlsx and html
    go by default to report.xlsx / report.html in the campaign's report folder. `csv_dialect`
    is "standard" or "excel" (default: the campaign's csv_dialect). InputError kinds when there
    is nothing to report or the file cannot be written.
    """
    from rcsbatch.reports import csvfile
    from rcsbatch.reports.formats import FILE_FORMATS, FORMATS, STDOUT
    from rcsbatch.reports.formats import write_report as write

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if output is None and fmt not in FILE_FORMATS:
        raise ValueError(f"a {fmt} report goes to a path or a text stream: give `output`")
    stream = output if output is not None and not isinstance(output, str | os.PathLike) else None
    root = report_root(campaign, Path(report_dir) if report_dir is not None else None)
    return write(
        _report_journal(campaign, simulate, gateway),
        campaign.name,
        fmt,
        run_id=run_id,
        output=Path(STDOUT) if stream is not None else _path_or_none(output),
        stdout=stream,
        folder=root / campaign.name,
        dialect=csvfile.dialect(csv_dialect) if csv_dialect else campaign.csv,
    )


def _path_or_none(output: str | os.PathLike[str] | TextIO | None) -> Path | None:
    return Path(output) if isinstance(output, str | os.PathLike) else None


def _report_journal(campaign: Campaign, simulate: bool, gateway: Gateway | None) -> Path:
    """The journal a report reads: the account's of `gateway` (see paths.account_for)."""
    if simulate and gateway is not None:
        raise ValueError("give a gateway or simulate=True, not both")
    if gateway is None and not simulate and config.api_key_from_env():
        gateway = Gateway.from_env()
    return paths.journal_path(campaign, paths.account_for(campaign, gateway, simulate))
