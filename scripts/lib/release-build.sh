# shellcheck shell=bash
# The release build of kashim (docs/release.md), shared by scripts/release.sh and scripts/install.sh:
# cargo zigbuild against zig's glibc 2.17 stubs, so the files load on every glibc since 2.17 whatever
# the building machine's glibc is, with the unwinder linked in (no libgcc_s).
# Sourced; defines release_* names only.

# Pinned build tools, from PyPI into a venv outside the checkout.
RELEASE_ZIGLANG_VERSION=0.17.0
RELEASE_CARGO_ZIGBUILD_VERSION=0.24.0
RELEASE_GLIBC=2.17
release_tools=${KASHIM_RELEASE_TOOLS:-$HOME/.cache/kashim-release/venv}

# release_install_tools PREFIX: installs the pinned tools into $release_tools. On failure prints why,
# each line starting with PREFIX, and returns 1.
release_install_tools() {
    local prefix=$1 py
    if ! py=$(command -v python3); then
        printf '%s%s\n' "$prefix" "python3 not found (needed to install zig and cargo-zigbuild from PyPI)"
        return 1
    fi
    if [ ! -x "$release_tools/bin/pip" ] && ! "$py" -m venv "$release_tools"; then
        printf '%s%s\n' "$prefix" "cannot create a Python venv at $release_tools (Debian: apt-get install python3-venv)"
        return 1
    fi
    if ! "$release_tools/bin/pip" install --quiet --disable-pip-version-check \
        "ziglang==$RELEASE_ZIGLANG_VERSION" "cargo-zigbuild==$RELEASE_CARGO_ZIGBUILD_VERSION"; then
        printf '%s%s\n' "$prefix" "pip install ziglang==$RELEASE_ZIGLANG_VERSION cargo-zigbuild==$RELEASE_CARGO_ZIGBUILD_VERSION failed"
        return 1
    fi
    printf '%s%s\n' "$prefix" "installed zig $RELEASE_ZIGLANG_VERSION and cargo-zigbuild $RELEASE_CARGO_ZIGBUILD_VERSION in $release_tools"
}

# release_tools_on_path: puts the venv's bin first on PATH (cargo-zigbuild finds zig as
# "python3 -m ziglang" through it); true when cargo-zigbuild is then found.
release_tools_on_path() {
    case ":$PATH:" in *":$release_tools/bin:"*) ;; *) [ -d "$release_tools/bin" ] && PATH="$release_tools/bin:$PATH" ;; esac
    command -v cargo-zigbuild >/dev/null 2>&1
}

# release_triple: the host's own Rust target (nothing to download); zig picks its glibc stubs from
# the suffix ".2.17" of the target given to cargo zigbuild. Without rustc (sudo's PATH), the
# machine's name for it.
release_triple() {
    local t
    t=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')
    printf '%s\n' "${t:-$(uname -m)-unknown-linux-gnu}"
}

# release_out ROOT: where release_build leaves the files.
release_out() {
    printf '%s\n' "$1/target/zig-glibc$RELEASE_GLIBC/$(release_triple)/release"
}

# release_build ROOT [CARGO ARGS...]: cargo zigbuild --release of the workspace (or of what the
# arguments name) into ROOT/target/zig-glibc2.17, apart from the developer's target/release (cargo
# rebuilds everything when the linker changes). Full RELRO, as the developer build has it: linked
# through zig, the library would otherwise bind lazily, its GOT left writable. release-layout.ld
# puts the start-up code together and the relocated data on pages of its own (two page faults less
# in every process).
# The flags go through CARGO_ENCODED_RUSTFLAGS (one flag per field) so a checkout path with spaces
# stays one argument; a developer's RUSTFLAGS come first, split on spaces as cargo splits them.
release_build() {
    local root=$1 sep=$'\x1f' flags="" f
    shift
    for f in ${RUSTFLAGS:-}; do flags+="$f$sep"; done
    flags+="-C${sep}link-arg=-Wl,-z,relro,-z,now$sep-C${sep}link-arg=-Wl,-T,$root/scripts/lib/release-layout.ld"
    (cd -- "$root" &&
        CARGO_ENCODED_RUSTFLAGS=$flags \
            CARGO_TARGET_DIR=$root/target/zig-glibc$RELEASE_GLIBC \
            cargo zigbuild --release --locked --target "$(release_triple).$RELEASE_GLIBC" "$@")
}
