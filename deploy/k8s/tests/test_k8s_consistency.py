"""The manifests agree with the code: topics, Kafka users and their ACLs, settings, the API keys from Secrets,
probes, ports, images, autoscaling and where it finds Kafka, hardening, the one public entry, room for the PDF
cache, Strimzi's pods past the namespace's default-deny, Argo CD's order, and the PostgreSQL connections the
README asks for. Each rule is a function of k8s_checks; an empty list means it holds (the tests in
test_k8s_rules_fail.py show each one reports a broken manifest)."""

import pytest

import k8s_checks as checks
import k8s_code
from k8s_checks import pod_spec
from k8s_checks.pods import container_environment
from k8s_manifests import K8S, OVERLAYS, built, named, of_kind, replay_operation, templates

pytestmark = pytest.mark.unit

RULES = [checks.mutable_images, checks.unknown_settings, checks.missing_settings, checks.api_keys,
         checks.pdf_cache_room, checks.probe_paths, checks.ports, checks.service_acls, checks.scaling, checks.hardening,
         checks.ingress, checks.autoscaler_kafka_address, checks.strimzi_network, checks.sync_order,
         checks.ephemeral_storage]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_overlay_keeps_the_rule(overlay, rule):
    assert rule(built(overlay)) == []


@pytest.mark.parametrize(("overlay", "replicas", "min_in_sync"), [("dev", 1, 1), ("production", 3, 2)])
def test_every_topic_of_the_code_and_its_dead_letters_is_a_kafka_topic(overlay, replicas, min_in_sync):
    assert checks.topics(built(overlay), replicas=replicas, min_in_sync=min_in_sync) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_runs_with_its_migration_job(overlay):
    resources = built(overlay)
    for service in k8s_code.SERVICES:
        job = named(resources, "Job", f"{service}-migrate")
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] + container["args"] == [f"karmayogi-{service}", "migrate"]
        server = named(resources, "Deployment", service)["spec"]["template"]["spec"]["containers"][0]
        assert server["command"] + server["args"] == [f"karmayogi-{service}", "run", "--no-migrate"]
        assert server["image"] == container["image"]


def test_the_replay_job_reserves_the_disk_of_its_emptydir():
    assert checks.ephemeral_storage(replay_operation()) == []


def test_dev_notifications_send_to_the_recorder_beside_them_and_production_to_the_relay_it_sets():
    """Dev has no relay or gateway: notifications must not retry for ever against the base's example hosts.
    The recorder (karmayogi-local-mail) listens on its defaults, SMTP 2525 and HTTP 8025, on the pod's loopback."""
    for overlay, smtp, sms in [("dev", ("127.0.0.1", "2525"), "http://127.0.0.1:8025"),
                               ("production", ("smtp-relay.karmayogi.example", "587"), "https://sms-gateway.karmayogi.example")]:
        resources = built(overlay)
        deployment = named(resources, "Deployment", "notifications")
        environment, _ = container_environment(deployment, pod_spec(deployment)["containers"][0], resources)
        assert (environment["SMTP_HOST"], environment["SMTP_PORT"], environment["SMS_GATEWAY_URL"]) == (*smtp, sms), overlay
        recorders = [c for c in pod_spec(deployment)["containers"] if c.get("command") == ["karmayogi-local-mail"]]
        assert len(recorders) == (overlay == "dev"), overlay
        assert all("env" not in c and "envFrom" not in c for c in recorders)  # on its default ports


def test_production_scales_every_service_and_dev_runs_one_replica_each():
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in of_kind(built("production"), "ScaledObject")}
    assert scaled == set(k8s_code.SERVICES)
    assert all("replicas" not in d["spec"] for d in of_kind(built("production"), "Deployment"))
    assert {d["spec"]["replicas"] for d in of_kind(built("dev"), "Deployment")} == {1}


def test_the_autoscaler_may_only_describe_the_groups_and_the_topics_they_read():
    user = named(built("production"), "KafkaUser", "karmayogi-autoscaler")
    assert checks.acl_differences(user, k8s_code.autoscaler_acls(), "KEDA's lag reading") == []


def test_the_replay_job_user_reads_dead_letters_and_writes_the_original_topics_only():
    resources = replay_operation()
    user = named(resources, "KafkaUser", "karmayogi-dead-letter-replay")
    assert checks.acl_differences(user, k8s_code.replay_use().acls(), "karmayogi-ops dead-letters") == []
    container = named(resources, "Job", "dead-letter-replay")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "KAFKA_USERNAME", "value": "karmayogi-dead-letter-replay"} in container["env"]
    assert checks.hardening(resources) == [] and checks.mutable_images(resources) == []


def test_a_state_system_may_only_write_the_ingest_topics_the_services_consume():
    consumed = {topic for service in k8s_code.SERVICES for topic in k8s_code.kafka_use(service).reads}
    assert set(k8s_code.INGEST_TOPICS) <= consumed
    wanted = {("topic", topic): frozenset({"Write", "Describe"}) for topic in k8s_code.INGEST_TOPICS}
    (user,) = templates()
    assert checks.acl_differences(user, wanted, "a state system publishing attendance and completions") == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_namespace_denies_everything_not_allowed(overlay):
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(built(overlay), "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for service in k8s_code.SERVICES:
        egress_ports = {port["port"] for rule in policies[service]["egress"] for port in rule["ports"]}
        assert {5432, 9093} <= egress_ports, service


def test_production_runs_kafka_in_the_application_namespace_and_keda_finds_it_there():
    resources = built("production")
    assert checks.kafka_namespaces(resources) == {"karmayogi"}
    addresses = {t["metadata"]["bootstrapServers"] for s in of_kind(resources, "ScaledObject")
                 for t in s["spec"]["triggers"] if t["type"] == "kafka"}
    assert addresses == {"karmayogi-kafka-bootstrap.karmayogi.svc:9093"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_strimzi_pods_get_past_the_default_deny_in_both_overlays(overlay):
    assert named(built(overlay), "NetworkPolicy", "allow-strimzi")["spec"]["podSelector"] == {
        "matchLabels": {"strimzi.io/cluster": "karmayogi"}}


def test_the_readme_states_the_postgresql_connections_production_needs():
    connections = checks.postgresql_connections(built("production"))
    assert set(connections) == set(k8s_code.SERVICES)
    readme = (K8S.parent / "README.md").read_text()
    assert f"= {sum(connections.values())} connections" in readme


def test_a_rollout_step_holds_the_connections_of_the_pods_it_stops():
    resources = built("production")
    named(resources, "Deployment", "certification")["spec"]["strategy"]["rollingUpdate"] = {
        "maxSurge": "50%", "maxUnavailable": "25%"}
    # 6 replicas: 3 surged (rounded up) and 1 unavailable (rounded down); 9 run while 4 stop, 11 connections each
    assert checks.postgresql_connections(resources)["certification"] == (9 + 4) * 11 + 1


def test_the_connection_figure_leaves_a_service_without_its_settings_to_missing_settings():
    resources = built("production")
    env = pod_spec(named(resources, "Deployment", "certification"))["containers"][0]["env"]
    env[:] = [variable for variable in env if variable["name"] != "ADMIN_TOKEN"]
    assert set(checks.postgresql_connections(resources)) == set(k8s_code.SERVICES) - {"certification"}
    assert checks.missing_settings(resources) != []


