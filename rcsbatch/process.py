"""The process the `rcsbatch` command owns: its signals, its stdout and stderr, how it ends.

Only the console script (and `python -m rcsbatch`) calls `main`; a program that imports rcsbatch
keeps its own signal handlers and streams. This module imports nothing heavy: its handlers are
in place before the CLI's imports (pandas, pyarrow: most of a second), so Ctrl-C or SIGTERM at
any moment ends the same way, never in a traceback:

- Ctrl-C exits 130 and SIGTERM 143, with one line on stderr. While a run sends, its sender
  catches both itself (no new request, the report written) and the run's exit code says so.
- A stdout that cannot take what is written, a reader that left (`| head -1`) or a full device,
  never raises: the rest is dropped. A reader that left is the reader's choice: nothing is said
  and the exit code is the command's own. Any other failure is one line on stderr; a command
  whose product is what it prints (`preview`, `report` to stdout, `agents`, `hooks`) then exits
  2, one whose product is on disk (`run`, `sync`, …) keeps its exit code.
- A stderr that cannot be written loses the messages, not the run.
- A standard descriptor that is closed (`>&-`, a daemon) is opened on /dev/null first: else the
  first file or socket opened takes its number (the event loop aborted on closing it, exit 134,
  and a journal could take stdout's). A closed stdout then counts as one that cannot take
  what is written.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from rcsbatch.exitcodes import ExitCode

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised wherever the program is, as Ctrl-C raises KeyboardInterrupt: the same
    unwinding (transactions rolled back, files closed), then exit 143."""


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM, carried past click (which would turn it into "Aborted!", exit 1)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def signal_of(exc: BaseException) -> int | None:
    """The signal `exc` stands for (SIGINT, SIGTERM), or None: click's prompts raise Abort from
    the KeyboardInterrupt, which then is its context."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, Interrupted):
            return seen.signum
        if isinstance(seen, Terminated):
            return signal.SIGTERM
        if isinstance(seen, KeyboardInterrupt):
            return signal.SIGINT
        seen = seen.__cause__ or seen.__context__
    return None


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


class _Guarded(io.RawIOBase):
    """A standard stream's file descriptor, for the buffer under sys.stdout or sys.stderr: a
    write that fails is noted and dropped, never raised (Python would raise it again when it
    flushes the stream at exit)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.failure: OSError | None = None
        self.told = False  # whether the failure has been said on stderr

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: WriteableBuffer, /) -> int:
        if self.failure is None:
            try:
                return os.write(self.fd, data)
            except OSError as exc:
                self.failure = exc
        return memoryview(data).nbytes

    def close(self) -> None:
        # The descriptor stays open: it is the process's stdout or stderr, not ours to close.
        super().close()


_streams: dict[str, _Guarded] = {}
_FDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def _open_closed() -> set[str]:
    """Open each closed standard descriptor on /dev/null; the names of those that were."""
    closed = set()
    for name, fd in _FDS.items():
        try:
            os.fstat(fd)
        except OSError:
            closed.add(name)
            # The lowest free number is this one, as the loop goes upwards.
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    return closed


def _guard(name: str, *, write_through: bool, closed: bool = False) -> None:
    if closed and getattr(sys, name) is None:
        # Python left the stream None; what is written goes nowhere, and is said to be lost.
        raw = _Guarded(_FDS[name])
        raw.failure = OSError(errno.EBADF, f"{name} is closed")
        _streams[name] = raw
        setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(raw), write_through=True))
        return
    old = getattr(sys, name)
    if old is None or old is not getattr(sys, f"__{name}__"):
        return  # none, or already replaced by whoever runs us: left alone
    try:
        fd = old.fileno()
        old.flush()
    except (OSError, ValueError):
        return
    raw = _Guarded(fd)
    stream = io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=old.encoding,
        errors=old.errors,
        line_buffering=old.line_buffering,
        write_through=write_through or old.write_through,
    )
    _streams[name] = raw
    setattr(sys, name, stream)


def stdout_lost() -> OSError | None:
    """Why what was printed on stdout did not all arrive (None: it did, or stdout is not
    guarded); a reader that left (EPIPE) is not counted."""
    raw = _streams.get("stdout")
    if raw is None:
        return None
    sys.stdout.flush()
    failure = raw.failure
    return failure if failure is not None and failure.errno != errno.EPIPE else None


def tell_stdout_lost(what: str | None = None) -> bool:
    """Say once on stderr that stdout failed (`what`: what the reader misses); whether it had."""
    failure = stdout_lost()
    raw = _streams.get("stdout")
    if failure is None or raw is None:
        return False
    if not raw.told:
        raw.told = True
        reason = failure.strerror or str(failure)
        line = (
            f"cannot print {what} on stdout ({reason})"
            if what
            else (f"cannot print on stdout ({reason}): some output is lost")
        )
        sys.stderr.write(line + "\n")
    return True


def main() -> None:
    """Run the command line with the process's signals and streams in hand; see the module
    docstring."""
    signal.signal(signal.SIGTERM, _terminate)
    closed = _open_closed()
    _guard("stdout", write_through=False, closed="stdout" in closed)
    _guard("stderr", write_through=True, closed="stderr" in closed)
    try:
        from rcsbatch.cli import run_command

        code = run_command()
    except (KeyboardInterrupt, Interrupted) as exc:
        code = interrupted(signal_of(exc) or signal.SIGINT)
    tell_stdout_lost()
    sys.exit(code)


def interrupted(signum: int) -> int:
    """Say that the command was stopped by `signum`; its exit code."""
    # A second Ctrl-C while this is said must not end in a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    name = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted (Ctrl-C)"
    sys.stderr.write(f"{name}: run the same command again to go on\n")
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED
