"""The notifications service, wired: settings -> consumers, API and the sender loop."""

from pathlib import Path

from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.service import ServiceDefinition

from .api import router
from .handlers import Notifier
from .sender import sender_loop
from .settings import NotificationsSettings
from .subscribers import subscriptions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def definition(settings: NotificationsSettings | None = None) -> ServiceDefinition:
    settings = settings or NotificationsSettings()
    return ServiceDefinition(
        name="notifications",
        settings=settings,
        migrations_dir=MIGRATIONS_DIR,
        subscriptions=subscriptions(Notifier(settings.certificate_download_suffix, settings.zone())),
        routers=(router,),
        description="Tells employees, by e-mail and SMS in their language, of their enrolment, completion "
        "and certificate; records every delivery and its outcome.",
        background=(sender_loop,),
    )


cli = service_cli("notifications", definition)

if __name__ == "__main__":
    cli()
