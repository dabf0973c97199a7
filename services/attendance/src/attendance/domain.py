"""The rules of attendance and completion: pure functions over frozen values, no I/O, no clock.

Attendance percentage (the figure the completion rule is compared with, and the one reported in
`course.completed`):

    attendance_percent = 100 x (sum over distinct sessions s of min(1, minutes_s / duration_s)) / sessions_planned

- A session counts once, however many times and from however many sources (trainer, biometric, iGOT)
  it is reported: its minutes are the most any report gave, so a later, smaller report never lowers it.
- Every planned session weighs the same; a session attended in full counts 1, half of it 0.5. When every
  session has the same length (the usual case) this is exactly attended minutes over planned minutes,
  which is what the contract describes; it does not need the length of sessions not yet scheduled.
- The percentage is capped at 100 (a state system may report more sessions than were planned).
- `sessions_attended` counts sessions with at least one minute attended.

A report of a session this service scheduled must give the schedule's start and length, and an
attendance is marked neither in the future (beyond CLOCK_SKEW) nor more than EARLY_CHECK_IN (an hour)
before its session starts.

A course is complete when the percentage reaches the rule's minimum (compared exactly, without
rounding), every mandatory session was attended, and at least one session was attended (a 0% rule does
not complete an employee who never came). A withdrawn enrolment never completes.

A completion is dated when the rule was first met (`first_met`): the reports are taken in the order they
were marked, not the order they were read (several sources, corrections and replays arrive out of
order), each counting as above, and the completion takes the earliest `marked_at` from which they meet
the rule, with the figures of that moment (`progress_at`). Reports read in any order give the same date.

Mandatory sessions come from two places, and both must be attended:
- the course's completion rule (`mandatory_session_ids`, copied into every `employee.enrolled`), which
  names sessions by the ids a state system reports them under (its own sessions, the same in every batch);
- the batch's plan: a session scheduled through this service's API gets an id of its own batch
  (`marking.session_id`), unknown when the course is created, so the training officer flags it
  `mandatory` when scheduling it instead.
A mandatory session changes no progress figure (percentage, sessions attended): it only holds back
completion. Completion happens once: a session flagged mandatory after an employee completed does not
take the completion back (it was published, and a certificate may already be issued); a flag cleared
completes at once whoever it alone held back (`handlers.complete_released`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from fractions import Fraction
from uuid import UUID

# A publisher's clock may run a little ahead of ours; more than this is a future timestamp.
CLOCK_SKEW = timedelta(minutes=5)
# People check in before a session starts (at a biometric device by the door), but not by more than an hour;
# earlier is a wrong clock (a device reset to 2000-01-01), whose time would become the completion's date.
EARLY_CHECK_IN = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    minimum_attendance_percent: int
    mandatory_session_ids: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class Attended:
    """One report of a session of one enrolment, or what is recorded for it (the best of every report)."""

    session_id: UUID
    minutes: int
    duration_minutes: int
    marked_at: datetime | None = None


def best_of(known: Attended | None, report: Attended) -> Attended:
    """What a session keeps of another report of it: the most minutes any report gave, and that report's time."""
    return report if known is None or report.minutes > known.minutes else known


@dataclass(frozen=True)
class Progress:
    sessions_attended: int
    sessions_planned: int
    credit: Fraction  # sessions' worth attended, each session at most 1

    @property
    def percent(self) -> Fraction:
        return min(Fraction(100), 100 * self.credit / self.sessions_planned)

    @property
    def rounded_percent(self) -> float:
        return round(float(self.percent), 2)


def progress(sessions_planned: int, attended: Iterable[Attended]) -> Progress:
    best: dict[UUID, Attended] = {}
    for record in attended:
        best[record.session_id] = best_of(best.get(record.session_id), record)
    present = [r for r in best.values() if r.minutes > 0]
    credit = sum((min(Fraction(1), Fraction(r.minutes, r.duration_minutes)) for r in present), Fraction(0))
    return Progress(len(present), sessions_planned, credit)


