"""What rcsbatch keeps on disk between runs: the journal, state folders, claims.

- `claims`: Which message ids the campaigns of one gateway account on this machine already hold
- `journal`: The journal: one SQLite database per campaign that holds the truth about every row
- `paths`: Where a campaign's state lives: its journal, run lock, test sends and simulator state
- `privacy`: Who may read the files that hold numbers and texts
- `status`: The row statuses, and the one mapping from a gateway error to a row's status
- `storage`: Trouble with the disk under the files rcsbatch keeps

Nothing is imported here: import the module you need, so each stays cheap.
"""
