"""A presented credential that is not a JWT is answered as malformed, whatever it holds, saying what is wrong."""

from datetime import datetime, timezone

import pytest

from certification import credential, keys

pytestmark = pytest.mark.unit


def test_claims_nested_deeper_than_the_json_parser_goes_are_malformed_not_an_error():
    ring = keys.parse({"keys": [keys.new_key(datetime(2026, 1, 1, tzinfo=timezone.utc))]})
    header = keys.b64url(b'{"alg":"EdDSA","kid":"k"}')
    nested = keys.b64url(b"[" * 50_000)  # 66,667 characters: within the 100,000 a presented credential may have

    checked = credential.check(f"{header}.{nested}.AA", ring)

    assert checked.outcome == "malformed" and checked.claims is None


@pytest.mark.parametrize("header, claims, message", [
    (b'{"alg":"EdDSA","kid":"k"}', b'[{"iss":"https://hipa.haryana.gov.in"}]',
     "The credential's claims must be a JSON object."),
    (b'{"alg":"HS256","kid":"k"}', b'{"iss":"https://hipa.haryana.gov.in"}', "The credential must be signed with EdDSA."),
    (b'["EdDSA"]', b'{"iss":"https://hipa.haryana.gov.in"}',
     "The credential's header must be a JSON object naming its algorithm and key."),
], ids=["claims that are a JSON array", "another algorithm", "a header that is a JSON array"])
def test_a_malformed_credential_is_told_what_is_wrong_with_it(header, claims, message):
    ring = keys.parse({"keys": [keys.new_key(datetime(2026, 1, 1, tzinfo=timezone.utc))]})

    checked = credential.check(f"{keys.b64url(header)}.{keys.b64url(claims)}.AA", ring)

    assert (checked.outcome, checked.message) == ("malformed", message)
