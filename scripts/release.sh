#!/usr/bin/env bash
# release.sh: builds the release artifacts of kashim from this checkout:
#   dist/kashim-VERSION-x86_64-linux-gnu.tar.gz   install with: tar -C /usr/local -xzf FILE
#   dist/kashim_VERSION_amd64.deb                 install with: dpkg -i FILE
# Both hold the kashim command and libkashim.so, one build for every x86_64 glibc since 2.17 that
# needs nothing but glibc (the unwinder is linked in, no libgcc_s). See docs/release.md.
#
# Usage: scripts/release.sh [--install-tools] [--out DIR]
#   --install-tools  install the pinned build tools (zig, cargo-zigbuild, from PyPI) into
#                    $KASHIM_RELEASE_TOOLS (default ~/.cache/kashim-release/venv) and exit
#   --out DIR        write the artifacts to DIR instead of dist/
# The developer build (cargo build --release) needs none of this.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/release-build.sh
. "$root/scripts/lib/release-build.sh"
out=$root/dist
say() { printf 'release.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --install-tools) release_install_tools "release.sh: " >&2; exit ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (usage: scripts/release.sh [--install-tools] [--out DIR])" ;;
    esac
    shift
done
[[ $out == /* ]] || out=$PWD/$out

# --- tools -----------------------------------------------------------------------------------------
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$PATH:$HOME/.cargo/bin"
command -v cargo >/dev/null || die "cargo not found"
release_tools_on_path ||
    die "cargo-zigbuild not found: run scripts/release.sh --install-tools (pip: ziglang==$RELEASE_ZIGLANG_VERSION cargo-zigbuild==$RELEASE_CARGO_ZIGBUILD_VERSION)"
export PATH
[ "$(release_triple)" = x86_64-unknown-linux-gnu ] || die "the release artifacts are x86_64 only (this host is $(release_triple))"
for t in strip readelf dpkg-deb tar gzip; do
    command -v "$t" >/dev/null || die "$t not found (Debian: binutils, dpkg, tar, gzip)"
done

cd "$root"
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
[ -n "$version" ] || die "no version in Cargo.toml [workspace.package]"
# Reproducible archives: every date is the last commit's.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- build -----------------------------------------------------------------------------------------
say "building libkashim.so and kashim for glibc >= $RELEASE_GLIBC"
release_build "$root" --quiet
built=$(release_out "$root")

# stage DIR: the files of an installation under DIR (bin/, lib/, share/).
stage() {
    local d=$1 m sec
    install -d "$d/bin" "$d/lib" "$d/share/doc/kashim"
    strip --strip-all -o "$d/bin/kashim" "$built/kashim"
    strip --strip-all -o "$d/lib/libkashim.so" "$built/libkashim.so"
    chmod 0755 "$d/bin/kashim"
    chmod 0644 "$d/lib/libkashim.so"
    install -m 0644 README.md "$d/share/doc/kashim/README.md"
    # Man pages (docs/man/NAME.SECTION) when the checkout has them.
    for m in docs/man/*.[1-8]; do
        [ -f "$m" ] || continue
        sec=${m##*.}
        install -d "$d/share/man/man$sec"
        install -m 0644 "$m" "$d/share/man/man$sec/"
    done
    find "$d" -exec touch -h -d "@$epoch" {} +
}

# --- tarball ---------------------------------------------------------------------------------------
t=$tmp/tar
stage "$t"
install -m 0644 LICENSE "$t/share/doc/kashim/LICENSE"
touch -h -d "@$epoch" "$t/share/doc/kashim/LICENSE"
mkdir -p "$out"
tarball=$out/kashim-$version-x86_64-linux-gnu.tar.gz
# Files and links only, no directory entries: extracting into /usr/local must not change the
# owner, mode or date of /usr/local/bin or /usr/local/lib.
(cd "$t" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort) >"$tmp/tar.list"
tar -C "$t" --no-recursion --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - -T "$tmp/tar.list" | gzip -9n >"$tarball"

# --- .deb ------------------------------------------------------------------------------------------
# The library's file in a directory of its own, /usr/lib/libkashim.so a link to it: a shared object
# without a SONAME directly in /usr/lib is an error for lintian (it would be a public library).
d=$tmp/deb
stage "$d/usr"
install -d "$d/usr/lib/kashim"
mv "$d/usr/lib/libkashim.so" "$d/usr/lib/kashim/libkashim.so"
ln -s kashim/libkashim.so "$d/usr/lib/libkashim.so"
gzip -9n "$d"/usr/share/man/man*/* 2>/dev/null || true
# Debian's form of the licence, and a changelog (both required by policy).
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: kashim"
    echo
    echo "Files: *"
    echo "Copyright: $(sed -n 's/^Copyright (c) *//p' LICENSE | head -n 1)"
    echo "License: MIT"
    sed -n '/^Permission is hereby granted/,$p' LICENSE | sed 's/^$/./; s/^/ /'
} >"$d/usr/share/doc/kashim/copyright"
{
    echo "kashim ($version) unstable; urgency=medium"
    echo
    echo "  * Release $version."
    echo
    echo " -- $(sed -n 's/^Maintainer: //p' packaging/deb/control.in)  $(LC_ALL=C date -u -R -d "@$epoch")"
} | gzip -9n >"$d/usr/share/doc/kashim/changelog.gz"
find "$d" -exec touch -h -d "@$epoch" {} +
install -d "$d/DEBIAN"
size=$(du -sk --apparent-size "$d/usr" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$size/" packaging/deb/control.in >"$d/DEBIAN/control"
install -m 0755 packaging/deb/prerm "$d/DEBIAN/prerm"
(cd "$d" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$d/DEBIAN/md5sums"
chmod 0644 "$d/DEBIAN/control" "$d/DEBIAN/md5sums"
deb=$out/kashim_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$d" "$deb" >/dev/null

# --- summary ---------------------------------------------------------------------------------------
for f in "$t/lib/libkashim.so" "$t/bin/kashim"; do
    glibc=$(readelf -W --dyn-syms "$f" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    say "$(basename "$f"): $(stat -c %s "$f") bytes, needs up to $glibc; NEEDED: $needed"
done
echo "$tarball"
echo "$deb"
