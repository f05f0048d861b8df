"""Disk trouble (state/storage.py): a full disk while loading or sending, a damaged journal. One
message naming the folder or file, exit 2 before sending and 1 after, never a traceback; a run
stopped by a full disk is finished by the next one with nothing sent twice."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rcsbatch.cli import cli
from rcsbatch.reports.results import ResultsWriter
from rcsbatch.simulator import SimulatorServer
from rcsbatch.state import storage
from rcsbatch.state.journal import Journal
from rcsbatch.state.paths import journal_path
from tests.conftest import API_KEY, CampaignFactory
from tests.test_resume import PACKAGE_ROOT, R, compare

# The child runs under a file size limit (`ulimit -f`): any file grown past it fails as on a
# full disk (EFBIG, or SQLITE_FULL from a write cut short), whatever the machine's disks.
LIMITED = """
import resource, signal, sys
limit = int(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not death, past the limit
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from rcsbatch import process
sys.argv = ["rcsbatch", *sys.argv[2:]]
process.main()
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def env(sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> SimulatorServer:
    monkeypatch.setenv("SEVEN_BASE_URL", sim.base_url)
    monkeypatch.setenv("SEVEN_API_KEY", API_KEY)
    return sim


def test_a_full_disk_while_loading_is_exit_2_and_sends_nothing(
    make_campaign: CampaignFactory, env: SimulatorServer, state_dir: Path
) -> None:
    """The journal cannot take the file's rows: one line naming the state folder, exit 2,
    nothing sent, no traceback; with room again, the same command sends everyone once."""
    campaign = make_campaign(3000)
    proc = subprocess.run(
        [sys.executable, "-c", LIMITED, str(64 * 1024), "run", str(campaign.path)],
        env={**os.environ, "PYTHONPATH": PACKAGE_ROOT},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(state_dir) in line and "nothing was sent" in line, line
    assert "is full" in line or "refused a write" in line, line
    assert env.backend.accepted() == []
    done = invoke("run", str(campaign.path), "-q")
    assert done.exit_code == 0, done.stderr
    compare(Path(done.stdout.strip()), env, [R(i) for i in range(1, 3001)])


def _fill_up_while_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal's disk fills up once the first batch of rows has gone: SQLite's own page
    limit makes every write that needs a new page fail with SQLITE_FULL ("database or disk is
    full"), as a full disk does."""
    take_batch = Journal.take_batch
    taken = 0

    def full_after_one(self: Journal, *args: Any) -> Any:
        nonlocal taken
        taken += 1
        if taken == 3:
            (pages,) = self.db.execute("PRAGMA page_count").fetchone()
            self.db.execute(f"PRAGMA max_page_count = {pages}")
        return take_batch(self, *args)

    monkeypatch.setattr(Journal, "take_batch", full_after_one)


def test_a_full_disk_while_sending_is_exit_1_and_the_rerun_sends_nothing_twice(
    make_campaign: CampaignFactory, env: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's disk full mid-send: exit 1 saying rows already sent are journaled; the next
    run (room again) settles what went and sends the rest: everyone exactly once."""
    rows = 400
    campaign = make_campaign(rows, send={"concurrency": 4})
    with monkeypatch.context() as patch:
        _fill_up_while_sending(patch)
        first = invoke("run", str(campaign.path), "-q")
    assert first.exit_code == 1, first.output
    assert "is full (database or disk is full)" in first.stderr
    assert "rows already sent are journaled and will not be sent again" in first.stderr
    assert 0 < len(env.backend.accepted()) < rows, "the disk filled up while sending"
    done = invoke("run", str(campaign.path), "-q")
    assert done.exit_code == 0, done.stderr
    compare(Path(done.stdout.strip()), env, [R(i) for i in range(1, rows + 1)])


def test_a_full_report_folder_after_sending_is_exit_1_naming_it(
    make_campaign: CampaignFactory, env: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything sent, but the results cannot be written (ENOSPC): exit 1 naming the report
    folder; the next run writes them and sends nothing again."""
    campaign = make_campaign(20)

    def no_room(writer: ResultsWriter, *args: Any) -> None:
        csv = writer.folder / "results.csv"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(csv))

    with monkeypatch.context() as patch:
        patch.setattr("rcsbatch.engine.runner.ResultsWriter.write", no_room)
        first = invoke("run", str(campaign.path), "-q")
    assert first.exit_code == 1, first.output
    folder = campaign.path.parent / "reports" / campaign.name
    assert f"the disk holding {folder}" in first.stderr
    assert "is full (No space left on device)" in first.stderr
    assert len(env.backend.accepted()) == 20
    done = invoke("run", str(campaign.path), "-q")
    assert done.exit_code == 0, done.stderr
    compare(Path(done.stdout.strip()), env, [R(i) for i in range(1, 21)])


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "full"),
        (
            OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"),
            "full",
        ),
        (OSError(errno.ECONNRESET, "Connection reset by peer"), None),
        (ValueError("no"), None),
    ],
)
def test_trouble_tells_disk_trouble_from_the_rest(error: BaseException, kind: str | None) -> None:
    """Only a full disk or a damaged database is storage trouble; other errors stay what they
    are (a connection reset is the gateway's, a ValueError a bug)."""
    assert storage.trouble(error) == kind


def test_trouble_reads_sqlites_own_codes(tmp_path: Path) -> None:
    """SQLite's errors are told by their codes, not their texts: full, damaged."""
    db = sqlite3.connect(tmp_path / "x.sqlite")
    db.execute("CREATE TABLE t (v TEXT)")
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError) as full:
        db.executemany("INSERT INTO t VALUES (?)", [("x" * 1000,)] * 100)
    db.close()
    assert storage.trouble(full.value) == "full"
    (tmp_path / "y.sqlite").write_bytes(b"x" * 4096)
    with pytest.raises(sqlite3.DatabaseError) as damaged:
        sqlite3.connect(tmp_path / "y.sqlite").execute("SELECT * FROM sqlite_master").fetchall()
    assert storage.trouble(damaged.value) == "damaged"


