"""Files holding numbers and texts are the owner's (or the group's), whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CampaignFactory

import rcsbatch
from rcsbatch.actions import events
from rcsbatch.cli import cli
from rcsbatch.gateway.config import Gateway
from rcsbatch.simulator.backend import Backend
from rcsbatch.state import privacy
from rcsbatch.state.journal import Journal


@pytest.fixture
def umask() -> Iterator[None]:
    """The umask the test sets is put back afterwards."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def modes(root: Path) -> dict[Path, int]:
    """The permission bits of `root` and of everything under it."""
    found = {root: stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


def campaign_modes(
    make_campaign: CampaignFactory, gateway: Gateway, state_dir: Path
) -> dict[Path, int]:
    """Send a test message, run a simulated campaign and write its xlsx report; the modes in
    the state and report folders."""
    campaign = make_campaign(3)
    sent = rcsbatch.send_test_messages(campaign, to=["+4917699990001"], gateway=gateway)
    assert sent.exit_code == 0
    result = rcsbatch.run(campaign, gateway=gateway)
    assert (result.folder / "results.csv").is_file()
    report = CliRunner().invoke(
        cli, ["report", str(campaign.path), "--simulate", "--format", "xlsx"]
    )
    assert report.exit_code == 0, report.output
    assert Path(report.stdout.strip()).name == "report.xlsx"
    assert campaign.report_dir.parent.is_dir()
    found = {**modes(state_dir), **modes(campaign.report_dir)}
    assert any(p.name == "results.parquet" for p in found)
    assert any(p.name == "report.xlsx" for p in found)
    assert any(p.name == "journal.sqlite" for p in found)
    assert any(p.name == "test-sends.sqlite" for p in found)
    assert sent.path in found
    return found


@pytest.mark.parametrize(
    ("mask", "share", "file", "folder"),
    [
        pytest.param(0o022, None, 0o600, 0o700, id="umask-022"),
        pytest.param(0o000, None, 0o600, 0o700, id="umask-000"),
        pytest.param(0o022, "1", 0o640, 0o750, id="umask-022-group"),
        pytest.param(0o077, None, 0o600, 0o700, id="umask-077"),
        # A stricter umask still narrows the shared modes.
        pytest.param(0o077, "1", 0o600, 0o700, id="umask-077-group"),
    ],
)
def test_a_campaign_writes_private_files_in_private_folders(
    umask: None,
    make_campaign: CampaignFactory,
    gateway: Gateway,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    mask: int,
    share: str | None,
    file: int,
    folder: int,
) -> None:
    """Every file of a run and its report is `file`, every folder rcsbatch made `folder`."""
    os.umask(mask)
    if share is None:
        monkeypatch.delenv(privacy.SHARE_ENV, raising=False)
    else:
        monkeypatch.setenv(privacy.SHARE_ENV, share)
    found = campaign_modes(make_campaign, gateway, state_dir)
    wrong = {str(p): oct(m) for p, m in found.items() if m != (folder if p.is_dir() else file)}
    assert not wrong


def test_an_existing_report_folder_is_left_as_it_is(
    umask: None, make_campaign: CampaignFactory, gateway: Gateway, state_dir: Path
) -> None:
    """A report folder the user made keeps its mode; the campaign's folder in it is private."""
    campaign = make_campaign(2)
    campaign.report_dir.mkdir(mode=0o755)
    os.chmod(campaign.report_dir, 0o755)
    rcsbatch.run(campaign, gateway=gateway)
    assert stat.S_IMODE(campaign.report_dir.stat().st_mode) == 0o755
    assert stat.S_IMODE((campaign.report_dir / campaign.name).stat().st_mode) == 0o700


def test_the_journal_wal_file_is_private(umask: None, tmp_path: Path) -> None:
    """SQLite makes -wal and -shm with the journal's bits: they are 0600 too."""
    path = tmp_path / "new" / "journal.sqlite"
    with Journal(path) as journal:
        journal.db.execute("CREATE TABLE t (x)")
        journal.db.execute("INSERT INTO t VALUES (1)")
        wal = Path(f"{path}-wal")
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_journal_an_older_rcsbatch_made_readable_is_narrowed(umask: None, tmp_path: Path) -> None:
    """A 0644 journal and -wal from before this fix are made 0600 when opened again."""
    path = tmp_path / "journal.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x)")
    db.close()
    os.chmod(path, 0o644)
    Path(f"{path}-wal").touch(mode=0o644)
    with Journal(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if Path(f"{path}-wal").exists():
        assert stat.S_IMODE(Path(f"{path}-wal").stat().st_mode) == 0o600


@pytest.mark.parametrize("share", [None, "1"], ids=["private", "group"])
def test_event_results_and_the_simulator_state_are_private(
    umask: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: str | None
) -> None:
    """`event` results and the simulator's state file get the same modes as a run's files."""
    if share is None:
        monkeypatch.delenv(privacy.SHARE_ENV, raising=False)
    else:
        monkeypatch.setenv(privacy.SHARE_ENV, share)
    file, folder = (0o640, 0o750) if share else (0o600, 0o700)
    written = events.write_results(tmp_path / "events.results.csv", [])
    Backend().save(tmp_path / "sim" / "simulator.json")
    assert stat.S_IMODE(written.stat().st_mode) == file
    assert stat.S_IMODE((tmp_path / "sim" / "simulator.json").stat().st_mode) == file
    assert stat.S_IMODE((tmp_path / "sim").stat().st_mode) == folder
