"""`asyncapi` and `kafka-access` print what the code declares, so they work without the connection settings
and the secrets, which `run`, `migrate` and `check-config` still require."""

import json
from pathlib import Path

import pytest
from pydantic import Field, SecretStr
from typer.testing import CliRunner

from karmayogi_runtime.cli import service_cli
from karmayogi_runtime.service import ServiceDefinition

from ledger.service import LedgerSettings, definition

pytestmark = pytest.mark.unit

LEDGER_ACCESS = {
    "reads": ["certificate.revoked", "employee.enrolled", "session.attended"],
    "writes": ["certificate.revoked", "certificate.revoked.dlq", "employee.enrolled.dlq", "session.attended.dlq"],
    "groups": ["ledger.attendance", "ledger.audit", "ledger.roster"],
}


class TokenSettings(LedgerSettings):
    admin_token: SecretStr = Field(min_length=32)


def token_ledger(settings: TokenSettings | None = None) -> ServiceDefinition:
    """A service with a secret of its own, as certification's ADMIN_TOKEN."""
    return definition(settings or TokenSettings())


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    """An environment with none of the ledger's settings (as `env -i`), whatever the test run's shell has."""
    for setting in TokenSettings.model_fields:
        monkeypatch.delenv(setting.upper(), raising=False)
        monkeypatch.delenv(f"LEDGER_{setting.upper()}", raising=False)


def invoke(*args: str, build=token_ledger):
    return CliRunner().invoke(service_cli("ledger", build), list(args))


def test_kafka_access_is_printed_without_connection_settings_or_secrets():
    result = invoke("kafka-access")

    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(result.stdout) == LEDGER_ACCESS


def test_kafka_access_puts_the_topic_prefix_before_every_name(monkeypatch):
    monkeypatch.setenv("LEDGER_KAFKA_TOPIC_PREFIX", "dev.")

    access = json.loads(invoke("kafka-access").stdout)

    assert access == {kind: [f"dev.{name}" for name in names] for kind, names in LEDGER_ACCESS.items()}


def test_the_asyncapi_document_is_printed_without_settings_and_names_no_server():
    result = invoke("asyncapi")

    assert (result.exit_code, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert {channel["address"] for channel in document["channels"].values()} == {
        "employee.enrolled", "session.attended", "certificate.revoked"}
    assert "servers" not in result.stdout


def test_the_asyncapi_document_names_the_configured_brokers(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0.kafka:9092")

    document = json.loads(invoke("asyncapi").stdout)

    assert [server["host"] for server in document["servers"].values()] == ["kafka-0.kafka:9092"]


@pytest.mark.parametrize("command", ["check-config", "run", "migrate"])
def test_the_commands_that_use_the_settings_still_refuse_them_incomplete(command):
    result = invoke(command)

    assert (result.exit_code, result.stderr.splitlines()) == (2, [
        "ledger: KAFKA_BOOTSTRAP_SERVERS is not set.", "ledger: DATABASE_URL is not set.",
        "ledger: ADMIN_TOKEN is not set."])


@pytest.mark.parametrize("command", ["kafka-access", "asyncapi"])
def test_a_setting_that_is_set_is_checked_all_the_same(monkeypatch, command):
    monkeypatch.setenv("LEDGER_DATABASE_URL", "mysql://ledger@db/ledger")
    monkeypatch.setenv("ADMIN_TOKEN", "s3cr3")

    result = invoke(command)

    assert (result.exit_code, result.stderr.splitlines()) == (2, [
        "ledger: LEDGER_DATABASE_URL is invalid: it must start with postgresql:// (as in "
        "postgresql://user:password@host:5432/database), not mysql:.",
        "ledger: ADMIN_TOKEN is invalid: it must be at least 32 characters long."])


def test_what_describing_builds_on_disk_is_kept_out_of_the_local_data_dir(monkeypatch, tmp_path):
    """Certification makes a signing key under LOCAL_DATA_DIR when none is configured: a command that only
    prints its topics must not leave one behind (nor one the service would later sign with)."""
    monkeypatch.setenv("LOCAL_DATA_DIR", str(tmp_path))
    folders: list[Path] = []

    def writes_a_key(settings: TokenSettings | None = None) -> ServiceDefinition:
        settings = settings or TokenSettings()
        folders.append(Path(settings.local_data_dir))
        (folders[-1] / "signing-keys.json").write_text("{}")
        return token_ledger(settings)

    assert invoke("kafka-access", build=writes_a_key).exit_code == 0
    assert list(tmp_path.iterdir()) == []
    assert not folders[0].exists()


def test_a_build_that_takes_no_settings_is_described_with_the_settings_run_needs():
    result = invoke("kafka-access", build=lambda: definition(LedgerSettings()))

    assert result.exit_code == 2
