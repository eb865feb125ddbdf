#!/bin/sh
# dockyard: run one command that fetches over HTTPS (pip, uv, curl, git, apt), trusting the CA bundle handed
# to the build as the secret "ca" (a TLS-intercepting proxy's or a company's CA). The bundle is read
# from the secret mount, joined with the image's own trust store in a file that is removed before the
# step ends, so it never lands in a layer.
set -eu
ca=/run/secrets/ca
bundle=""
if [ -s "$ca" ]; then
    bundle=$ca
    if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
        bundle=$(mktemp /dev/shm/dockyard-ca.XXXXXX 2>/dev/null || mktemp)
        cat /etc/ssl/certs/ca-certificates.crt "$ca" > "$bundle"
    fi
    apt_conf=$(mktemp /dev/shm/dockyard-apt.XXXXXX 2>/dev/null || mktemp)
    echo "Acquire::https::CAInfo \"$bundle\";" > "$apt_conf"
    export PIP_CERT="$bundle" SSL_CERT_FILE="$bundle" REQUESTS_CA_BUNDLE="$bundle" \
        CURL_CA_BUNDLE="$bundle" GIT_SSL_CAINFO="$bundle" UV_NATIVE_TLS=1 APT_CONFIG="$apt_conf"
fi
status=0
"$@" || status=$?
if [ -n "$bundle" ]; then
    rm -f "$apt_conf"
    [ "$bundle" = "$ca" ] || rm -f "$bundle"
fi
exit "$status"
