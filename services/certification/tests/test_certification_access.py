"""Who may read what: a state's key reads its own state's certificates only, the public routes need no key,
and revoking needs the administrator's token, which no state's key stands in for; against the real Kafka
and PostgreSQL."""

import pytest
from karmayogi_runtime.testing import ALL_STATES_KEY, STATE_KEYS, send_with_key

from certification_samples import ADMIN_TOKEN, completed, issued_certificate, publish

pytestmark = pytest.mark.integration

HARYANA, BIHAR = STATE_KEYS["IN-HR"], STATE_KEYS["IN-BR"]


async def _haryanas_certificate(certifier) -> tuple:
    runtime, client = certifier
    event = completed("Harjeet Singh")  # Haryana's
    await publish(runtime, [event])
    return client, await issued_certificate(client, event)


async def test_bihars_key_is_refused_haryanas_certificate_and_list_and_is_told_nothing_of_them(certifier):
    client, certificate = await _haryanas_certificate(certifier)
    own = f"/v1/certificates/{certificate['certificate_id']}"
    for path in (own, f"{own}/pdf", "/v1/states/IN-HR/certificates", "/v1/states/IN-HR/certificates/count"):
        refused = await send_with_key(client, "GET", path, BIHAR)
        assert refused.status_code == 403, path
        assert refused.json() == {"detail": ["The key sent is a key of IN-BR; it cannot read or change the records "
                                             "of IN-HR."]}, path
    # Bihar's own list does not hold Haryana's certificate either.
    assert (await send_with_key(client, "GET", "/v1/states/IN-BR/certificates", BIHAR)).json() == {"items": [], "next": None}


async def test_haryanas_key_and_the_all_states_key_read_haryanas_certificate(certifier):
    client, certificate = await _haryanas_certificate(certifier)
    own = f"/v1/certificates/{certificate['certificate_id']}"
    for key in (HARYANA, ALL_STATES_KEY):
        read = await send_with_key(client, "GET", own, key)
        assert read.status_code == 200 and read.json()["credential"] == certificate["credential"]
        assert (await send_with_key(client, "GET", f"{own}/pdf", key)).headers["content-type"] == "application/pdf"
        listed = (await send_with_key(client, "GET", "/v1/states/IN-HR/certificates", key)).json()["items"]
        assert [item["certificate_id"] for item in listed] == [certificate["certificate_id"]]
        assert (await send_with_key(client, "GET", "/v1/states/IN-HR/certificates/count", key)).json() == {"issued": 1,
                                                                                                 "revoked": 0}


async def test_the_public_routes_answer_with_no_key_and_the_others_ask_for_one(certifier):
    client, certificate = await _haryanas_certificate(certifier)
    public = f"/verify/{certificate['certificate_id']}"

    page = await send_with_key(client, "GET", public, None)
    assert page.status_code == 200 and "Harjeet Singh" in page.text
    assert (await send_with_key(client, "HEAD", public, None)).status_code == 200
    assert (await send_with_key(client, "GET", f"{public}/status", None)).json()["status"] == "valid"
    assert (await send_with_key(client, "GET", f"{public}/pdf", None)).headers["content-type"] == "application/pdf"
    assert (await send_with_key(client, "GET", "/.well-known/jwks.json", None)).json()["keys"]
    checked = await send_with_key(client, "POST", "/v1/credentials/verify", None, json={"credential": certificate["credential"]})
    assert checked.status_code == 200 and checked.json()["valid"]

    for path in (f"/v1/certificates/{certificate['certificate_id']}", "/v1/states/IN-HR/certificates/count"):
        refused = await send_with_key(client, "GET", path, None)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", path
        assert "Harjeet Singh" not in refused.text


async def test_revoking_needs_the_administrators_token_and_no_states_key_stands_in_for_it(certifier):
    client, certificate = await _haryanas_certificate(certifier)
    path = f"/v1/certificates/{certificate['certificate_id']}/revocation"
    for key in (ALL_STATES_KEY, HARYANA, None):
        refused = await send_with_key(client, "POST", path, key, json={"reason": "Issued in error."})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["detail"] == [
            "Revoking a certificate needs the administrator's token, sent as 'Authorization: Bearer <token>'."]
    assert (await send_with_key(client, "GET", f"/verify/{certificate['certificate_id']}/status", None)).json()["status"] == "valid"

    revoked = await send_with_key(client, "POST", path, ADMIN_TOKEN, json={"reason": "Issued in error."})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
