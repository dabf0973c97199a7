"""The ACLs of the local stack's Kafka users, one user per service, from the services' own code.

    .venv/bin/python deploy/local/kafka/access.py SERVICE...

prints, for each installed service, the `allow` lines of `LocalKafkaAdmin access` (see LocalKafkaAdmin.java):
read on the topics it consumes and on its consumer groups, write on the topics it publishes and on the
dead-letter topics of what it consumes (`karmayogi_runtime.service.kafka_access`, the same list as
`karmayogi-<service> kafka-access`). A service that is not installed is skipped.

The services are described as that command describes them (`karmayogi_runtime.cli.described`): no connection
settings or secrets needed, nothing written under LOCAL_DATA_DIR. The local stack's services use the topics
without a prefix, so their users' ACLs do too, whatever KAFKA_TOPIC_PREFIX the calling shell has.
"""

import importlib
import os
import sys


def allow_lines(service: str) -> list[str]:
    from karmayogi_runtime.cli import described
    from karmayogi_runtime.service import kafka_access

    try:
        main = importlib.import_module(f"{service}.main")
    except ModuleNotFoundError:
        return []
    access = kafka_access(described(main.definition))
    return ([f"allow {service} read topic literal {t}" for t in access.reads]
            + [f"allow {service} write topic literal {t}" for t in access.writes]
            + [f"allow {service} read group literal {g}" for g in access.groups])


if __name__ == "__main__":
    os.environ["KAFKA_TOPIC_PREFIX"] = ""
    for name in sys.argv[1:]:
        os.environ.pop(f"{name.upper()}_KAFKA_TOPIC_PREFIX", None)
        print("\n".join(allow_lines(name)))
