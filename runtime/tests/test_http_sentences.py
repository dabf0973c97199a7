"""The 4xx sentences every service's HTTP API answers with."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from karmayogi_runtime.http import install_error_handlers

pytestmark = pytest.mark.unit


class Enrolment(BaseModel):
    employee_id: str


async def post(**request) -> httpx.Response:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/enrolments")
    def enrol(enrolment: Enrolment) -> dict[str, str]:
        return {"employee_id": enrolment.employee_id}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
        return await client.post("/enrolments", **request)


@pytest.mark.parametrize("body, sentence", [
    ("employee_id=E1", "The body is not valid JSON (Expecting value at character 0)."),
    ('{"employee_id": "E1",', "The body is not valid JSON (Expecting property name enclosed in double quotes at character 21)."),
])
async def test_a_body_that_is_not_json_is_said_to_be_so_and_where(body, sentence):
    answer = await post(content=body, headers={"content-type": "application/json"})

    assert (answer.status_code, answer.json()) == (422, {"detail": [sentence]})


async def test_a_field_problem_still_names_the_field():
    answer = await post(json={})

    assert (answer.status_code, answer.json()) == (422, {"detail": ["body.employee_id: Field required"]})
