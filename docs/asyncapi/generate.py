"""Regenerate the AsyncAPI 3 documents of the four services into this folder: `make asyncapi`.

Each document comes from the service's own FastStream app (`karmayogi-<service> asyncapi`, which needs no
connection settings or secrets). The documents describe channels and messages, not one deployment: they name
the topics without a prefix and the brokers as `kafka:9092`, whatever the calling shell has set.
`tests/test_asyncapi_documents.py` fails when a committed document differs from what the code generates.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

SERVICES = ("enrolment", "attendance", "certification", "notifications")
HERE = Path(__file__).parent
DOCUMENTED = {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_TOPIC_PREFIX": ""}


def document(service: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.endswith(tuple(DOCUMENTED))} | DOCUMENTED
    output = subprocess.run(
        [str(Path(sys.executable).parent / f"karmayogi-{service}"), "asyncapi"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return json.dumps(json.loads(output), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    for name in SERVICES:
        (HERE / f"{name}.json").write_text(document(name), encoding="utf-8")
        print(f"wrote docs/asyncapi/{name}.json")
