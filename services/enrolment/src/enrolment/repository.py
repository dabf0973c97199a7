"""SQL of the enrolment service, as named statements over asyncpg. Every statement is scoped by tenant, but
the waitlist sweep's, which lapses the waitlists of every state's started batches at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from enrolment.domain import BatchSeats, Existing

Connection = asyncpg.Connection

# --- employees -------------------------------------------------------------------------------------------

# How an entry sent for an employee already in the directory is written: only when it differs, so an entry
# sent as it is changes nothing, and with `updated_at` read from the clock once the row is locked, not at the
# start of the transaction: see `directory` for why the order of that time and an enrolment's matters.
_CHANGE_ENTRY = """
    ON CONFLICT (tenant, id) DO UPDATE SET
        name = excluded.name, email = excluded.email, mobile = excluded.mobile,
        preferred_language = excluded.preferred_language, department = excluded.department,
        designation = excluded.designation, district = excluded.district, updated_at = clock_timestamp()
    WHERE (e.name, e.email, e.mobile, e.preferred_language, e.department, e.designation, e.district)
        IS DISTINCT FROM (excluded.name, excluded.email, excluded.mobile, excluded.preferred_language,
                          excluded.department, excluded.designation, excluded.district)
"""
# The entry added or changed, and whether it was added; no row when it was sent as it is.
UPSERT_EMPLOYEE = f"""
    INSERT INTO employees AS e (tenant, id, name, email, mobile, preferred_language, department, designation, district)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    {_CHANGE_ENTRY}
    RETURNING (xmax = 0) AS created, *
"""
# The same, for a chunk of a bulk file: the existing entries it changed (added ones are not returned).
UPSERT_EMPLOYEES = f"""
    WITH written AS (
        INSERT INTO employees AS e (tenant, id, name, email, mobile, preferred_language, department, designation,
                                    district)
        SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                 $9::text[])
        {_CHANGE_ENTRY}
        RETURNING (xmax = 0) AS created, *)
    SELECT * FROM written WHERE NOT created
"""
GET_EMPLOYEE = "SELECT * FROM employees WHERE tenant = $1 AND id = $2"
# Reading an entry to publish it with an enrolment: the share lock holds back a change of the entry until the
# enrolment has committed (see `directory`). The GET route reads without it.
SHARE_EMPLOYEE = GET_EMPLOYEE + " FOR SHARE"

# --- courses, centres, batches -----------------------------------------------------------------------------

INSERT_COURSE = """
    INSERT INTO courses (tenant, id, title, competencies, minimum_attendance_percent, mandatory_session_ids,
                         trains_trainers, family)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *
"""
UPDATE_COURSE = """
    UPDATE courses SET title = $3, competencies = $4, minimum_attendance_percent = $5, mandatory_session_ids = $6,
                       trains_trainers = $7, family = $8
    WHERE tenant = $1 AND id = $2 RETURNING *
"""
GET_COURSE = "SELECT * FROM courses WHERE tenant = $1 AND id = $2"
LIST_COURSES = """
    SELECT * FROM courses WHERE tenant = $1 AND ($2::text IS NULL OR family = $2)
    ORDER BY created_at, id LIMIT $3 OFFSET $4
"""

INSERT_CENTRE = "INSERT INTO centres (tenant, id, name, tier, district, hub_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *"
UPDATE_CENTRE = "UPDATE centres SET name = $3, district = $4, hub_id = $5 WHERE tenant = $1 AND id = $2 RETURNING *"
GET_CENTRE = "SELECT * FROM centres WHERE tenant = $1 AND id = $2"
LIST_CENTRES = """
    SELECT * FROM centres WHERE tenant = $1 AND ($2::text IS NULL OR tier = $2) AND ($3::text IS NULL OR district = $3)
        AND ($4::uuid IS NULL OR hub_id = $4)
    ORDER BY created_at, id LIMIT $5 OFFSET $6
