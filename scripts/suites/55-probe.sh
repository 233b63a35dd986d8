#!/usr/bin/env bash
# Suite 55-probe: `kashim --probe HOST:PORT` (issue 20) against real servers nobody here wrote,
# held idle on loopback: sshd (LoginGraceTime) and Redis (its `timeout` setting, and none). The
# results are checked against the servers' configured timeouts. Also: bad input (one line,
# exit 2), a refused or unreachable target (exit 1), Ctrl-C (every connection closed), and that
# the probe sends no byte. The firewall paths are rows p1-p5 of 50-firewall-lab.
# Needs python3, redis-server and redis-cli; sshd and root (a mount namespace for sshd's /run).
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

export -n LIBKASHIM_ROOT LIBKASHIM TEST_KASHIM_BIN
# TEST_KASHIM_BIN: another kashim to run these tests against (e.g. an older build).
KB=${TEST_KASHIM_BIN:-$LIBKASHIM_ROOT/target/release/kashim}
scratch_work_dir

if [ ! -x "$KB" ]; then
    fail probe-build "$KB is not built"
    exit 0
fi

# Commands run by `run` get 90 s: a probe of a real server takes a while.
run_limit=90
# one_line NAME STATUS PREFIX: kashim exited STATUS with exactly one stderr line starting PREFIX.
one_line() {
    local why=""
    [ "$rc" = "$2" ] || why="exit $rc, expected $2"
    [ "$(wc -l <"$work/err")" = 1 ] || why="$why; $(wc -l <"$work/err") lines on stderr"
    [[ $(cat "$work/err") == "kashim: $3"* ]] || why="$why; stderr: $(head -c 300 "$work/err")"
    [ -s "$work/out" ] && why="$why; stdout not empty"
    verdict "$1" "${why#; }"
}
# field JSON-FILE PYTHON-EXPR: evaluates EXPR with r = the report; a tuple prints space-separated.
field() {
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)' "$1" "$2" 2>/dev/null
}

# --- Bad input: one line, exit 2 ------------------------------------------------------------
run "$KB" --probe db.example.com
one_line probe-target-without-port 2 '--probe "db.example.com" has no port (accepted: HOST:PORT'
run "$KB" --probe db.example.com:0
one_line probe-port-out-of-range 2 '--probe "db.example.com:0" has a port out of range (accepted:'
run "$KB" --probe ::1:22
one_line probe-v6-without-brackets 2 '--probe "::1:22" is an IPv6 address without brackets'
run "$KB" --probe 127.0.0.1:22 --max 1s
one_line probe-max-out-of-range 2 '--max "1s" is out of range (accepted: whole seconds from 2s to 32767s'
run "$KB" --probe 127.0.0.1:22 --max 1500ms
one_line probe-max-not-whole-seconds 2 '--max "1500ms" is not a whole number of seconds'
run "$KB" --probe no-such-host.invalid:22
if [ "$rc" = 1 ] && grep -q "cannot look up" "$work/err"; then
    skip probe-unknown-host "no resolver answers here: $(cat "$work/err")"
else
    one_line probe-unknown-host 2 '--probe no-such-host.invalid:22: unknown host "no-such-host.invalid"'
fi

# --- A refused or unreachable target: one line, exit 1 ---------------------------------------
port=$(free_port)
run "$KB" --probe "127.0.0.1:$port" --max 4
one_line probe-refused 1 "--probe 127.0.0.1:$port: cannot connect to 127.0.0.1:$port: connection refused"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null; then
    # A namespace of its own with only loopback: no route to anywhere else.
    # shellcheck disable=SC2016 # expanded by sh
    run unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$KB" --probe 192.0.2.1:22 --max 4
    one_line probe-unreachable 1 "--probe 192.0.2.1:22: cannot connect to 192.0.2.1:22: network is unreachable"
else
    skip probe-unreachable "needs root, unshare and ip"
fi

# --- Real servers ---------------------------------------------------------------------------
# within VALUE LOW HIGH: LOW <= VALUE <= HIGH.
within() { python3 -c 'import sys; v, lo, hi = map(float, sys.argv[1:]); sys.exit(not lo <= v <= hi)' "$@" 2>/dev/null; }

# sshd with LoginGraceTime 3: it closes every connection that has not logged in after 3 s. In
# a mount and network namespace of its own (its privilege separation directory lives in /run).
if ! command -v sshd >/dev/null || ! command -v ssh-keygen >/dev/null; then
    skip probe-sshd-login-grace-time "sshd not installed (install openssh-server)"
