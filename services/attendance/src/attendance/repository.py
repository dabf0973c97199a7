"""SQL as named statements over asyncpg. Every row carries its tenant; every write is idempotent."""

UPSERT_BATCH = """
    INSERT INTO batches (tenant, id, course, centre, start_date, end_date, mode, sessions_planned, snapshot_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (id) DO UPDATE SET
        course = excluded.course, centre = excluded.centre, start_date = excluded.start_date,
        end_date = excluded.end_date, mode = excluded.mode, sessions_planned = excluded.sessions_planned,
        snapshot_at = excluded.snapshot_at
    WHERE batches.snapshot_at < excluded.snapshot_at
"""
INSERT_ENROLMENT = """
    INSERT INTO enrolments (tenant, enrolment_id, employee_id, employee_name, batch_id, course, centre, centre_id,
                            district, sessions_planned, minimum_attendance_percent, mandatory_session_ids,
                            enrolled_at, withdrawn_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
            (SELECT withdrawn_at FROM withdrawals WHERE enrolment_id = $2))
    ON CONFLICT (enrolment_id) DO NOTHING
"""
# The employee's newest name: of their enrolments and changes, the later time wins (`enrolled_at`,
# `updated_at`), whatever order they arrive in. The same name and time again, or an older one, writes
# nothing, but locks the row all the same: see `handlers.keep_newest_name`.
KEEP_NEWEST_NAME = """
    INSERT INTO employee_names AS kept (tenant, employee_id, name, as_of) VALUES ($1, $2, $3, $4)
    ON CONFLICT (tenant, employee_id) DO UPDATE SET name = excluded.name, as_of = excluded.as_of
    WHERE kept.as_of < excluded.as_of
"""
# Every enrolment of the employee in the state takes the name kept, completed and withdrawn ones too (a
# certificate already issued keeps the name it was issued with). Only one enrolled after the name's time
# keeps its own: recorded by a pod older than `employee_names`, its newer name is not kept there yet.
# An enrolment already showing the name is not written.
RENAME_EMPLOYEE = """
    UPDATE enrolments e SET employee_name = kept.name FROM employee_names kept
    WHERE kept.tenant = $1 AND kept.employee_id = $2 AND e.tenant = $1 AND e.employee_id = $2
      AND e.enrolled_at <= kept.as_of AND e.employee_name <> kept.name
"""
INSERT_WITHDRAWAL = """
    INSERT INTO withdrawals (tenant, enrolment_id, employee_id, batch_id, withdrawn_at, reason)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (enrolment_id) DO NOTHING
"""
MARK_WITHDRAWN = "UPDATE enrolments SET withdrawn_at = $2 WHERE enrolment_id = $1 AND withdrawn_at IS NULL"

# The row lock orders a completion against a concurrent withdrawal of the same enrolment.
ENROLMENTS_FOR_UPDATE = """
    SELECT e.*, b.start_date, b.end_date
    FROM enrolments e JOIN batches b ON b.id = e.batch_id
    WHERE e.enrolment_id = ANY($1::uuid[]) ORDER BY e.enrolment_id FOR UPDATE OF e
"""
# The enrolments of a batch that may still complete, locked in the same order as ENROLMENTS_FOR_UPDATE.
OPEN_ENROLMENTS_OF_BATCH_FOR_UPDATE = """
    SELECT e.*, b.start_date, b.end_date
    FROM enrolments e JOIN batches b ON b.id = e.batch_id
    WHERE e.batch_id = $1 AND e.completed_at IS NULL AND e.withdrawn_at IS NULL
    ORDER BY e.enrolment_id FOR UPDATE OF e
"""
ENROLMENT = """
    SELECT e.*, b.start_date, b.end_date
    FROM enrolments e JOIN batches b ON b.id = e.batch_id
    WHERE e.tenant = $1 AND e.enrolment_id = $2
"""
ENROLMENTS = "SELECT enrolment_id, employee_id, batch_id, withdrawn_at FROM enrolments WHERE enrolment_id = ANY($1::uuid[])"
BATCH = "SELECT * FROM batches WHERE tenant = $1 AND id = $2"

# A session scheduled again keeps its start, length and mode (reports are checked against them), but takes
# the mandatory flag when one is sent ($7 null: as it is): the plan is the officer's to correct, and a plan
# sent again without flags keeps them. The same plan again updates no row.
INSERT_SESSION = """
    INSERT INTO sessions (tenant, id, batch_id, starts_at, duration_minutes, mode, mandatory)
    VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::boolean, false))
    ON CONFLICT (id) DO UPDATE SET mandatory = $7::boolean
    WHERE $7::boolean IS NOT NULL AND sessions.mandatory <> $7::boolean
"""
SESSION = "SELECT * FROM sessions WHERE tenant = $1 AND id = $2"
SESSIONS_BY_IDS = "SELECT * FROM sessions WHERE tenant = $1 AND id = ANY($2::uuid[])"
SESSIONS_BY_ID = "SELECT * FROM sessions WHERE id = ANY($1::uuid[])"
SESSIONS_OF_BATCH = "SELECT * FROM sessions WHERE tenant = $1 AND batch_id = $2 ORDER BY starts_at, id"
MANDATORY_SESSIONS = """
    SELECT batch_id, array_agg(id) AS ids FROM sessions WHERE batch_id = ANY($1::uuid[]) AND mandatory
    GROUP BY batch_id
"""
LOCK_BATCH = "SELECT pg_advisory_xact_lock(hashtext('sessions:' || $1::uuid::text))"

