"""The certification service, wired: settings -> keys, issuer, consumer, API."""

from pathlib import Path

from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.service import ServiceDefinition

from certification import keys
from certification.api import Certification, public_routes, revocation_routes, state_routes
from certification.handlers import Issuer
from certification.pdf_cache import PdfCache
from certification.settings import CertificationSettings
from certification.subscribers import subscriptions

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def definition(settings: CertificationSettings | None = None) -> ServiceDefinition:
    settings = settings or CertificationSettings()
    ring = keys.load(settings.signing_keys_file, settings.local_data_dir, settings.signing_key_id)
    issuer = Issuer(ring, public_base_url=settings.public_base_url, issuers=settings.issuers)
    certification = Certification(settings, ring, issuer, pdf_cache(settings))
    return ServiceDefinition(
        name="certification",
        settings=settings,
        migrations_dir=MIGRATIONS_DIR,
        subscriptions=subscriptions(issuer),
        routers=(state_routes(certification),),
        # Anyone may call the public routes; revocation checks the administrator's token itself.
        open_routers=(public_routes(certification), revocation_routes(certification)),
        publishes=("karmayogi.certificate.issued.v1", "karmayogi.certificate.revoked.v1"),
        description="Issues one signed Open Badges 3.0 certificate per completed enrolment, serves the public "
        "verification page, the PDF and the JWKS, and revokes.",
    )


def pdf_cache(settings: CertificationSettings) -> PdfCache:
    folder = Path(settings.local_data_dir) / "certification" / "pdf"
    return PdfCache(folder, max_bytes=settings.pdf_cache_mb * 1024 * 1024)


cli = service_cli("certification", definition)

if __name__ == "__main__":
    cli()
