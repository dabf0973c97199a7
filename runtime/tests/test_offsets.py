"""Offset commits that overlap the next batch: in order, one at a time per consumer, each the batch's own."""

import asyncio
import logging
from dataclasses import dataclass

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from karmayogi_runtime.offsets import OffsetCommits, next_offsets, rewind

pytestmark = pytest.mark.unit


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = None
    headers: tuple = ()


class Consumer:
    """Stands in for aiokafka's consumer: records each commit and how many were under way at once."""

    def __init__(self, fail: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.under_way = self.most_at_once = 0
        self.fail = fail

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.under_way += 1
        self.most_at_once = max(self.most_at_once, self.under_way)
        await asyncio.sleep(0.01)
        self.under_way -= 1
        if self.fail:
            raise CommitFailedError("the group rebalanced")
        self.commits.append(offsets)


class Positions:
    """Stands in for aiokafka's consumer where seeking is concerned: the partitions assigned and the positions sought."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned, self.sought = assigned, {}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition not in self.assigned:
            raise IllegalStateError(f"No current assignment for partition {partition}")
        self.sought[partition] = offset


def test_a_failed_batch_and_the_one_read_past_it_are_read_again_from_each_partitions_earliest_record(caplog):
    failed = (Record("t", 0, 7), Record("t", 0, 8), Record("t", 1, 3))
    read_past_it = (Record("t", 1, 2), Record("t", 2, 40), Record("t", 0, 9), Record("u", 0, 5))
    consumer = Positions({TopicPartition("t", p) for p in range(3)})  # u[0] was reassigned meanwhile
    caplog.set_level(logging.INFO, logger="karmayogi_runtime.consumer")
    rewind(consumer, failed + read_past_it)
    assert consumer.sought == {TopicPartition("t", 0): 7, TopicPartition("t", 1): 2, TopicPartition("t", 2): 40}
    assert "u[0] not read again from 5 here" in caplog.text


def test_a_batch_commits_each_partition_after_its_last_record():
    batch = [Record("t", 0, 7), Record("t", 1, 3), Record("t", 0, 8), Record("u", 0, 41)]
    assert next_offsets(batch) == {TopicPartition("t", 0): 9, TopicPartition("t", 1): 4, TopicPartition("u", 0): 42}


async def test_commits_reach_the_consumer_in_order_and_one_at_a_time():
    consumer, commits = Consumer(), OffsetCommits()
    for offset in range(5):
        await commits.start(consumer, [Record("t", 0, offset)])
    assert consumer.commits == [{TopicPartition("t", 0): n} for n in range(1, 5)]  # the fifth is under way

    await commits.finish(within=5)
    assert consumer.commits == [{TopicPartition("t", 0): n} for n in range(1, 6)]
    assert consumer.most_at_once == 1


async def test_a_failed_commit_is_logged_and_the_next_one_goes_ahead(caplog):
    consumer, commits = Consumer(fail=True), OffsetCommits()
    await (await commits.start(consumer, [Record("t", 0, 1)]))
    assert "offsets not committed (CommitFailedError" in caplog.text

    consumer.fail = False  # the rebalance is over
    await commits.start(consumer, [Record("t", 0, 2)])
    await commits.finish(within=5)
    assert consumer.commits == [{TopicPartition("t", 0): 3}]


async def test_a_stopping_service_waits_for_a_commit_no_longer_than_it_said():
    class AwayBroker(Consumer):
        async def commit(self, offsets):
            await asyncio.Event().wait()  # the coordinator never answers

    commits = OffsetCommits()
    commit = await commits.start(AwayBroker(), [Record("t", 0, 1)])
    await asyncio.wait_for(commits.finish(within=0.05), timeout=5)
    assert not commit.done()
    commit.cancel()
