"""A bulk enrolment file as a stream of validated rows, chunk by chunk, the next chunk read while the
current one is imported.

The file is never held in memory: its lines (`bulk_file`) become rows (`bulk_rows`) and are handed on in
chunks of `CHUNK_ROWS` rows. A file whose first line is wrong is refused before anything is read further;
after that, a bad row is reported with its line number and the import goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from enrolment.bulk_file import Format, LineReader, row_parser
from enrolment.bulk_rows import BulkRow

CHUNK_ROWS = 2000


async def open_file(stream: AsyncIterator[bytes], fmt: Format) -> AsyncGenerator[list[BulkRow], None]:
    """Check the first line, then give the rows in chunks. Raises MalformedFile before anything is read further."""
    reader = LineReader(stream)
    parse, pending = row_parser(fmt, await reader.next_lines())
    return _chunks(reader, pending, parse)


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
