"""The OpenAPI document names every answer a route gives, not only 200 and 422."""

import pytest
from karmayogi_runtime.service import create_http_app

from notifications.main import definition
from notifications.settings import NotificationsSettings

pytestmark = pytest.mark.unit


def test_the_deliveries_of_an_event_document_the_404_of_an_event_not_consumed():
    settings = NotificationsSettings(database_url="postgresql://karmayogi@127.0.0.1/notifications",
                                     kafka_bootstrap_servers="127.0.0.1:9092")
    paths = create_http_app(definition(settings)).openapi()["paths"]

    answers = paths["/v1/events/{event_id}/deliveries"]["get"]["responses"]
    assert set(answers) == {"200", "404", "422"}
    assert answers["404"]["description"].startswith("No deliveries for this event (yet)")
