#!/usr/bin/env bash
# Installs one service into a new virtual environment, exactly as its image does (the Dockerfile's build
# stage runs this, and deploy/image/tests/test_image_install.py runs it on this machine):
#
#   deploy/image/install.sh SERVICE TARGET_VENV
#
# 1. the third-party packages of deploy/image/locks/SERVICE.lock, hashes required, nothing else (`sync`);
# 2. the project's own packages (contracts, runtime, the service, with its migrations) built from this
#    source tree with the hatchling of deploy/image/locks/build.lock, without dependencies of their own;
# 3. `pip check`: the environment is complete and consistent.
# Needs uv (the build stage installs it from build.lock). PYTHON names the interpreter (default: python3).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
service=${1:-}
target=${2:-}
if [[ -z $service || -z $target || ! -f $HERE/locks/$service.lock ]]; then
    echo "usage: deploy/image/install.sh SERVICE TARGET_VENV, SERVICE one of: $(cd "$HERE/locks" && ls ./*.lock | sed 's|./||; s|\.lock||' | grep -v '^build$' | tr '\n' ' ')" >&2
    exit 64
fi
uv venv --quiet --python "${PYTHON:-python3}" "$target"
export VIRTUAL_ENV=$target
uv pip sync --quiet --require-hashes --compile-bytecode "$HERE/locks/$service.lock"
uv pip install --quiet --no-deps --compile-bytecode --build-constraints "$HERE/locks/build.lock" \
    "$ROOT/contracts" "$ROOT/runtime" "$ROOT/services/$service"
uv pip check --quiet
