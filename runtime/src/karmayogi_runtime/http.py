"""What every service's HTTP API shares: the pool as a dependency, and 4xx answers in sentences."""

from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


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
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": problem_sentences(error)}, status_code=422)

    @app.exception_handler(Problem)
    async def problem(request: Request, error: Problem) -> JSONResponse:
        return JSONResponse({"detail": [error.message]}, status_code=error.status, headers=error.headers)
