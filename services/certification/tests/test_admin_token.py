"""Who may revoke: the Authorization header read as RFC 7235 and RFC 6750 have it."""

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from certification.admin import ADMIN_BEARER, presents_admin_token

pytestmark = pytest.mark.unit

TOKEN = "a-test-admin-token-that-is-long-enough"


async def presented(authorization: str | None) -> bool:
    """Whether a request with this Authorization header (None: none) presents the administrator's token."""
    app = FastAPI()

    @app.get("/")
    def check(credentials: Annotated[object, Depends(ADMIN_BEARER)]) -> bool:
        return presents_admin_token(credentials, TOKEN)

    headers = {"Authorization": authorization} if authorization is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        return (await client.get("/", headers=headers)).json()


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER {TOKEN}", f"Bearer  {TOKEN} "])
async def test_the_token_is_accepted_with_the_bearer_scheme_in_any_case(authorization):
    assert await presented(authorization)


@pytest.mark.parametrize("authorization", [None, "", TOKEN, f"Basic {TOKEN}", f"Bearer{TOKEN}", "Bearer ",
                                           f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Token {TOKEN}"])
async def test_a_bare_token_another_scheme_or_another_token_is_refused(authorization):
    assert not await presented(authorization)
