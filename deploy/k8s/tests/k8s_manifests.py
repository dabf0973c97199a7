"""The Kubernetes manifests as the tests see them: both overlays built with the pinned kustomize, the
operations and templates folders, and the CRD schemas of Strimzi and KEDA.

Every function returns fresh copies, so a test may edit what it gets (the mutation tests do).
"""

import copy
import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from karmayogi_runtime.testing import missing

K8S = Path(__file__).resolve().parents[1]
REPO = K8S.parents[1]
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.33"  # the oldest Kubernetes the manifests must run on

Resource = dict[str, Any]


@functools.cache
def kustomize() -> str:
    """The pinned kustomize (deploy/k8s/tools/kustomize.sh builds it once into a cache)."""
    done = subprocess.run([str(K8S / "tools" / "kustomize.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"deploy/k8s/tools/kustomize.sh could not provide kustomize: {done.stderr.strip()}")
    return done.stdout.strip()


@functools.cache
def _build(folder: str) -> tuple[Resource, ...]:
    done = subprocess.run([kustomize(), "build", str(K8S / folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"kustomize build {folder} failed: {done.stderr.strip()}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def built(overlay: str) -> list[Resource]:
    """Every resource of `overlays/<overlay>`, as `kubectl apply` would receive them."""
    return copy.deepcopy(list(_build(f"overlays/{overlay}")))


def replay_operation() -> list[Resource]:
    """The dead-letter replay Job with its Kafka user (applied by hand when replaying)."""
    return copy.deepcopy(list(_build("operations/dead-letter-replay")))


def templates() -> list[Resource]:
    """The templates operators copy (a state system's Kafka user)."""
    return [doc for path in sorted((K8S / "templates").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFEST_SETS = (*(f"overlays/{o}" for o in OVERLAYS), "operations/dead-letter-replay", "templates")


def manifest_set(name: str) -> list[Resource]:
    """One of MANIFEST_SETS: an overlay, the replay operation, or the templates."""
    if name.startswith("overlays/"):
        return built(name.removeprefix("overlays/"))
    return replay_operation() if name == "operations/dead-letter-replay" else templates()


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: list[Resource], kind: str, name: str) -> Resource:
    found = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    assert found, f"no {kind} named {name}"
    return found[0]


def is_core(resource: Resource) -> bool:
    """Kubernetes' own kinds (validated by kubernetes-validate); the rest are custom resources."""
    group = resource["apiVersion"].rpartition("/")[0]
    return group in ("", "apps", "batch", "policy") or group.endswith(".k8s.io")


# -- CRD schemas ------------------------------------------------------------------------------------------

def crd_folder() -> Path:
    return Path(os.environ.get("KARMAYOGI_K8S_CRDS") or K8S / "crds")


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema, for every served version of every CRD in the folder."""
    schemas = {}
    for path in sorted(crd_folder().glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                if version.get("served"):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def crd_schema(resource: Resource) -> dict:
    """The schema of a custom resource's apiVersion and kind; without it the run fails under CI=true and
    is skipped elsewhere (a checkout without deploy/k8s/crds and no KARMAYOGI_K8S_CRDS)."""
    key = (resource["apiVersion"], resource["kind"])
    schema = crd_schemas().get(key)
    if schema is None:
        missing(f"no CRD schema for {key[1]} {key[0]} in {crd_folder()} "
                "(deploy/k8s/crds, or the folder named by KARMAYOGI_K8S_CRDS)")
    return schema


def closed(schema: dict) -> dict:
    """The schema with unknown fields refused, as the API server's pruning would silently drop them: a
    misspelt field must fail here rather than vanish in the cluster."""
    schema = dict(schema)
    if "properties" in schema and "additionalProperties" not in schema \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    for key in ("properties", "patternProperties"):
        if key in schema:
            schema[key] = {name: closed(sub) for name, sub in schema[key].items()}
    if isinstance(schema.get("items"), dict):
        schema["items"] = closed(schema["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            schema[key] = [closed(sub) for sub in schema[key]]
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = closed(schema["additionalProperties"])
    return schema


def local_stack_partitions() -> int:
    """The partitions per topic of the local stack (deploy/local/lib/kafka.sh), which the cluster mirrors."""
    for line in (REPO / "deploy" / "local" / "lib" / "kafka.sh").read_text().splitlines():
        if line.startswith("KAFKA_PARTITIONS="):
            return int(line.split("=", 1)[1])
    raise AssertionError("deploy/local/lib/kafka.sh no longer sets KAFKA_PARTITIONS")