RECORD_ATTENDANCE = """
    INSERT INTO attendance (tenant, enrolment_id, session_id, employee_id, minutes, duration_minutes, starts_at,
                            marked_at, sources)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ARRAY[$9::text])
    ON CONFLICT (enrolment_id, session_id) DO UPDATE SET
        minutes = GREATEST(attendance.minutes, excluded.minutes),
        duration_minutes = CASE WHEN excluded.minutes > attendance.minutes
                                THEN excluded.duration_minutes ELSE attendance.duration_minutes END,
        marked_at = CASE WHEN excluded.minutes > attendance.minutes THEN excluded.marked_at ELSE attendance.marked_at END,
        sources = CASE WHEN $9 = ANY(attendance.sources) THEN attendance.sources ELSE attendance.sources || $9 END
"""
# Every report, as it was marked, so a completion can be dated when the rule was first met (`domain.first_met`).
# The same figures at the same moment again are the same fact for that and are kept once.
RECORD_REPORT = """
    INSERT INTO attendance_reports (tenant, enrolment_id, session_id, minutes, duration_minutes, marked_at)
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
"""
# The reports of these enrolments: those kept since migration 0004 and, for each session, its best report
# (the attendance row), which is all that is known of what was recorded before 0004 or by an older pod.
REPORTS = """
    SELECT enrolment_id, session_id, minutes, duration_minutes, marked_at FROM attendance_reports
    WHERE enrolment_id = ANY($1::uuid[])
    UNION
    SELECT enrolment_id, session_id, minutes, duration_minutes, marked_at FROM attendance
    WHERE enrolment_id = ANY($1::uuid[])
"""
# GREATEST: progress never goes backwards, even if a snapshot or a rule were to change.
SAVE_PROGRESS = """
    UPDATE enrolments SET sessions_attended = GREATEST(sessions_attended, $2),
                          attendance_percent = GREATEST(attendance_percent, $3)
    WHERE enrolment_id = $1
"""
# Only the rows this statement inserts are published: a completion already recorded is never sent again.
RECORD_COMPLETIONS = """
    WITH recorded AS (
        INSERT INTO completions (tenant, enrolment_id, completion_id, completed_at)
        SELECT * FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::timestamptz[])
        ON CONFLICT (enrolment_id) DO NOTHING
        RETURNING enrolment_id, completed_at
    )
    UPDATE enrolments e SET completed_at = r.completed_at FROM recorded r
    WHERE e.enrolment_id = r.enrolment_id RETURNING e.enrolment_id
"""
KNOWN_ATTENDANCE = """
    SELECT enrolment_id, session_id, minutes FROM attendance
    WHERE enrolment_id = ANY($1::uuid[]) AND session_id = ANY($2::uuid[])
"""

# --- progress for training officers --------------------------------------------------------------

ROSTER = """
    SELECT enrolment_id, employee_id, employee_name, sessions_planned, sessions_attended, attendance_percent,
           minimum_attendance_percent, withdrawn_at, completed_at, enrolled_at
    FROM enrolments WHERE tenant = $1 AND batch_id = $2 ORDER BY employee_name, employee_id
"""
# enrolled: not withdrawn; attending: enrolled, at least one session attended, not completed yet;
# completed: a completion was recorded; withdrawn: withdrawn.
_FIGURES = """
    count(*) FILTER (WHERE withdrawn_at IS NULL OR completed_at IS NOT NULL) AS enrolled,
    count(*) FILTER (WHERE withdrawn_at IS NULL AND completed_at IS NULL AND sessions_attended > 0) AS attending,
    count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed,
    count(*) FILTER (WHERE withdrawn_at IS NOT NULL AND completed_at IS NULL) AS withdrawn
"""
BY_STATE = f"SELECT {_FIGURES} FROM enrolments WHERE tenant = $1"
BY_DISTRICT = f"""
    SELECT district, {_FIGURES} FROM enrolments WHERE tenant = $1 GROUP BY district ORDER BY district
"""
BY_CENTRE = f"""
    SELECT centre_id, min(centre->>'name') AS centre_name, min(district) AS district, {_FIGURES}
    FROM enrolments WHERE tenant = $1 GROUP BY centre_id ORDER BY centre_name, centre_id
"""
