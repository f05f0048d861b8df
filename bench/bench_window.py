"""Benchmark rcsbatch.campaign.window: per-call cost of zones_for and Window.opening.

Generates N distinct valid German mobiles (+49 151/160/170/176) and N distinct valid US numbers
(area codes spread over six zones), then times, at one fixed ``now``:

* ``zones_for`` cold (first sight of every number) and warm (second pass);
* ``Window.opening`` cold (new Window, zone caches cleared) and warm (second pass).

Run: ``python bench/bench_window.py`` (``--rows``, ``--seed``, ``--now`` change the defaults).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import phonenumbers

from rcsbatch.campaign import window as window_module
from rcsbatch.campaign.window import Window, WindowNeverOpens, parse_window, zones_for

DE_PREFIXES = [("151", 8), ("160", 7), ("170", 7), ("176", 8)]
US_AREAS = ["212", "305", "312", "415", "713", "808", "907", "602", "617", "206"]


def german(count: int, rng: random.Random) -> list[str]:
    """Distinct valid German mobile numbers."""
    numbers: set[str] = set()
    while len(numbers) < count:
        prefix, length = rng.choice(DE_PREFIXES)
        numbers.add(f"49{prefix}{rng.randrange(10**length):0{length}d}")
    return sorted(numbers, key=lambda _: rng.random())


def american(count: int, rng: random.Random) -> list[str]:
    """Distinct valid US numbers (checked with phonenumbers)."""
    numbers: set[str] = set()
    while len(numbers) < count:
        number = f"1{rng.choice(US_AREAS)}{rng.randrange(200, 1000)}{rng.randrange(10**4):04d}"
        if number not in numbers and phonenumbers.is_valid_number(phonenumbers.parse("+" + number)):
            numbers.add(number)
    return sorted(numbers, key=lambda _: rng.random())


def per_call(numbers: list[str], call: Callable[[str], object]) -> float:
    """Microseconds per call of ``call`` over ``numbers``."""
    started = time.perf_counter()
    for number in numbers:
        call(number)
    return (time.perf_counter() - started) / len(numbers) * 1e6


def clear_caches() -> None:
    """Forget every cached zone lookup."""
    window_module._is_geographical.cache_clear()


def main() -> None:
    """Print µs per call for each country and phase."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", default="2026-01-15T15:00:00+00:00")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    sets = {"DE": german(args.rows, rng), "US": american(args.rows, rng)}
    print(f"{args.rows} distinct numbers per country, now={now.isoformat()}, window 08:00-20:00")
    for country, numbers in sets.items():
        clear_caches()
        cold = per_call(numbers, zones_for)
        warm = per_call(numbers, zones_for)
        clear_caches()
        window: Window = parse_window("08:00-20:00")

        def opening(number: str, window: Window = window) -> object:
            try:
                return window.opening(number, now)
            except WindowNeverOpens:
                return None

        open_cold = per_call(numbers, opening)
        open_warm = per_call(numbers, opening)
        held = sum(opening(number) is not None for number in numbers)
        print(
            f"{country}: zones_for cold {cold:.2f} µs, warm {warm:.2f} µs; "
            f"opening cold {open_cold:.2f} µs, warm {open_warm:.2f} µs "
            f"({held} of {len(numbers)} held)"
        )


if __name__ == "__main__":
    main()
