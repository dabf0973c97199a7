"""SQL of the notifications service, as named statements over asyncpg."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import asyncpg

from .domain import Certificate, Contact, Delivery, Directory, Employee

# One row per employee (the caller keeps the newest details of each), in key order so that two
# transactions lock the rows they share in the same order. Column `enrolled_at` holds the details' "as of"
# (Contact.as_of: an enrolment's enrolled_at or an update's updated_at); it keeps its first name because
# pods of the previous release read and write it during a rollout. The WHERE keeps the newest details
# however the rows arrive (domain.newer), also when two consumers (employee.enrolled, employee.updated)
# write one employee at once: ON CONFLICT DO UPDATE waits for the other transaction's row and checks the
# WHERE against its version as committed (PostgreSQL, "Read Committed Isolation Level").
UPSERT_CONTACTS = """
    INSERT INTO contacts (tenant, employee_id, name, email, mobile, language, enrolled_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    ON CONFLICT (tenant, employee_id) DO UPDATE
    SET name = EXCLUDED.name, email = EXCLUDED.email, mobile = EXCLUDED.mobile, language = EXCLUDED.language,
        enrolled_at = EXCLUDED.enrolled_at, updated_at = now()
    WHERE contacts.enrolled_at <= EXCLUDED.enrolled_at
"""
CONTACTS = """
    SELECT tenant, employee_id, name, email, mobile, language, enrolled_at FROM contacts
    WHERE (tenant, employee_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""
OPT_OUTS = """
    SELECT tenant, employee_id, channel FROM opt_outs
    WHERE (tenant, employee_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""
OPTED_OUT = "SELECT channel FROM opt_outs WHERE tenant = $1 AND employee_id = $2"
OPT_OUT = "INSERT INTO opt_outs (tenant, employee_id, channel) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
OPT_IN = "DELETE FROM opt_outs WHERE tenant = $1 AND employee_id = $2 AND channel = $3"
REMEMBER_CERTIFICATES = """
    INSERT INTO certificates (tenant, certificate_id, course_title, verify_url)
    SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[])
    ON CONFLICT DO NOTHING
"""
CERTIFICATES = """
    SELECT tenant, certificate_id, course_title, verify_url FROM certificates
    WHERE (tenant, certificate_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))