"""

BATCH_COLUMNS = "course_id, centre_id, start_date, end_date, capacity, mode, sessions_planned, trainers, enrolment_open"
INSERT_BATCH = f"""
    INSERT INTO batches (tenant, id, {BATCH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *
"""
UPDATE_BATCH = """
    UPDATE batches SET start_date = $3, end_date = $4, capacity = $5, mode = $6, sessions_planned = $7, trainers = $8,
                       enrolment_open = $9
    WHERE tenant = $1 AND id = $2 RETURNING *
"""
GET_BATCH = "SELECT * FROM batches WHERE tenant = $1 AND id = $2"
# Any status: withdrawn and completed enrolments were announced to attendance with the batch's plan, and the
# waitlisted asked for the batch as it was planned.
BATCH_HAS_ENROLMENTS = "SELECT EXISTS (SELECT 1 FROM enrolments WHERE tenant = $1 AND batch_id = $2)"
LOCK_BATCHES = "SELECT * FROM batches WHERE tenant = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE"
LIST_BATCHES = """
    SELECT b.* FROM batches b JOIN centres c ON c.tenant = b.tenant AND c.id = b.centre_id
    WHERE b.tenant = $1 AND ($2::uuid IS NULL OR b.course_id = $2) AND ($3::uuid IS NULL OR b.centre_id = $3)
        AND ($4::text IS NULL OR c.district = $4)
        AND ($5::boolean IS NULL OR (b.enrolment_open AND b.start_date >= $6::date) = $5)  -- domain.takes_enrolments
    ORDER BY b.start_date, b.id LIMIT $7 OFFSET $8
"""
# A batch joined with what `employee.enrolled` snapshots of its course and centre.
BATCH_SNAPSHOT = """
    SELECT b.*, co.title AS course_title, co.competencies, co.trains_trainers, co.family,
           co.minimum_attendance_percent, co.mandatory_session_ids,
           c.name AS centre_name, c.tier, c.district AS centre_district
    FROM batches b
    JOIN courses co ON co.tenant = b.tenant AND co.id = b.course_id
    JOIN centres c ON c.tenant = b.tenant AND c.id = b.centre_id
    WHERE b.tenant = $1 AND b.id = ANY($2::uuid[])
"""
SET_SEATS = """
    UPDATE batches b SET enrolled_count = v.enrolled, waitlisted_count = v.waitlisted
    FROM unnest($2::uuid[], $3::int[], $4::int[]) AS v(id, enrolled, waitlisted)
    WHERE b.tenant = $1 AND b.id = v.id
"""
# Each named trainer certified in the family: whether a certificate of theirs is unrevoked, and, when none
# is, when the last one was revoked.
MASTER_TRAINERS = """
    SELECT employee_id, bool_or(revoked_at IS NULL) AS eligible, max(revoked_at) AS revoked_at
    FROM trainer_eligibility
    WHERE tenant = $1 AND course_family = $2 AND employee_id = ANY($3::text[])
    GROUP BY employee_id
"""
# A certificate's issue and revocation arrive on two topics, in either order and possibly at the same
# time: both take this lock on the certificate first, so neither decides on what the other has not committed.
LOCK_CERTIFICATE = "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2::uuid, 0))"
RECORD_MASTER_TRAINER = """
    INSERT INTO trainer_eligibility (tenant, employee_id, course_family, certificate_id, issued_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, (SELECT revoked_at FROM revoked_certificates WHERE tenant = $1 AND certificate_id = $4))
    ON CONFLICT (tenant, certificate_id) DO NOTHING
"""
RECORD_REVOCATION = """
    INSERT INTO revoked_certificates (tenant, certificate_id, revoked_at) VALUES ($1, $2, $3)
    ON CONFLICT (tenant, certificate_id) DO NOTHING
"""
REVOKE_MASTER_TRAINER = """
    UPDATE trainer_eligibility SET revoked_at = $3 WHERE tenant = $1 AND certificate_id = $2 AND revoked_at IS NULL
"""

# --- enrolments --------------------------------------------------------------------------------------------

# The statements of an enrolment decision are planned for the values at hand. A cached generic plan, made
# while the enrolments table still looked empty (a state's first bulk import, before autovacuum has
# analysed it), matches a chunk's employees by scanning every active enrolment of the tenant: a 300,000-row
# file then spends most of its time in ACTIVE_IN_COURSES. Planning a statement per chunk costs well under 1 ms.
PLAN_FOR_THESE_VALUES = "SET LOCAL plan_cache_mode = force_custom_plan"
FIND_ENROLMENTS = "SELECT id, batch_id, status FROM enrolments WHERE tenant = $1 AND id = ANY($2::uuid[])"
ACTIVE_IN_COURSES = """
    SELECT e.id, e.batch_id, e.status, e.employee_id, e.course_id FROM enrolments e
    JOIN unnest($2::text[], $3::uuid[]) AS r(employee_id, course_id)
        ON e.employee_id = r.employee_id AND e.course_id = r.course_id
    WHERE e.tenant = $1 AND e.status IN ('enrolled', 'waitlisted', 'completed')
"""
INSERT_ENROLMENTS = """
    INSERT INTO enrolments (tenant, id, employee_id, batch_id, course_id, centre_id, status, channel, requested_at,
                            enrolled_at)
    SELECT $1, v.id, v.employee_id, v.batch_id, b.course_id, b.centre_id, v.status, $5, $6::timestamptz,
           CASE WHEN v.status = 'enrolled' THEN $6::timestamptz END
    FROM unnest($2::uuid[], $3::text[], $4::uuid[], $7::text[]) WITH ORDINALITY AS v(id, employee_id, batch_id, status, n)
    JOIN batches b ON b.tenant = $1 AND b.id = v.batch_id
    ORDER BY v.n
"""
ENROLMENT_VIEW = """
    SELECT e.id, e.tenant, e.seq, e.employee_id, emp.name AS employee_name, emp.district AS employee_district,
           e.batch_id, e.course_id, e.centre_id, c.district AS centre_district, e.status, e.channel,
           e.requested_at, e.enrolled_at, e.withdrawn_at, e.withdrawal_reason, e.completed_at,
           e.certificate_revoked_at
    FROM enrolments e
    JOIN employees emp ON emp.tenant = e.tenant AND emp.id = e.employee_id
    JOIN centres c ON c.tenant = e.tenant AND c.id = e.centre_id
"""
GET_ENROLMENT = ENROLMENT_VIEW + " WHERE e.tenant = $1 AND e.id = $2"
LOCK_ENROLMENT = "SELECT * FROM enrolments WHERE tenant = $1 AND id = $2 FOR UPDATE"
SEARCH_ENROLMENTS = ENROLMENT_VIEW + """
    WHERE e.tenant = $1 AND ($2::uuid IS NULL OR e.batch_id = $2) AND ($3::uuid IS NULL OR e.centre_id = $3)
        AND ($4::uuid IS NULL OR e.course_id = $4) AND ($5::text IS NULL OR c.district = $5)
        AND ($6::text IS NULL OR e.status = $6) AND ($7::text IS NULL OR e.employee_id = $7)
        AND e.seq > $8
    ORDER BY e.seq LIMIT $9
"""
WITHDRAW = """
    UPDATE enrolments SET status = 'withdrawn', withdrawn_at = $3, withdrawal_reason = $4
    WHERE tenant = $1 AND id = $2
"""
# A certificate completes an enrolment that is enrolled; any other status (or a repeat) is left as it is. A
# certificate whose revocation was read first ($4) completes it revoked.
COMPLETE = """
    UPDATE enrolments SET completed_at = $3, status = CASE WHEN r.revoked_at IS NULL THEN 'completed' ELSE 'revoked' END,
                          certificate_revoked_at = r.revoked_at
    FROM (SELECT (SELECT revoked_at FROM revoked_certificates WHERE tenant = $1 AND certificate_id = $4)) AS r(revoked_at)
    WHERE tenant = $1 AND id = $2 AND status = 'enrolled'
"""
# A revoked certificate's completed enrolment no longer holds the employee's place in the course.
REVOKE_ENROLMENT = """
    UPDATE enrolments SET status = 'revoked', certificate_revoked_at = $3
    WHERE tenant = $1 AND id = $2 AND status = 'completed'
"""
# The oldest waitlisted first: `seq` follows the order requests were accepted (and lines of a bulk file).
PROMOTE_OLDEST = """
    WITH chosen AS MATERIALIZED (
        SELECT id FROM enrolments WHERE tenant = $1 AND batch_id = $2 AND status = 'waitlisted'
        ORDER BY seq LIMIT $3 FOR UPDATE)
    UPDATE enrolments e SET status = 'enrolled', enrolled_at = $4
    FROM chosen WHERE e.tenant = $1 AND e.id = chosen.id
    RETURNING e.id, e.employee_id, e.channel, e.seq
"""
# The entries of promoted employees, share-locked as SHARE_EMPLOYEE, in the order of their ids (Python's
# `sorted`, so by code point) that a bulk chunk writes entries in, so the two never deadlock.
PROFILES = 'SELECT * FROM employees WHERE tenant = $1 AND id = ANY($2::text[]) ORDER BY id COLLATE "C" FOR SHARE'
# The batches that started before $1 with employees still waitlisted; a batch another transaction holds is
# left for the next sweep, so the sweep never waits for (or deadlocks with) an enrolment or a withdrawal.
LOCK_STARTED_WITH_WAITLIST = """
    SELECT tenant, id FROM batches WHERE start_date < $1 AND waitlisted_count > 0
    ORDER BY tenant, id FOR UPDATE SKIP LOCKED
"""
LAPSE_WAITLISTS = """
    UPDATE enrolments SET status = 'lapsed'
    WHERE (tenant, batch_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[])) AND status = 'waitlisted'
"""
CLEAR_WAITLISTS = """
    UPDATE batches SET waitlisted_count = 0 WHERE (tenant, id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))
