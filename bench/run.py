"""The rcsbatch benchmark: one command measures every performance target of issue 2.

Start the gateway simulator in its own process (``rcsbatch simulator --port P --balance
100000000``), then, each as a ratio measured in this one run, with absolute numbers:

``loops``    reference loops (bare aiohttp, httpx default transport, httpx over httpx-aiohttp,
             httpx over rcsbatch's transport, rcsbatch's GatewayClient) at concurrency 32 and
             zero latency, each paired with ``rcsbatch run`` end to end over 50 000 recipients;
``latency``  bare aiohttp vs ``rcsbatch run`` at concurrency 64 with 50 ms gateway latency;
``journal``  ``rcsbatch run`` with its journal commits batched (as shipped) vs one per row;
``messy``    ``rcsbatch run --dry-run`` over 1 000 000 messy numbers vs a pandas read (pyarrow);
``dryrun``   peak memory of ``--dry-run`` over 5 000 000 rows of CSV, and of Parquet;
``xlsx``     ``--dry-run`` over a 100 000-row xlsx sheet with formatted numbers and dates, rendered
             in the campaign's locale, beside the same rows' dry run as CSV;
``resume``   a 3 000-row run SIGKILLed at ~30 %, then resumed with the default send settings;
``sync``     ``rcsbatch sync`` of 100 000 messages whose prices only the logbook has, 50 ms latency;
``big``      peak memory of ``rcsbatch run`` sending 1 000 000 messages (only with ``--big``).

Short rounds run ``--repeat`` times (default 3), each reference right before its rcsbatch
counterpart, and the best of each is kept. The simulator is reset (``POST /_sim/reset``) before
every round and its CPU time is read from ``/_sim/stats`` around it. Results are printed and
written to ``bench/RESULTS.md`` (and ``bench/results.json``, which keeps sections not run this
time). Generated recipient files are kept in ``bench/.data`` for the next run.

Run from the project folder with the project's virtual environment::

    .venv/bin/python bench/run.py            # a few minutes
    .venv/bin/python bench/run.py --big      # adds the 1 000 000 message run
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from measure import SOURCE_ENV, Child, Simulator, rcsbatch_command, run_child  # noqa: E402

MiB = 1 << 20
CENT = Decimal("0.01")
SECTIONS = ("loops", "latency", "journal", "messy", "dryrun", "xlsx", "resume", "sync", "big")
LOOP_NAMES = {
    "aiohttp": "(a) bare aiohttp loop",
    "httpx": "(b) httpx, default async transport",
    "httpx-aio": "(c) httpx over httpx_aiohttp.AiohttpTransport",
    "httpx-rcs": "(d) httpx over rcsbatch.gateway.transport.AiohttpTransport",
    "client": "(e) rcsbatch GatewayClient.send loop (parses answers)",
}
DIAGNOSTIC_LOOPS = {
    "aio-parse": "(g) diagnostic: (a) + rcsbatch's answer parsing",
    "direct": "(f) diagnostic: httpx.Request straight to rcsbatch's transport + parsing",
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- rounds ----------------------------------------------------------------------------------


def loop_round(
    sim: Simulator, name: str, n: int, concurrency: int, latency_ms: float = 0
) -> dict[str, Any]:
    """One reference loop in its own process against a freshly reset simulator."""
    sim.reset()
    if latency_ms:
        sim.faults(latency_ms=latency_ms)
    command = [
        sys.executable,
        str(HERE / "loops.py"),
        name,
        "--url",
        sim.base_url,
        "-n",
        str(n),
        "-c",
        str(concurrency),
    ]
    child = run_child(command, sim=sim)
    if child.returncode != 0:
        raise RuntimeError(
            f"loop {name} failed ({child.returncode}): {child.stderr[-2000:]}{child.stdout[-500:]}"
        )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    rate = n / result["seconds"]
    log(
        f"  {name:<10} n={n:<7} c={concurrency:<3} {rate:8.0f} msg/s  "
        f"(client cpu {child.cpu:.1f} s, simulator cpu {child.sim_cpu:.1f} s)"
    )
    return {
        "kind": "loop",
        "loop": name,
        "n": n,
        "concurrency": concurrency,
        "seconds": result["seconds"],
        "rate": rate,
        "process_wall": child.wall,
        "client_cpu": child.cpu,
        "sim_cpu": child.sim_cpu,
        "maxrss": child.maxrss,
    }


def rcsbatch_env(sim: Simulator, state_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RCSBATCH_REPORT_DIR"}
    env.update(SEVEN_BASE_URL=sim.base_url, SEVEN_API_KEY="bench")
    if state_dir is not None:
        # A fresh state root: the journal is found there by account and campaign name, and
        # nothing an earlier run left may be resumed or settled by mistake.
        env["RCSBATCH_STATE_DIR"] = str(state_dir)
    return env


def rcsbatch_round(
    sim: Simulator,
    campaign: Path,
    *,
    dry_run: bool = False,
    expect: dict[str, int] | None = None,
    latency_ms: float = 0,
    label: str = "rcsbatch",
    program: list[str] | None = None,
) -> dict[str, Any]:
    """``rcsbatch run CAMPAIGN --report-dir TMP -q`` (or ``--dry-run``) as a subprocess."""
    sim.reset()
    if latency_ms:
        sim.faults(latency_ms=latency_ms)
    report_dir = Path(tempfile.mkdtemp(prefix="rcsbench-"))
    # A fresh state root per round too: the journal lives there, keyed by account (the
    # simulator's URL) and campaign name, so a later round of the same campaign (or another
    # section's "bench" campaign) would find its rows sent and send nothing, while its summary
    # still counts them sent.
    state_dir = Path(tempfile.mkdtemp(prefix="rcsbench-state-"))
    command = [
        *(program or rcsbatch_command()),
        "run",
        str(campaign),
        "--report-dir",
        str(report_dir),
        "-q",
    ]
    if dry_run:
        command.append("--dry-run")
    try:
        child = run_child(command, rcsbatch_env(sim, state_dir), sim=sim)
        lines = child.stdout.strip().splitlines()
        if child.returncode not in (0, 1) or not lines:
            raise RuntimeError(
                f"{shlex.join(command)} exited {child.returncode}: {child.stderr[-2000:]}"
            )
        summary = json.loads((Path(lines[-1]) / "summary.json").read_text())
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    counts = summary["counts"]
    if expect is not None:
        for status, number in expect.items():
            if counts.get(status) != number:
                raise RuntimeError(f"{label}: expected {number} {status}, summary says {counts}")
    rows = summary["rows"]
    sent = counts.get("sent", 0)
    out = {
        "kind": "rcsbatch",
        "label": label,
        "rows": rows,
        "counts": counts,
        "exit_code": child.returncode,
        "wall": child.wall,
        "client_cpu": child.cpu,
        "sim_cpu": child.sim_cpu,
        "maxrss": child.maxrss,
        "polled_peak": child.polled_peak,
        "duration_seconds": summary.get("duration_seconds"),
        "send_seconds": summary.get("send_seconds"),
    }
    if not dry_run:
        out["rate"] = sent / child.wall
        out["send_rate"] = summary.get("messages_per_second")
    what = f"{out['rate']:8.0f} msg/s end to end" if not dry_run else f"{child.wall:6.2f} s"
    log(
        f"  {label:<10} rows={rows:<8} {what}  (wall {child.wall:.1f} s, cpu {child.cpu:.1f} s, "
        f"peak {child.maxrss / MiB:.0f} MiB, simulator cpu {child.sim_cpu:.1f} s)"
    )
    return out


def library_program() -> list[str] | None:
    """``bench/library_run.py`` (``rcsbatch.run`` without the console's loop and GC tuning), or
    None for a commit measured with ``--source`` that has no public ``rcsbatch.run`` yet."""
    probe = subprocess.run(
        [sys.executable, "-c", "import rcsbatch; rcsbatch.run"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        log("  (no rcsbatch.run in this source: the library rounds are skipped)")
        return None
    return [sys.executable, str(HERE / "library_run.py")]


def pandas_round(path: Path) -> dict[str, Any]:
    """``pandas.read_csv(path, engine="pyarrow", dtype=str)`` timed in a fresh process."""
    child = run_child([sys.executable, str(HERE / "read_pandas.py"), str(path)])
    if child.returncode != 0:
        raise RuntimeError(f"pandas read failed: {child.stderr[-2000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    log(
        f"  pandas     rows={result['rows']:<8} read_csv {result['seconds']:.3f} s "
        f"(process {child.wall:.2f} s)"
    )
    return {
        "kind": "pandas",
        "rows": result["rows"],
        "seconds": result["seconds"],
        "process_wall": child.wall,
        "maxrss": child.maxrss,
    }


def best(rounds: list[dict[str, Any]], key: str = "rate", low: bool = False) -> dict[str, Any]:
    return (min if low else max)(rounds, key=lambda r: r[key])


# ---- sections --------------------------------------------------------------------------------


def section_loops(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Items 1 and 2: reference loops at c=32, and rcsbatch end to end over the same N."""
    n, c = args.n, 32
    campaign = campaign_for(args, n, c, "e2e")
    library = library_program()
    warm_up(sim, args)
    rounds: dict[str, list[dict[str, Any]]] = {
        k: [] for k in (*LOOP_NAMES, *DIAGNOSTIC_LOOPS, "rcsbatch", "library")
    }
    sizes = {
        "aiohttp": n,
        "httpx": args.n_httpx,
        "httpx-aio": args.n_transports,
        "httpx-rcs": args.n_transports,
        "client": args.n_transports,
        "direct": args.n_transports,
        "aio-parse": args.n_transports,
    }
    for rep in range(args.repeat):
        log(f" round {rep + 1}/{args.repeat}")
        # (a) then rcsbatch then (b): each reference right next to its counterpart.
        rounds["aiohttp"].append(loop_round(sim, "aiohttp", n, c))
        rounds["rcsbatch"].append(rcsbatch_round(sim, campaign, expect={"sent": n}))
        if library:
            rounds["library"].append(
                rcsbatch_round(sim, campaign, expect={"sent": n}, label="library", program=library)
            )
        rounds["httpx"].append(loop_round(sim, "httpx", sizes["httpx"], c))
        for name in ("httpx-aio", "httpx-rcs", "client", "direct", "aio-parse"):
            rounds[name].append(loop_round(sim, name, sizes[name], c))
    a, b, r = best(rounds["aiohttp"]), best(rounds["httpx"]), best(rounds["rcsbatch"])
    return {
        "n": n,
        "concurrency": c,
        "sizes": sizes,
        "rounds": rounds,
        "ratio_a": r["rate"] / a["rate"],
        "ratio_b": r["rate"] / b["rate"],
        "ratio_library": best(rounds["library"])["rate"] / a["rate"] if library else None,
    }


def section_latency(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Item 3: 50 ms gateway latency, concurrency 64."""
    n, c, ms = args.latency_n, 64, 50.0
    campaign = campaign_for(args, n, c, "latency")
    library = library_program()
    rounds: dict[str, list[dict[str, Any]]] = {"aiohttp": [], "rcsbatch": [], "library": []}
    for rep in range(args.repeat):
        log(f" round {rep + 1}/{args.repeat}")
        rounds["aiohttp"].append(loop_round(sim, "aiohttp", n, c, latency_ms=ms))
        rounds["rcsbatch"].append(rcsbatch_round(sim, campaign, expect={"sent": n}, latency_ms=ms))
        if library:
            rounds["library"].append(
                rcsbatch_round(
                    sim,
                    campaign,
                    expect={"sent": n},
                    latency_ms=ms,
                    label="library",
                    program=library,
                )
            )
    a, r = best(rounds["aiohttp"]), best(rounds["rcsbatch"])
    ideal = c / (ms / 1000)
    return {
        "n": n,
        "concurrency": c,
        "latency_ms": ms,
        "ideal": ideal,
        "rounds": rounds,
        "ratio": r["rate"] / a["rate"],
        "ratio_library": best(rounds["library"])["rate"] / a["rate"] if library else None,
        "fraction_a": a["rate"] / ideal,
        "fraction_r": r["rate"] / ideal,
    }


def section_journal(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Issue 3: the cost of the durable journal, commits batched (as shipped) vs one per row."""
    n, c = args.journal_n, 32
    campaign = campaign_for(args, n, c, "journal")
    per_row = [sys.executable, str(HERE / "per_row.py")]
    rounds: dict[str, list[dict[str, Any]]] = {"batched": [], "per_row": []}
    for rep in range(args.repeat):
        log(f" round {rep + 1}/{args.repeat}")
        rounds["batched"].append(rcsbatch_round(sim, campaign, expect={"sent": n}, label="batched"))
        rounds["per_row"].append(
            rcsbatch_round(sim, campaign, expect={"sent": n}, label="per-row", program=per_row)
        )
    b, p = best(rounds["batched"]), best(rounds["per_row"])
    return {"n": n, "concurrency": c, "rounds": rounds, "ratio": b["rate"] / p["rate"]}


def section_messy(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Item 6: dry run over messy numbers vs a pandas read of the same file."""
    n = args.messy_n
    path = data.cached(args.data, n, "messy", ".csv")
    campaign = data.write_campaign(args.data / f"messy-{n}.toml", path, concurrency=32)
    valid, distinct = data.check(n, "messy")
    rounds: dict[str, list[dict[str, Any]]] = {"pandas": [], "rcsbatch": []}
    for rep in range(args.repeat):
        log(f" round {rep + 1}/{args.repeat}")
        rounds["pandas"].append(pandas_round(path))
        rounds["rcsbatch"].append(rcsbatch_round(sim, campaign, dry_run=True, label="dry-run"))
    p = best(rounds["pandas"], "seconds", low=True)
    pw = best(rounds["pandas"], "process_wall", low=True)
    r = best(rounds["rcsbatch"], "wall", low=True)
    rd = best(rounds["rcsbatch"], "duration_seconds", low=True)
    return {
        "n": n,
        "file_mb": path.stat().st_size / 1e6,
        "sample_valid": valid,
        "sample_distinct": distinct,
        "rounds": rounds,
        "ratio": r["wall"] / p["seconds"],
        "ratio_process": r["wall"] / pw["process_wall"],
        "ratio_inside": rd["duration_seconds"] / p["seconds"],
    }


def section_dryrun(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Item 5: peak memory of dry runs over 5 000 000 rows, CSV and Parquet (one round each)."""
    n = args.dry_n
    out: dict[str, Any] = {"n": n}
    for suffix in (".csv", ".parquet"):
        path = data.cached(args.data, n, "clean", suffix)
        campaign = data.write_campaign(
            args.data / f"dry{suffix.replace('.', '-')}-{n}.toml", path, concurrency=32
        )
        result = rcsbatch_round(
            sim, campaign, dry_run=True, label=f"dry{suffix}", expect={"ready": n}
        )
        result["file_mb"] = path.stat().st_size / 1e6
        out[suffix[1:]] = result
    return out


def section_xlsx(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Issue 11: dry run over a 100 000-row xlsx sheet whose cells render through their formats."""
    n = args.xlsx_n
    rounds: dict[str, list[dict[str, Any]]] = {"xlsx": [], "csv": []}
    campaigns = {}
    for suffix in (".xlsx", ".csv"):
        path = data.cached(args.data, n, "clean", suffix)
        text = data.XLSX_TEXT if suffix == ".xlsx" else data.TEXT
        campaigns[suffix[1:]] = data.write_campaign(
            args.data / f"xlsx-{suffix[1:]}-{n}.toml", path, concurrency=32, text=text
        )
    for rep in range(args.repeat):
        log(f" round {rep + 1}/{args.repeat}")
        for kind, campaign in campaigns.items():
            rounds[kind].append(
                rcsbatch_round(
                    sim, campaign, dry_run=True, label=f"dry-{kind}", expect={"ready": n}
                )
            )
    x = best(rounds["xlsx"], "wall", low=True)
    c = best(rounds["csv"], "wall", low=True)
    return {"n": n, "rounds": rounds, "ratio_to_csv": x["wall"] / c["wall"]}


def section_big(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """Item 4: peak memory of the rcsbatch process sending 1 000 000 messages (one round)."""
    n = args.big_n
    campaign = campaign_for(args, n, 32, "big")
    result = rcsbatch_round(sim, campaign, expect={"sent": n}, label="send-1M")
    result["simulator_rss"] = sim.rss()
    return {"n": n, "concurrency": 32, "result": result}


def section_resume(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL a run at ~30 %, then time the resumed run with the default send settings."""
    n, c, ms = args.resume_n, 32, args.resume_latency_ms
    kill_at = round(n * 0.3)
    path = data.cached(args.data, n, "clean", ".csv")
    # No request_timeout / settle_floor / evidence_margin / settle_seconds in the file: the
    # target is about the defaults (30 s, 30 s, 10 s, 300 s).
    campaign = data.write_campaign(
        args.data / f"resume-{n}-c{c}.toml", path, concurrency=c, name="resume"
    )
    sim.reset()
    if ms:
        # A little latency so the run is still going when the kill lands (at zero latency 900
        # messages go in ~0.1 s, shorter than a poll of the simulator can be relied on).
        sim.faults(latency_ms=ms)
    state_dir = Path(tempfile.mkdtemp(prefix="rcsbench-state-"))
    report_dir = Path(tempfile.mkdtemp(prefix="rcsbench-"))
    env = rcsbatch_env(sim, state_dir)
    command = [*rcsbatch_command(), "run", str(campaign), "--report-dir", str(report_dir), "-q"]
    try:
        killed = kill_when_accepted(command, env, sim, kill_at)
        # Requests the simulator had already read when the client died still land: count them
        # after a pause, so the figure is what the resumed run faces.
        time.sleep(0.5)
        killed["accepted_after_kill"] = sim.stats()["accepted"]
        journal = journal_path(state_dir, "resume")
        killed["journal"] = journal_counts(journal)
        log(
            f"  killed     at {killed['accepted_at_kill']:,} accepted "
            f"({killed['accepted_after_kill']:,} after the pause), "
            f"{killed['seconds']:.1f} s after start; journal {killed['journal']}"
        )
        resumed = run_child(command, env, sim=sim)
        out = check_resumed(sim, resumed, n)
        out.update(n=n, concurrency=c, latency_ms=ms, kill_at=kill_at, killed=killed)
        out["account_folder"] = journal.parent.parent.name
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    log(
        f"  resumed    exit {out['exit_code']} in {out['wall']:.1f} s; counts {out['counts']}; "
        f"simulator {out['accepted']:,} accepted, {out['distinct']:,} distinct; cost "
        f"{out['total_cost']} vs {out['accepted_cost']}"
    )
    return out


def kill_when_accepted(
    command: list[str], env: dict[str, str], sim: Simulator, kill_at: int
) -> dict[str, Any]:
    """Start ``command`` and SIGKILL it once the simulator has accepted ``kill_at`` messages."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=env
        )
        while True:
            accepted = sim.stats()["accepted"]
            if accepted >= kill_at or proc.poll() is not None:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seconds = time.perf_counter() - started
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(
            f"the run ended (exit {proc.returncode}) before {kill_at} messages were accepted; "
            f"its stderr: {stderr[-2000:]}"
        )
    return {"accepted_at_kill": accepted, "seconds": seconds}


def journal_path(state_dir: Path, name: str) -> Path:
    """``<state dir>/<account>/<campaign>/journal.sqlite``; the account is the only folder."""
    accounts = [p for p in state_dir.iterdir() if p.is_dir()]
    if len(accounts) != 1:
        raise RuntimeError(f"expected one account folder in {state_dir}, found {accounts}")
    return accounts[0] / name / "journal.sqlite"


def journal_counts(journal: Path) -> dict[str, int]:
    """Rows per status in a journal, read only: the resumed run must find it as the kill left
    it (a read-write open could checkpoint the WAL on close)."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT status, count(*) FROM messages GROUP BY status"))
    finally:
        db.close()


def check_resumed(sim: Simulator, child: Child, n: int) -> dict[str, Any]:
    """The resumed run's figures, and whether every row went exactly once, at the right cost."""
    lines = child.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"the resumed run exited {child.returncode}: {child.stderr[-2000:]}")
    folder = Path(lines[-1])
    summary = json.loads((folder / "summary.json").read_text())
    messages = sim.accepted()
    accepted_cost = sum((m["price"] for m in messages), Decimal(0))
    out = {
        "exit_code": child.returncode,
        "wall": child.wall,
        "client_cpu": child.cpu,
        "counts": summary["counts"],
        "accepted": len(messages),
        "distinct": len({m["to"] for m in messages}),
        "total_cost": summary["total_cost"],
        "accepted_cost": str(accepted_cost),
        "cost_matches": Decimal(summary["total_cost"]).quantize(CENT)
        == accepted_cost.quantize(CENT),
        "settled_from_logbook": summary.get("settled_from_logbook"),
        "logbook": summary.get("logbook"),
        "send_seconds": summary.get("send_seconds"),
        "duration_seconds": summary.get("duration_seconds"),
        "stderr": child.stderr[-3000:],
    }
    # Rows the resumed run could not settle: why, in its own words (results.csv error_text).
    with (folder / "results.csv").open(encoding="utf-8", newline="") as f:
        out["unsettled"] = [
            {k: r[k] for k in ("row", "recipient", "status", "error_code", "error_text")}
            for r in csv.DictReader(f)
            if r["status"] not in ("sent",)
        ][:20]
    out["ok"] = (
        child.returncode == 0
        and summary["counts"].get("sent") == n
        and out["accepted"] == n
        and out["distinct"] == n
        and out["cost_matches"]
    )
    return out


def section_sync(sim: Simulator, args: argparse.Namespace) -> dict[str, Any]:
    """``rcsbatch sync`` over 100 000 sent messages whose prices are all in the logbook only."""
    n, c, ms = args.sync_n, 32, 50.0
    path = data.cached(args.data, n, "clean", ".csv")
    campaign = data.write_campaign(
        args.data / f"sync-{n}-c{c}.toml", path, concurrency=c, name="sync"
    )
    sim.reset()
    # Answers without a price, so every row needs one from the logbook; delivered at once, so
    # the states the sync reads are final.
    sim.faults(price_in_answer=False, delivery_after_s=0.0)
    state_dir = Path(tempfile.mkdtemp(prefix="rcsbench-state-"))
    report_dir = Path(tempfile.mkdtemp(prefix="rcsbench-"))
    env = rcsbatch_env(sim, state_dir)
    try:
        sent = run_child(
            [*rcsbatch_command(), "run", str(campaign), "--report-dir", str(report_dir), "-q"],
            env,
            sim=sim,
        )
        lines = sent.stdout.strip().splitlines()
        if sent.returncode != 0 or not lines:
            raise RuntimeError(f"the run exited {sent.returncode}: {sent.stderr[-2000:]}")
        before = json.loads((Path(lines[-1]) / "summary.json").read_text())
        if before["counts"].get("sent") != n:
            raise RuntimeError(f"expected {n} sent, the run's summary says {before['counts']}")
        log(
            f"  run        {n:,} sent in {sent.wall:.1f} s; {before['sent_without_price']:,} "
            "without a price"
        )
        sim.faults(latency_ms=ms, logbook_latency_ms=ms)
        child = run_child(
            [*rcsbatch_command(), "sync", str(campaign), "--report-dir", str(report_dir)],
            env,
            sim=sim,
        )
        lines = child.stdout.strip().splitlines()
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"rcsbatch sync exited {child.returncode}: {child.stderr[-2000:]}")
        folder = Path(lines[-1])
        after = json.loads((folder / "summary.json").read_text())
        table = pq.read_table(
            folder / "results.parquet", columns=["status", "price", "price_status"]
        )
        messages = sim.accepted()
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    read = re.search(r"logbook: (\d+) entries read \((\d+) pages\)", child.stderr)
    status = table.column("status").to_pylist()
    price_status = table.column("price_status").to_pylist()
    prices = table.column("price").to_pylist()
    accepted_cost = sum((m["price"] for m in messages), Decimal(0))
    out = {
        "n": n,
        "concurrency": c,
        "latency_ms": ms,
        "pages_at_once": pages_at_once(),
        "run_wall": sent.wall,
        "run_send_seconds": before.get("send_seconds"),
        "without_price_before": before["sent_without_price"],
        "wall": child.wall,
        "client_cpu": child.cpu,
        "sim_cpu": child.sim_cpu,
        "entries": int(read.group(1)) if read else None,
        "pages": int(read.group(2)) if read else None,
        "stderr": child.stderr[-2000:],
        "rows": len(status),
        "sent": status.count("sent"),
        "price_known": sum(
            1
            for s, k, p in zip(status, price_status, prices, strict=True)
            if s == "sent" and k == "known" and p is not None
        ),
        "without_price_after": after["sent_without_price"],
        "cost_complete": after["cost_complete"],
        "total_cost": after["total_cost"],
        "accepted_cost": str(accepted_cost),
        "cost_matches": Decimal(after["total_cost"]).quantize(CENT) == accepted_cost.quantize(CENT),
    }
    log(
        f"  sync       {out['wall']:.1f} s at {ms:.0f} ms: {out['entries']} entries, "
        f"{out['pages']} pages; {out['price_known']:,} of {out['sent']:,} sent rows priced"
    )
    return out


