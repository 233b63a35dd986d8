#!/usr/bin/env bash
# Builds kashim in release mode and installs, under $DESTDIR$PREFIX:
#   lib/libkashim.so, bin/kashim, share/man/man1/kashim.1, share/man/man7/libkashim.7,
#   share/bash-completion/completions/kashim
# Usage: [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--uninstall]
#        (PREFIX=... and DESTDIR=... may also be given as arguments)
# --uninstall removes exactly those files (directories are left in place).
# Exit status: 0 done, 1 failed, 2 bad argument.
set -eu

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usage_error() { say "$*"; exit 2; }

root=$(cd -- "$(dirname -- "$(readlink -f -- "$0")")/.." && pwd)
usage="usage: [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--uninstall]"
uninstall=0
for arg in "$@"; do
    case $arg in
        --uninstall) uninstall=1 ;;
        PREFIX=*) PREFIX=${arg#PREFIX=} ;;
        DESTDIR=*) DESTDIR=${arg#DESTDIR=} ;;
        -h|--help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) usage_error "unknown argument $arg ($usage)" ;;
    esac
done
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
[[ $prefix == /* ]] || usage_error "PREFIX must be an absolute path (got \"$prefix\")"
prefix=${prefix%/}
# The library is preloaded by its path, and LD_PRELOAD splits on spaces and colons.
[[ $prefix != *[[:space:]:]* ]] || usage_error "PREFIX must not contain spaces or colons (got \"$prefix\")"

lib=$destdir$prefix/lib/libkashim.so
bin=$destdir$prefix/bin/kashim
man1=$destdir$prefix/share/man/man1/kashim.1
man7=$destdir$prefix/share/man/man7/libkashim.7
completion=$destdir$prefix/share/bash-completion/completions/kashim
files=("$lib" "$bin" "$man1" "$man7" "$completion")

if [ "$uninstall" = 1 ]; then
    # A library named in ld.so.preload must not vanish: every program started afterwards would
    # print a loader error. Make the user take it out first.
    preload=$destdir/etc/ld.so.preload
    if [ -f "$preload" ] && grep -qF "$prefix/lib/libkashim.so" "$preload"; then
        die "$preload still names $prefix/lib/libkashim.so: remove that line first, then run --uninstall again"
    fi
    for f in "${files[@]}"; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            rm -f -- "$f"
            echo "removed $f"
        else
            echo "not installed: $f"
        fi
    done
    exit 0
fi

built_lib=$root/target/release/libkashim.so
built_bin=$root/target/release/kashim
# shellcheck source=scripts/lib/toolchain.sh
. "$root/scripts/lib/toolchain.sh"
if need_toolchain "$root" "install.sh: " >&2; then
    echo "building: cargo build --release in $root" >&2
    (cd -- "$root" && CARGO_TARGET_DIR="$root/target" cargo build --release >&2)
elif [ -f "$built_lib" ] && [ -x "$built_bin" ]; then
    # Typical under sudo, whose PATH has no ~/.cargo/bin: install what the user already built.
    say "so installing what is already built in $root/target/release"
else
    die "nothing is built in $root/target/release either (build it first: cargo build --release)"
fi
if [ ! -f "$built_lib" ] || [ ! -x "$built_bin" ]; then die "the build did not produce $built_lib and $built_bin"; fi

# put SRC DEST MODE: copy next to DEST, then rename over it. Running programs (and every program,
# when the library is in /etc/ld.so.preload) keep mapping the old file and never see a half-written one.
temps=()
trap 'rm -f -- "${temps[@]}"' EXIT
put() {
    local tmp
    install -d -- "$(dirname -- "$2")"
    tmp=$(mktemp -- "$2.new.XXXXXX")
    temps+=("$tmp")
    cat -- "$1" >"$tmp"
    chmod "$3" -- "$tmp"
    mv -f -- "$tmp" "$2"
    echo "installed $2"
}
completion_src=$(mktemp)
temps+=("$completion_src")
"$built_bin" --completion bash >"$completion_src"
put "$built_lib" "$lib" 0644
put "$built_bin" "$bin" 0755
put "$root/docs/man/kashim.1" "$man1" 0644
put "$root/docs/man/libkashim.7" "$man7" 0644
put "$completion_src" "$completion" 0644
