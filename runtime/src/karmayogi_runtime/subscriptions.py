"""What a service declares to consume, and what its handlers get: `Subscription`, `EventContext`, and
`RuleViolation` (a handler's way to have an event dead-lettered). The consumer runner applies them."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from karmayogi_contracts import CloudEvent

from karmayogi_runtime import outbox


class RuleViolation(Exception):
    """Raised by a handler when the event breaks a business rule; it is dead-lettered with this message."""


@dataclass
class EventContext:
    """What a handler gets with its event: the open transaction, and the two ways to affect the world."""

    connection: asyncpg.Connection
    consumer: str
    arrivals: list[str] = field(default_factory=list)

    async def publish(self, event: CloudEvent) -> None:
        """Publish `event` if, and only if, this transaction commits."""
        await outbox.add(self.connection, event)

    def arrived(self, waiting_for: str) -> None:
        """Declare that the fact `waiting_for` is now recorded: events parked for it are applied next."""
        self.arrivals.append(waiting_for)


Handler = Callable[[EventContext, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[EventContext, Sequence[CloudEvent]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One consumer group of a service: the topics it reads and the handler every event goes to.

    `handle_many`, when given, applies a whole batch of new events at once (one `executemany` instead of
    a statement per event); it must have the same effect as `handler` applied to each event in turn.
    """

    group: str
    topics: tuple[str, ...]
    handler: Handler
    description: str = ""
    handle_many: BatchHandler | None = None
