"""Each state's certificates are issued in its own issuer's name (ISSUERS, one JSON setting read at start-up),
and a credential is accepted only in the name of its certificate's state's issuer."""

import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from certification import credential, issuers
from certification.issuers import StateIssuer
from certification.main import cli
from certification.settings import CertificationSettings
from certification_samples import ADMIN_TOKEN

pytestmark = pytest.mark.unit

BIHAR = {"name": "Bihar Institute of Public Administration and Rural Development", "id": "https://bipard.bihar.gov.in",
         "signatory": "Director General, BIPARD"}
ENVIRONMENT = {"DATABASE_URL": "postgresql://certification@db/certification", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
               "CERTIFICATION_ADMIN_TOKEN": ADMIN_TOKEN}


def _settings(monkeypatch, **environment) -> CertificationSettings:
    for name, value in {**ENVIRONMENT, **environment}.items():
        monkeypatch.setenv(name, value)
    return CertificationSettings()


def test_unset_only_haryana_has_an_issuer_with_the_values_certificates_were_issued_with_so_far(monkeypatch):
    monkeypatch.delenv("ISSUERS", raising=False)
    assert _settings(monkeypatch).issuers == {"IN-HR": StateIssuer(
        name="Haryana Institute of Public Administration, on behalf of the Government of Haryana",
        id="https://hipa.haryana.gov.in", signatory="Director General, HIPA")}


def test_each_state_named_in_issuers_gets_its_own_issuer(monkeypatch):
    both = {"IN-HR": vars(issuers.HARYANA), "IN-BR": BIHAR}
    for variable in ("ISSUERS", "CERTIFICATION_ISSUERS"):
        settings = _settings(monkeypatch, **{variable: json.dumps(both)})
        assert settings.issuers == {"IN-HR": issuers.HARYANA, "IN-BR": StateIssuer(**BIHAR)}
        monkeypatch.delenv(variable)


@pytest.mark.parametrize(("value", "problems"), [
    ('{"IN-BR": ', ["it is not valid JSON (Expecting value at line 1, column 11); give an object from state code to "
                    f"issuer, such as {issuers.EXAMPLE}."]),
    ("[]", [f"it must be a JSON object from state code to issuer, naming at least one state, such as {issuers.EXAMPLE}."]),
    ("{}", [f"it must be a JSON object from state code to issuer, naming at least one state, such as {issuers.EXAMPLE}."]),
    (json.dumps({"Bihar": BIHAR}), ["'Bihar' is not a state code such as IN-HR."]),
    (json.dumps({"IN-BR": "BIPARD"}), ["IN-BR's issuer must be an object with a name, an id and a signatory."]),
    (json.dumps({"IN-BR": {**BIHAR, "id": "http://bipard.bihar.gov.in", "name": " ", "seal": "x"}}), [
        "IN-BR's issuer has 'seal', which is none of name, id and signatory.",
        "IN-BR's issuer has no name (a text that is not empty).",
        "IN-BR's issuer id 'http://bipard.bihar.gov.in' must be an https URL, such as https://hipa.haryana.gov.in: "
        "it is the credential's issuer.id."]),
    (json.dumps({"IN-HR": vars(issuers.HARYANA), "IN-BR": {"name": "BIPARD", "id": "https://bipard.bihar.gov.in"}}),
     ["IN-BR's issuer has no signatory (a text that is not empty)."]),
], ids=["not JSON", "a list", "no state", "not a state code", "not an object", "three problems", "no signatory"])
def test_issuers_that_cannot_be_used_stop_the_service_with_one_sentence_per_problem(monkeypatch, value, problems):
    with pytest.raises(ValidationError) as refused:
        _settings(monkeypatch, ISSUERS=value)

    [error] = refused.value.errors()
    assert error["loc"] == ("issuers",) and error["msg"] == " ".join(problems)


def test_check_config_names_each_problem_of_issuers_without_a_stack_trace():
    environment = {**ENVIRONMENT, "ISSUERS": json.dumps({"IN-BR": {**BIHAR, "id": "bipard"}, "IN-UP": {}})}

    result = CliRunner().invoke(cli, ["check-config"], env=environment)

    assert result.exit_code == 2
    assert result.stderr == (
        "certification: ISSUERS is invalid: IN-BR's issuer id 'bipard' must be an https URL, such as "
        "https://hipa.haryana.gov.in: it is the credential's issuer.id. IN-UP's issuer has no name (a text that is "
        "not empty). IN-UP's issuer has no id (a text that is not empty). IN-UP's issuer has no signatory (a text "
        "that is not empty).\n")


def test_a_credential_is_accepted_only_in_the_name_of_its_certificate_s_state_s_issuer():
    haryana_s = {"iss": "https://hipa.haryana.gov.in"}

    assert credential.issuer_problem(haryana_s, "IN-HR", "https://hipa.haryana.gov.in") is None
    assert credential.issuer_problem(haryana_s, "IN-BR", "https://bipard.bihar.gov.in") == (
        "The credential was issued by 'https://hipa.haryana.gov.in', not by https://bipard.bihar.gov.in, the issuer "
        "of IN-BR's certificates.")
    assert credential.issuer_problem(haryana_s, "IN-BR", None) == (
        "The credential was issued by 'https://hipa.haryana.gov.in', but no issuer is configured for IN-BR, its "
        "certificate's state.")


def test_a_state_without_an_issuer_is_told_to_the_operator_with_the_setting_to_add():
    assert issuers.not_configured("IN-BR") == (
        "No issuer is configured for IN-BR, so its certificate is not issued (never in another state's name): add "
        "IN-BR to the certification service's ISSUERS setting, then replay this event.")


def test_the_deployment_wide_issuer_settings_of_before_are_refused_rather_than_silently_ignored():
    environment = {**ENVIRONMENT, "ISSUER_NAME": "Bihar Institute of Public Administration and Rural Development",
                   "CERTIFICATION_ISSUER_ID": "https://bipard.bihar.gov.in"}

    result = CliRunner().invoke(cli, ["check-config"], env=environment)

    assert result.exit_code == 2
    assert result.stderr == ("certification: ISSUER_NAME, ISSUER_ID are no longer read: the issuer is set per state, "
                             f"in ISSUERS, such as {issuers.EXAMPLE}.\n")
