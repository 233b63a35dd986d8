#!/usr/bin/env bash
# Builds kashim in release mode and installs
#   $DESTDIR$PREFIX/lib/libkashim.so   and   $DESTDIR$PREFIX/bin/kashim
# Usage: [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--uninstall]
#        (PREFIX=... and DESTDIR=... may also be given as arguments)
# --uninstall removes exactly those two files (directories are left in place).
set -eu

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

root=$(cd -- "$(dirname -- "$(readlink -f -- "$0")")/.." && pwd)
uninstall=0
for arg in "$@"; do
    case $arg in
        --uninstall) uninstall=1 ;;
        PREFIX=*) PREFIX=${arg#PREFIX=} ;;
        DESTDIR=*) DESTDIR=${arg#DESTDIR=} ;;
        -h|--help) sed -n '2,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $arg (usage: [PREFIX=/usr/local] [DESTDIR=] scripts/install.sh [--uninstall])" ;;
    esac
done
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
[[ $prefix == /* ]] || die "PREFIX must be an absolute path (got \"$prefix\")"
prefix=${prefix%/}
# The library is preloaded by its path, and LD_PRELOAD splits on spaces and colons.
[[ $prefix != *[[:space:]:]* ]] || die "PREFIX must not contain spaces or colons (got \"$prefix\")"

lib=$destdir$prefix/lib/libkashim.so
bin=$destdir$prefix/bin/kashim

if [ "$uninstall" = 1 ]; then
    # A library named in ld.so.preload must not vanish: every program started afterwards would
    # print a loader error. Make the user take it out first.
    preload=$destdir/etc/ld.so.preload
    if [ -f "$preload" ] && grep -qF "$prefix/lib/libkashim.so" "$preload"; then
        die "$preload still names $prefix/lib/libkashim.so: remove that line first, then run --uninstall again"
    fi
    for f in "$bin" "$lib"; do
        if [ -e "$f" ] || [ -L "$f" ]; then
            rm -f -- "$f"
            echo "removed $f"
        else
            echo "not installed: $f"
        fi
    done
    exit 0
fi

built=$root/target/release/libkashim.so
if command -v cargo >/dev/null 2>&1; then
    echo "building: cargo build --release in $root" >&2
    (cd -- "$root" && CARGO_TARGET_DIR="$root/target" cargo build --release >&2)
elif [ -f "$built" ]; then
    # Typical under sudo, whose PATH has no ~/.cargo/bin: install what the user already built.
    say "cargo not found; installing the library already built at $built"
else
    die "cargo not found and $built is not built (build it first: cargo build --release)"
fi
[ -f "$built" ] || die "the build did not produce $built"

version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
install -d -- "$destdir$prefix/lib" "$destdir$prefix/bin"

# put SRC DEST MODE: copy next to DEST, then rename over it. Running programs (and every program,
# when the library is in /etc/ld.so.preload) keep mapping the old file and never see a half-written one.
temps=()
trap 'rm -f -- "${temps[@]}"' EXIT
put() {
    local tmp
    tmp=$(mktemp -- "$2.new.XXXXXX")
    temps+=("$tmp")
    cat -- "$1" >"$tmp"
    chmod "$3" -- "$tmp"
    mv -f -- "$tmp" "$2"
}
put "$built" "$lib" 0644
wrapper=$(mktemp)
temps+=("$wrapper")
# The installed wrapper has no Cargo.toml beside it: give it its version.
sed "s/^kashim_version=\"\"/kashim_version=\"$version\"/" "$root/scripts/kashim" >"$wrapper"
put "$wrapper" "$bin" 0755
echo "installed $lib"
echo "installed $bin"
