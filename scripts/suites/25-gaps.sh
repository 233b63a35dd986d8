#!/usr/bin/env bash
# 25-gaps: the LD_PRELOAD gaps found with real programs (issue 13), each reproduced as it was found:
#   close_range/closefrom   a socket received onto a number freed by close_range must be configured
#   inherited connections   inetd (fds 0-1) and systemd socket activation (LISTEN_FDS) connections
#   RTLD_DEEPBIND           PHP's extensions (sockets, pgsql) reach kashim
#   re-exec                 a server that rebuilds its environment when it re-execs (docs/ld-preload-gaps.md)
# To see a test fail without the fix: LIBKASHIM=/path/to/older/libkashim.so bash scripts/suites/25-gaps.sh
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

src=$LIBKASHIM_ROOT/c-tests
bin=$src/bin
mkdir -p "$bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-gaps.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v gcc >/dev/null 2>&1; then
    skip gaps "gcc not found"
    exit 0
fi
if [ ! -f "$LIBKASHIM" ]; then
    fail gaps "library not built: $LIBKASHIM"
    exit 0
fi
lib=$LIBKASHIM
build() { # build NAME: c-tests/NAME.c -> c-tests/bin/NAME
    gcc -O1 -Wall -Werror -pthread -o "$bin/$1" "$src/$1.c" >"$tmp/cc.log" 2>&1 ||
        { fail "gaps build $1" "$(head -n 3 "$tmp/cc.log" | tr '\n' ' ')"; return 1; }
}
# under LABEL [VAR=value...] -- PROG ARGS: PROG under kashim, clean KASHIM_* environment, bounded.
under() {
    local label=$1; shift
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    without_kashim_env timeout 60 env TEST_LABEL="$label" LD_PRELOAD="$lib" "${vars[@]}" "$@"
    local status=$?
    [ $status -eq 124 ] && fail "$label" "timed out after 60 s"
    return 0
}
python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)

# --- close_range / closefrom ----------------------------------------------------------------------
if build closerange_test; then
    under "close_range" -- "$bin/closerange_test" close_range
    under "closefrom" -- "$bin/closerange_test" closefrom
    under "close_range CLOEXEC" -- "$bin/closerange_test" cloexec
fi
if [ -n "$python" ]; then
    under "python os.closerange" -- "$python" "$src/closerange_check.py" closerange
else
    skip "python os.closerange" "python3 not found"
fi
