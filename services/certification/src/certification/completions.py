"""Which completions can be certified: a `course.completed` must state what could be true, as attendance
requires of the reports it records. Pure functions: the time is passed in."""

from datetime import datetime, timedelta

from karmayogi_contracts import CourseCompleted, ids

# A publisher's clock may run a little ahead of ours; more than this is a future date (attendance allows the same).
CLOCK_SKEW = timedelta(minutes=5)


def completion_problem(completed: CourseCompleted, now: datetime) -> str | None:
    """Why `completed` cannot be certified as it stands, or None. A completion id that is not its enrolment's
    means the publisher mixed up its ids, so the enrolment named cannot be trusted; a certificate dated in the
    future would be shown as valid before the course was done."""
    expected = ids.completion_id(completed.tenant, completed.enrolment_id)
    if completed.completion_id != expected:
        return (f"completion_id {completed.completion_id} is not the id of the completion of enrolment "
                f"{completed.enrolment_id} in {completed.tenant} (ids.completion_id gives {expected}).")
    if completed.completed_at > now + CLOCK_SKEW:
        return (f"The course is completed at {completed.completed_at.isoformat()}, in the future (more than "
                f"{CLOCK_SKEW // timedelta(minutes=1)} minutes ahead of this service's clock): check the sender's clock.")
    return None
