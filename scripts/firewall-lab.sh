#!/usr/bin/env bash
# firewall-lab.sh: recreate the seed's broken connection behind a real stateful firewall
# and show that kashim fixes it. See --help.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
LAB="$HERE/lab"
LIBKASHIM=${LIBKASHIM:-$ROOT/target/release/libkashim.so}
LAB_KASHIM=${LAB_KASHIM:-$ROOT/target/release/kashim}   # the kashim command, for --attach (7a/7b) and --ebpf (8a)

# Timers: small enough that the whole lab runs in ~15 s, far enough apart that scheduling
# noise on a busy 2-core machine cannot flip a result.
CT_TIMEOUT=2        # firewall forgets an idle connection after this many seconds
QUIET=4             # the controller's quiet spell between two tasks (> CT_TIMEOUT)
K_IDLE=1 K_INTVL=1 K_COUNT=3   # kashim timers: probes every second, dead after ~4 s
USER_TIMEOUT=3      # KASHIM_USER_TIMEOUT for scenario 5a, seconds
GIVE_UP=8           # the lab stops a recv that hangs after this long
DEAD_AFTER=$((K_IDLE + K_INTVL * K_COUNT))
# kashim --probe rows (p1-p5): the controller's own host firewall forgets p1's and p2's
# connections after PROBE_CT s; HAProxy's and sshd's own idle limits are PROBE_SERVER_IDLE s.
PROBE_CT=5
PROBE_SERVER_IDLE=5
PROBE_MAX=20        # --max where there is a timeout to find
PROBE_NONE_MAX=8    # --max on the path without one

usage() {
    cat <<EOF
Usage: sudo scripts/firewall-lab.sh [--without-kashim] [--keep-logs] [--report FILE]

Recreates the problem kashim solves, with a real firewall, and shows the fix.

Three network namespaces are made, none visible outside the lab:
  crawler 10.77.1.2  <->  firewall  <->  controller 10.77.2.2
The firewall is nftables with connection tracking: established connections pass, but a
connection idle for more than ${CT_TIMEOUT} s is forgotten, and its next packet is answered with
"reject with tcp reset", as the seed's lab firewall did. Python stand-ins for the seed's
MainControllerServer.py and crawler (no keepalive code) talk through it: the controller
sends a task, waits for the ack with recv(), stays quiet for ${QUIET} s, then sends the next.

Scenarios, all run side by side (each on its own port):
  1   no kashim: the controller dies with the seed's traceback,
      ConnectionResetError: [Errno 104] Connection reset by peer
  2a  kashim (LD_PRELOAD) on the crawler only          -> connection survives
  2b  kashim on the controller only (accepted sockets) -> survives
  2c  kashim on both                                   -> survives
  3   listener made by a parent without kashim, the controller under kashim only
      accepts (socket activation)                      -> survives
  4a  the crawler vanishes (the lab drops its packets); kashim on the controller:
      recv fails with ETIMEDOUT after ~idle + interval x count = ${DEAD_AFTER} s
  4b  the same without kashim: recv still waiting when the lab gives up (${GIVE_UP} s)
  5a  the crawler vanishes while a task is unacknowledged; KASHIM_USER_TIMEOUT=${USER_TIMEOUT}s:
      recv fails within ${USER_TIMEOUT} s (the kernel alone retransmits for ~15 min)
  5b  the same with kashim but no user timeout: still waiting (keepalive never
      probes while data is unacknowledged)
  6a  a Java crawler under kashim (dual-stack AF_INET6 socket) -> survives
  6b  a Node.js crawler under kashim                          -> survives
  7a  the controller started WITHOUT kashim; once the crawler is connected (the controller
      pings it until then), kashim --attach on the controller's pid, run from the firewall's
      namespace as from a host, before the first task and the quiet spell -> survives
  7b  the same, then the crawler vanishes: recv fails with ETIMEDOUT after ~${DEAD_AFTER} s
  8a  a statically linked C crawler under kashim --ebpf       -> survives
  8b  the same crawler with plain LD_PRELOAD: a static binary ignores it -> reset
  9   kashim on the controller with KASHIM_ONLY=10.77.1.2 (the crawler): survives, and
      ss shows a keepalive timer on that connection but none on a second connection the
      controller's namespace opens to an address KASHIM_ONLY does not name
  p1  kashim --probe from the crawler to Redis on the controller, whose own host firewall
      (nftables, conntrack timeout ${PROBE_CT} s) forgets idle connections and resets them: a
      bracket of at most 2 s around ${PROBE_CT} s, "reset", keepalive holds, a recommended idle
      below it (the lab's firewall passes the probe rows' ports without state)
  p2  the same, but the firewall drops the forgotten connection's packets: "silence"
  p3  the same through a port the firewall passes without state (--max ${PROBE_NONE_MAX}s):
      no idle timeout up to --max
  p4  HAProxy on the controller (timeout client ${PROBE_SERVER_IDLE}s) in front of Redis: it answers
      keepalive probes itself and closes on data idleness: keepalive does not hold
  p5  sshd on the controller (LoginGraceTime ${PROBE_SERVER_IDLE}): closed by the server after ~${PROBE_SERVER_IDLE} s
kashim timers used: KASHIM_IDLE=${K_IDLE} KASHIM_INTERVAL=${K_INTVL} KASHIM_COUNT=${K_COUNT}.

Output: one row per scenario: ✓ or ✗ (observed vs expected), what happened, and when.
The RST in scenario 1 is checked to come from the firewall's reject rule (nft counter).
Exit status: 0 all scenarios as expected, 1 some did not, 77 the lab could not run
(each scenario is then printed as "skipped: <reason>"), 2 bad usage.

Options:
  --without-kashim  run every scenario without LD_PRELOAD, expectations unchanged:
                    every row that needs kashim must then show ✗ (proves the lab can fail);
                    the --probe rows (no LD_PRELOAD involved) are skipped
  --keep-logs       keep the programs' logs and print where they are
  --report FILE     also write "<id> pass|fail|skip <text>" lines to FILE (for test suites)
  --list            list the scenarios: id|title|expected|needs|outcome without kashim
  -h, --help        this text

Needs: root (namespaces, nftables), nft (nftables), ip (iproute2), unshare and timeout
(util-linux, coreutils), python3, libkashim.so (\$LIBKASHIM, default
target/release/libkashim.so: cargo build --release); java 11+ and node for 6a/6b; the kashim
command (\$LAB_KASHIM, default target/release/kashim) and pgrep (procps) for 7a/7b; for 8a/8b
gcc with static glibc, and for 8a the kashim command built with eBPF support; for p1-p5 the
kashim command, redis-server, haproxy (p4) and sshd with ssh-keygen (p5, openssh-server).
Nothing leaves the lab's namespaces; everything stops by itself and is cleaned up on
exit or Ctrl-C.
EOF
}

