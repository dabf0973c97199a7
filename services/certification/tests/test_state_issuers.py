"""Each state's certificates in that state's name, and only completions that could be true, against the real
Kafka and PostgreSQL: a Bihar completion is certified by Bihar's issuer, one of a state with no issuer waits in
the dead-letter topic until the operator adds it and replays it, and a completion dated in the future or with
another enrolment's completion id is dead-lettered with the reason."""

import asyncio
import subprocess
import time
import uuid
from datetime import datetime, timezone

import jwt
import pytest
from karmayogi_contracts import ids
from karmayogi_runtime.dead_letter_topics import read_dead_letters, replay
from karmayogi_runtime.testing import send_with_key, service_client

from certification import issuers
from certification.main import MIGRATIONS_DIR, definition
from certification_samples import ADMIN_TOKEN, completed, issued_certificate, publish, tool

pytestmark = pytest.mark.integration

BIHAR = {"name": "Bihar Institute of Public Administration and Rural Development", "id": "https://bipard.bihar.gov.in",
         "signatory": "Director General, BIPARD"}
BOTH = {"IN-HR": vars(issuers.HARYANA), "IN-BR": BIHAR}


async def _dead_letters(runtime, expected: int, timeout: float = 30) -> list:
    settings = runtime.definition.settings
    deadline = time.monotonic() + timeout
    while True:
        letters = await read_dead_letters(settings.kafka_bootstrap_servers,
                                          [settings.kafka_topic_prefix + "course.completed.dlq"])
        if len(letters) >= expected or time.monotonic() > deadline:
            return letters
        await asyncio.sleep(0.3)


async def _certificates(runtime) -> int:
    async with runtime.pool.acquire() as connection:
        return await connection.fetchval("SELECT count(*) FROM certificates")


