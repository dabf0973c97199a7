"""The settings each service container is given: none it does not read, every one it requires, and room
for what they ask of a volume."""

import k8s_code
from k8s_manifests import Resource

from .pods import (EnvironmentEntry, container_environment, describe, environment_entries, pod_spec, quantity_bytes,
                   service_containers, service_workloads, settings_from)


def setting_names(settings_class) -> set[str]:
    prefix = settings_class.model_config.get("env_prefix", "")
    return {name for field in settings_class.model_fields for name in (field.upper(), prefix.upper() + field.upper())}


def unknown_settings(resources: list[Resource]) -> list[str]:
    """No service container is given a variable its settings class does not read (a typo, or a setting
    that was removed, would otherwise be ignored without a word)."""
    problems = []
    for service, workload in service_workloads(resources):
        settings_class = k8s_code.settings_class(service)
        known = setting_names(settings_class)
        for container in service_containers(service, workload):
            environment, _ = container_environment(workload, container, resources)
            problems += [f"{describe(workload)} sets {name}, which {settings_class.__name__} does not read."
                         for name in sorted(set(environment) - known)]
    return problems


def missing_settings(resources: list[Resource]) -> list[str]:
    """Every setting a service requires (no default) is provided, and the values pass its validation."""
    problems = []
    for service, workload in service_workloads(resources):
        for container in service_containers(service, workload):
            problems += settings_from(workload, container, resources, k8s_code.settings_class(service))[1]
    return problems


def api_keys(resources: list[Resource]) -> list[str]:
    """Every service Deployment with routes behind a state's key reads its keys from its own Secret. The setting
    is optional (unset or empty, those routes refuse every request: never open by accident), so
    `missing_settings` would not notice a server that refuses the state systems; and keys written into a
    manifest or a ConfigMap would be in the repository.

    The rule decides on the value the service reads: its prefixed name (`ENROLMENT_API_KEYS`) when the
    container has one, from env or envFrom, before `API_KEYS` (`ServiceSettings.settings_customise_sources`);
    of several entries of a name, the one Kubernetes gives the container (env over envFrom, the last entry)."""
    problems = []
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment" or not k8s_code.serves_keyed_routes(service):
            continue
        prefix = k8s_code.settings_class(service).model_config.get("env_prefix", "").upper()
        for container in service_containers(service, workload):
            entries, _ = environment_entries(workload, container, resources)
            problems += keys_problems(describe(workload), service, prefix + "API_KEYS", entries)
    return problems


def keys_problems(workload: str, service: str, prefixed: str, entries: list[EnvironmentEntry]) -> list[str]:
    """What is wrong with the keys one service container reads (`api_keys`)."""
    own_secret = f"{service}-api-keys"
    given = [entry for entry in entries if entry.name in (prefixed, "API_KEYS")]
    last = {entry.name: entry for entry in given}
    read = last.get(prefixed) or last.get("API_KEYS")
    if read is None:
        return [f"{workload} does not provide API_KEYS, so its routes behind a state's key would refuse every "
                f"request; give it the states' keys from its Secret {own_secret} (secretKeyRef, key keys)."]
    unread = [f"{workload} also sets {entry.name} {entry.origin()}, which the service does not read but the "
              f"repository keeps; keys belong in the Secret {own_secret} only."
              for entry in given if entry is not read and entry.secret is None and entry.value]
    if read.secret is None:
        return [outside_a_secret(workload, read, given, own_secret), *unread]
    problems = []
    if read.secret.get("optional"):
        problems.append(f"{workload} reads {read.name} from the Secret {read.secret['name']} with optional: true: "
                        "without that Secret its pods would start with no keys, and its routes behind a state's "
                        "key would refuse every request; drop optional, so that a missing Secret stops the rollout.")
    if (read.secret["name"], read.secret["key"]) != (own_secret, "keys"):
        problems.append(f"{workload} reads {read.name} from key {read.secret['key']} of the Secret "
                        f"{read.secret['name']}; each service reads its own keys, from key keys of the Secret "
                        f"{own_secret}, so that it holds only the keys of the systems that call it.")
    return problems + unread


def outside_a_secret(workload: str, read: EnvironmentEntry, given: list[EnvironmentEntry], own_secret: str) -> str:
    """The sentence for keys the service reads from a literal or a ConfigMap, naming the Secret's keys they
    override, if any."""
    empty = " empty" if not read.value else ""
    overridden = [entry for entry in given if entry is not read and entry.secret is not None]
    if overridden and overridden[-1].name == read.name:
        over = f", after the entry {overridden[-1].origin()} (the later entry wins)"
    elif overridden:
        over = f", which the service reads before {overridden[-1].name} {overridden[-1].origin()}"
    else:
        over = ""
    refused = ", so its routes behind a state's key would refuse every request" if empty else ""
    return (f"{workload} sets {read.name}{empty} {read.origin()}{over}{refused}; the keys must come from its "
            f"Secret {own_secret} (secretKeyRef), never from a manifest or a ConfigMap.")


# Share of its volume the PDF cache may fill: it can pass its limit by the files being written.
PDF_CACHE_SHARE = 0.8


def pdf_cache_room(resources: list[Resource]) -> list[str]:
    """Certification's PDF cache fits in the volume at LOCAL_DATA_DIR: a full emptyDir gets the pod evicted."""
    problems = []
    for service, workload in service_workloads(resources):
        if service != "certification" or workload["kind"] != "Deployment":
            continue
        container = pod_spec(workload)["containers"][0]
        settings, _ = settings_from(workload, container, resources, k8s_code.settings_class(service))
        if settings is None:
            continue  # missing_settings reports it
        mounted = {m["mountPath"].rstrip("/"): m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        volume = volumes.get(mounted.get(settings.local_data_dir.rstrip("/"), ""), {})
        room = quantity_bytes(volume.get("emptyDir", {}).get("sizeLimit", ""))
        if room is None:
            problems.append(f"{describe(workload)} writes PDFs to {settings.local_data_dir}, which is not an emptyDir "
                            "with a sizeLimit.")
            continue
        if settings.pdf_cache_mb * 1024 ** 2 > room * PDF_CACHE_SHARE:
            problems.append(f"{describe(workload)} may keep {settings.pdf_cache_mb} MiB of PDFs in a volume of "
                            f"{volume['emptyDir']['sizeLimit']}; keep PDF_CACHE_MB within {PDF_CACHE_SHARE:.0%} of it.")
    return problems
