"""Use cases: issue a certificate for a completion (exactly once per enrolment), revoke one."""

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from uuid import UUID

from asyncpg import Connection
from karmayogi_contracts import CertificateIssued, CertificateRevoked, CloudEvent, CourseCompleted, ids, new_event
from karmayogi_runtime import outbox
from karmayogi_runtime.consumer import EventContext, RuleViolation

from certification import completions, credential, repository
from certification.issuers import StateIssuer, not_configured
from certification.keys import KeyRing

SOURCE = "/services/certification"


class Issuer:
    """Turns `course.completed` into signed certificates and `certificate.issued` events, each in the name of
    its state's issuer. A completion that cannot be true, or of a state with no issuer, is dead-lettered."""

    def __init__(self, keys: KeyRing, *, public_base_url: str, issuers: Mapping[str, StateIssuer],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.keys, self.base, self.issuers, self.clock = keys, public_base_url.rstrip("/"), issuers, clock

    def verify_url(self, certificate_id) -> str:
        return f"{self.base}/verify/{certificate_id}"

    def status_url(self, certificate_id) -> str:
        """Where a verifier reads the certificate's status: under /verify/, the only path the public host routes."""
        return f"{self.verify_url(certificate_id)}/status"

    async def issue(self, context: EventContext, event: CloudEvent) -> None:
        await self.issue_many(context, [event])

    async def issue_many(self, context: EventContext, events: Sequence[CloudEvent]) -> None:
        rows, now = {}, self.clock()
        for event in events:
            completed: CourseCompleted = event.data
            if problem := completions.completion_problem(completed, now):
                raise RuleViolation(problem)
            certificate_id = ids.certificate_id(completed.tenant, completed.enrolment_id)
            rows.setdefault(certificate_id, (event, self._row(certificate_id, completed)))
        issued = await repository.insert_new(context.connection, [row for _, row in rows.values()])
        for certificate_id in issued:
            event, row = rows[certificate_id]
            await context.publish(self._issued_event(certificate_id, event, row[11]))

    def _row(self, certificate_id: UUID, completed: CourseCompleted) -> tuple:
        issuer = self.issuers.get(completed.tenant)
        if issuer is None:
            raise RuleViolation(not_configured(completed.tenant))
        centre = completed.batch.centre.name if completed.batch else None
        competencies = tuple(c.name for c in completed.course.competencies)
        facts = credential.Facts(
            certificate_id=str(certificate_id), tenant=completed.tenant, employee_id=completed.employee.id,
            employee_name=completed.employee.name, course_id=str(completed.course.id),
            course_title=completed.course.title, competencies=competencies, centre=centre,
            issued_at=completed.completed_at,
        )
        document = credential.credential(facts, issuer_id=issuer.id, issuer_name=issuer.name,
                                         status_url=self.status_url(certificate_id))
        token = credential.sign(credential.jwt_claims(document, facts), self.keys.current)
        return (certificate_id, completed.tenant, completed.enrolment_id, completed.employee.id,
                completed.employee.name, completed.course.id, completed.course.title, completed.course.family,
                completed.course.trains_trainers, list(competencies), centre, completed.completed_at, token,
                self.keys.current.kid)

    def _issued_event(self, certificate_id: UUID, cause: CloudEvent, issued_at: datetime) -> CloudEvent:
        completed: CourseCompleted = cause.data
        data = CertificateIssued(
            tenant=completed.tenant, certificate_id=certificate_id, enrolment_id=completed.enrolment_id,
            employee_id=completed.employee.id, course_id=completed.course.id, course_title=completed.course.title,
            course_family=completed.course.family, trains_trainers=completed.course.trains_trainers,
            issued_at=issued_at, verify_url=self.verify_url(certificate_id),
        )
        return new_event(data, source=SOURCE, id=certificate_id, correlation_id=cause.correlation_id,
                         causation_id=str(cause.id))


async def revoke(connection: Connection, certificate_id: UUID, reason: str, now: datetime) -> bool:
    """Record the revocation and publish `certificate.revoked`; False when it was revoked already."""
    row = await connection.fetchrow(repository.REVOKE, certificate_id, now, reason)
    if row is None:
        return False
    data = CertificateRevoked(
        tenant=row["tenant"], certificate_id=certificate_id, enrolment_id=row["enrolment_id"],
        employee_id=row["employee_id"], course_id=row["course_id"], revoked_at=now, reason=reason,
    )
    await outbox.add(connection, new_event(data, source=SOURCE, id=_revocation_id(certificate_id)))
    return True


def _revocation_id(certificate_id: UUID) -> UUID:
    from uuid import uuid5

    return uuid5(certificate_id, "revoked")
