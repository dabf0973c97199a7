"""The OpenAPI document names every answer a route gives, not only 200 and 422, and how to page."""

import pytest
from karmayogi_runtime.service import create_http_app

from notifications.main import definition
from notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

PROBLEMS = {"$ref": "#/components/schemas/Problems"}


@pytest.fixture(scope="module")
def document() -> dict:
    settings = NotificationsSettings(database_url="postgresql://karmayogi@127.0.0.1/notifications",
                                     kafka_bootstrap_servers="127.0.0.1:9092")
    return create_http_app(definition(settings)).openapi()


def test_the_deliveries_of_an_event_document_the_404_of_an_event_not_consumed_with_its_sentence(document):
    answers = document["paths"]["/v1/events/{event_id}/deliveries"]["get"]["responses"]
    assert set(answers) == {"200", "404", "422"}
    assert answers["404"]["description"].startswith("No deliveries for this event (yet)")
    assert answers["404"]["content"]["application/json"]["schema"] == PROBLEMS


def test_an_employees_deliveries_document_the_offset_its_bound_and_the_next_page(document):
    operation = document["paths"]["/v1/employees/{tenant}/{employee_id}/deliveries"]["get"]
    offset = next(p for p in operation["parameters"] if p["name"] == "offset")
    assert (offset["in"], offset["schema"]["minimum"], offset["schema"]["maximum"]) == ("query", 0, 1_000_000)
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/DeliveryPage"}
    assert set(document["components"]["schemas"]["DeliveryPage"]["required"]) == {"items", "next"}