"""
# A delivery is recorded once per event and once per fact (channel and employee alike): the event's key
# (event_id, channel, recipient) skips a redelivered event, and the fact's unique index
# deliveries_once_per_fact (event_type, fact, channel, recipient) skips the same enrolment, completion or
# certificate reported again under another event id, whichever consumer or batch records it first. Both are
# unique indexes, so a second transaction waits for the first one's rows and then adds nothing: hence
# ON CONFLICT without a target, which skips a conflict on either.
INSERT_DELIVERY = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, fact, channel, recipient, address,
                            language, subject, body_text, body_html, status, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT DO NOTHING
"""
# A claimed batch is leased (next_attempt_at moves past the lease), stamped with the claim's token and
# committed, so other senders skip it. Each row is then marked 'sending' just before its own send, only while
# it still carries that token; marking renews its lease and counts the attempt. A worker slower than its
# lease loses the rows it has not reached to whichever worker claims them next: its own MARK_SENDING and
# RECORD_OUTCOME then find another token and change nothing, so no row is sent by two workers. After a crash,
# a leased row that was never sent comes back when the lease runs out; only a row left 'sending' may have
# reached the relay already, and its resend carries the same Message-ID.
#
# A row is sent to the employee's address as the contacts have it when it is claimed, not as they had it when the
# row was recorded: an e-mail address or mobile number changed meanwhile (`employee.updated`) while the row waited
# for its turn or for the relay to come back is the one used, and recorded on the row. An address removed
# meanwhile leaves it none (the sender records it undeliverable).
CLAIM_DUE = """
    WITH due AS (
        SELECT d.id, CASE WHEN c.tenant IS NULL THEN d.address
                          WHEN d.channel = 'email' THEN c.email ELSE c.mobile END AS address
        FROM deliveries d
        LEFT JOIN contacts c ON c.tenant = d.tenant AND c.employee_id = d.employee_id
        WHERE d.status IN ('pending', 'sending') AND d.channel = $1 AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at LIMIT $2
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE deliveries d
    SET claim = $4, updated_at = now(), next_attempt_at = now() + make_interval(secs => $3), address = due.address
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.claim, d.tenant, d.employee_id, d.channel, d.address, d.subject, d.body_text, d.body_html,
              d.attempts, d.created_at, d.language,
              EXISTS (SELECT 1 FROM opt_outs o WHERE o.tenant = d.tenant AND o.employee_id = d.employee_id
                      AND o.channel = d.channel) AS opted_out
"""
MARK_SENDING = """
    UPDATE deliveries SET status = 'sending', attempts = attempts + 1, updated_at = now(),
                          next_attempt_at = now() + make_interval(secs => $3)
    WHERE id = $1 AND claim = $2 AND status IN ('pending', 'sending')
    RETURNING attempts
"""
RECORD_OUTCOME = """
    UPDATE deliveries SET status = $3, reason = $4, next_attempt_at = coalesce($5, next_attempt_at),
                          sent_at = CASE WHEN $3 = 'sent' THEN now() END, updated_at = now()
    WHERE id = $1 AND claim = $2 AND status IN ('pending', 'sending')
"""
RENEW_LEASE = """
    UPDATE deliveries SET next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
    WHERE id = $1 AND claim = $2 AND status = 'sending'
"""
# A channel's send slots are `interval` apart, for every replica together: taking one moves the channel's next
# free slot on by an interval from itself, or from now when the channel has been idle (no burst saved up).
# `now()` is read once per statement, the database's clock, so the replicas' own clocks do not matter.
RESERVE_SLOT = """
    INSERT INTO send_slots AS s (channel, next_slot) VALUES ($1, now() + make_interval(secs => $2))
    ON CONFLICT (channel) DO UPDATE SET next_slot = greatest(s.next_slot, now()) + make_interval(secs => $2)
    RETURNING next_slot - make_interval(secs => $2) AS slot, now() AS now
"""
# A settled row's next_attempt_at is only where its last lease left it (a sent row's lies minutes after its
# send), so it is answered as null: only a pending or sending row will be tried again.
DELIVERY_COLUMNS = """
    id, tenant, employee_id, event_id, event_type, channel, address, language, subject, status, reason,
    attempts, CASE WHEN status IN ('pending', 'sending') THEN next_attempt_at END AS next_attempt_at,
    created_at, sent_at
"""
# Newest first; the id breaks ties, since an event's deliveries share their transaction's created_at, so
# pages by offset neither repeat nor skip one. Read in this order from deliveries_by_employee_newest.
BY_EMPLOYEE = f"""
    SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = $1 AND employee_id = $2
    ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4
"""
BY_EVENT = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY recipient, channel"


def _contact(row: asyncpg.Record) -> Contact:
    return Contact(
        row["tenant"], row["employee_id"], row["name"], row["email"], row["mobile"], row["language"],
        row["enrolled_at"],  # the details' "as of" (UPSERT_CONTACTS)
    )


def _columns(rows: Collection[tuple], width: int) -> list[list]:
    """Rows as the column arrays `unnest` takes."""
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


async def directory(connection: asyncpg.Connection, employees: Collection[Employee],
                    certificates: Collection[Certificate]) -> Directory:
    """The contacts and opt-outs of `employees` and the known `certificates`: two or three queries."""
    keys = _columns(employees, 2)
    contacts = {(row["tenant"], row["employee_id"]): _contact(row) for row in await connection.fetch(CONTACTS, *keys)}
    opted_out: dict[Employee, set[str]] = {}
    for row in await connection.fetch(OPT_OUTS, *keys):
        opted_out.setdefault((row["tenant"], row["employee_id"]), set()).add(row["channel"])
    rows = await connection.fetch(CERTIFICATES, *_columns(certificates, 2)) if certificates else []
    known = {(r["tenant"], r["certificate_id"]): {"course_title": r["course_title"], "verify_url": r["verify_url"]}
             for r in rows}
    return Directory(contacts, opted_out, known)


