"""Where each record of a CSV file starts: the line a person sees in an editor, and blank records.

pyarrow parses the file fast but says nothing about lines. `RecordLines` reads the same bytes
alongside it and hands out, for the records pyarrow yields, the line each starts on (the header
is line 1; a quoted cell with line breaks pushes later records down; blank lines count) and
whether it is blank (only delimiters, spaces and empty quotes: a spreadsheet's empty row).

Records are split as pyarrow splits them: a line ends at LF, CRLF or a lone CR; a quote opens a
quoted cell only at the start of a cell, and `""` inside one is a quote. The common case is
scanned with numpy, a block at a time. A quote elsewhere (`17" screen`), an encoding that is not
ASCII-compatible (UTF-16) or a record longer than a block sends the rest of the file through
the `csv` module, which splits the same way but one record at a time.

pyarrow yields a blank record when it has as many cells as the header (we drop it after
parsing); one with another count is skipped by `skip_blank` as pyarrow's invalid-row handler.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

BLOCK = 1 << 20
_LF, _CR, _QUOTE = 10, 13, 34
_BLANK_BYTES = b" \t\r\n"  # with the delimiter and the quote: what a blank record may hold
_ASCII_PROBE = '\n\r",;\t abc'


def ascii_compatible(codec: str) -> bool:
    """True when `codec` writes line breaks, quotes and delimiters as their ASCII bytes."""
    try:
        return _ASCII_PROBE.encode(codec) == _ASCII_PROBE.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def blank_cells(cells: list[str]) -> bool:
    """True when every cell is empty or white space: a spreadsheet's empty row."""
    return all(not cell.strip(" \t\r\n") for cell in cells)


def skip_blank(delimiter: str) -> Any:
    """pyarrow's `invalid_row_handler`: skip a blank record with too few or many cells; a record
    with data and the wrong number of cells stays an error."""

    def handler(row: Any) -> str:
        text = row.text if row.text is not None else ""
        try:
            cells = next(csv.reader([text], delimiter=delimiter), [])
        except csv.Error:
            return "error"
        return "skip" if blank_cells(cells) else "error"

    return handler


