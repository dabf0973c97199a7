"""SQL of the certification service, as named statements."""

from collections.abc import Sequence

from asyncpg import Connection, Record

INSERT = """
    INSERT INTO certificates (certificate_id, tenant, enrolment_id, employee_id, employee_name, course_id,
        course_title, course_family, trains_trainers, competencies, centre, issued_at, credential, kid)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT DO NOTHING
    RETURNING certificate_id
"""
GET = "SELECT * FROM certificates WHERE certificate_id = $1"
REVOKE = """
    UPDATE certificates SET revoked_at = $2, revocation_reason = $3
    WHERE certificate_id = $1 AND revoked_at IS NULL
    RETURNING *
"""
# With what the status is decided from (`api.Certification.verdict`), as the page and the check decide it.
LIST = """
    SELECT certificate_id, tenant, employee_id, employee_name, course_title, issued_at, revoked_at,
           revocation_reason, credential
    FROM certificates WHERE tenant = $1
    ORDER BY issued_at DESC, certificate_id LIMIT $2 OFFSET $3
"""
COUNT = "SELECT count(*) AS issued, count(revoked_at) AS revoked FROM certificates WHERE tenant = $1"


async def insert_new(connection: Connection, rows: Sequence[tuple]) -> list:
    """Insert the certificates not issued before; returns the ids really inserted, in order."""
    inserted = [await connection.fetchval(INSERT, *row) for row in rows]
    return [certificate_id for certificate_id in inserted if certificate_id is not None]


async def get(connection: Connection, certificate_id) -> Record | None:
    return await connection.fetchrow(GET, certificate_id)
