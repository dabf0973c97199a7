"""The rules the manifests must keep, each a function from resources to a list of problems, one sentence
each. The consistency tests expect no problem; the mutation tests break a manifest and expect the sentence.
"""

import functools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from pydantic import ValidationError

import k8s_code
from k8s_manifests import Resource, local_stack_partitions, of_kind

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
SECRET_PLACEHOLDER = "s" * 40  # stands for a value from a Secret, long enough for any length rule


def pod_spec(workload: Resource) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: Resource) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def service_workloads(resources: list[Resource]) -> Iterator[tuple[str, Resource]]:
    """(service name, Deployment or migration Job) for the four services."""
    for workload in resources:
        name = workload.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
        if workload["kind"] in ("Deployment", "Job") and name in k8s_code.SERVICES:
            yield name, workload


def describe(workload: Resource) -> str:
    return f"{workload['kind']} {workload['metadata']['name']}"


# -- images -----------------------------------------------------------------------------------------------

def mutable_images(resources: list[Resource]) -> list[str]:
    """Every image is pinned: a digest, or a version tag (never latest, never no tag at all)."""
    problems = []
    for workload in resources:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        for container in containers(workload):
            image = container["image"]
            if "@sha256:" in image:
                continue
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                problems.append(f"{describe(workload)} uses the image {image}, which can change under the same name; "
                                "pin a version tag or a digest.")
    return problems


# -- settings ---------------------------------------------------------------------------------------------

def container_environment(workload: Resource, container: dict, resources: list[Resource]) -> tuple[dict[str, str], list[str]]:
    """The environment the container gets: ConfigMap entries (envFrom and configMapKeyRef) resolved from the
    built resources, literal values, and a placeholder for each Secret reference."""
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(resources, "ConfigMap")}
    environment: dict[str, str] = {}
    problems = []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in config_maps:
                problems.append(f"{describe(workload)} reads the ConfigMap {name}, which the manifests do not define.")
            environment.update(config_maps.get(name, {}))
        else:
            problems.append(f"{describe(workload)} takes a whole Secret with envFrom; name each secret setting with "
                            "secretKeyRef, so the settings it provides can be checked.")
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        if "value" in variable:
            environment[variable["name"]] = str(variable["value"])
        elif "secretKeyRef" in source:
            environment[variable["name"]] = SECRET_PLACEHOLDER
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            environment[variable["name"]] = config_maps.get(ref["name"], {}).get(ref["key"], "")
    return environment, problems


def setting_names(settings_class) -> set[str]:
    prefix = settings_class.model_config.get("env_prefix", "")
    return {name for field in settings_class.model_fields for name in (field.upper(), prefix.upper() + field.upper())}


def unknown_settings(resources: list[Resource]) -> list[str]:
    """No service container is given a variable its settings class does not read (a typo, or a setting
    that was removed, would otherwise be ignored without a word)."""
    problems = []
    for service, workload in service_workloads(resources):
        settings_class = k8s_code.settings_class(service)
        known = setting_names(settings_class)
        for container in containers(workload):
            environment, _ = container_environment(workload, container, resources)
            problems += [f"{describe(workload)} sets {name}, which {settings_class.__name__} does not read."
                         for name in sorted(set(environment) - known)]
    return problems


@functools.cache
def mounted_file() -> str:
    """One existing file that stands for every file a container reads from its mounted volumes."""
    stand_in = Path(tempfile.mkdtemp()) / "mounted-file"
    stand_in.write_text("mounted")
    return str(stand_in)


def settings_from(workload: Resource, container: dict, resources: list[Resource], settings_class):
    """The settings the container would start with, or the problems that would stop it. Paths into the
    container's mounted volumes stand for files that exist (they come from Secrets and ConfigMaps)."""
    environment, problems = container_environment(workload, container, resources)
    mounts = [m["mountPath"].rstrip("/") + "/" for m in container.get("volumeMounts", [])]
    for name, value in environment.items():
        if any(value.startswith(mount) for mount in mounts):
            environment[name] = mounted_file()
    with mock.patch.dict(os.environ, environment, clear=True):
        try:
            return settings_class(), problems
        except ValidationError as error:
            for problem in error.errors():
                setting = "_".join(str(p) for p in problem["loc"]).upper()
                if problem["type"] == "missing":
                    problems.append(f"{describe(workload)} does not provide {setting}, which "
                                    f"{settings_class.__name__} requires.")
                else:
                    problems.append(f"{describe(workload)}: {setting or 'settings'} invalid: {problem['msg']}")
            return None, problems