# id|title|expected|needs (kashim, java, node...)|outcome without kashim (differs, same, or none
# for rows the library plays no part in): a "differs" row must show ✗ in a --without-kashim
# run, or it proves nothing.
SCENARIOS=(
    "1|no kashim|reset (Errno 104)||same"
    "2a|kashim on the crawler (client) only|survives|kashim|differs"
    "2b|kashim on the controller (server) only|survives|kashim|differs"
    "2c|kashim on both ends|survives|kashim|differs"
    "3|inherited listener, kashim only accepts|survives|kashim|differs"
    "4a|peer vanishes, kashim on controller|ETIMEDOUT ~${DEAD_AFTER} s|kashim|differs"
    "4b|peer vanishes, no kashim|hangs||same"
    "5a|vanishes, task unacked, user timeout|ETIMEDOUT ~${USER_TIMEOUT} s|kashim|differs"
    "5b|vanishes, task unacked, no user timeout|hangs|kashim|same"
    "6a|Java crawler under kashim|survives|kashim java|differs"
    "6b|Node.js crawler under kashim|survives|kashim node|differs"
    "7a|kashim --attach on a running controller|survives|kashim attach|differs"
    "7b|peer vanishes after --attach|ETIMEDOUT ~${DEAD_AFTER} s|kashim attach|differs"
    "7c|sshd-style keepalive, then --attach|survives|kashim attach|differs"
    "8a|static crawler under kashim --ebpf|survives|ebpf static|differs"
    "8b|static crawler, LD_PRELOAD only|reset (Errno 104)|kashim static|same"
    "9|KASHIM_ONLY names only the crawler|survives|kashim|differs"
    "p1|probe: firewall forgets, resets|~${PROBE_CT} s, reset, holds|probe redis|none"
    "p2|probe: firewall forgets, drops|~${PROBE_CT} s, silence|probe redis|none"
    "p3|probe: no idle timeout on the path|none up to ${PROBE_NONE_MAX} s|probe redis|none"
    "p4|probe: HAProxy closes idle clients|does not hold|probe redis haproxy|none"
    "p5|probe: sshd LoginGraceTime|server, ~${PROBE_SERVER_IDLE} s|probe sshd|none"
)

field() { local f; IFS='|' read -r -a f <<<"$1"; printf '%s' "${f[$2]:-}"; }   # field LINE N

without=0 keep=0 report='' inside=0
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --without-kashim) without=1 ;;
        --keep-logs) keep=1 ;;
        --report) [ $# -ge 2 ] || { echo "--report needs a file" >&2; exit 2; }; report=$2; shift ;;
        --report=*) report=${1#--report=} ;;
        --list) printf '%s\n' "${SCENARIOS[@]}"; exit 0 ;;   # for test suites
        --inside) inside=1 ;;   # internal: we are already in the lab's namespaces
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Table row: mark, id, title, expected, observed. Only ASCII goes into padded columns
# (printf pads by bytes).
row() { printf ' %s %-3s %-40s %-19s %s\n' "$1" "$2" "$3" "$4" "$5"; }

