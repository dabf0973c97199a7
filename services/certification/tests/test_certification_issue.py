"""Issuing, verifying and revoking certificates, against the real Kafka and PostgreSQL."""

import asyncio
import subprocess
import time
from datetime import datetime, timezone
from uuid import UUID, uuid5

import httpx
import jwt
import pytest
from karmayogi_contracts import decode, ids
from karmayogi_runtime import calendar
from karmayogi_runtime.dead_letter_topics import read_records
from karmayogi_runtime.testing import service_client

from certification.main import MIGRATIONS_DIR, definition
from certification_samples import ADMIN_TOKEN, TENANT, completed, tool
from certification_samples import issued_certificate as _certificate
from certification_samples import publish as _publish

pytestmark = pytest.mark.integration


async def _records(runtime, topic: str, expected: int, timeout: float = 30) -> list:
    """The Kafka records on `topic`, once there are `expected` of them or `timeout` has passed."""
    topic = runtime.definition.settings.kafka_topic_prefix + topic
    deadline = time.monotonic() + timeout
    while True:
        records = await read_records(runtime.definition.settings.kafka_bootstrap_servers, [topic])
        if len(records) >= expected or time.monotonic() > deadline:
            return [r.record for r in records]
        await asyncio.sleep(0.3)


async def _issued(runtime, expected: int, timeout: float = 30) -> list:
    return [decode(r.value, r.headers) for r in await _records(runtime, "certificate.issued", expected, timeout)]


async def test_duplicated_and_redelivered_completions_yield_exactly_one_certificate(certifier):
    runtime, client = certifier
    event = completed()
    # the same completion reported again by another source: a new event id, same enrolment and employee
    again = completed(event.data.employee.name, enrolment_id=event.data.enrolment_id, employee_id=event.data.employee.id)
    await _publish(runtime, [event, event, again])
    await _publish(runtime, [event])

    certificate = await _certificate(client, event)
    issued = await _issued(runtime, 2, timeout=5)  # waits for a wrong second one, then settles
    assert [e.data.certificate_id for e in issued] == [ids.certificate_id(TENANT, event.data.enrolment_id)]
    assert issued[0].data.verify_url == certificate["verify_url"]
    assert issued[0].key == f"{TENANT}:{event.data.employee.id}"
    async with runtime.pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM certificates") == 1


