"""JSON Schema of every event type, for publishers in other languages and for the snapshot test.

Regenerate the committed snapshots from the repository root:

    python -m karmayogi_contracts.schemas            # writes contracts/schemas/<type>.json
    python -m karmayogi_contracts.schemas --check    # exit 1 when a snapshot is stale or incompatible

Writing refuses an incompatible change: regenerating would otherwise make the committed snapshot
agree with the model and the compatibility test pass, so the snapshot would guard nothing. A
breaking change is a new major version with its own snapshot (docs/adr/0002-contract-versioning.md).
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


class IncompatibleChange(Exception):
    """The models changed in a way their committed snapshots forbid; nothing was written."""


def next_major(type_name: str) -> str:
    """`karmayogi.course.completed.v1` -> `karmayogi.course.completed.v2`."""
    stem, _, major = type_name.rpartition(".v")
    return f"{stem}.v{int(major) + 1}"


def check(directory: Path) -> list[str]:
    """Problems with the snapshots in `directory`: every incompatible change first (with the advice to add a
    new major version), then the missing and stale files.

    An incompatible snapshot is not called stale: regenerating it is exactly what must not happen."""
    incompatible, outdated = [], []
    for event_type in EVENT_TYPES.values():
        path = snapshot_path(directory, event_type.type)
        breaking = _breaking(directory, event_type)
        if not path.exists():
            outdated.append(f"{path}: no snapshot; run python -m karmayogi_contracts.schemas")
        elif breaking:
            incompatible += [*breaking, f"{path}: incompatible; {_new_major_advice(event_type.type)}"]
        elif json.loads(path.read_text(encoding="utf-8")) != schema_of(event_type):
            outdated.append(f"{path}: stale; run python -m karmayogi_contracts.schemas")
    return incompatible + outdated


def write(directory: Path) -> list[Path]:
    """Rewrite every snapshot in `directory`, or none when any change is incompatible."""
    refused = {event_type.type: _breaking(directory, event_type) for event_type in EVENT_TYPES.values()}
    refused = {type_name: changes for type_name, changes in refused.items() if changes}
    if refused:
        lines = [change for changes in refused.values() for change in changes]
        lines += [_new_major_advice(type_name) for type_name in refused]
        raise IncompatibleChange("\n".join([*lines, "No snapshot was written."]))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in EVENT_TYPES.values():
        path = snapshot_path(directory, event_type.type)
        path.write_text(render(schema_of(event_type)), encoding="utf-8")
        written.append(path)
    return written


def _breaking(directory: Path, event_type: EventType) -> list[str]:
    path = snapshot_path(directory, event_type.type)
    if not path.exists():
        return []  # a new type, or a new major version: nothing to stay compatible with yet
    committed = json.loads(path.read_text(encoding="utf-8"))
    return [f"{event_type.type}: {change}" for change in incompatibilities(committed, schema_of(event_type))]


def _new_major_advice(type_name: str) -> str:
    return (
        f"{type_name} cannot change this way within its major version; keep its model as it was and add "
        f"{next_major(type_name)} beside it (docs/adr/0002-contract-versioning.md)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m karmayogi_contracts.schemas", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.directory)
        print("\n".join(problems) or "snapshots are current")
        return 1 if problems else 0
    try:
        written = write(args.directory)
    except IncompatibleChange as refusal:
        print(refusal, file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
