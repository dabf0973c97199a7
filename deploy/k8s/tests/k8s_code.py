"""What the code says the manifests must provide, read from the services themselves (never a list kept by
hand): their settings classes, HTTP routes, consumer groups and topics, what their outbox relay publishes,
what the operator tool reads and writes, and how long a graceful shutdown may take."""

import ast
import functools
import inspect
import tempfile
from dataclasses import dataclass
from types import ModuleType

from karmayogi_contracts import TOPICS, dead_letter_topic
from karmayogi_runtime import broker, ops, service
from karmayogi_runtime.service import ServiceDefinition, create_http_app
from karmayogi_runtime.settings import ServiceSettings

import attendance.main
import certification.main
import enrolment.main
import notifications.main
from attendance.settings import AttendanceSettings
from certification.settings import CertificationSettings
from enrolment.settings import EnrolmentSettings
from notifications.settings import NotificationsSettings

SERVICES: dict[str, tuple[ModuleType, type[ServiceSettings]]] = {
    "enrolment": (enrolment.main, EnrolmentSettings),
    "attendance": (attendance.main, AttendanceSettings),
    "certification": (certification.main, CertificationSettings),
    "notifications": (notifications.main, NotificationsSettings),
}

# The facts state systems publish straight to Kafka (DESIGN.md section 2): attendance from biometric and HRMS
# systems, completions of online courses from iGOT. The tests check each is a topic the services consume.
INGEST_TOPICS = ("session.attended", "course.completed")


@functools.cache
def definition(name: str) -> ServiceDefinition:
    """The service assembled as `karmayogi-<name> run` assembles it, with placeholder connection settings
    (nothing connects) and, for certification, a signing key generated in a temporary folder."""
    module, settings_class = SERVICES[name]
    settings = settings_class(
        database_url="postgresql://placeholder@localhost/placeholder", kafka_bootstrap_servers="localhost:9092",
        kafka_security_protocol="PLAINTEXT", kafka_topic_prefix="", local_data_dir=tempfile.mkdtemp(),
        **({"admin_token": "a" * 32, "signing_keys_file": None} if name == "certification" else {}),
    )
    return module.definition(settings)


@dataclass(frozen=True)
class KafkaUse:
    """What a client does on Kafka: topics read, topics written, consumer groups joined."""

    reads: frozenset[str]
    writes: frozenset[str]
    groups: frozenset[str]

    def acls(self) -> dict[tuple[str, str], frozenset[str]]:
        """The ACLs that allow exactly this: (resource type, name) -> operations."""
        wanted: dict[tuple[str, str], set[str]] = {}
        for topic in self.reads:
            wanted.setdefault(("topic", topic), set()).update({"Read", "Describe"})
        for topic in self.writes:
            wanted.setdefault(("topic", topic), set()).update({"Write", "Describe"})
        for group in self.groups:
            wanted.setdefault(("group", group), set()).add("Read")
        return {key: frozenset(operations) for key, operations in wanted.items()}


@functools.cache
def kafka_use(name: str) -> KafkaUse:
    """What the service's own code says it does on Kafka (`karmayogi-<name> kafka-access`, which the local
    stack also turns into ACLs): its subscriptions' topics and groups, what its relay publishes, its dead letters."""
    access = service.kafka_access(definition(name))
    return KafkaUse(reads=frozenset(access.reads), writes=frozenset(access.writes), groups=frozenset(access.groups))


def replay_use() -> KafkaUse:
    """`karmayogi-ops dead-letters`: reads the dead-letter topics without a group, writes the originals."""
    # ops.py replays from `dead_letter_topic(t) for t in TOPICS` (its default) back to each original topic.
    return KafkaUse(reads=frozenset(dead_letter_topic(t) for t in ops.TOPICS), writes=frozenset(ops.TOPICS),
                    groups=frozenset())


def autoscaler_acls() -> dict[tuple[str, str], frozenset[str]]:
    """KEDA reads the lag of every consumer group: Describe on the groups and the topics they read."""
    acls = {}
    for name in SERVICES:
        use = kafka_use(name)
        acls.update({("group", g): frozenset({"Describe"}) for g in use.groups})
        acls.update({("topic", t): frozenset({"Describe"}) for t in use.reads})
    return acls


def code_topics() -> frozenset[str]:
    """Every topic the code names: the registry's, their dead letters, and whatever the services use."""
    topics = set(TOPICS) | {dead_letter_topic(t) for t in TOPICS}
    for name in SERVICES:
        use = kafka_use(name)
        topics |= use.reads | use.writes
    return frozenset(topics)


@functools.cache
def http_paths(name: str) -> frozenset[str]:
    """The paths of the service's HTTP API (health included), as templates: /verify/{certificate_id}."""
    return frozenset(create_http_app(definition(name)).openapi()["paths"])


def serves_keyed_routes(name: str) -> bool:
    """Whether the service has routes behind a state's key (`ServiceDefinition.routers`), which refuse every
    request when `API_KEYS` gives none."""
    return any(router.routes for router in definition(name).routers)


def settings_class(name: str) -> type[ServiceSettings]:
    return SERVICES[name][1]


def graceful_shutdown_seconds() -> float:
    """How long a stopping service may take: uvicorn's request drain, the batches and offset commits under
    way, then the broker's consumer drain (every `timeout_graceful_shutdown`, `within` and `graceful_timeout`
    argument in the runtime's code, added up)."""
    return (_seconds(service.serve, "timeout_graceful_shutdown") + _seconds(service.running, "within")
            + _seconds(broker.create_broker, "graceful_timeout"))


def _seconds(function, keyword: str) -> float:
    tree = ast.parse(inspect.getsource(function))
    values = [node.value for node in ast.walk(tree) if isinstance(node, ast.keyword) and node.arg == keyword]
    assert values, f"{function.__qualname__} no longer passes {keyword}"
    return sum(float(ast.literal_eval(value)) for value in values)
