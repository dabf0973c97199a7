"""The settings base every service extends: one pydantic-settings class per service, with an env prefix.

Every setting is read with the service's prefix first (`ENROLMENT_DATABASE_URL`) and then without it
(`DATABASE_URL`): a pod's environment stays short, and a developer running two services from one shell
can still give each its own value.

Secured connections are configured here and nowhere else:

- Kafka: `KAFKA_SECURITY_PROTOCOL` (`SASL_SSL` in production), `KAFKA_SASL_MECHANISM` (`SCRAM-SHA-512`),
  `KAFKA_USERNAME`, `KAFKA_PASSWORD`, and `KAFKA_CA_FILE` when the brokers' certificates are not signed by
  a CA the system trusts. Every Kafka client (consumers, outbox relay, operator tools) uses them.
- PostgreSQL: TLS is asked for in `DATABASE_URL` itself, as libpq does it:
  `postgresql://user:password@host:5432/db?sslmode=verify-full&sslrootcert=/etc/karmayogi/postgres-ca.crt`
  (`sslmode` disable | prefer | require | verify-ca | verify-full; without it asyncpg uses `prefer`).
"""

from datetime import tzinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from karmayogi_runtime import calendar


class CannotStart(Exception):
    """The service cannot start with these settings: Kafka or PostgreSQL refused them (a wrong password, a
    certificate that cannot be verified) or stayed unreachable. The message is one sentence naming what to
    check; the command line prints it instead of a stack trace and exits non-zero."""


class KafkaSettings(BaseSettings):
    """How to reach Kafka: what every Kafka client needs, services and operator tools alike."""

    kafka_bootstrap_servers: str = Field(description="Comma-separated host:port list of Kafka brokers.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_topic_prefix: str = Field(
        "", description="Put before every topic name, to run several environments (or tests) on one cluster."
    )
    kafka_ca_file: str | None = Field(None, description="CA bundle that signed the brokers' TLS certificates.")

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> "KafkaSettings":
        if self.kafka_security_protocol.startswith("SASL") and not (self.kafka_username and self.kafka_password):
            raise ValueError("KAFKA_SECURITY_PROTOCOL is SASL_* but KAFKA_USERNAME or KAFKA_PASSWORD is not set.")
        if self.kafka_ca_file and not Path(self.kafka_ca_file).is_file():
            raise ValueError(f"KAFKA_CA_FILE names {self.kafka_ca_file}, which is not a readable file.")
        return self


class ServiceSettings(KafkaSettings):
    """Settings of one service. A subclass sets `model_config = SettingsConfigDict(env_prefix="...")`."""

    database_url: SecretStr = Field(description="PostgreSQL URL of this service's own database (TLS: see above).")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    local_data_dir: str = Field(".local", description="Where local artefacts (PDF cache, mail) are written.")
    consumer_batch_size: int = Field(500, ge=1, le=10_000, description="Most events handled in one transaction.")
    database_pool_size: int = Field(10, ge=2, le=100)
    timezone: str = Field(calendar.STATE_TIMEZONE, description="The state's time zone: whose calendar day decides when "
                          "a batch has started and whether a session is within it, and dates certificates and messages.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        unprefixed = EnvSettingsSource(settings_cls, env_prefix="")
        return init_settings, env_settings, unprefixed, file_secret_settings

    def zone(self) -> tzinfo:
        """The state's time zone (see `karmayogi_runtime.calendar`)."""
        return calendar.zone(self.timezone)
