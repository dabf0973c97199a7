"""The OpenAPI document names every answer a route gives besides its success and 422, each with when it is
given and the `{"detail": [sentence, ...]}` body, so a state's IT team can integrate from the document alone.
(The fixture `enrolment` also holds every answer the other tests get to the document.)"""

import pytest
from karmayogi_runtime.service import create_http_app
from karmayogi_runtime.testing import declared_answers, refusals_not_in_sentences

from enrolment.main import definition
from enrolment.settings import EnrolmentSettings

pytestmark = pytest.mark.unit

STATE = "/v1/states/{tenant}"
ANSWERS = {
    (f"{STATE}/courses", "post"): {201}, (f"{STATE}/courses", "get"): {200},
    (f"{STATE}/courses/{{course_id}}", "get"): {200, 404}, (f"{STATE}/courses/{{course_id}}", "patch"): {200, 404},
    (f"{STATE}/centres", "post"): {201}, (f"{STATE}/centres", "get"): {200},
    (f"{STATE}/centres/{{centre_id}}", "get"): {200, 404}, (f"{STATE}/centres/{{centre_id}}", "patch"): {200, 404},
    (f"{STATE}/batches", "post"): {201}, (f"{STATE}/batches", "get"): {200},
    (f"{STATE}/batches/{{batch_id}}", "get"): {200, 404}, (f"{STATE}/batches/{{batch_id}}", "patch"): {200, 404, 409},
    (f"{STATE}/employees/{{employee_id}}", "put"): {200, 201}, (f"{STATE}/employees/{{employee_id}}", "get"): {200, 404},
    (f"{STATE}/enrolments", "post"): {200, 201}, (f"{STATE}/enrolments", "get"): {200},
    (f"{STATE}/enrolments/{{enrolment_id}}", "get"): {200, 404},
    (f"{STATE}/enrolments/{{enrolment_id}}/withdrawal", "post"): {200, 404, 409},
    (f"{STATE}/bulk-enrolments", "post"): {201, 400, 415, 500}, (f"{STATE}/bulk-jobs", "get"): {200},
    (f"{STATE}/bulk-jobs/{{job_id}}", "get"): {200, 404}, (f"{STATE}/bulk-jobs/{{job_id}}/rows", "get"): {200, 404},
}


def document() -> dict:
    settings = EnrolmentSettings(database_url="postgresql://karmayogi@127.0.0.1/enrolment",
                                 kafka_bootstrap_servers="127.0.0.1:9092")
    return create_http_app(definition(settings)).openapi()


def test_every_route_declares_each_status_it_answers_besides_422():
    assert declared_answers(document()) == ANSWERS


def test_each_refusal_says_when_it_is_given_and_answers_one_sentence_per_problem():
    spec = document()

    assert refusals_not_in_sentences(spec) == []
    assert spec["components"]["schemas"]["Problems"]["properties"]["detail"]["items"] == {"type": "string"}
    failed = spec["paths"][f"{STATE}/bulk-enrolments"]["post"]["responses"]["500"]
    assert failed["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BulkJobOut"}