async def test_the_credential_verifies_with_an_independent_jose_library_and_one_altered_byte_fails(certifier):
    runtime, client = certifier
    event = completed()
    await _publish(runtime, [event])
    token = (await _certificate(client, event))["credential"]
    jwks = (await client.get("/.well-known/jwks.json")).json()

    header = jwt.get_unverified_header(token)
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(token, key=key, algorithms=["EdDSA"])
    assert claims["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert claims["credentialSubject"]["name"] == "क्षितिज द्विवेदी"
    assert claims["credentialSubject"]["achievement"]["tag"] == ["Integrity", "Citizen centricity"]
    assert header["typ"] == "vc+jwt"

    payload = token.split(".")[1]
    altered = token.replace(payload, payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(altered, key=key, algorithms=["EdDSA"])
    checked = (await client.post("/v1/credentials/verify", json={"credential": altered})).json()
    assert checked["status"] in ("invalid_signature", "malformed") and not checked["valid"]
    assert (await client.post("/v1/credentials/verify", json={"credential": token})).json()["valid"]


async def test_after_a_key_rotation_certificates_signed_with_the_old_key_still_verify(
    database_factory, make_settings, keys_file
):
    url = await database_factory(MIGRATIONS_DIR)
    first, second = completed(), completed("Harjeet Singh")
    async with service_client(definition(await make_settings(url, signing_keys_file=keys_file(1)))) as (runtime, client):
        await _publish(runtime, [first])
        old = (await _certificate(client, first))["credential"]
    async with service_client(definition(await make_settings(url, signing_keys_file=keys_file(2)))) as (runtime, client):
        await _publish(runtime, [second])
        new = (await _certificate(client, second))["credential"]
        jwks = (await client.get("/.well-known/jwks.json")).json()
        assert len(jwks["keys"]) == 2
        assert jwt.get_unverified_header(old)["kid"] != jwt.get_unverified_header(new)["kid"]
        for token in (old, new):
            assert (await client.post("/v1/credentials/verify", json={"credential": token})).json()["valid"]


async def test_a_revoked_certificate_shows_revoked_on_the_page_the_json_and_the_credential_check(certifier):
    runtime, client = certifier
    event = completed()
    await _publish(runtime, [event])
    certificate = await _certificate(client, event)
    path = f"/v1/certificates/{certificate['certificate_id']}/revocation"

    refused = await client.post(path, json={"reason": "Issued for the wrong employee."})
    assert refused.status_code == 401 and "token" in refused.json()["detail"][0]
    revoked = await client.post(path, json={"reason": "Issued for the wrong employee."},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"

    page = await client.get(f"/verify/{certificate['certificate_id']}")
    assert "REVOKED" in page.text and "Issued for the wrong employee." in page.text
    assert (await client.get(f"/v1/certificates/{certificate['certificate_id']}")).json()["status"] == "revoked"
    checked = (await client.post("/v1/credentials/verify", json={"credential": certificate["credential"]})).json()
    assert checked["status"] == "revoked" and not checked["valid"]
    hindi = await client.get(f"/verify/{certificate['certificate_id']}?lang=hi")
    assert "रद्द" in hindi.text

    records = await _records(runtime, "certificate.revoked", 1)
    assert len(records) == 1
    published = decode(records[0].value, records[0].headers)
    assert published.id == uuid5(UUID(certificate["certificate_id"]), "revoked")  # the same id on a retry
    assert published.data.reason == "Issued for the wrong employee."
    assert records[0].key == f"{TENANT}:{event.data.employee.id}".encode() == published.key.encode()


async def test_the_credential_s_status_link_is_on_the_public_host_and_shows_a_revocation(certifier):
    runtime, client = certifier
    event = completed()
    await _publish(runtime, [event])
    certificate = await _certificate(client, event)
    status_url = jwt.decode(certificate["credential"], options={"verify_signature": False})["credentialStatus"]["id"]
    base = runtime.definition.settings.public_base_url
    # The production Ingress routes only /verify/ and the JWKS to the public host.
    assert status_url == f"{base}/verify/{certificate['certificate_id']}/status"

    status = await client.get(status_url.removeprefix(base))
    assert status.status_code == 200 and status.json()["status"] == "valid"
    assert "credential" not in status.json()  # the public status holds what the public page shows
    await client.post(f"/v1/certificates/{certificate['certificate_id']}/revocation", json={"reason": "Issued in error."},
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    revoked = (await client.get(status_url.removeprefix(base))).json()
    assert revoked["status"] == "revoked" and revoked["revocation_reason"] == "Issued in error."
    assert (await client.get(f"/v1/certificates/{certificate['certificate_id']}")).json()["status"] == "revoked"


async def test_a_revocation_reason_the_event_would_refuse_is_a_422_and_nothing_is_revoked(certifier):
    runtime, client = certifier
    event = completed()
    await _publish(runtime, [event])
    certificate = await _certificate(client, event)

    for reason, sentence in [("Issued in error.\nSee the file.", "body.reason: must not contain control characters"),
                             ("Issued\tin error.", "body.reason: must not contain control characters"),
                             ("     ", "body.reason: must not be empty or only spaces")]:
        refused = await client.post(f"/v1/certificates/{certificate['certificate_id']}/revocation",
                                    json={"reason": reason}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert refused.status_code == 422 and refused.json()["detail"] == [sentence]

    assert (await client.get(f"/v1/certificates/{certificate['certificate_id']}")).json()["status"] == "valid"
    assert await _records(runtime, "certificate.revoked", 1, timeout=2) == []


async def test_a_revoked_certificate_is_no_longer_served_as_a_pdf_even_when_it_was_rendered_before(certifier):
    runtime, client = certifier
    event = completed()
    await _publish(runtime, [event])
    certificate = await _certificate(client, event)
    assert (await client.get(f"/verify/{certificate['certificate_id']}/pdf")).status_code == 200  # now cached

    await client.post(f"/v1/certificates/{certificate['certificate_id']}/revocation", json={"reason": "Issued in error."},
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    revoked_on = calendar.day_of(datetime.now(timezone.utc))
    gone = await client.get(f"/v1/certificates/{certificate['certificate_id']}/pdf")  # a state system's: JSON
    assert gone.status_code == 410
    assert gone.json()["detail"] == [
        f"Certificate {certificate['certificate_id']} was revoked on {revoked_on:%d-%m-%Y}, so it is no longer "
        f"offered as a PDF; its verification page says why: {certificate['verify_url']}"]
    linked = await client.get(f"/verify/{certificate['certificate_id']}/pdf")  # the e-mail's link: a page
    assert linked.status_code == 410 and linked.headers["content-type"].startswith("text/html")
    assert f"revoked on {revoked_on:%d-%m-%Y}" in linked.text and "application/pdf" not in linked.text


async def test_an_igot_completion_without_a_batch_yields_a_certificate(certifier):
    runtime, client = certifier
    event = completed("Amit Yadav", igot=True)
    await _publish(runtime, [event])
    assert (await _certificate(client, event))["status"] == "valid"


async def test_an_unknown_certificate_is_a_not_found_page_not_an_error(certifier):
    _, client = certifier
    for certificate_id in ("0b0b0b0b-0000-4000-8000-000000000000", "not-a-number"):
        page = await client.get(f"/verify/{certificate_id}")
        assert page.status_code == 404 and "NOT FOUND" in page.text


async def test_the_pdf_shows_the_name_in_devanagari_and_its_qr_code_opens_the_verification_page(certifier, tmp_path):
    pdftoppm, zbarimg, pdftotext = tool("pdftoppm"), tool("zbarimg"), tool("pdftotext")
    runtime, client = certifier
    event = completed("क्षितिज द्विवेदी")
    await _publish(runtime, [event])
    certificate = await _certificate(client, event)

    response = await client.get(f"/v1/certificates/{certificate['certificate_id']}/pdf")
    assert response.headers["content-type"] == "application/pdf"
    linked = await client.get(f"/verify/{certificate['certificate_id']}/pdf")  # the download link in the e-mail
    assert linked.content == response.content
    (tmp_path / "c.pdf").write_bytes(response.content)
    subprocess.run([pdftoppm, "-png", "-r", "100", str(tmp_path / "c.pdf"), str(tmp_path / "page")], check=True)
    decoded = subprocess.run([zbarimg, "-q", "--raw", str(tmp_path / "page-1.png")], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == certificate["verify_url"]
    text = subprocess.run([pdftotext, str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    # Extraction puts spaces between shaped clusters; the letters and their order must all be there.
    assert "क्षितिजद्विवेदी" in text.replace(" ", "") and "Ethics in Governance" in text
    issued_on = calendar.day_of(datetime.fromisoformat(certificate["issued_at"]))  # the state's day, not UTC's
    assert f"on {issued_on:%d-%m-%Y}" in text  # as the e-mail, the SMS and the page write it
    fonts = subprocess.run([tool("pdffonts"), str(tmp_path / "c.pdf")], capture_output=True, text=True, check=True).stdout
    assert "NotoSansDevanagari" in fonts and "emb" in fonts


async def test_the_verification_page_shows_status_and_name_in_a_real_browser(database_factory, make_settings, tmp_path):
    import uvicorn
    from karmayogi_runtime.service import create_http_app, running

    chromium = tool("chromium")
    settings = await make_settings(await database_factory(MIGRATIONS_DIR))
    service = definition(settings)
    async with running(service) as runtime:
        event = completed("सुनीता देवी")
        await _publish(runtime, [event])
        server = uvicorn.Server(uvicorn.Config(create_http_app(service, runtime), host="127.0.0.1", port=0, log_config=None))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            certificate = await _certificate(client, event)
        url = f"http://127.0.0.1:{port}/verify/{certificate['certificate_id']}?lang=hi"
        browser = await asyncio.to_thread(subprocess.run, [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", url], capture_output=True, text=True, timeout=120)
        server.should_exit = True
        await serving
    assert 'id="status">मान्य<' in browser.stdout
    assert 'id="name">सुनीता देवी<' in browser.stdout