def pages_at_once() -> int | None:
    """rcsbatch.delivery.sync.PAGES_AT_ONCE of the measured rcsbatch, for the report."""
    # A commit measured with --source may predate the subpackages (issue 12): its sync module
    # sat at the top of the package.
    for module in ("rcsbatch.delivery.sync", "rcsbatch.sync"):
        try:
            return int(importlib.import_module(module).PAGES_AT_ONCE)
        except (ImportError, AttributeError):
            continue
    return None


def campaign_for(args: argparse.Namespace, n: int, concurrency: int, name: str) -> Path:
    path = data.cached(args.data, n, "clean", ".csv")
    return data.write_campaign(
        args.data / f"{name}-{n}-c{concurrency}.toml", path, concurrency=concurrency
    )


def warm_up(sim: Simulator, args: argparse.Namespace) -> None:
    """Compile, cache and connect once before anything is timed (not recorded)."""
    log(" warm-up (not recorded)")
    loop_round(sim, "aiohttp", 2_000, 32)
    rcsbatch_round(
        sim, campaign_for(args, 2_000, 32, "warm"), expect={"sent": 2_000}, label="warm-up"
    )


RUNNERS: dict[str, Callable[[Simulator, argparse.Namespace], dict[str, Any]]] = {
    "loops": section_loops,
    "latency": section_latency,
    "journal": section_journal,
    "messy": section_messy,
    "dryrun": section_dryrun,
    "xlsx": section_xlsx,
    "big": section_big,
    "resume": section_resume,
    "sync": section_sync,
}


