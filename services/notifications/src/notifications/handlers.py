"""Use cases: each event becomes one delivery per channel for the employee, in one transaction.

Load the contact (and opt-outs), decide the deliveries (domain.plan), save them; the sender loop sends.
"""

from __future__ import annotations

from typing import Any

from karmayogi_contracts import CloudEvent
from karmayogi_runtime.consumer import DependencyMissing, EventContext

from . import repository
from .domain import Contact, plan
from .templates import KINDS, context_for, render


def contact_fact(tenant: str, employee_id: str) -> str:
    return f"contact:{tenant}:{employee_id}"


class Notifier:
    def __init__(self, certificate_download_suffix: str = "/pdf") -> None:
        self.download_suffix = certificate_download_suffix

    async def on_enrolled(self, context: EventContext, event: CloudEvent) -> None:
        data, employee = event.data, event.data.employee
        await repository.record_contact(context.connection, Contact(
            data.tenant, employee.id, employee.name, employee.email, employee.mobile,
            employee.preferred_language, data.enrolled_at,
        ))
        context.arrived(contact_fact(data.tenant, employee.id))
        await self._notify(context, event, {})

    async def on_completed(self, context: EventContext, event: CloudEvent) -> None:
        await self._notify(context, event, {})

    async def on_certificate_issued(self, context: EventContext, event: CloudEvent) -> None:
        data = event.data
        await repository.remember_certificate(
            context.connection, data.tenant, data.certificate_id, data.course_title, data.verify_url)
        await self._notify(context, event, {"download_url": data.verify_url.rstrip("/") + self.download_suffix})

    async def on_certificate_revoked(self, context: EventContext, event: CloudEvent) -> None:
        data = event.data
        known = await repository.certificate(context.connection, data.tenant, data.certificate_id)
        await self._notify(context, event, known)

    async def handle(self, context: EventContext, event: CloudEvent) -> None:
        """One entry point for every topic the service reads."""
        await getattr(self, ROUTES[event.type])(context, event)

    async def _notify(self, context: EventContext, event: CloudEvent, extra: dict[str, Any]) -> None:
        connection, tenant, employee_id = context.connection, event.tenant, event.data.employee_id
        contact = await repository.contact(connection, tenant, employee_id)
        if contact is None:
            raise DependencyMissing(
                waiting_for=contact_fact(tenant, employee_id),
                reason="no contact for this employee yet; waiting for their employee.enrolled",
            )
        messages = render(KINDS[event.type], contact.language, context_for(event.type, event.data, contact, extra))
        opted_out = await repository.opted_out(connection, tenant, employee_id)
        await repository.add_deliveries(connection, plan(event.id, event.type, contact, messages, opted_out))


ROUTES = {
    "karmayogi.employee.enrolled.v1": "on_enrolled",
    "karmayogi.course.completed.v1": "on_completed",
    "karmayogi.certificate.issued.v1": "on_certificate_issued",
    "karmayogi.certificate.revoked.v1": "on_certificate_revoked",
}

