"""Retrying a failed batch: how many attempts each record has had and when (what a dead letter reports,
and what decides that an event has been tried enough), and the exponential backoff between attempts."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from karmayogi_runtime.database import is_transient
from karmayogi_runtime.parking import ParkedMessage
from karmayogi_runtime.records import Record

# The runner's own logger: its lines keep one logger name whichever of its modules writes them.
log = logging.getLogger("karmayogi_runtime.consumer")


@dataclass
class Attempt:
    count: int
    first: datetime
    last: datetime


class Retries:
    """The attempts and backoff of one runner, per consumer group and record."""

    def __init__(self, *, max_attempts: int, max_backoff_seconds: float) -> None:
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff_seconds
        self._attempts: dict[tuple[str, str, int, int], Attempt] = {}
        self._parked: dict[tuple[str, int], Attempt] = {}
        self._failures: dict[str, int] = {}

    @property
    def max_attempts(self) -> int:
        return self._max_attempts

    # Attempts are remembered only for records whose batch has failed before: a batch that succeeds
    # at once (nearly all of them) costs no bookkeeping per record.
    def note_attempts(self, group: str, records: Sequence[Record], now: datetime) -> None:
        if not self._attempts:
            return
        for record in records:
            attempt = self._attempts.get(_place(group, record))
            if attempt is not None:
                attempt.count += 1
                attempt.last = now

    def note_failure(self, group: str, records: Sequence[Record], started: datetime) -> None:
        if len(self._attempts) > 100_000:  # leftovers of partitions revoked mid-retry
            self._attempts.clear()
        for record in records:
            self._attempts.setdefault(_place(group, record), Attempt(1, started, started))

    def succeeded(self, group: str, records: Sequence[Record]) -> None:
        """The batch went through: the group's backoff starts over and its records' attempts are forgotten."""
        self._failures.pop(group, None)
        if self._attempts:
            for record in records:
                self._attempts.pop(_place(group, record), None)

    # A parked event is applied in the batch of the event it waited for, but when it fails the failure
    # is its own: its attempts are counted by its parked row (which the batch's rollback puts back as it
    # was), not by the records of that batch, so they add up across the batch's retries and it is
    # dead-lettered once exhausted instead of holding the arriving event's partition forever.
    def note_parked_failure(self, group: str, parked: ParkedMessage) -> Attempt:
        """`parked` failed when released; returns its attempt, counting this one."""
        now = datetime.now(timezone.utc)
        attempt = self._parked.get((group, parked.id))
        if attempt is None:
            if len(self._parked) > 100_000:  # leftovers of batches whose partitions were revoked mid-retry
                self._parked.clear()
            attempt = self._parked[(group, parked.id)] = Attempt(0, now, now)
        attempt.count += 1
        attempt.last = now
        return attempt

    def forget_parked(self, released: Sequence[ParkedMessage]) -> None:
        """The transaction that released these parked events committed: their rows are gone for good."""
        if self._parked:
            for parked in released:
                self._parked.pop((parked.consumer, parked.id), None)

    def attempt(self, group: str, record: Record) -> Attempt:
        """This attempt at `record`: how many there have been, counting this one, and when."""
        now = datetime.now(timezone.utc)
        if isinstance(record, ParkedMessage):
            return self._parked.get((group, record.id)) or Attempt(1, now, now)
        return self._attempts.get(_place(group, record)) or Attempt(1, now, now)

    def exhausted(self, group: str, record: Record) -> bool:
        """True when this attempt at `record` is the last one it gets."""
        return self.attempt(group, record).count >= self._max_attempts

    async def back_off(self, group: str, error: Exception) -> None:
        """Wait before the group's failed batch is tried again: longer after each failure in a row."""
        failures = self._failures[group] = self._failures.get(group, 0) + 1
        delay = min(0.25 * 2 ** (failures - 1), self._max_backoff)
        level = logging.WARNING if is_transient(error) else logging.ERROR
        log.log(level, "%s: batch failed (%s: %s); retrying in %.2fs", group, type(error).__name__, error, delay)
        await asyncio.sleep(delay)


def _place(group: str, record: Record) -> tuple[str, str, int, int]:
    return group, record.topic, record.partition, record.offset
