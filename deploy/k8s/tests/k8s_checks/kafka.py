"""What the services may do on Kafka: each KafkaUser's ACLs, and the KafkaTopics the code uses."""

import k8s_code
from k8s_manifests import Resource, local_stack_partitions, of_kind

from .pods import container_environment, describe, pod_spec, service_workloads


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
