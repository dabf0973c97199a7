"""Settings and signing keys the service cannot work with stop it at start-up with one sentence naming
what to correct, never with a stack trace or key material, and never later as dead-lettered events."""

import json
from datetime import datetime, timezone

import pytest
from karmayogi_runtime.settings import CannotStart
from pydantic import ValidationError
from typer.testing import CliRunner

from certification import keys
from certification.main import cli
from certification.settings import CertificationSettings
from certification_samples import ADMIN_TOKEN

pytestmark = pytest.mark.unit


def _settings(**overrides) -> CertificationSettings:
    return CertificationSettings(database_url="postgresql://certification@db/certification",
                                 kafka_bootstrap_servers="kafka:9092", admin_token=ADMIN_TOKEN, **overrides)


@pytest.mark.parametrize("url", ["https://verify.hr.gov.in", "https://verify.hr.gov.in/", "http://127.0.0.1:8103",
                                 "http://localhost:8103/"])
def test_the_public_base_url_may_be_https_or_plain_http_on_this_machine(url):
    assert _settings(public_base_url=url).public_base_url == url


@pytest.mark.parametrize("url", ["http://verify.hr.gov.in", "verify.hr.gov.in", "ftp://verify.hr.gov.in",
                                 "https://verify hr.gov.in"])
def test_a_public_base_url_the_certificate_issued_event_would_refuse_is_refused_at_start_up(url):
    with pytest.raises(ValidationError) as refused:
        _settings(public_base_url=url)
    [problem] = refused.value.errors()
    assert problem["loc"] == ("public_base_url",)
    assert problem["msg"].startswith("must be an https URL (plain http only on localhost or 127.0.0.1)")


def _key(day: int = 1, **changes) -> dict:
    return {**keys.new_key(datetime(2026, 1, day, tzinfo=timezone.utc)), **changes}


@pytest.mark.parametrize(("content", "problem"), [
    (None, "does not exist; mount the private JWK Set there or correct SIGNING_KEYS_FILE."),
    ('{"keys": [', "is not valid JSON (Expecting value at line 1, column 11)."),
    ("[]", 'cannot be used: it must be a JWK Set, {"keys": [...]}.'),
    ('{"keys": []}', "cannot be used: it holds no key."),
    (json.dumps({"keys": [_key(kty="RSA")]}), "cannot be used: every signing key must be a private Ed25519 JWK"),
    (json.dumps({"keys": [_key(d=_key()["d"][:20])]}),
     "cannot be used: the private part (d) of key 'ed25519-20260101T000000' is not 32 bytes of base64url."),
    (json.dumps({"keys": [_key(), _key(2, kid="ed25519-20260101T000000")]}),
     "cannot be used: two keys have the same kid 'ed25519-20260101T000000'; every key needs its own."),
])
def test_a_signing_key_file_that_cannot_be_used_is_one_sentence_naming_it(tmp_path, content, problem):
    path = tmp_path / "signing-keys.json"
    if content is not None:
        path.write_text(content)

    with pytest.raises(CannotStart) as refused:
        keys.load(str(path), str(tmp_path))

    assert str(refused.value).startswith(f"The signing key file {path} {problem}")
    if content and '"d"' in content:
        assert not any(key["d"][:8] in str(refused.value) for key in json.loads(content)["keys"])


def test_check_config_names_an_unusable_key_file_in_one_line_without_a_stack_trace(tmp_path):
    environment = {"DATABASE_URL": "postgresql://certification@db/certification", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
                   "CERTIFICATION_ADMIN_TOKEN": ADMIN_TOKEN, "CERTIFICATION_SIGNING_KEYS_FILE": str(tmp_path / "absent.json")}

    result = CliRunner().invoke(cli, ["check-config"], env=environment)

    assert result.exit_code == 1
    assert result.stderr == f"certification: The signing key file {tmp_path / 'absent.json'} does not exist; mount the " \
                            "private JWK Set there or correct SIGNING_KEYS_FILE.\n"


def test_the_key_signing_key_id_names_signs_while_every_key_is_published(tmp_path):
    old, new = (keys.new_key(datetime(2026, month, 1, tzinfo=timezone.utc)) for month in (1, 11))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [old, new]}))

    publishing_first = keys.load(str(path), str(tmp_path), old["kid"])  # the first rollout of a rotation
    assert publishing_first.current.kid == old["kid"]
    assert [key["kid"] for key in publishing_first.jwks()["keys"]] == [old["kid"], new["kid"]]
    assert keys.load(str(path), str(tmp_path), new["kid"]).current.kid == new["kid"]  # the second
    assert keys.load(str(path), str(tmp_path)).current.kid == new["kid"]  # unset: the last

    with pytest.raises(CannotStart) as refused:
        keys.load(str(path), str(tmp_path), "ed25519-typo")
    assert str(refused.value) == (f"The signing key file {path} cannot be used: SIGNING_KEY_ID 'ed25519-typo' names "
                                  f"none of its keys ({old['kid']}, {new['kid']}).")

