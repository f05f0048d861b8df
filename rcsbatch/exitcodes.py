"""The exit codes of the `rcsbatch` command, each with what it means: the one table the CLI's
`--help`, the README and docs/commands.md (held to it by tests/test_docs.py) and the code use.
`COMMANDS` says which of them each command that does not run a campaign returns, and what each
means there.

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


# The codes of the commands that return fewer than a run does, each in that command's words;
# `run`, `validate` and the group list ExitCode itself.
COMMANDS: dict[str, dict[ExitCode, str]] = {
    "sync": {
        ExitCode.OK: "synced",
        ExitCode.ROWS: "the logbook could not be read",
        ExitCode.INPUT: "never run, or no key",
        ExitCode.GATEWAY: "the gateway refused the key",
        ExitCode.BUSY: "a run of the campaign is going on: sync after it",
    },
    "report": {
        ExitCode.OK: "report written",
        ExitCode.INPUT: "the campaign was never run there, no such run, or the output cannot be"
        " written",
    },
    "revoke": {
        ExitCode.OK: "every revoke request was taken (or nothing to revoke)",
        ExitCode.ROWS: "some requests failed, or the question was answered no",
        ExitCode.INPUT: "never run, no such run, no key, or no terminal and no --yes",
        ExitCode.GATEWAY: "the gateway refused the key",
        ExitCode.BUSY: "a run of the campaign is going on",
    },
    "agents": {
        ExitCode.OK: "listed",
        ExitCode.ROWS: "the gateway failed to answer",
        ExitCode.INPUT: "no key",
        ExitCode.GATEWAY: "the gateway refused the key",
    },
    "event": {
        ExitCode.OK: "every event was accepted",
        ExitCode.ROWS: "some failed or were lost",
        ExitCode.INPUT: "a bad value: nothing was sent",
        ExitCode.GATEWAY: "the gateway refused the key or its rights",
    },
    "capabilities": {
        ExitCode.OK: "every number has a lookup",
        ExitCode.ROWS: "some could not be looked up, or the lookups were declined",
        ExitCode.INPUT: "a bad value: nothing was looked up",
        ExitCode.GATEWAY: "the gateway refused the key or the credit",
    },
}


def meanings(command: str | None = None) -> dict[ExitCode, str]:
    """The codes `command` returns (a key of COMMANDS; None: every code, as `run`) and what
    each means there."""
    if command is None:
        return {code: code.meaning for code in ExitCode}
    return COMMANDS[command]


def help_table(command: str | None = None, width: int = 78) -> str:
    """The exit codes of `command` (see `meanings`) as `--help` lists them: one per line, its
    meaning wrapped beside it."""
    lines: list[str] = []
    for code, meaning in meanings(command).items():
        lines += textwrap.wrap(
            meaning,
            width,
            initial_indent=f"  {code.value:<4} ",
            subsequent_indent=" " * 7,
            break_on_hyphens=False,
        )
    return "\n".join(lines)