"""

# --- bulk jobs ---------------------------------------------------------------------------------------------

INSERT_JOB = "INSERT INTO bulk_jobs (tenant, id, format, channel, status) VALUES ($1, $2, $3, $4, 'running')"
JOB_PROGRESS = """
    UPDATE bulk_jobs SET lines_read = $3, accepted = accepted + $4, waitlisted = waitlisted + $5,
                         duplicate = duplicate + $6, rejected = rejected + $7, heartbeat_at = now()
    WHERE tenant = $1 AND id = $2
"""
FINISH_JOB = """
    UPDATE bulk_jobs SET status = $3, error = $4, finished_at = now(), heartbeat_at = now()
    WHERE tenant = $1 AND id = $2
"""
# A job whose importer stopped sending heartbeats (the process was killed) shows as interrupted.
GET_JOB = """
    SELECT *, CASE WHEN status = 'running' AND heartbeat_at < now() - interval '2 minutes' THEN 'interrupted'
                   ELSE status END AS shown_status
    FROM bulk_jobs WHERE tenant = $1 AND id = $2
"""
LIST_JOBS = """
    SELECT *, CASE WHEN status = 'running' AND heartbeat_at < now() - interval '2 minutes' THEN 'interrupted'
                   ELSE status END AS shown_status
    FROM bulk_jobs WHERE tenant = $1 ORDER BY started_at DESC LIMIT $2 OFFSET $3
