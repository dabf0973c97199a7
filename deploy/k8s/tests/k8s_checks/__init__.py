"""The rules the manifests must keep, each a function from resources to a list of problems, one sentence
each. The consistency tests expect no problem; the mutation tests break a manifest and expect the sentence.

The tests reach every rule from here; each module holds the rules about one thing:

- pods.py: reading a workload (its pod, containers, environment and settings); every rule builds on it.
- workloads.py: images, probes, ports, hardening, the node disk of emptyDirs.
- service_settings.py: the settings each service is given, its API keys from a Secret, and the room its
  PDF cache needs.
- kafka.py: KafkaUsers' ACLs and KafkaTopics.
- network.py: where KEDA finds Kafka, Strimzi past the default-deny, the public ingress.
- rollout.py: scaling, Argo CD's sync order, PostgreSQL connections.
"""

from .kafka import acl_differences, service_acls, topics
from .network import autoscaler_kafka_address, ingress, kafka_namespaces, strimzi_network
from .pods import pod_spec
from .rollout import postgresql_connections, scaling, sync_order
from .service_settings import api_keys, missing_settings, pdf_cache_room, unknown_settings
from .workloads import ephemeral_storage, hardening, mutable_images, ports, probe_paths

__all__ = [
    "acl_differences", "api_keys", "autoscaler_kafka_address", "ephemeral_storage", "hardening", "ingress", "kafka_namespaces",
    "missing_settings", "mutable_images", "pdf_cache_room", "pod_spec", "ports", "postgresql_connections", "probe_paths", "scaling",
    "service_acls", "strimzi_network", "sync_order", "topics", "unknown_settings",
]
