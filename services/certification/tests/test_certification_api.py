"""The API's answers to what officers, administrators and link checkers send, against the real Kafka and
PostgreSQL."""

import subprocess
from datetime import datetime

import pytest
from karmayogi_runtime import calendar

from karmayogi_runtime.testing import service_client

from certification import issuers
from certification.main import MIGRATIONS_DIR, definition
from certification_samples import ADMIN_TOKEN, completed, issued_certificate, publish, tool

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _one_certificate(certifier) -> tuple:
    runtime, client = certifier
    event = completed()
    await publish(runtime, [event])
    return client, await issued_certificate(client, event)


async def test_a_state_code_that_is_not_one_is_a_422_not_an_empty_list(certifier):
    _, client = certifier
    for path in ("/v1/states/in-hr/certificates/count", "/v1/states/foo/certificates", "/v1/states/IN-HRX/certificates"):
        refused = await client.get(path)
        assert refused.status_code == 422
        assert refused.json()["detail"] == ["path.tenant: String should match pattern '^IN-[A-Z]{2}$'"]


async def test_revoking_again_with_another_reason_is_a_409_saying_when_and_why_it_was_revoked(certifier):
    client, certificate = await _one_certificate(certifier)
    path = f"/v1/certificates/{certificate['certificate_id']}/revocation"
    first = await client.post(path, json={"reason": "Issued for the wrong employee."}, headers=ADMIN)
    assert first.status_code == 200

    repeated = await client.post(path, json={"reason": "Issued for the wrong employee."}, headers=ADMIN)
    assert repeated.status_code == 200 and repeated.json() == first.json()  # a client's retry
    changed = await client.post(path, json={"reason": "Duplicate certificate."}, headers=ADMIN)
    assert changed.status_code == 409
    revoked_on = calendar.day_of(datetime.fromisoformat(first.json()["revoked_at"]))  # the state's day
    assert changed.json()["detail"] == [
        f"Certificate {certificate['certificate_id']} was already revoked on {revoked_on:%d-%m-%Y} (reason: Issued for the "
        "wrong employee.), and a revocation's reason cannot be changed."]
    status = (await client.get(f"/verify/{certificate['certificate_id']}/status")).json()
    assert status["revocation_reason"] == "Issued for the wrong employee."


