"""Reading an attendance file from a state system (CSV or NDJSON) as a stream of rows, chunk by chunk.

Columns: `employee_id`, `session_id` (required), `minutes_attended` (empty: the whole session),
`marked_at` (RFC 3339; empty: when its chunk is marked); no others. A CSV header naming any other column
refuses the file, and an NDJSON line with any other field is a bad line: ignoring a misspelt
`minutes_attended` would credit the whole session. The file is received whole before any line is
recorded, into a temporary file (in memory up to 8 MiB, on disk beyond), and checked as it arrives: a
file of more than MAX_FILE_LINES lines (or MAX_FILE_BYTES) is refused, and so is one with a line that is
not UTF-8 or longer than MAX_LINE_BYTES, wherever it is, with nothing recorded: the answer gives every
line's outcome, and this bounds the memory and the disk one import takes. Lines end with LF, CRLF or a
lone CR (Excel's "CSV (Macintosh)"). The file is then split into lines and parsed chunk by chunk. A bad
line is reported with its number and the import goes on. A file that is empty, or whose first line does
not show it is what its Content-Type says (a CSV header with the required columns, or a JSON object
with the required fields), is refused as a whole, as the enrolment service's bulk files are (400).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import json
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from karmayogi_contracts.fields import EMPLOYEE_ID_PATTERN, UtcDatetime
from pydantic import TypeAdapter, ValidationError

Format = Literal["csv", "ndjson"]
CHUNK_ROWS = 1000
MAX_LINE_BYTES = 16 * 1024
MAX_FILE_LINES = 50_000  # about 100 MiB of outcomes in the answer, well inside the service's memory limit
MAX_FILE_BYTES = 32 * 1024 * 1024  # ten times what 50,000 ordinary lines take; /tmp is 256 MiB in Kubernetes
SPOOL_IN_MEMORY = 8 * 1024 * 1024
REQUIRED = ("employee_id", "session_id")
COLUMNS = (*REQUIRED, "minutes_attended", "marked_at")
ACCEPTED = f"{' and '.join(REQUIRED)} (required), {' and '.join(COLUMNS[len(REQUIRED):])}"
CONTENT_TYPES: dict[str, Format] = {
    "text/csv": "csv", "application/csv": "csv",
    "application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}
WHAT_TO_SEND: dict[Format, str] = {"csv": "a header line naming the columns, then one row per line",
                                   "ndjson": "one JSON object per line"}
_EMPLOYEE_ID = re.compile(EMPLOYEE_ID_PATTERN)


class MalformedFile(Exception):
    """The file as a whole cannot be read (answered 400); nothing was imported."""


class TooLarge(Exception):
    """The file has more lines or bytes than one import takes; nothing was imported."""


@dataclass(frozen=True)
class Mark:
    """One attendance to mark: from a file line, or from a trainer's request."""

    line: int
    employee_id: str
    session_id: UUID
    minutes: int | None = None
    marked_at: datetime | None = None


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str
    employee_id: str | None = None  # when the line names one that is valid, so the report can be matched to the HRMS


def file_format(content_type: str | None) -> Format | None:
    """The format a Content-Type names, or None for one that is not a bulk file (answered 415)."""
    return CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())


