"""The report folder: where a campaign's run folders go, and whether it can be written.

The report folder is the `report_dir` argument (`--report-dir`), else `$RCSBATCH_REPORT_DIR`,
else the campaign file's `report_dir`. Each campaign has a folder of its own in it, holding one
folder per run (see `results`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from rcsbatch.errors import ReportError

if TYPE_CHECKING:
    from rcsbatch.campaign.file import Campaign

REPORT_DIR_ENV = "RCSBATCH_REPORT_DIR"


def report_root(campaign: Campaign, override: Path | None = None) -> Path:
    """The report folder: --report-dir, else $RCSBATCH_REPORT_DIR, else the campaign's."""
    if override is not None:
        return override.expanduser().resolve()
    env = os.environ.get(REPORT_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return campaign.report_dir


def check_report_folder(root: Path, campaign: Campaign) -> None:
    """Raise ReportError when the campaign's report folder could not be made or written, so
    `validate` and `preview` say so as a run would."""
    folder = root / campaign.name
    for path in (root, folder):
        if path.exists() and not path.is_dir():
            raise ReportError(
                f"the report folder {path} is a file; set report_dir in the campaign file, or "
                "choose another report folder",
                option="report_dir",
            )
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    # Making a folder there is the test: access() says yes to root for /proc and read-only
    # mounts, where a run then fails. The probe is removed at once.
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".rcsbatch-probe-", dir=existing))
    except OSError:
        raise ReportError(
            f"cannot write the report folder {folder} ({existing} is not writable); choose "
            "another report folder",
            option="report_dir",
        ) from None
