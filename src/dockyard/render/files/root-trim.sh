#!/bin/sh
# dockyard: the root file system of a serve image (knowledge/serve.toml [[root-trim.rows]]): the base
# without what a served model never runs or loads. Paths are removed; packages are purged with dpkg, so
# its database stays true (an SBOM or a scanner reads what is there); then every program and shared
# library left must still find the libraries it links, or the build fails.
#     sh root-trim.sh LIST [LOADED]
# LIST has one entry a line: `path GLOB`, `package NAME`, `keep NAME` (a file name kept inside the
# folders the globs name: Debian's copyright files); `#` starts a comment. LOADED lists the standard
# library's files the builder's warm-up loaded (slim.py --stdlib-list): the bytecode Debian compiled for
# the other modules of the standard library goes (they compile in memory if ever imported).
# Paths go first (rm is still there), then the packages; the check after the purge needs only dash and
# the dynamic loader.
set -eu
[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: root-trim.sh LIST [LOADED]" >&2; exit 2; }
loaded=${2:-}
packages="" paths="" keep=""
while read -r kind value; do
    case "$kind" in
        package) packages="$packages $value" ;;
        path) paths="$paths $value" ;;
        keep) keep=$value ;;
        "#"*|"") ;;
        *) echo "root-trim.sh: unknown entry '$kind $value' in $1" >&2; exit 2 ;;
    esac
done <"$1"

removed=0
for glob in $paths; do
    for path in $glob; do
        [ -e "$path" ] || [ -L "$path" ] || continue
        removed=$((removed + 1))
        if [ -n "$keep" ] && [ -d "$path" ] && [ ! -L "$path" ]; then  # a folder: all but the kept files
            find "$path" -mindepth 1 ! -type d ! -name "$keep" -delete
            find "$path" -depth -mindepth 1 -type d -empty -delete
        else
            rm -rf "$path"
        fi
    done
done
echo "dockyard root-trim: removed $removed paths"

if [ -n "$loaded" ] && [ -s "$loaded" ]; then  # the standard library's bytecode, but the loaded modules'
    os_py=$(grep -m1 '/os\.py$' "$loaded" || true)
    stdlib=${os_py%/os.py}
    pruned=0 kept=0
    if [ -n "$stdlib" ] && [ -d "$stdlib" ]; then
        for pyc in $(find "$stdlib" -path '*/__pycache__/*.pyc'); do
            name=${pyc##*/}
            if grep -qxF "${pyc%/__pycache__/*}/${name%%.*}.py" "$loaded"; then
                kept=$((kept + 1))
            else
                rm -f "$pyc"
                pruned=$((pruned + 1))
            fi
        done
    fi
    echo "dockyard root-trim: standard library bytecode kept for $kept loaded modules, $pruned files removed"
fi

installed=""
for package in $packages; do
    case "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)" in
        installed) installed="$installed $package" ;;
    esac
done
if [ -n "$installed" ]; then
    echo "dockyard root-trim: purging$installed"
    # Their removal scripts stop services, update alternatives and ask debconf: nothing a root that is
    # never booted or upgraded needs, and they call tools purged along with them. dpkg alone removes the
    # files and the database entries. --force-depends: what depends on them (python3.11-venv on the
    # ensurepip wheels) stays installed and works without them; the essential ones are never run here.
    for package in $installed; do
        rm -f "/var/lib/dpkg/info/$package.prerm" "/var/lib/dpkg/info/$package.postrm" \
              "/var/lib/dpkg/info/$package:"*.prerm "/var/lib/dpkg/info/$package:"*.postrm
    done
    # its warnings (one per essential package) are shown only when the purge fails
    out=$(DEBIAN_FRONTEND=noninteractive dpkg --purge --force-remove-essential --force-depends $installed 2>&1) \
        || { echo "$out" >&2; exit 1; }
fi

# Every ELF program and library left resolves its libraries (the dynamic loader's --list, as ldd does).
loader=""
for candidate in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1 /lib64/ld64.so.2; do
    [ -e "$candidate" ] && loader=$candidate && break
done
[ -n "$loader" ] || { echo "dockyard root-trim: no dynamic loader found" >&2; exit 1; }
broken=0
checked=0
check() {  # check FILE: run the loader on it. A library it cannot find is named "not found" (a library's
    # dependency) or stops the loader with "cannot open shared object file" (exit 127, a direct one); any
    # other failure is a file that is not a dynamic ELF object.
    status=0
    out=$("$loader" --list "$1" 2>&1) || status=$?
    case "$out" in
        *"not found"*|*"cannot open shared object file"*)
            checked=$((checked + 1))
            echo "dockyard root-trim: $1 links a library the trim removed:" >&2
            echo "$out" >&2
            broken=$((broken + 1)) ;;
        *) [ "$status" -eq 0 ] && checked=$((checked + 1)) ;;
    esac
    return 0
}
walk() {  # walk DIR LIBS_ONLY
    for entry in "$1"/*; do
        if [ -L "$entry" ]; then
            continue
        elif [ -d "$entry" ]; then
            walk "$entry" "$2"
        elif [ -f "$entry" ]; then
            case "$2:$entry" in
                no:*|yes:*.so|yes:*.so.*) check "$entry" ;;
            esac
        fi
    done
}
for dir in /usr/bin /usr/sbin /usr/local/bin /usr/libexec /opt/python/bin; do
    [ -d "$dir" ] && walk "$dir" no
done
for dir in /usr/lib /usr/local/lib /opt/python/lib; do
    [ -d "$dir" ] && walk "$dir" yes
done
if [ "$broken" -gt 0 ]; then
    echo "dockyard root-trim: $broken files link what was removed: keep the package that holds it" \
         "(knowledge/serve.toml [[root-trim]])" >&2
    exit 1
fi
echo "dockyard root-trim: $checked programs and libraries left, each finds every library it links"
