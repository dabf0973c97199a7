"""The settings each service container is given: none it does not read, every one it requires, and room
for what they ask of a volume."""

import k8s_code
from k8s_manifests import Resource

from .pods import container_environment, describe, pod_spec, quantity_bytes, service_containers, service_workloads, settings_from


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
    """Every service Deployment with routes behind a state's key is given API_KEYS, from a Secret. The setting
    is optional (unset, the API refuses every request but health probes: never open by accident), so
    `missing_settings` would not notice a server that answers nothing; and keys written into a manifest or a
    ConfigMap would be in the repository."""
    problems = []
    for service, workload in service_workloads(resources):
        if workload["kind"] != "Deployment" or not k8s_code.serves_keyed_routes(service):
            continue
        names = {"API_KEYS", k8s_code.settings_class(service).model_config.get("env_prefix", "").upper() + "API_KEYS"}
        for container in service_containers(service, workload):
            environment, _ = container_environment(workload, container, resources)
            from_secret = {v["name"] for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})}
            if not names & set(environment):
                problems.append(f"{describe(workload)} does not provide API_KEYS, so its API would refuse every "
                                "request but health probes; give it the states' keys from a Secret (secretKeyRef).")
            elif not names & from_secret:
                problems.append(f"{describe(workload)} sets API_KEYS outside a Secret; the keys must come from one "
                                "(secretKeyRef), never from a manifest or a ConfigMap.")
    return problems


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
