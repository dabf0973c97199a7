"""Each rule of k8s_checks reports a manifest broken on purpose, with a sentence that says what is wrong:
the consistency tests could fail, so their passing means something."""

import pytest

import k8s_checks as checks
from k8s_checks import pod_spec
from k8s_manifests import built, named

pytestmark = pytest.mark.unit


def container(resources, kind, name):
    return pod_spec(named(resources, kind, name))["containers"][0]


def test_a_missing_acl_is_reported():
    resources = built("production")
    user = named(resources, "KafkaUser", "karmayogi-attendance")
    user["spec"]["authorization"]["acls"] = [
        acl for acl in user["spec"]["authorization"]["acls"] if acl["resource"]["name"] != "course.completed"]
    assert checks.service_acls(resources) == [
        "KafkaUser karmayogi-attendance lacks Describe on topic course.completed, which the attendance service needs.",
        "KafkaUser karmayogi-attendance lacks Write on topic course.completed, which the attendance service needs.",
    ]


def test_an_acl_beyond_what_the_service_does_is_reported():
    resources = built("dev")
    user = named(resources, "KafkaUser", "karmayogi-enrolment")
    user["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "group", "name": "notifications.messages", "patternType": "literal"}, "operations": ["Read"]})
    assert checks.service_acls(resources) == [
        "KafkaUser karmayogi-enrolment allows Read on group notifications.messages, which the enrolment service does not need."]


def test_a_prefix_acl_is_reported():
    resources = built("dev")
    acl = named(resources, "KafkaUser", "karmayogi-notifications")["spec"]["authorization"]["acls"][0]
    acl["resource"]["patternType"] = "prefix"
    problems = checks.service_acls(resources)
    assert any("is not a literal allow" in p for p in problems)


def test_a_missing_dead_letter_topic_is_reported():
    resources = [r for r in built("production") if r["metadata"]["name"] != "session.attended.dlq"]
    assert checks.topics(resources, replicas=3, min_in_sync=2) == [
        "No KafkaTopic for session.attended.dlq, which the code uses."]


def test_an_unknown_setting_is_reported():
    resources = built("dev")
    container(resources, "Deployment", "enrolment")["env"].append({"name": "TIMEZON", "value": "Asia/Kolkata"})
    assert checks.unknown_settings(resources) == ["Deployment enrolment sets TIMEZON, which EnrolmentSettings does not read."]


def test_an_unknown_setting_in_a_config_map_is_reported():
    resources = built("production")
    config = [c for c in resources if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("notifications-config")]
    config[0]["data"]["SMTP_TLS"] = "true"
    assert checks.unknown_settings(resources) == [
        "Deployment notifications sets SMTP_TLS, which NotificationsSettings does not read.",
        "Job notifications-migrate sets SMTP_TLS, which NotificationsSettings does not read."]


def test_a_required_setting_left_out_is_reported():
    resources = built("production")
    env = container(resources, "Deployment", "certification")["env"]
    env[:] = [variable for variable in env if variable["name"] != "ADMIN_TOKEN"]
    assert checks.missing_settings(resources) == [
        "Deployment certification does not provide ADMIN_TOKEN, which CertificationSettings requires."]


def test_a_pdf_cache_larger_than_its_volume_allows_is_reported():
    resources = built("production")
    config = [c for c in resources if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("certification-config")]
    config[0]["data"]["PDF_CACHE_MB"] = "2048"
    assert checks.pdf_cache_room(resources) == [
        "Deployment certification may keep 2048 MiB of PDFs in a volume of 2Gi; keep PDF_CACHE_MB within 80% of it."]


def test_a_wrong_probe_path_is_reported():
    resources = built("dev")
    container(resources, "Deployment", "notifications")["readinessProbe"]["httpGet"]["path"] = "/healthz"
    assert checks.probe_paths(resources) == [
        "Deployment notifications's readinessProbe asks for /healthz, which notifications does not serve "
        "(its health paths: /health/live, /health/ready)."]


def test_a_port_that_differs_from_the_setting_is_reported():
    resources = built("dev")
    container(resources, "Deployment", "attendance")["ports"][0]["containerPort"] = 8080
    assert checks.ports(resources) == ["Deployment attendance declares port http=8080, but the service listens on HTTP_PORT=8102."]


@pytest.mark.parametrize("image", ["registry.karmayogi.example/karmayogi/enrolment:latest",
                                   "registry.karmayogi.example:5000/karmayogi/enrolment"])
def test_a_mutable_image_is_reported(image):
    resources = built("production")
    container(resources, "Job", "enrolment-migrate")["image"] = image
    assert checks.mutable_images(resources) == [
        f"Job enrolment-migrate uses the image {image}, which can change under the same name; pin a version tag or a digest."]


def test_more_replicas_than_partitions_is_reported():
    resources = built("production")
    named(resources, "ScaledObject", "notifications")["spec"]["maxReplicaCount"] = 12
    assert checks.scaling(resources) == [
        "ScaledObject notifications allows 12 replicas, more than the 6 partitions of the topics notifications reads "
        "(the extra consumers would idle)."]


def test_a_root_container_and_a_short_grace_period_are_reported():
    resources = built("dev")
    deployment = named(resources, "Deployment", "certification")
    pod_spec(deployment)["terminationGracePeriodSeconds"] = 30
    del container(resources, "Deployment", "certification")["securityContext"]["readOnlyRootFilesystem"]
    assert checks.hardening(resources) == [
        "Deployment certification: container certification needs a read-only root filesystem, no privilege escalation "
        "and every capability dropped.",
        "Deployment certification gives 30 s to stop; a graceful shutdown may take 45 s."]


def test_an_internal_path_on_the_ingress_is_reported():
    resources = built("production")
    paths = named(resources, "Ingress", "certificate-verification")["spec"]["rules"][0]["http"]["paths"]
    paths.append({**paths[0], "path": "/v1/certificates"})
    assert checks.ingress(resources) == [
        "Ingress certificate-verification exposes /v1/certificates; only the verification page, its PDF and the JWKS are public."]