report_line() { [ -n "$report" ] && printf '%s %s %s\n' "$1" "$2" "$3" >>"$report"; return 0; }

# Every scenario skipped for one reason: print the rows, exit 77.
skip_all() {
    local s id
    echo "kashim firewall lab: skipped: $1"
    for s in "${SCENARIOS[@]}"; do
        id=$(field "$s" 0)
        row "-" "$id" "$(field "$s" 1)" "$(field "$s" 2)" "skipped: $1"
        report_line "$id" skip "$1"
    done
    exit 77
}

# ---------------------------------------------------------------------------------------
# Outside: check what the lab needs, then re-run this script inside fresh namespaces.
if [ "$inside" = 0 ]; then
    [ -n "$report" ] && : >"$report"
    [ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces and nftables)"
    for tool in nft:nftables ip:iproute2 unshare:util-linux timeout:coreutils python3:python3; do
        command -v "${tool%%:*}" >/dev/null 2>&1 || skip_all "${tool%%:*} not found (install ${tool#*:})"
    done
    unshare --net --mount --pid --fork true 2>/dev/null ||
        skip_all "cannot create namespaces here (unshare --net --mount --pid failed)"
    # A new pid namespace: when the lab ends (even by SIGKILL, via --kill-child) the kernel
    # ends every program it started and the namespaces vanish with them.
    args=(--inside)
    [ "$without" = 1 ] && args+=(--without-kashim)
    [ "$keep" = 1 ] && args+=(--keep-logs)
    [ -n "$report" ] && args+=(--report "$(cd "$(dirname "$report")" && pwd)/$(basename "$report")")
    exec unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
        -- bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

# ---------------------------------------------------------------------------------------
# Inside: this shell is pid 1 of the lab and lives in the firewall's network namespace.
set -e
# A machine that cannot build the lab (no conntrack module in a container, an old ip...)
# is a missing dependency, not a kashim failure: every scenario is skipped with the reason.
trap 'skip_all "lab setup failed: $BASH_COMMAND (error above)"' ERR
T_START=$EPOCHREALTIME
PY=$(python3 -c 'import sys; print(sys.executable)')   # skip wrappers such as pyenv shims

# The named network namespaces are bind mounts under /run/netns; a private tmpfs on /run
# keeps them out of the host's view and lets them vanish with the lab's mount namespace.
# The logs live there too (unless kept), so even a SIGKILLed lab leaves nothing behind.
mount -t tmpfs -o size=16m,mode=755 kashim-lab /run
mkdir -p /run/netns
if [ "$keep" = 1 ]; then WORK=$(mktemp -d /tmp/kashim-lab.XXXXXX); else WORK=/run/kashim-lab; mkdir "$WORK"; fi

