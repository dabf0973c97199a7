"""The one consumer group of the service: the four topics that tell an employee something happened."""

from karmayogi_runtime.consumer import Subscription

from .handlers import Notifier

TOPICS = ("employee.enrolled", "course.completed", "certificate.issued", "certificate.revoked")


def subscriptions(notifier: Notifier) -> tuple[Subscription, ...]:
    return (
        Subscription(
            group="notifications.messages", topics=TOPICS, handler=notifier.handle, handle_many=notifier.handle_many,
            description="Keeps the contact directory and queues one e-mail and one SMS per event and employee.",
        ),
    )
