#!/usr/bin/env bash
# Suite 45-inspect-attach: `kashim --inspect [PID]` and `kashim --attach PID` (issues 8, 9, 13, 19).
# The targets are real Python processes started WITHOUT kashim (or with the library preloaded
# directly); what the kernel reports for their sockets is read back by the process itself
# (getsockopt), by /proc and by strace. Nothing is mocked. Needs python3; the namespace, privilege
# and strace checks need root, unshare/ip, setpriv and strace, and are reported as SKIP otherwise.
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

export -n LIBKASHIM_ROOT LIBKASHIM TEST_KASHIM_BIN
# TEST_KASHIM_BIN: another kashim to run these tests against (e.g. an older build).
KB=${TEST_KASHIM_BIN:-$LIBKASHIM_ROOT/target/release/kashim}
LIB=$LIBKASHIM
scratch_work_dir   # $work: the privilege check runs kashim from it as nobody

if [ ! -x "$KB" ] || [ ! -f "$LIB" ]; then
    fail inspect-attach-build "$KB or $LIB is not built"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    skip inspect-attach "python3 not installed"
    exit 0
fi
PY=$(python3 -c 'import sys; print(sys.executable)')

can_netns() { [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; }
# A network namespace of its own, loopback up, then "$@".
# shellcheck disable=SC2016 # expanded by sh
in_netns=(unshare -n sh -c 'ip link set lo up && exec "$@"' sh)

# ---------------------------------------------------------------- --inspect
# srv.py holds 3 connected pairs (IPv4, IPv6, IPv4-mapped IPv6) in one process, prints each
# connection as ss would name it, then waits for its standard input to close.
cat >"$work/srv.py" <<'EOF'
import socket, sys
keep = []
def name(fam, a):
    return ("%s:%d" if fam == socket.AF_INET else "[%s]:%d") % (a[0], a[1])
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"), (socket.AF_INET6, "::ffff:127.0.0.1")):
    l = socket.socket(fam, socket.SOCK_STREAM); l.bind((host, 0)); l.listen()
    c = socket.socket(fam, socket.SOCK_STREAM); c.connect(l.getsockname()[:2])
    a, _ = l.accept()
    keep += [l, c, a]
    print(name(fam, c.getsockname()), name(fam, c.getpeername()))
    print(name(fam, a.getsockname()), name(fam, a.getpeername()))
print("ready", flush=True)
sys.stdin.read()
EOF
# inspect_case NAME EXPECT_KA [PREFIX...]: start srv.py through PREFIX, inspect it, check every row.
inspect_case() {
    local name=$1 expect=$2; shift 2
    local why="" conn pair row secs want_rc=1 risky=6
    [ "$expect" = 6 ] && want_rc=0 risky=0   # exit 0 only when no connection is at risk
    # No time limit needed: the server ends when its standard input (this suite) goes away.
    coproc SRV { exec "$@" "$PY" "$work/srv.py" 2>&1; }
    # shellcheck disable=SC2153 # SRV_PID is set by coproc
    local srv_pid=$SRV_PID wfd=${SRV[1]}
    pids+=("$srv_pid")
    local printed=() line
    while IFS= read -r -t 20 line <&"${SRV[0]}"; do
        [ "$line" = ready ] && break
        printed+=("$line")
    done
    run "$KB" --inspect "$srv_pid"
    exec {wfd}>&-   # EOF on the server's stdin: it exits
    wait "$srv_pid" 2>/dev/null
    [ "$rc" = "$want_rc" ] || why+=" exit $rc (expected $want_rc): $(err);"
    [ "${#printed[@]}" = 6 ] || why+=" server printed ${#printed[@]} connections;"
    [ "$(out | tail -n 1)" = "$risky of 6 connections at risk (no keepalive, or a first probe after more than 60s idle)" ] ||
        why+=" last line '$(out | tail -n 1)';"
    for pair in "${printed[@]}"; do
        read -r -a conn <<<"$pair"
        row=$(out | awk -v l="${conn[0]}" -v r="${conn[1]}" '$1 == l && $2 == r')
        if [ -z "$row" ]; then why+=" no row for $pair;"; continue; fi
        [[ $row == *ESTABLISHED* ]] || why+=" not ESTABLISHED: $row;"
        if [ "$expect" = 6 ]; then
            # With idle 30 the timer fires within 30 s, and not long ago was armed; the
            # effective options are read from the socket itself (issue 13's mixed-settings report).
            secs=$(sed -n 's/.*yes, fires in \([0-9]*\)\.[0-9]s.*/\1/p' <<<"$row")
            { [ -n "$secs" ] && [ "$secs" -le 30 ] && [ "$secs" -ge 20 ]; } || why+=" bad timer: $row;"
            [[ $row == *" 30s/10s/6 "* ]] || why+=" expected 30s/10s/6: $row;"
            [[ $row == *"  ok" ]] || why+=" expected ok: $row;"
        else
            [[ $row == *" NO  "*"  AT RISK: no keepalive" ]] || why+=" expected NO, at risk: $row;"
        fi
        # IDLE FOR: just set up, idle for a few seconds at most.
        [[ $row =~ \ ([0-9])\.[0-9]s\  ]] || why+=" no idle time: $row;"
    done
    [ "$(out | grep -c LISTEN)" = 3 ] || why+=" expected 3 listeners;"
    verdict "$name" "${why:+$why $(out | tr '\n' '|')}"
}
preload=(env LD_PRELOAD="$LIB" KASHIM_IDLE=30 KASHIM_INTERVAL=10 KASHIM_COUNT=6)
inspect_case inspect-with-kashim 6 "${preload[@]}"
inspect_case inspect-without-kashim 0 env
# A process in its own network namespace (a container's, say) is inspected from outside:
# its connections exist only in its namespace's table, which /proc/PID/net shows.
if can_netns; then
    inspect_case inspect-other-netns 6 "${in_netns[@]}" "${preload[@]}"
else
    skip inspect-other-netns "needs root, unshare (util-linux) and ip (iproute2)"
fi
sh -c : & dead=$!; wait "$dead"
run "$KB" --inspect "$dead"
if [ "$rc" = 1 ] && [ "$(err)" = "kashim: --inspect $dead: no such process" ]; then pass inspect-no-process
else fail inspect-no-process "exit $rc: $(err)"; fi

# --json: one object that python's json module reads, with the same counts as the table.
coproc SRV { exec "${preload[@]}" "$PY" "$work/srv.py" 2>&1; }
srv_pid=$SRV_PID wfd=${SRV[1]}; pids+=("$srv_pid")
while IFS= read -r -t 20 line <&"${SRV[0]}"; do [ "$line" = ready ] && break; done
run "$KB" --inspect "$srv_pid" --json
json_rc=$rc
cp "$work/out" "$work/inspect.json"
exec {wfd}>&-; wait "$srv_pid" 2>/dev/null
why=$("$PY" - "$work/inspect.json" "$srv_pid" 2>&1 <<'EOF' | tail -n 1
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
if d["pid"] != int(sys.argv[2]): bad.append("pid %r" % d["pid"])
if (d["connections"], d["with_keepalive"], d["listening"]) != (6, 6, 3): bad.append("counts")
if d["at_risk"] != 0 or d["threshold_s"] != 60 or d["options_read"] is not True: bad.append("flags")
conns = [s for s in d["sockets"] if not s["listening"]]
if len(conns) != 6 or any(not s["keepalive"] or s["idle_s"] != 30 or not 20 <= s["fires_in_s"] <= 30
                          or s["at_risk"] is not False or not 0 <= s["idle_for_s"] < 20 for s in conns):
    bad.append("connections")
print("; ".join(bad))
EOF
)
[ "$json_rc" = 0 ] || why+=" exit $json_rc"
verdict inspect-json "${why:+$why $(head -c 300 "$work/inspect.json")}"

# A reader that went away (| head) cuts the report short: no panic message, the same status.
why=$("$PY" - "$KB" "$srv_pid" 2>&1 <<'EOF' | tail -n 1
import os, subprocess, sys
r, w = os.pipe()
os.close(r)   # every write to w now fails with EPIPE
p = subprocess.run([sys.argv[1], "--inspect", str(os.getpid())], stdout=w, stderr=subprocess.PIPE)
if p.stderr or p.returncode not in (0, 1):
    print("exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip().splitlines()[:2]))
EOF
)
verdict inspect-into-a-closed-pipe "$why"

# Rights. Reading /proc/PID/fd's links needs ptrace's read mode, judged on the effective (fs)
# ids; pidfd_getfd needs attach mode, judged on the real ids and the caller's capabilities.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && [ -x /usr/bin/python3 ]; then
    cp "$KB" "$work/kashim"; chmod 755 "$work/kashim"
    cp "$work/srv.py" "$work/srv-nobody.py"; chmod 644 "$work/srv-nobody.py"
    # A target running as nobody (Debian's python3: the suite's own may live under /root).
    coproc SRV { exec "${preload[@]}" setpriv --reuid nobody --regid nogroup --clear-groups \
        /usr/bin/python3 "$work/srv-nobody.py" 2>&1; }
    srv_pid=$SRV_PID wfd=${SRV[1]}; pids+=("$srv_pid")
    while IFS= read -r -t 20 line <&"${SRV[0]}"; do [ "$line" = ready ] && break; done
    # Effective id nobody (may read the links), real id 1000 (may not take descriptors): the
    # options cannot be read, keepalive is judged from the kernel's timers; the idle time before
    # the first probe is not known, so neither is the risk (exit 1).
    run setpriv --ruid 1000 --euid nobody --rgid 1000 --egid nogroup --clear-groups \
        "$work/kashim" --inspect "$srv_pid"
    why=""
    [ "$rc" = 1 ] || why+=" exit $rc: $(err);"
    [ "$(out | tail -n 1)" = "0 of 6 connections at risk (no keepalive, or a first probe after more than 60s idle); 6 not known" ] || why+=" last line;"
    [ "$(out | grep -c ' ESTABLISHED  ?  *yes, fires in ')" = 6 ] || why+=" expected 6 rows '? yes, fires in';"
    out | grep -q "^note: IDLE/INTVL/CNT shows ? because reading the options (pidfd_getfd) is not permitted: .*CAP_SYS_PTRACE" ||
        why+=" no note;"
    verdict inspect-options-from-timers-without-ptrace-rights "${why:+$why $(out | tr '\n' '|')}"
    exec {wfd}>&-; wait "$srv_pid" 2>/dev/null

    # A target with more capabilities than kashim (root's): not even the links can be read.
    # That is an error, not an empty "0 of 0" (which the directory listing alone would give).
    coproc SRV { exec "$PY" "$work/srv.py" 2>&1; }
    srv_pid=$SRV_PID wfd=${SRV[1]}; pids+=("$srv_pid")
    while IFS= read -r -t 20 line <&"${SRV[0]}"; do [ "$line" = ready ] && break; done
    run setpriv --ruid nobody --bounding-set -sys_ptrace "$work/kashim" --inspect "$srv_pid"
    exec {wfd}>&-; wait "$srv_pid" 2>/dev/null
    if [ "$rc" = 1 ] && [ ! -s "$work/out" ] &&
        [[ $(err) == "kashim: --inspect $srv_pid: not permitted to read /proc/$srv_pid/fd; needs ptrace rights"*CAP_SYS_PTRACE* ]]; then
        pass inspect-not-permitted
    else
        fail inspect-not-permitted "exit $rc: $(err) $(out | tr '\n' '|')"
    fi
else
    skip inspect-options-from-timers-without-ptrace-rights "needs root, setpriv (util-linux) and /usr/bin/python3"
    skip inspect-not-permitted "needs root, setpriv (util-linux) and /usr/bin/python3"
fi

# ---------------------------------------------------------------- --attach
# asrv.py: a server started WITHOUT kashim. A listener, three connected pairs (client c1..c3,
# accepted a1..a3; c2 chose its own keepalive timers, 20/5/3; c3 turned SO_KEEPALIVE on and left
# the kernel's default timers, as sshd does), a UDP socket and a Unix socket pair. A thread
# keeps a request/answer exchange going on c1/a1 the whole time. Commands on standard input:
#   report   one line per socket: SO_KEEPALIVE [TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT TCP_USER_TIMEOUT],
#            as the process itself reads them with getsockopt, then "pings N errors E", "end"
#   connect  one more pair c4/a4 (a4 accepted from the listener), then "end"
#   churn    a thread that opens and closes connections without pause, then "end"
cat >"$work/asrv.py" <<'EOF'
import os, socket, sys, threading, time
T = socket.IPPROTO_TCP
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64)
named = {"listener": l}
for i in (1, 2, 3):
    c = socket.socket()
    if i in (2, 3):
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if i == 2:
        for o, v in ((socket.TCP_KEEPIDLE, 20), (socket.TCP_KEEPINTVL, 5), (socket.TCP_KEEPCNT, 3)):
            c.setsockopt(T, o, v)
    c.connect(l.getsockname()); a, _ = l.accept()
    named["c%d" % i], named["a%d" % i] = c, a
named["udp"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); named["udp"].bind(("127.0.0.1", 0))
named["unix"], named["unix2"] = socket.socketpair()
pings, errors = 0, []
def pinger():
    global pings
    c, a = named["c1"], named["a1"]
    while True:
        try:
            c.sendall(b"p"); assert a.recv(1) == b"p"; a.sendall(b"q"); assert c.recv(1) == b"q"
            pings += 1
        except Exception as e:
            errors.append(repr(e)); return
        time.sleep(0.002)
def churn():
    cl = socket.socket(); cl.bind(("127.0.0.1", 0)); cl.listen(64)
    while True:
        c = socket.socket(); c.connect(cl.getsockname()); a, _ = cl.accept()
        c.close(); a.close()
def opts(s):
    ka = s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    if s.family == socket.AF_UNIX or s.type == socket.SOCK_DGRAM:
        return "%d" % ka
    return " ".join(str(s.getsockopt(*o)) for o in ((socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        (T, socket.TCP_KEEPIDLE), (T, socket.TCP_KEEPINTVL), (T, socket.TCP_KEEPCNT), (T, socket.TCP_USER_TIMEOUT)))
threading.Thread(target=pinger, daemon=True).start()
print(os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.split()[0]
    if cmd == "report":
        for k, s in named.items():
            print(k, opts(s))
        print("pings", pings, "errors", len(errors), *errors)
    elif cmd == "connect":
        c = socket.socket(); c.connect(l.getsockname()); a, _ = l.accept()
        named["c4"], named["a4"] = c, a
    elif cmd == "churn":
        threading.Thread(target=churn, daemon=True).start()
    print("end", flush=True)
EOF

# start_server NAME [PREFIX...]: starts asrv.py through PREFIX, talking through two FIFOs; sets
# started_pid and the descriptors started_in, started_out.
start_server() {
    local name=$1; shift
    start_python "$name" "$@" "$PY" "$work/asrv.py"
}
# start_python NAME COMMAND...: starts COMMAND (a Python server of this suite) as start_server does.
start_python() {
    local name=$1 p fd_in fd_out; shift
    mkfifo "$work/$name.in" "$work/$name.out"
    "$@" <"$work/$name.in" >"$work/$name.out" 2>&1 &
    pids+=("$!")
    exec {fd_in}>"$work/$name.in" {fd_out}<"$work/$name.out"
    IFS= read -r -t 20 p <&"$fd_out" || p=""
    started_pid=$p started_in=$fd_in started_out=$fd_out
}
# ask IN OUT CMD FILE: sends CMD to a server and writes its answer (up to "end") to FILE.
ask() {
    local line
    : >"$4"
    echo "$3" >&"$1"
    while IFS= read -r -t 20 line <&"$2"; do
        [ "$line" = end ] && return 0
        echo "$line" >>"$4"
    done
    echo "no answer" >>"$4"
}
val() { sed -n "s/^$1 //p" "$2"; }   # val NAME REPORT: the options of socket NAME
fdtable() { (cd "/proc/$1/fd" && for f in *; do printf '%s %s\n' "$f" "$(readlink "$f")"; done) | sort -n; }
sysctl_ka() { cat /proc/sys/net/ipv4/tcp_keepalive_time /proc/sys/net/ipv4/tcp_keepalive_intvl /proc/sys/net/ipv4/tcp_keepalive_probes | tr '\n' ' '; }
defaults="1 $(sysctl_ka)0"   # the program's own SO_KEEPALIVE, with the system's timers
want="1 30 7 4 50000"
opts=(--idle 30 --interval 7 --count 4 --user-timeout 50s)

start_server s
spid=$started_pid sin=$started_in sout=$started_out
ask "$sin" "$sout" report "$work/before"
fds_before=$(fdtable "$spid")
sleep 0.2
have_strace=0
if command -v strace >/dev/null 2>&1; then
    have_strace=1
    # Every descriptor kashim takes must be closed by kashim itself, and the target is never
    # stopped, traced or signalled.
    run strace -f -qq -o "$work/strace" \
        -e trace=pidfd_open,pidfd_getfd,close,kill,tkill,tgkill,pidfd_send_signal,ptrace,process_vm_writev \
        "$KB" --attach "$spid" "${opts[@]}"
else
    run "$KB" --attach "$spid" "${opts[@]}"
fi
cp "$work/out" "$work/attach.out"; attach_rc=$rc
ask "$sin" "$sout" report "$work/after"
fds_after=$(fdtable "$spid")

why=""
[ "$attach_rc" = 0 ] || why+=" exit $attach_rc: $(err);"
for n in listener c1 a1 a2 a3; do
    [ "$(val "$n" "$work/after")" = "$want" ] || why+=" $n: '$(val "$n" "$work/after")';"
done
[ "$(tail -n 1 "$work/attach.out")" = "0 of 6 connections at risk (no keepalive, or a first probe after more than 30s idle)" ] || why+=" last line;"
[ "$(grep -c ' configured$' "$work/attach.out")" = 5 ] || why+=" expected 5 'configured' rows;"
grep -q "^ATTACH\|  ATTACH$" <(head -n 2 "$work/attach.out") || why+=" no ATTACH column;"
verdict attach-configures-the-others "${why:+$why $(tr '\n' '|' <"$work/attach.out")}"

why=""
[ "$(val c2 "$work/before")" = "1 20 5 3 0" ] || why+=" before: '$(val c2 "$work/before")';"
[ "$(val c2 "$work/after")" = "1 20 5 3 0" ] || why+=" after: '$(val c2 "$work/after")';"
c2=$(grep -c "20s/5s/3 .*left alone: the program's own keepalive" "$work/attach.out")
[ "$c2" = 1 ] || why+=" expected one 'left alone' row at 20s/5s/3, got $c2;"
verdict attach-leaves-the-programs-own "$why"

# SO_KEEPALIVE on with the kernel's default timers (sshd's TCPKeepAlive, Java's setKeepAlive):
# no protection (the first probe after 2 hours), so nobody's choice: attach sets its timers.
why=""
[ "$(val c3 "$work/before")" = "$defaults" ] || why+=" before: '$(val c3 "$work/before")' (expected '$defaults');"
[ "$(val c3 "$work/after")" = "$want" ] || why+=" after: '$(val c3 "$work/after")' (expected '$want');"
c3=$(grep -c "30s/7s/4 ut 50s .*configured (keepalive was on with the kernel's default timers)$" "$work/attach.out")
[ "$c3" = 1 ] || why+=" expected one 'configured (keepalive was on with the kernel's default timers)' row, got $c3;"
verdict attach-configures-default-timers "${why:+$why $(tr '\n' '|' <"$work/attach.out")}"

why=""
for n in udp unix unix2; do
    [ "$(val "$n" "$work/before")" = 0 ] && [ "$(val "$n" "$work/after")" = 0 ] ||
        why+=" $n: '$(val "$n" "$work/before")' -> '$(val "$n" "$work/after")';"
done
[ "$(grep -c '' "$work/attach.out")" -le 12 ] || why+=" more rows than TCP sockets;"
[ "$attach_rc" = 0 ] || why+=" the attach failed (exit $attach_rc);"
verdict attach-udp-unix-untouched "$why"

why=""
read -r _ p1 _ e1 _ <<<"$(grep '^pings' "$work/before")"
read -r _ p2 _ e2 _ <<<"$(grep '^pings' "$work/after")"
{ [ "${p2:-0}" -gt "${p1:-0}" ] && [ "$e1" = 0 ] && [ "$e2" = 0 ]; } || why+=" pings $p1 -> $p2, errors $e1/$e2 ($(grep '^pings' "$work/after"));"
[ "$fds_before" = "$fds_after" ] || why+=" fd table changed: $(diff <(echo "$fds_before") <(echo "$fds_after") | tr '\n' ' ');"
[ -n "$fds_before" ] || why+=" could not read the fd table;"
[ "$attach_rc" = 0 ] || why+=" the attach failed (exit $attach_rc);"
verdict attach-target-keeps-serving-same-fds "$why"

if [ "$have_strace" = 1 ]; then
    why=$("$PY" - "$work/strace" 2>&1 <<'EOF' | tail -n 1
import re, sys
held, taken, bad = set(), 0, []
for line in open(sys.argv[1]):
    m = re.match(r"\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
    if not m:
        continue
    call, args, ret = m.group(1), m.group(2), int(m.group(3))
    if call in ("pidfd_open", "pidfd_getfd") and ret >= 0:
        held.add(ret); taken += call == "pidfd_getfd"
    elif call == "close":
        held.discard(int(args.split(",")[0]))
    elif call != "close":
        bad.append(line.strip())
out = []
# 7 TCP sockets: each is taken at least once to change it and once to show it afterwards.
if taken < 14: out.append("pidfd_getfd called %d times (at least 2 x 7 TCP sockets expected)" % taken)
if held: out.append("never closed: %s" % sorted(held))
if bad: out.append("touched the target: %s" % bad[:3])
print("; ".join(out))
EOF
)
    verdict attach-closes-what-it-takes "$why"
else
    skip attach-closes-what-it-takes "strace not installed"
fi

# A connection accepted after the attach inherits keepalive from the listener; one the process
# opens itself does not (the note says so).
ask "$sin" "$sout" connect "$work/null"
ask "$sin" "$sout" report "$work/later"
why=""
[ "$(val a4 "$work/later")" = "$want" ] || why+=" accepted a4: '$(val a4 "$work/later")';"
[ "$(val c4 "$work/later" | cut -d' ' -f1)" = 0 ] || why+=" c4 (opened by the process): '$(val c4 "$work/later")';"
grep -q "connections process $spid accepts from now on inherit keepalive" "$work/attach.out" || why+=" no note on accepted connections;"
verdict attach-accepted-later-inherit "$why"

run "$KB" --attach "$spid" --force --idle 45
ask "$sin" "$sout" report "$work/forced"
why=""
[ "$rc" = 0 ] || why+=" exit $rc: $(err);"
# --force: kashim's values everywhere, the user timeout left as it was (none given).
[ "$(val c2 "$work/forced")" = "1 45 10 6 0" ] || why+=" c2: '$(val c2 "$work/forced")';"
[ "$(val c1 "$work/forced")" = "1 45 10 6 50000" ] || why+=" c1: '$(val c1 "$work/forced")';"
grep -q "replaced the program's own: --force" "$work/out" || why+=" no 'replaced' row;"
verdict attach-force "${why:+$why $(out | tr '\n' '|')}"

run "$KB" --attach "$spid" --json
cp "$work/out" "$work/attach.json"; json_rc=$rc
why=$("$PY" - "$work/attach.json" "$spid" 2>&1 <<'EOF' | tail -n 1
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
if d["pid"] != int(sys.argv[2]): bad.append("pid")
if d["settings"] != {"idle_s": 60, "interval_s": 10, "count": 6, "user_timeout_ms": None, "force": False}: bad.append("settings %r" % d["settings"])
results = sorted(s["attach"]["result"] for s in d["sockets"])
# Everything has keepalive by now: all are the program's own (kashim's earlier values stay).
if results != ["programs_own"] * 9: bad.append("results %r" % results)
if d["connections"] != 8 or d["with_keepalive"] != 8 or d["at_risk"] != 0 or d["future_accepted_connections_covered"] is not True: bad.append("counts")
# Every connection has an idle time; c1/a1 exchange data every 2 ms: idle for well under a second.
idle = [s["idle_for_s"] for s in d["sockets"] if not s["listening"]]
if not all(isinstance(i, float) for i in idle) or not min(idle) < 1: bad.append("idle_for_s %r" % sorted(idle))
print("; ".join(bad))
EOF
)
[ "$json_rc" = 0 ] || why+=" exit $json_rc"
verdict attach-json "${why:+$why $(head -c 300 "$work/attach.json")}"

run "$KB" --attach "$spid" --idle 0
ask "$sin" "$sout" report "$work/bad"
why=""
[ "$rc" = 2 ] || why+=" exit $rc;"
[[ $(err) == 'kashim: --idle "0" is out of range'* ]] || why+=" message: $(err);"
[ ! -s "$work/out" ] || why+=" printed: $(out);"
[ "$(val c1 "$work/bad")" = "1 45 10 6 50000" ] || why+=" c1 changed: '$(val c1 "$work/bad")';"
verdict attach-bad-value-exit-2 "$why"

# IPv6 and IPv4-mapped connections and listeners (srv.py, without kashim) are attached too.
coproc SRV { exec "$PY" "$work/srv.py" 2>&1; }
srv_pid=$SRV_PID wfd=${SRV[1]}; pids+=("$srv_pid")
while IFS= read -r -t 20 line <&"${SRV[0]}"; do [ "$line" = ready ] && break; done
run "$KB" --attach "$srv_pid" --idle 30
cp "$work/out" "$work/attach6.out"; a6_rc=$rc
run "$KB" --inspect "$srv_pid"
exec {wfd}>&-; wait "$srv_pid" 2>/dev/null
why=""
[ "$a6_rc" = 0 ] || why+=" attach exit $a6_rc;"
[ "$(grep -c ' configured$' "$work/attach6.out")" = 9 ] || why+=" expected 9 configured sockets;"
[ "$(tail -n 1 "$work/attach6.out")" = "0 of 6 connections at risk (no keepalive, or a first probe after more than 30s idle)" ] || why+=" attach last line;"
[ "$rc" = 0 ] || why+=" inspect exit $rc;"
[ "$(out | grep -c '^\[::1\]:.* 30s/10s/6 ')" = 3 ] || why+=" expected 3 [::1] sockets at 30s/10s/6;"
[ "$(out | grep -c '^\[::ffff:127.0.0.1\]:.* 30s/10s/6 ')" = 3 ] || why+=" expected 3 mapped sockets at 30s/10s/6;"
verdict attach-ipv6-and-mapped "${why:+$why $(tr '\n' '|' <"$work/attach6.out")}"

sh -c : & dead=$!; wait "$dead"
run "$KB" --attach "$dead"
if [ "$rc" = 1 ] && [ "$(err)" = "kashim: --attach $dead: no such process" ]; then pass attach-no-process
else fail attach-no-process "exit $rc: $(err)"; fi

# A scope variable inherited from the environment cannot be applied by --attach: refused, exit 2,
# never silently ignored (the options themselves are refused by the parser).
why=""
for var in KASHIM_ONLY=10.0.0.0/8 KASHIM_EXCEPT=:443 KASHIM_DIRECTION=outbound KASHIM_CHILDREN=0; do
    env "$var" timeout 60 "$KB" --attach "$$" >"$work/out" 2>"$work/err" </dev/null; rc=$?
    [ "$rc" = 2 ] && [ ! -s "$work/out" ] && grep -q "^kashim: ${var%%=*}.* is set in the environment, but --attach cannot apply it" "$work/err" ||
        why+=" $var: exit $rc, $(err | head -n 1);"
done
verdict attach-refuses-inherited-scope "$why"

# An unprivileged user attaching to root's process: one line naming what is needed, exit 1.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    cp "$KB" "$work/kashim"; chmod 755 "$work/kashim"
    run setpriv --reuid nobody --regid nogroup --clear-groups "$work/kashim" --attach "$spid"
    ask "$sin" "$sout" report "$work/perm"
    why=""
    [ "$rc" = 1 ] || why+=" exit $rc;"
    [ "$(grep -c '' "$work/err")" = 1 ] || why+=" not one line;"
    grep -q "^kashim: --attach $spid: not permitted .*CAP_SYS_PTRACE.*process's own user" "$work/err" || why+=" message;"
    [ "$(grep -v '^pings' "$work/forced")" = "$(grep -v '^pings' "$work/perm")" ] || why+=" the sockets changed;"
    verdict attach-not-permitted "${why:+$why $(err)}"
else
    skip attach-not-permitted "needs root and setpriv (util-linux)"
fi

# A process with no listener: attach covers its connections and says what covers later ones.
cat >"$work/client.py" <<'EOF'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
sys.stdin.read()
EOF
port=$(awk '/LISTEN/ { n = split($1, a, ":"); print a[n]; exit }' "$work/attach.out")
coproc CLI { exec "$PY" "$work/client.py" "$port" 2>&1; }
# shellcheck disable=SC2153 # CLI_PID is set by coproc
cli_pid=$CLI_PID cli_in=${CLI[1]}; pids+=("$cli_pid")
IFS= read -r -t 20 _ <&"${CLI[0]}"
run "$KB" --attach "$cli_pid"
exec {cli_in}>&-
why=""
[ "$rc" = 0 ] || why+=" exit $rc: $(err);"
grep -q "process $cli_pid has no listening socket: connections it opens later will NOT have keepalive" "$work/out" || why+=" no note;"
grep -q "restart it under kashim.*kashim --ebpf" "$work/out" || why+=" note names no cure;"
[ "$(out | tail -n 1)" = "0 of 1 connections at risk (no keepalive, or a first probe after more than 60s idle)" ] || why+=" last line;"
verdict attach-no-listener-note "${why:+$why $(out | tr '\n' '|')}"

# Sockets opened and closed while attach works: reported, never a crash.
ask "$sin" "$sout" churn "$work/null"
why=""
for _ in $(seq 15); do
    run "$KB" --attach "$spid"
    case $rc in 0|1) ;; *) why+=" exit $rc: $(err);" ;; esac
    grep -q "panicked" "$work/err" && why+=" panic: $(err);"
    [[ $(out | tail -n 1) == *" connections at risk "* ]] || why+=" last line: $(out | tail -n 1) $(err);"
done
ask "$sin" "$sout" report "$work/churned"
grep -q "errors 0" "$work/churned" || why+=" server: $(grep '^pings' "$work/churned");"
verdict attach-while-sockets-come-and-go "$why"
exec {sin}>&-

# A process in another network namespace, attached from outside.
if can_netns; then
    start_server n "${in_netns[@]}"
    n_pid=$started_pid n_in=$started_in n_out=$started_out
    run "$KB" --attach "$n_pid" "${opts[@]}"
    ask "$n_in" "$n_out" report "$work/netns"
    why=""
    [ "$rc" = 0 ] || why+=" exit $rc: $(err);"
    for n in listener c1 a1 a2 a3 c3; do
        [ "$(val "$n" "$work/netns")" = "$want" ] || why+=" $n: '$(val "$n" "$work/netns")';"
    done
    [ "$(readlink "/proc/$n_pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || why+=" same namespace;"
    exec {n_in}>&-
    verdict attach-other-netns "${why:+$why $(out | tr '\n' '|')}"
else
    skip attach-other-netns "needs root, unshare (util-linux) and ip (iproute2)"
fi

# Failures kashim's own system calls meet, made with a seccomp filter: a kernel without
# pidfd_getfd (before 5.6: ENOSYS), and a setsockopt that fails (as a security policy might).
if command -v gcc >/dev/null 2>&1; then
    cat >"$work/failcall.c" <<'EOF'
/* failcall pidfd_getfd|setsockopt ERRNO CMD...: runs CMD with that system call failing. */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 4) return 125;
    unsigned nr = strcmp(argv[1], "setsockopt") == 0 ? SYS_setsockopt : SYS_pidfd_getfd;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)atoi(argv[2])),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("failcall");
        return 125;
    }
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    return 127;
}
EOF
    if gcc -O -o "$work/failcall" "$work/failcall.c" 2>"$work/err"; then
        start_server e
        e_pid=$started_pid e_in=$started_in e_out=$started_out
        run "$work/failcall" pidfd_getfd 38 "$KB" --attach "$e_pid"   # 38: ENOSYS
        ask "$e_in" "$e_out" report "$work/enosys"
        why=""
        [ "$rc" = 1 ] || why+=" exit $rc;"
        grep -q "^kashim: --attach $e_pid: this kernel has no pidfd_getfd; attach needs Linux 5.6 or newer" "$work/err" || why+=" message;"
        [ "$(val c1 "$work/enosys" | cut -d' ' -f1)" = 0 ] || why+=" c1 changed;"
        verdict attach-needs-linux-5.6 "${why:+$why $(err)}"

        run "$work/failcall" setsockopt 1 "$KB" --attach "$e_pid" --idle 30   # 1: EPERM
        ask "$e_in" "$e_out" report "$work/eperm"
        exec {e_in}>&-
        why=""
        [ "$rc" = 1 ] || why+=" exit $rc (expected 1: sockets could not be configured);"
        [ "$(out | grep -c 'FAILED: setsockopt TCP_KEEPIDLE=30: Operation not permitted$')" = 6 ] || why+=" expected 6 FAILED rows;"
        [ "$(out | tail -n 1)" = "5 of 6 connections at risk (no keepalive, or a first probe after more than 30s idle)" ] || why+=" last line;"
        [ ! -s "$work/err" ] || why+=" stderr: $(err);"
        [ "$(val c1 "$work/eperm" | cut -d' ' -f1)" = 0 ] || why+=" c1 changed;"
        verdict attach-reports-what-failed "${why:+$why $(out | tr '\n' '|')}"
    else
        fail attach-needs-linux-5.6 "cannot build the seccomp helper: $(err)"
        fail attach-reports-what-failed "cannot build the seccomp helper"
    fi
