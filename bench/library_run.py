"""``rcsbatch.run`` as a library caller would use it: the benchmark's measure of the public API.

No console tuning: the default asyncio event loop (no uvloop) and the interpreter's own garbage
collector settings, as in a script or a notebook. Takes the arguments the benchmark gives
``rcsbatch``, prints the run folder as the command does, and exits with the run's exit code.
Run: ``python bench/library_run.py run CAMPAIGN.toml --report-dir DIR -q [--dry-run]``.
"""

from __future__ import annotations

import argparse
import sys

import rcsbatch


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run"])
    parser.add_argument("campaign")
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("-q", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    result = rcsbatch.run(
        rcsbatch.load_campaign(args.campaign), report_dir=args.report_dir, dry_run=args.dry_run
    )
    print(result.folder)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
