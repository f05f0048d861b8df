"""Write the binary fixtures beside this script; run once by hand, commit the output.

    .venv/bin/python tests/data/make_fixtures.py

recipients.parquet  phone columns stored as text, int64 and float64 (as pandas often writes them)
recipients.xlsx     sheet "Customers" (numeric and text phone cells, an empty cell, a padded cell)
                    and sheet "Opt-outs"
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent


def write_parquet(path: Path) -> None:
    """Three rows; the third has no number in any phone column (but a customer id, so it is
    not a blank record)."""
    table = pa.table(
        {
            "customer_id": pa.array(["C1", "C2", "C3"], pa.string()),
            "phone_text": pa.array(["+49 176 1234 5678", "0176 12345678", None], pa.string()),
            "phone_int": pa.array([4917612345678, 491761111111, None], pa.int64()),
            "phone_float": pa.array([4917612345678.0, 491761111111.0, None], pa.float64()),
            "first_name": pa.array(["Anna", " Ben ", ""], pa.string()),
        }
    )
    pq.write_table(table, path)


def write_xlsx(path: Path) -> None:
    """Customers first (the default sheet), then a second sheet with another header."""
    book = openpyxl.Workbook()
    customers = book.active
    customers.title = "Customers"
    customers.append(["phone", "first_name", "code"])
    customers.append([4917612345678, "Anna", "007"])
    customers.append(["0049 176-22223333", None, "K8D"])
    customers.append(["+49 176 3333 4444", "  Cem ", "X1M"])
    optouts = book.create_sheet("Opt-outs")
    optouts.append(["number"])
    optouts.append(["0176 98765432"])
    book.save(path)


if __name__ == "__main__":
    write_parquet(HERE / "recipients.parquet")
    write_xlsx(HERE / "recipients.xlsx")
