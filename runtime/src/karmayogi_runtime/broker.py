"""The one Kafka broker factory: every connection to Kafka in every service is made here.

Safe defaults, once: the idempotent producer with `acks=all` (a broker acknowledgement means every
in-sync replica has the event), no topic auto-creation (topics are declared by the operators, as in
production), consumers that never auto-commit and start from the earliest offset when their group is new.
The security settings (SASL/SCRAM, TLS) reach every client through `aiokafka_security` or the FastStream
security object built from the same settings.
"""

import logging
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import (IllegalSaslStateError, KafkaError, SaslAuthenticationFailed, TopicAuthorizationFailedError,
                             UnknownTopicOrPartitionError, UnsupportedSaslMechanismError)
from aiokafka.protocol.metadata import MetadataRequest
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from karmayogi_runtime.limits import MAX_RECORD_BYTES
from karmayogi_runtime.settings import CannotStart, KafkaSettings, ServiceSettings

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    # A short linger lets the relay's sends to one partition share a request without adding latency
    # anyone could notice.
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
    "request_timeout_ms": 30_000,
}

# Auto-commit stays off because every subscriber uses a manual ack policy (see consumer.py).
CONSUMER_DEFAULTS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    # A batch that waits on an unreachable database must not cost the consumer its partitions: the
    # runner backs off between polls, and a poll interval this long leaves room for the slowest batch.
    "max_poll_interval_ms": 300_000,
    "session_timeout_ms": 30_000,
    "heartbeat_interval_ms": 3_000,
}


def create_broker(settings: ServiceSettings, *, client_id: str, description: str | None = None) -> KafkaBroker:
    """The FastStream broker of a service: subscribers and the declared publishers of its AsyncAPI."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        # FastStream's records go through our JSON logs; one line per message only at DEBUG.
        logger=logging.getLogger("karmayogi.broker"),
        log_level=logging.DEBUG,
        security=_faststream_security(settings),
        allow_auto_create_topics=False,
        description=description,
        graceful_timeout=20.0,
        **{k: v for k, v in PRODUCER_DEFAULTS.items() if k != "request_timeout_ms"},
    )


def create_producer(settings: ServiceSettings, *, client_id: str) -> AIOKafkaProducer:
    """The producer of the outbox relay: same safe defaults, sends awaited in batches."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        max_request_size=MAX_RECORD_BYTES,
        **PRODUCER_DEFAULTS,
        **aiokafka_security(settings),
    )


def aiokafka_security(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options for plain aiokafka clients (relay, admin, dead-letter tools)."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = _ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_username
        options["sasl_plain_password"] = settings.kafka_password.get_secret_value() if settings.kafka_password else None
    return options


_NOT_AUTHORIZED = TopicAuthorizationFailedError.errno
_UNKNOWN_TOPIC = UnknownTopicOrPartitionError.errno


class TopicsMissing(KafkaError):
    """Kafka answers, but topics the service uses do not exist. Waited on like a broker that is not up
    yet: in a cluster, the topics' resources may be created at the same time as the service's pods."""

    retriable = True

    def __init__(self, address: str, topics: Sequence[str]) -> None:
        super().__init__(f"Kafka at {address} has no topic {', '.join(topics)}")
        self.topics = tuple(topics)

    def __str__(self) -> str:
        return str(self.args[0])  # without the class name KafkaError puts first


def _ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.kafka_ca_file)


async def check_login(settings: KafkaSettings, topics: Sequence[str] = ()) -> None:
    """Connect to one bootstrap server and log in as the clients will, ask for the metadata of `topics`
    (the ones the service uses), then disconnect.

    aiokafka clients report a refused login as "Unable to bootstrap", the same words as a broker that is
    down, and a missing ACL as a retriable error: the service would wait for either forever. A missing
    topic they only log as a warning, and then consume nothing from it, or fail each publish to it after
    a timeout, without saying why. A refused login or certificate, or a topic the user may not use,
    raises `CannotStart`; an unreachable broker raises the error to retry on, and topics that do not
    exist raise `TopicsMissing` (the metadata request asks the broker not to create them).
    """
    unreachable: Exception | None = None
    for address in (a.strip() for a in settings.kafka_bootstrap_servers.split(",")):
        try:
            connection = await _log_in(address, settings)
        except (OSError, TimeoutError) as error:
            unreachable = error
            continue
        try:
            metadata = (await connection.send(MetadataRequest(list(topics), allow_auto_topic_creation=False))
                        if topics else None)
        finally:
            connection.close()
        refused = sorted(topic for error, topic, *_ in (metadata.topics if metadata else ()) if error == _NOT_AUTHORIZED)
        if refused:
            who = f"user '{settings.kafka_username}'" if settings.kafka_username else "this client"
            raise CannotStart(f"Kafka at {address} does not allow {who} to use the topics {', '.join(refused)}: "
                              "grant the ACLs that `karmayogi-<service> kafka-access` lists.")
        missing = sorted(topic for error, topic, *_ in (metadata.topics if metadata else ()) if error == _UNKNOWN_TOPIC)
        if missing:
            raise TopicsMissing(address, missing)
        return
    assert unreachable is not None
    raise unreachable


async def _log_in(address: str, settings: KafkaSettings) -> Any:
    """An authenticated connection to one broker; what no retry can fix becomes `CannotStart`."""
    host, _, port = address.rpartition(":")
    try:
        return await create_conn(host, int(port), client_id="karmayogi-login-check", request_timeout_ms=10_000,
                                 **aiokafka_security(settings))
    except SaslAuthenticationFailed:
        reason = (f"refused the {settings.kafka_sasl_mechanism} login of user '{settings.kafka_username}': "
                  "check KAFKA_USERNAME and KAFKA_PASSWORD")
    except (UnsupportedSaslMechanismError, IllegalSaslStateError):
        reason = (f"does not accept {settings.kafka_sasl_mechanism} logins on that port: check KAFKA_BOOTSTRAP_SERVERS, "
                  "KAFKA_SECURITY_PROTOCOL and KAFKA_SASL_MECHANISM against the broker's listeners")
    except ssl.SSLCertVerificationError as error:  # an OSError, but no retry fixes it
        reason = (f"presented a TLS certificate that cannot be verified ({error.verify_message}): "
                  "check KAFKA_CA_FILE and the host names in KAFKA_BOOTSTRAP_SERVERS")
    except ssl.SSLError as error:
        reason = (f"did not complete a TLS handshake ({error.reason}): check that KAFKA_SECURITY_PROTOCOL matches "
                  "the broker's listener on that port")
    raise CannotStart(f"Kafka at {address} {reason}.")


def _faststream_security(settings: KafkaSettings) -> BaseSecurity | None:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ssl_context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    scheme = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}
    password = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return scheme[settings.kafka_sasl_mechanism](
        settings.kafka_username or "", password, ssl_context=ssl_context, use_ssl=protocol == "SASL_SSL"
    )