cleanup() {
    trap - EXIT INT TERM
    local pid
    # Only the programs this lab started (their pids are recorded when they start).
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$WORK/pids"
    fi
    if [ "$keep" = 1 ]; then echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

ip link set lo up
ip netns add crawler
ip netns add controller
# Separate hosts on veth links, so the firewall sees real forwarded traffic. (On loopback
# conntrack sees each packet once, at output, which is not the seed's situation.)
ip link add fw-crawler type veth peer name eth0 netns crawler
ip link add fw-controller type veth peer name eth0 netns controller
ip addr add 10.77.1.1/24 dev fw-crawler
ip addr add 10.77.2.1/24 dev fw-controller
ip link set fw-crawler up
ip link set fw-controller up
for ns in crawler:1 controller:2; do
    ip -n "${ns%:*}" link set lo up
    ip -n "${ns%:*}" addr add "10.77.${ns#*:}.2/24" dev eth0
    ip -n "${ns%:*}" link set eth0 up
    ip -n "${ns%:*}" route add default via "10.77.${ns#*:}.1"
done
sysctl -qw net.ipv4.ip_forward=1

port_of() { echo $((7100 + $1)); }   # scenario index -> controller port
cname() { echo "c${1//[^0-9a-z]/}"; } # scenario id -> nft counter name suffix

# The firewall. Established traffic passes; a new connection must start with a SYN;
# everything else (notably the next packet of a connection conntrack has forgotten) is
# answered with a TCP reset. Each scenario's resets are counted separately, so the lab can
# tell that an RST came from this rule and not from the peer.
# The probe rows' ports pass the middle firewall without state: p1 and p2 meet the controller's
# own firewall (below), p3-p5 no firewall at all.
probe_ports() {   # probe_ports ID...: the ports of those scenarios, comma-separated
    local i out=()
    for i in "${!SCENARIOS[@]}"; do
        [[ " $* " == *" $(field "${SCENARIOS[$i]}" 0) "* ]] && out+=("$(port_of "$i")")
    done
    local IFS=,; echo "${out[*]}"
}
{
    echo "table inet kashimlab {"
    i=0
    for s in "${SCENARIOS[@]}"; do
        c=$(cname "$(field "$s" 0)")
        echo "  counter rst_$c { }"
        echo "  counter drop_$c { }"
    done
    echo "  chain forward {"
    echo "    type filter hook forward priority filter; policy drop;"
    echo "    tcp dport { $(probe_ports p1 p2 p3 p4 p5) } accept"
    echo "    tcp sport { $(probe_ports p1 p2 p3 p4 p5) } accept"
    echo "    ct state established,related accept"
    echo "    tcp flags & (fin | syn | rst | ack) == syn ct state new accept"
    for s in "${SCENARIOS[@]}"; do
        c=$(cname "$(field "$s" 0)"); p=$(port_of $i); i=$((i + 1))
        echo "    tcp dport $p counter name rst_$c reject with tcp reset"
        echo "    tcp sport $p counter name rst_$c reject with tcp reset"
    done
    echo "    meta l4proto tcp reject with tcp reset"
    echo "  }"
    echo "}"
} >"$WORK/ruleset.nft"
nft -f "$WORK/ruleset.nft"
# After the ruleset: its ct expressions are what load conntrack into this namespace.
# No mid-stream pickup: a forgotten connection must not be re-learnt from its next packet.
sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=$CT_TIMEOUT
sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
[ "$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established)" = "$CT_TIMEOUT" ]

# The controller's host firewall for p1 (forgotten connections reset) and p2 (dropped), with
# its own conntrack timeout: conntrack settings belong to each network namespace.
{
    echo "table inet probehost {"
    echo "  chain input {"
    echo "    type filter hook input priority filter; policy accept;"
    echo "    tcp dport != { $(probe_ports p1 p2) } accept"
    echo "    ct state established,related accept"
    echo "    tcp flags & (fin | syn | rst | ack) == syn ct state new accept"
    echo "    tcp dport $(probe_ports p1) reject with tcp reset"
    echo "    tcp dport $(probe_ports p2) drop"
    echo "  }"
    echo "}"
} >"$WORK/probehost.nft"
ip netns exec controller nft -f "$WORK/probehost.nft"
ip netns exec controller sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_established=$PROBE_CT
ip netns exec controller sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0

counter() { nft list counter inet kashimlab "$1" | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }

# Make the crawler of the scenario on port $1 vanish: drop every packet of its connection.
vanish() {
    nft insert rule inet kashimlab forward tcp dport "$1" counter name "drop_$2" drop
    nft insert rule inet kashimlab forward tcp sport "$1" counter name "drop_$2" drop
}

lib_env() {   # env(1) arguments that put a program under kashim
    printf '%s\n' "LD_PRELOAD=$LIBKASHIM" "KASHIM_IDLE=$K_IDLE" "KASHIM_INTERVAL=$K_INTVL" \
        "KASHIM_COUNT=$K_COUNT" "KASHIM_LOG=info"
}

# start NS LOG LIMIT SIGNAL KASHIM(yes|no) CMD...: run CMD in namespace NS in the
# background, stopped with SIGNAL after LIMIT seconds; sets $started to its pid.
start() {
    local ns=$1 log=$2 limit=$3 sig=$4 k=$5 envs=()
    shift 5
    if [ "$k" = yes ] && [ "$without" = 0 ]; then mapfile -t envs < <(lib_env); fi
    if [ "$k" = ebpf ] && [ "$without" = 0 ]; then
        # kashim makes its cgroup from here: `ip netns exec` remounts /sys, cgroup v2 with it.
        timeout -s "$sig" -k 2 "$limit" "$LAB_KASHIM" --ebpf --idle "${K_IDLE}s" \
            --interval "${K_INTVL}s" --count "$K_COUNT" -- \
            ip netns exec "$ns" env -u LD_PRELOAD "$@" >"$log" 2>&1 &
    else
        ip netns exec "$ns" timeout -s "$sig" -k 2 "$limit" \
            env -u LD_PRELOAD ${envs[@]+"${envs[@]}"} "$@" >"$log" 2>&1 &
    fi
    started=$!
    echo "$started" >>"$WORK/pids"
}

# wait_line FILE REGEX SECONDS: wait until FILE has a line matching REGEX.
wait_line() {
    local n=$(($3 * 20))
    while [ $n -gt 0 ]; do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.05; n=$((n - 1))
    done
    return 1
}

# Seconds a failed/interrupted recv waited, from the controller's log.
waited() { sed -n 's/.* after \([0-9.]*\) s waiting for ack.*/\1/p' "$1" | tail -n 1; }

# run_scenario INDEX: runs one scenario and writes "pass|fail<TAB>observed" to WORK/ID.result.
run_scenario() {
    local i=$1 s=${SCENARIOS[$1]} id c p clog wlog cpid wpid status=0 k_ctl=no k_crawl=no
    local ctl_args crawl_cmd extra=() res obs vanished=0
    id=$(field "$s" 0); c=$(cname "$id"); p=$(port_of "$i")
    clog="$WORK/$id.controller.log"; wlog="$WORK/$id.crawler.log"
    ctl_args=("$PY" -u "$LAB/controller.py" --port "$p")
    crawl_cmd=("$PY" -u "$LAB/crawler.py" 10.77.2.2 "$p")
    case "$id" in 7a|7b|7c) ctl_args+=(--start-after "$WORK/$id.attached") ;; esac
    # sshd's TCPKeepAlive: SO_KEEPALIVE on, the kernel's 7200 s timers, which no firewall outlasts.
    [ "$id" = 7c ] && ctl_args+=(--keepalive-default)
    case "$id" in
        2a|6a|6b|8b) k_crawl=yes ;;
        8a) k_crawl=ebpf ;;
        2b|4a|5a|5b|9) k_ctl=yes ;;
        2c) k_ctl=yes; k_crawl=yes ;;
    esac
    case "$id" in
        4a|4b|7b) ctl_args+=(--tasks 1); crawl_cmd+=(--work 60) ;;
        5a|5b) ctl_args+=(--tasks 2 --quiet 0 --quiet-until "$WORK/$id.vanished") ;;
        *) ctl_args+=(--tasks 2 --quiet "$QUIET") ;;
    esac
    case "$id" in
        6a) crawl_cmd=(java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
                       -cp "$WORK/java" Crawler 10.77.2.2 "$p") ;;
        6b) crawl_cmd=(node "$LAB/crawler.js" 10.77.2.2 "$p") ;;
        8a|8b) crawl_cmd=("$WORK/crawler-static" 10.77.2.2 "$p") ;;
    esac

    # The controller: SIGINT after GIVE_UP makes a hanging recv say how long it waited.
    if [ "$id" = 3 ]; then
        # The parent runs without kashim; only the exec'd controller gets LD_PRELOAD.
        local child=()
        if [ "$without" = 0 ]; then mapfile -t child < <(lib_env | sed 's/^/--child-env=/'); fi
        start controller "$clog" 30 INT no "$PY" -u "$LAB/socket_parent.py" --port "$p" \
            ${child[@]+"${child[@]}"} -- "$PY" -u "$LAB/controller.py" --listen-fd '{fd}' \
            --tasks 2 --quiet "$QUIET"
    else
        if [ "$id" = 5a ] && [ "$without" = 0 ]; then extra=("KASHIM_USER_TIMEOUT=${USER_TIMEOUT}s"); fi
        if [ "$id" = 9 ] && [ "$without" = 0 ]; then extra=("KASHIM_ONLY=10.77.1.2"); fi
        start controller "$clog" 30 INT "$k_ctl" ${extra[@]+"${extra[@]}"} "${ctl_args[@]}"
    fi
    cpid=$started
    if ! wait_line "$clog" "listening on port" 8; then
        kill -TERM "$cpid" 2>/dev/null || true
        printf 'fail\tcontroller did not start: %s\n' "$(tail -n 1 "$clog")" >"$WORK/$id.result"
        return
    fi
    start crawler "$wlog" 40 TERM "$k_crawl" "${crawl_cmd[@]}"
    wpid=$started
    local attached=""
    case "$id" in
        7a|7b|7c)
            # The connection is up; the controller (the python under ip netns/timeout) gets
            # keepalive from outside, as on a production host. The control run does not attach.
            if wait_line "$clog" "crawler connected" 8 && [ "$without" = 0 ]; then
                local py_pid t0=$EPOCHREALTIME
                py_pid=$(pgrep -P "$cpid" | head -n 1)
                "$LAB_KASHIM" --attach "$py_pid" --idle "$K_IDLE" --interval "$K_INTVL" \
                    --count "$K_COUNT" >"$WORK/$id.attach.log" 2>&1
                attached="attach exit $?: $(tail -n 1 "$WORK/$id.attach.log")"
                echo "attach took $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s" >>"$WORK/$id.attach.log"
            fi
            : >"$WORK/$id.attached" ;;
    esac

    local scope_ss=""
    if [ "$id" = 9 ]; then
        # A second connection from the controller's namespace, under the same settings, to an
        # address KASHIM_ONLY does not name (the firewall host). During the quiet spell ss shows
        # which of the two has its keepalive timer armed.
        local p2=$((p + 100)) ka_crawler ka_other
        timeout 30 "$PY" -c "import socket,time; l=socket.create_server(('10.77.2.1',$p2)); c,_=l.accept(); time.sleep(25)" \
            >"$WORK/$id.other-server.log" 2>&1 &
        echo $! >>"$WORK/pids"
        sleep 0.3
        # The server above may take longer than the pause to listen on a loaded machine: the
        # client tries again for up to 5 s before it counts as refused.
        start controller "$WORK/$id.other.log" 30 TERM "$k_ctl" ${extra[@]+"${extra[@]}"} "$PY" -u -c \
            "import socket,time
