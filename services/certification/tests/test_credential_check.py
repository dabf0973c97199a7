"""A presented credential that is not a JWT is answered as malformed, whatever it holds."""

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