else
    skip attach-needs-linux-5.6 "gcc not installed"
    skip attach-reports-what-failed "gcc not installed"
fi

# ---------------------------------------------------------------- the one rule (issue 19)
# ka.py: an sshd-style server started WITHOUT kashim: the client and each accepted connection
# turn SO_KEEPALIVE on and leave the kernel's default timers. With the argument "redis" it sets
# its own timers on each accepted connection instead (Redis's tcp-keepalive 300: 300/100/3).
# Commands on standard input: report (as asrv.py), connect (one more pair c2/a2).
cat >"$work/ka.py" <<'EOF'
import os, socket, sys
T = socket.IPPROTO_TCP
redis = sys.argv[1:] == ["redis"]
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8)
def pair():
    c = socket.socket()
    if not redis:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.connect(l.getsockname()); a, _ = l.accept()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if redis:
        for o, v in ((socket.TCP_KEEPIDLE, 300), (socket.TCP_KEEPINTVL, 100), (socket.TCP_KEEPCNT, 3)):
            a.setsockopt(T, o, v)
    return c, a
named = {"listener": l}
named["c"], named["a"] = pair()
def opts(s):
    return " ".join(str(s.getsockopt(*o)) for o in ((socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        (T, socket.TCP_KEEPIDLE), (T, socket.TCP_KEEPINTVL), (T, socket.TCP_KEEPCNT), (T, socket.TCP_USER_TIMEOUT)))
print(os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.split()[0]
    if cmd == "report":
        for k, s in named.items():
            print(k, opts(s))
    elif cmd == "connect":
        named["c2"], named["a2"] = pair()
    print("end", flush=True)
EOF
# start_ka NAME [ARG]: like start_server, for ka.py.
start_ka() {
    local name=$1; shift
    start_python "$name" "$PY" "$work/ka.py" "$@"
}
ka_time=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)

start_ka ssh
ka_pid=$started_pid ka_in=$started_in ka_out=$started_out
run "$KB" --inspect "$ka_pid"
why=""
[ "$rc" = 1 ] || why+=" exit $rc (expected 1: at risk);"
[ "$(out | grep -c "yes (kernel defaults), fires in .*  AT RISK: first probe after ${ka_time}s > 60s$")" = 2 ] ||
    why+=" expected 2 rows 'yes (kernel defaults) ... AT RISK';"
[ "$(out | tail -n 1)" = "2 of 2 connections at risk (no keepalive, or a first probe after more than 60s idle)" ] || why+=" last line;"
verdict inspect-default-timers-at-risk "${why:+$why $(out | tr '\n' '|') $(err)}"

run "$KB" --inspect "$ka_pid" --idle 3h
why=""
[ "$rc" = 0 ] || why+=" exit $rc: $(err);"
[ "$(out | tail -n 1)" = "0 of 2 connections at risk (no keepalive, or a first probe after more than 10800s idle)" ] || why+=" last line;"
verdict inspect-threshold "${why:+$why $(out | tr '\n' '|')}"

run "$KB" --attach "$ka_pid"
cp "$work/out" "$work/ka-attach.out"; ka_rc=$rc
ask "$ka_in" "$ka_out" connect "$work/null"
ask "$ka_in" "$ka_out" report "$work/ka-after"
exec {ka_in}>&-
why=""
[ "$ka_rc" = 0 ] || why+=" exit $ka_rc: $(err);"
for n in listener c a a2; do
    [ "$(val "$n" "$work/ka-after")" = "1 60 10 6 0" ] || why+=" $n: '$(val "$n" "$work/ka-after")';"
done
[ "$(grep -c "configured (keepalive was on with the kernel's default timers)$" "$work/ka-attach.out")" = 2 ] || why+=" expected 2 default-timers rows;"
grep -q "accepts from now on inherit keepalive from its listening socket(s); connections" "$work/ka-attach.out" || why+=" note on accepted connections;"
verdict attach-sshd-style-without-force "${why:+$why $(tr '\n' '|' <"$work/ka-attach.out")}"

# A Redis-style server sets its own (long) timers on each accepted connection: attach leaves
# them (at risk: exit 1, the note names --force=cap), and says later accepted ones keep them.
start_ka redis redis
rd_pid=$started_pid rd_in=$started_in rd_out=$started_out
run "$KB" --attach "$rd_pid"
cp "$work/out" "$work/rd-attach.out"; rd_rc=$rc
ask "$rd_in" "$rd_out" connect "$work/null"
ask "$rd_in" "$rd_out" report "$work/rd-after"
why=""
[ "$rd_rc" = 1 ] || why+=" exit $rd_rc (expected 1: a connection at risk);"
[ "$(val a "$work/rd-after")" = "1 300 100 3 0" ] || why+=" a: '$(val a "$work/rd-after")';"
[ "$(val c "$work/rd-after")" = "1 60 10 6 0" ] || why+=" c: '$(val c "$work/rd-after")';"
grep -q "AT RISK: first probe after 300s > 60s  left alone: the program's own keepalive$" "$work/rd-attach.out" || why+=" no at-risk row;"
grep -q "^note: 1 connection(s) keep the program's own timers, .*--force=cap lowers them" "$work/rd-attach.out" || why+=" no --force=cap note;"
grep -q "^note: process $rd_pid sets keepalive itself on the connections it accepts" "$work/rd-attach.out" || why+=" no note on its accepted connections;"
# What the note says holds: the connection accepted after attach has the program's 300 s.
[ "$(val a2 "$work/rd-after")" = "1 300 100 3 0" ] || why+=" a2 (accepted later): '$(val a2 "$work/rd-after")';"
verdict attach-programs-own-long-timers "${why:+$why $(tr '\n' '|' <"$work/rd-attach.out")}"

# --force=cap lowers the longer timers and keeps the shorter ones: a's 300/100/3 becomes
# 120/30/3, c's 60/10/6 (kashim's, from the attach before) 60/10/5; c2, opened since with
# keepalive off, is configured.
run "$KB" --attach "$rd_pid" --force=cap --idle 120 --interval 30 --count 5
ask "$rd_in" "$rd_out" report "$work/rd-cap"
exec {rd_in}>&-
why=""
[ "$rc" = 0 ] || why+=" exit $rc: $(err);"
for n in a a2; do
    [ "$(val "$n" "$work/rd-cap")" = "1 120 30 3 0" ] || why+=" $n: '$(val "$n" "$work/rd-cap")';"
done
[ "$(val c "$work/rd-cap")" = "1 60 10 5 0" ] || why+=" c: '$(val c "$work/rd-cap")';"
[ "$(val c2 "$work/rd-cap")" = "1 120 30 5 0" ] || why+=" c2: '$(val c2 "$work/rd-cap")';"
[ "$(out | grep -c 'capped (--force=cap lowered the program.s longer timers)$')" = 4 ] || why+=" expected 4 'capped' rows;"
verdict attach-force-cap "${why:+$why $(out | tr '\n' '|') $(err)}"

# A real sshd (TCPKeepAlive yes, its default) started without kashim: the connection it accepts
# has SO_KEEPALIVE on with the kernel's timers. --inspect calls it at risk, --attach without
# --force gives it kashim's timers; ss (the kernel's keepalive timer) shows the change.
sshd=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd" ] || [ "$(id -u)" != 0 ] || ! command -v ss >/dev/null 2>&1; then
    skip attach-real-sshd "needs root, sshd (openssh-server) and ss (iproute2)"
else
    ssh-keygen -q -N '' -t ed25519 -f "$work/hostkey" >/dev/null 2>&1
    made_privsep=0
    [ -d /run/sshd ] || { mkdir -m 755 /run/sshd && made_privsep=1; } # sshd's fixed privilege-separation dir
    sport=$(free_port)
    timeout 60 "$sshd" -D -f /dev/null -h "$work/hostkey" -o "ListenAddress=127.0.0.1:$sport" >"$work/sshd.log" 2>&1 &
    sshd_pid=$!; pids+=("$sshd_pid")
    # A client that connects, reads the banner and then holds the connection.
    coproc SSHC { exec "$PY" -c 'import socket, sys
for _ in range(100):
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        import time; time.sleep(0.1)
print(c.recv(100).decode().strip(), flush=True)
sys.stdin.read()' "$sport" 2>&1; }
    # shellcheck disable=SC2153 # SSHC_PID is set by coproc
    sshc_pid=$SSHC_PID sshc_in=${SSHC[1]}; pids+=("$sshc_pid")
    IFS= read -r -t 20 banner <&"${SSHC[0]}"
    # The sshd process that holds the accepted connection (a child of the listening one).
    child=""
    for _ in $(seq 50); do
        child=$(ss -Htnp state established "( sport = :$sport )" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
        [ -n "$child" ] && break
        sleep 0.1
    done
    why=""
    [[ $banner == SSH-2.0-* ]] || why+=" no banner: '$banner' $(cat "$work/sshd.log");"
    ss_timer() { ss -Htno state established "( sport = :$sport )" | sed -n 's/.*timer:(keepalive,\([^,]*\),.*/\1/p'; }
    before=$(ss_timer)
    run "$KB" --inspect "$child"
    [ "$rc" = 1 ] || why+=" inspect exit $rc;"
    grep -q "127.0.0.1:$sport .*yes (kernel defaults), .*AT RISK: first probe after ${ka_time}s > 60s$" "$work/out" || why+=" inspect: $(out | tr '\n' '|');"
    run "$KB" --attach "$child"
    [ "$rc" = 0 ] || why+=" attach exit $rc: $(err);"
    grep -q "127.0.0.1:$sport .*60s/10s/6 .*configured (keepalive was on with the kernel's default timers)$" "$work/out" || why+=" attach: $(out | tr '\n' '|');"
    after=$(ss_timer)
    # ss: the kernel's keepalive timer, in minutes before (120min), in seconds (<= 60) after.
    [[ $before == *min ]] || why+=" ss before: '$before';"
    { [[ $after =~ ^([0-9.]+)sec$ ]] && [ "${BASH_REMATCH[1]%.*}" -le 60 ]; } || why+=" ss after: '$after';"
    exec {sshc_in}>&-
    stop_with_children "$sshd_pid"
    [ $made_privsep = 1 ] && rmdir /run/sshd 2>/dev/null
    verdict attach-real-sshd "$why"
fi

# A zombie and a kernel thread have no sockets: one line each, exit 1. The zombie's parent is a
# python3 that never waits for it (a shell may reap a finished background job before it execs).
python3 -c 'import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
open(sys.argv[1], "w").write(str(pid))
time.sleep(30)' "$work/zombie.pid" &
pids+=("$!")
# The child turns zombie once it has exited: on a loaded machine that takes a moment.
zombie_pid="" zombie_state=""
for _ in $(seq 50); do
    sleep 0.1
    zombie_pid=$(cat "$work/zombie.pid" 2>/dev/null)
    zombie_state=$(awk '{print $3}' "/proc/$zombie_pid/stat" 2>/dev/null)
    [ "$zombie_state" = Z ] && break
done
why=""
# refused_in_one_line PID LABEL LINE: --attach and --inspect of PID each exit 1 with nothing on
# stdout and one stderr line, "kashim: MODE PID: " then LINE (a grep pattern).
refused_in_one_line() {
    local mode
    for mode in --attach --inspect; do
        run "$KB" "$mode" "$1"
        [ "$rc" = 1 ] && [ ! -s "$work/out" ] && [ "$(grep -c '' "$work/err")" = 1 ] &&
            grep -q "^kashim: $mode $1: $3" "$work/err" ||
            why+=" $mode $2: exit $rc, $(err) $(out | tail -n 1);"
    done
}
if [ "$zombie_state" = Z ]; then
    refused_in_one_line "$zombie_pid" zombie "process $zombie_pid (python3) is a zombie"
else
    why+=" no zombie to test with;"
fi
kthread=2
if [ $(( $(awk '{print $9}' /proc/$kthread/stat) & 0x200000 )) != 0 ]; then
    refused_in_one_line "$kthread" "kernel thread" "$kthread (.*) is a kernel thread"
else
    why+=" PID 2 is not a kernel thread here;"
fi
verdict attach-inspect-zombie-and-kernel-thread "$why"

# The whole host: kashim --inspect without a PID, in a PID namespace of its own (so that only
# this test's processes are the host): the sshd-style server is reported with its connections
# at risk (exit 1); after --attach nothing is (exit 0).
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
    cat >"$work/host.sh" <<'EOF'
# host.sh PY KA KASHIM WORK: runs in a new PID namespace with its own /proc.
exec 3> >("$1" "$2" >"$4/host-ka.out")
sleep 1
pid=$(head -n 1 "$4/host-ka.out")
"$3" --inspect >"$4/host1.out" 2>&1; echo "rc $?" >>"$4/host1.out"
"$3" --inspect --json >"$4/host1.json" 2>&1
"$3" --attach "$pid" >/dev/null 2>&1
"$3" --inspect >"$4/host2.out" 2>&1; echo "rc $?" >>"$4/host2.out"
echo "$pid" >"$4/host.pid"
EOF
    timeout 60 unshare -pf --mount-proc bash "$work/host.sh" "$PY" "$work/ka.py" "$KB" "$work" >/dev/null 2>&1
    hpid=$(cat "$work/host.pid" 2>/dev/null)
    why=""
    grep -q "^process $hpid (python3): 2 of 2 connection(s) at risk$" "$work/host1.out" || why+=" no process line;"
    [ "$(grep -c "AT RISK: first probe after ${ka_time}s > 60s" "$work/host1.out")" = 2 ] || why+=" expected 2 rows at risk;"
    grep -q "^host: 2 of 2 connections at risk .* in 1 of 1 processes$" "$work/host1.out" || why+=" host line;"
    [ "$(tail -n 1 "$work/host1.out")" = "rc 1" ] || why+=" before attach: $(tail -n 1 "$work/host1.out");"
    grep -q "^host: 0 of 2 connections at risk .* in 0 of 1 processes$" "$work/host2.out" || why+=" host line after attach;"
    [ "$(tail -n 1 "$work/host2.out")" = "rc 0" ] || why+=" after attach: $(tail -n 1 "$work/host2.out");"
    why+=$("$PY" - "$work/host1.json" "$hpid" 2>&1 <<'EOF' | tail -n 1
import json, sys
d = json.load(open(sys.argv[1]))
bad = []
if (d["connections"], d["at_risk"], d["threshold_s"]) != (2, 2, 60): bad.append("counts")
p = d["processes"]
if len(p) != 1 or p[0]["pid"] != int(sys.argv[2]) or len(p[0]["sockets"]) != 2: bad.append("processes")
elif any(s["at_risk"] is not True or s["keepalive_timers"] != "default_timers" or s["idle_for_s"] is None for s in p[0]["sockets"]): bad.append("sockets")
print(" json: " + "; ".join(bad) if bad else "")
EOF
)
    verdict inspect-whole-host "${why:+$why $(tr '\n' '|' <"$work/host1.out") $(tr '\n' '|' <"$work/host2.out")}"
else
    skip inspect-whole-host "needs root and unshare (util-linux)"
fi

# Default timers are those of the socket's own network namespace: in a namespace whose
# tcp_keepalive_time is 600, an sshd-style connection at 600/75/9 is nobody's choice.
if can_netns; then
    # shellcheck disable=SC2016 # expanded by sh
    tuned_netns=(unshare -n sh -c 'ip link set lo up && sysctl -qw net.ipv4.tcp_keepalive_time=600 && exec "$@"' sh)
    start_server t "${tuned_netns[@]}"
    t_pid=$started_pid t_in=$started_in t_out=$started_out
    ask "$t_in" "$t_out" report "$work/tuned-before"
    run "$KB" --attach "$t_pid" "${opts[@]}"
    ask "$t_in" "$t_out" report "$work/tuned"
    exec {t_in}>&-
    why=""
    [ "$rc" = 0 ] || why+=" exit $rc: $(err);"
    # A new namespace starts with Linux's 75 s interval and 9 probes.
    [ "$(val c3 "$work/tuned-before")" = "1 600 75 9 0" ] ||
        why+=" before: '$(val c3 "$work/tuned-before")';"
    [ "$(val c3 "$work/tuned")" = "$want" ] || why+=" c3: '$(val c3 "$work/tuned")';"
    grep -q "30s/7s/4 ut 50s .*configured (keepalive was on with the kernel's default timers)$" "$work/out" || why+=" no default-timers row;"
    verdict attach-other-netns-own-defaults "${why:+$why $(out | tr '\n' '|')}"
else
    skip attach-other-netns-own-defaults "needs root, unshare (util-linux) and ip (iproute2)"
fi

if command -v shellcheck >/dev/null 2>&1; then
    run shellcheck -x "$0"
    verdict inspect-attach-shellcheck "$( [ "$rc" = 0 ] || out | head -n 5 | tr '\n' ' ')"
else
    skip inspect-attach-shellcheck "shellcheck not installed"
fi
