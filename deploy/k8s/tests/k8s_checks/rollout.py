"""How the manifests roll out and scale: KEDA's ScaledObjects against the topics' partitions, Argo CD's sync
waves, and the PostgreSQL connections the most pods may hold."""

import k8s_code
from k8s_manifests import Resource, of_kind

from .kafka import topic_name
from .network import selects
from .pods import containers, describe, pod_spec, service_workloads, settings_from


# -- KEDA's scaling ---------------------------------------------------------------------------------------

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
    read; each Deployment comes after its migration Job; ScaledObjects, Ingresses and PodDisruptionBudgets,
    unhealthy while no Deployment runs (a budget without pods reports InsufficientPods, which Argo CD 2.13.0
    counts as degraded: argo-cd issue 20171), come with the Deployments or later."""
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
    for later in [r for r in resources if r["kind"] in ("ScaledObject", "Ingress", "PodDisruptionBudget")]:
        if later["kind"] == "ScaledObject":
            targets = [later["spec"]["scaleTargetRef"]["name"]]
        elif later["kind"] == "Ingress":
            targets = [p["backend"]["service"]["name"] for rule in later["spec"]["rules"] for p in rule["http"]["paths"]]
        else:
            targets = [service for service, deployment in deployments.items()
                       if selects(later["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])]
        for target in sorted(set(targets) & set(deployments)):
            if sync_wave(later) < sync_wave(deployments[target]):
                problems.append(f"{describe(later)} (wave {sync_wave(later)}) comes before {describe(deployments[target])} "
                                f"(wave {sync_wave(deployments[target])}), and is unhealthy until it runs.")
    return problems


# -- PostgreSQL -------------------------------------------------------------------------------------------

# The outbox relay's LISTEN connection, opened beside the pool (karmayogi_runtime.outbox.OutboxRelay._listen).
CONNECTIONS_BESIDE_THE_POOL = 1


def _pods_of(value: int | str, pods: int, *, round_up: bool) -> int:
    """A rolling update's maxSurge or maxUnavailable in pods: Kubernetes rounds a percentage up for the surge
    and down for the unavailable."""
    if isinstance(value, int):
        return value
    share = pods * int(value.rstrip("%"))
    return -(-share // 100) if round_up else share // 100


def rollout_pods(workload: Resource, most: int) -> tuple[int, int]:
    """(pods running, pods stopping) in a step of a rollout at `most` replicas. A step runs `most` plus the
    surge, and stops the old pods the step replaces (with maxUnavailable 0, one per surged pod, once it is
    ready). Kubernetes counts a stopping pod toward neither, yet it keeps its connections until it exits (the
    preStop sleep, then the graceful shutdown: up to terminationGracePeriodSeconds)."""
    update = workload["spec"].get("strategy", {}).get("rollingUpdate", {})
    surge = _pods_of(update.get("maxSurge", "25%"), most, round_up=True)
    unavailable = _pods_of(update.get("maxUnavailable", "25%"), most, round_up=False)
    return most + surge, surge + unavailable


def postgresql_connections(resources: list[Resource]) -> dict[str, int]:
    """The PostgreSQL connections each service holds in a step of a rollout at full scale (maxReplicaCount, or
    the replicas): the pods running and the pods still stopping (rollout_pods), each with its pool
    (DATABASE_POOL_SIZE) and the relay's LISTEN connection, and its migration Job's one. A service whose
    settings cannot be read is left out (missing_settings and unknown_settings report why)."""
    most = {s["spec"]["scaleTargetRef"]["name"]: s["spec"]["maxReplicaCount"] for s in of_kind(resources, "ScaledObject")}
    connections = {}
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment":
            continue
        settings, _ = settings_from(workload, pod_spec(workload)["containers"][0], resources,
                                    k8s_code.settings_class(service))
        if settings is None:
            continue
        running, stopping = rollout_pods(workload, most.get(service, workload["spec"].get("replicas", 1)))
        jobs = sum(1 for s, w in service_workloads(resources) if s == service and w["kind"] == "Job")
        connections[service] = (running + stopping) * (settings.database_pool_size + CONNECTIONS_BESIDE_THE_POOL) + jobs
    return connections
