#!/bin/sh
# dockyard: make Python X.Y available, whatever the base image.
#   python.sh base X.Y [--dev]    interpreter only, and only from the distribution (final image); with
#                                 --dev its headers too (the image compiles at run time: JIT builds)
#   python.sh builder X.Y VENV [--dev]
#                                 interpreter with venv (and headers with --dev), then the virtualenv
# Order of preference: the base image's own interpreter; the distribution's package; a standalone
# CPython installed by uv (whose wheel URL and sha256 come from dockyard's knowledge base) into
# /opt/python, which the final stage copies.
set -eu
mode=$1
want=$2
if [ "$mode" = base ]; then
    venv=""
    dev=${3:-}
else
    venv=${3:-/opt/venv}
    dev=${4:-}
fi
mkdir -p /opt/python/bin

find_python() {
    for candidate in "/usr/local/bin/python$want" "/usr/bin/python$want" "/opt/python/bin/python$want"; do
        if [ -x "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

apt_ready=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ -z "$apt_ready" ]; then
        apt-get update -qq
        apt_ready=1
    fi
    for package in "$@"; do
        apt-cache show "$package" >/dev/null 2>&1 || return 1
    done
    apt-get install -y -qq --no-install-recommends "$@"
}

install_with_uv() {
    : "${UV_WHEEL_URL:?uv wheel URL not given}" "${UV_WHEEL_SHA256:?uv wheel sha256 not given}"
    command -v curl >/dev/null 2>&1 && command -v unzip >/dev/null 2>&1 || apt_install curl ca-certificates unzip
    tmp=$(mktemp -d)
    curl -fsSL --retry 3 -o "$tmp/uv.whl" "$UV_WHEEL_URL"
    echo "$UV_WHEEL_SHA256  $tmp/uv.whl" | sha256sum -c -
    unzip -q -j "$tmp/uv.whl" '*/scripts/uv' -d "$tmp"
    chmod +x "$tmp/uv"
    UV_PYTHON_INSTALL_DIR=/opt/python/versions "$tmp/uv" python install "$want"
    found=$(find /opt/python/versions -path "*/bin/python$want" -type f | head -n 1)
    ln -sf "$found" "/opt/python/bin/python$want"
    rm -rf "$tmp"
}

if ! py=$(find_python); then
    if apt_install "python$want"; then
        py=$(find_python)
    elif [ "$mode" = builder ]; then
        install_with_uv
        py=$(find_python)
    else
        echo "dockyard: Python $want is not in this base image nor its distribution; the builder installs it" >&2
        exit 0
    fi
fi
echo "dockyard: using $py"
if [ "$dev" = "--dev" ] && ! "$py" -c "import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))"; then
    apt_install "python$want-dev"
fi
[ "$mode" = builder ] || exit 0

if ! "$py" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt_install "python$want-venv"
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
