"""The enrolment use cases, each a short recipe inside the caller's transaction: load, decide, save,
add to the outbox. Time is passed in; HTTP concerns stay in api.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import Any
from uuid import UUID

import asyncpg
from karmayogi_contracts import CertificateIssued, CertificateRevoked, CloudEvent, ids
from karmayogi_runtime import calendar, outbox
from karmayogi_runtime.consumer import EventContext
from karmayogi_runtime.database import while_running

from enrolment import directory, domain, events
from enrolment import repository as sql
from enrolment.bulk_rows import BulkRow
from enrolment.domain import BatchSeats, Outcome, Request


class Refused(Exception):
    """A request the rules refuse: answered 422 (or `status`) with one sentence per problem."""

    def __init__(self, *sentences: str, status: int = 422) -> None:
        super().__init__(" ".join(sentences))
        self.sentences = list(sentences)
        self.status = status


@dataclass(frozen=True)
class Clock:
    now: datetime  # UTC
    today: date  # the state's calendar day

    @classmethod
    def at(cls, now: datetime, zone: tzinfo) -> Clock:
        """The clock at `now` (read by the caller, at the edge) in the state whose time zone is `zone`."""
        return cls(now=now, today=calendar.today(zone, now))


# --- enrolling -------------------------------------------------------------------------------------------


async def enrol_one(
    connection: asyncpg.Connection, tenant: str, employee_id: str, batch_id: UUID, channel: str, clock: Clock,
    correlation_id: str | None = None,
) -> tuple[Outcome, Any]:
    # The batch is locked before the employee's entry, in the order a bulk chunk takes them, so the two never
    # deadlock; the entry is share-locked until the enrolment commits (see `directory`).
    batches = await sql.lock_batches(connection, tenant, [batch_id])
    employee = await connection.fetchrow(sql.SHARE_EMPLOYEE, tenant, employee_id)
    if employee is None:
        raise Refused(f"Employee {employee_id} is not in the directory of {tenant}; add them with "
                      f"PUT /v1/states/{tenant}/employees/{employee_id} first.")
    [outcome] = await _enrol(connection, tenant, [domain.request(tenant, 0, employee_id, batch_id)], batches,
                             {0: events.profile_from_row(employee)}, channel, clock, correlation_id)
    if outcome.outcome == "rejected":
        raise Refused(outcome.reason or "The enrolment was refused.", status=409 if outcome.conflict else 422)
    return outcome, await connection.fetchrow(sql.GET_ENROLMENT, tenant, outcome.enrolment_id)


async def enrol_chunk(
    connection: asyncpg.Connection, tenant: str, job_id: UUID, rows: Sequence[BulkRow], channel: str, clock: Clock,
) -> list[Outcome]:
    """One chunk of a bulk file in one transaction: enrolments, the directory entries of the rows not rejected,
    events, report rows."""
    valid = [row for row in rows if row.profile is not None and row.batch_id is not None]
    requests = [domain.request(tenant, row.line, row.employee_id, row.batch_id) for row in valid]  # type: ignore[arg-type]
    profiles = {row.line: row.profile for row in valid}
    batches = await sql.lock_batches(connection, tenant, [r.batch_id for r in requests])
    outcomes = await _enrol(connection, tenant, requests, batches, profiles, channel, clock, str(job_id), from_file=True)
    report = outcomes + [
        Outcome(row.line, row.employee_id or "", row.batch_id, None, "rejected", reason=row.problem)  # type: ignore[arg-type]
        for row in rows if row.problem is not None
    ]
    await connection.copy_records_to_table("bulk_job_rows", columns=sql.JOB_ROW_COLUMNS, records=[
        (job_id, o.line, o.outcome, o.status, o.employee_id or None, str(o.batch_id) if o.batch_id else None,
         o.enrolment_id, o.reason) for o in report
    ])
    return report


async def _enrol(
    connection: asyncpg.Connection, tenant: str, requests: Sequence[Request], batches: dict[UUID, BatchSeats],
    profiles: dict, channel: str, clock: Clock, correlation_id: str | None, *, from_file: bool = False,
) -> list[Outcome]:
    """Decide and record `requests` in their `batches`, which the caller has locked (`sql.lock_batches`, before
    any directory entry); `profiles` holds each request's employee by its line, and `from_file` writes them to
    the directory, for the rows the rules do not reject, before their enrolments refer to them."""
    await connection.execute(sql.PLAN_FOR_THESE_VALUES)
    existing = await sql.find_enrolments(
        connection, tenant, [r.enrolment_id for r in requests])
    pairs = {(r.employee_id, batches[r.batch_id].course_id) for r in requests if r.batch_id in batches}
    active = await sql.active_in_courses(connection, tenant, list(pairs))
    outcomes, seated = domain.decide_enrolments(tenant, requests, batches, existing, active, clock.today)
    if from_file:
        written = [profiles[o.line] for o in outcomes if domain.updates_directory(o)]
        await directory.record_entries(connection, tenant, written, correlation_id)
    accepted = [o for o in outcomes if o.outcome == "accepted"]
    if not accepted:
        return outcomes
    enrolled = [o for o in accepted if o.status == "enrolled"]
    snapshots = await _snapshots(connection, tenant, {o.batch_id for o in enrolled})
    _, published = await while_running(
        connection.execute(
            sql.INSERT_ENROLMENTS, tenant, [o.enrolment_id for o in accepted], [o.employee_id for o in accepted],
            [o.batch_id for o in accepted], channel, clock.now, [o.status for o in accepted]),
        lambda: [events.enrolled(tenant, o.enrolment_id, profiles[o.line], snapshots[o.batch_id],  # type: ignore[arg-type]
                                 at=clock.now, channel=channel, correlation_id=correlation_id) for o in enrolled])
    await sql.save_seats(connection, tenant, [b for b in seated.values() if b != batches[b.id]])
    await outbox.add_many(connection, published)
    return outcomes


async def _snapshots(connection: asyncpg.Connection, tenant: str, batch_ids: set[UUID]) -> dict[UUID, events.BatchSnapshot]:
    if not batch_ids:
        return {}
    rows = await sql.batch_snapshots(connection, tenant, list(batch_ids))
    return {batch_id: events.batch_snapshot(row) for batch_id, row in rows.items()}


# --- withdrawing and promoting ---------------------------------------------------------------------------


async def withdraw(
    connection: asyncpg.Connection, tenant: str, enrolment_id: UUID, reason: str, clock: Clock,
    correlation_id: str | None = None,
) -> Any:
    found = await connection.fetchrow(sql.GET_ENROLMENT, tenant, enrolment_id)
    if found is None:
        raise Refused(f"No enrolment {enrolment_id} exists in {tenant}.", status=404)
    # The batch is locked before the enrolment, in the same order as enrolling, so the two never deadlock.
    batch = (await sql.lock_batches(connection, tenant, [found["batch_id"]]))[found["batch_id"]]
    enrolment = await connection.fetchrow(sql.LOCK_ENROLMENT, tenant, enrolment_id)
    if enrolment["status"] == "completed":
        raise Refused(f"Enrolment {enrolment_id} is completed and cannot be withdrawn.", status=409)
    if enrolment["status"] in ("withdrawn", "lapsed", "revoked"):  # no longer active: nothing to withdraw
        return found
    await connection.execute(sql.WITHDRAW, tenant, enrolment_id, clock.now, reason)
    if enrolment["status"] == "enrolled":
        batch = replace(batch, enrolled_count=batch.enrolled_count - 1)
        await outbox.add(connection, events.withdrawn(
            tenant, enrolment_id, enrolment["employee_id"], enrolment["batch_id"], at=clock.now, reason=reason,
            correlation_id=correlation_id))
    else:
        batch = replace(batch, waitlisted_count=batch.waitlisted_count - 1)
    await promote_waitlisted(connection, tenant, batch, clock, correlation_id)
    return await connection.fetchrow(sql.GET_ENROLMENT, tenant, enrolment_id)


async def promote_waitlisted(
    connection: asyncpg.Connection, tenant: str, batch: BatchSeats, clock: Clock, correlation_id: str | None
) -> None:
    """Give free seats to the oldest waitlisted, announce them as enrolled, and save the batch's seats."""
    count = domain.seats_to_promote(batch, clock.today)
    promoted = await connection.fetch(sql.PROMOTE_OLDEST, tenant, batch.id, count, clock.now) if count else []
    promoted = sorted(promoted, key=lambda row: row["seq"])
    batch = replace(batch, enrolled_count=batch.enrolled_count + len(promoted),
                    waitlisted_count=batch.waitlisted_count - len(promoted))
    await sql.save_seats(connection, tenant, [batch])
    if not promoted:
        return
    profiles = {row["id"]: events.profile_from_row(row)
                for row in await connection.fetch(sql.PROFILES, tenant, [p["employee_id"] for p in promoted])}
    snapshot = (await _snapshots(connection, tenant, {batch.id}))[batch.id]
    await outbox.add_many(connection, [
        events.enrolled(tenant, row["id"], profiles[row["employee_id"]], snapshot, at=clock.now, channel=row["channel"],
                        correlation_id=correlation_id)
        for row in promoted
    ])


