"""Trouble with the disk under the files rcsbatch keeps: no room left, or a damaged database.

Neither is a bug nor bad input, and neither may end in a traceback: `checked` turns it into a
`StorageError` that names the folder or file and says what to do. Which folder is full, or which
database is damaged, is found out when it happens (the errors of SQLite and of a full disk do not
name the file): the folder whose disk has the least room, the database SQLite's own check refuses.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rcsbatch.errors import StorageError

# No room: a full disk, a full quota, or a file at the process's size limit (`ulimit -f`).
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})

_KINDS = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_IOERR: "io",
    sqlite3.SQLITE_CORRUPT: "damaged",
    sqlite3.SQLITE_NOTADB: "damaged",
}


def trouble(exc: BaseException) -> str | None:
    """What kind of disk trouble `exc` is: ``full``, ``io`` (a write the disk refused),
    ``damaged`` (a database that is not one, or not whole), or None for anything else."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        # An extended code (SQLITE_IOERR_WRITE, …) holds its primary code in its low byte.
        return _KINDS.get(code & 0xFF) if isinstance(code, int) else None
    if isinstance(exc, OSError):
        if exc.errno in _NO_ROOM:
            return "full"
        # pyarrow's writers raise OSError without an errno, the system's error in its text.
        text = str(exc)
        if any(os.strerror(n) in text for n in _NO_ROOM):
            return "full"
    return None


@contextlib.contextmanager
def checked(
    files: Sequence[Path],
    *,
    sending_started: Callable[[], bool] = lambda: False,
    nothing_sent: bool = True,
) -> Iterator[None]:
    """Turn disk trouble while using `files` (files or folders rcsbatch keeps) into a
    StorageError naming the one concerned (see `explain`)."""
    try:
        yield
    except StorageError:
        raise
    except (OSError, sqlite3.Error) as exc:
        found = explain(exc, files, sending_started=sending_started(), nothing_sent=nothing_sent)
        if found is None:
            raise
        raise found from None


def explain(
    exc: BaseException,
    files: Sequence[Path],
    *,
    sending_started: bool = False,
    nothing_sent: bool = True,
) -> StorageError | None:
    """`exc` as a StorageError naming the folder or file among `files` concerned, or None when
    it is no disk trouble. `sending_started` tells whether messages may have gone before it;
    before that, with `nothing_sent`, the message says that nothing was sent."""
    kind = trouble(exc)
    if kind is None:
        return None
    if kind == "damaged":
        return StorageError(_damaged(exc, files))
    named = getattr(exc, "filename", None)
    folder = Path(named).parent if isinstance(named, str) else _fullest(files)
    if kind == "full":
        message = f"the disk holding {folder} is full ({_reason(exc)}); free space"
    else:
        message = (
            f"cannot write in {folder}: the disk refused a write ({_reason(exc)}; a full "
            "disk, a file size limit or a failing disk); free space or fix the disk"
        )
    message += " and run again"
    if sending_started:
        message += (
            ": rows already sent are journaled and will not be sent again (a row whose "
            "answer was not written yet is settled from the gateway's logbook first)"
        )
    elif nothing_sent:
        message += ": nothing was sent"
    return StorageError(message, sending_started=sending_started)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _fullest(files: Sequence[Path]) -> Path:
    """The folder among `files`' whose disk has the least room left (the first when none is
    known): the one to free space on."""
    folders: list[Path] = []
    for path in files:
        folder = path if path.is_dir() else path.parent
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent  # not made yet: its disk is the nearest existing parent's
        folders.append(folder)
    if not folders:
        return Path.cwd()

    def room(folder: Path) -> int:
        try:
            found = os.statvfs(folder)
        except OSError:
            return 1 << 62
        return found.f_bavail * found.f_frsize

    return min(folders, key=room)


def _damaged(exc: BaseException, files: Sequence[Path]) -> str:
    """What to say about a damaged database among `files`: which one (SQLite's own check
    tells)."""
    databases = [p for p in files if p.suffix == ".sqlite" and p.is_file()]
    path = next((p for p in databases if not _whole(p)), databases[0] if databases else None)
    if path is None:
        return f"a database rcsbatch keeps is damaged ({exc}); nothing was sent"
    return damaged(path, exc)


def damaged(path: Path, exc: BaseException) -> str:
    """That the database at `path` is damaged, and what rcsbatch can do without it."""
    if path.name == "claims.sqlite":
        advice = "move it away and run again: rcsbatch makes it anew"
    elif path.name == "lookups.sqlite":
        advice = "move it away and run again: numbers are then looked up again (billed)"
    else:
        advice = (
            "restore it (with its -wal file) from a backup and run again; each run's "
            "results.csv in the report folder keeps what that run knew. To start afresh "
            "instead, move it away and run again: rcsbatch then refuses to send what the "
            "campaign's history or the gateway's logbook shows as sent, and says how to go on"
        )
    return f"{path} is damaged ({exc}); nothing was sent. To go on, {advice}"


def _whole(path: Path) -> bool:
    """Whether SQLite's own check finds the database whole (read only: nothing is changed)."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        ) as db:
            return bool(db.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except sqlite3.Error:
        return False
