"""A state system installs only the contracts package: nothing else of this project is needed."""

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

CONTRACTS = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_the_package_installs_alone_and_checks_every_example(tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    # Copy the sources so the build cannot see (or write into) the rest of the work tree.
    source = shutil.copytree(CONTRACTS, tmp_path / "contracts", ignore=shutil.ignore_patterns("tests", "*.egg-info"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run = lambda *args: subprocess.run([str(python), *args], capture_output=True, text=True, env=env, cwd=tmp_path)

    installed = run("-m", "pip", "install", "--quiet", str(source))
    assert installed.returncode == 0, installed.stderr

    packages = run("-m", "pip", "list", "--format=freeze").stdout.lower()
    assert "karmayogi-contracts" in packages and "pydantic" in packages
    assert not any(name in packages for name in ("karmayogi-runtime", "fastapi", "aiokafka", "asyncpg"))

    checked = run("-m", "karmayogi_contracts.examples", str(source / "examples"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(list((source / 'examples').glob('*/*/*.json')))} of" in checked.stdout
