"""Time one logbook page deep in a big simulated account: does a page cost O(page) or O(offset)?

Fills a simulator backend with N messages (default 100,000, through ``Backend.send``, no HTTP),
then times ``GET /journal/outbound`` pages at offsets 0, N/2 and N-100: unfiltered, filtered by
today's date (``date_from``/``date_to``) and by recipient (``to``), both on the backend directly
and over loopback HTTP (a real ``SimulatorServer``). Prints the first deep page of each query
(which may build an index), then one line per query and offset, best of ``--repeat`` rounds, in
milliseconds.

Run: ``python bench/logbook_paging.py`` (``-n`` and ``--repeat`` change the defaults). It uses
only what every version of the simulator has, so it measures a commit before and after a change.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from rcsbatch.simulator import Backend, SimulatorServer

KEY = "bench-key"
NUMBERS = ("49176123456789", "49176222222222")


def fill(backend: Backend, n: int) -> None:
    """N accepted messages, alternating between two recipients."""
    backend.faults.balance = backend.balance = backend.price * n * 2
    for i in range(n):
        out = backend.send({"to": NUMBERS[i % 2], "text": f"m{i}"}, KEY)
        assert out.answer is not None, out


def best_ms(call: Callable[[], Any], repeat: int) -> float:
    """The fastest of ``repeat`` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="messages in the logbook")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per page; the best counts")
    args = parser.parse_args()
    n = args.n
    backend = Backend()
    start = time.perf_counter()
    fill(backend, n)
    print(f"filled {n:,} messages in {time.perf_counter() - start:.1f} s")
    today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    queries: dict[str, tuple[dict[str, str], int]] = {
        "unfiltered": ({}, n),
        "date_from/date_to today": ({"date_from": today, "date_to": today}, n),
        f"to={NUMBERS[0]}": ({"to": NUMBERS[0]}, n // 2),
    }
    with (
        SimulatorServer(backend=backend) as server,
        httpx.Client(base_url=server.base_url, headers={"X-Api-Key": KEY}, timeout=60) as client,
    ):
        for name, (query, total) in queries.items():
            # The first deep page of a query may build an index: its cost shows apart.
            deep = {**query, "limit": "100", "offset": str(total - 100)}
            cold = best_ms(lambda p=deep: backend.journal(p, KEY), 1)
            print(f"{name:<28} first page at offset {total - 100:,}: {cold:.2f} ms")
            for offset in (0, total // 2, total - 100):
                params = {**query, "limit": "100", "offset": str(offset)}
                rows = backend.journal(params, KEY)
                assert isinstance(rows, list) and len(rows) == 100, (name, offset, rows)
                direct = best_ms(lambda p=params: backend.journal(p, KEY), args.repeat)
                http = best_ms(
                    lambda p=params: client.get("/journal/outbound", params=p), args.repeat
                )
                print(
                    f"{name:<28} offset {offset:>7,}: backend {direct:9.2f} ms, HTTP {http:9.2f} ms"
                )


if __name__ == "__main__":
    main()
