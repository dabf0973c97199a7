"""SQL of the certification service, as named statements."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

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
# Newest first by `seq`, the order certificates were written (migration 0003), not by `issued_at`: a page
# resumes below the last `seq` read, and a certificate written later always numbers above it, whatever its
# completion date, so reading page after page gives each certificate written before the first page once.
# `{where}` is `Filters.where()` and the `after` condition; `{limit}` the $n that follows their arguments.
LIST = """
    SELECT seq, certificate_id, tenant, employee_id, employee_name, course_id, course_title, issued_at, revoked_at,
           revocation_reason, credential
    FROM certificates WHERE {where}
    ORDER BY seq DESC LIMIT ${limit}
"""
COUNT = "SELECT count(*) AS issued, count(revoked_at) AS revoked FROM certificates WHERE {where}"


@dataclass(frozen=True)
class Filters:
    """The state's certificates an officer asks for: one employee's, one course's, revoked or not (None: any)."""

    tenant: str
    employee_id: str | None = None
    course_id: UUID | None = None
    revoked: bool | None = None

    def where(self) -> tuple[str, list]:
        """The conditions of the filters given, and their arguments. Only those given: `$2 IS NULL OR
        employee_id = $2` would let PostgreSQL settle on a plan that reads the whole state."""
        conditions, arguments = ["tenant = $1"], [self.tenant]
        for column, value in (("employee_id", self.employee_id), ("course_id", self.course_id)):
            if value is not None:
                arguments.append(value)
                conditions.append(f"{column} = ${len(arguments)}")
        if self.revoked is not None:
            conditions.append("revoked_at IS NOT NULL" if self.revoked else "revoked_at IS NULL")
        return " AND ".join(conditions), arguments


def page_of(filters: Filters, after: int | None, limit: int) -> tuple[str, list]:
    """The statement reading `limit` certificates of `filters` written before the one numbered `after` (from the
    newest, None), and its arguments."""
    where, arguments = filters.where()
    if after is not None:
        arguments.append(after)
        where += f" AND seq < ${len(arguments)}"
    return LIST.format(where=where, limit=len(arguments) + 1), [*arguments, limit]


async def certificates(connection: Connection, filters: Filters, after: int | None, limit: int) -> list[Record]:
    """Up to `limit` of the certificates `filters` selects, newest first, past the one numbered `after`."""
    statement, arguments = page_of(filters, after, limit)
    return await connection.fetch(statement, *arguments)


async def count(connection: Connection, filters: Filters) -> Record:
    """How many certificates `filters` selects (`issued`), and how many of them are revoked."""
    where, arguments = filters.where()
    return await connection.fetchrow(COUNT.format(where=where), *arguments)


async def insert_new(connection: Connection, rows: Sequence[tuple]) -> list:
    """Insert the certificates not issued before; returns the ids really inserted, in order."""
    inserted = [await connection.fetchval(INSERT, *row) for row in rows]
    return [certificate_id for certificate_id in inserted if certificate_id is not None]


async def get(connection: Connection, certificate_id) -> Record | None:
    return await connection.fetchrow(GET, certificate_id)
