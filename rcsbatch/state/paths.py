"""Where a campaign's state lives: its journal, run lock, test sends and simulator state.

A campaign is its name under one gateway account. Its state sits in a folder keyed by both,
`<state root>/<account>/<campaign name>/`, never under the report folder: cron may write reports
to one folder and a person at the shell to another, yet both runs must find the same journal and
the same lock, or every recipient is messaged twice.

The account is the gateway's base URL and a fingerprint of the API key (a truncated SHA-256; the
key itself is never written anywhere). `--simulate` and every simulated gateway share the
account `simulator`, so a simulated run never settles, skips or counts a real one.

The state root is `$RCSBATCH_STATE_DIR`, else `$XDG_STATE_HOME/rcsbatch`, else
`~/.local/state/rcsbatch`. A campaign file's `journal = "…"` puts the journal (with its lock and
history mark beside it) where it says.

Beside the journal, `history.json` records that the campaign has run (its runs and the last one's
id), written after the run's start is checkpointed into the journal's main file: a journal that
is later missing, empty or lacks that run (a lost `-wal` file, a restored old copy, a deleted
folder) is refused instead of being taken for a fresh campaign.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsbatch.errors import CampaignBusyError, HistoryLostError, ReportError
from rcsbatch.state import privacy
from rcsbatch.state.journal import JournalView

if TYPE_CHECKING:
    from rcsbatch.campaign.file import Campaign
    from rcsbatch.gateway.config import Gateway

STATE_DIR_ENV = "RCSBATCH_STATE_DIR"
SIMULATOR = "simulator"
JOURNAL = "journal.sqlite"
HISTORY = "history.json"
LOGBOOK = "logbook.json"  # what was measured about the account's logbook


def state_root() -> Path:
    """The folder holding every account's campaign state."""
    env = os.environ.get(STATE_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return (base / "rcsbatch").resolve()


def account_id(base_url: str, api_key: str, *, simulated: bool = False) -> str:
    """The account's folder name: `simulator`, or the gateway's host and a fingerprint of the
    base URL and key (16 hex digits of SHA-256: enough to tell keys apart, nothing to recover
    a key from)."""
    if simulated:
        return SIMULATOR
    url = base_url.strip().rstrip("/")
    digest = hashlib.sha256(f"{url}\n{api_key}".encode()).hexdigest()[:16]
    parts = urllib.parse.urlsplit(url)
    # The host and port only: a URL's user:password never goes into a folder's name.
    host = parts.hostname or "gateway"
    if parts.port:
        host = f"{host}_{parts.port}"
    return f"{re.sub(r'[^A-Za-z0-9.-]', '_', host)}-{digest}"


@dataclass(frozen=True)
class CampaignState:
    """The files of one campaign under one account."""

    account: str
    folder: Path  # the account's folder for this campaign
    journal: Path

    @property
    def lock(self) -> Path:
        return self.journal.with_name(self.journal.name + ".lock")

    @property
    def history(self) -> Path:
        return self.journal.with_name(
            HISTORY if self.journal.name == JOURNAL else self.journal.name + ".history.json"
        )

    @property
    def test_sends(self) -> Path:
        return self.folder / "test-sends.sqlite"

    @property
    def simulator(self) -> Path:
        return self.folder / "simulator.json"

    @property
    def account_folder(self) -> Path:
        return self.folder.parent


def campaign_state(campaign: Campaign, account: Gateway | str) -> CampaignState:
    """The campaign's state under the gateway's account (or the account named); the campaign
    file's `journal` overrides the journal's place."""
    name = account if isinstance(account, str) else account.account
    folder = state_root() / name / campaign.name
    journal = campaign.journal
    return CampaignState(name, folder, journal if journal is not None else folder / JOURNAL)


def journal_path(campaign: Campaign, account: Gateway | str) -> Path:
    """Where the campaign's journal lives under the gateway's account."""
    return campaign_state(campaign, account).journal


def account_for(campaign: Campaign, gateway: Gateway | None, simulate: bool = False) -> str:
    """The account whose journal a command without a send reads: the simulator's with
    --simulate, the key's when there is one, else the one account that ran the campaign (a real
    one before the simulator)."""
    if simulate:
        return SIMULATOR
    if gateway is not None:
        return gateway.account
    found = accounts_with(campaign.name)
    real = [a for a in found if a != SIMULATOR]
    if len(real) > 1:
        raise ReportError(
            f"{campaign.name} ran under {len(real)} gateway accounts on this machine: set "
            "SEVEN_API_KEY to the key of the one you mean"
        )
    return found[0] if found else SIMULATOR


def accounts_with(name: str) -> list[str]:
    """The accounts under which a campaign of this name has a journal, simulator last."""
    root = state_root()
    if not root.is_dir():
        return []
    found = sorted(p.parent.parent.name for p in root.glob(f"*/{glob_escape(name)}/{JOURNAL}"))
    return sorted(found, key=lambda a: a == SIMULATOR)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def make_private_dir(path: Path) -> None:
    """Create `path` (and its parents) for the owner only (state/privacy.py): it holds numbers and
    texts."""
    privacy.make_folder(path)


# -- history: proof that the campaign ran, kept outside the journal ----------------------------


def read_history(state: CampaignState) -> dict[str, Any] | None:
    """The history mark, or None when the campaign never started a run under this account."""
    try:
        text = state.history.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ReportError(f"cannot read {state.history} ({exc.strerror})") from None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        # A torn mark still says the campaign ran: never read it as "no history".
        return {"runs": None, "last_run": None}
    return found


def write_history(state: CampaignState, campaign: str, run_id: str, runs: int) -> None:
    """Record, durably, that `run_id` (the campaign's `runs`-th run) started."""
    data = {
        "campaign": campaign,
        "account": state.account,
        "runs": runs,
        "last_run": run_id,
        "journal": str(state.journal),
    }
    temp = state.history.with_name(state.history.name + ".tmp")
    fd = privacy.open_fd(temp)
    try:
        os.write(fd, json.dumps(data, indent=2).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, state.history)
    _fsync_dir(state.history.parent)


def check_history(state: CampaignState) -> None:
    """Raise HistoryLostError when the history mark says the campaign ran but the journal is
    missing, empty, or does not hold the mark's last run."""
    mark = read_history(state)
    if mark is None:
        return
    last = mark.get("last_run")
    problem = _journal_problem(state.journal, last if isinstance(last, str) else None)
    if problem is None:
        return
    runs = mark.get("runs")
    ran = f"{runs} runs, the last {last}" if runs else "at least one run"
    raise HistoryLostError(
        f"the campaign ran before under this account ({ran}, as {state.history} records), but "
        f"its journal {state.journal} {problem}: rows it already sent could be sent twice, so "
        "nothing is sent. Restore the journal together with its -wal file from a backup, or "
        "move it back where it was. To start afresh anyway, delete "
        f"{state.history} (and the journal) and run again: rcsbatch then looks a sample of "
        "recipients up in the gateway's logbook and refuses again if this campaign's messages "
        "are there. To message the same people again, give the campaign a new name."
    )


def _journal_problem(path: Path, last_run: str | None) -> str | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    if size == 0:
        return "is empty"
    try:
        db = JournalView(path)
    except sqlite3.Error:
        return "cannot be opened"
    try:
        if last_run is None:
            return None if db.run_count() else "holds no run"
        return None if db.has_run(last_run) else f"does not hold the run {last_run}"
    except sqlite3.Error:
        return "holds no run"
    finally:
        db.close()


# -- journals of older versions, kept in the report folder --------------------------------


def adopt_legacy(state: CampaignState, legacy_folder: Path) -> Path | None:
    """Move a journal an older rcsbatch kept in the report folder (`<report dir>/<campaign>/`)
    into the state folder, when it belongs to this account; returns the path it came from.

    A legacy journal's account is told from its runs: one written by simulated runs only
    belongs to the simulator, any other to a real account (the first real account to use it).
    Its `-wal` is folded into the main file first, so one file moves.
    """
    legacy = legacy_folder / JOURNAL
    if state.journal.exists() or not legacy.is_file():
        return None
    simulated = _legacy_simulated(legacy)
    if simulated is None or simulated != (state.account == SIMULATOR):
        return None
    make_private_dir(state.journal.parent)
    shutil.move(legacy, state.journal)
    for name in ("test-sends.sqlite", "simulator.json") if simulated else ("test-sends.sqlite",):
        source = legacy_folder / name
        target = state.folder / name
        if source.is_file() and not target.exists():
            make_private_dir(target.parent)
            shutil.move(source, target)
    return legacy


def _legacy_simulated(path: Path) -> bool | None:
    """Whether a legacy journal was written by simulated runs only; None if unreadable."""
    try:
        db = JournalView(path, read_only=False)
    except sqlite3.Error:
        return None
    try:
        db.fold_wal()
        summaries = db.summaries()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    simulated = []
    for text in summaries:
        try:
            simulated.append(bool(json.loads(text or "{}").get("simulated")))
        except ValueError:
            simulated.append(False)
    # No finished run: judged by the simulator's state file beside it.
    if not simulated:
        return (path.parent / "simulator.json").exists()
    return all(simulated)


def read_logbook_zone(state: CampaignState) -> str | None:
    """The logbook's time zone as measured before under this account, if it was."""
    try:
        found = json.loads((state.account_folder / LOGBOOK).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    zone = found.get("zone") if isinstance(found, dict) else None
    return zone if isinstance(zone, str) else None


def keep_logbook_zone(state: CampaignState, zone: str) -> None:
    """Keep the logbook's measured zone for the account's next runs (each run measures again
    and replaces it when it differs)."""
    if read_logbook_zone(state) == zone:
        return
    path = state.account_folder / LOGBOOK
    temp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(OSError):
        fd = privacy.open_fd(temp)
        try:
            os.write(fd, json.dumps({"zone": zone}).encode() + b"\n")
        finally:
            os.close(fd)
        os.replace(temp, path)


# -- a campaign's state, opened by a command ----------------------------------------------


def open_state(campaign: Campaign, account: Gateway | str, root: Path) -> CampaignState:
    """The campaign's state, with a journal an older rcsbatch kept in the report folder `root`
    moved in (when it belongs to this account), and its history checked: raises
    HistoryLostError when the campaign ran but its journal is gone."""
    found = campaign_state(campaign, account)
    try:
        make_private_dir(found.journal.parent)
        adopt_legacy(found, root / campaign.name)
    except OSError as exc:
        raise ReportError(
            f"cannot use the state folder {found.journal.parent} ({exc.strerror}); set "
            f"{STATE_DIR_ENV} to a folder you can write"
        ) from None
    check_history(found)
    return found


def existing_state(campaign: Campaign, gateway: Gateway, root: Path, what: str) -> CampaignState:
    """The state of a campaign that ran under the gateway's account (a journal an older version
    kept in the report folder moves in); ReportError when it never ran there."""
    found = campaign_state(campaign, gateway)
    if not found.journal.exists():
        found = open_state(campaign, gateway, root)
    if not found.journal.exists():
        raise ReportError(
            f"{campaign.name} was never run under this gateway account "
            f"({'the simulator' if gateway.simulated else 'SEVEN_API_KEY'}): nothing to {what}"
        )
    return found


@contextlib.contextmanager
def campaign_lock(path: Path) -> Iterator[None]:
    """Hold the campaign's run lock (the file `path`, beside its journal), or raise
    CampaignBusyError at once if another run has it.

    An flock dies with its process, so a lock left by a killed run never blocks the next one.
    """
    try:
        make_private_dir(path.parent)
        handle = os.fdopen(privacy.open_fd(path, os.O_RDWR | os.O_CREAT | os.O_APPEND), "a+")
    except OSError as exc:
        raise ReportError(
            f"cannot use the state folder {path.parent} ({exc.strerror}); set "
            f"{STATE_DIR_ENV} to a folder you can write"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CampaignBusyError(
                f"another run of this campaign is going on (lock {path}); "
                "wait for it to finish, then run again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
