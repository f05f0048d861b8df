"""The `rcsbatch` process (process.py) as real processes: interrupts at every moment before
sending, and every stdout writer on a full device or a closed pipe; never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CampaignFactory

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)

# The child signals itself at a named moment of its own: when a module is first imported
# (`import:pandas`), or when a function is called (`rcsbatch.api.runs:open_plan`). No guess of time.
CHILD = """
import importlib, os, sys
from rcsbatch import process

moment, signum = sys.argv[1], int(sys.argv[2])

def fire():
    os.kill(os.getpid(), signum)

if moment.startswith("import:"):
    class Hook:
        def find_spec(self, name, path=None, target=None):
            if name == moment[len("import:"):]:
                sys.meta_path.remove(self)
                fire()
            return None
    sys.meta_path.insert(0, Hook())
elif moment != "never":
    module_name, attr = moment.split(":")
    module = importlib.import_module(module_name)
    original = getattr(module, attr)
    def wrapper(*args, **kwargs):
        fire()
        return original(*args, **kwargs)
    setattr(module, attr, wrapper)
sys.argv = ["rcsbatch", *sys.argv[3:]]
process.main()
"""

LINES = {
    signal.SIGINT: ("interrupted (Ctrl-C): run the same command again to go on", 130),
    signal.SIGTERM: ("terminated (SIGTERM): run the same command again to go on", 143),
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEVEN_")}
    return {**env, "PYTHONPATH": PACKAGE_ROOT, **extra}


def child(
    moment: str, signum: int, *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, moment, str(int(signum)), *args],
        env=env or _env(),
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def assert_interrupted(proc: subprocess.Popen[str], signum: int) -> None:
    _, err = proc.communicate(timeout=60)
    line, code = LINES[signal.Signals(signum)]
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1:] == [line], err
    assert "Traceback" not in err and "Aborted" not in err, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(
    ("moment", "command"),
    [
        ("import:pandas", ["validate"]),  # start-up: the CLI's imports
        ("import:pandas", ["run", "--simulate"]),
        ("rcsbatch.api.runs:open_plan", ["run", "--simulate"]),  # reading and checking the file
        ("rcsbatch.api.runs:open_plan", ["run", "--dry-run"]),
        # before the first
        ("rcsbatch.engine.runner:check_not_sent_elsewhere", ["run", "--simulate"]),
    ],
)
def test_an_interrupt_before_sending_exits_130_or_143(
    make_campaign: CampaignFactory, moment: str, command: list[str], signum: int
) -> None:
    """Ctrl-C / SIGTERM during start-up, reading, or before the first message: one line, exit
    130 / 143; never a traceback, never click's "Aborted!" with exit 1."""
    campaign = make_campaign(3)
    proc = child(moment, signum, command[0], str(campaign.path), *command[1:])
    assert_interrupted(proc, signum)
    assert not list((campaign.path.parent / "reports").glob("*/2*")), "no run folder is left"


