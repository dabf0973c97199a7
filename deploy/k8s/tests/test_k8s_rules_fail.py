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


def config_map(resources, prefix):
    """The built ConfigMap whose name (with kustomize's content hash) starts with `prefix`."""
    return next(c for c in resources if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith(prefix))


def test_a_server_without_api_keys_or_with_keys_in_a_config_map_is_reported():
    resources = built("production")
    env = container(resources, "Deployment", "attendance")["env"]
    env[:] = [variable for variable in env if variable["name"] != "API_KEYS"]
    config = config_map(resources, "enrolment-config")
    config["data"]["API_KEYS"] = "IN-HR:" + "k" * 40
    assert checks.missing_settings(resources) == []  # the setting is optional: this rule is what notices
    assert checks.api_keys(resources) == [
        "Deployment attendance does not provide API_KEYS, so its routes behind a state's key would refuse every "
        "request; give it the states' keys from its Secret attendance-api-keys (secretKeyRef, key keys).",
        f"Deployment enrolment also sets API_KEYS in the ConfigMap {config['metadata']['name']}, which the service "
        "does not read but the repository keeps; keys belong in the Secret enrolment-api-keys only."]


@pytest.mark.parametrize(("value", "words"), [
    ("IN-HR:" + "k" * 40, ""), ("", " empty"),
])
def test_a_prefixed_api_keys_in_a_config_map_read_before_the_secret_is_reported(value, words):
    resources = built("production")
    config = config_map(resources, "enrolment-config")
    config["data"]["ENROLMENT_API_KEYS"] = value
    refused = ", so its routes behind a state's key would refuse every request" if not value else ""
    assert checks.api_keys(resources) == [
        f"Deployment enrolment sets ENROLMENT_API_KEYS{words} in the ConfigMap {config['metadata']['name']}, which "
        f"the service reads before API_KEYS from the Secret enrolment-api-keys{refused}; the keys must come from its "
        "Secret enrolment-api-keys (secretKeyRef), never from a manifest or a ConfigMap."]


def test_a_later_api_keys_written_in_the_manifest_is_reported():
    resources = built("dev")
    container(resources, "Deployment", "notifications")["env"].append({"name": "API_KEYS", "value": "*:" + "k" * 40})
    assert checks.api_keys(resources) == [
        "Deployment notifications sets API_KEYS in the manifest, after the entry from the Secret "
        "notifications-api-keys (the later entry wins); the keys must come from its Secret notifications-api-keys "
        "(secretKeyRef), never from a manifest or a ConfigMap."]


def api_keys_secret(resources, service):
    """The secretKeyRef of the service Deployment's API_KEYS."""
    env = container(resources, "Deployment", service)["env"]
    return next(v for v in env if v["name"] == "API_KEYS")["valueFrom"]["secretKeyRef"]


def test_keys_from_an_optional_secret_or_another_service_s_secret_are_reported():
    resources = built("production")
    api_keys_secret(resources, "enrolment")["optional"] = True
    api_keys_secret(resources, "certification")["name"] = "enrolment-api-keys"
    assert checks.api_keys(resources) == [
        "Deployment certification reads API_KEYS from key keys of the Secret enrolment-api-keys; each service reads "
        "its own keys, from key keys of the Secret certification-api-keys, so that it holds only the keys of the "
        "systems that call it.",
        "Deployment enrolment reads API_KEYS from the Secret enrolment-api-keys with optional: true: without that "
        "Secret its pods would start with no keys, and its routes behind a state's key would refuse every request; "
        "drop optional, so that a missing Secret stops the rollout."]


def test_a_prefixed_api_keys_from_the_service_s_own_secret_is_what_it_reads():
    resources = built("production")
    container(resources, "Deployment", "attendance")["env"].append(
        {"name": "ATTENDANCE_API_KEYS", "valueFrom": {"secretKeyRef": {"name": "attendance-api-keys", "key": "keys"}}})
    api_keys_secret(resources, "attendance")["optional"] = True
    assert checks.api_keys(resources) == []  # the optional API_KEYS is not the one attendance reads


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
        "Deployment certification gives 30 s to stop; its preStop sleep (10 s) and a graceful shutdown (55 s) may "
        "take 65 s."]


def test_a_server_without_a_pre_stop_sleep_is_reported():
    resources = built("production")
    del container(resources, "Deployment", "enrolment")["lifecycle"]
    assert checks.hardening(resources) == [
        "Deployment enrolment has no preStop sleep: on SIGTERM the server stops accepting while the Service and the "
        "ingress controller still send it requests."]


def test_a_short_kafka_name_for_keda_is_reported():
    resources = built("production")
    trigger = named(resources, "ScaledObject", "attendance")["spec"]["triggers"][1]
    trigger["metadata"]["bootstrapServers"] = "karmayogi-kafka-bootstrap:9093"
    assert checks.autoscaler_kafka_address(resources) == [
        "ScaledObject attendance's trigger marks-lag names Kafka as karmayogi-kafka-bootstrap:9093, which KEDA "
        "resolves in its own namespace; write <service>.<namespace>.svc:<port>."]


def test_keda_reading_another_namespace_s_kafka_is_reported():
    resources = built("production")
    trigger = named(resources, "ScaledObject", "enrolment")["spec"]["triggers"][0]
    trigger["metadata"]["bootstrapServers"] = "karmayogi-kafka-bootstrap.kafka.svc:9093"
    assert checks.autoscaler_kafka_address(resources) == [
        "ScaledObject enrolment's trigger master-trainers-lag reads the lag from karmayogi-kafka-bootstrap.kafka.svc:9093; "
        "the services use karmayogi-kafka-bootstrap.karmayogi.svc:9093."]