async def lapse_waitlists(connection: asyncpg.Connection, clock: Clock) -> int:
    """Lapse the waitlists of the batches that have started (the day after their start date, as for
    `domain.seats_to_promote`): nobody joins a batch that has started, so its waitlisted employees are free
    to enrol in another batch of the course. Nothing is published: nobody else heard of them. Returns how
    many enrolments lapsed."""
    return await sql.lapse_waitlists(connection, clock.today)


# --- batches and trainers --------------------------------------------------------------------------------


async def check_trainers(connection: asyncpg.Connection, tenant: str, centre: Any, course: Any, trainers: Sequence[str],
                         zone: tzinfo) -> None:
    """The hub-and-spoke rule: refuses a spoke batch any trainer who is not a master trainer of the family,
    saying the day (in the state's time `zone`) when one whose certificates are all revoked lost it."""
    if centre["tier"] != "spoke" or not trainers:
        return
    rows = await connection.fetch(sql.MASTER_TRAINERS, tenant, course["family"], list(trainers))
    revoked_on = {r["employee_id"]: calendar.day_of(r["revoked_at"], zone) for r in rows if not r["eligible"]}
    problems = domain.ineligible_trainers(centre["tier"], course["family"], trainers,
                                          [r["employee_id"] for r in rows if r["eligible"]], revoked_on)
    if problems:
        raise Refused(*problems)


