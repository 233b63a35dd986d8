#!/usr/bin/env bash
# release.sh: builds the release artifacts of kashim from this checkout:
#   dist/kashim-VERSION-x86_64-linux-gnu.tar.gz   install with: tar -C /usr/local -xzf FILE
#   dist/kashim_VERSION_amd64.deb                 install with: dpkg -i FILE
# Both hold the kashim command and two builds of libkashim.so: one for every x86_64 glibc since
# 2.17, one for glibc >= 2.34 that starts faster (no libpthread/libdl stubs to open); they need
# nothing but glibc (the unwinder is linked in, no libgcc_s). See docs/release.md.
#
# Usage: scripts/release.sh [--install-tools] [--out DIR]
#   --install-tools  install the pinned build tools (zig, cargo-zigbuild, from PyPI) into
#                    $KASHIM_RELEASE_TOOLS (default ~/.cache/kashim-release/venv) and exit
#   --out DIR        write the artifacts to DIR instead of dist/
# The developer build (cargo build --release) needs none of this.
set -euo pipefail

# Pinned build tools: zig links against its own glibc 2.17/2.34 stubs, so the host's glibc does
# not decide which systems the artifacts run on.
ZIGLANG_VERSION=0.17.0
CARGO_ZIGBUILD_VERSION=0.24.0
PORTABLE_GLIBC=2.17 FAST_GLIBC=2.34
TRIPLE=x86_64-unknown-linux-gnu

root=$(cd "$(dirname "$0")/.." && pwd)
tools=${KASHIM_RELEASE_TOOLS:-$HOME/.cache/kashim-release/venv}
out=$root/dist
say() { printf 'release.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

install_tools() {
    local py
    py=$(command -v python3) || die "python3 not found (needed to install zig and cargo-zigbuild from PyPI)"
    if [ ! -x "$tools/bin/pip" ]; then
        "$py" -m venv "$tools" || die "cannot create a Python venv at $tools (Debian: apt-get install python3-venv)"
    fi
    "$tools/bin/pip" install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" \
        || die "pip install ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION failed"
    say "installed zig $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION in $tools"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --install-tools) install_tools; exit 0 ;;
        --out) out=${2:?--out needs a directory}; shift ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (usage: scripts/release.sh [--install-tools] [--out DIR])" ;;
    esac
    shift
done
[[ $out == /* ]] || out=$PWD/$out

# --- tools -----------------------------------------------------------------------------------------
# The venv's bin first: cargo-zigbuild finds zig as "python3 -m ziglang" through it.
[ -d "$tools/bin" ] && export PATH="$tools/bin:$PATH"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$PATH:$HOME/.cargo/bin"
command -v cargo >/dev/null || die "cargo not found"
command -v cargo-zigbuild >/dev/null ||
    die "cargo-zigbuild not found: run scripts/release.sh --install-tools (pip: ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION)"
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
# A target directory per glibc version (cargo rebuilds everything when the linker changes), apart
# from the developer's target/release.
# Full RELRO, as the developer build has it: linked through zig, the cdylib would otherwise bind
# lazily (its GOT left writable). Costs about 6 µs of start-up (docs/release.md).
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C link-arg=-Wl,-z,relro,-z,now"
built=$root/target/zig-glibc$PORTABLE_GLIBC/$TRIPLE/release
# zig glibc stubs are chosen by the suffix of the target; the same Rust target is used (the host's:
# nothing to download).
say "building libkashim.so for glibc >= $FAST_GLIBC"
CARGO_TARGET_DIR=$root/target/zig-glibc$FAST_GLIBC \
    cargo zigbuild --release --locked --quiet -p kashim --target "$TRIPLE.$FAST_GLIBC"
mkdir -p "$tmp/fast"
cp "$root/target/zig-glibc$FAST_GLIBC/$TRIPLE/release/libkashim.so" "$tmp/fast/libkashim.so"
say "building libkashim.so and kashim for glibc >= $PORTABLE_GLIBC"
CARGO_TARGET_DIR=$root/target/zig-glibc$PORTABLE_GLIBC \
    cargo zigbuild --release --locked --quiet --target "$TRIPLE.$PORTABLE_GLIBC"

# stage DIR LIBDIR: the files of an installation under DIR (bin/, LIBDIR/, share/).
stage() {
    local d=$1 m sec
    install -d "$d/bin" "$d/lib/kashim" "$d/share/doc/kashim"
    strip --strip-all -o "$d/bin/kashim" "$built/kashim"
    strip --strip-all -o "$d/lib/kashim/libkashim-glibc$PORTABLE_GLIBC.so" "$built/libkashim.so"
    strip --strip-all -o "$d/lib/kashim/libkashim-glibc$FAST_GLIBC.so" "$tmp/fast/libkashim.so"
    chmod 0755 "$d/bin/kashim"
    chmod 0644 "$d"/lib/kashim/*.so
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
# lib/libkashim.so is a link to the portable build: right on every glibc since 2.17. On glibc >= 2.34,
# pointing it at kashim/libkashim-glibc2.34.so saves the start-up time of two stub libraries
# (docs/release.md).
t=$tmp/tar
stage "$t"
install -m 0644 LICENSE "$t/share/doc/kashim/LICENSE"
ln -s "kashim/libkashim-glibc$PORTABLE_GLIBC.so" "$t/lib/libkashim.so"
touch -h -d "@$epoch" "$t/lib/libkashim.so"
mkdir -p "$out"
tarball=$out/kashim-$version-x86_64-linux-gnu.tar.gz
# Files and links only, no directory entries: extracting into /usr/local must not change the
# owner, mode or date of /usr/local/bin or /usr/local/lib.
(cd "$t" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort) >"$tmp/tar.list"
tar -C "$t" --no-recursion --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - -T "$tmp/tar.list" | gzip -9n >"$tarball"

# --- .deb ------------------------------------------------------------------------------------------
# /usr/lib/libkashim.so is made by postinst, pointing at the build this system's glibc loads.
d=$tmp/deb
stage "$d/usr"
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
for s in postinst prerm; do install -m 0755 "packaging/deb/$s" "$d/DEBIAN/$s"; done
(cd "$d" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$d/DEBIAN/md5sums"
chmod 0644 "$d/DEBIAN/control" "$d/DEBIAN/md5sums"
deb=$out/kashim_${version}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$d" "$deb" >/dev/null

# --- summary ---------------------------------------------------------------------------------------
for f in "$t/lib/kashim"/*.so "$t/bin/kashim"; do
    glibc=$(readelf -W --dyn-syms "$f" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    say "$(basename "$f"): $(stat -c %s "$f") bytes, needs up to $glibc; NEEDED: $needed"
done
echo "$tarball"
echo "$deb"
