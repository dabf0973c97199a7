"""Settings of the certification service: CERTIFICATION_X first, then plain X (see ServiceSettings)."""

import os
from typing import Annotated

from karmayogi_contracts.fields import HttpsUrl
from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import NoDecode, SettingsConfigDict

from karmayogi_runtime.settings import ServiceSettings

from certification import issuers
from certification.issuers import StateIssuer


class CertificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERTIFICATION_")

    public_base_url: str = Field(
        "http://127.0.0.1:8103", description="Public base URL; certificates verify at <this>/verify/<id> (the QR code). "
        "https, or plain http only on localhost or 127.0.0.1, as certificate.issued's verify_url must be.",
    )
    admin_token: SecretStr = Field(
        min_length=32, description="Bearer token of the revocation endpoint; at least 32 characters, no default."
    )
    issuers: Annotated[dict[str, StateIssuer], NoDecode] = Field(
        default_factory=lambda: dict(issuers.DEFAULT),
        description="Who issues each state's certificates, as JSON from state code to issuer: "
        f"{issuers.EXAMPLE}. The name is printed and put in the credential, the id (https) is the credential's "
        "issuer.id, the signatory is printed under the signature line of the PDF. A completion of a state not "
        "named here is dead-lettered. Unset: Haryana's (HIPA) only.",
    )
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

    @field_validator("issuers", mode="before")
    @classmethod
    def _each_state_s_issuer_is_usable(cls, value: object) -> dict[str, StateIssuer]:
        # Read and checked here, so a mistake stops the service at start-up with one sentence per problem,
        # rather than dead-lettering or mis-signing certificates later.
        found, problems = issuers.parse(value)
        if problems:
            raise PydanticCustomError("issuers", " ".join(problems))
        return found

    @model_validator(mode="after")
    def _no_deployment_wide_issuer(self) -> "CertificationSettings":
        # These were read before ISSUERS; left set, they would now be ignored without a word, and the state
        # they were for would be certified in the default issuer's name, or not at all.
        prefix, present = self.model_config["env_prefix"].upper(), {name.upper() for name in os.environ}
        retired = [name for name in RETIRED_SETTINGS if {name, prefix + name} & present]
        if retired:
            raise ValueError(f"{', '.join(retired)} {'is' if len(retired) == 1 else 'are'} no longer read: the "
                             f"issuer is set per state, in ISSUERS, such as {issuers.EXAMPLE}.")
        return self

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
RETIRED_SETTINGS = ("ISSUER_NAME", "ISSUER_ID", "SIGNATORY")