async def test_a_bihar_certificate_is_issued_printed_and_checked_in_bihar_s_name(database_factory, make_settings,
                                                                                  tmp_path):
    settings = await make_settings(await database_factory(MIGRATIONS_DIR), issuers=BOTH)
    bihar, haryana = completed("Ravi Kumar", tenant="IN-BR"), completed("Harjeet Singh")
    async with service_client(definition(settings)) as (runtime, client):
        await publish(runtime, [bihar, haryana])
        certificate = await issued_certificate(client, bihar)
        claims = jwt.decode(certificate["credential"], options={"verify_signature": False})
        assert certificate["issuer"] == claims["issuer"]["name"] == BIHAR["name"]
        assert claims["issuer"]["id"] == claims["iss"] == "https://bipard.bihar.gov.in"
        page = (await client.get(f"/verify/{certificate['certificate_id']}")).text
        assert BIHAR["name"] in page and "Haryana" not in page
        status = (await client.get(f"/verify/{certificate['certificate_id']}/status")).json()
        assert status["issuer"] == BIHAR["name"]
        checked = await client.post("/v1/credentials/verify", json={"credential": certificate["credential"]})
        assert checked.json()["valid"] and checked.json()["status"] == "valid"
        pdf = (await client.get(f"/verify/{certificate['certificate_id']}/pdf")).content

        haryana_s = await issued_certificate(client, haryana)
        assert haryana_s["issuer"] == issuers.HARYANA.name
        assert jwt.decode(haryana_s["credential"], options={"verify_signature": False})["iss"] == issuers.HARYANA.id

    (tmp_path / "bihar.pdf").write_bytes(pdf)
    text = subprocess.run([tool("pdftotext"), str(tmp_path / "bihar.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Bihar Institute of Public Administration" in text and "Director General, BIPARD" in text
    assert "Haryana" not in text and "HIPA" not in text


async def test_a_completion_of_a_state_without_an_issuer_waits_dead_lettered_until_the_operator_adds_it(
    database_factory, make_settings
):
    url = await database_factory(MIGRATIONS_DIR)
    bihar, haryana = completed("Ravi Kumar", tenant="IN-BR"), completed("Harjeet Singh")
    async with service_client(definition(await make_settings(url))) as (runtime, client):  # Haryana's issuer only
        await publish(runtime, [bihar, haryana])
        assert (await issued_certificate(client, haryana))["issuer"] == issuers.HARYANA.name
        [letter] = await _dead_letters(runtime, 1)
        assert letter.why["error_class"] == "RuleViolation"
        assert letter.why["error_message"] == issuers.not_configured("IN-BR")
        assert (await client.get(f"/v1/certificates/{ids.certificate_id('IN-BR', bihar.data.enrolment_id)}")
                ).status_code == 404
        assert await _certificates(runtime) == 1

    async with service_client(definition(await make_settings(url, issuers=BOTH))) as (runtime, client):
        settings = runtime.definition.settings
        await replay(settings.kafka_bootstrap_servers, [letter], topic_prefix=settings.kafka_topic_prefix)
        assert (await issued_certificate(client, bihar))["issuer"] == BIHAR["name"]


async def test_a_bihar_certificate_issued_in_haryana_s_name_is_refused_once_bihar_has_its_own_issuer(
    database_factory, make_settings
):
    url = await database_factory(MIGRATIONS_DIR)
    bihar, haryana = completed("Ravi Kumar", tenant="IN-BR"), completed("Harjeet Singh")
    # As the one deployment-wide issuer did before: Bihar's certificate in Haryana's name.
    as_before = {"IN-HR": vars(issuers.HARYANA), "IN-BR": vars(issuers.HARYANA)}
    async with service_client(definition(await make_settings(url, issuers=as_before))) as (runtime, client):
        await publish(runtime, [bihar, haryana])
        mislabelled = (await issued_certificate(client, bihar))["credential"]
        haryana_s = (await issued_certificate(client, haryana))["credential"]

    async with service_client(definition(await make_settings(url, issuers=BOTH))) as (runtime, client):
        refused = (await client.post("/v1/credentials/verify", json={"credential": mislabelled})).json()
        assert refused["valid"] is False and refused["status"] == "wrong_issuer"
        assert refused["message"] == ("The credential was issued by 'https://hipa.haryana.gov.in', not by "
                                      "https://bipard.bihar.gov.in, the issuer of IN-BR's certificates.")
        # The page and the status say what the check says, not VALID.
        certificate_id = ids.certificate_id("IN-BR", bihar.data.enrolment_id)
        status = (await client.get(f"/verify/{certificate_id}/status")).json()
        assert (status["status"], status["message"]) == ("wrong_issuer", refused["message"])
        listed = (await client.get("/v1/states/IN-BR/certificates")).json()["items"]
        assert [(c["certificate_id"], c["status"]) for c in listed] == [(str(certificate_id), "wrong_issuer")]
        for lang, why in (("en", "It was issued in the name of Haryana Institute of Public Administration, on behalf "
                                 "of the Government of Haryana, which is not the issuer of IN-BR&#39;s certificates."),
                          ("hi", "यह Haryana Institute of Public Administration, on behalf of the Government of "
                                 "Haryana के नाम से जारी किया गया है, जो IN-BR के प्रमाणपत्रों के जारीकर्ता नहीं हैं।")):
            shown = (await client.get(f"/verify/{certificate_id}?lang={lang}")).text
            assert why in shown and 'class="status valid"' not in shown
        assert (await client.get(f"/verify/{ids.certificate_id('IN-HR', haryana.data.enrolment_id)}/status")
                ).json()["status"] == "valid"

        # Revoked as well: the revocation is what it shows, with its reason, as the PDF link does.
        revoking = await send_with_key(client, "POST", f"/v1/certificates/{certificate_id}/revocation", ADMIN_TOKEN,
                                       json={"reason": "Issued in another state's name."})
        assert revoking.status_code == 200, revoking.text
        status = (await client.get(f"/verify/{certificate_id}/status")).json()
        assert status["status"] == "revoked" and status["message"].endswith(": Issued in another state's name.")
        listed = (await client.get("/v1/states/IN-BR/certificates")).json()["items"]
        assert [c["status"] for c in listed] == ["revoked"]
        checked = (await client.post("/v1/credentials/verify", json={"credential": mislabelled})).json()
        assert (checked["valid"], checked["status"]) == (False, "revoked")
        # Haryana's certificates, issued before, still verify: its issuer is unchanged.
        assert (await client.post("/v1/credentials/verify", json={"credential": haryana_s})).json()["valid"]


async def test_a_completion_dated_in_the_future_or_with_another_completion_id_is_dead_lettered(certifier):
    runtime, client = certifier
    future = completed(completed_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    other_enrolment = uuid.uuid4()
    mixed_up = completed(completion_id=ids.completion_id("IN-HR", other_enrolment))
    fine = completed()
    await publish(runtime, [future, mixed_up, fine])

    await issued_certificate(client, fine)
    letters = await _dead_letters(runtime, 2)
    assert {letter.why["error_class"] for letter in letters} == {"RuleViolation"}
    assert sorted(letter.why["error_message"] for letter in letters) == sorted([
        "The course is completed at 2030-01-01T00:00:00+00:00, in the future (more than 5 minutes ahead of this "
        "service's clock): check the sender's clock.",
        f"completion_id {ids.completion_id('IN-HR', other_enrolment)} is not the id of the completion of "
        f"enrolment {mixed_up.data.enrolment_id} in IN-HR (ids.completion_id gives "
        f"{ids.completion_id('IN-HR', mixed_up.data.enrolment_id)})."])
    assert await _certificates(runtime) == 1