for _ in range(50):
    try: s=socket.create_connection(('10.77.2.1',$p2)); break
    except ConnectionRefusedError: time.sleep(0.1)
print('connected'); time.sleep(25)"
        if wait_line "$WORK/$id.other.log" connected 15 && wait_line "$clog" "quiet for" 15; then
            ka_crawler=$(ip netns exec controller ss -Htno state established "( sport = :$p )" | grep -c 'timer:(keepalive')
            ka_other=$(ip netns exec controller ss -Htno state established "( dport = :$p2 )" |
                awk '{ n++; if (/timer:\(keepalive/) k++ } END { print n ? (k ? "keepalive" : "none") : "absent" }')
            scope_ss="ss: crawler connection keepalive timers $ka_crawler, unnamed connection timer: $ka_other"
        else scope_ss="ss: not checked (second connection or quiet spell not seen)"; fi
    fi

    case "$id" in
        4a|4b|7b)
            # Once the crawler has the task (and its kernel has acked it: allow for a
            # delayed ACK), it vanishes: the controller is left waiting with nothing in flight.
            if wait_line "$wlog" "got 'task 1'" 8; then sleep 0.3; vanish "$p" "$c"; vanished=1; fi ;;
        5a|5b)
            # The crawler vanishes during the quiet spell, so task 2 is never acknowledged.
            if wait_line "$clog" "quiet for" 8; then vanish "$p" "$c"; vanished=1; fi
            : >"$WORK/$id.vanished" ;;
    esac

    # A controller stuck in recv is stopped GIVE_UP seconds after it started waiting; SIGINT
    # (relayed by timeout) makes it print how long recv had been blocked.
    if [ "$vanished" = 1 ]; then
        local n=$((GIVE_UP * 10))
        while kill -0 "$cpid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
        kill -INT "$cpid" 2>/dev/null || true
    fi
    wait "$cpid" || status=$?
    local rst drops w err
    rst=$(counter "rst_$c"); drops=$(counter "drop_$c")
    # In scenario 1 the crawler never learns of the reset: it still holds the connection.
    local estab=0
    if ip netns exec crawler ss -Htn state established "( dport = :$p )" | grep -q .; then estab=1; fi
    kill -TERM "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true

    w=$(waited "$clog")
    err=$(grep -E '^[A-Za-z]+Error: ' "$clog" | tail -n 1 || true)
    res=fail
    if grep -q "all tasks acknowledged" "$clog"; then
        obs="survived the ${QUIET} s quiet spell (firewall forgets after ${CT_TIMEOUT} s); no resets"
        [ "$rst" = 0 ] || obs="survived, but the firewall rejected $rst packets"
        case "$id" in 4a|4b|5a|5b|7b) obs="recv returned normally (peer was to be dropped)" ;; esac
        [ "$(field "$s" 2)" = survives ] && [ "$rst" = 0 ] && res=pass
    elif [ "$status" = 124 ] || grep -q "gave up" "$clog"; then
        obs="hangs: recv still blocked after ${w:-?} s, when the lab gave up"
        case "$id" in
            4b) obs="$obs (with keepalive off, recv would wait forever)" ;;
            5b) obs="$obs (keepalive is silent while data is unacked; the kernel retransmits for ~15 min)" ;;
        esac
        [ "$drops" -gt 0 ] || obs="$obs; lab dropped no packets"
        [ "$(field "$s" 2)" = hangs ] && [ "$drops" -gt 0 ] && res=pass
    elif [[ $err == ConnectionResetError* ]]; then
        local pl=s; [ "$rst" = 1 ] && pl=
        obs="reset: ${err} when the ${QUIET} s quiet spell ended; the RST came from the firewall's reject rule ($rst packet$pl)"
        [ "$estab" = 1 ] && obs="$obs, the crawler still shows ESTABLISHED"
        [ "$(field "$s" 2)" = "reset (Errno 104)" ] && [ "$rst" -gt 0 ] && [[ $err == *"[Errno 104]"* ]] && res=pass
    elif [[ $err == TimeoutError*"[Errno 110]"* ]]; then
        case "$id" in
            4a|7b) obs="dead peer detected after ${w} s: ETIMEDOUT (kashim timers: ${K_IDLE} + ${K_INTVL} x ${K_COUNT} = ${DEAD_AFTER} s)"
                awk -v w="$w" -v e="$DEAD_AFTER" 'BEGIN { exit !(w >= e - 0.5 && w <= e + 1.5) }' && res=pass ;;
            5a) obs="unacked task given up after ${w} s: ETIMEDOUT (KASHIM_USER_TIMEOUT=${USER_TIMEOUT}s; kernel alone: ~15 min)"
                awk -v w="$w" -v e="$USER_TIMEOUT" 'BEGIN { exit !(w >= e - 0.5 && w <= e + 1) }' && res=pass ;;
            *) obs="recv failed after ${w:-?} s: ${err}" ;;
        esac
        [ "$drops" -gt 0 ] || { obs="$obs; but the lab dropped no packets"; res=fail; }
    elif [ -n "$err" ]; then
        obs="controller failed: $err"
    else
        obs="controller exited with status $status: $(tail -n 1 "$clog")"
    fi
    case "$id" in
        7a|7b|7c)
            if [ -z "$attached" ] && [ "$without" = 0 ]; then res=fail; obs="$obs; kashim --attach did not run"
            elif [ -n "$attached" ]; then
                [[ $attached == "attach exit 0: 0 of 1 connections at risk (no keepalive, or a first probe after more than ${K_IDLE}s idle)" ]] || res=fail
                obs="$obs; $attached"
            fi ;;
    esac
    if [ "$id" = 9 ]; then
        obs="$obs; $scope_ss"
        [[ $scope_ss == *"keepalive timers 1, unnamed connection timer: none" ]] || res=fail
    fi
    printf '%s\t%s\n' "$res" "$obs" >"$WORK/$id.result"
}

