"""A presented credential that is not a JWT is answered as malformed, whatever it holds, saying what is wrong."""

from datetime import datetime, timezone

import pytest

from certification import credential, keys

pytestmark = pytest.mark.unit


def test_claims_nested_deeper_than_the_json_parser_goes_are_malformed_not_an_error():
    ring = keys.parse({"keys": [keys.new_key(datetime(2026, 1, 1, tzinfo=timezone.utc))]})
    header = keys.b64url(b'{"alg":"EdDSA","kid":"k"}')
    nested = keys.b64url(b"[" * 50_000)  # 66,667 characters: within the 100,000 a presented credential may have

    checked = credential.check(f"{header}.{nested}.AA", ring, "https://hipa.haryana.gov.in")

    assert checked.outcome == "malformed" and checked.claims is None


def test_claims_that_are_a_json_array_are_malformed_saying_the_claims_must_be_an_object():
    ring = keys.parse({"keys": [keys.new_key(datetime(2026, 1, 1, tzinfo=timezone.utc))]})
    header = keys.b64url(b'{"alg":"EdDSA","kid":"k"}')
    claims = keys.b64url(b'[{"iss":"https://hipa.haryana.gov.in"}]')

    checked = credential.check(f"{header}.{claims}.AA", ring, "https://hipa.haryana.gov.in")

    assert (checked.outcome, checked.message) == ("malformed", "The credential's claims must be a JSON object.")


def test_a_header_signed_with_another_algorithm_is_told_to_use_eddsa():
    ring = keys.parse({"keys": [keys.new_key(datetime(2026, 1, 1, tzinfo=timezone.utc))]})
    header = keys.b64url(b'{"alg":"HS256","kid":"k"}')
    claims = keys.b64url(b'{"iss":"https://hipa.haryana.gov.in"}')

    checked = credential.check(f"{header}.{claims}.AA", ring, "https://hipa.haryana.gov.in")

    assert (checked.outcome, checked.message) == ("malformed", "The credential must be signed with EdDSA.")
