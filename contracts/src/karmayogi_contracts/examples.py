"""Test vectors: check every file under an examples directory against its expected outcome.

    python -m karmayogi_contracts.examples contracts/examples

Layout (documented in contracts/README.md):

    <topic>/valid/*.json    a structured-mode CloudEvent, exactly what a publisher may send with
                            content-type: application/cloudevents+json; must decode to <topic>
    <topic>/invalid/*.json  {"description", "expect": {"reason", "message"}, "headers": {...},
                            one of "value" (JSON), "value_text", "value_base64" or none (no value),
                            optionally "max_bytes"}; must decode to a DecodeError with that reason
                            and a message containing expect.message
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .decoding import MAX_BYTES, decode
from .encoding import CLOUDEVENTS_JSON, dumps, encode
from .envelope import CloudEvent
from .errors import DecodeError


@dataclass(frozen=True)
class Example:
    path: Path
    topic: str
    valid: bool
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    max_bytes: int
    expect: dict[str, str]


def load(path: Path) -> Example:
    topic, kind = path.parent.parent.name, path.parent.name
    raw = path.read_bytes()
    if kind == "valid":
        return Example(path, topic, True, raw, (("content-type", CLOUDEVENTS_JSON.encode()),), MAX_BYTES, {})
    spec = json.loads(raw)
    headers = tuple((name, str(text).encode("utf-8")) for name, text in spec.get("headers", {}).items())
    return Example(path, topic, False, _value(spec), headers, spec.get("max_bytes", MAX_BYTES), spec["expect"])


def _value(spec: dict[str, Any]) -> bytes | None:
    if "value" in spec:
        return dumps(spec["value"])
    if "value_text" in spec:
        return spec["value_text"].encode("utf-8")
    if "value_base64" in spec:
        return base64.b64decode(spec["value_base64"])
    return None


def verify(example: Example) -> str | None:
    """None when the example decodes as expected, otherwise what went wrong."""
    result = decode(example.value, example.headers, max_bytes=example.max_bytes)
    if example.valid:
        if isinstance(result, DecodeError):
            return f"expected a valid event, got {result.reason}: {result.message}"
        if result.topic != example.topic:
            return f"decoded to topic {result.topic}, expected {example.topic}"
        return _binary_round_trip(result)
    if not isinstance(result, DecodeError):
        return f"expected {example.expect['reason']}, but it decoded to a valid {result.type}"
    if result.reason != example.expect["reason"] or example.expect["message"] not in result.message:
        return f"expected {example.expect['reason']} with {example.expect['message']!r}, got {result.reason}: {result.message!r}"
    return None


def _binary_round_trip(event: CloudEvent[Any]) -> str | None:
    record = encode(event)
    again = decode(record.value, record.headers)
    return None if again == event else "changed when re-encoded in binary mode"


def files(root: Path) -> list[Path]:
    return sorted(root.glob("*/valid/*.json")) + sorted(root.glob("*/invalid/*.json"))


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "contracts/examples")
    paths = files(root)
    failures = [(path, problem) for path in paths if (problem := verify(load(path)))]
    for path, problem in failures:
        print(f"FAIL {path}: {problem}")
    print(f"{len(paths) - len(failures)} of {len(paths)} examples as expected")
    return 1 if failures or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
