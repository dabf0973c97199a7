#!/usr/bin/env bash
# The images' locks, run by `make lock` after it resolves the workspace lock:
#   deploy/image/locks/<service>.lock   the third-party packages one service runs on, hashed, at exactly the
#                                       versions of requirements.lock (no dev tools, no other service's deps)
#   deploy/image/locks/build.lock       what the image's build stage installs with pip: uv and hatchling
# The project's own packages (contracts, runtime, the service) are built from the source tree instead.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SERVICES=(enrolment attendance certification notifications)
UV_VERSION=$(uv --version | cut -d' ' -f2)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$ROOT"
# Every pinned version of the workspace, as constraints: an image runs what the tests ran.
grep -E '^[A-Za-z0-9_.-]+(\[[^]]*\])?==' requirements.lock | sed 's/ *\\$//' >"$tmp/workspace.txt"
compile() {
    uv pip compile --quiet --generate-hashes --python-version 3.11 --no-annotate \
        --custom-compile-command "make lock" "$@"
}
for service in "${SERVICES[@]}"; do
    printf '%s\n' "$ROOT/contracts" "$ROOT/runtime" "$ROOT/services/$service" >"$tmp/$service.in"
    compile "$tmp/$service.in" -c "$tmp/workspace.txt" --no-emit-package karmayogi-contracts \
        --no-emit-package karmayogi-runtime --no-emit-package "karmayogi-$service" -o "$HERE/locks/$service.lock"
done
# The same uv as the one that made these locks; hatchling is the build backend of the project's packages.
printf '%s\n' "uv==$UV_VERSION" hatchling >"$tmp/build.in"
compile "$tmp/build.in" -o "$HERE/locks/build.lock"
echo "deploy/image/locks: ${SERVICES[*]} and build (uv $UV_VERSION)"
