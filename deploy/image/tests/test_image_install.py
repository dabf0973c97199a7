"""The service images without a Docker engine: the Dockerfile's rules read from the file, and its install
steps (deploy/image/install.sh, the script the build stage runs) replayed into a clean virtual environment,
from which each service's configuration check starts with a production-like environment."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[1]
ROOT = IMAGE.parents[1]
SERVICES = {"enrolment": 8101, "attendance": 8102, "certification": 8103, "notifications": 8104}
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|cc|make|build-essential|[\w.+-]+-dev|rustc|cargo|uv|pip|hatchling)\b")


# ---- the Dockerfile's rules --------------------------------------------------------------------------------

def stages() -> dict[str, dict]:
    """Each stage of the Dockerfile: its base and its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (IMAGE / "Dockerfile").read_text())
    found: dict[str, dict] = {}
    current: dict | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            current = found.setdefault(name.strip(), {"base": base.strip(), "instructions": []})
        elif current is not None:
            current["instructions"].append((keyword, rest.strip()))
    return found


def lineage(name: str, all_stages: dict[str, dict]) -> list[str]:
    """The stage and the stages it is built FROM, down to the base image."""
    chain = [name]
    while all_stages[chain[-1]]["base"] in all_stages:
        chain.append(all_stages[chain[-1]]["base"])
    return chain


@pytest.mark.unit
def test_the_base_image_is_a_pinned_slim_python_311():
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", (IMAGE / "Dockerfile").read_text(), re.M)
    assert default and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", default.group(1))
    all_stages = stages()
    bases = {stage["base"] for stage in all_stages.values()} - set(all_stages)
    assert bases == {"${PYTHON_IMAGE}"}


@pytest.mark.unit
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_image_runs_its_own_command_as_an_unprivileged_user(service):
    all_stages = stages()
    final = [i for stage in reversed(lineage(service, all_stages)) for i in all_stages[stage]["instructions"]]
    users = [value for keyword, value in final if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1]), "the last USER must be a numeric non-root uid:gid"
    assert ("ENTRYPOINT", f'["karmayogi-{service}"]') in final
    assert ("CMD", '["run", "--no-migrate"]') in final  # migrations run as their own Job
    assert ("ENV", f"HTTP_PORT={SERVICES[service]}") in final
    assert ("EXPOSE", str(SERVICES[service])) in final


@pytest.mark.unit
@pytest.mark.parametrize("service", SERVICES)
def test_the_final_stage_has_no_build_tools_and_takes_only_the_virtual_environment(service):
    all_stages = stages()
    chain = lineage(service, all_stages)
    assert not any(stage.startswith("build") for stage in chain), "the final image must not be built on the build stage"
    for stage in chain:
        for keyword, value in all_stages[stage]["instructions"]:
            if keyword == "RUN":
                installed = re.findall(r"apt-get install\s+([^&;]*)", value)
                for package in " ".join(installed).split():
                    if not package.startswith("-"):
                        assert "=" in package, f"apt package {package} is not pinned to a version"
                        assert not COMPILERS.search(package.split("=")[0]), f"{package} is a build tool"
                assert not re.search(r"\b(pip|uv)\b\s+(pip\s+)?(install|sync)", value), f"stage {stage} installs Python packages"
            if keyword == "COPY":
                assert value == f"--from=build-{service} /opt/venv /opt/venv", f"stage {stage} copies {value}"


@pytest.mark.unit
def test_the_build_context_leaves_out_local_data_environments_and_secrets():
    rules = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert rules[0] == "**", "everything is excluded first, then only the sources are let in"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"deploy/image/install.sh", "deploy/image/locks", "contracts", "runtime", "services"}


# ---- the locks ---------------------------------------------------------------------------------------------

def pinned(lock: Path) -> dict[str, str]:
    """name -> version of every requirement in a hashed lock file."""
    return {m["name"].lower().replace("_", "-"): m["version"]
            for m in re.finditer(r"^(?P<name>[A-Za-z0-9_.-]+)(\[[^\]]*\])?==(?P<version>\S+) \\$", lock.read_text(), re.M)}


@pytest.mark.unit
@pytest.mark.parametrize("service", SERVICES)
def test_a_service_lock_holds_the_workspace_versions_and_no_dev_tools(service):
    lock = IMAGE / "locks" / f"{service}.lock"
    workspace = pinned(ROOT / "requirements.lock")
    packages = pinned(lock)
    assert {name: workspace.get(name) for name in packages} == packages, "run `make lock`"
    assert not {"pytest", "hypothesis", "testcontainers", "kubernetes-validate"} & set(packages)
    assert all("--hash=sha256:" in block for block in re.split(r"\n(?=\S)", lock.read_text().split("\n", 2)[2]))