# ---- a damaged journal --------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "page":
        middle = len(data) // 2
        data[middle : middle + 8192] = b"\xa5" * 8192
    else:
        del data[len(data) // 3 :]
    path.write_bytes(bytes(data))


COMMANDS = [
    ["run", "--simulate"],
    ["run", "--dry-run"],
    ["report", "--simulate"],
    ["report", "--simulate", "--format", "csv"],
    ["sync", "--simulate"],
    ["revoke", "--simulate", "--yes"],
]


# A garbled page is met only by a command that reads it: `capabilities` reads none of the
# rows' pages, and a cut-off file fails it at once.
@pytest.mark.parametrize(
    ("command", "how"),
    [(c, "page") for c in COMMANDS]
    + [(c, "truncated") for c in [*COMMANDS, ["capabilities", "--simulate", "--yes"]]],
)
def test_a_damaged_journal_is_exit_2_naming_it(
    make_campaign: CampaignFactory, command: list[str], how: str
) -> None:
    """A garbled page or a cut-off journal: exit 2 naming the journal and what to do, never a
    traceback (CliRunner re-raises one), nothing sent."""
    campaign = make_campaign(600)
    first = invoke("run", str(campaign.path), "--simulate", "-q")
    assert first.exit_code == 0, first.stderr
    journal = journal_path(campaign, "simulator")
    _damage(journal, how)
    result = invoke(command[0], str(campaign.path), *command[1:])
    assert result.exit_code == 2, result.output
    assert str(journal) in result.stderr, result.stderr
    # Said as state/storage.py says it, or (a run meeting a journal that lost its runs) as
    # state/paths.py says a lost history: both say to restore it from a backup.
    assert "damaged" in result.stderr or "holds no run" in result.stderr, result.stderr
    assert "-wal file" in result.stderr and "from a backup" in result.stderr


def test_storage_names_the_damaged_database_among_several(tmp_path: Path) -> None:
    """Of the files a command uses, the message names the one SQLite's check refuses."""
    good, bad = tmp_path / "claims.sqlite", tmp_path / "journal.sqlite"
    for path in (good, bad):
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (v TEXT)")
            db.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        db.close()
    _damage(bad, "page")
    with pytest.raises(Exception) as caught, storage.checked([good, bad, tmp_path]):
        sqlite3.connect(bad).execute("SELECT count(*), max(v) FROM t").fetchall()
    assert str(caught.value).startswith(f"{bad} is damaged"), caught.value