async def test_the_bearer_scheme_is_read_in_any_case_and_a_bare_token_is_refused_with_a_challenge(certifier):
    client, certificate = await _one_certificate(certifier)
    path = f"/v1/certificates/{certificate['certificate_id']}/revocation"
    for authorization in (ADMIN_TOKEN, f"Basic {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}x"):
        refused = await client.post(path, json={"reason": "Issued in error."}, headers={"Authorization": authorization})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["detail"] == [
            "Revoking a certificate needs the administrator's token, sent as 'Authorization: Bearer <token>'."]
    assert (await client.get(f"/verify/{certificate['certificate_id']}/status")).json()["status"] == "valid"

    accepted = await client.post(path, json={"reason": "Issued in error."}, headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "revoked"


async def test_link_checkers_asking_with_head_get_the_status_and_headers_of_get(certifier):
    client, certificate = await _one_certificate(certifier)
    for path in (f"/verify/{certificate['certificate_id']}", f"/verify/{certificate['certificate_id']}/pdf",
                 f"/verify/{certificate['certificate_id']}/status", "/verify/0b0b0b0b-0000-4000-8000-000000000000",
                 "/verify/0b0b0b0b-0000-4000-8000-000000000000/pdf"):
        got, head = await client.get(path), await client.head(path)
        assert head.status_code == got.status_code, path
        for header in ("content-type", "content-length", "content-disposition"):
            assert head.headers.get(header) == got.headers.get(header), (path, header)


async def test_a_malformed_id_on_the_public_paths_is_answered_as_an_unknown_one(certifier):
    _, client = certifier
    for path in ("/verify/not-a-uuid/status", "/v1/certificates/not-a-uuid/pdf"):
        got = await client.get(path)
        assert got.status_code == 404 and got.json()["detail"] == ["No certificate not-a-uuid exists."], path
    for path in ("/verify/not-a-uuid/status", "/verify/not-a-uuid/pdf"):
        assert (await client.head(path)).status_code == 404, path


async def test_the_pdf_link_of_an_unknown_or_cut_short_id_is_the_not_found_page_in_the_reader_s_language(certifier):
    _, client = certifier
    for certificate_id in ("0b0b0b0b-0000-4000-8000-000000000000", "0b0b0b0b-0000-40"):  # the SMS cut it short
        path = f"/verify/{certificate_id}/pdf"  # the link in the e-mail and the SMS, opened in a phone's browser
        hindi = await client.get(path, headers={"Accept-Language": "en;q=0.5, hi-IN"})
        assert hindi.status_code == 404 and hindi.headers["content-type"] == "text/html; charset=utf-8", path
        assert hindi.headers["content-language"] == "hi" and hindi.headers["vary"] == "Accept-Language"
        assert 'lang="hi"' in hindi.text and "नहीं मिला" in hindi.text
        assert hindi.text == (await client.get(f"/verify/{certificate_id}", headers={"Accept-Language": "hi"})).text
        english = await client.get(f"{path}?lang=en", headers={"Accept-Language": "hi"})
        assert english.status_code == 404 and english.headers["content-language"] == "en"
        assert "NOT FOUND" in english.text
        head = await client.head(path, headers={"Accept-Language": "en;q=0.5, hi-IN"})
        assert head.status_code == 404
        for header in ("content-type", "content-length", "content-language", "vary"):
            assert head.headers.get(header) == hindi.headers.get(header), header


async def test_the_page_answers_in_the_language_it_chose_and_varies_with_accept_language(certifier):
    client, certificate = await _one_certificate(certifier)
    path = f"/verify/{certificate['certificate_id']}"
    hindi = await client.get(path, headers={"Accept-Language": "en;q=0.1, hi"})
    assert hindi.headers["content-language"] == "hi" and 'lang="hi"' in hindi.text
    assert hindi.headers["vary"] == "Accept-Language"
    english = await client.get(f"{path}?lang=EN", headers={"Accept-Language": "hi"})
    assert english.headers["content-language"] == "en" and 'lang="en"' in english.text
    # The number and the PDF an employee with only a phone downloads from the page the SMS links to.
    assert certificate["certificate_id"] in english.text and f'href="{certificate["verify_url"]}/pdf"' in english.text


async def test_the_pdf_link_of_a_revoked_certificate_is_a_410_page_in_the_reader_s_language(certifier):
    client, certificate = await _one_certificate(certifier)
    revoked = await client.post(f"/v1/certificates/{certificate['certificate_id']}/revocation",
                                json={"reason": "Issued for the wrong employee."}, headers=ADMIN)
    revoked_on = calendar.day_of(datetime.fromisoformat(revoked.json()["revoked_at"]))  # the state's day
    path = f"/verify/{certificate['certificate_id']}/pdf"  # the link in the e-mail and the SMS

    hindi = await client.get(path, headers={"Accept-Language": "en;q=0.5, hi-IN"})
    assert hindi.status_code == 410 and hindi.headers["content-type"] == "text/html; charset=utf-8"
    assert hindi.headers["content-language"] == "hi" and hindi.headers["vary"] == "Accept-Language"
    assert f"यह प्रमाणपत्र {revoked_on:%d-%m-%Y} को रद्द कर दिया गया" in hindi.text
    assert "Issued for the wrong employee." in hindi.text and f'href="{certificate["verify_url"]}?lang=hi"' in hindi.text
    english = await client.get(f"{path}?lang=en", headers={"Accept-Language": "hi"})
    assert english.status_code == 410 and english.headers["content-language"] == "en"
    assert f"This certificate was revoked on {revoked_on:%d-%m-%Y}" in english.text
    head = await client.head(path, headers={"Accept-Language": "en;q=0.5, hi-IN"})
    assert head.status_code == 410
    for header in ("content-type", "content-length", "content-language", "vary"):
        assert head.headers.get(header) == hindi.headers.get(header), header


async def test_a_name_no_font_of_the_pdf_draws_gets_no_pdf_but_a_501_sentence_pointing_to_the_page(certifier):
    runtime, client = certifier
    event = completed("王秀英")  # letters, as the name rule allows, of a script the PDF has no font for
    await publish(runtime, [event])
    certificate = await issued_certificate(client, event)
    own = f"/v1/certificates/{certificate['certificate_id']}/pdf"  # a state system's: a Problem
    refused = await client.get(own)
    assert refused.status_code == 501 and refused.headers["content-type"] == "application/json"
    assert refused.json()["detail"] == [
        f"Certificate {certificate['certificate_id']} cannot be made into a PDF, as no font of it draws 王 (U+738B), "
        f"秀 (U+79C0), 英 (U+82F1); its verification page shows it in full: {certificate['verify_url']}"]

    path = f"/verify/{certificate['certificate_id']}/pdf"  # the link in the e-mail and the SMS: a page
    hindi = await client.get(path, headers={"Accept-Language": "hi"})
    assert hindi.status_code == 501 and hindi.headers["content-type"] == "text/html; charset=utf-8"
    assert hindi.headers["content-language"] == "hi" and "इसके फ़ॉन्ट 王秀英 नहीं लिख सकते" in hindi.text
    assert 'id="name">王秀英<' in hindi.text and f'href="{certificate["verify_url"]}?lang=hi"' in hindi.text
    english = await client.get(f"{path}?lang=en")
    assert english.status_code == 501 and "its fonts cannot draw 王秀英" in english.text
    assert (await client.head(path, headers={"Accept-Language": "hi"})).status_code == 501


async def test_the_page_of_a_name_no_font_of_the_pdf_draws_offers_no_pdf_and_names_the_characters(certifier):
    runtime, client = certifier
    event = completed("王秀英 Wang")
    await publish(runtime, [event])
    certificate = await issued_certificate(client, event)
    path = f"/verify/{certificate['certificate_id']}"

    hindi = await client.get(path, headers={"Accept-Language": "hi"})
    assert hindi.status_code == 200 and 'id="name">王秀英 Wang<' in hindi.text and 'id="status">मान्य<' in hindi.text
    assert "इस प्रमाणपत्र का PDF नहीं बन सकता: इसके फ़ॉन्ट 王秀英 नहीं लिख सकते।" in hindi.text
    english = await client.get(f"{path}?lang=en")
    assert english.status_code == 200 and 'id="status">VALID<' in english.text
    assert "No PDF can be made of this certificate: its fonts cannot draw 王秀英." in english.text
    for shown in (hindi, english):
        assert "/pdf" not in shown.text and 'id="pdf"' not in shown.text
    assert (await client.head(path)).status_code == 200


@pytest.mark.parametrize("name", ["क्षितिज द्विवेदी", "தமிழ்செல்வி", "Harjeet Singh"], ids=["Devanagari", "Tamil", "Latin"])
async def test_the_page_of_a_name_the_pdf_draws_links_the_pdf_it_serves(certifier, name):
    runtime, client = certifier
    event = completed(name)
    await publish(runtime, [event])
    certificate = await issued_certificate(client, event)

    for lang in ("en", "hi"):
        shown = await client.get(f"/verify/{certificate['certificate_id']}?lang={lang}")
        assert shown.status_code == 200 and f'href="{certificate["verify_url"]}/pdf"' in shown.text
        assert 'id="no-pdf"' not in shown.text
    served = await client.get(f"/verify/{certificate['certificate_id']}/pdf")
    assert served.status_code == 200 and served.headers["content-type"] == "application/pdf"


async def test_a_pdf_made_before_its_signatory_became_one_the_fonts_cannot_draw_is_no_longer_served(database_factory,
                                                                                                 make_settings):
    url, certificate, _ = await _issued_with_its_pdf(database_factory, make_settings)
    path = f"/verify/{certificate['certificate_id']}"

    # The operator names a signatory in Sinhala letters, which no font of the PDF has: the page and the PDF's
    # link agree that there is no PDF, although one made before is still in the cache.
    sinhala = {"IN-HR": {**vars(issuers.HARYANA), "signatory": "සුනිල්, Director General"}}
    async with service_client(definition(await make_settings(url, issuers=sinhala))) as (_, client):
        shown = await client.get(f"{path}?lang=en")
        assert shown.status_code == 200 and "its fonts cannot draw සුනිල්." in shown.text and "/pdf" not in shown.text
        assert (await client.get(f"{path}/pdf?lang=en")).status_code == 501


async def test_a_pdf_made_before_the_state_named_another_signatory_is_made_again_with_the_new_one(
        database_factory, make_settings, tmp_path):
    url, certificate, pdf = await _issued_with_its_pdf(database_factory, make_settings)
    assert "Director General, HIPA" in _text(pdf, tmp_path)
    path = f"/verify/{certificate['certificate_id']}/pdf"

    # A new Director General signs for Haryana: the PDF kept in the pod's cache prints the one before.
    renamed = {"IN-HR": {**vars(issuers.HARYANA), "signatory": "Smt. Kavita Rao, Director General, HIPA"}}
    async with service_client(definition(await make_settings(url, issuers=renamed))) as (_, client):
        for link in (path, f"/v1/certificates/{certificate['certificate_id']}/pdf"):
            after = await client.get(link)
            assert after.status_code == 200 and "Smt. Kavita Rao" in _text(after.content, tmp_path)


async def _issued_with_its_pdf(database_factory, make_settings) -> tuple[str, dict, bytes]:
    """A new database with one certificate issued, and its PDF, made and kept in the pod's cache."""
    url = await database_factory(MIGRATIONS_DIR)
    event = completed("Harjeet Singh")
    async with service_client(definition(await make_settings(url))) as (runtime, client):
        await publish(runtime, [event])
        certificate = await issued_certificate(client, event)
        pdf = await client.get(f"/verify/{certificate['certificate_id']}/pdf")
        assert pdf.status_code == 200
    return url, certificate, pdf.content


def _text(content: bytes, tmp_path) -> str:
    (tmp_path / "c.pdf").write_bytes(content)
    return subprocess.run([tool("pdftotext"), str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
