"""The committed AsyncAPI documents are what the services' code generates today (`make asyncapi`)."""

import importlib.util
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from karmayogi_contracts import EVENT_TYPES, decode, encode, examples
from karmayogi_contracts.encoding import CLOUDEVENTS_JSON
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

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
            if message["contentType"] == CLOUDEVENTS_JSON:  # structured mode: the payload is the whole event
                assert message["payload"]["properties"]["data"] == {"$ref": f"#/components/schemas/{model}"}
            else:
                assert message["payload"] == {"$ref": f"#/components/schemas/{model}"}
                assert "ce_id" in message["headers"]["properties"]
            assert model in document["components"]["schemas"]


EXAMPLES = Path(__file__).parents[1] / "contracts" / "examples"


@pytest.mark.parametrize("service", generate.SERVICES)
def test_every_valid_example_fits_the_messages_of_each_topic_the_service_consumes(service):
    """A publisher checking its records against the document is refused nothing the consumers accept: the
    contracts' valid examples, as sent in structured mode and in binary mode (with and without content-type)."""
    document = json.loads((FOLDER / f"{service}.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource("urn:asyncapi", Resource(contents=document, specification=DRAFT202012))

    def check(instance, pointer: str) -> None:
        Draft202012Validator({"$ref": f"urn:asyncapi#{pointer}"}, registry=registry).validate(instance)

    received = {o["channel"]["$ref"].rsplit("/", 1)[-1] for o in document["operations"].values() if o["action"] == "receive"}
    topics = {event_type.topic for event_type in EVENT_TYPES.values()}
    channels = [name for name in received if document["channels"][name]["address"] in topics]
    assert channels, "a service that consumes no project topic"
    for name in channels:
        messages = {document["components"]["messages"][r["$ref"].rsplit("/", 1)[-1]]["contentType"]: r["$ref"].rsplit("/", 1)[-1]
                    for r in document["channels"][name]["messages"].values()}
        binary, structured = (f"/components/messages/{messages[kind]}" for kind in ("application/json", CLOUDEVENTS_JSON))
        paths = sorted((EXAMPLES / document["channels"][name]["address"] / "valid").glob("*.json"))
        assert paths, f"no valid example of {document['channels'][name]['address']}"
        for path in paths:
            example = examples.load(path)
            check(json.loads(example.value), f"{structured}/payload")
            check({n: v.decode() for n, v in example.headers}, f"{structured}/headers")
            record = encode(decode(example.value, example.headers))
            headers = {n: v.decode() for n, v in record.headers}
            check(json.loads(record.value), f"{binary}/payload")
            check(headers, f"{binary}/headers")
            check({n: v for n, v in headers.items() if n != "content-type"}, f"{binary}/headers")
