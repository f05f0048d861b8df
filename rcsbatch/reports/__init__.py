"""What a campaign did: the outcome and exit code, result files, figures and report formats.

- `csvfile`: CSV files as rcsbatch writes them
- `data`: A campaign report for scripts: JSON and CSV
- `folder`: The report folder: where a campaign's run folders go, and whether it can be written
- `figures`: A campaign's figures, read from its journal
- `formats`: `rcsbatch report`: a campaign's figures written as table, csv, json, xlsx or html
- `html`: A campaign report as one self-contained HTML file with charts, to open offline and forward
- `money`: Money: amounts are `Decimal`, summed exactly
- `outcome`: The report: counts each row's final status and cost, and decides the exit code
- `results`: Result files: `results.csv`, `results.parquet` and `summary.json` in a run's folder
- `table`: A campaign report for people at a terminal: rich tables, money to the cent
- `xlsx`: A campaign report as an Excel workbook: a Summary sheet and the per-recipient rows

Nothing is imported here: import the module you need, so each stays cheap.
"""
