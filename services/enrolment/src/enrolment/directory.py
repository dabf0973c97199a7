"""The employee directory: adding and changing entries, and announcing a change of an existing entry
(`employee.updated`, through the outbox) in the same transaction.

An entry added is not announced: nobody else knows the employee yet, and each of their enrolments carries
the entry it is made with (`employee.enrolled`). A change is announced with the whole entry as it is now. An
entry sent as it is changes nothing, not even its `updated_at`, and announces nothing.

Why an enrolment and a change stay in order. Consumers keep, of an `employee.enrolled` and an
`employee.updated`, the details with the later time (`enrolled_at`, `updated_at`), whatever order they
arrive in. An enrolment's `enrolled_at` is its clock, read at the start of its request, and it reads the
entry it publishes with a share lock (`repository.SHARE_EMPLOYEE` and `PROFILES`; a bulk chunk writes, and so
locks, the entries it publishes). So a change either committed before the enrolment read the entry, and
then the enrolment carries the changed details too; or it waits for the enrolment to commit and only then
takes its `updated_at` from the database's clock, once its row is locked (`clock_timestamp()`, not the
transaction's start), which makes it later than the enrolment's `enrolled_at`. Either way the latest time
carries the latest details. (The service's and the database's clocks are taken to agree, as NTP keeps them,
closer than an enrolment's request lasts.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from karmayogi_contracts import CloudEvent
from karmayogi_contracts.events import EmployeeProfile
from karmayogi_runtime import outbox

from enrolment import events
from enrolment import repository as sql


async def record_entry(
    connection: asyncpg.Connection, tenant: str, employee_id: str, entry: Mapping[str, Any],
    correlation_id: str | None = None,
) -> tuple[bool, Any]:
    """Add or change `employee_id`'s entry (`entry` holds the fields of a profile but its id); returns whether
    it was added, and the entry as it is now."""
    written = await connection.fetchrow(sql.UPSERT_EMPLOYEE, tenant, employee_id,
                                        *(entry[name] for name in events.PROFILE_FIELDS))
    if written is None:  # sent as it is
        return False, await connection.fetchrow(sql.GET_EMPLOYEE, tenant, employee_id)
    if not written["created"]:
        await outbox.add(connection, _changed(tenant, written, correlation_id))
    return written["created"], written


async def record_entries(
    connection: asyncpg.Connection, tenant: str, profiles: Sequence[EmployeeProfile], correlation_id: str | None,
) -> None:
    """Add or change the entries of a bulk chunk's rows, announcing each existing entry changed. An employee
    on several lines is written once, as the last of them has them. Entries are written in the order of
    their ids, the order `repository.PROFILES` locks them in, so the two never deadlock."""
    latest = {profile.id: profile for profile in profiles}
    ordered = [latest[employee_id] for employee_id in sorted(latest)]
    if not ordered:
        return
    columns = ("id",) + events.PROFILE_FIELDS
    changed = await connection.fetch(sql.UPSERT_EMPLOYEES, tenant,
                                      *([getattr(profile, name) for profile in ordered] for name in columns))
    await outbox.add_many(connection, [_changed(tenant, row, correlation_id) for row in changed])


def _changed(tenant: str, row: Mapping[str, Any], correlation_id: str | None) -> CloudEvent:
    return events.updated(tenant, events.profile_from_row(row), at=row["updated_at"], correlation_id=correlation_id)
