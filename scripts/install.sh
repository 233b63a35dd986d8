#!/usr/bin/env bash
# Builds kashim as the release packages are built (for every glibc since 2.17, nothing needed but
# glibc: docs/release.md) and installs, under $DESTDIR$PREFIX:
#   lib/libkashim.so, bin/kashim, share/man/man1/kashim.1, share/man/man7/libkashim.7,
#   share/bash-completion/completions/kashim
# The build tools (zig and cargo-zigbuild, pinned) are installed from PyPI on first use, into
# ~/.cache/kashim-release/venv; without them it falls back to a plain cargo build, and says so.
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
        -h|--help) sed -n '2,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
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

# shellcheck source=scripts/lib/toolchain.sh
. "$root/scripts/lib/toolchain.sh"
# shellcheck source=scripts/lib/release-build.sh
. "$root/scripts/lib/release-build.sh"
plain=$root/target/release
# built DIR: DIR holds both files to install.
built() { [ -f "$1/libkashim.so" ] && [ -x "$1/kashim" ]; }
if need_toolchain "$root" "install.sh: " >&2; then
    # The release build, as the packages have it; a plain cargo build only when its tools cannot
    # be had: that library needs the building machine's glibc (or newer) and libgcc_s.
    why=""
    if ! release_tools_on_path; then
        say "installing the release build tools (first use): zig $RELEASE_ZIGLANG_VERSION and cargo-zigbuild $RELEASE_CARGO_ZIGBUILD_VERSION from PyPI"
        if ! release_install_tools "install.sh: " >&2; then why="its build tools could not be installed"
        elif ! release_tools_on_path; then why="cargo-zigbuild is not in $release_tools/bin"; fi
    fi
    if [ -z "$why" ]; then
        echo "building: cargo zigbuild --release for glibc >= $RELEASE_GLIBC in $root" >&2
        if release_build "$root" >&2; then
            dir=$(release_out "$root")
            built "$dir" || why="it did not produce $dir/libkashim.so and kashim"
        else
            why="cargo zigbuild failed"
        fi
    fi
    if [ -n "$why" ]; then
        say "not the release build: $why. Falling back to a plain cargo build, which runs only on glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }') or newer and needs libgcc_s.so.1"
        echo "building: cargo build --release in $root" >&2
        (cd -- "$root" && CARGO_TARGET_DIR="$root/target" cargo build --release >&2)
        dir=$plain
    fi
elif built "$(release_out "$root")"; then
    # Typical under sudo, whose PATH has no ~/.cargo/bin: install what the user already built.
    dir=$(release_out "$root")
    say "so installing the release build already in $dir"
elif built "$plain"; then
    dir=$plain
    say "so installing the plain cargo build already in $plain (it needs this machine's glibc or newer, and libgcc_s.so.1)"
else
    die "nothing is built in $root/target either (build it first: scripts/install.sh as a user with Rust, or cargo build --release)"
fi
built_lib=$dir/libkashim.so
built_bin=$dir/kashim
built "$dir" || die "the build did not produce $built_lib and $built_bin"

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