elif [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
    skip probe-sshd-login-grace-time "needs root and unshare (sshd's /run in a mount namespace)"
else
    ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
    # shellcheck disable=SC2016 # expanded by the inner sh
    run unshare -n -m sh -c '
        mount -t tmpfs kashim-probe /run && mkdir /run/sshd && ip link set lo up || exit 99
        "$(command -v sshd)" -D -e -f /dev/null -o Port=2222 -o ListenAddress=127.0.0.1 \
            -o HostKey="$1" -o LoginGraceTime=3 -o PidFile=none -o UsePAM=no 2>"$2" &
        sshd=$!
        i=0; until ss -Hltn "( sport = :2222 )" | grep -q . || [ $i = 50 ]; do sleep 0.1; i=$((i + 1)); done
        "$3" --probe 127.0.0.1:2222 --max 10 --json; status=$?
        kill "$sshd"; exit $status' sh "$work/host_key" "$work/sshd.log" "$KB"
    r=$work/out why=""
    [ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
    [ "$(field "$r" 'r["kind"], r["expired_by"], r["keepalive_holds"]')" = "far_end fin False" ] ||
        why="$why; kind/expired_by/keepalive_holds: $(field "$r" 'r["kind"], r["expired_by"], r["keepalive_holds"]')"
    closed=$(field "$r" 'r["closed_by_server_after_s"]')
    within "$closed" 2.5 4 || why="$why; closed_by_server_after_s $closed, LoginGraceTime is 3 s"
    # sshd's banner arrives first: the probe reads it and never answers.
    [ "$(field "$r" 'min(c["bytes_received"] for c in r["connections"]) > 0')" = True ] ||
        why="$why; the SSH banner was not received on every connection"
    [ "$(field "$r" 'r["recommended_idle_s"]')" = None ] || why="$why; recommended a kashim line"
    verdict probe-sshd-login-grace-time "${why#; }"
fi

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    for t in probe-redis-timeout probe-redis-holds probe-sends-no-data probe-ipv6 probe-host-name \
        probe-far-end-keepalive probe-text-report probe-ctrl-c; do
        skip "$t" "redis-server and redis-cli not installed (install redis-server)"
    done
    exit 0
fi
# redis PORT TIMEOUT [ARGS...]: starts Redis on 127.0.0.1:PORT and [::1]:PORT closing clients
# idle for TIMEOUT s (0: never).
redis() {
    local port=$1 idle=$2
    shift 2
    timeout 120 redis-server --bind 127.0.0.1 -::1 --port "$port" --timeout "$idle" --save '' \
        --appendonly no --dir "$work" "$@" >"$work/redis-$port.log" 2>&1 &
    pids+=($!)
    local i=0
    until redis-cli -p "$port" ping >/dev/null 2>&1 || [ $i = 50 ]; do sleep 0.1; i=$((i + 1)); done
}
net_in() { redis-cli -p "$1" info stats | sed -n 's/^total_net_input_bytes:\([0-9]*\).*/\1/p'; }

# Redis `timeout 4`: it closes clients idle for more than 4 s (checked about once a second).
p_timeout=$(free_port)
redis "$p_timeout" 4
run "$KB" --probe "127.0.0.1:$p_timeout" --max 20 --json
r=$work/out why=""
[ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
[ "$(field "$r" 'r["kind"], r["keepalive_holds"]')" = "far_end False" ] ||
    why="$why; kind/keepalive_holds: $(field "$r" 'r["kind"], r["keepalive_holds"]')"
closed=$(field "$r" 'r["closed_by_server_after_s"]')
within "$closed" 4 6.5 || why="$why; closed_by_server_after_s $closed, Redis timeout is 4 s"
verdict probe-redis-timeout "${why#; }"

# Redis without a timeout holds idle connections: no timeout up to --max, every probe answered,
# and the probe's connections carried no byte to Redis (its input byte counter moves only by the
# redis-cli queries around the probe).
p_holds=$(free_port)
redis "$p_holds" 0
a=$(net_in "$p_holds"); b=$(net_in "$p_holds")
run "$KB" --probe "127.0.0.1:$p_holds" --max 4 --json
probe_rc=$rc
c=$(net_in "$p_holds")
r=$work/out why=""
[ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
[ "$(field "$r" 'r["kind"], r["idle_timeout"], r["recommended_idle_s"]')" = "no_timeout None 2" ] ||
    why="$why; kind/idle_timeout/recommended_idle_s: $(field "$r" 'r["kind"], r["idle_timeout"], r["recommended_idle_s"]')"
[ "$(field "$r" 'all(c["first_probe"] == "answered" for c in r["connections"])')" = True ] ||
    why="$why; not every first probe was answered"
[ -s "$work/err" ] && why="$why; --json printed progress with stderr not a terminal: $(head -n 1 "$work/err")"
# Redis's own keepalive (tcp-keepalive 300) does not fire within 4 s.
[ "$(field "$r" 'r["far_end_keepalive_after_s"]')" = None ] ||
    why="$why; far_end_keepalive_after_s $(field "$r" 'r["far_end_keepalive_after_s"]')"
verdict probe-redis-holds "${why#; }"
if [ "$probe_rc" != 0 ]; then
    fail probe-sends-no-data "the probe did not run (exit $probe_rc)"
elif [ -n "$a" ] && [ $((c - b)) = $((b - a)) ]; then
    pass probe-sends-no-data
else
    fail probe-sends-no-data "Redis read $((c - b)) bytes around the probe, one query is $((b - a))"
fi

# A bracketed IPv6 address, and a host name.
run "$KB" --probe "[::1]:$p_holds" --max 2 --json
why=""
[ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
[ "$(field "$work/out" 'r["target"], r["address"], r["kind"]')" = "[::1]:$p_holds [::1]:$p_holds no_timeout" ] ||
    why="$why; target/address/kind: $(field "$work/out" 'r["target"], r["address"], r["kind"]')"
if [ "$rc" = 1 ] && grep -q "cannot assign\|not available\|unreachable" "$work/err"; then
    skip probe-ipv6 "no IPv6 loopback here: $(cat "$work/err")"
else
    verdict probe-ipv6 "${why#; }"
fi
run "$KB" --probe "localhost:$p_holds" --max 2 --json
why=""
[ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
addr=$(field "$work/out" 'r["address"]')
case "$addr" in
    "127.0.0.1:$p_holds" | "[::1]:$p_holds") ;;
    *) why="$why; address $addr" ;;
esac
verdict probe-host-name "${why#; }"

# Redis with its own keepalive every 3 s (tcp-keepalive 3): its probes are seen and reported.
p_ka=$(free_port)
redis "$p_ka" 0 --tcp-keepalive 3
run "$KB" --probe "127.0.0.1:$p_ka" --max 4 --json
why=""
[ "$rc" = 0 ] || why="exit $rc: $(tail -n 1 "$work/err")"
after=$(field "$work/out" 'r["far_end_keepalive_after_s"]')
within "$after" 2.9 4.5 || why="$why; far_end_keepalive_after_s $after, Redis tcp-keepalive is 3 s"
verdict probe-far-end-keepalive "${why#; }"

# The text report and the progress lines.
run "$KB" --probe "127.0.0.1:$p_holds" --max 2
why=""
[ "$rc" = 0 ] || why="exit $rc"
for want in "^kashim --probe 127.0.0.1:$p_holds" "^path: *no idle timeout up to 2 s" \
    "^keepalive: " "^recommend: *kashim --idle 1s --interval 1s --count 6 -- COMMAND"; do
    grep -qE "$want" "$work/out" || why="$why; no line matching $want"
done
grep -q "^kashim: probing 127.0.0.1:$p_holds" "$work/err" || why="$why; no progress on stderr"
verdict probe-text-report "${why#; }"

# Ctrl-C: exit 130 with one line, and Redis holds none of the probe's connections afterwards.
timeout 60 "$KB" --probe "127.0.0.1:$p_holds" --max 30 >"$work/out" 2>"$work/err" &
probe=$!
sleep 2.5
held=$(ss -Htn state established "( dport = :$p_holds )" | wc -l)
kill -INT "$probe" 2>/dev/null
wait "$probe"; rc=$?
sleep 0.3
left=$(ss -Htn state established "( dport = :$p_holds )" | wc -l)
why=""
[ "$rc" = 130 ] || why="exit $rc, expected 130"
[ "$held" -ge 5 ] || why="$why; only $held connections open before Ctrl-C"
[ "$left" = 0 ] || why="$why; $left connections still open after it"
tail -n 1 "$work/err" | grep -q "^kashim: --probe 127.0.0.1:$p_holds: interrupted after .*; closed all" ||
    why="$why; last stderr line: $(tail -n 1 "$work/err")"
verdict probe-ctrl-c "${why#; }"
