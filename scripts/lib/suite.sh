# shellcheck shell=bash
# Helpers shared by scripts/suites/*.sh and c-tests/run.sh. Source it; it defines pass, fail, skip,
# verdict, run, out, err, check, without_kashim_env, stop_with_children, scratch_work_dir and
# free_port.
# Result protocol (read by scripts/test.sh): PASS <name> | FAIL <name>: <why> | SKIP <name>: <why>
LIBKASHIM_ROOT=${LIBKASHIM_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LIBKASHIM=${LIBKASHIM:-$LIBKASHIM_ROOT/target/release/libkashim.so}
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: ${2:-failed}"; }
# verdict NAME WHY: PASS when WHY is empty, else FAIL with WHY.
verdict() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }

# run ARGS...: runs ARGS with a time limit ($run_limit seconds, 60 unless the suite sets it);
# stdout to $work/out, stderr to $work/err (scratch_work_dir makes $work), status in rc.
run() {
    timeout "${run_limit:-60}" "$@" >"$work/out" 2>"$work/err" </dev/null
    rc=$?
}
out() { cat "$work/out"; }
err() { cat "$work/err"; }
skip() { echo "SKIP $1: ${2:-skipped}"; }
# check NAME CMD...: PASS if CMD exits 0, else FAIL with its last output line.
check() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"; fi
}
# without_kashim_env CMD...: runs CMD with every KASHIM_* variable of the caller's environment
# removed, so a test sees only the settings it passes itself.
without_kashim_env() {
    # shellcheck disable=SC2046 # one "-u NAME" word pair per variable
    env $(env | sed -n 's/^\(KASHIM_[^=]*\)=.*/-u \1/p') "$@"
}
# stop_with_children PID...: TERM to each PID and its children. A shell function started with & (as
# `without_kashim_env CMD &`) runs in a subshell, and a plain kill of that subshell leaves CMD
# running; the children go first, before they could be reparented.
stop_with_children() {
    local p
    for p in "$@"; do
        pkill -TERM -P "$p" 2>/dev/null
        kill "$p" 2>/dev/null
    done
}
# scratch_work_dir: sets $work, a fresh directory of mode 755 (tests run programs from it as
# nobody), and $pids, processes the suite started; when the suite ends or is interrupted, every
# process in $pids is killed and $work removed.
scratch_work_dir() {
    work=$(mktemp -d)
    chmod 755 "$work"
    pids=()
    trap _scratch_cleanup EXIT
    trap 'exit 130' INT TERM
}
# shellcheck disable=SC2317 # called by the trap
_scratch_cleanup() {
    stop_with_children "${pids[@]}"
    rm -rf -- "$work"
}
# free_port: prints a TCP port that nothing on 127.0.0.1 holds now, for a test that must name its
# port before the program under test binds it. Below Linux's ephemeral range (32768-60999), where
# the suites before leave thousands of client ports behind.
free_port() {
    local port _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        port=$((10000 + RANDOM % 20000))
        if python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}
