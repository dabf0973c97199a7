"""Reading a built workload: its pod, its containers, which service it runs, and the environment and
settings a container would start with. Every rule reads workloads through these."""

import functools
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from pydantic import ValidationError

import k8s_code
from k8s_manifests import Resource, of_kind


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
SECRET_PLACEHOLDER = "s" * 40  # stands for a value from a Secret, long enough for any length rule
# A Secret's DATABASE_URL and API_KEYS are checked for their form: each stands for a value of that form (the
# Secret itself is the operator's).
SECRET_DATABASE_URL = f"postgresql://service:{SECRET_PLACEHOLDER}@postgres:5432/service"
SECRET_API_KEYS = f"*:{SECRET_PLACEHOLDER}"


def secret_placeholder(name: str) -> str:
    """What stands for the value of the Secret the variable `name` comes from."""
    if name.endswith("DATABASE_URL"):
        return SECRET_DATABASE_URL
    return SECRET_API_KEYS if name.endswith("API_KEYS") else SECRET_PLACEHOLDER


def pod_spec(workload: Resource) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: Resource) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def service_containers(service: str, workload: Resource) -> list[dict[str, Any]]:
    """The containers that run the service itself (`karmayogi-<service> ...`), not a helper beside it (dev's
    mail recorder), which reads no service settings."""
    return [c for c in containers(workload) if c.get("command", [None])[0] == f"karmayogi-{service}"]


_QUANTITY = re.compile(r"([0-9]+)(Ki|Mi|Gi|Ti)?")


def quantity_bytes(quantity: object) -> int | None:
    """A Kubernetes quantity of bytes (`256Mi`, `2Gi`, `1048576`), or None when it is not one."""
    found = _QUANTITY.fullmatch(str(quantity))
    if found is None:
        return None
    return int(found[1]) * 1024 ** (1 + ("Ki", "Mi", "Gi", "Ti").index(found[2])) if found[2] else int(found[1])


def service_workloads(resources: list[Resource]) -> Iterator[tuple[str, Resource]]:
    """(service name, Deployment or migration Job) for the four services."""
    for workload in resources:
        name = workload.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
        if workload["kind"] in ("Deployment", "Job") and name in k8s_code.SERVICES:
            yield name, workload


def describe(workload: Resource) -> str:
    return f"{workload['kind']} {workload['metadata']['name']}"


@dataclass(frozen=True, eq=False)
class EnvironmentEntry:
    """One variable of a container's environment as a manifest gives it, and where its value comes from."""

    name: str
    value: str  # a literal or ConfigMap value; for a Secret's, what stands for it (`secret_placeholder`)
    config_map: str | None = None  # the ConfigMap it is read from, by envFrom or configMapKeyRef
    secret: dict[str, Any] | None = None  # the secretKeyRef it is read from (name, key, optional)

    def origin(self) -> str:
        """Where the value is written: `in the ConfigMap ...`, `from the Secret ...`, `in the manifest`."""
        if self.secret is not None:
            return f"from the Secret {self.secret['name']}"
        return f"in the ConfigMap {self.config_map}" if self.config_map else "in the manifest"


def environment_entries(workload: Resource, container: dict,
                        resources: list[Resource]) -> tuple[list[EnvironmentEntry], list[str]]:
    """Every variable the manifests give the container, in Kubernetes' order of precedence: envFrom sources
    first, then the `env` entries; of several entries of one name, the last one is what the container gets."""
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(resources, "ConfigMap")}
    entries: list[EnvironmentEntry] = []
    problems = []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in config_maps:
                problems.append(f"{describe(workload)} reads the ConfigMap {name}, which the manifests do not define.")
            entries += [EnvironmentEntry(source.get("prefix", "") + key, str(value), config_map=name)
                        for key, value in config_maps.get(name, {}).items()]
        else:
            problems.append(f"{describe(workload)} takes a whole Secret with envFrom; name each secret setting with "
                            "secretKeyRef, so the settings it provides can be checked.")
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        if "secretKeyRef" in source:
            entries.append(EnvironmentEntry(variable["name"], secret_placeholder(variable["name"]),
                                            secret=source["secretKeyRef"]))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            entries.append(EnvironmentEntry(variable["name"], config_maps.get(ref["name"], {}).get(ref["key"], ""),
                                            config_map=ref["name"]))
        elif not source:  # a value, or none: Kubernetes then sets the variable empty
            entries.append(EnvironmentEntry(variable["name"], str(variable.get("value", ""))))
    return entries, problems


def container_environment(workload: Resource, container: dict, resources: list[Resource]) -> tuple[dict[str, str], list[str]]:
    """The environment the container gets: ConfigMap entries (envFrom and configMapKeyRef) resolved from the
    built resources, literal values, and a placeholder for each Secret reference."""
    entries, problems = environment_entries(workload, container, resources)
    return {entry.name: entry.value for entry in entries}, problems


@functools.cache
def mounted_file() -> str:
    """One existing file that stands for every file a container reads from its mounted volumes."""
    stand_in = Path(tempfile.mkdtemp()) / "mounted-file"
    stand_in.write_text("mounted")
    return str(stand_in)


def settings_from(workload: Resource, container: dict, resources: list[Resource], settings_class):
    """The settings the container would start with, or the problems that would stop it. Paths into the
    container's mounted volumes stand for files that exist (they come from Secrets and ConfigMaps)."""
    environment, problems = container_environment(workload, container, resources)
    mounts = [m["mountPath"].rstrip("/") + "/" for m in container.get("volumeMounts", [])]
    for name, value in environment.items():
        if any(value.startswith(mount) for mount in mounts):
            environment[name] = mounted_file()
    with mock.patch.dict(os.environ, environment, clear=True):
        try:
            return settings_class(), problems
        except ValidationError as error:
            for problem in error.errors():
                setting = "_".join(str(p) for p in problem["loc"]).upper()
                if problem["type"] == "missing":
                    problems.append(f"{describe(workload)} does not provide {setting}, which "
                                    f"{settings_class.__name__} requires.")
                else:
                    problems.append(f"{describe(workload)}: {setting or 'settings'} invalid: {problem['msg']}")
            return None, problems