@contextlib.asynccontextmanager
async def received(stream: AsyncIterator[bytes]) -> AsyncIterator[AsyncIterator[bytes]]:
    """The whole of `stream`, checked (`Receiving`) and received into a temporary file, to be read again
    with its line endings made LF; raises `TooLarge` or `MalformedFile` as soon as it is known."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        receiving = Receiving()
        async for chunk in stream:
            if chunk:
                spool.write(receiving.take(chunk))
        receiving.finish()
        spool.seek(0)
        yield _blocks(spool)


class Receiving:
    """What is known of a file while it arrives: its size, its lines so far, and the line under way (its
    length, and its UTF-8 decoded as it comes), so every limit holds wherever the chunks split the file."""

    def __init__(self) -> None:
        self.size = 0
        self.number = 1  # of the line under way
        self.length = 0  # its bytes so far
        self.after_cr = False  # the last chunk ended with CR: an LF starting the next one ends no other line
        self.utf8 = codecs.getincrementaldecoder("utf-8")()

    def take(self, chunk: bytes) -> bytes:
        """`chunk` with its line endings made LF, once checked."""
        self.size += len(chunk)
        if self.size > MAX_FILE_BYTES:
            raise TooLarge(f"The file is larger than {MAX_FILE_BYTES // 2**20} MiB, the most one import takes; "
                           f"nothing was recorded. Send it in parts of at most {MAX_FILE_LINES:,} lines.")
        if self.after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self.after_cr = chunk.endswith(b"\r")
        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *ended, rest = chunk.split(b"\n")
        for line in ended:
            self._continue(line, final=True)
            self.number, self.length = self.number + 1, 0
        self._continue(rest, final=False)
        if self.number - 1 + (self.length > 0) > MAX_FILE_LINES:
            raise TooLarge(f"The file has more than {MAX_FILE_LINES:,} lines, the most one import takes; "
                           f"nothing was recorded. Send it in parts of at most {MAX_FILE_LINES:,} lines.")
        return chunk

    def finish(self) -> None:
        self._continue(b"", final=True)

    def _continue(self, part: bytes, *, final: bool) -> None:
        self.length += len(part)
        if self.length > MAX_LINE_BYTES:
            raise MalformedFile(f"Line {self.number} is longer than {MAX_LINE_BYTES:,} bytes; nothing was imported.")
        try:
            self.utf8.decode(part, final=final)  # LF is never inside a UTF-8 character: each line decodes alone
        except UnicodeDecodeError:
            raise MalformedFile(f"Line {self.number} is not UTF-8 text; nothing was imported. Save the file as "
                                "UTF-8 and send it again.") from None


async def _blocks(spool: Any) -> AsyncIterator[bytes]:
    while block := spool.read(64 * 1024):
        yield block


async def lines(stream: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, str]]:
    """Numbered, decoded, non-blank lines of a file `received` has checked."""
    pending, number = b"", 0
    async for chunk in stream:
        *complete, pending = (pending + chunk).split(b"\n")
        for raw in complete:
            number += 1
            if raw.strip():
                yield number, _decode(raw, number)
    if pending.strip():
        yield number + 1, _decode(pending, number + 1)


def _decode(raw: bytes, number: int) -> str:
    return raw.decode("utf-8-sig" if number == 1 else "utf-8")


async def rows(stream: AsyncIterator[bytes], kind: Format) -> AsyncIterator[list[Mark | BadLine]]:
    """Chunks of parsed rows, each a `Mark` or a `BadLine` with its reason."""
    chunk: list[Mark | BadLine] = []
    header: list[str] | None = None
    empty = True
    async for number, text in lines(stream):
        if empty:  # the first line, which shows whether the file is what its Content-Type says
            empty = False
            if kind == "csv":
                header = _csv_header(text)
                continue
            if problem := _first_object_problem(text):
                raise MalformedFile(problem)
        chunk.append(_csv_row(number, text, header) if kind == "csv" else _json_row(number, text))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if empty:
        raise MalformedFile(f"The file is empty: send {WHAT_TO_SEND[kind]}.")
    if chunk:
        yield chunk


def _csv_header(text: str) -> list[str]:
    names = _fields(text)
    if names is None:
        raise MalformedFile("The CSV header (line 1) cannot be read as CSV; nothing was imported. "
                            f"Start the file with the line {','.join(COLUMNS)}.")
    header = [name.strip() for name in names]
    if problem := _header_problem(header):
        raise MalformedFile(problem)
    return header


def _first_object_problem(text: str) -> str | None:
    """Why the first line of an NDJSON file shows it is not one, or None. A field the import does not know is
    a bad line, as on any other line; a line that is no JSON object, or lacks the required fields, is most
    likely a CSV file, or another system's file, sent as NDJSON, and every line of it would be rejected."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # also arrays nested too deep
        value = None
    if not isinstance(value, dict):
        return "The first line is not a JSON object; NDJSON needs one JSON object per line; nothing was imported."
    if missing := [c for c in REQUIRED if c not in value]:
        return (f"The first object lacks the field(s) {', '.join(missing)}; the accepted fields are {ACCEPTED}; "
                "nothing was imported.")
    return None