@pytest.fixture
def hung_gateway() -> Iterator[socket.socket]:
    """A gateway that takes a request and never answers: the client waits in it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(60)
        yield server


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize(
    ("sender", "command", "path"),
    [
        (None, ["run"], "/api/balance"),  # the balance request before sending
        ("agent", ["run"], "/api/rcs/agents"),  # the agent check
        ("agent", ["validate"], "/api/rcs/agents"),
    ],
)
def test_an_interrupt_while_waiting_for_the_gateway_exits_130_or_143(
    make_campaign: CampaignFactory,
    hung_gateway: socket.socket,
    sender: str | None,
    command: list[str],
    path: str,
    signum: int,
) -> None:
    """Ctrl-C / SIGTERM while a request before sending waits for its answer: exit 130 / 143."""
    campaign = make_campaign(3, message={"from": sender}, send={"request_timeout": 60})
    port = hung_gateway.getsockname()[1]
    env = _env(SEVEN_BASE_URL=f"http://127.0.0.1:{port}/api", SEVEN_API_KEY="k" * 20)
    proc = child("never", signum, command[0], str(campaign.path), env=env)
    connection, _ = hung_gateway.accept()
    with connection:
        head = connection.recv(65536).decode("latin-1")
        assert head.split(" ")[1].startswith(path), head
        proc.send_signal(signum)
        assert_interrupted(proc, signum)


# ---- stdout on a full device or a closed pipe ------------------------------------------------


def _commands(campaign: Path, results: Path) -> dict[str, list[str]]:
    c = str(campaign)
    return {
        "help": ["--help"],
        "version": ["--version"],
        "preview": ["preview", c],
        "preview-json": ["preview", c, "--json"],
        "validate": ["validate", c],
        "run": ["run", c, "--simulate"],
        "dry-run": ["run", c, "--dry-run"],
        "report": ["report", c, "--simulate"],
        "report-csv": ["report", c, "--simulate", "--format", "csv"],
        "report-xlsx": ["report", c, "--simulate", "--format", "xlsx", "-o", "-"],
        "report-file": ["report", c, "--simulate", "--format", "html"],
        "sync": ["sync", c, "--simulate"],
        "revoke": ["revoke", c, "--simulate", "--yes"],
        "capabilities": ["capabilities", c, "--simulate", "--yes"],
        "event": ["event", "--simulate", "--to", "+4917612345678", "--event", "READ"],
        "event-file": ["event", "--simulate", "--file", str(results), "--event", "READ"],
        "test-send": ["run", c, "--simulate", "--test-to", "+4917699990001"],
    }


# What each command's exit code is when stdout takes everything (a closed pipe keeps it); a
# command whose product is what it prints exits 2 on a full device.
EXPECTED = {
    "help": 0,
    "version": 0,
    "preview": 0,
    "preview-json": 0,
    "validate": 1,  # the campaign has an invalid row
    "run": 0,
    "dry-run": 1,
    "report": 0,
    "report-csv": 0,
    "report-xlsx": 0,
    "report-file": 0,
    "sync": 0,
    "revoke": 0,
    "capabilities": 0,
    "event": 0,
    "event-file": 0,
    "test-send": 0,
}
PRODUCT = {"preview", "preview-json", "report", "report-csv", "report-xlsx"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A campaign run once with --simulate, so every command has something to show."""
    folder = tmp_path_factory.mktemp("stdout")
    rows = [
        {"phone": f"+49176{10_000_000 + i}", "first_name": f"N{i}", "customer_id": f"c{i}"}
        for i in range(1, 6)
    ] + [{"phone": "12", "first_name": "bad", "customer_id": "c9"}]
    campaign = CampaignFactory(folder)(rows, message={"label": "spring"})
    events = folder / "replies.csv"
    events.write_text("to\n+4917610000001\n", encoding="utf-8")
    env = _env(RCSBATCH_STATE_DIR=str(folder / "state"))
    done = subprocess.run(
        [sys.executable, "-m", "rcsbatch", "run", str(campaign.path), "--simulate", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield campaign.path, events, env


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_full_stdout_is_one_line_never_a_traceback(
    ran: tuple[Path, Path, dict[str, str]], name: str
) -> None:
    """stdout on /dev/full: one line on stderr; exit 2 for a command whose product is what it
    prints, else the command's own code."""
    campaign, events, env = ran
    with open("/dev/full", "w") as full:
        proc = child("never", 0, *_commands(campaign, events)[name], env=env, stdout=full)
        _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode == (2 if name in PRODUCT else EXPECTED[name]), err
    if name not in ("event", "event-file", "revoke"):  # these print nothing on stdout
        assert "cannot print" in err and "No space left on device" in err, err
        assert err.count("cannot print") == 1, err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_closed_pipe_is_quiet_and_keeps_the_exit_code(
    ran: tuple[Path, Path, dict[str, str]], name: str
) -> None:
    """`rcsbatch … | head -0`: the reader left on purpose; nothing said, the command's own code."""
    campaign, events, env = ran
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    with os.fdopen(write, "w") as gone:
        proc = child("never", 0, *_commands(campaign, events)[name], env=env, stdout=gone)
        _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "Broken pipe" not in err and "cannot print" not in err, err
    assert proc.returncode == EXPECTED[name], err


def test_a_full_stderr_loses_the_messages_not_the_run(
    ran: tuple[Path, Path, dict[str, str]],
) -> None:
    """stderr on /dev/full: the run still does its work and exits with its own code."""
    campaign, _, env = ran
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "rcsbatch", "run", str(campaign), "--simulate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=full,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0
    assert Path(proc.stdout.strip()).is_dir()


@pytest.mark.parametrize(
    ("name", "closing"), [("run", ">&-"), ("run", "2>&-"), ("preview", ">&-"), ("dry-run", "<&-")]
)
def test_a_closed_standard_descriptor_is_no_abort(
    ran: tuple[Path, Path, dict[str, str]], name: str, closing: str
) -> None:
    """`rcsbatch … >&-` (or stderr, stdin closed): the first socket or file no longer takes the
    closed number (the event loop aborted closing it, exit 134); a closed stdout is output lost,
    said on stderr (exit 2 for a command whose product is what it prints)."""
    campaign, events, env = ran
    args = [sys.executable, "-c", CHILD, "never", "0", *_commands(campaign, events)[name]]
    proc = subprocess.run(
        ["/bin/sh", "-c", f'exec "$@" {closing}', "sh", *args],
        env=env,
        capture_output=True,  # the shell closes the one named after these are set up
        text=True,
        timeout=120,
        check=False,
    )
    err = proc.stderr
    assert "Traceback" not in err, err
    if closing == ">&-":
        assert proc.returncode == (2 if name in PRODUCT else EXPECTED[name]), err
        assert "stdout is closed" in err, err
    else:
        assert proc.returncode == EXPECTED[name], err
