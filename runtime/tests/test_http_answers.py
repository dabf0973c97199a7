"""Every answer of a route in the OpenAPI document: refusals with when they are given and their sentences'
body, and the check service tests make that no answer they get is missing from it."""

from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Header, Path

from karmayogi_runtime.http import Problem, Problems, install_error_handlers, problem_answer
from karmayogi_runtime.testing import undeclared

pytestmark = pytest.mark.unit


def app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/batches/open")
    def open_batches() -> list[str]:
        return []

    @app.get("/batches")
    def batches(limit: int = 50) -> list[str]:
        return []

    @app.get("/batches/{batch_id}", responses={404: problem_answer("No batch has this id"),
                                               401: problem_answer("The token is wrong", {"WWW-Authenticate": "Bearer"})})
    def batch(batch_id: str) -> dict[str, str]:
        raise Problem(404, f"No batch {batch_id} exists.")

    return app


async def test_a_refusal_is_documented_with_when_its_headers_and_the_body_it_really_answers():
    document = app().openapi()
    answers = document["paths"]["/batches/{batch_id}"]["get"]["responses"]

    assert answers["404"] == {"description": "No batch has this id",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}}}
    assert answers["401"]["headers"] == {"WWW-Authenticate": {"description": "Always `Bearer`.",
                                                              "schema": {"type": "string"}}}
    assert document["components"]["schemas"]["Problems"]["properties"]["detail"]["items"] == {"type": "string"}
    invalid = document["paths"]["/batches"]["get"]["responses"]["422"]
    assert invalid["content"] == answers["404"]["content"]  # not FastAPI's own HTTPValidationError
    assert "HTTPValidationError" not in document["components"]["schemas"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://service") as client:
        answer = await client.get("/batches/B1")
    assert Problems.model_validate(answer.json()).detail == ["No batch B1 exists."]


def test_an_answer_its_route_does_not_declare_is_named_with_the_route():
    document = app().openapi()

    assert undeclared(document, "GET", "/batches/B1", 404) is None
    assert undeclared(document, "get", "/batches/B1", 409) == (
        "GET /batches/{batch_id} answered 409, which its OpenAPI responses do not declare (they declare 200, 401, "
        "404).")
    assert undeclared(document, "GET", "/batches/open", 404) == (  # the literal route, not /batches/{batch_id}
        "GET /batches/open answered 404, which its OpenAPI responses do not declare (they declare 200).")
    assert undeclared(document, "GET", "/openapi.json", 200) is None  # not a route of the document
    assert undeclared(document, "DELETE", "/batches/B1", 405) is None


def test_422_is_declared_only_where_a_request_can_fail_validation():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/any-text/{name}")  # text in the path, optional text in the query and a header: nothing to refuse
    def any_text(name: str, note: str | None = None, accept_language: Annotated[str | None, Header()] = None) -> None:
        pass

    @app.get("/number/{n}")
    def number(n: int) -> None:
        pass

    @app.get("/pattern/{code}")
    def pattern(code: Annotated[str, Path(pattern=r"^IN-[A-Z]{2}$")]) -> None:
        pass

    @app.get("/required-query")
    def required_query(q: str) -> None:
        pass

    @app.post("/body")
    def body(batch: dict[str, str]) -> None:
        pass

    may = {path: "422" in operations[next(iter(operations))]["responses"]
           for path, operations in app.openapi()["paths"].items()}

    assert may == {"/any-text/{name}": False, "/number/{n}": True, "/pattern/{code}": True, "/required-query": True,
                   "/body": True}


async def test_a_path_or_method_no_route_takes_is_answered_in_a_sentence_too():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://service") as client:
        missing = await client.get("/batchs/B1")
        wrong_method = await client.delete("/batches/B1")

    assert (missing.status_code, missing.json()) == (404, {"detail": ["No route answers GET /batchs/B1; /openapi.json "
                                                                      "lists the routes."]})
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"detail": ["DELETE /batches/B1 is not allowed; "
                                                                                "this path answers GET."]})
    assert wrong_method.headers["allow"] == "GET"