def test_strimzi_pods_left_behind_the_default_deny_are_reported():
    resources = [r for r in built("production") if r["metadata"]["name"] != "allow-strimzi"]
    assert checks.strimzi_network(resources) == [
        f"Kafka runs in karmayogi, but no NetworkPolicy there allows the egress traffic of {pods}, which default-deny "
        "blocks." for pods in ("its brokers", "its controllers", "its entity operator")]


def test_strimzi_pods_open_to_any_pod_are_reported():
    resources = built("production")
    policy = named(resources, "NetworkPolicy", "allow-strimzi")["spec"]
    policy["policyTypes"].append("Ingress")
    policy["ingress"] = [{}]
    problems = checks.strimzi_network(resources)
    assert len(problems) == 3
    assert problems[0] == (
        "NetworkPolicy allow-strimzi lets pods outside the cluster karmayogi reach its brokers, past the limits of "
        "Strimzi's own policies (replication only from its components, each listener only from its networkPolicyPeers).")


def test_strimzi_pods_may_admit_the_pods_of_their_own_cluster():
    resources = built("dev")
    policy = named(resources, "NetworkPolicy", "allow-strimzi")["spec"]
    policy["policyTypes"].append("Ingress")
    policy["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": "karmayogi"}}}]}]
    assert checks.strimzi_network(resources) == []


def test_kafka_elsewhere_needs_no_strimzi_policy_in_the_namespace():
    resources = [r for r in built("production") if r["metadata"]["name"] != "allow-strimzi"]
    common = [c for c in resources if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("karmayogi-common")]
    common[0]["data"]["KAFKA_BOOTSTRAP_SERVERS"] = "karmayogi-kafka-bootstrap.kafka.svc:9093"
    assert checks.strimzi_network(resources) == []


def test_a_pre_sync_migration_is_reported():
    resources = built("production")
    named(resources, "Job", "attendance-migrate")["metadata"]["annotations"]["argocd.argoproj.io/hook"] = "PreSync"
    assert checks.sync_order(resources) == [
        "Job attendance-migrate is a PreSync hook: Argo CD runs it before it applies what the hook reads.",
        "Job attendance-migrate must be an Argo CD Sync hook, recreated in its wave on every sync (it is a PreSync hook)."]


def test_a_migration_in_the_wave_of_its_config_is_reported():
    resources = built("dev")
    del named(resources, "Job", "notifications-migrate")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    problems = checks.sync_order(resources)
    assert "Job notifications-migrate (wave 0) reads Secret karmayogi-notifications, which KafkaUser " \
           "karmayogi-notifications provides in wave 0; it must come earlier." in problems
    assert "Job notifications-migrate (wave 0) reads Secret karmayogi-cluster-ca-cert, which Kafka karmayogi " \
           "provides in wave 0; it must come earlier." in problems


def test_a_deployment_before_its_migration_and_a_scaled_object_before_its_deployment_are_reported():
    resources = built("production")
    named(resources, "Deployment", "certification")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "1"
    named(resources, "ScaledObject", "enrolment")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "0"
    assert checks.sync_order(resources) == [
        "Deployment certification (wave 1) must come after Job certification-migrate (wave 1).",
        "ScaledObject enrolment (wave 0) comes before Deployment enrolment (wave 2), and is unhealthy until it runs."]


def test_a_disruption_budget_before_its_deployment_is_reported():
    resources = built("dev")
    del named(resources, "PodDisruptionBudget", "attendance")["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
    assert checks.sync_order(resources) == [
        "PodDisruptionBudget attendance (wave 0) comes before Deployment attendance (wave 2), and is unhealthy until it runs."]


def test_an_internal_path_on_the_ingress_is_reported():
    resources = built("production")
    paths = named(resources, "Ingress", "certificate-verification")["spec"]["rules"][0]["http"]["paths"]
    paths.append({**paths[0], "path": "/v1/certificates"})
    assert checks.ingress(resources) == [
        "Ingress certificate-verification exposes /v1/certificates; only the verification page, its PDF and the JWKS are public."]


def test_disk_the_scheduler_does_not_reserve_for_the_emptydirs_is_reported():
    resources = built("production")
    del container(resources, "Deployment", "certification")["resources"]["requests"]["ephemeral-storage"]
    container(resources, "Job", "enrolment-migrate")["resources"]["requests"]["ephemeral-storage"] = "64Mi"
    container(resources, "Job", "enrolment-migrate")["resources"]["limits"]["ephemeral-storage"] = "32Mi"
    volumes = pod_spec(named(resources, "Deployment", "attendance"))["volumes"]
    next(v for v in volumes if v["name"] == "tmp")["emptyDir"] = {}
    assert checks.ephemeral_storage(resources) == [
        "Deployment attendance: emptyDir tmp has no sizeLimit, so it may fill the node's disk.",
        "Deployment certification: container certification needs ephemeral-storage requests and limits.",
        "Deployment certification requests 0Mi of ephemeral-storage, less than its emptyDirs' sizeLimits (2304Mi): "
        "the scheduler does not reserve the disk they may fill.",
        "Job enrolment-migrate: container migrate limits ephemeral-storage below its request.",
        "Job enrolment-migrate requests 64Mi of ephemeral-storage, less than its emptyDirs' sizeLimits (128Mi): "
        "the scheduler does not reserve the disk they may fill."]