# ---- the machine and the report ---------------------------------------------------------------


def machine(source: str) -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(os.cpu_count())
    versions = {}
    for name in (
        "rcsbatch",
        "aiohttp",
        "httpx",
        "httpx-aiohttp",
        "pandas",
        "pyarrow",
        "phonenumbers",
    ):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "nproc": nproc,
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions,
        "source": source,
        "command": shlex.join([os.path.relpath(sys.executable), *sys.argv]),
    }


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(HERE.parent), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def use_source(rev: str | None) -> str:
    """Which rcsbatch is measured; with ``rev``, export it and put it first on every path.

    The default is the package as installed (the working tree). ``--source REV`` exports
    ``rcsbatch/`` at that git revision into a temporary folder and puts it first on
    PYTHONPATH for this process and every child (the simulator, the loops and rcsbatch), so a
    run measures one known commit while the working tree may be changing.
    """
    try:
        head = git("rev-parse", "--short", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        head = None
    if rev is None:
        if head is None:
            return "the installed package (no git)"
        changed = git("status", "--porcelain", "--", "rcsbatch").splitlines()
        if not changed:
            return f"the working tree at commit {head} (rcsbatch/ unmodified)"
        digest = hashlib.sha1(
            subprocess.run(
                ["git", "-C", str(HERE.parent), "diff", "HEAD", "--", "rcsbatch"],
                capture_output=True,
                check=True,
            ).stdout
        ).hexdigest()[:10]
        return (
            f"the working tree: commit {head} with {len(changed)} files of rcsbatch/ "
            f"modified (diff sha1 {digest})"
        )
    full = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    folder = Path(tempfile.mkdtemp(prefix="rcsbench-src-"))
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", full, "rcsbatch"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    # The installed console script names the working tree's entry point, which an older commit
    # may not have: `python -m rcsbatch` starts the measured commit's own.
    os.environ[SOURCE_ENV] = full
    return f"commit {full[:10]} (`--source {rev}`: git archive, first on PYTHONPATH)"


def preflight(args: argparse.Namespace) -> None:
    """Fail early, with the reason, when the measured rcsbatch cannot do a small dry run."""
    path = data.cached(args.data, 1_000, "clean", ".csv")
    campaign = data.write_campaign(args.data / "preflight.toml", path, concurrency=32)
    report_dir = Path(tempfile.mkdtemp(prefix="rcsbench-"))
    try:
        done = subprocess.run(
            [
                *rcsbatch_command(),
                "run",
                str(campaign),
                "--dry-run",
                "-q",
                "--report-dir",
                str(report_dir),
            ],
            capture_output=True,
            text=True,
        )
        probe = subprocess.run(
            [sys.executable, "-c", "import rcsbatch; print(rcsbatch.__file__)"],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    log(f"measuring rcsbatch from {probe.stdout.strip()}")
    if done.returncode != 0:
        raise SystemExit(
            f"rcsbatch cannot dry-run a 1,000-row file (exit {done.returncode}); "
            f"nothing measured. Its stderr:\n{done.stderr[-3000:]}\n"
            "(Measuring a commit instead of the working tree: --source HEAD)"
        )


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def fmt_mib(x: float) -> str:
    return f"{x / MiB:,.0f} MiB"


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


HAND_MARK = "added by hand"  # a RESULTS.md section with this in its heading survives reruns


def write_results(path: Path, results: dict[str, Any]) -> str:
    """Write RESULTS.md from `results`, keeping the sections written by hand into the last one
    (comparisons of commits measured the same day): a rerun must not silently drop them."""
    kept: list[str] = []
    if path.exists():
        section: list[str] | None = None
        for line in path.read_text().splitlines():
            if line.startswith("## "):
                section = [line] if HAND_MARK in line else None
                if section is not None:
                    kept.append("")
            if section is not None:
                kept.append(line)
    text = render(results)
    if kept:
        marker = "\n## 1–2. "
        at = text.find(marker)
        at = len(text) if at < 0 else at
        text = text[:at] + "\n".join(kept).rstrip("\n") + "\n" + text[at:]
    path.write_text(text)
    return text


def render(results: dict[str, Any]) -> str:
    s = results["sections"]
    runs = {json.dumps(v["run"], sort_keys=True) for v in s.values()}
    out = [
        "# rcsbatch benchmark results",
        "",
        "Written by `bench/run.py` (see `bench/README.md`). The simulator runs in its own "
        "process (`rcsbatch simulator --port P --balance 100000000`) on loopback and is reset "
        "(`POST /_sim/reset`) before every round; its CPU seconds per round come from "
        "`/_sim/stats`. rcsbatch runs as `rcsbatch run CAMPAIGN --report-dir TMP -q` "
        "(a fresh TMP per round) with `SEVEN_BASE_URL=http://127.0.0.1:P/api "
        "SEVEN_API_KEY=bench`; its time is the wall time from process start to exit; "
        "`rcsbatch.run` rounds run `bench/library_run.py` the same way (the library call, "
        "without the console's event loop and GC tuning). "
        "Reference loops run in their own process too; their time is from the first "
        "request to the last answer. The machine is noisy: every short round ran "
        "`--repeat` times (3 unless said otherwise) with each reference right before its "
        "rcsbatch counterpart, and the **best of the repeats** is reported on each side. "
        "Memory is the kernel's peak resident set of the process (`ru_maxrss` from "
        "`os.wait4`); the peak seen by polling with psutil every 50 ms (process and "
        "children) is shown beside it. MiB = 2^20 bytes; the 500 MB bound is read as "
        "500 MiB.",
        "",
    ]
    out += ["## Machine and command", ""]
    for run in sorted(runs):
        m = json.loads(run)
        names = [k for k, v in s.items() if json.dumps(v["run"], sort_keys=True) == run]
        out += [
            f"- sections {', '.join(names)}: `{m['command']}` on {m['date']}",
            f"  - nproc {m['nproc']}, CPU {m['cpu']}, Python {m['python']}, {m['platform']}",
            f"  - rcsbatch measured: {m.get('source', m.get('commit'))}; "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        ]
    out += [""]
    out += [
        "## Results against the targets",
        "",
        "| # | measure | rcsbatch | reference | ratio / value | target | |",
        "|---|---|---|---|---|---|---|",
    ]
    if "loops" in s:
        L = s["loops"]
        r = best(L["rounds"]["rcsbatch"])
        a = best(L["rounds"]["aiohttp"])
        b = best(L["rounds"]["httpx"])
        out.append(
            f"| 2 | zero latency, c=32, {L['n']:,} recipients, end to end | "
            f"{fmt_rate(r['rate'])} msg/s | (a) aiohttp {fmt_rate(a['rate'])} msg/s | "
            f"{L['ratio_a']:.2f}× | ≥ 0.6× | {verdict(L['ratio_a'] >= 0.6)} |"
        )
        if L.get("ratio_library") is not None:
            q = best(L["rounds"]["library"])
            out.append(
                f"| 2 | same, `rcsbatch.run` without the console's loop and GC tuning | "
                f"{fmt_rate(q['rate'])} msg/s | (a) aiohttp {fmt_rate(a['rate'])} msg/s | "
                f"{L['ratio_library']:.2f}× | ≥ 0.6× | {verdict(L['ratio_library'] >= 0.6)} |"
            )
        out.append(
            f"| 2 | same, vs httpx default transport | {fmt_rate(r['rate'])} msg/s | "
            f"(b) httpx {fmt_rate(b['rate'])} msg/s | {L['ratio_b']:.1f}× | ≥ 5× | "
            f"{verdict(L['ratio_b'] >= 5)} |"
        )
    if "latency" in s:
        T = s["latency"]
        r = best(T["rounds"]["rcsbatch"])
        a = best(T["rounds"]["aiohttp"])
        out.append(
            f"| 3 | 50 ms latency, c=64, {T['n']:,} recipients, end to end | "
            f"{fmt_rate(r['rate'])} msg/s | aiohttp {fmt_rate(a['rate'])} msg/s | "
            f"{T['ratio']:.2f}× | ≥ 0.8× | {verdict(T['ratio'] >= 0.8)} |"
        )
        if T.get("ratio_library") is not None:
            q = best(T["rounds"]["library"])
            out.append(
                f"| 3 | same, `rcsbatch.run` without the console's loop and GC tuning | "
                f"{fmt_rate(q['rate'])} msg/s | aiohttp {fmt_rate(a['rate'])} msg/s | "
                f"{T['ratio_library']:.2f}× | ≥ 0.8× | {verdict(T['ratio_library'] >= 0.8)} |"
            )
        out.append(
            f"| 3 | fraction of the ideal 64 / 0.05 s = {T['ideal']:,.0f}/s | "
            f"{T['fraction_r']:.0%} | aiohttp {T['fraction_a']:.0%} | | (reported) | |"
        )
    if "journal" in s:
        J = s["journal"]
        bj, pj = best(J["rounds"]["batched"]), best(J["rounds"]["per_row"])
        out.append(
            f"| 3* | journal: commits batched vs one per row, c=32, {J['n']:,} "
            f"recipients | {fmt_rate(bj['rate'])} msg/s | one commit per row "
            f"{fmt_rate(pj['rate'])} msg/s | {J['ratio']:.1f}× | (reported) | |"
        )
    if "big" in s:
        B = s["big"]["result"]
        out.append(
            f"| 4 | send {s['big']['n']:,} messages: peak RSS | {fmt_mib(B['maxrss'])} "
            f"(polled {fmt_mib(B['polled_peak'])}) | | | ≤ 500 MiB | "
            f"{verdict(B['maxrss'] <= 500 * MiB)} |"
        )
    if "dryrun" in s:
        D = s["dryrun"]
        for kind in ("csv", "parquet"):
            x = D[kind]
            out.append(
                f"| 5 | dry run, {D['n']:,} {kind} rows: peak RSS | "
                f"{fmt_mib(x['maxrss'])} (polled {fmt_mib(x['polled_peak'])}) | | | "
                f"≤ 500 MiB | {verdict(x['maxrss'] <= 500 * MiB)} |"
            )
    if "xlsx" in s:
        X = s["xlsx"]
        x = best(X["rounds"]["xlsx"], "wall", low=True)
        c = best(X["rounds"]["csv"], "wall", low=True)
        out.append(
            f"| 11 | dry run, {X['n']:,} formatted xlsx rows vs the same as CSV | "
            f"{x['wall']:.2f} s, cpu {x['client_cpu']:.2f} s, peak {fmt_mib(x['maxrss'])} | "
            f"{c['wall']:.2f} s | {X['ratio_to_csv']:.1f}× | | |"
        )
    if "messy" in s:
        M = s["messy"]
        r = best(M["rounds"]["rcsbatch"], "wall", low=True)
        p = best(M["rounds"]["pandas"], "seconds", low=True)
        out.append(
            f'| 6 | dry run, {M["n"]:,} messy numbers vs `pd.read_csv(engine="pyarrow", '
            f"dtype=str)` | {r['wall']:.2f} s | {p['seconds']:.3f} s | "
            f"{M['ratio']:.1f}× | ≤ 10× | {verdict(M['ratio'] <= 10)} |"
        )
    if "resume" in s:
        R = s["resume"]
        out.append(
            f"| resume | SIGKILL at ~30 % of {R['n']:,} rows, resumed with the default send "
            f"settings: process start to exit | {R['wall']:.1f} s | client timeout + settle "
            f"floor 60 s | exit {R['exit_code']}, {R['counts'].get('sent', 0):,} sent, "
            f"{R['accepted']:,} accepted to {R['distinct']:,} recipients, cost "
            f"{'matches' if R['cost_matches'] else 'DIFFERS'} | ≤ 90 s | "
            f"{verdict(R['ok'] and R['wall'] <= 90)} |"
        )
    if "sync" in s:
        Y = s["sync"]
        out.append(
            f"| sync | `rcsbatch sync`, {Y['n']:,} messages, {Y['latency_ms']:.0f} ms latency | "
            f"{Y['wall']:.1f} s | | {Y['entries']:,} entries, {Y['pages']:,} pages; "
            f"{Y['price_known']:,} of {Y['sent']:,} sent rows priced | < 60 s | "
            f"{verdict(Y['wall'] < 60 and Y['price_known'] == Y['n'])} |"
        )
    out += [
        "",
        "Where the time goes in the targets still failing: see "
        '"Where the targets stand" in [`README.md`](README.md).',
        "",
    ]
    out += details(s)
    return "\n".join(out) + "\n"


def rounds_cell(rounds: list[dict[str, Any]], key: str = "rate", digits: int = 0) -> str:
    return ", ".join(f"{r[key]:,.{digits}f}" for r in rounds)


def details(s: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "loops" in s:
        L = s["loops"]
        a_rate = best(L["rounds"]["aiohttp"])["rate"]
        out += [
            "## 1–2. Zero latency, concurrency 32",
            "",
            "Reference loops: `bench/loops.py` (one client, 32 workers over a shared "
            "iterator; JSON body with to/text/from/label/foreign_id/ttl, header X-Api-Key; "
            "distinct valid +49 151 numbers). (a)–(d) read each body without parsing it; "
            "(e) parses each answer as a run does. N differs by loop to keep the run short "
            "(httpx's default transport is slow); rates are steady-state messages/s. "
            "rcsbatch end to end: a generated CSV of distinct valid German mobile numbers "
            "(+49 151/160/170/176) with customer_id, first_name, code; concurrency 32; "
            "text `" + data.TEXT + "`; summary.json checked to say "
            f"{L['n']:,} sent. CPU columns are of the best round.",
            "",
            "| client | N | best msg/s | all rounds msg/s | vs (a) | client CPU s | "
            "client CPU µs/msg | simulator CPU s | simulator CPU µs/msg |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        titles = (
            *LOOP_NAMES.items(),
            ("rcsbatch", "**rcsbatch run, end to end**"),
            ("library", "**`rcsbatch.run`, no console tuning**"),
            *DIAGNOSTIC_LOOPS.items(),
        )
        for key, title in titles:
            rounds = L["rounds"].get(key)
            if not rounds:
                continue
            b = best(rounds)
            n = b.get("n") or b.get("rows")
            out.append(
                f"| {title} | {n:,} | {fmt_rate(b['rate'])} | {rounds_cell(rounds)} | "
                f"{b['rate'] / a_rate:.2f}× | {b['client_cpu']:.1f} | "
                f"{b['client_cpu'] / n * 1e6:.0f} | "
                f"{b['sim_cpu']:.1f} | {b['sim_cpu'] / n * 1e6:.0f} |"
            )
        out += [
            "",
            "Client CPU is the whole process (start-up included: about 0.3 s for a "
            "loop, 0.6 s for rcsbatch), so µs/msg is a little high for the smaller N. "
            "(f) and (g) are not targets: they split the per-request cost (see "
            "`bench/loops.py`).",
        ]
        r = best(L["rounds"]["rcsbatch"])
        out += [
            "",
            "rcsbatch end to end, best round: "
            f"wall {r['wall']:.2f} s = start-up (imports, CLI) "
            f"{r['wall'] - r['duration_seconds']:.2f} s + load and report "
            f"{r['duration_seconds'] - r['send_seconds']:.2f} s + send "
            f"{r['send_seconds']:.2f} s; send phase alone {r['send_rate']:,.0f} msg/s; "
            f"client CPU {r['client_cpu']:.1f} s, peak RSS {fmt_mib(r['maxrss'])}.",
            "",
        ]

    if "latency" in s:
        T = s["latency"]
        out += [
            f"## 3. Gateway latency {T['latency_ms']:.0f} ms, concurrency 64",
            "",
            '`PATCH /_sim/faults {"latency_ms": 50}` after each reset; campaign concurrency 64.',
            "",
            "| client | N | best msg/s | all rounds msg/s | of ideal 1,280/s | client CPU s "
            "| simulator CPU s |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, title in (
            ("aiohttp", "bare aiohttp loop"),
            ("rcsbatch", "rcsbatch run, end to end"),
            ("library", "`rcsbatch.run`, no console tuning"),
        ):
            rounds = T["rounds"].get(key)
            if not rounds:
                continue
            b = best(rounds)
            out.append(
                f"| {title} | {T['n']:,} | {fmt_rate(b['rate'])} | {rounds_cell(rounds)} "
                f"| {b['rate'] / T['ideal']:.0%} | {b['client_cpu']:.1f} | "
                f"{b['sim_cpu']:.1f} |"
            )
        r = best(T["rounds"]["rcsbatch"])
        out += [
            "",
            f"rcsbatch best round: wall {r['wall']:.2f} s, send phase "
            f"{r['send_seconds']:.2f} s ({r['send_rate']:,.0f} msg/s), start-up + load + "
            f"report {r['wall'] - r['send_seconds']:.2f} s.",
            "",
        ]

    if "journal" in s:
        J = s["journal"]
        out += [
            "## 3*. The journal's cost: commits batched vs one per row (issue 3)",
            "",
            "The same run twice per round: as shipped (128 rows marked in flight per "
            "transaction, the outcomes gathered meanwhile committed in the same one, or on "
            "their own after 256 or 0.25 s), and "
            "through `bench/per_row.py`, which makes each row its own transaction for the "
            "in-flight mark and another for its outcome (two fsyncs a row, "
            "`synchronous=FULL`). Zero latency, concurrency 32.",
            "",
            "| journal | N | best msg/s | all rounds msg/s | client CPU s | wall s |",
            "|---|---|---|---|---|---|",
        ]
        for key, title in (("batched", "batched (as shipped)"), ("per_row", "one commit per row")):
            rounds = J["rounds"][key]
            b = best(rounds)
            out.append(
                f"| {title} | {J['n']:,} | {fmt_rate(b['rate'])} | "
                f"{rounds_cell(rounds)} | {b['client_cpu']:.1f} | {b['wall']:.1f} |"
            )
        out += ["", f"Batching makes the run {J['ratio']:.1f}× as fast.", ""]

    if "big" in s:
        B = s["big"]["result"]
        out += [
            f"## 4. Sending {s['big']['n']:,} messages, concurrency 32 (one round, `--big`)",
            "",
            f"Wall {B['wall']:.0f} s ({B['rate']:,.0f} msg/s end to end; send phase "
            f"{B['send_seconds']:.0f} s), client CPU {B['client_cpu']:.0f} s, "
            f"peak RSS {fmt_mib(B['maxrss'])} (polled {fmt_mib(B['polled_peak'])}), "
            f"counts {B['counts']}; the simulator held {fmt_mib(B['simulator_rss'])} "
            "at the end (it keeps every accepted message).",
            "",
        ]

    if "dryrun" in s:
        D = s["dryrun"]
        out += [
            f"## 5. Dry runs over {D['n']:,} rows (one round each)",
            "",
            "| file | size | wall s | peak RSS (ru_maxrss) | polled peak | counts |",
            "|---|---|---|---|---|---|",
        ]
        for kind in ("csv", "parquet"):
            x = D[kind]
            out.append(
                f"| {kind} | {x['file_mb']:.0f} MB | {x['wall']:.1f} | "
                f"{fmt_mib(x['maxrss'])} | {fmt_mib(x['polled_peak'])} | "
                f"{x['counts']} |"
            )
        out.append("")

    if "messy" in s:
        M = s["messy"]
        p = best(M["rounds"]["pandas"], "seconds", low=True)
        pw = best(M["rounds"]["pandas"], "process_wall", low=True)
        r = best(M["rounds"]["rcsbatch"], "wall", low=True)
        rd = best(M["rounds"]["rcsbatch"], "duration_seconds", low=True)
        out += [
            f"## 6. Dry run over {M['n']:,} messy numbers",
            "",
            f"One CSV ({M['file_mb']:.0f} MB; customer_id, first_name, code, phone): "
            "distinct valid numbers written in turn as `+49 176 1234 5678`, "
            "`0049 176-12345678`, `0176 12345678`, `4917612345678`, and one row in 33 junk "
            f"(a sample of 2,000 through `normalise_one`: {M['sample_valid']} valid, "
            f"{M['sample_distinct']} distinct). The pandas read is timed in a fresh "
            "process around the call alone; its process wall time (start-up and imports "
            "included) is shown too.",
            "",
            "| | best | all rounds |",
            "|---|---|---|",
            f'| `pd.read_csv(path, engine="pyarrow", dtype=str)`, the call | '
            f"{p['seconds']:.3f} s | {rounds_cell(M['rounds']['pandas'], 'seconds', 3)} |",
            f"| same, whole process (`bench/read_pandas.py`: start-up, import, read) | "
            f"{pw['process_wall']:.2f} s"
            f" | {rounds_cell(M['rounds']['pandas'], 'process_wall', 2)} |",
            f"| `rcsbatch run --dry-run`, process wall | {r['wall']:.2f} s | "
            f"{rounds_cell(M['rounds']['rcsbatch'], 'wall', 2)} |",
            f"| same, inside the run (summary.json duration) | "
            f"{rd['duration_seconds']:.2f} s | "
            f"{rounds_cell(M['rounds']['rcsbatch'], 'duration_seconds', 2)} |",
            "",
            f"Ratios: dry-run command / read call **{M['ratio']:.1f}×** (the target's "
            f"measure); dry-run command / pandas process {M['ratio_process']:.1f}×; "
            f"dry run inside the process / read call {M['ratio_inside']:.1f}×. "
            f"Dry run peak RSS {fmt_mib(r['maxrss'])}.",
            "",
        ]

    if "resume" in s:
        out += resume_details(s["resume"])
    if "sync" in s:
        out += sync_details(s["sync"])
    return out


def resume_details(R: dict[str, Any]) -> list[str]:
    k = R["killed"]
    settled = R["settled_from_logbook"] or {}
    out = [
        f"## Resume after SIGKILL: {R['n']:,} rows, default send settings (one round)",
        "",
        f"`rcsbatch run CAMPAIGN --report-dir TMP -q` with a fresh `RCSBATCH_STATE_DIR`, "
        f"concurrency {R['concurrency']}, gateway latency {R['latency_ms']:g} ms (so the kill "
        "lands mid-run), no logbook lag; the campaign sets none of request_timeout, "
        "settle_floor, evidence_margin, settle_seconds (defaults 30 s, 30 s, 10 s, 300 s). "
        f"The first run is killed with SIGKILL once `/_sim/stats` counts {R['kill_at']:,} "
        "accepted; the same command then runs again and is timed from process start to "
        "exit. Checked: its exit code, summary.json's counts, the simulator's accepted list "
        "(`GET /_sim/state`, paged) for one message per recipient, and the summary's "
        "total_cost against the sum of the accepted prices.",
        "",
        "| | |",
        "|---|---|",
        f"| killed | {k['seconds']:.1f} s after start, at {k['accepted_at_kill']:,} accepted "
        f"({k['accepted_after_kill']:,} 0.5 s later) |",
        "| journal right after the kill | "
        + ", ".join(f"{v:,} {s}" for s, v in sorted(k["journal"].items()))
        + " |",
        f"| resumed run, process start to exit | **{R['wall']:.1f} s** (exit "
        f"{R['exit_code']}; send phase {R['send_seconds']:.1f} s; client CPU "
        f"{R['client_cpu']:.1f} s) |",
        f"| summary counts | {R['counts']} |",
        f"| simulator accepted | {R['accepted']:,} messages to {R['distinct']:,} distinct "
        "recipients |",
        f"| cost | summary total_cost {R['total_cost']}, accepted prices sum to "
        f"{R['accepted_cost']} ({'equal' if R['cost_matches'] else 'NOT equal'} to the cent) |",
        f"| settled_from_logbook | {settled.get('found')} found sent, {settled.get('resent')} "
        f"sent again after their absence was shown, {settled.get('resent_without_proof')} "
        "sent again without proof |",
        f"| logbook | `{json.dumps(R['logbook'])}` |",
        "",
        "The in-flight rows can be decided only once the client timeout and the settle floor "
        "(30 + 30 s) have passed since their requests left, so the resumed run waits about "
        "60 s less the time between the kill and its start; the rest of the file is sent "
        "meanwhile.",
        "",
    ]
    if R["unsettled"]:
        out += ["Rows not sent after the resumed run (results.csv, first 20):", ""]
        out += [f"- `{json.dumps(r, ensure_ascii=False)}`" for r in R["unsettled"]]
        out += ["", "Its stderr:", "", "```", R["stderr"].strip(), "```", ""]
    return out


def sync_details(Y: dict[str, Any]) -> list[str]:
    # Each round of the sync waits for its slowest page: the latency alone costs this much.
    at_once = Y["pages_at_once"] or 1
    rounds = -(-Y["pages"] // at_once)
    floor = (
        f"; {rounds} rounds of {at_once} pages at once "
        "(`rcsbatch.delivery.sync.PAGES_AT_ONCE`) wait at least "
        f"{rounds * Y['latency_ms'] / 1000:.1f} s for the latency alone"
    )
    return [
        f"## Sync: {Y['n']:,} messages at {Y['latency_ms']:.0f} ms gateway latency (one round)",
        "",
        '`PATCH /_sim/faults {"price_in_answer": false, "delivery_after_s": 0}`, then '
        f"`rcsbatch run CAMPAIGN --report-dir TMP -q` at zero latency (concurrency "
        f"{Y['concurrency']}, a fresh `RCSBATCH_STATE_DIR`): every row sent without a price "
        f"({Y['without_price_before']:,} per its summary; wall {Y['run_wall']:.1f} s, send "
        f"phase {Y['run_send_seconds']:.1f} s). Then "
        f'`PATCH /_sim/faults {{"latency_ms": {Y["latency_ms"]:g}, "logbook_latency_ms": '
        f"{Y['latency_ms']:g}}}` and `rcsbatch sync CAMPAIGN --report-dir TMP` (same "
        "environment), timed from process start to exit; it reads the logbook and rewrites "
        "the run's results.csv, results.parquet and summary.json.",
        "",
        "| | |",
        "|---|---|",
        f"| sync, process start to exit | **{Y['wall']:.1f} s** (client CPU "
        f"{Y['client_cpu']:.1f} s, simulator CPU {Y['sim_cpu']:.1f} s) |",
        f"| logbook read | {Y['entries']:,} entries, {Y['pages']:,} pages{floor} |",
        f"| results.parquet after | {Y['price_known']:,} of {Y['sent']:,} sent rows with "
        "price_status `known` and a price |",
        f"| summary.json after | sent_without_price {Y['without_price_after']:,}, "
        f"cost_complete {Y['cost_complete']}, total_cost {Y['total_cost']} (accepted prices "
        f"sum to {Y['accepted_cost']}: {'equal' if Y['cost_matches'] else 'NOT equal'}) |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Measure rcsbatch against reference loops; write bench/RESULTS.md."
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="also send 1,000,000 messages end to end (several minutes)",
    )
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per short measure")
    parser.add_argument(
        "-n", type=int, default=50_000, help="recipients for (a) and rcsbatch end to end"
    )
    parser.add_argument("--n-httpx", type=int, default=5_000, help="messages for loop (b)")
    parser.add_argument(
        "--n-transports", type=int, default=20_000, help="messages for loops (c), (d), (e)"
    )
    parser.add_argument("--latency-n", type=int, default=20_000)
    parser.add_argument("--journal-n", type=int, default=20_000)
    parser.add_argument("--messy-n", type=int, default=1_000_000)
    parser.add_argument("--dry-n", type=int, default=5_000_000)
    parser.add_argument("--xlsx-n", type=int, default=100_000)
    parser.add_argument("--big-n", type=int, default=1_000_000)
    parser.add_argument("--resume-n", type=int, default=3_000)
    parser.add_argument(
        "--resume-latency-ms",
        type=float,
        default=5.0,
        help="gateway latency while the run is killed and resumed (default 5)",
    )
    parser.add_argument("--sync-n", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=0, help="simulator port (default: a free one)")
    parser.add_argument(
        "--data", type=Path, default=HERE / ".data", help="where generated files are kept"
    )
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite RESULTS.md from results.json; measure nothing",
    )
    parser.add_argument(
        "--source",
        metavar="REV",
        help="measure rcsbatch as committed at this git revision (e.g. HEAD) "
        "instead of the installed working tree",
    )
    args = parser.parse_args(argv)
    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = set(wanted) - set(SECTIONS)
        if unknown:
            parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    else:
        wanted = [x for x in SECTIONS if x != "big" or args.big]
    if args.big and "big" not in wanted:
        wanted.append("big")

    store = args.out.with_name("results.json")
    results: dict[str, Any] = {"sections": {}}
    if store.exists():
        results = json.loads(store.read_text())
    if args.render:
        write_results(args.out, results)
        log(f"wrote {args.out} from {store}")
        return 0
    run_info = machine(use_source(args.source))
    preflight(args)
    log(f"machine: {run_info['nproc']} × {run_info['cpu']}, Python {run_info['python']}")
    started = time.monotonic()
    with Simulator(port=args.port) as sim:
        log(f"simulator: {shlex.join(sim.command)} (pid {sim.proc.pid if sim.proc else '?'})")
        for name in SECTIONS:
            if name not in wanted:
                continue
            log(f"[{name}] {RUNNERS[name].__doc__}")
            t0 = time.monotonic()
            section = RUNNERS[name](sim, args)
            section["run"] = run_info
            section["repeat"] = args.repeat
            section["section_seconds"] = time.monotonic() - t0
            results["sections"][name] = section
            store.write_text(json.dumps(results, indent=1, default=str) + "\n")
            write_results(args.out, results)
    text = write_results(args.out, results)
    print(text)
    log(f"done in {time.monotonic() - started:.0f} s; wrote {args.out} and {store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
