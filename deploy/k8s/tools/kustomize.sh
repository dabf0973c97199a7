#!/usr/bin/env bash
# Prints the path of the pinned kustomize, building it from source with Go the first time.
# The binary lives in a cache outside the repository (${KARMAYOGI_CACHE:-~/.cache/karmayogi}/kustomize-<version>/),
# so a second call only prints the path. The tests in deploy/k8s/tests/ and the operator guide use it.
set -euo pipefail

KUSTOMIZE_VERSION=v5.7.1
cache="${KARMAYOGI_CACHE:-$HOME/.cache/karmayogi}"
dir="$cache/kustomize-$KUSTOMIZE_VERSION"
binary="$dir/kustomize"

if [[ ! -x $binary ]]; then
    if ! command -v go >/dev/null; then
        echo "kustomize.sh: Go is needed to build kustomize $KUSTOMIZE_VERSION; install Go 1.22 or newer." >&2
        exit 1
    fi
    go_version=$(go env GOVERSION)  # go1.22.5
    go_minor=${go_version#go1.}
    if ((${go_minor%%[!0-9]*} < 22)); then  # Debian 12's golang is 1.19
        echo "kustomize.sh: kustomize $KUSTOMIZE_VERSION needs Go 1.22 or newer to build; this machine has $go_version." >&2
        exit 1
    fi
    mkdir -p "$dir"
    echo "kustomize.sh: building kustomize $KUSTOMIZE_VERSION into $dir (first time only, about a minute)" >&2
    GOBIN="$dir" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
fi
echo "$binary"
