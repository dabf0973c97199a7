"""The consumer groups: adapters from the topics to the handlers, nothing more.

The roster group reads enrolments, withdrawals and changes to an employee's directory entry; the attendance
group reads every `session.attended`, this service's own included (one write path). The clock is read here,
at the edge, and passed in.
"""

from collections.abc import Sequence
from datetime import datetime, timezone

from karmayogi_contracts import CloudEvent
from karmayogi_runtime.consumer import EventContext, Subscription

from attendance import handlers
from attendance.settings import AttendanceSettings

ROSTER_GROUP = "attendance.roster"
MARKS_GROUP = "attendance.marks"

ROSTER_HANDLERS = {
    "employee.enrolled": handlers.record_enrolment,
    "enrolment.withdrawn": handlers.record_withdrawal,
    "employee.updated": handlers.record_name_change,
}


async def on_roster_event(context: EventContext, event: CloudEvent) -> None:
    """An enrolment, a withdrawal or a change of name: the runner dead-letters a type of another topic
    (`wrong_topic`)."""
    await ROSTER_HANDLERS[event.topic](context, event)


def subscriptions(settings: AttendanceSettings) -> tuple[Subscription, ...]:
    zone = settings.zone()

    async def on_attended(context: EventContext, event: CloudEvent) -> None:
        await on_attended_batch(context, [event])

    async def on_attended_batch(context: EventContext, events: Sequence[CloudEvent]) -> None:
        clock = handlers.Clock(now=datetime.now(timezone.utc), zone=zone)
        await handlers.record_attendances(context, events, clock)

    return (
        Subscription(ROSTER_GROUP, tuple(ROSTER_HANDLERS), on_roster_event,
                     description="Keeps the roster: enrolments with their completion-rule snapshot, withdrawals, "
                                 "and the employee's current name."),
        Subscription(MARKS_GROUP, ("session.attended",), on_attended,
                     description="Records attendance from every source and publishes course.completed once.",
                     handle_many=on_attended_batch),
    )
