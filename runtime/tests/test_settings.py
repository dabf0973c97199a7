"""Settings an operator gets wrong are refused before anything connects, in one sentence each, and what
asyncpg cannot use is never waited for as if the server were down; what is waited for ends in a sentence too."""

import asyncpg
import pytest
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from typer.testing import CliRunner

from karmayogi_runtime.broker import TopicsMissing
from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.database import check_connection, describe, is_transient
from karmayogi_runtime.service import until_available
from karmayogi_runtime.settings import CannotStart, ServiceSettings

from ledger.service import LedgerSettings, definition

pytestmark = pytest.mark.unit

KAFKA = "kafka-0.kafka:9092,kafka-1.kafka:9092"


def check_config(monkeypatch, build=definition, **environment: str) -> tuple[int, list[str]]:
    """`karmayogi-ledger check-config` with these LEDGER_ settings; its exit status and stderr lines."""
    settings = {"DATABASE_URL": "postgresql://ledger:pw@db:5432/ledger", "KAFKA_BOOTSTRAP_SERVERS": KAFKA, **environment}
    for name, value in settings.items():
        monkeypatch.setenv(f"LEDGER_{name}", value)
    result = CliRunner().invoke(service_cli("ledger", build), ["check-config"])
    return result.exit_code, result.stderr.splitlines()


@pytest.mark.parametrize("url, sentence", [
    ("mysql://ledger:pw@db/ledger", "it must start with postgresql:// (as in postgresql://user:password@host:5432/database), not mysql:."),
    ("db:5432/ledger", "it must start with postgresql:// (as in postgresql://user:password@host:5432/database), not db:."),
    ("postgresql://ledger:pw@127.0.0.1:notaport/ledger", "its port 'notaport' is not a number from 1 to 65535: "
                                                         "postgresql://user:password@host:5432/database."),
    ("postgresql://ledger:pw@/ledger", "it names no host: postgresql://user:password@host:5432/database."),
    ("postgresql://ledger:pw@db:5432", "it names no database: postgresql://user:password@host:5432/database."),
    ("postgresql://ledger:pw@[::1/ledger", "it cannot be read as a URL (Invalid IPv6 URL): "
                                           "postgresql://user:password@host:5432/database."),
])
def test_a_database_url_asyncpg_cannot_use_is_refused_by_check_config_without_showing_the_password(
    monkeypatch, url, sentence
):
    assert check_config(monkeypatch, DATABASE_URL=url) == (2, [f"ledger: LEDGER_DATABASE_URL is invalid: {sentence}"])


@pytest.mark.parametrize("url", [
    "postgresql://ledger:pw@db:5432/ledger?sslmode=verify-full&sslrootcert=/etc/karmayogi/postgres-ca.crt",
    "postgres://ledger@db/ledger", "postgresql://ledger@[::1]:5432/ledger", "postgresql://ledger@db-0:5432,db-1:5433/ledger",
    "postgresql:///ledger?host=/var/run/postgresql",
])
def test_the_database_urls_libpq_takes_are_accepted(monkeypatch, url):
    assert check_config(monkeypatch, DATABASE_URL=url)[0] == 0


@pytest.mark.parametrize("servers, entry", [
    ("127.0.0.1:abc", "127.0.0.1:abc"), ("not a host", "not a host"), ("kafka-0:9092,kafka-1", "kafka-1"),
    ("kafka-0:9092,", ""), ("kafka-0:70000", "kafka-0:70000"),
])
def test_a_kafka_bootstrap_entry_that_is_not_host_and_port_is_named(monkeypatch, servers, entry):
    assert check_config(monkeypatch, KAFKA_BOOTSTRAP_SERVERS=servers) == (
        2, [f"ledger: LEDGER_KAFKA_BOOTSTRAP_SERVERS is invalid: '{entry}' is not a host:port pair such as kafka:9092."])


@pytest.mark.parametrize("name", ["Asia/Calcutta", "Asia/Kolkata", "UTC"])
def test_a_time_zone_this_machine_knows_is_accepted(monkeypatch, name):
    assert check_config(monkeypatch, TIMEZONE=name)[0] == 0


