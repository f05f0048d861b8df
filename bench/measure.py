"""Measuring tools: the simulator in its own process, and child processes timed and watched.

:class:`Simulator` starts ``rcsbatch simulator --port P --balance B`` and talks to its ``/_sim``
control endpoints with the standard library. :func:`run_child` runs one command and reports its
wall time (from just before the process starts to its exit), its CPU time and its peak memory,
both from the kernel (``ru_maxrss`` of ``os.wait4``) and from polling ``psutil`` every 50 ms
(resident memory of the process and its children).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

POLL_SECONDS = 0.05


SOURCE_ENV = "RCSBENCH_SOURCE"  # set by `run.py --source`: rcsbatch comes from an exported commit


def rcsbatch_command() -> list[str]:
    """The ``rcsbatch`` console script of this interpreter's environment (else ``-m rcsbatch``);
    ``-m rcsbatch`` when a commit is measured (``--source``)."""
    if os.environ.get(SOURCE_ENV):
        return [sys.executable, "-m", "rcsbatch"]
    script = Path(sys.executable).parent / "rcsbatch"
    if script.exists():
        return [str(script)]
    found = shutil.which("rcsbatch")
    return [found] if found else [sys.executable, "-m", "rcsbatch"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Simulator:
    """``rcsbatch simulator`` in its own process; ``with Simulator() as sim``."""

    def __init__(self, port: int = 0, balance: str = "100000000") -> None:
        self.port = port or free_port()
        self.balance = balance
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the simulator runs
        self.command = [
            *rcsbatch_command(),
            "simulator",
            "--port",
            str(self.port),
            "--balance",
            balance,
        ]

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + "/api"

    def start(self) -> Simulator:
        self.proc = subprocess.Popen(
            self.command, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.stats()
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.log.seek(0)
                    raise RuntimeError(
                        "the simulator did not start: " + self.log.read().decode(errors="replace")
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sim/stats")  # type: ignore[no-any-return]

    def reset(self) -> None:
        self._call("POST", "/_sim/reset", {})

    def faults(self, **knobs: Any) -> dict[str, Any]:
        return self._call("PATCH", "/_sim/faults", knobs)  # type: ignore[no-any-return]

    def accepted(self, page: int = 5_000) -> list[dict[str, Any]]:
        """Every message the simulator accepted (``GET /_sim/state``), oldest first, prices as
        Decimal; read ``page`` at a time, since one answer for 100,000 messages is tens of MB."""
        out: list[dict[str, Any]] = []
        while True:
            url = f"{self.root}/_sim/state?offset={len(out)}&limit={page}"
            with urllib.request.urlopen(url, timeout=60) as response:
                messages = json.loads(response.read(), parse_float=Decimal)["messages"]
            out += messages
            if len(messages) < page:
                return out

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss if self.proc else 0


@dataclass
class Child:
    """What one child process did."""

    command: list[str]
    returncode: int
    wall: float  # seconds from just before the start to the exit
    cpu: float  # user + system seconds of the process (and children it waited for)
    maxrss: int  # bytes: the kernel's peak resident set (ru_maxrss)
    polled_peak: int  # bytes: the largest RSS seen by polling (the process and its children)
    stdout: str
    stderr: str
    sim_cpu: float | None = None  # the simulator's CPU seconds during the run, when measured
    extra: dict[str, Any] = field(default_factory=dict)


def run_child(
    command: list[str],
    env: dict[str, str] | None = None,
    *,
    cwd: Path | None = None,
    sim: Simulator | None = None,
    timeout: float = 3600,
) -> Child:
    """Run ``command``, polling its memory every 50 ms; see the module docstring."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        return _run_child(command, env, cwd, sim, timeout, out, err)


def _run_child(
    command: list[str],
    env: dict[str, str] | None,
    cwd: Path | None,
    sim: Simulator | None,
    timeout: float,
    out: Any,
    err: Any,
) -> Child:
    before = sim.stats()["cpu_time"] if sim is not None else None
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            wall = time.perf_counter() - started
            break
        try:
            rss = watched.memory_info().rss
            for child in watched.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    rss += child.memory_info().rss
            peak = max(peak, rss)
        except psutil.Error:
            pass  # exited between wait4 and the read: wait4 reaps it next
        if time.perf_counter() - started > timeout:
            proc.kill()
        time.sleep(POLL_SECONDS)
    proc.returncode = os.waitstatus_to_exitcode(status)
    sim_cpu = sim.stats()["cpu_time"] - before if sim is not None else None
    out.seek(0)
    err.seek(0)
    return Child(
        command=command,
        returncode=proc.returncode,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss=usage.ru_maxrss * 1024,  # kilobytes on Linux
        polled_peak=peak,
        stdout=out.read().decode(errors="replace"),
        stderr=err.read().decode(errors="replace"),
        sim_cpu=sim_cpu,
    )