# run_probe_scenario INDEX: kashim --probe from the crawler's namespace to a real server in the
# controller's; writes "pass|fail<TAB>observed" to WORK/ID.result.
run_probe_scenario() {
    local i=$1 s=${SCENARIOS[$1]} id p log max=$PROBE_MAX expect=$PROBE_CT rc
    id=$(field "$s" 0); p=$(port_of "$i")
    log="$WORK/$id.server.log"
    local redis=(redis-server --save '' --appendonly no --protected-mode no --timeout 0 --dir "$WORK")
    case "$id" in
        p1|p2|p3) start controller "$log" 60 TERM no "${redis[@]}" --bind 10.77.2.2 --port "$p" ;;
        p4)
            start controller "$WORK/$id.redis.log" 60 TERM no "${redis[@]}" --bind 127.0.0.1 --port "$((p + 200))"
            cat >"$WORK/$id.haproxy.cfg" <<EOF
global
    maxconn 100
defaults
    mode tcp
    timeout connect 2s
    timeout client ${PROBE_SERVER_IDLE}s
    timeout server ${PROBE_SERVER_IDLE}s
frontend probe
    bind 10.77.2.2:$p
    default_backend redis
backend redis
    server redis 127.0.0.1:$((p + 200))
EOF
            start controller "$log" 60 TERM no haproxy -db -f "$WORK/$id.haproxy.cfg" ;;
        p5)
            start controller "$log" 60 TERM no "$(command -v sshd)" -D -e -f /dev/null -o "Port=$p" \
                -o ListenAddress=10.77.2.2 -o "HostKey=$WORK/ssh_host_key" \
                -o "LoginGraceTime=$PROBE_SERVER_IDLE" -o PidFile=none -o UsePAM=no ;;
    esac
    case "$id" in p3) max=$PROBE_NONE_MAX ;; p4|p5) expect=$PROBE_SERVER_IDLE ;; esac
    local n=80
    until ip netns exec controller ss -Hltn "( sport = :$p )" | grep -q .; do
        n=$((n - 1))
        if [ $n = 0 ]; then
            printf 'fail\tthe server did not start: %s\n' "$(tail -n 1 "$log")" >"$WORK/$id.result"
            return
        fi
        sleep 0.1
    done
    ip netns exec crawler timeout -s INT -k 2 $((2 * max + 30)) "$LAB_KASHIM" --probe "10.77.2.2:$p" \
        --max "$max" --json >"$WORK/$id.probe.json" 2>"$WORK/$id.probe.err"
    rc=$?
    "$PY" "$LAB/probe_judge.py" "$id" "$WORK/$id.probe.json" "$rc" "$WORK/$id.probe.err" "$expect" \
        >"$WORK/$id.result"
}