def missing_settings(resources: list[Resource]) -> list[str]:
    """Every setting a service requires (no default) is provided, and the values pass its validation."""
    problems = []
    for service, workload in service_workloads(resources):
        for container in containers(workload):
            problems += settings_from(workload, container, resources, k8s_code.settings_class(service))[1]
    return problems


# Share of its volume the PDF cache may fill: it can pass its limit by the files being written.
PDF_CACHE_SHARE = 0.8
_QUANTITY = re.compile(r"([0-9]+)(Ki|Mi|Gi|Ti)?")


def pdf_cache_room(resources: list[Resource]) -> list[str]:
    """Certification's PDF cache fits in the volume at LOCAL_DATA_DIR: a full emptyDir gets the pod evicted."""
    problems = []
    for service, workload in service_workloads(resources):
        if service != "certification" or workload["kind"] != "Deployment":
            continue
        container = pod_spec(workload)["containers"][0]
        settings, _ = settings_from(workload, container, resources, k8s_code.settings_class(service))
        if settings is None:
            continue  # missing_settings reports it
        mounted = {m["mountPath"].rstrip("/"): m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        volume = volumes.get(mounted.get(settings.local_data_dir.rstrip("/"), ""), {})
        size = _QUANTITY.fullmatch(str(volume.get("emptyDir", {}).get("sizeLimit", "")))
        if size is None:
            problems.append(f"{describe(workload)} writes PDFs to {settings.local_data_dir}, which is not an emptyDir "
                            "with a sizeLimit.")
            continue
        room = int(size[1]) * 1024 ** (1 + ("Ki", "Mi", "Gi", "Ti").index(size[2])) if size[2] else int(size[1])
        if settings.pdf_cache_mb * 1024 ** 2 > room * PDF_CACHE_SHARE:
            problems.append(f"{describe(workload)} may keep {settings.pdf_cache_mb} MiB of PDFs in a volume of "
                            f"{volume['emptyDir']['sizeLimit']}; keep PDF_CACHE_MB within {PDF_CACHE_SHARE:.0%} of it.")
    return problems


# -- probes and ports -------------------------------------------------------------------------------------

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def probe_paths(resources: list[Resource]) -> list[str]:
    """Each service Deployment has the three probes, on paths its app serves and on a port it declares."""
    problems = []
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment":
            continue
        served = k8s_code.http_paths(service)
        container = pod_spec(workload)["containers"][0]
        ports = {p.get("name") for p in container.get("ports", [])} | {p["containerPort"] for p in container.get("ports", [])}
        for probe in PROBES:
            check = container.get(probe, {}).get("httpGet")
            if check is None:
                problems.append(f"{describe(workload)} has no HTTP {probe}.")
                continue
            if check["path"] not in served:
                problems.append(f"{describe(workload)}'s {probe} asks for {check['path']}, which {service} does not "
                                f"serve (its health paths: {', '.join(sorted(p for p in served if p.startswith('/health')))}).")
            if check["port"] not in ports:
                problems.append(f"{describe(workload)}'s {probe} uses port {check['port']}, which the container does not declare.")
    return problems


def ports(resources: list[Resource]) -> list[str]:
    """The container listens where its settings say (HTTP_PORT, on all interfaces), and its Service sends there."""
    problems = []
    services = {s["metadata"]["name"]: s for s in of_kind(resources, "Service")}
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment":
            continue
        container = pod_spec(workload)["containers"][0]
        settings, _ = settings_from(workload, container, resources, k8s_code.settings_class(service))
        declared = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
        if settings is None:
            continue
        if declared.get("http") != settings.http_port:
            problems.append(f"{describe(workload)} declares port http={declared.get('http')}, but the service listens on "
                            f"HTTP_PORT={settings.http_port}.")
        if settings.http_host not in ("0.0.0.0", "::"):
            problems.append(f"{describe(workload)} listens on HTTP_HOST={settings.http_host}, unreachable from other pods.")
        api = services.get(service)
        if api is None:
            problems.append(f"{service} has no Service for its API.")
            continue
        for port in api["spec"]["ports"]:
            if port["targetPort"] not in declared and port["targetPort"] not in declared.values():
                problems.append(f"Service {service} sends to port {port['targetPort']}, which {describe(workload)} does not declare.")
    return problems


# -- Kafka ------------------------------------------------------------------------------------------------

def acls_of(user: Resource) -> tuple[dict[tuple[str, str], frozenset[str]], list[str]]:
    """(resource type, name) -> allowed operations; plus the problems of ACLs that are not plainly literal."""
    allowed: dict[tuple[str, str], set[str]] = {}
    problems = []
    for acl in user["spec"].get("authorization", {}).get("acls", []):
        resource = acl["resource"]
        if acl.get("type", "allow") != "allow" or resource.get("patternType", "literal") != "literal" or "name" not in resource:
            problems.append(f"KafkaUser {user['metadata']['name']} has an ACL that is not a literal allow: {acl}.")
            continue
        allowed.setdefault((resource["type"], resource["name"]), set()).update(acl["operations"])
    return {key: frozenset(ops) for key, ops in allowed.items()}, problems


def acl_differences(user: Resource, wanted: dict[tuple[str, str], frozenset[str]], why: str) -> list[str]:
    name = user["metadata"]["name"]
    problems = []
    if user["spec"].get("authentication", {}).get("type") != "scram-sha-512":
        problems.append(f"KafkaUser {name} does not authenticate with SCRAM-SHA-512.")
    allowed, problems_of_form = acls_of(user)
    problems += problems_of_form
    for (kind, resource), operations in sorted(wanted.items()):
        for operation in sorted(operations - allowed.get((kind, resource), frozenset())):
            problems.append(f"KafkaUser {name} lacks {operation} on {kind} {resource}, which {why} needs.")
    for (kind, resource), operations in sorted(allowed.items()):
        for operation in sorted(operations - wanted.get((kind, resource), frozenset())):
            problems.append(f"KafkaUser {name} allows {operation} on {kind} {resource}, which {why} does not need.")
    return problems


def kafka_user_of(deployment: Resource, resources: list[Resource]) -> str | None:
    container = pod_spec(deployment)["containers"][0]
    environment, _ = container_environment(deployment, container, resources)
    return environment.get("KAFKA_USERNAME")


def service_acls(resources: list[Resource]) -> list[str]:
    """Each service's KafkaUser (named by its KAFKA_USERNAME, with the password from that user's Secret)
    allows exactly what the service does on Kafka."""
    users = {u["metadata"]["name"]: u for u in of_kind(resources, "KafkaUser")}
    problems = []
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment":
            continue
        username = kafka_user_of(workload, resources)
        if username not in users:
            problems.append(f"{describe(workload)} logs in to Kafka as {username}, which has no KafkaUser.")
            continue
        password = [v["valueFrom"]["secretKeyRef"]["name"] for v in pod_spec(workload)["containers"][0].get("env", [])
                    if v["name"] == "KAFKA_PASSWORD" and "secretKeyRef" in v.get("valueFrom", {})]
        if password != [username]:
            problems.append(f"{describe(workload)} does not take KAFKA_PASSWORD from the Secret {username} of its KafkaUser.")
        problems += acl_differences(users[username], k8s_code.kafka_use(service).acls(), f"the {service} service")
    return problems


def topic_name(topic: Resource) -> str:
    return topic["spec"].get("topicName") or topic["metadata"]["name"]


def topics(resources: list[Resource], *, replicas: int, min_in_sync: int) -> list[str]:
    """A KafkaTopic for every topic the code uses and its dead letters, none other, with the local stack's
    partitions and the environment's replication."""
    declared = {topic_name(t): t for t in of_kind(resources, "KafkaTopic")}
    wanted = k8s_code.code_topics()
    problems = [f"No KafkaTopic for {name}, which the code uses." for name in sorted(wanted - set(declared))]
    problems += [f"KafkaTopic {name} is not a topic the code uses." for name in sorted(set(declared) - wanted)]
    partitions = local_stack_partitions()
    for name, topic in sorted(declared.items()):
        spec = topic["spec"]
        config = spec.get("config", {})
        if spec.get("partitions") != partitions:
            problems.append(f"KafkaTopic {name} has {spec.get('partitions')} partitions; the local stack uses {partitions}.")
        if spec.get("replicas") != replicas or int(config.get("min.insync.replicas", 0)) != min_in_sync:
            problems.append(f"KafkaTopic {name} has replicas {spec.get('replicas')} and min.insync.replicas "
                            f"{config.get('min.insync.replicas')}; expected {replicas} and {min_in_sync}.")
        if config.get("cleanup.policy") != "delete" or "retention.ms" not in config:
            problems.append(f"KafkaTopic {name} must state its retention.ms and cleanup.policy delete.")
    return problems


def scaling(resources: list[Resource]) -> list[str]:
    """Each ScaledObject targets a service Deployment, reads the lag of that service's own groups through a
    TriggerAuthentication that exists, and never asks for more replicas than a topic it reads has partitions."""
    partitions = {topic_name(t): t["spec"]["partitions"] for t in of_kind(resources, "KafkaTopic")}
    authentications = {a["metadata"]["name"] for a in of_kind(resources, "TriggerAuthentication")}
    problems = []
    for scaled in of_kind(resources, "ScaledObject"):
        name, target = scaled["metadata"]["name"], scaled["spec"]["scaleTargetRef"]["name"]
        if target not in k8s_code.SERVICES:
            problems.append(f"ScaledObject {name} scales {target}, which is not one of the services.")
            continue
        use = k8s_code.kafka_use(target)
        ceiling = min(partitions.get(topic, 0) for topic in use.reads)
        if scaled["spec"].get("maxReplicaCount", 100) > ceiling:
            problems.append(f"ScaledObject {name} allows {scaled['spec'].get('maxReplicaCount')} replicas, more than the "
                            f"{ceiling} partitions of the topics {target} reads (the extra consumers would idle).")
        groups = set()
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] != "kafka":
                continue
            groups.add(trigger["metadata"]["consumerGroup"])
            if trigger.get("authenticationRef", {}).get("name") not in authentications:
                problems.append(f"ScaledObject {name}'s trigger for {trigger['metadata']['consumerGroup']} has no "
                                "TriggerAuthentication in the manifests.")
        if groups != set(use.groups):
            problems.append(f"ScaledObject {name} follows the lag of {sorted(groups)}; {target}'s groups are {sorted(use.groups)}.")
    return problems


