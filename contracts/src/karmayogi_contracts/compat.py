"""Is a new JSON Schema a compatible evolution of an old one within the same major version?

The only compatible change is an added optional field (docs/adr/0002-contract-versioning.md).
Everything else a consumer could notice is reported: a removed field, a changed type or
constraint, a new required field, an optional field made required, a changed set of allowed
values. Descriptions, titles and examples may change freely.
"""

from __future__ import annotations

from typing import Any

_FREE = {"description", "title", "examples", "$comment", "default", "$defs", "$id", "$schema"}
_STRUCTURE = {"properties", "required", "items", "anyOf", "oneOf", "allOf", "discriminator"}
Schema = dict[str, Any]


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Every incompatible change from `old` to `new`, as `<field path>: <what changed>`."""
    return _compare(_Resolver(old), _Resolver(new), old, new, "$")


class _Resolver:
    def __init__(self, root: Schema) -> None:
        self.defs = root.get("$defs", {})

    def __call__(self, node: Schema) -> Schema:
        seen = 0
        while "$ref" in node and seen < 50:  # a $ref next to other keywords keeps them (2020-12)
            target = self.defs[node["$ref"].rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node


def _compare(old_r: _Resolver, new_r: _Resolver, old: Schema, new: Schema, path: str) -> list[str]:
    old, new = old_r(old), new_r(new)
    old_inner, old_null = _nullable(old)
    new_inner, new_null = _nullable(new)
    if old_null and not new_null:
        return [f"{path}: no longer accepts null"]
    if new_null and not old_null:
        return [f"{path}: now accepts null"]
    if (old_null, new_null) == (True, True):
        old, new = old_r(old_inner), new_r(new_inner)
    problems = [
        f"{path}: {key} changed from {old.get(key)!r} to {new.get(key)!r}"
        for key in sorted((old.keys() | new.keys()) - _FREE - _STRUCTURE)
        if old.get(key) != new.get(key)
    ]
    problems += _objects(old_r, new_r, old, new, path)
    if "items" in old or "items" in new:
        problems += _compare(old_r, new_r, old.get("items", {}), new.get("items", {}), f"{path}[]")
    for key in ("anyOf", "oneOf", "allOf"):
        problems += _variants(old_r, new_r, old.get(key), new.get(key), f"{path}.{key}")
    return problems


def _objects(old_r: _Resolver, new_r: _Resolver, old: Schema, new: Schema, path: str) -> list[str]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    problems = []
    for name, old_field in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed")
        else:
            problems += _compare(old_r, new_r, old_field, new_props[name], f"{path}.{name}")
    for name in sorted(new_required - old_required):
        change = "optional field made required" if name in old_props else "new field is required"
        problems.append(f"{path}.{name}: {change}")
    for name in sorted(old_required - new_required):
        if name in new_props:
            problems.append(f"{path}.{name}: required field made optional")
    return problems


def _variants(old_r: _Resolver, new_r: _Resolver, old: Any, new: Any, path: str) -> list[str]:
    if old is None and new is None:
        return []
    if old is None or new is None or len(old) != len(new):
        return [f"{path}: the set of alternatives changed"]
    problems = []
    for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
        problems += _compare(old_r, new_r, old_item, new_item, f"{path}[{index}]")
    return problems


def _nullable(node: Schema) -> tuple[Schema, bool]:
    """Split pydantic's `anyOf: [X, {"type": "null"}]` into X and whether null is allowed."""
    variants = node.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        rest = [v for v in variants if v != {"type": "null"}]
        inner = rest[0] if len(rest) == 1 else {"anyOf": rest}
        return {**{k: v for k, v in node.items() if k != "anyOf"}, **inner}, True
    return node, False