class RecordLines:
    """The start lines of the records pyarrow yields from a CSV file, header excluded, in order.

    `take(n)` returns the next n records' lines (int64) and blank flags (bool).
    """

    def __init__(self, path: Path, encoding: str, delimiter: str, cells: int) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = delimiter
        self.cells = cells
        self._lines: deque[np.ndarray] = deque()
        self._blank: deque[np.ndarray] = deque()
        self._queued = 0
        self._last = 1
        self._source = self._records()

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next `n` records' start lines and blank flags."""
        while self._queued < n:
            found = next(self._source, None)
            if found is None:
                break
            lines, blank = found
            self._lines.append(lines)
            self._blank.append(blank)
            self._queued += len(lines)
        lines_out: list[np.ndarray] = []
        blank_out: list[np.ndarray] = []
        wanted = n
        while wanted and self._lines:
            lines, blank = self._lines.popleft(), self._blank.popleft()
            if len(lines) > wanted:
                self._lines.appendleft(lines[wanted:])
                self._blank.appendleft(blank[wanted:])
                lines, blank = lines[:wanted], blank[:wanted]
            lines_out.append(lines)
            blank_out.append(blank)
            wanted -= len(lines)
            self._queued -= len(lines)
        if wanted:
            # pyarrow found more records than we did: a disagreement on how records split. Go
            # on counting rather than stop a run over a row number.
            lines_out.append(np.arange(self._last + 1, self._last + 1 + wanted, dtype=np.int64))
            blank_out.append(np.zeros(wanted, dtype=bool))
        lines_all = np.concatenate(lines_out) if lines_out else np.empty(0, np.int64)
        if len(lines_all):
            self._last = int(lines_all[-1])
        return lines_all, np.concatenate(blank_out) if blank_out else np.empty(0, bool)

    # -- scanning ---------------------------------------------------------------------------

    def _records(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not ascii_compatible(self.encoding):
            with self.path.open(encoding=self.encoding, newline="", errors="replace") as text:
                yield from self._slow(text, first_line=1, header=True)
            return
        with self.path.open("rb") as handle:
            scan = _Scan(handle, ord(self.delimiter))
            yield from scan.records(self._keep)
            if scan.stopped_at is None:
                return
            handle.seek(scan.stopped_at)
            # latin-1 maps each byte to one character: lines split exactly as in the bytes.
            text = io.TextIOWrapper(handle, encoding="latin-1", newline="")
            yield from self._slow(text, first_line=scan.stopped_line, header=scan.in_header)

    def _keep(self, raw: bytes) -> bool:
        """Whether pyarrow yields this blank record: only when its cell count is the header's."""
        cells = next(csv.reader([raw.decode("latin-1")], delimiter=self.delimiter), [])
        return len(cells) == self.cells

    def _slow(
        self, text: IO[str], first_line: int, header: bool
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        reader = csv.reader(text, delimiter=self.delimiter)
        lines: list[int] = []
        blanks: list[bool] = []
        before = 0
        while True:
            try:
                cells = next(reader, None)
            except csv.Error:
                # A cell longer than the csv module takes (pyarrow may still read it): the
                # rest is numbered on from here by `take`.
                break
            if cells is None:
                break
            start, before = first_line + before, reader.line_num
            if not cells:
                continue  # an empty line: pyarrow skips it too
            if header:
                header = False
                continue
            blank = blank_cells(cells)
            if blank and len(cells) != self.cells:
                continue
            lines.append(start)
            blanks.append(blank)
            if len(lines) >= 10_000:
                yield np.array(lines, np.int64), np.array(blanks, bool)
                lines, blanks = [], []
        if lines:
            yield np.array(lines, np.int64), np.array(blanks, bool)


class _Scan:
    """The vectorised scanner over an ASCII-compatible file; see the module docstring.

    It stops (setting `stopped_at`, the byte offset of a record start, and `stopped_line`, its
    line) where it cannot follow pyarrow, and the caller goes on with the `csv` module.
    """

    def __init__(self, handle: IO[bytes], delimiter: int) -> None:
        self.handle = handle
        self.delimiter = delimiter
        self.stopped_at: int | None = None
        self.stopped_line = 1
        self.in_header = True
        # Bytes that are no content of a blank record (the quote is looked at on its own).
        self._empty = np.zeros(256, bool)
        self._empty[[*_BLANK_BYTES, delimiter, _QUOTE]] = True

    def records(self, keep_blank: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (lines, blank) per block, for the records pyarrow yields; `keep_blank(raw)`
        decides for a blank record."""
        pending = b""
        offset = 0  # file offset of `pending`
        line = 1  # the line `pending` starts on
        while True:
            more = self.handle.read(BLOCK)
            data = pending + more
            final = not more
            if not data:
                return
            found = self._block(data, final)
            if found is None or (not final and found[0] == 0 and len(data) > 4 * BLOCK):
                # A quote this scan cannot follow, or one record longer than pyarrow's
                # blocks (pyarrow will say so): the csv module takes over from `pending`.
                self.stopped_at, self.stopped_line = offset, line
                return
            used, breaks, quotes, starts, ends = found
            if len(starts):
                if len(quotes):
                    lines = line + np.searchsorted(breaks, starts).astype(np.int64)
                else:  # every line break ends a record: record i starts after i of them
                    lines = np.arange(line, line + len(starts), dtype=np.int64)
                blank = self._blanks(data, quotes, starts, ends)
                keep = ends > starts  # pyarrow skips empty lines
                if self.in_header and keep.any():
                    keep[np.flatnonzero(keep)[0]] = False
                    self.in_header = False
                if blank.any():
                    for i in np.flatnonzero(blank & keep):
                        keep[i] = keep_blank(data[starts[i] : ends[i]])
                if keep.any():
                    yield lines[keep], blank[keep]
            line += int(np.searchsorted(breaks, used))
            offset += used
            pending = data[used:]
            if final:
                return

    def _block(
        self, data: bytes, final: bool
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Split `data` (starting at a record start) into whole records.

        Returns (bytes used, the positions of every line break and every quote, record starts,
        record ends without their line break), or None when a quote stands where this scan
        cannot follow it.
        """
        arr = np.frombuffer(data, np.uint8)
        size = len(arr)
        breaks = np.flatnonzero(arr == _LF)
        if b"\r" in data:
            cr = np.flatnonzero(arr == _CR)
            after = np.minimum(cr + 1, size - 1)
            lone = cr[(cr + 1 >= size) | (arr[after] != _LF)]
            if len(lone):
                breaks = np.sort(np.concatenate([breaks, lone]))
        if not final and len(breaks) and breaks[-1] == size - 1 and arr[-1] == _CR:
            breaks = breaks[:-1]  # a CR at the end of the block may be the first half of CRLF
        quotes = np.empty(0, np.int64)
        ends_at = breaks
        if b'"' in data:
            quotes = np.flatnonzero(arr == _QUOTE)
            opening = quotes[0::2]
            before = arr[np.maximum(opening - 1, 0)]
            at_cell_start = (
                (opening == 0)
                | (before == self.delimiter)
                | (before == _LF)
                | (before == _CR)
                # `""` inside a quoted cell: the second quote follows a closing one.
                | np.r_[False, opening[1:] - 1 == quotes[1::2][: len(opening) - 1]]
            )
            if not at_cell_start.all():
                return None
            ends_at = breaks[(np.searchsorted(quotes, breaks) & 1) == 0]
        if final:
            # The last record needs no line break after it.
            if not len(ends_at) or ends_at[-1] != size - 1:
                ends_at = np.append(ends_at, size)
            used = size
        else:
            used = int(ends_at[-1]) + 1 if len(ends_at) else 0
        starts = np.r_[0, ends_at[:-1] + 1].astype(np.int64) if len(ends_at) else ends_at
        ends = ends_at.copy()
        # A CRLF's CR belongs to the line break, not to the record.
        crlf = (ends > starts) & (ends < size)
        crlf[crlf] = (arr[ends[crlf]] == _LF) & (arr[ends[crlf] - 1] == _CR)
        ends[crlf] -= 1
        return used, breaks, quotes, starts, ends

    def _blanks(
        self, data: bytes, quotes: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> np.ndarray:
        """Which records hold nothing but delimiters, spaces and empty quoted cells."""
        arr = np.frombuffer(data, np.uint8)
        first = arr[np.minimum(starts, len(arr) - 1)]
        maybe = (ends > starts) & self._empty[first]
        blank = np.zeros(len(starts), bool)
        if not maybe.any():
            return blank
        content = ~self._empty[arr]
        if len(quotes):
            # Inside quotes a delimiter is text, and `""` is a quote character; a quoted tab
            # (the delimiter of a TSV file) is white space all the same.
            if self.delimiter not in _BLANK_BYTES:
                delims = np.flatnonzero(arr == self.delimiter)
                content[delims[(np.searchsorted(quotes, delims) & 1) == 1]] = True
            reopening = quotes[2::2]
            closing = quotes[1::2][: len(reopening)]
            content[closing[reopening == closing + 1]] = True
        total = np.r_[0, np.cumsum(content, dtype=np.int64)]
        blank[maybe] = (total[ends[maybe]] - total[starts[maybe]]) == 0
        return blank


def locate_line(path: Path, offset: int) -> int:
    """The line holding byte `offset` of an ASCII-compatible file (LF, CRLF or CR end a line)."""
    line = 1
    with path.open("rb") as handle:
        done = 0
        last_cr = False
        while done < offset:
            block = handle.read(min(BLOCK, offset - done))
            if not block:
                break
            arr = np.frombuffer(block, np.uint8)
            lf = int(np.count_nonzero(arr == _LF))
            cr = np.flatnonzero(arr == _CR)
            lone = int(np.count_nonzero(arr[np.minimum(cr + 1, len(arr) - 1)] != _LF))
            if len(cr) and cr[-1] == len(arr) - 1:
                lone -= 1  # decided by the next block's first byte
            if last_cr and arr[0] != _LF:
                lone += 1
            last_cr = bool(len(cr) and cr[-1] == len(arr) - 1)
            line += lf + lone
            done += len(block)
    return line


def first_bad_record(
    path: Path, encoding: str, delimiter: str, cells: int
) -> tuple[int, int] | None:
    """The first record with data whose cell count is not the header's: (its line, its cells).

    Read with the csv module, from the start: only called once pyarrow refused the file.
    """
    with path.open(encoding=encoding, newline="", errors="replace") as text:
        reader = csv.reader(text, delimiter=delimiter)
        before = 0
        header = True
        try:
            for found in reader:
                start, before = before + 1, reader.line_num
                if not found:
                    continue
                if header:
                    header = False
                    continue
                if len(found) != cells and not blank_cells(found):
                    return start, len(found)
        except csv.Error:
            return None
    return None


def first_bad_byte(path: Path, encoding: str) -> int | None:
    """The offset of the first byte that is not `encoding` text, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            state = decoder.getstate()
            held = len(state[0]) if isinstance(state[0], bytes) else 0
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return done - held + exc.start
            if not block:
                return None
            done += len(block)