"""
JOB_ROW_COLUMNS = ("job_id", "line", "outcome", "status", "employee_id", "batch_id", "enrolment_id", "reason")
JOB_ROWS = """
    SELECT r.* FROM bulk_job_rows r JOIN bulk_jobs j ON j.id = r.job_id AND j.tenant = $1
    WHERE r.job_id = $2 AND ($3::text IS NULL OR r.outcome = $3) AND r.line > $4
    ORDER BY r.line LIMIT $5
"""


def batch_seats(row: Any) -> BatchSeats:
    return BatchSeats(row["id"], row["course_id"], row["start_date"], row["capacity"], row["enrolment_open"],
                      row["enrolled_count"], row["waitlisted_count"], tuple(row["trainers"]))


async def lock_batches(connection: Connection, tenant: str, batch_ids: Sequence[UUID]) -> dict[UUID, BatchSeats]:
    rows = await connection.fetch(LOCK_BATCHES, tenant, sorted(set(batch_ids)))
    return {row["id"]: batch_seats(row) for row in rows}


async def find_enrolments(connection: Connection, tenant: str, enrolment_ids: Sequence[UUID]) -> dict[UUID, Existing]:
    rows = await connection.fetch(FIND_ENROLMENTS, tenant, list(enrolment_ids))
    return {row["id"]: Existing(row["id"], row["batch_id"], row["status"]) for row in rows}


async def active_in_courses(
    connection: Connection, tenant: str, pairs: Sequence[tuple[str, UUID]]
) -> dict[tuple[str, UUID], Existing]:
    if not pairs:
        return {}
    rows = await connection.fetch(ACTIVE_IN_COURSES, tenant, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(row["employee_id"], row["course_id"]): Existing(row["id"], row["batch_id"], row["status"]) for row in rows}


async def save_seats(connection: Connection, tenant: str, batches: Sequence[BatchSeats]) -> None:
    if batches:
        await connection.execute(SET_SEATS, tenant, [b.id for b in batches], [b.enrolled_count for b in batches],
                                 [b.waitlisted_count for b in batches])


async def lapse_waitlists(connection: Connection, today: date) -> int:
    """Lapse the waitlists of the batches that started before `today`; returns how many enrolments lapsed."""
    started = await connection.fetch(LOCK_STARTED_WITH_WAITLIST, today)
    if not started:
        return 0
    batches = [row["tenant"] for row in started], [row["id"] for row in started]
    lapsed = await connection.execute(LAPSE_WAITLISTS, *batches)
    await connection.execute(CLEAR_WAITLISTS, *batches)
    return int(lapsed.split()[-1])


async def batch_snapshots(connection: Connection, tenant: str, batch_ids: Sequence[UUID]) -> dict[UUID, Any]:
    return {row["id"]: row for row in await connection.fetch(BATCH_SNAPSHOT, tenant, list(set(batch_ids)))}