# -- where Kafka runs -------------------------------------------------------------------------------------

_QUALIFIED = re.compile(r"[a-z0-9-]+\.[a-z0-9-]+\.svc(\.cluster\.local)?:[0-9]+")


def namespace_of(resources: list[Resource]) -> str | None:
    """The namespace the manifests are applied to (the overlay's `namespace`)."""
    found = {r["metadata"]["namespace"] for r in resources if r["metadata"].get("namespace")}
    return found.pop() if len(found) == 1 else None


def services_kafka_addresses(resources: list[Resource]) -> set[str]:
    """The brokers' addresses the service Deployments are given (KAFKA_BOOTSTRAP_SERVERS)."""
    addresses = set()
    for _, workload in service_workloads(resources):
        if workload["kind"] == "Deployment":
            environment, _ = container_environment(workload, pod_spec(workload)["containers"][0], resources)
            addresses |= {a.strip() for a in environment.get("KAFKA_BOOTSTRAP_SERVERS", "").split(",") if a.strip()}
    return addresses


def qualified(address: str, namespace: str | None) -> str:
    """host:port as a pod of any namespace must write it: a Service's short name gets `.<namespace>.svc`."""
    host, _, port = address.rpartition(":")
    host = host.removesuffix(".cluster.local")
    return f"{host}:{port}" if "." in host else f"{host}.{namespace}.svc:{port}"


