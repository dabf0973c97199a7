"""Outbox rows too large for Kafka, and the keys they hold back.

A row Kafka would refuse for its size (over `limits.MAX_RECORD_BYTES`) can never be published. It is not
sent (a record the broker rejects would break the idempotent producer's sequence for its partition): the
relay holds back that row and the later rows of its key (one employee's events stay in order), logs why
as an error, and publishes everything else. An operator deletes or shrinks the row; the relay looks at
its held keys again once per poll interval, whether it is idle or busy with a bulk import, and publishes
a key's rows as soon as the first of them fits.

The held keys live in the relay's memory: a replica holds back the keys it has met itself, so the
`held_back` count in a replica's readiness body is that replica's, and a restarted replica finds them again
at its first claim.
"""

import logging
import time
from collections.abc import Callable, Sequence

import asyncpg

from karmayogi_runtime.limits import MAX_RECORD_BYTES, record_bytes

log = logging.getLogger(__name__)

FIRST_PENDING = """
    SELECT DISTINCT ON (key) id, topic, key, header_names, header_values, value FROM outbox
    WHERE sent_at IS NULL AND key = ANY($1::bytea[]) ORDER BY key, id
"""


def too_large(row: asyncpg.Record) -> int | None:
    """The size of an outbox row's record when Kafka would refuse it, else None."""
    key, value, names, values = row["key"], row["value"], row["header_names"], row["header_values"]
    # Nearly every row is far below the limit, and a bound without a Python loop says so: each length
    # prefix takes at most 5 bytes, a character at most 4 bytes of UTF-8, the batch and record framing 82.
    bound = (len(key or b"") + len(value or b"") + 4 * sum(map(len, names)) + sum(map(len, filter(None, values)))
             + 5 * (2 * len(names) + 3) + 82)
    if bound <= MAX_RECORD_BYTES:
        return None
    size = record_bytes(key, value, list(zip(names, values)))
    return size if size > MAX_RECORD_BYTES else None


class HeldBack:
    """The keys one relay holds back, with why, looked at again at most once per `interval` seconds."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._why: dict[bytes, str] = {}
        self._interval = interval
        self._clock = clock
        self._looked_at = clock()

    @property
    def keys(self) -> tuple[bytes, ...]:
        return tuple(self._why)

    def publishable(self, rows: Sequence[asyncpg.Record]) -> list[asyncpg.Record]:
        """The rows to publish now: all but a row too large for Kafka and the rows after it with its key."""
        ready = []
        for row in rows:
            key = row["key"]
            if key in self._why:
                continue
            size = too_large(row)
            if size is None:
                ready.append(row)
                continue
            self._why[key] = (f"outbox row {row['id']} for {row['topic']} is {size} bytes, over the "
                              f"{MAX_RECORD_BYTES} bytes Kafka takes")
            log.error("holding back the outbox rows of key %s: %s; the other keys' rows are published. "
                      "Delete or shrink that row (it can never be published) and they follow.",
                      key.decode("utf-8", "replace"), self._why[key])
        return ready

    async def look_again(self, pool: asyncpg.Pool) -> None:
        """Release the held keys whose first pending row can now be published (an operator removed or
        fixed the row that was too large); does nothing until `interval` has passed since the last look."""
        if not self._why or self._clock() - self._looked_at < self._interval:
            return
        self._looked_at = self._clock()
        try:
            async with pool.acquire() as connection:
                firsts = {row["key"]: row for row in await connection.fetch(FIRST_PENDING, list(self._why))}
        except Exception as error:  # the next interval looks again
            log.debug("could not look at the held-back outbox rows: %s", error)
            return
        for key in list(self._why):
            first = firsts.get(key)
            if first is None or too_large(first) is None:
                log.warning("outbox rows of key %s are no longer held back", key.decode("utf-8", "replace"))
                del self._why[key]
