#!/bin/sh
# dockyard: create the runtime user NAME with uid and gid UID, a home and a writable Hugging Face cache.
# A user or group that already holds UID (ubuntu images ship "ubuntu" as 1000) is removed first.
# With "any-uid" the home also belongs to group 0 with the owner's rights (OpenShift runs images under an
# arbitrary UID with GID 0; a volume mounted on the cache copies these rights).
set -eu
name=$1
uid=$2
mode=${3:-}
existing=$(getent passwd "$uid" | cut -d: -f1 || true)
if [ -n "$existing" ] && [ "$existing" != "$name" ]; then
    userdel --remove "$existing" 2>/dev/null || userdel "$existing"
fi
existing=$(getent group "$uid" | cut -d: -f1 || true)
if [ -n "$existing" ] && [ "$existing" != "$name" ]; then
    groupdel "$existing"
fi
getent group "$name" >/dev/null || groupadd --gid "$uid" "$name"
getent passwd "$name" >/dev/null || useradd --uid "$uid" --gid "$uid" --no-log-init --create-home --shell /bin/sh "$name"
mkdir -p "/home/$name/.cache/huggingface"
chown -R "$uid:$uid" "/home/$name"
if [ "$mode" = "any-uid" ]; then
    chgrp -R 0 "/home/$name"
    chmod -R g=u "/home/$name"
fi
