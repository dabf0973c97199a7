"""The ACLs of the local stack's Kafka users, one user per service, from the services' own code.

    .venv/bin/python deploy/local/kafka/access.py SERVICE...

prints, for each installed service, the `allow` lines of `LocalKafkaAdmin access` (see LocalKafkaAdmin.java):
read on the topics it consumes and on its consumer groups, write on the topics it publishes and on the
dead-letter topics of what it consumes (`karmayogi_runtime.service.kafka_access`, the same list as
`karmayogi-<service> kafka-access`). A service that is not installed is skipped.
"""

import importlib
import os
import sys
import tempfile

# The definitions are built from settings; these placeholders only make them complete (nothing connects).
PLACEHOLDERS = {
    "DATABASE_URL": "postgresql://placeholder@127.0.0.1:5432/placeholder",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    "KAFKA_TOPIC_PREFIX": "",
    "CERTIFICATION_ADMIN_TOKEN": "placeholder-admin-token-for-the-acl-list",
    "CERTIFICATION_PUBLIC_BASE_URL": "http://127.0.0.1:8103",
}


def allow_lines(service: str) -> list[str]:
    from karmayogi_runtime.service import kafka_access

    try:
        main = importlib.import_module(f"{service}.main")
    except ModuleNotFoundError:
        return []
    access = kafka_access(main.definition())
    return ([f"allow {service} read topic literal {t}" for t in access.reads]
            + [f"allow {service} write topic literal {t}" for t in access.writes]
            + [f"allow {service} read group literal {g}" for g in access.groups])


if __name__ == "__main__":
    os.environ.update(PLACEHOLDERS)
    # A definition may prepare local files (certification makes a signing key); keep them out of .local/.
    with tempfile.TemporaryDirectory(prefix="karmayogi-acl-") as scratch:
        os.environ["LOCAL_DATA_DIR"] = scratch
        for name in sys.argv[1:]:
            print("\n".join(allow_lines(name)))
