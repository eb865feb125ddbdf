#!/bin/sh
# dockyard: build Juman++ from its release tarball into /opt/jumanpp (the final stage copies only that).
set -eu
: "${JUMANPP_VERSION:?}" "${JUMANPP_URL:?}"
jobs=${MAX_JOBS:-2}
work=$(mktemp -d)
curl -fsSL --retry 3 -o "$work/jumanpp.tar.xz" "$JUMANPP_URL"
tar -C "$work" -xf "$work/jumanpp.tar.xz"
if [ -n "${CATCH_URL:-}" ]; then
    # the bundled Catch header does not compile with glibc 2.34+ (knowledge/addons.toml jumanpp)
    curl -fsSL --retry 3 -o "$work/jumanpp-$JUMANPP_VERSION/libs/catch.hpp" "$CATCH_URL"
fi
mkdir -p "$work/jumanpp-$JUMANPP_VERSION/bld"
cmake -S "$work/jumanpp-$JUMANPP_VERSION" -B "$work/jumanpp-$JUMANPP_VERSION/bld" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/opt/jumanpp
cmake --build "$work/jumanpp-$JUMANPP_VERSION/bld" --parallel "$jobs"
cmake --install "$work/jumanpp-$JUMANPP_VERSION/bld"
rm -rf "$work"
