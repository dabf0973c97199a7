"""How each workload runs: pinned images, probes and ports that match the app, a hardened pod that
stops gracefully, and the node disk its emptyDirs may fill reserved for it."""

import k8s_code
from k8s_manifests import Resource, of_kind

from .pods import WORKLOAD_KINDS, containers, describe, pod_spec, quantity_bytes, service_workloads, settings_from


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


# -- hardening and stopping -------------------------------------------------------------------------------

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


# -- node disk --------------------------------------------------------------------------------------------

def ephemeral_storage(resources: list[Resource]) -> list[str]:
    """An emptyDir lives on the node's disk. Each has a sizeLimit, and the containers of its pod request at
    least their sum as ephemeral-storage, so the scheduler places the pod where that disk is free (a node
    out of disk evicts pods); each container's limit is at least its request, so the pod is not evicted
    before its volumes are full. emptyDirs in memory count as memory instead."""
    problems = []
    for workload in resources:
        if workload["kind"] not in WORKLOAD_KINDS:
            continue
        who, volumes = describe(workload), pod_spec(workload).get("volumes", [])
        on_disk = [v for v in volumes if "emptyDir" in v and v["emptyDir"].get("medium") != "Memory"]
        sizes = {v["name"]: quantity_bytes(v["emptyDir"].get("sizeLimit", "")) for v in on_disk}
        problems += [f"{who}: emptyDir {name} has no sizeLimit, so it may fill the node's disk."
                     for name, size in sizes.items() if size is None]
        requested = 0
        for container in containers(workload):
            amounts = {kind: quantity_bytes(container.get("resources", {}).get(kind, {}).get("ephemeral-storage", ""))
                       for kind in ("requests", "limits")}
            if None in amounts.values():
                problems.append(f"{who}: container {container['name']} needs ephemeral-storage requests and limits.")
                continue
            requested += amounts["requests"]
            if amounts["limits"] < amounts["requests"]:
                problems.append(f"{who}: container {container['name']} limits ephemeral-storage below its request.")
        needed = sum(size for size in sizes.values() if size)
        if requested < needed:
            problems.append(f"{who} requests {requested // 1024 ** 2}Mi of ephemeral-storage, less than its emptyDirs' "
                            f"sizeLimits ({needed // 1024 ** 2}Mi): the scheduler does not reserve the disk they may fill.")
    return problems