def kafka_namespaces(resources: list[Resource]) -> set[str]:
    """The namespaces the services find Kafka in: a short name resolves in their own."""
    namespace = namespace_of(resources)
    return {qualified(address, namespace).split(".")[1] for address in services_kafka_addresses(resources)}


def autoscaler_kafka_address(resources: list[Resource]) -> list[str]:
    """KEDA reads the lag from the keda-operator's pod, in KEDA's namespace, where a Service's short name does
    not resolve: every Kafka trigger names the brokers fully qualified (<service>.<namespace>.svc:<port>), and
    they are the brokers the services use."""
    namespace = namespace_of(resources)
    wanted = {qualified(address, namespace) for address in services_kafka_addresses(resources)}
    problems = []
    for scaled in of_kind(resources, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] != "kafka":
                continue
            who = f"ScaledObject {scaled['metadata']['name']}'s trigger {trigger.get('name', trigger['metadata'].get('consumerGroup'))}"
            given = [a.strip() for a in trigger["metadata"].get("bootstrapServers", "").split(",") if a.strip()]
            short = [a for a in given if not _QUALIFIED.fullmatch(a)]
            if short or not given:
                problems.append(f"{who} names Kafka as {', '.join(short) or 'nothing'}, which KEDA resolves in its own "
                                "namespace; write <service>.<namespace>.svc:<port>.")
            elif {qualified(a, namespace) for a in given} != wanted:
                problems.append(f"{who} reads the lag from {', '.join(given)}; the services use {', '.join(sorted(wanted))}.")
    return problems


