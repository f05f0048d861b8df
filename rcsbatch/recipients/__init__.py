"""Recipient files: reading CSV, Parquet and xlsx rows, their cells and phone numbers.

- `cellformat`: Spreadsheet cells as text, the way a spreadsheet shows them in a given locale
- `controls`: Control characters in recipient data: found and shown harmlessly
- `csvlines`: Where each record of a CSV file starts
- `phones`: Normalise and validate the phone numbers of a recipient column
- `prepare`: Check and merge the rows of a recipient file, chunk by chunk, before anything is sent
- `read`: Recipient files: stream the rows of a CSV, Parquet or xlsx file as text, in chunks
- `workbook`: xlsx sheets as rows of text: values from python-calamine

Nothing is imported here: import the module you need, so each stays cheap.
"""
