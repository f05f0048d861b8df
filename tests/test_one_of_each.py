"""Issue 12's "one of each": each concern has one home, and a second copy fails a test here.

The checks read the package's source (`ast`, `tokenize`), so they hold wherever modules move.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from rcsbatch.actions import capabilities, events
from rcsbatch.gateway import pace, retry
from rcsbatch.gateway.request import SendSettings
from rcsbatch.recipients import prepare
from rcsbatch.reports import outcome
from rcsbatch.state import journal
from rcsbatch.state.status import ROW_STATUSES

PACKAGE = Path(__file__).resolve().parent.parent / "rcsbatch"


def sources() -> dict[str, str]:
    """Every module of the package, by its path relative to the package."""
    return {
        str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def imports_from(module: str) -> Iterator[tuple[str, int, ast.ImportFrom]]:
    """Every `from ... import` of the package whose source module starts with `module`, with the
    importing module's path and the line."""
    for name, text in sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(module):
                yield name, node.lineno, node


def comments(text: str) -> list[tuple[int, str]]:
    """The comments of a module's source, with their line numbers."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]


# A measured figure: "~3 %", "12 %", "0.16 s -> 0.03 s", "2.5×".
FIGURE = re.compile(r"\d\s*%|\d\s*(s|ms)\s*(->|→)\s*\d|\d\s*×")


def test_comments_carry_no_benchmark_figures() -> None:
    """Comments say why, not how much: measured figures live in bench/RESULTS.md, where they
    are kept current (a figure in a comment drifts from it)."""
    found = [
        f"{name}:{line}: {text}"
        for name, text in sources().items()
        for line, text in comments(text)
        if FIGURE.search(text)
    ]
    assert not found, "\n".join(found)


def test_figure_pattern_finds_the_kinds_of_figure_it_names() -> None:
    """The pattern above catches the figures the issue quoted and passes plain reasoning."""
    assert FIGURE.search("# saves ~3 % of a run")
    assert FIGURE.search("# (0.13-0.16 s -> 0.03 s after a run)")
    assert not FIGURE.search("# % is slower than // in numpy")
    assert not FIGURE.search("# one every 1000 s")
    assert not FIGURE.search("# xlsx has at most ~1M rows")


def test_no_module_imports_another_modules_private_name() -> None:
    """A name with a leading underscore stays in its module: one that another module needs (the
    sender's retry wait, once imported by revoke) is made public where it belongs."""
    found = [
        f"{name}:{line}: from {node.module} import {alias.name}"
        for name, line, node in imports_from("rcsbatch")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not found, "\n".join(found)


def test_only_the_retry_policy_builds_a_tenacity_loop() -> None:
    """Retry rules live in `retry.RetryPolicy` alone: another module may name tenacity's
    RetryCallState (a `before_sleep` of its own) but builds no loop, wait or stop of its own."""
    found = [
        f"{name}:{line}: from tenacity import {alias.name}"
        for name, line, node in imports_from("tenacity")
        for alias in node.names
        if name != "gateway/retry.py" and alias.name != "RetryCallState"
    ]
    assert not found, "\n".join(found)


def test_only_the_fan_out_helper_bounds_concurrency_with_a_semaphore() -> None:
    """One-shot actions fan out through `fanout.bounded`: a hand-written Semaphore and gather
    elsewhere is a second copy of it (the sender has workers and a queue instead)."""
    found = [
        f"{name}:{line}"
        for name, text in sources().items()
        if name != "gateway/fanout.py"
        for line, code in enumerate(text.splitlines(), 1)
        if "Semaphore(" in code
    ]
    assert not found, "\n".join(found)


def test_every_status_the_package_names_is_a_row_status() -> None:
    """The report's order, its renamings, the sendable and charged statuses and our own checks'
    verdicts are all `RowStatus` words: a new status is added there first."""
    named = {
        *outcome.ORDER,
        *outcome.PROBLEMS,
        *outcome.CHARGED,
        *outcome.REPORT_STATUS,
        *outcome.REPORT_STATUS.values(),
        *journal.SENDABLE,
        *prepare.STATUSES,
    }
    assert named <= set(ROW_STATUSES), named - set(ROW_STATUSES)
    assert len(set(ROW_STATUSES)) == len(ROW_STATUSES)


# `status='sent'`, `status IN ('unknown', 'in_flight')`, `coalesce(revoke, status) = 'revoked'`
SQL_STATUS = re.compile(r"status\)?\s*(?:=|IN|NOT IN)\s*\(?((?:\s*'[a-z_]+'\s*,?)+)\)?")


def test_the_sql_writes_and_reads_only_row_statuses() -> None:
    """Every status word in the package's SQL is a `RowStatus` (a typo there would match no
    row, silently)."""
    found = {
        word
        for text in sources().values()
        for match in SQL_STATUS.finditer(text)
        for word in re.findall(r"'([a-z_]+)'", match.group(1))
    }
    assert found, "the pattern found no status in the SQL: it has drifted from the code"
    assert found <= set(ROW_STATUSES), found - set(ROW_STATUSES)


def test_only_the_status_module_words_a_failed_rows_text() -> None:
    """The sender, test sends and events take a failed row's status and text from
    `status.failure`: its wording written again elsewhere is a second mapping."""
    found = [
        f"{name}:{line}"
        for name, text in sources().items()
        if name != "state/status.py"
        for line, code in enumerate(text.splitlines(), 1)
        if "gave up after {" in code or "it may have arrived, not sent again" in code
    ]
    assert not found, "\n".join(found)


def test_only_the_money_module_rounds_amounts() -> None:
    """Rounding steps for money live in `reports/money.py` (recipients/cellformat.py renders
    spreadsheet cells by their own number formats, not money)."""
    found = [
        f"{name}:{line}"
        for name, text in sources().items()
        if name not in {"reports/money.py", "recipients/cellformat.py"}
        for line, code in enumerate(text.splitlines(), 1)
        if ".quantize(" in code or "ROUND_HALF" in code
    ]
    assert not found, "\n".join(found)


def journal_tables() -> set[str]:
    """The tables state/journal.py creates (`messages` from a template, under a name it fills
    in)."""
    text = (PACKAGE / "state/journal.py").read_text(encoding="utf-8")
    return set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", text)) | {"messages"}


def sql_strings(text: str) -> Iterator[tuple[int, str]]:
    """The string constants of a module (f-strings' literal parts included), with their lines."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_only_the_journal_module_queries_the_journal() -> None:
    """The journal's SQL lives in state/journal.py (Journal, JournalView, JournalReader): a query on
    one of its tables elsewhere is a second owner. Other databases (claims, test sends) keep
    their own SQL."""
    tables = journal_tables()
    assert {"messages", "runs", "rejects", "capabilities"} <= tables
    query = re.compile(
        r"\b(?:FROM|INTO|UPDATE|JOIN)\s+(" + "|".join(sorted(tables)) + r")\b", re.IGNORECASE
    )
    found = [
        f"{name}:{line}: {match.group(0)}"
        for name, text in sources().items()
        if name != "state/journal.py"
        for line, value in sql_strings(text)
        for match in query.finditer(value)
    ]
    assert not found, "\n".join(found)


def test_only_the_pace_module_wraps_asyncio_sleep() -> None:
    """One patchable sleep, pace.sleep: no other module defines an `async def sleep`, and each
    injectable wait (the pace, retries, a run's settings, events, lookups) defaults to it."""
    defining = {
        path
        for path, source in sources().items()
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "sleep"
    }
    assert defining == {"gateway/pace.py"}
    waits = [pace.RateLimiter, retry.RetryPolicy, capabilities.look_up, events.send_events]
    for wait in waits:
        assert inspect.signature(wait).parameters["sleep"].default is pace.sleep, wait
    assert SendSettings().sleep is pace.sleep
