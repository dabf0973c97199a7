"""The composition root of the enrolment service: `karmayogi-enrolment migrate | run | check-config | asyncapi`."""

from pathlib import Path

from karmayogi_contracts import EmployeeEnrolled, EmployeeUpdated, EnrolmentWithdrawn
from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.service import ServiceDefinition

from enrolment import api, api_enrolments
from enrolment.settings import EnrolmentSettings
from enrolment.subscribers import SUBSCRIPTIONS
from enrolment.waitlists import lapse_waitlists_loop

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def definition(settings: EnrolmentSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        name="enrolment",
        settings=settings or EnrolmentSettings(),
        migrations_dir=MIGRATIONS_DIR,
        subscriptions=SUBSCRIPTIONS,
        routers=(api.router, api_enrolments.router),
        publishes=(EmployeeEnrolled.event_type, EnrolmentWithdrawn.event_type, EmployeeUpdated.event_type),
        background=(lapse_waitlists_loop,),
        description="Courses, hub-and-spoke training centres, batches, single and bulk enrolment, withdrawal.",
    )


cli = service_cli("enrolment", definition)

if __name__ == "__main__":
    cli()
