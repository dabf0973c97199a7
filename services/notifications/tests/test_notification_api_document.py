"""The OpenAPI document says how to page an employee's deliveries (every route's answers: tests/test_openapi_documents.py)."""

import pytest
from karmayogi_runtime.service import create_http_app
from karmayogi_runtime.testing import TEST_API_KEYS

from notifications.main import definition
from notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit

@pytest.fixture(scope="module")
def document() -> dict:
    settings = NotificationsSettings(database_url="postgresql://karmayogi@127.0.0.1/notifications",
                                     kafka_bootstrap_servers="127.0.0.1:9092", api_keys=TEST_API_KEYS)
    return create_http_app(definition(settings)).openapi()


def test_an_employees_deliveries_document_the_offset_its_bound_and_the_next_page(document):
    operation = document["paths"]["/v1/employees/{tenant}/{employee_id}/deliveries"]["get"]
    offset = next(p for p in operation["parameters"] if p["name"] == "offset")
    assert (offset["in"], offset["schema"]["minimum"], offset["schema"]["maximum"]) == ("query", 0, 1_000_000)
    page = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/DeliveryPage"}
    assert set(document["components"]["schemas"]["DeliveryPage"]["required"]) == {"items", "next"}