async def check_trainers_are_not_trainees(connection: asyncpg.Connection, tenant: str, batch_id: UUID,
                                         trainers: Sequence[str]) -> None:
    """Refuses (409) naming a batch's trainee its trainer. The caller holds the batch's lock, which enrolling
    takes too (`_enrol`), so of an enrolment and a change of trainers naming the same employee only the first
    passes its check."""
    by_enrolment = {ids.enrolment_id(tenant, trainer, batch_id): trainer for trainer in trainers}
    enrolments = await sql.find_enrolments(connection, tenant, list(by_enrolment))
    trainees = {by_enrolment[e.id]: e.status for e in enrolments.values()}
    if problems := domain.trainees_named_trainers(batch_id, trainees):
        raise Refused(*problems, status=409)


# --- consumed events -------------------------------------------------------------------------------------


async def on_certificate_issued(context: EventContext, event: CloudEvent) -> None:
    """A certificate completes its enrolment (which then cannot be withdrawn), or, when its revocation was
    read first, leaves it revoked; a master-trainer certificate also makes its holder eligible to train spoke
    batches of the course family."""
    data: CertificateIssued = event.data
    await context.connection.execute(sql.LOCK_CERTIFICATE, data.tenant, data.certificate_id)
    await context.connection.execute(sql.COMPLETE, data.tenant, data.enrolment_id, data.issued_at, data.certificate_id)
    if not data.trains_trainers:
        return
    await context.connection.execute(sql.RECORD_MASTER_TRAINER, data.tenant, data.employee_id, data.course_family,
                                     data.certificate_id, data.issued_at)


async def on_certificate_revoked(context: EventContext, event: CloudEvent) -> None:
    """A revoked certificate's enrolment is `revoked`: the employee may enrol in the course again. A revoked
    master-trainer certificate no longer makes its holder eligible to train spoke batches (its row stays,
    revoked, so a refusal can say so). The revocation is remembered, so the certificate's issue, if it is
    read later, is recorded revoked."""
    data: CertificateRevoked = event.data
    await context.connection.execute(sql.LOCK_CERTIFICATE, data.tenant, data.certificate_id)
    await context.connection.execute(sql.RECORD_REVOCATION, data.tenant, data.certificate_id, data.revoked_at)
    await context.connection.execute(sql.REVOKE_ENROLMENT, data.tenant, data.enrolment_id, data.revoked_at)
    await context.connection.execute(sql.REVOKE_MASTER_TRAINER, data.tenant, data.certificate_id, data.revoked_at)
