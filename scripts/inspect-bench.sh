#!/usr/bin/env bash
# inspect-bench.sh [N]: how long `kashim --inspect PID` and the whole-host `kashim --inspect` take
# for one process holding N loopback TCP connections (default 10000: N/2 connected pairs). Prints
# the median of 5 runs of each; the numbers in docs/attach.md come from here. Stops by itself and
# leaves nothing behind.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10000}
kashim=${KASHIM:-$root/target/release/kashim}
work=$(mktemp -d)
holder=""
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$work/hold.py" <<'EOF'
# hold.py N: opens N/2 connected loopback pairs, prints "ready", holds them until stdin closes.
import resource, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = n + 100
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1024)
keep = []
for _ in range(n // 2):
    c = socket.socket(); c.connect(l.getsockname()); a, _ = l.accept()
    keep += [c, a]
print("ready", flush=True)
sys.stdin.read()
EOF
# OTHER_NETNS=1 (root): the holder in a network namespace of its own, read through
# /proc/PID/net/tcp; otherwise it shares kashim's and each socket is looked up with sock_diag.
prefix=()
if [ "${OTHER_NETNS:-0}" = 1 ]; then
    # shellcheck disable=SC2016 # expanded by sh
    prefix=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh)
fi
mkfifo "$work/in" "$work/out"
"${prefix[@]}" python3 "$work/hold.py" "$n" <"$work/in" >"$work/out" &
holder=$!
exec 3>"$work/in" 4<"$work/out"
read -r -t 120 line <&4 || { echo "inspect-bench: the holder did not start" >&2; exit 1; }
[ "$line" = ready ] || exit 1
pid=$(pgrep -n -f "$work/hold.py")

# median_ms CMD...: median wall time of 5 runs, in milliseconds.
median_ms() {
    local t0 times=()
    for _ in 1 2 3 4 5; do
        t0=$EPOCHREALTIME
        "$@" >"$work/report" 2>&1
        times+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
one=$(median_ms "$kashim" --inspect "$pid")
summary=$(tail -n 1 "$work/report")
host=$(median_ms "$kashim" --inspect)
host_summary=$(tail -n 1 "$work/report")
echo "kashim --inspect PID, $n connections: ${one} ms ($summary)"
echo "kashim --inspect (whole host): ${host} ms ($host_summary)"