def completion_reached(rule: Rule, sessions_planned: int, attended: Sequence[Attended], *, withdrawn: bool,
                       batch_mandatory: frozenset[UUID] = frozenset()) -> bool:
    """Whether the course is complete now. `batch_mandatory`: the sessions of the enrolment's batch flagged
    mandatory when scheduled, required besides the rule's own. Asked only until it first says yes: a flag
    set after that does not un-complete anyone."""
    if withdrawn:
        return False
    reached = progress(sessions_planned, attended)
    present = {r.session_id for r in attended if r.minutes > 0}
    return (
        reached.sessions_attended > 0
        and reached.percent >= rule.minimum_attendance_percent
        and (rule.mandatory_session_ids | batch_mandatory) <= present
    )


def first_met(rule: Rule, sessions_planned: int, reports: Iterable[Attended], *,
              batch_mandatory: frozenset[UUID] = frozenset()) -> datetime | None:
    """When the rule was first met: the earliest `marked_at` at which the reports marked until then (each
    session at the most minutes any of them gave) meet it, whatever order they were read in; None if they
    never do. Reports marked at the same moment count together."""
    ordered = sorted(reports, key=lambda r: r.marked_at)
    for n, report in enumerate(ordered):
        last_of_its_moment = n + 1 == len(ordered) or ordered[n + 1].marked_at != report.marked_at
        if last_of_its_moment and completion_reached(rule, sessions_planned, ordered[:n + 1], withdrawn=False,
                                                     batch_mandatory=batch_mandatory):
            return report.marked_at
    return None


def progress_at(moment: datetime, sessions_planned: int, reports: Iterable[Attended]) -> Progress:
    """The figures of the reports marked until `moment`: those a completion dated then states (`basis`)."""
    return progress(sessions_planned, (r for r in reports if r.marked_at <= moment))


# --- checks on one attendance, shared by the API and the consumer (one sentence per problem) ----------


def session_within_batch(starts_at: datetime, start: date, end: date, zone: tzinfo) -> str | None:
    day = starts_at.astimezone(zone).date()
    if start <= day <= end:
        return None
    return f"The session on {day.isoformat()} is outside the batch dates ({start.isoformat()} to {end.isoformat()})."


def attendance_problem(session_starts_at: datetime, marked_at: datetime, now: datetime, zone: tzinfo) -> str | None:
    """Why an attendance cannot be true at `now`, or None; times are said in the state's `zone`, as the
    officer scheduled them."""
    def said(moment: datetime) -> str:
        return moment.astimezone(zone).isoformat()

    if session_starts_at > now + CLOCK_SKEW:
        return f"The session starts at {said(session_starts_at)}, in the future: attendance can be marked once it has started."
    if marked_at > now + CLOCK_SKEW:
        return f"The attendance is marked at {said(marked_at)}, in the future: check the sender's clock."
    if marked_at < session_starts_at - EARLY_CHECK_IN:
        early = EARLY_CHECK_IN // timedelta(minutes=1)
        return (f"The attendance is marked at {said(marked_at)}, more than {early} minutes before the session "
                f"starts at {said(session_starts_at)}: check the sender's clock.")
    return None


def schedule_problem(session_id: UUID, scheduled: tuple[datetime, int], reported: tuple[datetime, int]) -> str | None:
    """Why a report of a session this service scheduled does not match its schedule (start, minutes), or None:
    the schedule, not the report, says how long the session was, so a short one cannot earn full credit."""
    (starts_at, duration), (reported_start, reported_duration) = scheduled, reported
    if reported_duration != duration:
        return (f"Session {session_id} is scheduled for {duration} minutes, but the report says "
                f"{reported_duration} minutes.")
    if reported_start != starts_at:
        return (f"Session {session_id} is scheduled to start at {starts_at.isoformat()}, but the report says "
                f"{reported_start.isoformat()}.")
    return None


