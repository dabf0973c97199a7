"""Dead letters as an operator handles them: read from the dead-letter topics (one per failure), chosen by
filters, and published back to their original topics under a replay id. `karmayogi-ops` is the command
line over these; tests and the demo read dead letters with them too. What a dead letter carries, and what
a replay adds to it, is `dead_letter`'s."""

import asyncio
import functools
import uuid
from dataclasses import dataclass, fields

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from karmayogi_contracts import KafkaRecord

from karmayogi_runtime import dead_letter
from karmayogi_runtime import topics as topics_admin
from karmayogi_runtime.broker import PRODUCER_DEFAULTS
from karmayogi_runtime.topics import Security


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    record: KafkaRecord

    @functools.cached_property
    def why(self) -> dict[str, str]:
        """What its headers say of the failure (read once: filters, listings and replays all ask)."""
        return dead_letter.description(self.record.headers)

    @property
    def key(self) -> str:
        """`<tenant>:<employee id>`, the original event's key."""
        return self.record.key.decode("utf-8", "replace")

    @property
    def tenant(self) -> str:
        return self.key.partition(":")[0]


@dataclass(frozen=True)
class Filters:
    """Which dead letters the operator means: those that match every filter given."""

    error_class: str | None = None
    group: str | None = None
    tenant: str | None = None
    key: str | None = None

    def match(self, letter: DeadLetter) -> bool:
        why = letter.why
        return ((self.error_class is None or why.get("error_class") == self.error_class)
                and (self.group is None or why.get("consumer_group") == self.group)
                and (self.tenant is None or letter.tenant == self.tenant.removesuffix(":"))
                and (self.key is None or letter.key == self.key))

    def given(self) -> bool:
        """Whether any filter is given."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    def __str__(self) -> str:
        return " ".join(f"--{f.name.replace('_', '-')} {getattr(self, f.name)}" for f in fields(self)
                        if getattr(self, f.name) is not None)


def what_is_there(letters: list[DeadLetter]) -> str:
    """The consumer groups, error classes and tenants of `letters`, for an operator whose filter missed."""
    def each(values: set[str]) -> str:
        return ", ".join(sorted(values))
    return (f"consumer groups {each({d.why.get('consumer_group', '?') for d in letters})}; "
            f"error classes {each({d.why.get('error_class', '?') for d in letters})}; "
            f"tenants {each({d.tenant for d in letters})}")


async def read_dead_letters(bootstrap_servers: str, topics: list[str], *, security: Security = None) -> list[DeadLetter]:
    """The dead letters on the given topics, one per failure (see `dead_letter.identity`), read from the
    beginning without a consumer group."""
    unique: dict[str, DeadLetter] = {}
    for letter in await read_records(bootstrap_servers, topics, security=security):
        unique.setdefault(letter.why.get("id", f"{letter.topic}/{letter.partition}/{letter.offset}"), letter)
    return list(unique.values())


async def read_records(bootstrap_servers: str, topics: list[str], *, security: Security = None) -> list[DeadLetter]:
    """Every record currently on `topics`, re-publications included."""
    partitions = await topics_admin.partitions(bootstrap_servers, topics, security=security)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **(security or {}))
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                found += [
                    DeadLetter(tp.topic, tp.partition, r.offset,
                               KafkaRecord(tp.topic, r.key or b"", tuple(r.headers), r.value or b""))
                    for r in records if r.offset < end[tp]
                ]
        return sorted(found, key=lambda d: (d.topic, d.partition, d.offset))
    finally:
        await consumer.stop()


async def replay(bootstrap_servers: str, letters: list[DeadLetter], *, topic_prefix: str = "",
                 security: Security = None) -> str:
    """Publish each dead letter back to its original topic under one replay id; returns the id."""
    replay_id = str(uuid.uuid4())
    records = [dead_letter.replay(letter.record, replay_id, letter.partition, letter.offset)
               for letter in letters]  # all replayable, or none sent
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **PRODUCER_DEFAULTS, **(security or {}))
    try:
        await producer.start()
        sends = []
        for again in records:
            sends.append(await producer.send(topic_prefix + again.topic, again.value, key=again.key, headers=list(again.headers)))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return replay_id
