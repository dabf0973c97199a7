"""The composition root of the attendance service: `karmayogi-attendance migrate | run | check-config | asyncapi`."""

from pathlib import Path

from karmayogi_contracts import CourseCompleted, SessionAttended
from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.service import ServiceDefinition

from attendance import api, api_progress
from attendance.settings import AttendanceSettings
from attendance.subscribers import subscriptions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def definition(settings: AttendanceSettings | None = None) -> ServiceDefinition:
    settings = settings or AttendanceSettings()
    return ServiceDefinition(
        name="attendance",
        settings=settings,
        migrations_dir=MIGRATIONS_DIR,
        subscriptions=subscriptions(settings),
        routers=(api.router, api_progress.router),
        publishes=(SessionAttended.event_type, CourseCompleted.event_type),
        description="Sessions, attendance from trainers and state systems, progress, and course completion "
                    "(exactly once per enrolment).",
    )


cli = service_cli("attendance", definition)

if __name__ == "__main__":
    cli()