# Labels Strimzi gives the pods of the Kafka cluster `karmayogi` (node pools' brokers and controllers, the
# entity operator's Topic and User Operators).
STRIMZI_PODS = {
    "its brokers": {"strimzi.io/cluster": "karmayogi", "strimzi.io/kind": "Kafka", "strimzi.io/name": "karmayogi-kafka",
                    "strimzi.io/pool-name": "brokers", "strimzi.io/broker-role": "true"},
    "its controllers": {"strimzi.io/cluster": "karmayogi", "strimzi.io/kind": "Kafka", "strimzi.io/name": "karmayogi-kafka",
                        "strimzi.io/pool-name": "controllers", "strimzi.io/controller-role": "true"},
    "its entity operator": {"strimzi.io/cluster": "karmayogi", "strimzi.io/kind": "Kafka",
                            "strimzi.io/name": "karmayogi-entity-operator"},
}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects a pod with these labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        holds = {"In": labels.get(key) in values, "NotIn": labels.get(key) not in values,
                 "Exists": key in labels, "DoesNotExist": key not in labels}[operator]
        if not holds:
            return False
    return True


def strimzi_network(resources: list[Resource]) -> list[str]:
    """When Kafka runs in the namespace (the services reach it by a short name, or by this namespace's), the
    namespace's default-deny must not cut Strimzi's pods off: replication, the controller quorum, DNS, the
    Kubernetes API and the cluster operator. A policy lets every one of them send and receive."""
    namespace = namespace_of(resources)
    policies = of_kind(resources, "NetworkPolicy")
    denies = any(p["spec"]["podSelector"] == {} and "Egress" in p["spec"].get("policyTypes", []) for p in policies)
    if namespace not in kafka_namespaces(resources) or not denies:
        return []
    problems = []
    for pods, labels in STRIMZI_PODS.items():
        applying = [p["spec"] for p in policies if selects(p["spec"]["podSelector"], labels)]
        for direction, rules in (("Ingress", "ingress"), ("Egress", "egress")):
            if not any(direction in p.get("policyTypes", []) and {} in p.get(rules, []) for p in applying):
                problems.append(f"Kafka runs in {namespace}, but no NetworkPolicy there allows the {direction.lower()} "
                                f"traffic of {pods}, which default-deny blocks.")
    return problems


# -- Argo CD's order --------------------------------------------------------------------------------------

HOOK = "argocd.argoproj.io/hook"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def sync_wave(resource: Resource) -> int:
    return int(resource["metadata"].get("annotations", {}).get(SYNC_WAVE, "0"))


