"""Reading an uploaded bulk file: its format (CSV or NDJSON), its lines, its first line, its rows.

Bytes are split into lines as they arrive. The first line decides whether the file is acceptable at all
(right columns, UTF-8, CSV or NDJSON); after that, every line becomes a validated or a rejected row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from enrolment.bulk_rows import COLUMNS, OPTIONAL, BulkRow, rejected, validated_row

Format = Literal["csv", "ndjson"]
MAX_LINE_BYTES = 64 * 1024
MAX_RECORD_LINES = 20  # a quoted CSV field may span lines, but not the rest of the file
CONTENT_TYPES: dict[str, Format] = {
    "text/csv": "csv", "application/csv": "csv",
    "application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}
WHAT_TO_SEND: dict[Format, str] = {"csv": "a header line naming the columns, then one row per line",
                                   "ndjson": "one JSON object per line"}


class MalformedFile(Exception):
    """The file as a whole cannot be imported (answered 400); nothing was written."""


def format_of(content_type: str | None) -> Format | None:
    return CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())


class LineReader:
    """Splits a byte stream into numbered lines (without line endings), at most MAX_LINE_BYTES each."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._rest = b""
        self._lines: list[bytes] = []
        self._done = False
        self.number = 0

    async def next_lines(self) -> list[tuple[int, bytes]]:
        """The lines completed by the next piece of the stream; empty at the end."""
        while not self._done:
            piece = await anext(self._stream, None)
            if piece is None:
                self._done = True
                lines = [self._rest] if self._rest else []
            else:
                lines = (self._rest + piece).split(b"\n")
                self._rest = lines.pop()
                if len(self._rest) > MAX_LINE_BYTES:  # a line this long is not a row; cut it into a rejection
                    lines.append(self._rest)
                    self._rest = b""
            if lines:
                first = self.number + 1
                self.number += len(lines)
                return [(first + i, line.removesuffix(b"\r")) for i, line in enumerate(lines)]
        return []


def row_parser(fmt: Format, pending: list[tuple[int, bytes]]) -> tuple[Any, list[tuple[int, bytes]]]:
    """Check the first line (raising MalformedFile); the parser of the file's rows, and the lines it still has to parse."""
    if not pending:
        raise MalformedFile(f"The file is empty: send {WHAT_TO_SEND[fmt]}.")
    if not pending[0][1].strip():
        raise MalformedFile(f"The file starts with a blank line: send {WHAT_TO_SEND[fmt]}, from the first line on.")
    first = _first_line_text(pending[0][1])
    if fmt == "csv":
        columns = _csv_columns(first)
        return _CsvRows(columns), pending[1:]
    _check_first_object(first)
    return _ndjson_row, pending


def _first_line_text(raw: bytes) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise MalformedFile(f"The first line is longer than {MAX_LINE_BYTES} bytes; this is not a CSV or NDJSON file.")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise MalformedFile("The file is not UTF-8 text; save it as UTF-8 (CSV UTF-8 in spreadsheet programs).") from None


def _csv_columns(header: str) -> list[str]:
    try:
        columns = [c.strip().lower() for c in next(csv.reader([header], strict=True))]
    except csv.Error as error:
        raise MalformedFile(f"The header line is not valid CSV ({error}).") from None
    missing = [c for c in COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in COLUMNS]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if missing or unknown or repeated:
        problems = [f"missing columns: {', '.join(missing)}" if missing else "",
                    f"unknown columns: {', '.join(unknown)}" if unknown else "",
                    f"repeated columns: {', '.join(repeated)}" if repeated else ""]
        raise MalformedFile(
            "The header line does not have the expected columns (" + "; ".join(p for p in problems if p)
            + "). The first line must name exactly these columns, in any order: " + ", ".join(COLUMNS) + "."
        )
    return columns


def _check_first_object(first: str) -> None:
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep
        raise MalformedFile("The first line is not a JSON object; NDJSON needs one JSON object per line.") from None
    if not isinstance(value, dict):
        raise MalformedFile("The first line is not a JSON object; NDJSON needs one JSON object per line.")
    missing = [c for c in COLUMNS if c not in value and c not in OPTIONAL]
    if missing:
        raise MalformedFile(f"The first object lacks the fields {', '.join(missing)}; every line needs: "
                            + ", ".join(COLUMNS) + " (email and mobile may be null).")


