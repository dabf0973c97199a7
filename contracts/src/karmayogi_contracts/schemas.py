"""JSON Schema of every event type, for publishers in other languages and for the snapshot test.

Regenerate the committed snapshots from the repository root:

    python -m karmayogi_contracts.schemas            # writes contracts/schemas/<type>.json
    python -m karmayogi_contracts.schemas --check    # exit 1 when a snapshot is stale or incompatible
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .compat import incompatibilities
from .registry import EVENT_TYPES, KEY_FORMAT, EventType

DEFAULT_DIR = Path("contracts/schemas")


def schema_of(event_type: EventType) -> dict[str, Any]:
    schema = event_type.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:karmayogi:contracts:{event_type.type}",
        "x-cloudevents-type": event_type.type,
        "x-kafka-topic": event_type.topic,
        "x-kafka-key": KEY_FORMAT,
        **schema,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def snapshot_path(directory: Path, type_name: str) -> Path:
    return directory / f"{type_name}.json"


def check(directory: Path) -> list[str]:
    """Problems with the snapshots in `directory`: incompatible changes first, then stale files."""
    problems = []
    for event_type in EVENT_TYPES.values():
        path = snapshot_path(directory, event_type.type)
        current = schema_of(event_type)
        if not path.exists():
            problems.append(f"{path}: no snapshot; run python -m karmayogi_contracts.schemas")
            continue
        committed = json.loads(path.read_text(encoding="utf-8"))
        problems += [f"{event_type.type}: {change}" for change in incompatibilities(committed, current)]
        if committed != current:
            problems.append(f"{path}: stale; run python -m karmayogi_contracts.schemas")
    return problems


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in EVENT_TYPES.values():
        path = snapshot_path(directory, event_type.type)
        path.write_text(render(schema_of(event_type)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m karmayogi_contracts.schemas", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.directory)
        print("\n".join(problems) or "snapshots are current")
        return 1 if problems else 0
    for path in write(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
