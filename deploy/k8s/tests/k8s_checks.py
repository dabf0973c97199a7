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


# -- pods -------------------------------------------------------------------------------------------------

def hardening(resources: list[Resource]) -> list[str]:
    """Non-root, read-only root filesystem, no capability, RuntimeDefault seccomp, no service account token,
    requests and limits; Deployments also wait longer than the graceful shutdown and spread over nodes."""
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
            if spec.get("terminationGracePeriodSeconds", 30) <= shutdown:
                problems.append(f"{who} gives {spec.get('terminationGracePeriodSeconds', 30)} s to stop; a graceful "
                                f"shutdown may take {shutdown:.0f} s.")
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