def _plain_csv(record: str) -> bool:
    """A line without quotes, carriage returns or NUL characters is split at its commas by the csv module
    too (a unit test holds the two equal); every other line goes through the csv module."""
    return record != "" and '"' not in record and "\r" not in record and "\x00" not in record


def open_quote_at(record: str) -> int | None:
    """Where the quoted field still open at the end of `record` starts, or None when every field is closed.

    As the csv module reads: a field is quoted only when its first character is a quote, `""` inside it is
    a quote, and its closing quote ends the quoting (what follows up to the comma is plain text). A quote
    anywhere else (`Patwari 5"`) is a plain character."""
    if '"' not in record:  # most lines
        return None
    start, end = 0, len(record)
    while start < end:
        if record[start] != '"':
            comma = record.find(",", start)
            if comma < 0:
                return None
            start = comma + 1
            continue
        quote = record.find('"', start + 1)
        while quote >= 0 and record.startswith('""', quote):  # an escaped quote inside the field
            quote = record.find('"', quote + 2)
        if quote < 0:
            return start
        comma = record.find(",", quote + 1)
        if comma < 0:
            return None
        start = comma + 1
    return None


class _CsvRows:
    """Turns CSV lines into rows; a quoted field may continue on the next line, for MAX_RECORD_LINES lines."""

    def __init__(self, columns: list[str]) -> None:
        self._columns = columns
        self._start = 0
        self._parts: list[str] = []

    def __call__(self, number: int, raw: bytes) -> BulkRow | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._give_up(number, f"line {number} is not valid UTF-8 text." if self._parts
                                 else "the line is not valid UTF-8 text.")
        if not self._parts:
            if not text.strip():
                return None
            self._start = number
        self._parts.append(text)
        record = "\n".join(self._parts)
        opened = open_quote_at(record)
        if opened is None:
            self._parts = []
            return self._row(self._start, record)
        if len(self._parts) < MAX_RECORD_LINES:  # inside a quoted field: the record goes on
            return None
        return self._give_up(number, self._unclosed(record, opened, f"within {MAX_RECORD_LINES} lines"))

    def finish(self) -> BulkRow | None:
        if not self._parts:
            return None
        record = "\n".join(self._parts)
        return self._give_up(self._start + len(self._parts) - 1,
                             self._unclosed(record, open_quote_at(record) or 0, "before the end of the file"))

    def _unclosed(self, record: str, opened: int, where: str) -> str:
        line = self._start + record.count("\n", 0, opened)
        return f"a quoted field opened on line {line} is not closed {where}."

    def _give_up(self, last: int, reason: str) -> BulkRow:
        """Rejects the record that ends on line `last`; its report names every line it took, none of them enrolled."""
        first = self._start if self._parts else last
        self._parts = []
        return rejected(first, reason if first == last else f"lines {first}-{last} are not enrolled: {reason}")

    def _row(self, line: int, record: str) -> BulkRow:
        if _plain_csv(record):  # most lines: the csv module's fields, four times faster
            values = record.split(",")
        else:
            try:
                values = next(csv.reader([record], strict=True))
            except csv.Error as error:
                return rejected(line, f"the line is not valid CSV ({error}).")
        if len(values) != len(self._columns):
            return rejected(line, f"the line has {len(values)} fields; the header has {len(self._columns)}.")
        return validated_row(line, dict(zip(self._columns, map(str.strip, values))))


def _ndjson_row(number: int, raw: bytes) -> BulkRow | None:
    if not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        return rejected(number, "the line is not valid UTF-8 text.")
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep
        return rejected(number, "the line is not a JSON object.")
    if not isinstance(value, dict):
        return rejected(number, "the line is not a JSON object.")
    unknown = sorted(k for k in value if k not in COLUMNS)
    if unknown:
        return rejected(number, f"unknown fields: {', '.join(map(str, unknown))}.", value.get("employee_id"))
    return validated_row(number, value)