async def record_contacts(connection: asyncpg.Connection, contacts: Collection[Contact]) -> None:
    if contacts:
        rows = [(c.tenant, c.employee_id, c.name, c.email, c.mobile, c.language, c.as_of)
                for c in sorted(contacts, key=lambda c: (c.tenant, c.employee_id))]
        await connection.execute(UPSERT_CONTACTS, *_columns(rows, 7))


async def opted_out(connection: asyncpg.Connection, tenant: str, employee_id: str) -> set[str]:
    return {row["channel"] for row in await connection.fetch(OPTED_OUT, tenant, employee_id)}


async def set_opt_out(connection: asyncpg.Connection, tenant: str, employee_id: str, channel: str, out: bool) -> None:
    await connection.execute(OPT_OUT if out else OPT_IN, tenant, employee_id, channel)


async def remember_certificates(connection: asyncpg.Connection, certificates: Mapping[Certificate, dict[str, str]]) -> None:
    if certificates:
        rows = [(*key, certificates[key]["course_title"], certificates[key]["verify_url"]) for key in sorted(certificates)]
        await connection.execute(REMEMBER_CERTIFICATES, *_columns(rows, 4))


def _fact_order(delivery: Delivery) -> tuple[str, str, str, str]:
    return delivery.event_type, delivery.fact, delivery.channel, delivery.recipient


async def add_deliveries(connection: asyncpg.Connection, deliveries: Sequence[Delivery]) -> None:
    """In the order of the facts' key, so that two consumers recording the same facts wait for each other
    instead of deadlocking; the sort is stable, so of one fact's events in a batch the first one's stand."""
    await connection.executemany(INSERT_DELIVERY, [
        (d.id, d.tenant, d.employee_id, d.event_id, d.event_type, d.fact, d.channel, d.recipient, d.address,
         d.message.language, d.message.subject, d.message.text, d.message.html, d.status, d.reason)
        for d in sorted(deliveries, key=_fact_order)
    ])


async def claim_due(connection: asyncpg.Connection, channel: str, limit: int, lease_seconds: float) -> list[asyncpg.Record]:
    """Up to `limit` due rows of `channel`, leased for `lease_seconds` under a new claim token (row["claim"])."""
    async with connection.transaction():
        return await connection.fetch(CLAIM_DUE, channel, limit, lease_seconds, uuid.uuid4())


async def mark_sending(connection: asyncpg.Connection, delivery: uuid.UUID, claim: uuid.UUID,
                       lease_seconds: float) -> int | None:
    """The row's attempts, this one counted, with its lease renewed; None when another claim took it."""
    return await connection.fetchval(MARK_SENDING, delivery, claim, lease_seconds)


async def renew_lease(connection: asyncpg.Connection, delivery: uuid.UUID, claim: uuid.UUID, lease_seconds: float) -> bool:
    """Renew the lease of a row this worker marked 'sending'; False when another claim took it meanwhile."""
    return await connection.execute(RENEW_LEASE, delivery, claim, lease_seconds) == "UPDATE 1"


async def reserve_slot(connection: asyncpg.Connection, channel: str, interval: float) -> tuple[datetime, float]:
    """Take the channel's next send slot: when it is, and how many seconds from now (0 when it is now)."""
    row = await connection.fetchrow(RESERVE_SLOT, channel, interval)
    return row["slot"], max(0.0, (row["slot"] - row["now"]).total_seconds())


async def record_outcome(connection: asyncpg.Connection, delivery: uuid.UUID, claim: uuid.UUID, status: str,
                         reason: str | None, next_attempt_at: datetime | None = None) -> None:
    """Recorded only while `claim` holds the row: a worker that lost it records nothing."""
    await connection.execute(RECORD_OUTCOME, delivery, claim, status, reason, next_attempt_at)


async def by_employee(connection: asyncpg.Connection, tenant: str, employee_id: str, limit: int,
                      offset: int) -> list[asyncpg.Record]:
    return await connection.fetch(BY_EMPLOYEE, tenant, employee_id, limit, offset)


async def by_event(connection: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(BY_EVENT, event_id)
