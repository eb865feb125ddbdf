#!/bin/sh
# dockyard: after dpkg left out the files that match the patterns given (knowledge/modalities.toml
# [[trim]]), prove that no program or shared library left in the image links one of them.
#     sh trim-check.sh PATTERN...
# The left-out files are those dpkg lists as installed but that are not on disk; every file under the
# system's library and program folders that names one is run through ldd, which must find it.
set -eu
left=$(cat /var/lib/dpkg/info/*.list | sort -u | while read -r path; do
    for pattern in "$@"; do
        case "$path" in
            $pattern) [ -e "$path" ] || echo "$path";;
        esac
    done
done | sort -u)
if [ -z "$left" ]; then
    echo "dockyard: no file left out"
    exit 0
fi
names=$(echo "$left" | sed 's|.*/||' | sort -u)
set --
for name in $names; do set -- "$@" -e "$name"; done
broken=$(grep -rlsF "$@" /usr/lib /usr/bin /usr/sbin /usr/libexec /lib /bin /sbin 2>/dev/null | sort -u | while read -r file; do
    [ -L "$file" ] && continue
    head -c 4 "$file" 2>/dev/null | grep -q ELF || continue
    ldd "$file" 2>/dev/null | sed -n "s|^[[:space:]]*\([^ ]*\) => not found|$file needs \1|p" | while read -r line; do
        for name in $names; do
            case "$line" in *" needs $name") echo "$line";; esac
        done
    done
done)
if [ -n "$broken" ]; then
    echo "dockyard: a file that dpkg left out (knowledge/modalities.toml [[trim]]) is still linked:" >&2
    echo "$broken" >&2
    echo "remove its pattern from [[trim]] or the package that links it from the image" >&2
    exit 1
fi
echo "dockyard: left out $(echo "$left" | wc -l) files ($(echo "$left" | sed 's|.*/||;s|\.so.*||' | sort -u | tr '\n' ' ')); nothing left in the image links them"
