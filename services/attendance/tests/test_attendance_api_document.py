"""The OpenAPI document names every answer a route gives besides its success and 422, each with when it is
given and the `{"detail": [sentence, ...]}` body, so a state's IT team can integrate from the document alone.
(The fixture `attendance` also holds every answer the other tests get to the document.)"""

import pytest
from karmayogi_runtime.service import create_http_app

from attendance.main import definition
from attendance.settings import AttendanceSettings

pytestmark = pytest.mark.unit

STATE = "/v1/states/{tenant}"
ANSWERS = {
    (f"{STATE}/batches/{{batch_id}}/sessions", "post"): {201, 404, 409},
    (f"{STATE}/batches/{{batch_id}}/sessions", "get"): {200, 404},
    (f"{STATE}/sessions/{{session_id}}/attendance", "post"): {202, 404},
    (f"{STATE}/sessions/{{session_id}}/attendance/{{employee_id}}", "put"): {202, 404},
    (f"{STATE}/attendance-imports", "post"): {200, 400, 413, 415},
    (f"{STATE}/enrolments/{{enrolment_id}}/progress", "get"): {200, 404},
    (f"{STATE}/batches/{{batch_id}}/progress", "get"): {200, 404},
    (f"{STATE}/progress", "get"): {200}, (f"{STATE}/progress/districts", "get"): {200},
    (f"{STATE}/progress/centres", "get"): {200},
}


def document() -> dict:
    settings = AttendanceSettings(database_url="postgresql://karmayogi@127.0.0.1/attendance",
                                  kafka_bootstrap_servers="127.0.0.1:9092")
    return create_http_app(definition(settings)).openapi()


def test_every_route_declares_each_status_it_answers_besides_422():
    paths = document()["paths"]
    declared = {(path, method): {int(code) for code in operation["responses"]} - {422}
                for path, operations in paths.items() if path.startswith("/v1/")
                for method, operation in operations.items()}

    assert declared == ANSWERS


def test_each_refusal_says_when_it_is_given_and_answers_one_sentence_per_problem():
    spec = document()
    refusals = [(path, code, answer) for path, operations in spec["paths"].items() for operation in operations.values()
                for code, answer in operation["responses"].items() if code.startswith("4") and code != "422"]

    assert len(refusals) == sum(400 <= code < 500 for codes in ANSWERS.values() for code in codes)
    for path, code, answer in refusals:
        assert answer["description"][:1].isupper() and "Successful" not in answer["description"], (path, code)
        assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problems"}
    assert spec["components"]["schemas"]["Problems"]["properties"]["detail"]["items"] == {"type": "string"}
