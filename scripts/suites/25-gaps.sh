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

# --- inherited connections: systemd-socket-activate hands the server an accepted connection --------
# The activator itself runs WITHOUT kashim (its listener would otherwise pass kashim's options on to
# every connection in the kernel); LD_PRELOAD reaches only the server, through -E, as a unit's
# Environment= would. The server never calls accept() or connect() and reports its socket's values.
# activated NAME EXPECTED MODE-ARGS... -- SERVER-ARGS...
activated() {
    local name=$1 want=$2; shift 2
    local args=()
    while [ "$1" != "--" ]; do args+=("$1"); shift; done
    shift
    local port got
    port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    without_kashim_env timeout 60 systemd-socket-activate -l "127.0.0.1:$port" "${args[@]}" \
        -E LD_PRELOAD="$lib" "$bin/inetd_server" "$@" >"$tmp/activate.log" 2>&1 &
    pids+=($!)
    got=$(timeout 20 "$python" - "$port" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("could not connect")
print(s.makefile().readline().strip())
PY
)
    kill "${pids[-1]}" 2>/dev/null
    wait "${pids[-1]}" 2>/dev/null
    if [[ "$got " == "$want "* ]]; then pass "$name"
    else fail "$name" "server saw [$got], expected [$want...]; activator: $(tail -n 2 "$tmp/activate.log" | tr '\n' ' ')"; fi
}
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
    skip "socket activation" "systemd-socket-activate not found (Debian package systemd)"
elif [ -z "$python" ]; then
    skip "socket activation" "python3 not found"
elif build inetd_server; then
    kashim_values="keepalive=1 idle=60 intvl=10 cnt=6 user_timeout=0"
    activated "inetd connection (systemd-socket-activate --inetd --accept) gets kashim's values" \
        "$kashim_values listen_fds=-" --inetd --accept -- 0
    activated "Accept=yes connection at fd 3 (systemd-socket-activate --accept) gets kashim's values" \
        "$kashim_values listen_fds=1" --accept -- 3
    activated "KASHIM_IDLE reaches an activated connection" \
        "keepalive=1 idle=25 intvl=10" --accept -E KASHIM_IDLE=25 -- 3
    activated "a server that sets its own keepalive on the inherited connection keeps it" \
        "keepalive=1 idle=300" --accept -- 3 own
    activated "LISTEN_PID of another process: fd 3 is not touched" \
        "keepalive=0 idle=7200" --accept -E LISTEN_PID=1 -- 3
fi