def read_by(workload: Resource) -> set[tuple[str, str]]:
    """("ConfigMap" or "Secret", name) of everything the pod reads."""
    names = set()
    for container in containers(workload):
        names |= {("ConfigMap", s["configMapRef"]["name"]) for s in container.get("envFrom", []) if "configMapRef" in s}
        for variable in container.get("env", []):
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in variable.get("valueFrom", {}):
                    names.add((kind, variable["valueFrom"][key]["name"]))
    for volume in pod_spec(workload).get("volumes", []):
        if "configMap" in volume:
            names.add(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            names.add(("Secret", volume["secret"]["secretName"]))
    return names


def sync_order(resources: list[Resource]) -> list[str]:
    """Argo CD applies one wave, waits for it to be healthy, then the next. The migration Jobs are Sync hooks
    (PreSync hooks run before anything is applied, when a new ConfigMap or a first KafkaUser's Secret does not
    exist yet) in a wave after the ConfigMaps they read and the KafkaUsers and Kafka cluster whose Secrets they
    read; each Deployment comes after its migration Job; ScaledObjects and Ingresses, unhealthy while no
    Deployment runs, come with the Deployments or later."""
    problems = [f"{describe(r)} is a PreSync hook: Argo CD runs it before it applies what the hook reads."
                for r in resources if r["metadata"].get("annotations", {}).get(HOOK) == "PreSync"]
    made_by = {("ConfigMap", c["metadata"]["name"]): c for c in of_kind(resources, "ConfigMap")}
    made_by |= {("Secret", u["metadata"]["name"]): u for u in of_kind(resources, "KafkaUser")}
    made_by |= {("Secret", f"{k['metadata']['name']}-cluster-ca-cert"): k for k in of_kind(resources, "Kafka")}
    migrations, deployments = {}, {}
    for service, workload in service_workloads(resources):
        if workload["kind"] == "Job":
            migrations[service] = workload
            hook = workload["metadata"].get("annotations", {}).get(HOOK)
            if hook != "Sync":
                problems.append(f"{describe(workload)} must be an Argo CD Sync hook, recreated in its wave on every "
                                f"sync (it is {'a ' + hook + ' hook' if hook else 'not a hook'}).")
        else:
            deployments[service] = workload
        for reference in sorted(read_by(workload)):
            maker = made_by.get(reference)
            if maker is not None and sync_wave(maker) >= sync_wave(workload):
                problems.append(f"{describe(workload)} (wave {sync_wave(workload)}) reads {reference[0]} {reference[1]}, "
                                f"which {describe(maker)} provides in wave {sync_wave(maker)}; it must come earlier.")
    for service, deployment in deployments.items():
        job = migrations.get(service)
        if job is not None and sync_wave(deployment) <= sync_wave(job):
            problems.append(f"{describe(deployment)} (wave {sync_wave(deployment)}) must come after {describe(job)} "
                            f"(wave {sync_wave(job)}).")
    for later in of_kind(resources, "ScaledObject") + of_kind(resources, "Ingress"):
        if later["kind"] == "ScaledObject":
            targets = [later["spec"]["scaleTargetRef"]["name"]]
        else:
            targets = [p["backend"]["service"]["name"] for rule in later["spec"]["rules"] for p in rule["http"]["paths"]]
        for target in sorted(set(targets) & set(deployments)):
            if sync_wave(later) < sync_wave(deployments[target]):
                problems.append(f"{describe(later)} (wave {sync_wave(later)}) comes before {describe(deployments[target])} "
                                f"(wave {sync_wave(deployments[target])}), and is unhealthy until it runs.")
    return problems


# -- PostgreSQL -------------------------------------------------------------------------------------------

# The outbox relay's LISTEN connection, opened beside the pool (karmayogi_runtime.outbox.OutboxRelay._listen).
CONNECTIONS_BESIDE_THE_POOL = 1


def postgresql_connections(resources: list[Resource]) -> dict[str, int]:
    """The most PostgreSQL connections each service may hold at once: its most pods (maxReplicaCount, or the
    replicas, plus the rollout's surge), each with its pool (DATABASE_POOL_SIZE) and the relay's LISTEN
    connection, and its migration Job's one."""
    most = {s["spec"]["scaleTargetRef"]["name"]: s["spec"]["maxReplicaCount"] for s in of_kind(resources, "ScaledObject")}
    connections = {}
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment":
            continue
        settings, problems = settings_from(workload, pod_spec(workload)["containers"][0], resources,
                                           k8s_code.settings_class(service))
        assert settings is not None, problems
        pods = most.get(service, workload["spec"].get("replicas", 1))
        surge = workload["spec"].get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", 1)
        pods += surge if isinstance(surge, int) else -(-pods * int(surge.rstrip("%")) // 100)
        jobs = sum(1 for s, w in service_workloads(resources) if s == service and w["kind"] == "Job")
        connections[service] = pods * (settings.database_pool_size + CONNECTIONS_BESIDE_THE_POOL) + jobs
    return connections


# -- pods -------------------------------------------------------------------------------------------------

def pre_stop_seconds(container: dict) -> int:
    """How long the container keeps serving after Kubernetes decides to stop it (the built-in sleep action of
    its preStop hook, Kubernetes 1.30 and later), so that every proxy drops it before SIGTERM; 0 without."""
    return int(container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0))


def hardening(resources: list[Resource]) -> list[str]:
    """Non-root, read-only root filesystem, no capability, RuntimeDefault seccomp, no service account token,
    requests and limits; Deployments also sleep in preStop, wait longer than that sleep and the graceful
    shutdown together, and spread over nodes."""
    problems = []
    shutdown = k8s_code.graceful_shutdown_seconds()
    for workload in resources:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        spec, who = pod_spec(workload), describe(workload)
        pod_security = spec.get("securityContext", {})
        if not pod_security.get("runAsNonRoot") or pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{who} must run as non-root with the RuntimeDefault seccomp profile.")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{who} mounts a service account token it does not need.")
        for container in containers(workload):
            security = container.get("securityContext", {})
            if not (security.get("readOnlyRootFilesystem") and security.get("allowPrivilegeEscalation") is False
                    and security.get("capabilities", {}).get("drop") == ["ALL"]):
                problems.append(f"{who}: container {container['name']} needs a read-only root filesystem, no privilege "
                                "escalation and every capability dropped.")
            resources_ = container.get("resources", {})
            if not resources_.get("requests", {}).get("memory") or not resources_.get("limits", {}).get("memory"):
                problems.append(f"{who}: container {container['name']} needs memory requests and limits.")
        if workload["kind"] == "Deployment":
            wait = pre_stop_seconds(spec["containers"][0])
            if not wait:
                problems.append(f"{who} has no preStop sleep: on SIGTERM the server stops accepting while the "
                                "Service and the ingress controller still send it requests.")
            grace = spec.get("terminationGracePeriodSeconds", 30)
            if grace <= shutdown + wait:
                problems.append(f"{who} gives {grace} s to stop; its preStop sleep ({wait} s) and a graceful shutdown "
                                f"({shutdown:.0f} s) may take {shutdown + wait:.0f} s.")
            if not spec.get("topologySpreadConstraints"):
                problems.append(f"{who} has no topology spread.")
    return problems


def ingress(resources: list[Resource]) -> list[str]:
    """Only certification's public verification paths are exposed, and certification serves them."""
    problems = []
    served = k8s_code.http_paths("certification")
    for entry in of_kind(resources, "Ingress"):
        for rule in entry["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]["name"]
                route = path["path"].rstrip("/") or "/"
                if backend != "certification":
                    problems.append(f"Ingress {entry['metadata']['name']} exposes {backend}, whose API is internal.")
                elif route not in ("/verify", "/.well-known/jwks.json"):
                    problems.append(f"Ingress {entry['metadata']['name']} exposes {path['path']}; only the verification "
                                    "page, its PDF and the JWKS are public.")
                elif not any(re.fullmatch(re.escape(route) + r"(/.*)?", p) for p in served):
                    problems.append(f"Ingress {entry['metadata']['name']} routes {path['path']}, which certification does not serve.")
    return problems
