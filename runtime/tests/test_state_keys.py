"""API keys: a state's key reads and changes that state's records only; no key, an unknown key, or a service
without keys is refused in a sentence; API_KEYS is checked when the settings are read."""

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError

from karmayogi_runtime import access
from karmayogi_runtime.access import ALL_STATES, Scope, StateKeys, StateScope
from karmayogi_runtime.http import install_error_handlers
from karmayogi_runtime.settings import ServiceSettings, setting_problems
from karmayogi_runtime.testing import ALL_STATES_KEY, STATE_KEYS, TEST_API_KEYS, undeclared

pytestmark = pytest.mark.unit

HARYANA, BIHAR = STATE_KEYS["IN-HR"], STATE_KEYS["IN-BR"]


def app(keys: str = TEST_API_KEYS) -> FastAPI:
    """Routes behind the keys, included as `create_http_app` includes a service's routers."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.state_keys = StateKeys.parse(keys)
    router = APIRouter()

    @router.get("/states/{tenant}/batches")
    def batches(tenant: str, course_id: str | None = None) -> list[str]:
        return [f"{tenant}-B1"]

    @router.get("/events/{event_id}", responses=access.ANOTHER_STATES_KEY)
    def event(event_id: str, scope: StateScope) -> dict[str, str]:
        access.require(scope, "IN-HR")  # the event is Haryana's
        return {"event_id": event_id}

    @router.get("/notices")  # every state's: no key is another state's here
    def notices() -> list[str]:
        return []

    access.include_behind_keys(app, router)
    return app


async def answer(path: str, key: str | None, keys: str = TEST_API_KEYS,
                 authorization: str | None = None) -> httpx.Response:
    served = app(keys)
    headers = {"Authorization": authorization or f"Bearer {key}"} if key or authorization else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://service") as client:
        response = await client.get(path, headers=headers)
    assert undeclared(served.openapi(), "GET", path, response.status_code) is None
    return response


async def test_a_states_key_reads_its_own_states_records_and_an_all_states_key_every_states():
    assert (await answer("/states/IN-HR/batches", HARYANA)).json() == ["IN-HR-B1"]
    assert (await answer("/states/IN-BR/batches", ALL_STATES_KEY)).json() == ["IN-BR-B1"]
    assert (await answer("/states/IN-HR/batches", None, authorization=f"bearer {HARYANA}")).status_code == 200


async def test_another_states_key_is_refused_with_403_naming_both_states():
    response = await answer("/states/IN-HR/batches", BIHAR)

    assert response.status_code == 403
    assert response.json() == {"detail": ["The key sent is a key of IN-BR; it cannot read or change the records "
                                          "of IN-HR."]}


async def test_a_route_whose_path_names_no_state_checks_the_state_of_what_it_finds():
    assert (await answer("/events/E1", HARYANA)).status_code == 200
    assert (await answer("/events/E1", BIHAR)).status_code == 403


@pytest.mark.parametrize(("key", "authorization", "sentence"), [
    (None, None, "This request needs a key of its state, sent as 'Authorization: Bearer <key>'."),
    (None, HARYANA, "This request needs a key of its state, sent as 'Authorization: Bearer <key>'."),  # no scheme
    ("not-a-key-of-this-service-0123456789abcdef", None,
     "The key sent is not one of this service's API keys; ask its operators for your state's key."),
])
async def test_no_key_or_an_unknown_one_is_a_401_with_its_challenge(key, authorization, sentence):
    response = await answer("/states/IN-HR/batches", key, authorization=authorization)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": [sentence]}


async def test_a_service_without_keys_refuses_every_request_saying_so():
    response = await answer("/states/IN-HR/batches", ALL_STATES_KEY, keys="")

    assert response.status_code == 401
    assert response.json() == {"detail": ["This service has no API keys (API_KEYS gives none), so it answers no "
                                          "request that needs a state's key; its operators give each state its keys."]}


async def test_a_malformed_state_code_is_left_to_the_route_not_refused_as_another_states():
    assert (await answer("/states/in-hr/batches", HARYANA)).status_code == 200  # this route takes any text


@pytest.mark.parametrize(("path", "sentence"), [
    ("/states/IN-HR/batches?courseId=C1", "This route takes no query parameter 'courseId'; it takes course_id."),
    ("/events/E1?state=IN-HR&x=1", "This route takes no query parameter 'state', 'x'; it takes none."),
])
async def test_a_query_parameter_the_route_does_not_take_is_refused_not_ignored(path, sentence):
    response = await answer(path, ALL_STATES_KEY)  # ignored, a misspelt filter would answer for the whole state

    assert (response.status_code, response.json()) == (400, {"detail": [sentence]})
    assert (await answer("/states/IN-HR/batches?course_id=C1", ALL_STATES_KEY)).status_code == 200


def test_the_openapi_document_names_the_key_scheme_and_the_refusals():
    document = app().openapi()

    assert document["components"]["securitySchemes"]["stateKey"] == {
        "type": "http", "scheme": "bearer", "description": access._bearer.model.description}
    operation = document["paths"]["/states/{tenant}/batches"]["get"]
    assert operation["security"] == [{"stateKey": []}]
    assert {"400", "401", "403"} <= set(operation["responses"])
    assert {"401", "403"} <= set(document["paths"]["/events/{event_id}"]["get"]["responses"])  # it declares 403
    assert "403" not in document["paths"]["/notices"]["get"]["responses"]
    assert "401" in document["paths"]["/notices"]["get"]["responses"]


def test_several_keys_of_one_state_and_one_of_every_state_are_read():
    keys = StateKeys.parse(f" IN-HR:{'a' * 32}, IN-HR:{'b' * 40} ,*:{'c' * 64},")

    assert keys.scope_of("a" * 32) == keys.scope_of("b" * 40) == Scope("IN-HR")
    assert keys.scope_of("c" * 64) == Scope(ALL_STATES)
    assert keys.scope_of("a" * 31) is None
    assert not StateKeys.parse("")


@pytest.mark.parametrize(("text", "sentence"), [
    ("IN-HR", "entry 1 does not start with a state code and a colon, as in IN-HR:<key> (or *:<key> for every "
              "state)."),
    (f"IN-HR:{'a' * 32},Haryana:{'b' * 32}", "entry 2 does not start with a state code and a colon, as in "
                                             "IN-HR:<key> (or *:<key> for every state)."),
    (f"in-hr:{'a' * 32}", "the state code of entry 1 is written in capitals: IN-HR, not in-hr."),
    ("IN-HR:short", "the key of entry 1 (IN-HR) must be at least 32 characters, none of them a comma, a colon or "
                    "a space."),
    (f"IN-HR:{'a' * 16} {'a' * 16}", "the key of entry 1 (IN-HR) must be at least 32 characters, none of them a "
                                     "comma, a colon or a space."),
    (f"IN-HR:{'a' * 32},IN-BR:{'a' * 32}", "entry 2 gives IN-BR a key already given to IN-HR."),
])
def test_api_keys_that_cannot_be_read_are_refused_naming_the_entry_never_the_key(text, sentence):
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(kafka_bootstrap_servers="kafka:9092", database_url="postgresql://k@db/enrolment", api_keys=text)

    assert setting_problems(refused.value) == [f"API_KEYS is invalid: {sentence}"]