def _header_problem(header: list[str]) -> str | None:
    """Why the CSV header cannot be used, or None. A column the import does not know is refused rather
    than ignored: a misspelt `minutes_attended` would otherwise credit the whole session to everyone."""
    missing = [c for c in REQUIRED if c not in header]
    unknown = _unknown(header)
    if not missing and not unknown:
        return None
    problems = [f"lacks the column(s) {', '.join(missing)}" if missing else "",
                f"has the column(s) {unknown}, which this import does not know" if unknown else ""]
    return (f"The CSV header {' and '.join(p for p in problems if p)}; the accepted columns are {ACCEPTED}; "
            "nothing was imported.")


def _unknown(names: Any) -> str:
    """The names not among COLUMNS, quoted as sent (so a blank or misspelt one shows), or ''."""
    return ", ".join(json.dumps(name, ensure_ascii=False) for name in names if name not in COLUMNS)


def _fields(text: str) -> list[str] | None:
    """The fields of one CSV line, or None when the csv module cannot read it."""
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error:
        return None


def _csv_row(number: int, text: str, header: list[str] | None) -> Mark | BadLine:
    values = _fields(text)
    if values is None:
        return BadLine(number, "cannot be read as CSV (check its quotes).")
    if len(values) != len(header or ()):
        return BadLine(number, f"has {len(values)} fields; the header has {len(header or ())}.")
    return parse(number, dict(zip(header or (), values)))


def _json_row(number: int, text: str) -> Mark | BadLine:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # also a number of too many digits, or arrays nested too deep
        return BadLine(number, "is not a JSON object.")
    if not isinstance(value, dict):
        return BadLine(number, "is not a JSON object.")
    if unknown := _unknown(value):  # ignored, a misspelt minutes_attended would credit the whole session
        return BadLine(number, f"has the field(s) {unknown}, which this import does not know; the accepted fields "
                               f"are {ACCEPTED}.", _valid_employee_id(value))
    return parse(number, value)


def _valid_employee_id(row: dict[str, Any]) -> str | None:
    employee_id = str(row.get("employee_id") or "").strip()
    return employee_id if _EMPLOYEE_ID.fullmatch(employee_id) else None


def parse(number: int, row: dict[str, Any]) -> Mark | BadLine:
    employee_id = _valid_employee_id(row)
    if employee_id is None:
        return BadLine(number, "employee_id must be 1-64 letters, digits, '.', '_' or '-'.")
    try:
        session_id = UUID(str(row.get("session_id") or "").strip())
    except ValueError:
        return BadLine(number, "session_id must be a session id (a UUID) given when the session was scheduled.",
                       employee_id)
    minutes = row.get("minutes_attended")
    if minutes in (None, ""):
        minutes = None
    else:
        try:
            minutes = int(str(minutes).strip())
        except ValueError:
            return BadLine(number, "minutes_attended must be a whole number of minutes.", employee_id)
        if minutes < 0:
            return BadLine(number, "minutes_attended must not be negative.", employee_id)
    marked_at = row.get("marked_at")
    if marked_at in (None, ""):
        marked_at = None
    else:
        try:
            marked_at = _MARKED_AT.validate_python(str(marked_at).strip())  # in UTC, as the event carries it
        except ValidationError as error:
            return BadLine(number, _MARKED_AT_PROBLEMS.get(error.errors()[0]["type"], _NOT_A_DATE_TIME), employee_id)
    return Mark(number, employee_id, session_id, minutes, marked_at)


# A file's marked_at is read as the contract reads session.attended's (RFC 3339 with an offset), in words for a file.
_MARKED_AT = TypeAdapter(UtcDatetime)
_NOT_A_DATE_TIME = "marked_at must be an RFC 3339 date-time with seconds and a UTC offset, e.g. 2026-11-20T10:30:00+05:30."
_MARKED_AT_PROBLEMS = {
    "datetime_out_of_range": "marked_at is not a date-time an attendance can have.",  # 0001-01-01T00:00:00+05:30
}
