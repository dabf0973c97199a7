"""The OpenAPI document names every answer a route gives besides its success and 422, each with when it is
given and the `{"detail": [sentence, ...]}` body, so a state's IT team can integrate from the document alone.
(The fixture `attendance` also holds every answer the other tests get to the document.)"""

import pytest
from karmayogi_runtime.service import create_http_app
from karmayogi_runtime.testing import declared_answers, refusals_not_in_sentences

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
    assert declared_answers(document()) == ANSWERS


def test_each_refusal_says_when_it_is_given_and_answers_one_sentence_per_problem():
    spec = document()

    assert refusals_not_in_sentences(spec) == []
    assert spec["components"]["schemas"]["Problems"]["properties"]["detail"]["items"] == {"type": "string"}
