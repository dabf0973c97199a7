"""Reading a bulk enrolment file (CSV or NDJSON) as a stream of validated rows, chunk by chunk.

The file is never held in memory: bytes are split into lines as they arrive and handed on in chunks
of `CHUNK_ROWS` rows. The first line decides whether the file is acceptable at all (right columns,
UTF-8, CSV or NDJSON); after that, a bad row is reported with its line number and the import goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from karmayogi_contracts.events import EmployeeProfile
from pydantic import TypeAdapter, ValidationError

Format = Literal["csv", "ndjson"]
CHUNK_ROWS = 2000
COLUMNS = ("employee_id", "name", "email", "mobile", "preferred_language", "department", "designation",
           "district", "batch_id")
OPTIONAL = frozenset({"email", "mobile"})
MAX_LINE_BYTES = 64 * 1024
MAX_RECORD_LINES = 20  # a quoted CSV field may span lines, but not the rest of the file
CONTENT_TYPES: dict[str, Format] = {
    "text/csv": "csv", "application/csv": "csv",
    "application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "application/jsonl": "ndjson",
    "application/x-jsonlines": "ndjson",
}


class MalformedFile(Exception):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass(frozen=True)
class BulkRow:
    """One data line: either a valid profile and batch id, or the reason it was rejected."""

    line: int
    employee_id: str | None
    batch_id: UUID | None
    profile: EmployeeProfile | None = None
    problem: str | None = None


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


async def open_file(stream: AsyncIterator[bytes], fmt: Format) -> AsyncGenerator[list[BulkRow], None]:
    """Check the first line, then give the rows in chunks. Raises MalformedFile before anything is read further."""
    reader = LineReader(stream)
    pending = await reader.next_lines()
    if not pending or not pending[0][1].strip():
        raise MalformedFile("The file is empty or starts with a blank line; send a header line, then one row per line.")
    first = _first_line_text(pending[0][1])
    if fmt == "csv":
        columns = _csv_columns(first)
        return _chunks(reader, pending[1:], _CsvRows(columns))
    _check_first_object(first)
    return _chunks(reader, pending, _ndjson_row)


def _first_line_text(raw: bytes) -> str:
    if len(raw) > MAX_LINE_BYTES:
        raise MalformedFile(f"The first line is longer than {MAX_LINE_BYTES} bytes; this is not a CSV or NDJSON file.")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise MalformedFile("The file is not UTF-8 text; save it as UTF-8 (CSV UTF-8 in spreadsheet programs).") from None


def _csv_columns(header: str) -> list[str]:
    try:
        columns = [c.strip().lower() for c in next(csv.reader([header]))]
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
    except ValueError:
        raise MalformedFile("The first line is not a JSON object; NDJSON needs one JSON object per line.") from None
    if not isinstance(value, dict):
        raise MalformedFile("The first line is not a JSON object; NDJSON needs one JSON object per line.")
    missing = [c for c in COLUMNS if c not in value and c not in OPTIONAL]
    if missing:
        raise MalformedFile(f"The first object lacks the fields {', '.join(missing)}; every line needs: "
                            + ", ".join(COLUMNS) + " (email and mobile may be null).")


@contextlib.asynccontextmanager
async def read_ahead(chunks: AsyncGenerator[list[BulkRow], None]) -> AsyncIterator[AsyncIterator[list[BulkRow]]]:
    """The same chunks, the next one read and validated while the caller imports the current one.

    Reading is this process's work and importing mostly PostgreSQL's, so on two cores they overlap. One
    chunk waits at most (and one more is ready to), so memory holds three chunks whatever the file's size.
    A failure to read (the client went away) is raised where the next chunk is asked for."""
    ready: asyncio.Queue[list[BulkRow] | Exception | None] = asyncio.Queue(maxsize=1)

    async def read() -> None:
        try:
            async with contextlib.aclosing(chunks):  # stopped early, the file's reader is closed too
                async for chunk in chunks:
                    await ready.put(chunk)
            await ready.put(None)
        except Exception as error:
            await ready.put(error)

    async def ahead() -> AsyncIterator[list[BulkRow]]:
        while (item := await ready.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item

    reader = asyncio.create_task(read())
    try:
        yield ahead()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _chunks(reader: LineReader, pending: list[tuple[int, bytes]], parse: Any) -> AsyncGenerator[list[BulkRow], None]:
    chunk: list[BulkRow] = []
    while True:
        for number, raw in pending:
            row = parse(number, raw)
            if row is not None:
                chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
        pending = await reader.next_lines()
        if not pending:
            break
    if (last := getattr(parse, "finish", None)) and (row := last()):
        chunk.append(row)
    if chunk:
        yield chunk


def _plain_csv(record: str) -> bool:
    """A line without quotes, carriage returns or NUL characters is split at its commas by the csv module
    too (a unit test holds the two equal); every other line goes through the csv module."""
    return record != "" and '"' not in record and "\r" not in record and "\x00" not in record


class _CsvRows:
    """Turns CSV lines into rows; a quoted field may continue on the next line."""

    def __init__(self, columns: list[str]) -> None:
        self._columns = columns
        self._start = 0
        self._parts: list[str] = []

    def __call__(self, number: int, raw: bytes) -> BulkRow | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._parts = []
            return rejected(number, "the line is not valid UTF-8 text.")
        if not self._parts:
            if not text.strip():
                return None
            self._start = number
        self._parts.append(text)
        record = "\n".join(self._parts)
        if record.count('"') % 2:  # inside a quoted field: the record goes on
            if len(self._parts) < MAX_RECORD_LINES:
                return None
            self._parts = []
            return rejected(self._start, "a quoted field is not closed.")
        self._parts = []
        return self._row(self._start, record)

    def finish(self) -> BulkRow | None:
        if self._parts:
            self._parts = []
            return rejected(self._start, "a quoted field is not closed before the end of the file.")
        return None

    def _row(self, line: int, record: str) -> BulkRow:
        if _plain_csv(record):  # most lines: the csv module's fields, four times faster
            values = record.split(",")
        else:
            try:
                values = next(csv.reader([record]))
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
    except ValueError:
        return rejected(number, "the line is not a JSON object.")
    if not isinstance(value, dict):
        return rejected(number, "the line is not a JSON object.")
    unknown = sorted(k for k in value if k not in COLUMNS)
    if unknown:
        return rejected(number, f"unknown fields: {', '.join(map(str, unknown))}.", value.get("employee_id"))
    return validated_row(number, value)


def validated_row(line: int, fields: dict[str, Any]) -> BulkRow:
    """Validate one row's directory fields with the contract's own rules, so every accepted row makes a valid event."""
    employee_id = fields.get("employee_id")
    employee_id = employee_id if isinstance(employee_id, str) else None
    problems = []
    batch_id = None
    try:
        batch_id = UUID(str(fields.get("batch_id")).strip())
    except ValueError:
        problems.append("batch_id: must be a UUID such as '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b'")
    profile = None
    data = {"id": fields.get("employee_id"), **{k: fields.get(k) for k in COLUMNS[1:-1]}}
    for optional in OPTIONAL:
        if data[optional] == "":
            data[optional] = None
    try:
        profile = _profile(data)
    except ValidationError as error:
        problems += [_sentence(problem) for problem in error.errors()]
    if problems:
        return rejected(line, "; ".join(problems) + ".", employee_id, batch_id)
    return BulkRow(line, profile.id, batch_id, profile)  # type: ignore[union-attr]


# Each field is validated with its own type from the contract, and the values a state's file repeats
# (names, languages, departments, designations, districts) are validated once: the same rules as
# `EmployeeProfile.model_validate`, at a third of the cost per row. A row with any invalid field is
# validated again as a whole, so its report carries the contract's own sentences.
_FIELD_TYPES = {name: TypeAdapter(Annotated[info.annotation, info]) for name, info in EmployeeProfile.model_fields.items()}
_REPEATED = frozenset({"name", "preferred_language", "department", "designation", "district"})
_SEEN: dict[tuple[str, Any], Any] = {}
# E-mail validation is the costliest check of a row (~40 us). An address whose domain has already passed
# the full check and whose local part is a plain lowercase dot-atom is valid and already normalised, so
# the full check is skipped for it: same result, a fraction of the time, on 300,000 rows of one state.
_PLAIN_EMAIL = re.compile(r"([a-z0-9]+(?:[._+-][a-z0-9]+)*)@([a-z0-9.-]+)")
_CHECKED_DOMAINS: set[str] = set()


def _profile(data: dict[str, Any]) -> EmployeeProfile:
    try:
        return EmployeeProfile.model_construct(**{name: _valid(name, value) for name, value in data.items()})
    except ValidationError:
        return EmployeeProfile.model_validate(data)  # raises, with every problem of the row


def _valid(name: str, value: Any) -> Any:
    if not isinstance(value, str):  # null, or a JSON number, list or object from an NDJSON line
        return _FIELD_TYPES[name].validate_python(value)
    if name in _REPEATED:
        if (name, value) not in _SEEN:
            if len(_SEEN) >= 100_000:
                _SEEN.clear()
            _SEEN[(name, value)] = _FIELD_TYPES[name].validate_python(value)
        return _SEEN[(name, value)]
    if name == "email" and len(value) <= 254:
        return _valid_email(value)
    return _FIELD_TYPES[name].validate_python(value)


def _valid_email(email: str) -> str:
    plain = _PLAIN_EMAIL.fullmatch(email)
    if plain and len(plain[1]) <= 64 and plain[2] in _CHECKED_DOMAINS:
        return email
    valid = _FIELD_TYPES["email"].validate_python(email)
    if plain and valid == email and len(_CHECKED_DOMAINS) < 10_000:
        _CHECKED_DOMAINS.add(plain[2])
    return valid


def _sentence(problem: Any) -> str:
    field = ".".join(str(p) for p in problem.get("loc", ())) or "row"
    field = "employee_id" if field == "id" else field
    return f"{field}: {problem.get('msg', 'is invalid').removeprefix('Value error, ')}"


def rejected(line: int, reason: str, employee_id: Any = None, batch_id: UUID | None = None) -> BulkRow:
    return BulkRow(line, employee_id if isinstance(employee_id, str) else None, batch_id, problem=reason)
