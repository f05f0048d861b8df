"""Benchmark rcsbatch.recipients.phones.normalise_many against a pandas read of the same CSV.

Generates N distinct messy recipient numbers (mostly DE/AT/CH/FR/GB/US, written
as +CC, 00CC, national (DE only) and country code without '+', plus ~2% junk)
into a temporary CSV with a few other columns, then times, interleaved so that
both see the same machine load:

* ``pd.read_csv(path, engine="pyarrow", dtype=str)``
* ``normalise_many(df["phone"], region)`` on the column read (also its first
  call in the process, and one thread only)
* ``check_many(df["phone"], region)``: the same plus the number types and the
  second reading of bare digits, as a campaign's rows are checked
* phonenumbers per element (parse + is_valid_number + format) and
  ``normalise_one`` on a sample, extrapolated to N

and prints the ratios and the machine.  Run: ``python bench/bench_phones.py``
(``--rows``, ``--sample``, ``--repeat``, ``--seed``, ``--region`` change the
defaults).  Exits 1 if normalise_many disagrees with normalise_one, or check_many
with check_one, on the sample.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa

from rcsbatch.recipients import phones

# country, share, national significant number templates: (prefix, random digits)
COUNTRIES: dict[str, tuple[int, float, list[tuple[str, int]]]] = {
    "DE": (
        49,
        0.50,
        [
            ("151", 8),
            ("160", 7),
            ("170", 7),
            ("176", 8),
            ("179", 8),
            ("157", 8),
            ("30", 8),
            ("40", 8),
            ("89", 8),
            ("221", 7),
            ("69", 8),
        ],
    ),
    "AT": (43, 0.10, [("664", 7), ("650", 7), ("676", 7), ("699", 8), ("12", 6), ("316", 6)]),
    "CH": (41, 0.10, [("76", 7), ("78", 7), ("79", 7), ("44", 7), ("31", 7), ("61", 7)]),
    "FR": (33, 0.10, [("6", 8), ("7", 8), ("1", 8), ("4", 8)]),
    "GB": (44, 0.10, [("7912", 6), ("7712", 6), ("7400", 6), ("7800", 6), ("207", 7), ("161", 7)]),
    "US": (
        1,
        0.08,
        [
            ("212", 7),
            ("415", 7),
            ("646", 7),
            ("310", 7),
            ("312", 7),
            ("617", 7),
            ("202", 7),
            ("305", 7),
        ],
    ),
}
JUNK_SHARE = 0.02
JUNK_WORDS = ["", "n/a", "unbekannt", "-", "keine", "tbd", "?", "0", "siehe oben"]


def _groups(digits: str, rng: np.random.Generator) -> str:
    """Digits split into groups of 2-4, as people type them."""
    out, i = [], 0
    while i < len(digits):
        step = int(rng.integers(2, 5))
        out.append(digits[i : i + step])
        i += step
    return " ".join(out)


def _messy(country: str, code: int, nsn: str, rng: np.random.Generator) -> str:
    """One of the four forms (+CC, 00CC, national for DE, CC without '+')."""
    form = int(rng.integers(0, 4 if country == "DE" else 3))
    style = int(rng.integers(0, 3))
    if form == 0:
        body = _groups(nsn, rng) if style else nsn
        if style == 2 and country in ("DE", "AT", "CH"):
            return f"+{code} (0) {_groups(nsn, rng)}"
        return f"+{code} {body}"
    if form == 1:
        return f"00{code} {nsn[:3]}-{nsn[3:]}" if style else f"00{code}{nsn}"
    if form == 2:
        return f"{code}{nsn}"
    national = "0" + nsn
    if style == 0:
        return f"{national[:4]} {national[4:]}"
    if style == 1:
        return f"({national[:4]}) {national[4:7]}-{national[7:]}"
    return f"{national[:4]}/{national[4:]}"


def _junk(rng: np.random.Generator) -> str:
    """A cell that is not a usable number."""
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return str(rng.choice(JUNK_WORDS))
    if kind == 1:
        return f"{int(rng.integers(10**11, 10**12)) / 10**11:.11f}e+12"  # float-mangled
    if kind == 2:
        return str(int(rng.integers(100, 10**6)))  # too short
    if kind == 3:
        return f"0176 {int(rng.integers(100, 1000))}"  # truncated
    if kind == 4:
        return f"+49 176 {int(rng.integers(10**9, 10**10))} 99"  # too long
    return f"+999 {int(rng.integers(10**6, 10**7))}"  # unknown country code


def generate(rows: int, seed: int) -> list[str]:
    """``rows`` distinct messy numbers (junk cells may repeat)."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    cells: list[str] = []
    names = list(COUNTRIES)
    shares = np.array([COUNTRIES[c][1] for c in names])
    shares = shares / shares.sum()
    junk = int(rows * JUNK_SHARE)
    while len(cells) < rows - junk:
        for country in rng.choice(names, size=rows - junk - len(cells), p=shares):
            code, _, templates = COUNTRIES[str(country)]
            prefix, width = templates[int(rng.integers(0, len(templates)))]
            nsn = prefix + str(int(rng.integers(10 ** (width - 1), 10**width)))
            if country == "US" or (country == "FR" and prefix == "7"):
                # US exchanges start with 2-9; French 7x mobiles with 5-9
                low = 2 if country == "US" else 5
                at = len(prefix)
                nsn = nsn[:at] + str(int(rng.integers(low, 10))) + nsn[at + 1 :]
            key = f"{code}{nsn}"
            if key in seen:
                continue
            seen.add(key)
            cells.append(_messy(str(country), code, nsn, rng))
    cells += [_junk(rng) for _ in range(junk)]
    order = rng.permutation(len(cells))
    return [cells[i] for i in order]


