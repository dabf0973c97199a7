"""Where traffic goes: KEDA finds the services' Kafka from its own namespace, Strimzi's pods get past the
namespace's default-deny, and only certification's verification paths are public."""

import re

import k8s_code
from k8s_manifests import Resource, of_kind

from .pods import container_environment, pod_spec, service_workloads


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


# -- Strimzi past the default-deny ------------------------------------------------------------------------

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


def _from_this_cluster_only(rule: dict) -> bool:
    """Whether an ingress rule admits only pods of the cluster `karmayogi` in this namespace."""
    peers = rule.get("from", [])
    return bool(peers) and all(set(peer) == {"podSelector"} and
                               peer["podSelector"].get("matchLabels", {}).get("strimzi.io/cluster") == "karmayogi"
                               for peer in peers)


def strimzi_network(resources: list[Resource]) -> list[str]:
    """When Kafka runs in the namespace (the services reach it by a short name, or by this namespace's), the
    namespace's default-deny must not cut off what Strimzi's pods send: DNS, the Kubernetes API, replication,
    the controller quorum. A policy lets each of them send anywhere (the API server's address is not a pod's).
    What reaches them is left to the policies Strimzi generates (the controller and replication ports to its
    own components, each listener to its networkPolicyPeers): a policy of ours that admits anyone else to
    them would add to those and undo their limits."""
    namespace = namespace_of(resources)
    policies = of_kind(resources, "NetworkPolicy")
    denies = any(p["spec"]["podSelector"] == {} and "Egress" in p["spec"].get("policyTypes", []) for p in policies)
    if namespace not in kafka_namespaces(resources) or not denies:
        return []
    problems = []
    for pods, labels in STRIMZI_PODS.items():
        applying = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        if not any("Egress" in p["spec"].get("policyTypes", []) and {} in p["spec"].get("egress", []) for p in applying):
            problems.append(f"Kafka runs in {namespace}, but no NetworkPolicy there allows the egress traffic of {pods}, "
                            "which default-deny blocks.")
        for policy in applying:
            if "Ingress" in policy["spec"].get("policyTypes", []) and not all(
                    _from_this_cluster_only(rule) for rule in policy["spec"].get("ingress", [])):
                problems.append(f"NetworkPolicy {policy['metadata']['name']} lets pods outside the cluster karmayogi "
                                f"reach {pods}, past the limits of Strimzi's own policies (replication only from its "
                                "components, each listener only from its networkPolicyPeers).")
    return problems


# -- the public entry -------------------------------------------------------------------------------------

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