# ---- the install steps, replayed -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ca_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.crt"), "-days", "1",
                    "-subj", "/CN=Karmayogi test CA"], check=True, capture_output=True)
    return folder / "ca.crt"


def production_like(service: str, venv: Path, data: Path, ca_file: Path) -> dict[str, str]:
    """What a pod gets: addresses inside the cluster, SCRAM over TLS, PostgreSQL over verified TLS."""
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(data), "LANG": "C.UTF-8",
        "DATABASE_URL": f"postgresql://{service}:pw@postgres.karmayogi.svc:5432/{service}"
                        f"?sslmode=verify-full&sslrootcert={ca_file}",
        "KAFKA_BOOTSTRAP_SERVERS": "karmayogi-kafka-bootstrap.kafka.svc:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_USERNAME": service, "KAFKA_PASSWORD": "from-the-kafkauser-secret", "KAFKA_CA_FILE": str(ca_file),
        "HTTP_HOST": "0.0.0.0", "HTTP_PORT": str(SERVICES[service]), "LOCAL_DATA_DIR": str(data),
        "API_KEYS": f"IN-HR:{'h' * 64},*:{'o' * 64}",  # from the service's api-keys Secret
    }
    if service == "certification":
        keys = data / "signing-keys.json"
        subprocess.run([str(venv / "bin" / "python"), "-c",
                        "import json, sys; from datetime import datetime, timezone; from certification.keys import new_key;"
                        "open(sys.argv[1], 'w').write(json.dumps({'keys': [new_key(datetime.now(timezone.utc))]}))",
                        str(keys)], check=True)
        env |= {"CERTIFICATION_PUBLIC_BASE_URL": "https://certificates.karmayogi.example.gov.in",
                "CERTIFICATION_ADMIN_TOKEN": "a" * 48, "CERTIFICATION_SIGNING_KEYS_FILE": str(keys)}
    if service == "notifications":
        env |= {"SMTP_HOST": "smtp-relay.example.gov.in", "SMTP_PORT": "587", "SMTP_STARTTLS": "true",
                "SMS_GATEWAY_URL": "https://sms-gateway.example.gov.in"}
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("uv") is None:
        pytest.fail("uv is not installed; `make install` installs it (the image build stage gets it from build.lock).")
    venvs = {}
    for service in SERVICES:
        venv = tmp_path_factory.mktemp(f"image-{service}") / "venv"
        subprocess.run([str(IMAGE / "install.sh"), service, str(venv)], check=True, capture_output=True, text=True,
                       env={**os.environ, "PYTHON": f"{sys.version_info.major}.{sys.version_info.minor}"}, timeout=300)
        venvs[service] = venv
    return venvs


@pytest.mark.parametrize("service", SERVICES)
def test_the_installed_environment_holds_exactly_the_lock_and_the_project_packages(service, installed):
    frozen = subprocess.run(["uv", "pip", "list", "--format", "json", "--python", str(installed[service] / "bin" / "python")],
                            check=True, capture_output=True, text=True).stdout
    versions = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(frozen)}
    own = {"karmayogi-contracts", "karmayogi-runtime", f"karmayogi-{service}"}
    assert {name: v for name, v in versions.items() if name not in own} == pinned(IMAGE / "locks" / f"{service}.lock")
    assert own <= set(versions)


@pytest.mark.parametrize("service", SERVICES)
def test_the_service_package_carries_its_migrations(service, installed):
    versions = list((installed[service] / "lib").glob(f"python3.*/site-packages/{service}/migrations/versions/*.py"))
    assert versions, f"no migrations installed with {service}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_configuration_check_passes_with_a_production_like_environment(service, installed, ca_file, tmp_path):
    env = production_like(service, installed[service], tmp_path, ca_file)
    command = [str(installed[service] / "bin" / f"karmayogi-{service}"), "check-config"]
    done = subprocess.run(command, env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"{service}: configuration is complete (HTTP port {SERVICES[service]}; "
                                   "keys for every state and IN-HR).")

    env.pop("KAFKA_PASSWORD")
    refused = subprocess.run(command, env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "KAFKA_USERNAME or KAFKA_PASSWORD is not set" in refused.stderr
