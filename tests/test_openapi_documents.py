"""Each JSON API's OpenAPI document names every answer a route gives besides its success and 422, each with
when it is given and the `{"detail": [sentence, ...]}` body, so a state's IT team can integrate from the
document alone. (`service_client` also holds every answer the services' own tests get to the document.)
Every route of these three is behind a state's key, so each also declares the key's 401, the 400 of a query
parameter it does not take, and the 403 of another state's key where its path names the state
(karmayogi_runtime.access). Certification's public pages answer HTML; its document is checked in
services/certification/tests."""

import importlib

import pytest
from karmayogi_runtime.service import create_http_app
from karmayogi_runtime.testing import declared_answers, refusals_not_in_sentences

pytestmark = pytest.mark.unit

STATE = "/v1/states/{tenant}"
# A query parameter the route does not take; no key, or one this service does not give; another state's key,
# on a route whose path names the state.
KEYED = {400, 401, 403}
# Each route's answers besides 422 and the key's refusals (KEYED, without 403 where the path names no state).
ANSWERS = {
    "enrolment": {
        (f"{STATE}/courses", "post"): {201}, (f"{STATE}/courses", "get"): {200},
        (f"{STATE}/courses/{{course_id}}", "get"): {200, 404}, (f"{STATE}/courses/{{course_id}}", "patch"): {200, 404},
        (f"{STATE}/centres", "post"): {201}, (f"{STATE}/centres", "get"): {200},
        (f"{STATE}/centres/{{centre_id}}", "get"): {200, 404}, (f"{STATE}/centres/{{centre_id}}", "patch"): {200, 404},
        (f"{STATE}/batches", "post"): {201}, (f"{STATE}/batches", "get"): {200},
        (f"{STATE}/batches/{{batch_id}}", "get"): {200, 404}, (f"{STATE}/batches/{{batch_id}}", "patch"): {200, 404, 409},
        (f"{STATE}/employees/{{employee_id}}", "put"): {200, 201}, (f"{STATE}/employees/{{employee_id}}", "get"): {200, 404},
        (f"{STATE}/enrolments", "post"): {200, 201, 409}, (f"{STATE}/enrolments", "get"): {200},
        (f"{STATE}/enrolments/{{enrolment_id}}", "get"): {200, 404},
        (f"{STATE}/enrolments/{{enrolment_id}}/withdrawal", "post"): {200, 404, 409},
        (f"{STATE}/bulk-enrolments", "post"): {201, 400, 415, 500}, (f"{STATE}/bulk-jobs", "get"): {200},
        (f"{STATE}/bulk-jobs/{{job_id}}", "get"): {200, 404}, (f"{STATE}/bulk-jobs/{{job_id}}/rows", "get"): {200, 404},
    },
    "attendance": {
        (f"{STATE}/batches/{{batch_id}}/sessions", "post"): {201, 404, 409},
        (f"{STATE}/batches/{{batch_id}}/sessions", "get"): {200, 404},
        (f"{STATE}/sessions/{{session_id}}/attendance", "post"): {202, 404},
        (f"{STATE}/sessions/{{session_id}}/attendance/{{employee_id}}", "put"): {202, 404},
        (f"{STATE}/attendance-imports", "post"): {202, 400, 413, 415},
        (f"{STATE}/enrolments/{{enrolment_id}}/progress", "get"): {200, 404},
        (f"{STATE}/batches/{{batch_id}}/progress", "get"): {200, 404},
        (f"{STATE}/progress", "get"): {200}, (f"{STATE}/progress/districts", "get"): {200},
        (f"{STATE}/progress/centres", "get"): {200},
    },
    "notifications": {
        ("/v1/employees/{tenant}/{employee_id}/deliveries", "get"): {200},
        ("/v1/events/{event_id}/deliveries", "get"): {200, 404},
        ("/v1/employees/{tenant}/{employee_id}/opt-outs", "get"): {200},
        ("/v1/employees/{tenant}/{employee_id}/opt-outs/{channel}", "put"): {200},
        ("/v1/employees/{tenant}/{employee_id}/opt-outs/{channel}", "delete"): {200},
    },
}


def document(service: str, monkeypatch) -> dict:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://karmayogi@127.0.0.1/{service}")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    return create_http_app(importlib.import_module(f"{service}.main").definition()).openapi()


@pytest.mark.parametrize("service", ANSWERS)
def test_every_route_declares_each_status_it_answers_besides_422(service, monkeypatch):
    assert declared_answers(document(service, monkeypatch)) == {
        route: answers | (KEYED if "{tenant}" in route[0] else KEYED - {403}) for route, answers in ANSWERS[service].items()}


@pytest.mark.parametrize("service", ANSWERS)
def test_every_route_names_the_state_key_it_needs(service, monkeypatch):
    operations = [operation for path, methods in document(service, monkeypatch)["paths"].items()
                  if path.startswith("/v1/") for operation in methods.values()]
    assert operations and all(operation["security"] == [{"stateKey": []}] for operation in operations)


@pytest.mark.parametrize("service", ANSWERS)
def test_each_refusal_says_when_it_is_given_and_answers_one_sentence_per_problem(service, monkeypatch):
    spec = document(service, monkeypatch)

    assert refusals_not_in_sentences(spec) == []
    assert spec["components"]["schemas"]["Problems"]["properties"]["detail"]["items"] == {"type": "string"}


def test_a_bulk_import_that_stops_midway_answers_its_failed_job(monkeypatch):
    failed = document("enrolment", monkeypatch)["paths"][f"{STATE}/bulk-enrolments"]["post"]["responses"]["500"]
    assert failed["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BulkJobOut"}