def timed(run: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    """Generate, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--region", default="DE")
    args = parser.parse_args()

    print(
        f"machine: nproc={os.cpu_count()} python={platform.python_version()} "
        f"{platform.machine()} {platform.system()}"
    )
    print(
        f"versions: pandas={pd.__version__} pyarrow={pa.__version__} "
        f"numpy={np.__version__} phonenumbers={phonenumbers.__version__}"
    )

    load_before = os.getloadavg()
    start = time.perf_counter()
    cells = generate(args.rows, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(args.rows) + 10_000_000,
            "name": [f"Kunde {i}" for i in range(args.rows)],
            "phone": cells,
            "segment": rng.choice(["gold", "silver", "bronze"], size=args.rows),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipients.csv"
        frame.to_csv(path, index=False)
        del frame
        size = path.stat().st_size
        print(
            f"data: {args.rows:,} rows, {size / 2**20:.1f} MiB CSV, region {args.region} "
            f"(generated in {time.perf_counter() - start:.1f} s)"
        )
        column = pd.read_csv(path, engine="pyarrow", dtype=str)["phone"]
        region = args.region

        # first call in the process: metadata is compiled on first use
        started = time.perf_counter()
        numbers, reasons = phones.normalise_many(column, region)
        cold = time.perf_counter() - started

        # interleaved, so that both see the same machine load
        reads: list[float] = []
        manys: list[float] = []
        checks: list[float] = []
        phones.check_many(column, region)
        for _ in range(args.repeat):
            reads.append(timed(lambda: pd.read_csv(path, engine="pyarrow", dtype=str)))
            manys.append(timed(lambda: phones.normalise_many(column, region)))
            checks.append(timed(lambda: phones.check_many(column, region)))
        threads = phones._workers(len(column))
        workers = phones._workers
        phones._workers = lambda rows: 1
        try:
            single: list[float] = []
            single_checks: list[float] = []
            for _ in range(3):
                single.append(timed(lambda: phones.normalise_many(column, region)))
                single_checks.append(timed(lambda: phones.check_many(column, region)))
        finally:
            phones._workers = workers

    # how many cells the fast path handed to normalise_one
    calls = 0
    reference = phones.normalise_one

    def counting(raw: str | None, region: str) -> tuple[int, str | None]:
        nonlocal calls
        calls += 1
        return reference(raw, region)

    phones.normalise_one = counting
    try:
        phones.normalise_many(column, region)
    finally:
        phones.normalise_one = reference

    sample = column.sample(n=min(args.sample, len(column)), random_state=args.seed).tolist()

    def raw_phonenumbers() -> None:
        for cell in sample:
            try:
                number = phonenumbers.parse(cell, region)
            except (phonenumbers.NumberParseException, TypeError):
                continue
            if phonenumbers.is_valid_number(number):
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    per_number = timed(raw_phonenumbers) / len(sample)
    per_one = timed(lambda: [reference(cell, region) for cell in sample]) / len(sample)
    sample_numbers, sample_reasons = phones.normalise_many(pd.Series(sample, dtype="str"), region)
    agree = sum(
        (int(n), r) == reference(cell, region)
        for n, r, cell in zip(sample_numbers, sample_reasons, sample, strict=True)
    )
    sample_checks = phones.check_many(pd.Series(sample, dtype="str"), region)
    agree_checks = sum(
        sample_checks.at(i) == phones.check_one(cell, region) for i, cell in enumerate(sample)
    )
    verdicts = phones.check_many(column, region)
    refused, warned = int(verdicts.refused_type.sum()), int(pd.notna(verdicts.warning).sum())

    rows = len(column)
    read, many = min(reads), min(manys)
    read_median, many_median = statistics.median(reads), statistics.median(manys)
    valid = int((numbers != 0).sum())
    top = pd.Series(reasons).value_counts().head(4)
    print(
        f"result: {valid:,} valid, {rows - valid:,} invalid; "
        f"{calls:,} cells ({calls / rows:.3%}) went to normalise_one"
    )
    print("top reasons: " + "; ".join(f"{k} ({v:,})" for k, v in top.items()))
    print(f"load average before/after: {load_before} / {os.getloadavg()}")
    print(f"read_csv(pyarrow, dtype=str):  best {read:.3f} s, median {read_median:.3f} s")
    print(
        f"normalise_many ({threads} threads):   best {many:.3f} s, median {many_median:.3f} s"
        f"  -> {many / read:.1f}x the read (medians: {many_median / read_median:.1f}x)"
    )
    print(
        f"normalise_many (1 thread):     best {min(single):.3f} s"
        f"  -> {min(single) / read:.1f}x the read"
    )
    print(f"normalise_many, first call:    {cold:.3f} s -> {cold / read:.1f}x the read")
    check, check_median = min(checks), statistics.median(checks)
    print(
        f"check_many ({threads} threads):       best {check:.3f} s, median {check_median:.3f} s"
        f"  -> {check / many:.2f}x normalise_many (medians: {check_median / many_median:.2f}x); "
        f"1 thread: best {min(single_checks):.3f} s -> {min(single_checks) / min(single):.2f}x"
    )
    print(f"check_many: {refused:,} refused for their type, {warned:,} ready with a warning")
    for name, cost in (("phonenumbers", per_number), ("normalise_one", per_one)):
        total = cost * rows
        print(
            f"{name + ' per element:':30s} {cost * 1e6:.1f} us/number -> {total:.1f} s "
            f"for {rows:,} = {total / read:.0f}x the read"
        )
    print(f"normalise_many == normalise_one on a {len(sample):,} sample: {agree:,}")
    print(f"check_many == check_one on the same sample: {agree_checks:,}")
    return 0 if agree == agree_checks == len(sample) else 1


if __name__ == "__main__":
    sys.exit(main())
