"""The ledger service: what a real service looks like on the runtime, at its smallest."""

from pathlib import Path

from karmayogi_contracts import CertificateRevoked, CloudEvent, new_event
from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.consumer import DependencyMissing, EventContext, RuleViolation, Subscription
from karmayogi_runtime.service import ServiceDefinition
from karmayogi_runtime.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict

MIGRATIONS = Path(__file__).parent / "migrations"


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_")


async def on_enrolled(context: EventContext, event: CloudEvent) -> None:
    tenant, employee_id = event.tenant, event.data.employee_id
    await context.connection.execute(
        "INSERT INTO roster (tenant, employee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", tenant, employee_id
    )
    context.arrived(f"employee:{tenant}:{employee_id}")


async def on_attended(context: EventContext, event: CloudEvent) -> None:
    data = event.data
    barred = await context.connection.fetchval("SELECT 1 FROM barred WHERE employee_id = $1", data.employee_id)
    if barred:
        raise RuleViolation(f"employee {data.employee_id} is barred from training")
    known = await context.connection.fetchval(
        "SELECT 1 FROM roster WHERE tenant = $1 AND employee_id = $2", event.tenant, data.employee_id
    )
    if not known:
        raise DependencyMissing(f"employee:{event.tenant}:{data.employee_id}", "employee not enrolled yet")
    await context.connection.execute(
        "INSERT INTO effects (event_id, employee_id) VALUES ($1, $2)", event.id, data.employee_id
    )
    onward = CertificateRevoked(
        tenant=event.tenant, certificate_id=data.attendance_id, enrolment_id=data.batch_id,
        employee_id=data.employee_id, course_id=data.session.id, revoked_at=data.marked_at,
        reason="ledger test: one onward event per attendance",
    )
    await context.publish(new_event(onward, id=data.attendance_id, source="/tests/ledger", causation_id=str(event.id)))


async def on_revoked(context: EventContext, event: CloudEvent) -> None:
    await context.connection.execute("INSERT INTO audit (event_id) VALUES ($1)", event.id)


def definition(settings: LedgerSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="ledger",
        settings=settings or LedgerSettings(),
        migrations_dir=MIGRATIONS,
        subscriptions=(
            Subscription("ledger.roster", ("employee.enrolled",), on_enrolled),
            Subscription("ledger.attendance", ("session.attended",), on_attended),
            Subscription("ledger.audit", ("certificate.revoked",), on_revoked),
        ),
        publishes=("karmayogi.certificate.revoked.v1",),
    )


cli = service_cli("ledger", definition)

if __name__ == "__main__":
    cli()
