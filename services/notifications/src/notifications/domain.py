"""What a notification is, decided without I/O: who gets what on which channel, the identity of each
delivery, and the retry schedule (what an SMS can hold is `sms`). Time is passed in; nothing here reads a
clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CHANNELS = ("email", "sms")
LANGUAGES = ("en", "hi")  # languages with templates; anything else falls back to English
FALLBACK_LANGUAGE = "en"

# The namespace of delivery ids; an id is also the Message-ID of the e-mail, so it must never change.
DELIVERY_NAMESPACE = uuid.UUID("6d1c2a52-0f5e-5b8e-9a49-2b0a6f1f7a01")


@dataclass(frozen=True)
class Contact:
    tenant: str
    employee_id: str
    name: str
    email: str | None
    mobile: str | None
    language: str
    as_of: datetime  # when these details were the employee's: an enrolment's enrolled_at, an update's updated_at

    @property
    def recipient(self) -> str:
        return f"{self.tenant}:{self.employee_id}"

    def address(self, channel: str) -> str | None:
        return self.email if channel == "email" else self.mobile


@dataclass(frozen=True)
class Message:
    """A rendered message for one channel: subject and HTML only for e-mail."""

    channel: str
    language: str
    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    tenant: str
    employee_id: str
    event_id: uuid.UUID
    event_type: str
    fact: str  # the payload's own id (its CloudEvent subject): with event_type, what the employee is told
    channel: str
    recipient: str
    address: str | None
    message: Message
    status: str  # pending | undeliverable | opted_out
    reason: str | None


NO_ADDRESS = {
    "email": "The employee has no e-mail address on record.",
    "sms": "The employee has no mobile number on record.",
}
OPTED_OUT = {
    "email": "The employee opted out of e-mail notifications.",
    "sms": "The employee opted out of SMS notifications.",
}


def delivery_id(event_id: uuid.UUID, channel: str, recipient: str) -> uuid.UUID:
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{event_id}|{channel}|{recipient}")


def template_language(tag: str) -> str:
    """'hi', 'hi-IN', 'hi-Deva-IN' -> 'hi'; a language without templates -> English."""
    primary = tag.split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else FALLBACK_LANGUAGE


def plan(event_id: uuid.UUID, event_type: str, fact: str, contact: Contact, messages: list[Message],
         opted_out: set[str]) -> list[Delivery]:
    """One delivery per channel: pending, or recorded at once as opted out or undeliverable.

    `fact` is the payload's own id (enrolment, completion or certificate id). A state system may report one
    fact twice under two event ids (a retried export); the database keeps the first event's deliveries of a
    fact and drops the repeat's (repository.INSERT_DELIVERY), so the employee is told once."""
    deliveries = []
    for message in messages:
        channel, address = message.channel, contact.address(message.channel)
        status, reason = "pending", None
        if channel in opted_out:
            status, reason = "opted_out", OPTED_OUT[channel]
        elif not address:
            status, reason = "undeliverable", NO_ADDRESS[channel]
        deliveries.append(Delivery(
            delivery_id(event_id, channel, contact.recipient), contact.tenant, contact.employee_id, event_id,
            event_type, fact, channel, contact.recipient, address, message, status, reason,
        ))
    return deliveries


def newer(current: Contact | None, candidate: Contact) -> bool:
    """The directory keeps the newest details by `as_of`, whether an enrolment or an update gave them: older
    ones arriving late change nothing; details as of the same moment replace them (given again, the same
    details change nothing)."""
    return current is None or candidate.as_of >= current.as_of


Employee = tuple[str, str]  # (tenant, employee_id)
Certificate = tuple[str, uuid.UUID]  # (tenant, certificate_id)


@dataclass
class Directory:
    """What the events of a batch are decided against, as the events before each one left it: the contacts,
    opt-outs and certificates read before the batch, plus what the batch's own events recorded so far."""

    contacts: dict[Employee, Contact]
    opted_out: dict[Employee, set[str]]
    certificates: dict[Certificate, dict[str, str]]  # course_title and verify_url, as the templates name them
    contacts_given: list[Employee] = field(default_factory=list)  # whose contact each enrolment or update gave
    recorded: dict[Employee, Contact] = field(default_factory=dict)  # contacts the batch changes
    issued: dict[Certificate, dict[str, str]] = field(default_factory=dict)  # to store; a stored one stays as it is

    def take_contact(self, contact: Contact) -> None:
        """The details an enrolment or an update gave, kept when they are the newest (`newer`)."""
        employee = (contact.tenant, contact.employee_id)
        self.contacts_given.append(employee)
        if newer(self.contacts.get(employee), contact):
            self.contacts[employee] = self.recorded[employee] = contact

    def issue(self, certificate: Certificate, course_title: str, verify_url: str) -> None:
        """The first record of a certificate stays."""
        if certificate not in self.certificates:
            self.certificates[certificate] = self.issued[certificate] = {
                "course_title": course_title, "verify_url": verify_url}


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base ... capped."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), max_seconds))


def gives_up(created_at: datetime, now: datetime, give_up_after: timedelta) -> bool:
    return now - created_at >= give_up_after


def claim_size(batch_size: int, per_second: float, lease_seconds: float, workers: int) -> int:
    """Rows one worker claims at a time: no more than its share of the channel's rate can send within the
    lease, so a claimed row is reached before another worker may claim it again (at least one row)."""
    return max(1, min(batch_size, int(per_second * lease_seconds / workers)))
