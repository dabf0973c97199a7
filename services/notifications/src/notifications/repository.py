"""SQL of the notifications service, as named statements over asyncpg."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from .domain import Contact, Delivery

UPSERT_CONTACT = """
    INSERT INTO contacts (tenant, employee_id, name, email, mobile, language, enrolled_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (tenant, employee_id) DO UPDATE
    SET name = EXCLUDED.name, email = EXCLUDED.email, mobile = EXCLUDED.mobile, language = EXCLUDED.language,
        enrolled_at = EXCLUDED.enrolled_at, updated_at = now()
    WHERE contacts.enrolled_at <= EXCLUDED.enrolled_at
"""
CONTACT = """
    SELECT tenant, employee_id, name, email, mobile, language, enrolled_at FROM contacts
    WHERE tenant = $1 AND employee_id = $2
"""
OPTED_OUT = "SELECT channel FROM opt_outs WHERE tenant = $1 AND employee_id = $2"
OPT_OUT = "INSERT INTO opt_outs (tenant, employee_id, channel) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
OPT_IN = "DELETE FROM opt_outs WHERE tenant = $1 AND employee_id = $2 AND channel = $3"
REMEMBER_CERTIFICATE = """
    INSERT INTO certificates (tenant, certificate_id, course_title, verify_url) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING
"""
CERTIFICATE = "SELECT course_title, verify_url FROM certificates WHERE tenant = $1 AND certificate_id = $2"
INSERT_DELIVERY = """
    INSERT INTO deliveries (id, tenant, employee_id, event_id, event_type, channel, recipient, address, language,
                            subject, body_text, body_html, status, reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    ON CONFLICT (event_id, channel, recipient) DO NOTHING
"""
# A claimed batch is leased (next_attempt_at moves past the lease) and committed, so other senders skip it;
# each row is then marked 'sending' just before its own send. After a crash, a leased row that was never
# sent comes back when the lease runs out; only a row left 'sending' may have reached the relay already,
# and its resend carries the same Message-ID.
CLAIM_DUE = """
    WITH due AS (
        SELECT id FROM deliveries
        WHERE status IN ('pending', 'sending') AND channel = $1 AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $2
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries d
    SET attempts = d.attempts + 1, updated_at = now(),
        next_attempt_at = now() + make_interval(secs => $3)
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.tenant, d.employee_id, d.channel, d.address, d.subject, d.body_text, d.body_html,
              d.attempts, d.created_at, d.language,
              EXISTS (SELECT 1 FROM opt_outs o WHERE o.tenant = d.tenant AND o.employee_id = d.employee_id
                      AND o.channel = d.channel) AS opted_out
"""
MARK_SENDING = "UPDATE deliveries SET status = 'sending', updated_at = now() WHERE id = $1"
RECORD_OUTCOME = """
    UPDATE deliveries SET status = $2, reason = $3, next_attempt_at = coalesce($4, next_attempt_at),
                          sent_at = CASE WHEN $2 = 'sent' THEN now() END, updated_at = now()
    WHERE id = $1 AND status IN ('pending', 'sending')
"""
DELIVERY_COLUMNS = """
    id, tenant, employee_id, event_id, event_type, channel, address, language, subject, status, reason,
    attempts, next_attempt_at, created_at, sent_at
"""
BY_EMPLOYEE = f"""
    SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = $1 AND employee_id = $2
    ORDER BY created_at, channel LIMIT $3
"""
BY_EVENT = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 ORDER BY recipient, channel"


def _contact(row: asyncpg.Record | None) -> Contact | None:
    return None if row is None else Contact(
        row["tenant"], row["employee_id"], row["name"], row["email"], row["mobile"], row["language"],
        row["enrolled_at"],
    )


async def record_contact(connection: asyncpg.Connection, contact: Contact) -> None:
    await connection.execute(
        UPSERT_CONTACT, contact.tenant, contact.employee_id, contact.name, contact.email, contact.mobile,
        contact.language, contact.enrolled_at,
    )


async def contact(connection: asyncpg.Connection, tenant: str, employee_id: str) -> Contact | None:
    return _contact(await connection.fetchrow(CONTACT, tenant, employee_id))


async def opted_out(connection: asyncpg.Connection, tenant: str, employee_id: str) -> set[str]:
    return {row["channel"] for row in await connection.fetch(OPTED_OUT, tenant, employee_id)}


async def set_opt_out(connection: asyncpg.Connection, tenant: str, employee_id: str, channel: str, out: bool) -> None:
    await connection.execute(OPT_OUT if out else OPT_IN, tenant, employee_id, channel)


async def remember_certificate(connection: asyncpg.Connection, tenant: str, certificate_id: uuid.UUID,
                               course_title: str, verify_url: str) -> None:
    await connection.execute(REMEMBER_CERTIFICATE, tenant, certificate_id, course_title, verify_url)


async def certificate(connection: asyncpg.Connection, tenant: str, certificate_id: uuid.UUID) -> dict:
    row = await connection.fetchrow(CERTIFICATE, tenant, certificate_id)
    return {"course_title": row["course_title"] if row else None, "verify_url": row["verify_url"] if row else None}


async def add_deliveries(connection: asyncpg.Connection, deliveries: Sequence[Delivery]) -> None:
    await connection.executemany(INSERT_DELIVERY, [
        (d.id, d.tenant, d.employee_id, d.event_id, d.event_type, d.channel, d.recipient, d.address,
         d.message.language, d.message.subject, d.message.text, d.message.html, d.status, d.reason)
        for d in deliveries
    ])


async def claim_due(connection: asyncpg.Connection, channel: str, limit: int, lease_seconds: float) -> list[asyncpg.Record]:
    async with connection.transaction():
        return await connection.fetch(CLAIM_DUE, channel, limit, lease_seconds)


async def mark_sending(connection: asyncpg.Connection, delivery: uuid.UUID) -> None:
    await connection.execute(MARK_SENDING, delivery)


async def record_outcome(connection: asyncpg.Connection, delivery: uuid.UUID, status: str, reason: str | None,
                         next_attempt_at: datetime | None = None) -> None:
    await connection.execute(RECORD_OUTCOME, delivery, status, reason, next_attempt_at)


async def by_employee(connection: asyncpg.Connection, tenant: str, employee_id: str, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(BY_EMPLOYEE, tenant, employee_id, limit)


async def by_event(connection: asyncpg.Connection, event_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(BY_EVENT, event_id)
