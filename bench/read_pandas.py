"""Time ``pandas.read_csv(path, engine="pyarrow", dtype=str)`` in a fresh process.

Prints one JSON line: the rows read and the seconds the call took (imports excluded).
Run: ``python bench/read_pandas.py FILE.csv``.
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd


def main() -> int:
    path = sys.argv[1]
    started = time.perf_counter()
    frame = pd.read_csv(path, engine="pyarrow", dtype=str)
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": len(frame), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
