"""The committed AsyncAPI documents are what the services' code generates today (`make asyncapi`)."""

import importlib.util
import json
from pathlib import Path

import pytest
from karmayogi_contracts import EVENT_TYPES

pytestmark = pytest.mark.unit

FOLDER = Path(__file__).parents[1] / "docs" / "asyncapi"
_spec = importlib.util.spec_from_file_location("asyncapi_generate", FOLDER / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)


@pytest.mark.parametrize("service", generate.SERVICES)
def test_the_committed_asyncapi_document_is_current(service):
    committed = (FOLDER / f"{service}.json").read_text(encoding="utf-8")
    assert generate.document(service) == committed, f"run `make asyncapi` to refresh docs/asyncapi/{service}.json"


@pytest.mark.parametrize("service", generate.SERVICES)
def test_every_message_of_a_project_topic_carries_its_contract_schema(service):
    document = json.loads((FOLDER / f"{service}.json").read_text(encoding="utf-8"))
    topics = {event_type.topic: event_type for event_type in EVENT_TYPES.values()}
    channels = [c for c in document["channels"].values() if c["address"] in topics]
    assert channels, "a service that neither consumes nor publishes a project topic"
    for channel in channels:
        for reference in channel["messages"].values():
            message = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[-1]]
            model = topics[channel["address"]].model.__name__
            assert message["payload"] == {"$ref": f"#/components/schemas/{model}"}
            assert "ce_id" in message["headers"]["properties"]
            assert model in document["components"]["schemas"]
