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

import os
from datetime import tzinfo
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from karmayogi_runtime import calendar
from karmayogi_runtime.access import StateKeys


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

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_and_port_each(cls, servers: str) -> str:
        for server in servers.split(","):
            problem = bootstrap_server_problem(server.strip())
            if problem:
                raise ValueError(problem)
        return servers

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
    api_keys: SecretStr = Field(SecretStr(""), description="Each API key and its state: IN-HR:<key>,*:<key> "
                                "(karmayogi_runtime.access). Unset, the routes behind a state's key refuse every request.")
    _state_keys: StateKeys | None = PrivateAttr(None)

    @field_validator("database_url")
    @classmethod
    def _a_postgresql_url(cls, url: SecretStr) -> SecretStr:
        problem = database_url_problem(url.get_secret_value())
        if problem:
            raise ValueError(problem)
        return url

    @field_validator("api_keys")
    @classmethod
    def _keys_of_states(cls, keys: SecretStr) -> SecretStr:
        StateKeys.parse(keys.get_secret_value())
        return keys

    @field_validator("timezone")
    @classmethod
    def _a_known_time_zone(cls, name: str) -> str:
        if problem := calendar.zone_problem(name):
            raise ValueError(problem)
        return name

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

    def state_keys(self) -> StateKeys:
        """The API keys by their digests (see `karmayogi_runtime.access`)."""
        if self._state_keys is None:
            self._state_keys = StateKeys.parse(self.api_keys.get_secret_value())
        return self._state_keys

    def zone(self) -> tzinfo:
        """The state's time zone (see `karmayogi_runtime.calendar`)."""
        return calendar.zone(self.timezone)


def bootstrap_server_problem(server: str) -> str | None:
    """What is wrong with one entry of KAFKA_BOOTSTRAP_SERVERS, or None. Every client splits the entries at
    their last colon and reads the port as a number, so a bad entry would otherwise be a stack trace."""
    host, colon, port = server.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in host):
        return f"'{server}' is not a host:port pair such as kafka:9092."
    return None


def database_url_problem(url: str) -> str | None:
    """What is wrong with a DATABASE_URL, or None. asyncpg would report a malformed URL only when it first
    connects, in words that read like an unreachable server; the sentence never repeats the URL, which
    holds the password."""
    example = "postgresql://user:password@host:5432/database"
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed [IPv6 address]
        return f"it cannot be read as a URL ({error}): {example}."
    if parts.scheme not in ("postgresql", "postgres"):
        found = f", not {parts.scheme}:" if parts.scheme else ""
        return f"it must start with postgresql:// (as in {example}){found}."
    query = parse_qs(parts.query)
    hosts = parts.netloc.rpartition("@")[2]
    if not hosts and "host" not in query:
        return f"it names no host: {example}."
    for host in hosts.split(",") if hosts else ():
        name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
        if name and port and not (port.isdigit() and 0 < int(port) < 65536):
            return f"its port '{port}' is not a number from 1 to 65535: {example}."
    if not parts.path.strip("/") and "dbname" not in query:
        return f"it names no database: {example}."
    return None


def setting_problems(error: ValidationError, env_prefix: str = "") -> list[str]:
    """One sentence per problem of settings that failed validation, naming the setting (a rule about several
    names them itself) by the variable it was read from: `ENROLMENT_API_KEYS` when that is set, since it wins
    over `API_KEYS` (`env_prefix`: the service's). pydantic's words are made an operator's: no "Value
    error, " prefix, and a text that is too short is counted in characters (for a SecretStr pydantic counts
    "items")."""
    sentences = []
    for problem in error.errors():
        setting = _variable("_".join(str(part) for part in problem["loc"]).upper(), env_prefix)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "too_short" and isinstance(problem.get("input"), str):
            message = f"it must be at least {problem['ctx']['min_length']} characters long."
        if problem["type"] == "missing":
            sentences.append(f"{setting} is not set.")
        else:
            sentences.append(f"{setting} is invalid: {message}" if setting else message)
    return sentences


def _variable(setting: str, env_prefix: str) -> str:
    """The environment variable `setting` is read from: the prefixed name when it is set (in any case, as
    pydantic-settings reads names), else the plain one."""
    prefixed = f"{env_prefix}{setting}".upper()
    if setting and env_prefix and any(name.upper() == prefixed for name in os.environ):
        return prefixed
    return setting
