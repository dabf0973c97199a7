"""Use cases: each event becomes one delivery per channel for the employee, in one transaction; an
enrolment and an update of the employee's directory entry keep their contact (an update tells them nothing).

A batch of events is applied with a few statements for all of them (an event on its own is a batch of
one): load the contacts, opt-outs and certificates the batch needs, decide each event in turn over what
the events before it recorded (domain.plan), save it all; the sender loop sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from karmayogi_contracts import CertificateIssued, CertificateRevoked, CloudEvent, EmployeeEnrolled, EmployeeUpdated
from karmayogi_contracts.events import EmployeeProfile
from karmayogi_runtime.consumer import DependencyMissing, EventContext

from . import repository
from .domain import Contact, Delivery, Directory, plan
from .templates import KINDS, context_for, render


def contact_fact(tenant: str, employee_id: str) -> str:
    return f"contact:{tenant}:{employee_id}"


def contact_of(tenant: str, employee: EmployeeProfile, as_of: datetime) -> Contact:
    """The contact an enrolment or an update gives: the employee's details as of `as_of`."""
    return Contact(tenant, employee.id, employee.name, employee.email, employee.mobile, employee.preferred_language,
                   as_of)


class Notifier:
    def __init__(self, certificate_download_suffix: str = "/pdf", state: tzinfo | None = None) -> None:
        self.download_suffix = certificate_download_suffix
        self.state = state  # the state's time zone, which dates the messages (India's when None)

    async def handle(self, context: EventContext, event: CloudEvent) -> None:
        """One entry point for every topic the service reads."""
        await self.handle_many(context, [event])

    async def handle_many(self, context: EventContext, events: Sequence[CloudEvent]) -> None:
        """The same as each event handled in turn: the contact an enrolment or an update gives serves the
        events after it, the newest details win (by `Contact.as_of`), a certificate issued is known to a
        revocation after it.

        Reading before writing is safe, although two topics write contacts and two consumers (a partition
        of `employee.enrolled` and one of `employee.updated`, maybe in two pods) may therefore write one
        employee's contact at once: the upsert (repository.UPSERT_CONTACTS) waits for the other's row and
        checks its newest-wins WHERE against the row as committed, so the newest details stay whichever
        transaction commits first. A message decided meanwhile goes to the details committed when it was
        read, as if its event had come just before the other. An event whose employee has no contact yet
        raises DependencyMissing before anything is written; the runner then applies the batch one event
        at a time, parking that one."""
        connection = context.connection
        employees = list(dict.fromkeys((e.tenant, e.data.employee_id) for e in events))
        revoked = {(e.tenant, e.data.certificate_id) for e in events if isinstance(e.data, CertificateRevoked)}
        known = await repository.directory(connection, employees, revoked)
        deliveries = [delivery for event in events for delivery in self._decide(known, event)]
        await repository.record_contacts(connection, known.recorded.values())
        await repository.remember_certificates(connection, known.issued)
        await repository.add_deliveries(connection, deliveries)
        for tenant, employee_id in known.contacts_given:
            context.arrived(contact_fact(tenant, employee_id))

    def _decide(self, known: Directory, event: CloudEvent) -> list[Delivery]:
        """Record what the event tells in `known`, then plan its messages to the employee (none for an update)."""
        data, extra = event.data, {}
        if isinstance(data, EmployeeUpdated):
            known.take_contact(contact_of(data.tenant, data.employee, data.updated_at))
            return []
        if isinstance(data, EmployeeEnrolled):
            known.take_contact(contact_of(data.tenant, data.employee, data.enrolled_at))
        elif isinstance(data, CertificateIssued):
            known.issue((data.tenant, data.certificate_id), data.course_title, data.verify_url)
            extra = {"download_url": data.verify_url.rstrip("/") + self.download_suffix}
        elif isinstance(data, CertificateRevoked):
            extra = known.certificates.get((data.tenant, data.certificate_id), {})
        employee = (event.tenant, data.employee_id)
        contact = known.contacts.get(employee)
        if contact is None:
            raise DependencyMissing(
                waiting_for=contact_fact(*employee),
                reason="no contact for this employee yet; waiting for their employee.enrolled or employee.updated",
            )
        messages = render(KINDS[event.type], contact.language, context_for(event.type, data, contact, extra, self.state))
        return plan(event.id, event.type, data.subject, contact, messages, known.opted_out.get(employee, set()))
