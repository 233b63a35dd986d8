# shellcheck shell=bash
# need_toolchain ROOT PREFIX: checks that this checkout can be built (cargo new enough for the
# rust-version in ROOT/Cargo.toml, and the C compiler Rust links with). Prints what to install,
# each line starting with PREFIX, and returns 1 when something is missing.
# Sourced by scripts/kashim (only when it has to build), scripts/test.sh and scripts/install.sh.
need_toolchain() {
    local root=$1 prefix=$2 need have
    need=$(sed -n 's/^rust-version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
    local rustup="install Rust with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh (then open a new shell, or: . \"\$HOME/.cargo/env\")"
    if ! command -v cargo >/dev/null 2>&1; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            # Typical under sudo, whose PATH leaves out ~/.cargo/bin.
            PATH=$HOME/.cargo/bin:$PATH
        else
            printf '%s%s\n' "$prefix" "cargo is not installed: kashim is built from source with Rust $need or newer." \
                "$prefix" "$rustup"
            return 1
        fi
    fi
    have=$(rustc --version 2>/dev/null | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
    if [ -n "$have" ] && [ -n "$need" ] &&
        [ "$(printf '%s\n%s\n' "$need" "$have" | sort -t. -k1,1n -k2,2n -k3,3n | head -n 1)" != "$need" ]; then
        printf '%s%s\n' "$prefix" "Rust $have is too old: kashim needs $need or newer (distribution packages are often older)." \
            "$prefix" "Update with: rustup update stable; or $rustup"
        return 1
    fi
    if ! command -v cc >/dev/null 2>&1; then
        printf '%s%s\n' "$prefix" "no C compiler (cc) found: Rust needs one to link programs." \
            "$prefix" "Install one, e.g. apt-get install gcc (Debian, Ubuntu), dnf install gcc (Fedora), apk add gcc musl-dev (Alpine)."
        return 1
    fi
    return 0
}
