"""Who may read the files that hold numbers and texts: their owner, or also the owner's group.

Every journal, claim, history mark, test-send record, results file, report and simulator state
rcsbatch writes is created 0600 and every folder it creates for them 0700, whatever the umask;
`RCSBATCH_SHARE_WITH_GROUP=1` makes them 0640 and 0750 for a team. The modes are asked of the
kernel at creation, so a stricter umask (077) still narrows them; they are never wider.

A folder that exists already (a report folder the user made, their home) is left as it is: only
the folders rcsbatch creates get the mode. A file rcsbatch writes again is narrowed to the mode
when it is wider (a journal an older rcsbatch made 0644), never widened.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import TextIO

SHARE_ENV = "RCSBATCH_SHARE_WITH_GROUP"


def shared() -> bool:
    """Whether the owner's group may read (`RCSBATCH_SHARE_WITH_GROUP=1`)."""
    return os.environ.get(SHARE_ENV, "").strip() == "1"


def file_mode() -> int:
    return 0o640 if shared() else 0o600


def folder_mode() -> int:
    return 0o750 if shared() else 0o700


def make_folder(path: Path) -> None:
    """Create `path` and its missing parents with `folder_mode()`; existing ones are untouched."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        # exist_ok: another process may make it meanwhile (then its mode is that process's).
        folder.mkdir(mode=folder_mode(), exist_ok=True)


def open_fd(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """`os.open(path, flags)`, a new file created with `file_mode()`, an existing one narrowed
    to it."""
    fd = os.open(path, flags, file_mode())
    try:
        _narrow(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_text(path: Path, encoding: str = "utf-8") -> TextIO:
    """`path` opened to write text (emptied first; newlines as written), private."""
    return os.fdopen(open_fd(path), "w", encoding=encoding, newline="")


def prepare(path: Path) -> Path:
    """Make sure `path` exists with `file_mode()` (its content kept), before a writer that only
    takes a path (SQLite, Arrow, openpyxl) opens it: those keep an existing file's mode."""
    # Read-only: a reader of a teammate's journal may not write it.
    os.close(open_fd(path, os.O_RDONLY | os.O_CREAT))
    return path


def prepare_database(path: Path) -> Path:
    """`prepare` for an SQLite file; its `-wal` and `-shm`, which SQLite creates with the main
    file's mode, are narrowed too when an older rcsbatch left them wider."""
    prepare(path)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            fd = os.open(f"{path}{suffix}", os.O_RDONLY)
            try:
                _narrow(fd)
            finally:
                os.close(fd)
    return path


def _narrow(fd: int) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & ~file_mode():
        # A teammate's file (shared by group) cannot be chmod'ed by us: leave it as it is.
        with contextlib.suppress(OSError):
            os.fchmod(fd, mode & file_mode())