# Which scenarios cannot run here?
skip_reason() {
    local needs=$1
    if [[ $needs == *probe* ]] && [ "$without" = 1 ]; then
        echo "kashim --probe runs no program under libkashim.so: nothing to compare without it"
    elif [[ $needs == *probe* ]] && [ ! -x "$LAB_KASHIM" ]; then
        echo "the kashim command is not built at $LAB_KASHIM (cargo build --release)"
    elif [[ $needs == *redis* ]] && ! command -v redis-server >/dev/null; then
        echo "redis-server not found (install redis-server)"
    elif [[ $needs == *haproxy* ]] && ! command -v haproxy >/dev/null; then
        echo "haproxy not found (install haproxy)"
    elif [[ $needs == *sshd* ]] && [ ! -f "$WORK/ssh_host_key" ]; then
        echo "cannot make an sshd host key: $(head -n 1 "$WORK/ssh-keygen.err" 2>/dev/null) (install openssh-server)"
    elif [[ $needs == *kashim* ]] && [ "$without" = 0 ] && [ ! -f "$LIBKASHIM" ]; then
        echo "libkashim.so not found at $LIBKASHIM (cargo build --release)"
    elif [[ $needs == *java* ]] && [ ! -f "$WORK/java/Crawler.class" ]; then
        echo "cannot compile Crawler.java: $(head -n 1 "$WORK/javac.err" 2>/dev/null) (install a JDK 11 or later)"
    elif [[ $needs == *node* ]] && ! command -v node >/dev/null; then
        echo "node not found (install nodejs)"
    elif [[ $needs == *attach* ]] && [ "$without" = 0 ] && [ ! -x "$LAB_KASHIM" ]; then
        echo "the kashim command is not built at $LAB_KASHIM (cargo build --release)"
    elif [[ $needs == *attach* ]] && ! command -v pgrep >/dev/null; then
        echo "pgrep not found (install procps)"
    elif [[ $needs == *static* ]] && [ ! -x "$WORK/crawler-static" ]; then
        echo "cannot build the static crawler: $(head -n 1 "$WORK/crawler-static.err" 2>/dev/null) (needs gcc and libc6-dev)"
    elif [[ $needs == *ebpf* ]] && [ "$without" = 0 ] && [ ! -x "$LAB_KASHIM" ]; then
        echo "kashim command not found at $LAB_KASHIM (cargo build --release)"
    elif [[ $needs == *ebpf* ]] && [ "$without" = 0 ] &&
        "$LAB_KASHIM" --ebpf --status 2>&1 | grep -q "without eBPF support"; then
        echo "kashim was built without eBPF support (install clang and libbpf-dev, rebuild)"
    fi
}

