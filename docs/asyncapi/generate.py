"""Regenerate the AsyncAPI 3 documents of the four services into this folder: `make asyncapi`.

Each document comes from the service's own FastStream app (`karmayogi-<service> asyncapi`), built with
placeholder settings: the document describes channels and messages, not one deployment's addresses.
`tests/test_asyncapi_documents.py` fails when a committed document differs from what the code generates.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

SERVICES = ("enrolment", "attendance", "certification", "notifications")
HERE = Path(__file__).parent
PLACEHOLDERS = {
    "DATABASE_URL": "postgresql://service@postgres:5432/service",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "KAFKA_TOPIC_PREFIX": "",
    "CERTIFICATION_ADMIN_TOKEN": "placeholder-admin-token-for-documents-only",
    "CERTIFICATION_PUBLIC_BASE_URL": "https://certificates.example.gov.in",
}


def document(service: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.endswith(tuple(PLACEHOLDERS))} | PLACEHOLDERS
    output = subprocess.run(
        [str(Path(sys.executable).parent / f"karmayogi-{service}"), "asyncapi"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return json.dumps(json.loads(output), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    for name in SERVICES:
        (HERE / f"{name}.json").write_text(document(name), encoding="utf-8")
        print(f"wrote docs/asyncapi/{name}.json")
