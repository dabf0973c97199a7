"""What every service's HTTP API shares: the pool as a dependency, 4xx answers in sentences, and their
place in the OpenAPI document."""

from collections.abc import Mapping
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from pydantic import BaseModel, Field


def only_known_query_parameters(request: Request) -> None:
    """A 400 for a query parameter the route does not take: a misspelt filter (`courseId` for `course_id`)
    would otherwise be ignored, and answer for the whole state."""
    takes = _query_parameters(request.scope["route"])
    if unknown := sorted(set(request.query_params) - takes):
        named = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise Problem(400, f"This route takes no query parameter {named}; it takes {', '.join(sorted(takes)) or 'none'}.")


def _query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters the route and its dependencies take."""
    names, dependants = set(), [route.dependant]
    while dependants:
        dependant = dependants.pop()
        names.update(parameter.alias for parameter in dependant.query_params)
        dependants.extend(dependant.dependencies)
    return frozenset(names)


def _pool(request: Request) -> asyncpg.Pool:
    return request.app.state.runtime.pool


Pool = Annotated[asyncpg.Pool, Depends(_pool)]


class Problem(Exception):
    """An error the caller can fix, answered as `status` with one sentence saying what is wrong (and any
    `headers` the status calls for, such as a 401's `WWW-Authenticate`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class Problems(BaseModel):
    """The body of every 4xx answer (`Problem`, and 422 for a request that does not validate)."""

    detail: list[str] = Field(description="One sentence per problem, saying what is wrong and what to do.",
                              examples=[["No batch 3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b exists."]])


def problem_answer(when: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One entry of a route's `responses=`: a status it answers with a `Problem`, `when` it does (the OpenAPI
    description), its `Problems` body and any header the status calls for, so a client generated from the
    document knows every refusal: `responses={404: problem_answer("No batch has this id in the state")}`."""
    answer: dict[str, Any] = {"description": when, "model": Problems}
    if headers:
        answer["headers"] = {name: {"description": f"Always `{value}`.", "schema": {"type": "string"}}
                             for name, value in headers.items()}
    return answer


def problem_sentences(error: RequestValidationError) -> list[str]:
    """One sentence per problem, naming the field: `body.employee.email: value is not a valid email address`."""
    sentences = []
    for problem in error.errors():
        if problem.get("type") == "json_invalid":  # FastAPI puts the character's position where a field would be
            sentences.append(_not_json(problem))
            continue
        where = ".".join(str(part) for part in problem.get("loc", ()))
        message = problem.get("msg", "is invalid").removeprefix("Value error, ")
        sentences.append(f"{where}: {message}" if where else message)
    return sentences


def _not_json(problem: dict) -> str:
    """`The body is not valid JSON (Expecting value at character 0).`, as json.loads words it."""
    position = problem.get("loc", ())[-1:]
    reason = str(problem.get("ctx", {}).get("error", ""))
    where = f" at character {position[0]}" if position and isinstance(position[0], int) else ""
    return f"The body is not valid JSON ({reason}{where})." if reason else f"The body is not valid JSON{where}."


def install_error_handlers(app: FastAPI) -> None:
    """Answer a request that does not validate (422) and a `Problem` with sentences, and say so in the
    OpenAPI document, whose 422s FastAPI would describe as its own `HTTPValidationError` list of objects."""
    openapi = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems_for_422(openapi())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": problem_sentences(error)}, status_code=422)

    @app.exception_handler(Problem)
    async def problem(request: Request, error: Problem) -> JSONResponse:
        return JSONResponse({"detail": [error.message]}, status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def no_such_route(request: Request, error: StarletteHTTPException) -> JSONResponse:
        """A path no route has (404) or a method it does not take (405), in a sentence like the rest."""
        return JSONResponse({"detail": [_route_sentence(request, error)]}, status_code=error.status_code,
                            headers=error.headers)


def _route_sentence(request: Request, error: StarletteHTTPException) -> str:
    where = f"{request.method} {request.url.path}"
    if error.status_code == 404 and error.detail == "Not Found":
        return f"No route answers {where}; /openapi.json lists the routes."
    if error.status_code == 405:
        allowed = (error.headers or {}).get("Allow")
        return f"{where} is not allowed; this path answers {allowed}." if allowed else f"{where} is not allowed."
    return str(error.detail)


def _with_problems_for_422(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every 422 answering `Problems`, as `invalid_request` does, and none on an operation
    no request can fail to validate for (FastAPI lists 422 on every route that takes a parameter)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not _may_be_invalid(operation):
                operation.get("responses", {}).pop("422", None)
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None:
                invalid["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}}
                schemas.setdefault("Problems", Problems.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


# What a parameter's schema may say and still take any text: no pattern, length, format or other type.
_ANY_TEXT_WORDS = {"type", "title", "description", "default", "examples", "example"}


def _may_be_invalid(operation: Mapping[str, Any]) -> bool:
    """Whether a request can fail this operation's validation: it takes a body, or a parameter that is
    required outside the path (where it may be missing) or that not every text is (a number, a pattern)."""
    if "requestBody" in operation:
        return True
    return any((parameter["in"] != "path" and parameter.get("required")) or not _any_text(parameter.get("schema", {}))
               for parameter in operation.get("parameters", ()))


def _any_text(schema: Mapping[str, Any]) -> bool:
    if "anyOf" in schema:  # an optional parameter: text or nothing
        return set(schema) <= _ANY_TEXT_WORDS | {"anyOf"} and all(
            part == {"type": "null"} or _any_text(part) for part in schema["anyOf"])
    return schema.get("type") == "string" and set(schema) <= _ANY_TEXT_WORDS
