"""``rcsbatch`` with one journal commit per row: the benchmark's measure of what batching saves.

Each row is marked in flight in a transaction of its own (one fsync) and its outcome is committed
on its own (another fsync), instead of 128 rows marked per transaction with the outcomes gathered
meanwhile. Nothing else changes.
Run: ``python bench/per_row.py run CAMPAIGN.toml ...`` (the arguments of ``rcsbatch``).
"""

from __future__ import annotations

import rcsbatch.engine.sender as sender
from rcsbatch.cli import main

sender.BATCH_SIZE = 1
sender.FLUSH_EVERY = 1
sender.FLUSH_SECONDS = 0.0

if __name__ == "__main__":
    main()
