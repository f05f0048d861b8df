"""The exit codes of the `rcsbatch` command, each with what it means: the one table the CLI's
`--help`, the README and docs/commands.md (held to it by tests/test_docs.py) and the code use.

When several apply, the highest is returned (reports.outcome.Report.exit_code decides a run's).
This module imports nothing heavy: the console entry point (process.py) needs it before the CLI
loads.
"""

from __future__ import annotations

import signal
import textwrap
from enum import IntEnum


class ExitCode(IntEnum):
    """An exit code; `.meaning` says when it is returned, in one line."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = (
        0,
        "every row that could be sent was accepted (invalid, duplicate, suppressed and incapable"
        " rows are reported, not failures)",
    )
    ROWS = (
        1,
        "some rows are failed, unknown, expired or not_sent; for validate and --dry-run: some"
        " rows are invalid; a full disk stopped a run after it began to send",
    )
    INPUT = (
        2,
        "usage or input error, a full disk or a damaged journal met before sending: nothing was"
        " sent",
    )
    GATEWAY = 3, "the gateway stopped the run (key, credit, permissions, sender)"
    BUSY = 4, "another run of the same campaign is going on: this one sent nothing"
    INTERRUPTED = (
        128 + signal.SIGINT,
        "interrupted by Ctrl-C (SIGINT), at any moment: journal and report written once sending"
        " began",
    )
    TERMINATED = 128 + signal.SIGTERM, "stopped by SIGTERM, as by Ctrl-C"


def help_table(width: int = 78) -> str:
    """The exit codes as `--help` lists them: one per line, its meaning wrapped beside it."""
    lines: list[str] = []
    for code in ExitCode:
        lines += textwrap.wrap(
            code.meaning,
            width,
            initial_indent=f"  {code.value:<4} ",
            subsequent_indent=" " * 7,
            break_on_hyphens=False,
        )
    return "\n".join(lines)
