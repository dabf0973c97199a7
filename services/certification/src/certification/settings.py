"""Settings of the certification service: CERTIFICATION_X first, then plain X (see ServiceSettings)."""

from karmayogi_contracts.fields import HttpsUrl
from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from karmayogi_runtime.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERTIFICATION_")

    public_base_url: str = Field(
        "http://127.0.0.1:8103", description="Public base URL; certificates verify at <this>/verify/<id> (the QR code). "
        "https, or plain http only on localhost or 127.0.0.1, as certificate.issued's verify_url must be.",
    )
    admin_token: SecretStr = Field(
        min_length=32, description="Bearer token of the revocation endpoint; at least 32 characters, no default."
    )
    issuer_name: str = Field(
        "Haryana Institute of Public Administration, on behalf of the Government of Haryana",
        description="Who issues the certificates, as printed and put in the credential.",
    )
    issuer_id: str = Field("https://hipa.haryana.gov.in", description="The issuer's URL (the credential's issuer.id).")
    signatory: str = Field("Director General, HIPA", description="Printed under the signature line of the PDF.")
    signing_keys_file: str | None = Field(
        None,
        description="A private JWK Set (Ed25519 keys, each with a kid); the key SIGNING_KEY_ID names signs (unset: "
        "the last), all are published. Unset: a key is generated under LOCAL_DATA_DIR on first start (local use only).",
    )
    signing_key_id: str | None = Field(
        None, description="The kid of the key that signs; unset: the last key of the set. A rotation adds the new "
        "key while this names the old one, then names the new one in a second rollout (deploy/README.md).",
    )
    pdf_cache_mb: int = Field(
        1024, ge=1, description="Disk the rendered PDFs may take under LOCAL_DATA_DIR, in MiB; the least recently "
        "served go first. Keep it below the volume's size (in Kubernetes, the pod's 2 GiB emptyDir).",
    )

    @field_validator("public_base_url")
    @classmethod
    def _verify_urls_meet_the_contract(cls, value: str) -> str:
        # Checked here with the contract's own rule: otherwise the service starts, and every certificate.issued
        # it builds fails validation, so every course.completed is dead-lettered.
        try:
            _VERIFY_URL.validate_python(f"{value.rstrip('/')}/verify/")
        except ValidationError:
            raise PydanticCustomError(
                "verify_url", "must be an https URL (plain http only on localhost or 127.0.0.1), such as "
                "https://verify.hr.gov.in, because the certificates' verification links are built on it") from None
        return value


_VERIFY_URL = TypeAdapter(HttpsUrl)
