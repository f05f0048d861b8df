"""Recipient files and campaign files for the benchmark, generated deterministically.

Numbers are distinct valid German mobile numbers: row ``k`` gets prefix 151, 160, 170 or 176
(``k % 4``) and a subscriber part of 8, 7, 7 or 8 digits from an affine permutation of ``k // 4``,
so any number of rows up to 40 million is distinct without a set to check against. Every prefix
and length here is valid whatever the digits (``rcsbatch.recipients.phones.normalise_one`` agrees;
``check`` verifies a sample).

* ``clean``: ``+49 151 23456789`` style, for the runs that send;
* ``messy``: the four shapes people type (``+49 176 1234 5678``, ``0049 176-12345678``,
  ``0176 12345678``, ``4917612345678``) in turn, and about 3 % junk cells.

Columns: ``customer_id``, ``first_name``, ``code``, ``phone``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PREFIXES = (("151", 8), ("160", 7), ("170", 7), ("176", 8))
MULTIPLIER = 7_654_321  # odd and not a multiple of 5: a permutation modulo any power of ten
OFFSET = 1_234_567
NAMES = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hannes",
    "Ida",
    "Jonas",
    "Katrin",
    "Lukas",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Jürgen",
    "Zoë",
    "Sören",
    "Ümit",
)
JUNK = ("n/a", "unbekannt", "-", "keine", "12345", "+49 176", "siehe oben", "0", "abc 123")
JUNK_EVERY = 33  # one row in 33 (about 3 %) is junk in the messy file
CHUNK = 200_000
COLUMNS = ("customer_id", "first_name", "code", "phone")

TEXT = "Hi {first_name}, your code {code} is valid until Sunday."


def number_parts(k: int) -> tuple[str, str]:
    """Prefix and subscriber digits of row ``k`` (0-based)."""
    prefix, digits = PREFIXES[k % 4]
    sub = (MULTIPLIER * (k // 4) + OFFSET) % 10**digits
    return prefix, f"{sub:0{digits}d}"


def _clean(k: int) -> str:
    prefix, sub = number_parts(k)
    return f"+49 {prefix} {sub}"


def _messy(k: int) -> str:
    if k % JUNK_EVERY == JUNK_EVERY - 1:
        return JUNK[(k // JUNK_EVERY) % len(JUNK)]
    prefix, sub = number_parts(k)
    form = (k // 4 + k) % 4  # not locked to the prefix
    if form == 0:
        return f"+49 {prefix} {sub[:4]} {sub[4:]}"
    if form == 1:
        return f"0049 {prefix}-{sub}"
    if form == 2:
        return f"0{prefix} {sub}"
    return f"49{prefix}{sub}"


def rows(n: int, kind: str = "clean") -> Iterator[dict[str, list[str]]]:
    """The rows in chunks of columns (lists of str)."""
    phone = _clean if kind == "clean" else _messy
    for start in range(0, n, CHUNK):
        ks = range(start, min(n, start + CHUNK))
        yield {
            "customer_id": [f"cust{k}" for k in ks],
            "first_name": [NAMES[(k * 7) % len(NAMES)] for k in ks],
            "code": [f"X{(k * 7919) % 1_000_000:06d}" for k in ks],
            "phone": [phone(k) for k in ks],
        }


def write_csv(path: Path, n: int, kind: str = "clean") -> Path:
    """Write ``n`` rows as CSV (``,``; no cell needs quoting); return the path."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for chunk in rows(n, kind):
            lines = zip(*(chunk[c] for c in COLUMNS), strict=True)
            out.write("".join(f"{a},{b},{c},{d}\n" for a, b, c, d in lines))
    tmp.replace(path)
    return path


def write_parquet(path: Path, n: int, kind: str = "clean") -> Path:
    """Write ``n`` rows as Parquet (all columns text, one row group per chunk); return the path."""
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for chunk in rows(n, kind):
            writer.write_table(pa.table(chunk, schema=schema))
    tmp.replace(path)
    return path


XLSX_TEXT = "Hi {first_name}, your code {code} ({zip}, {amount}, since {since}) is valid."


def write_xlsx(path: Path, n: int, kind: str = "clean") -> Path:
    """Write ``n`` rows as an xlsx sheet as Excel would (shared strings), the text columns plus
    three formatted number columns: ``zip`` (``00000``), ``amount`` (``#,##0.00 [$€-407]``) and
    ``since`` (a date, ``dd.mm.yyyy``); return the path."""
    import xlsxwriter

    tmp = path.with_suffix(".tmp")
    book = xlsxwriter.Workbook(str(tmp))
    sheet = book.add_worksheet("Recipients")
    formats = [
        book.add_format({"num_format": code})
        for code in ("00000", "#,##0.00 [$€-407]", "dd.mm.yyyy")
    ]
    sheet.write_row(0, 0, (*COLUMNS, "zip", "amount", "since"))
    row = 1
    for chunk in rows(n, kind):
        for values in zip(*(chunk[c] for c in COLUMNS), strict=True):
            sheet.write_row(row, 0, values)
            sheet.write_number(row, 4, (row * 7919) % 99_999, formats[0])
            sheet.write_number(row, 5, (row * 31) % 10_000 / 4, formats[1])
            sheet.write_number(row, 6, 45_000 + row % 1_000, formats[2])
            row += 1
    book.close()
    tmp.replace(path)
    return path


def write_campaign(
    path: Path, recipients: Path, *, concurrency: int, name: str = "bench", text: str = TEXT
) -> Path:
    """A campaign file beside ``recipients`` that merges ``first_name`` and ``code``."""
    path.write_text(
        f'name = "{name}"\n'
        f'recipients = "{recipients.name}"\n'
        'phone_column = "phone"\n'
        'default_region = "DE"\n'
        "\n[message]\n"
        'from = "myfancyagent"\n'
        f'text = "{text}"\n'
        'label = "bench"\n'
        'foreign_id = "{customer_id}"\n'
        "ttl = 2880\n"
        "\n[send]\n"
        f"concurrency = {concurrency}\n"
        "price_estimate = 0.0475\n",
        encoding="utf-8",
    )
    return path


def cached(folder: Path, n: int, kind: str, suffix: str) -> Path:
    """The recipient file of ``n`` rows of ``kind``, written once into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{n}{suffix}"
    if not path.exists():
        writer = {".parquet": write_parquet, ".xlsx": write_xlsx}.get(suffix, write_csv)
        writer(path, n, kind)
    return path


def check(n: int, kind: str = "clean", sample: int = 2_000) -> tuple[int, int]:
    """Normalise a spread sample of rows with ``normalise_one``: (valid, distinct valid)."""
    from rcsbatch.recipients.phones import normalise_one

    phone = _clean if kind == "clean" else _messy
    ks = np.unique(np.linspace(0, n - 1, min(sample, n)).astype(np.int64)).tolist()
    numbers = [normalise_one(phone(k), "DE")[0] for k in ks]
    valid = [x for x in numbers if x]
    return len(valid), len(set(valid))
