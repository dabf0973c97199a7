"""The 4xx sentences every service's HTTP API answers with."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from karmayogi_runtime.http import install_error_handlers

pytestmark = pytest.mark.unit


class Enrolment(BaseModel):
    employee_id: str


def api() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/enrolments")
    def enrol(enrolment: Enrolment) -> dict[str, str]:
        return {"employee_id": enrolment.employee_id}

    return TestClient(app)


@pytest.mark.parametrize("body, sentence", [
    ("employee_id=E1", "The body is not valid JSON (Expecting value at character 0)."),
    ('{"employee_id": "E1",', "The body is not valid JSON (Expecting property name enclosed in double quotes at character 21)."),
])
def test_a_body_that_is_not_json_is_said_to_be_so_and_where(body, sentence):
    answer = api().post("/enrolments", content=body, headers={"content-type": "application/json"})

    assert (answer.status_code, answer.json()) == (422, {"detail": [sentence]})


def test_a_field_problem_still_names_the_field():
    answer = api().post("/enrolments", json={})

    assert (answer.status_code, answer.json()) == (422, {"detail": ["body.employee_id: Field required"]})