@pytest.mark.parametrize("name", ["Asia/Kolkatta", "IST+5:30", "../etc/passwd"])
def test_a_misspelt_time_zone_is_refused_rather_than_read_as_india(monkeypatch, name):
    assert check_config(monkeypatch, TIMEZONE=name) == (
        2, [f"ledger: LEDGER_TIMEZONE is invalid: '{name}' is not a time zone name this machine knows, such as Asia/Kolkata."])


def test_a_rule_about_several_settings_is_said_in_its_own_words(monkeypatch):
    assert check_config(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL") == (
        2, ["ledger: KAFKA_SECURITY_PROTOCOL is SASL_* but KAFKA_USERNAME or KAFKA_PASSWORD is not set."])


def test_a_secret_that_is_too_short_is_counted_in_characters_and_not_shown(monkeypatch):
    class TokenSettings(LedgerSettings):
        model_config = SettingsConfigDict(env_prefix="LEDGER_")
        admin_token: SecretStr = Field(min_length=32)

    code, lines = check_config(monkeypatch, lambda: definition(TokenSettings()), ADMIN_TOKEN="s3cr3")

    assert (code, lines) == (2, ["ledger: ADMIN_TOKEN is invalid: it must be at least 32 characters long."])


@pytest.mark.parametrize(("keys", "said"), [
    ("", "no API keys (API_KEYS gives none), so its routes behind a state's key refuse every request"),
    (" , ", "no API keys (API_KEYS gives none), so its routes behind a state's key refuse every request"),
    (f"IN-HR:{'h' * 32}", "keys for IN-HR"),
    (f"IN-HR:{'h' * 32},*:{'a' * 32},IN-BR:{'b' * 32},IN-HR:{'i' * 32}", "keys for every state, IN-BR and IN-HR"),
])
def test_check_config_says_whose_api_keys_the_service_holds_never_the_keys(monkeypatch, keys, said):
    monkeypatch.setenv("LEDGER_API_KEYS", keys)
    assert check_config(monkeypatch) == (0, [])

    result = CliRunner().invoke(service_cli("ledger", definition), ["check-config"])

    assert result.stdout == f"ledger: configuration is complete (HTTP port 8000; {said}).\n"


def test_a_missing_setting_is_named(monkeypatch):
    monkeypatch.delenv("LEDGER_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://ledger@db/ledger")

    result = CliRunner().invoke(service_cli("ledger", definition), ["check-config"])

    assert (result.exit_code, result.stderr) == (2, "ledger: KAFKA_BOOTSTRAP_SERVERS is not set.\n")


async def test_a_url_asyncpg_cannot_use_stops_the_start_up_at_once_rather_than_being_waited_for():
    with pytest.raises(CannotStart, match=r"^PostgreSQL at db:5432/ledger as 'ledger': DATABASE_URL cannot be used "
                                          r"\(`sslmode` parameter must be one of"):
        await check_connection("postgresql://ledger:pw@db:5432/ledger?sslmode=always")
    assert not is_transient(asyncpg.ClientConfigurationError("invalid DSN"))
    assert is_transient(asyncpg.InterfaceError("connection is closed"))


def test_a_database_url_is_described_without_its_password_even_when_malformed():
    assert describe("postgresql://ledger:pw@127.0.0.1:notaport/ledger") == "127.0.0.1:notaport/ledger as 'ledger'"
    assert describe("postgresql://ledger:pw@[::1/ledger") == "the server DATABASE_URL names"


def test_settings_given_in_code_are_checked_too():
    with pytest.raises(ValueError, match="not a host:port pair"):
        ServiceSettings(database_url="postgresql://ledger@db/ledger", kafka_bootstrap_servers="kafka")


async def test_topics_that_never_appear_end_the_start_up_saying_what_to_create():
    async def log_in() -> None:
        raise TopicsMissing("kafka-0.kafka:9092", ["hr.session.attended", "hr.session.attended.dlq"])

    with pytest.raises(CannotStart, match=r"^Kafka at kafka-0.kafka:9092 has no topic hr.session.attended, "
                                          r"hr.session.attended.dlq after 0s: create the topics \(locally"):
        await until_available("Kafka", log_in, timeout=0)