# Setup is done; from here on results are judged explicitly, not by set -e.
trap - ERR
set +e
gcc -static -O2 -o "$WORK/crawler-static" "$LAB/crawler-static.c" 2>"$WORK/crawler-static.err"
# Compiled once here, not by java's source launcher inside 6a: that compile costs a second of CPU
# while all scenarios run at once, and under load it made 6a miss its window.
javac -d "$WORK/java" "$LAB/Crawler.java" >"$WORK/javac.err" 2>&1
# sshd (p5) needs a host key and its privilege separation directory (/run is the lab's own).
if command -v sshd >/dev/null && ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh_host_key" 2>"$WORK/ssh-keygen.err"; then
    mkdir -p /run/sshd
fi
pids=()
for i in "${!SCENARIOS[@]}"; do
    s=${SCENARIOS[$i]}
    why=$(skip_reason "$(field "$s" 3)")
    if [ -n "$why" ]; then
        printf 'skip\tskipped: %s\n' "$why" >"$WORK/$(field "$s" 0).result"
        continue
    fi
    case "$(field "$s" 0)" in
        p*) run_probe_scenario "$i" & ;;
        *) run_scenario "$i" & ;;
    esac
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

# ---------------------------------------------------------------------------------------
if [ "$without" = 1 ]; then
    mode="WITHOUT kashim (control run: every row that needs kashim must show ✗)"
else
    mode="with kashim: KASHIM_IDLE=$K_IDLE KASHIM_INTERVAL=$K_INTVL KASHIM_COUNT=$K_COUNT"
fi
echo "kashim firewall lab: crawler 10.77.1.2 <-> firewall <-> controller 10.77.2.2"
echo "firewall: nftables + conntrack, idle connections forgotten after ${CT_TIMEOUT} s, then 'reject with tcp reset'"
echo "run $mode"
echo
row " " "#" "scenario" "expected" "observed"
agree=0 total=0 skipped=0
for s in "${SCENARIOS[@]}"; do
    id=$(field "$s" 0)
    IFS=$'\t' read -r res obs <"$WORK/$id.result" || { res=fail; obs="no result"; }
    case "$res" in
        pass) mark="✓"; agree=$((agree + 1)); total=$((total + 1)) ;;
        skip) mark="-"; skipped=$((skipped + 1)) ;;
        *) mark="✗"; total=$((total + 1)) ;;
    esac
    row "$mark" "$id" "$(field "$s" 1)" "$(field "$s" 2)" "$obs"
    report_line "$id" "$res" "$obs"
done
elapsed=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo
echo "$agree of $total scenarios as expected, $skipped skipped (lab took $elapsed s)"
if [ -f "$WORK/1.controller.log" ] && grep -q "^Traceback" "$WORK/1.controller.log"; then
    echo
    echo "Scenario 1, the controller's output (the seed's traceback):"
    sed -n '/^Traceback/,$p' "$WORK/1.controller.log" | sed 's/^/    /'
fi
[ "$agree" = "$total" ]
