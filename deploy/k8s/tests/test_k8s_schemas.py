"""Every manifest is valid for the API that will receive it: Kubernetes' own kinds against the pinned
Kubernetes version's schemas (kubernetes-validate, strict: unknown fields fail), Strimzi's and KEDA's
against their CRDs' schemas, with unknown fields refused too."""

import jsonschema
import kubernetes_validate
import pytest

from k8s_manifests import (KUBERNETES_VERSION, MANIFEST_SETS, OVERLAYS, Resource, built, closed, crd_schema, is_core,
                           manifest_set, named)

pytestmark = pytest.mark.unit


def problems_of(resource: Resource) -> list[str]:
    who = f"{resource['kind']} {resource['metadata'].get('name')}"
    if is_core(resource):
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            return [f"{who}: {error.message} at {'/'.join(map(str, error.path))}"]
        return []
    validator = jsonschema.Draft7Validator(closed(crd_schema(resource)))
    return [f"{who}: {error.message} at {'/'.join(map(str, error.path))}" for error in validator.iter_errors(resource)]


@pytest.mark.parametrize("folder", MANIFEST_SETS)
def test_every_resource_is_valid_for_its_api(folder):
    resources = manifest_set(folder)
    assert resources
    assert [p for resource in resources for p in problems_of(resource)] == []


def test_both_overlays_use_strimzi_and_keda_kinds_that_the_schemas_know():
    kinds = {r["kind"] for overlay in OVERLAYS for r in built(overlay) if not is_core(r)}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "ScaledObject", "TriggerAuthentication"}


def test_a_misspelt_deployment_field_is_refused():
    deployment = named(built("dev"), "Deployment", "attendance")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/", "port": 1}}
    assert any("readinesProbe" in p for p in problems_of(deployment))


def test_a_misspelt_kafka_topic_field_is_refused():
    topic = named(built("production"), "KafkaTopic", "session.attended")
    topic["spec"]["partition"] = topic["spec"].pop("partitions")
    assert any("'partition' was unexpected" in p for p in problems_of(topic))


def test_a_wrong_acl_operation_is_refused():
    user = named(built("production"), "KafkaUser", "karmayogi-attendance")
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Consume"]
    assert any("'Consume' is not one of" in p for p in problems_of(user))
