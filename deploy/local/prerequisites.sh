#!/usr/bin/env bash
# Installs the system packages the local stack and the tests need, only those missing: PostgreSQL's server,
# a JDK with javac, Maven, what certification renders and checks with (Noto fonts, poppler, zbar,
# Chromium), and pip when uv is missing. As root it installs them with apt-get; as an ordinary user it says
# which command to run.
set -euo pipefail

packages=()
need() { packages+=("$1"); }
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need postgresql
{ command -v java && command -v javac; } >/dev/null || need default-jdk-headless
command -v mvn >/dev/null || need maven
command -v make >/dev/null || need make
[[ -f /usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf ]] || need fonts-noto-core
command -v pdftoppm >/dev/null || need poppler-utils
command -v zbarimg >/dev/null || need zbar-tools
command -v chromium >/dev/null || need chromium
# `make install` installs uv with pip when it is missing; Debian's python3 comes without pip.
command -v uv >/dev/null || python3 -m pip --version >/dev/null 2>&1 || need python3-pip

((${#packages[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
    echo "prerequisites: missing ${packages[*]}; install them with: sudo apt-get install ${packages[*]}" >&2
    exit 1
fi
echo "prerequisites: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null
# Debian's postgresql package starts its own cluster on 5432; ours runs on 55432, so that one can stay.
