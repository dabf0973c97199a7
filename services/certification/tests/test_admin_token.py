"""Who may revoke: the Authorization header read as RFC 7235 and RFC 6750 have it."""

import pytest

from certification.admin import presents_admin_token

pytestmark = pytest.mark.unit

TOKEN = "a-test-admin-token-that-is-long-enough"


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer  {TOKEN} "])
def test_the_token_is_accepted_with_the_bearer_scheme_in_any_case(authorization):
    assert presents_admin_token(authorization, TOKEN)


@pytest.mark.parametrize("authorization", [None, "", TOKEN, f"Basic {TOKEN}", f"Bearer{TOKEN}", "Bearer ",
                                           f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Token {TOKEN}"])
def test_a_bare_token_another_scheme_or_another_token_is_refused(authorization):
    assert not presents_admin_token(authorization, TOKEN)
