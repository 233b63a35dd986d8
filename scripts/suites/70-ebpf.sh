#!/usr/bin/env bash
# 70-ebpf: `kashim --ebpf`, for the programs LD_PRELOAD cannot reach. Real cgroups, a real
# sock_ops program, real loopback connections read back with getsockopt.
#
# Each program prints the keepalive options of both ends of a loopback connection as
# "client|server KEEPALIVE IDLE INTVL CNT USER_TIMEOUT"; the chosen values are idle 30 s,
# interval 5 s, count 3, user timeout 20 s, so "1 30 5 3 20000" can only come from kashim
# (the kernel default is "0 7200 75 9 0"; every control below checks that too).
# The suite makes its own cgroups (never attaches to the root cgroup) and removes them, its pins
# and its build directory on exit, even on failure; its last test checks nothing of kashim's is
# left anywhere.
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

here=$LIBKASHIM_ROOT/scripts/suites/70-ebpf
kashim=$LIBKASHIM_ROOT/target/release/kashim
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-ebpf.XXXXXX")
cg=""
cleanup() {
    if [ -n "$cg" ] && [ -d "$cg" ]; then
        "$kashim" --ebpf --cgroup "$cg" --detach >/dev/null 2>&1
        # Any process the tests left in it goes back to the root cgroup first.
        while read -r p; do echo "$p" >"$cg2/cgroup.procs"; done <"$cg/cgroup.procs" 2>/dev/null
        rmdir "$cg" 2>/dev/null
    fi
    rmdir "$cg2/kashim-suite-$$-view" 2>/dev/null
    [ -d "$cg2/kashim-suite-$$-podman" ] && find "$cg2/kashim-suite-$$-podman" -depth -type d -exec rmdir {} + 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- preconditions: each missing piece is a SKIP (a failure under CI), never a silent pass ------
need_skip=""
cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ "$(id -u)" != 0 ]; then
    need_skip="needs root (loads eBPF programs, makes cgroups)"
elif [ ! -x "$kashim" ]; then
    need_skip="kashim not built: $kashim"
elif "$kashim" --ebpf --status 2>&1 | grep -q "built without eBPF support"; then
    need_skip="kashim was built without eBPF support (install clang, llvm and libbpf-dev, then rebuild)"
elif [ -z "$cg2" ]; then
    need_skip="no cgroup v2 mounted"
elif ! command -v gcc >/dev/null 2>&1; then
    need_skip="no gcc"
elif ! gcc -static -O2 -o "$tmp/pair" "$here/pair.c" 2>"$tmp/gcc.err"; then
    need_skip="gcc -static failed (apt-get install libc6-dev): $(head -n 1 "$tmp/gcc.err")"
elif ! gcc -O2 -o "$tmp/uring" "$here/uring.c" -luring 2>"$tmp/gcc.err"; then
    need_skip="cannot build the io_uring test (apt-get install liburing-dev): $(head -n 1 "$tmp/gcc.err")"
elif ! command -v python3 >/dev/null 2>&1; then
    need_skip="no python3"
elif ! command -v strace >/dev/null 2>&1; then
    need_skip="no strace (apt-get install strace)"
elif ! command -v go >/dev/null 2>&1; then
    need_skip="no Go compiler for the Go test program (apt-get install golang-go)"
elif ! (cd "$here" && GOCACHE=$tmp/go-cache GOPATH=$tmp/go CGO_ENABLED=0 GOFLAGS='' \
        go build -o "$tmp/pair-go" pair.go) 2>"$tmp/go.err"; then
    need_skip="cannot build the Go test program: $(head -n 1 "$tmp/go.err")"
fi
if [ -n "$need_skip" ]; then
    skip ebpf "$need_skip"
    exit 0
fi
gcc -O2 -o "$tmp/pair-dynamic" "$here/pair.c"

chosen=(--idle 30s --interval 5s --count 3 --user-timeout 20s)
want_chosen=$'client 1 30 5 3 20000\nserver 1 30 5 3 20000'
want_default=$'client 0 7200 75 9 0\nserver 0 7200 75 9 0'

# expect NAME WANT CMD...: PASS when CMD exits 0 and prints exactly WANT.
expect() {
    local name=$1 want=$2 out; shift 2
    out=$("$@" 2>&1)
    local rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "$want" ]; then
        pass "$name"
    else
        fail "$name" "exit $rc, got: $(printf '%s' "$out" | tr '\n' '|') want: $(printf '%s' "$want" | tr '\n' '|')"
    fi
}
# in_cgroup DIR CMD...: runs CMD inside the cgroup DIR.
in_cgroup() {
    local dir=$1; shift
    sh -c 'echo 0 >"$1/cgroup.procs" && shift && exec "$@"' sh "$dir" "$@"
}

# --- run mode: three kinds of programs LD_PRELOAD cannot reach, each inside kashim --ebpf ------
expect "ebpf run: gcc -static client and server get the chosen keepalive" "$want_chosen" \
    "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair"
expect "ebpf run: io_uring socket/connect/accept get the chosen keepalive" "$want_chosen" \
    "$kashim" --ebpf "${chosen[@]}" -- "$tmp/uring"
expect "ebpf run: a Python program gets the chosen keepalive" "$want_chosen" \
    "$kashim" --ebpf "${chosen[@]}" -- python3 "$here/pair.py"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    expect "ebpf run: IPv6 connections get the chosen keepalive too" "$want_chosen" \
        "$kashim" --ebpf "${chosen[@]}" -- python3 "$here/pair.py" 6
else
    skip "ebpf run: IPv6 connections get the chosen keepalive too" "no IPv6 loopback (::1) here"
fi
# Why the mode exists: the static binary is out of LD_PRELOAD's reach (the same source built
# dynamically is reached, so the library itself works).
expect "control: the static binary under plain LD_PRELOAD is NOT configured" "$want_default" \
    env LD_PRELOAD="$LIBKASHIM" KASHIM_IDLE=30 KASHIM_INTERVAL=5 KASHIM_COUNT=3 KASHIM_USER_TIMEOUT=20s "$tmp/pair"
expect "control: the same program built dynamically IS configured by LD_PRELOAD" "$want_chosen" \
    env LD_PRELOAD="$LIBKASHIM" KASHIM_IDLE=30 KASHIM_INTERVAL=5 KASHIM_COUNT=3 KASHIM_USER_TIMEOUT=20s "$tmp/pair-dynamic"
expect "ebpf run: a program's own SO_KEEPALIVE (idle 999) is kept" \
    $'client 1 999 75 9 0\nserver 1 999 75 9 0' "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair" own
expect "ebpf run: --force overrides the program's own keepalive" "$want_chosen" \
    "$kashim" --ebpf "${chosen[@]}" --force -- "$tmp/pair" own
expect "ebpf run: KASHIM_FORCE=cap lowers the program's own longer values (idle 999 -> 30, 75 -> 5, 9 -> 3)" \
    $'client 1 30 5 3 0\nserver 1 30 5 3 0' env KASHIM_FORCE=cap "$kashim" --ebpf --idle 30 --interval 5 --count 3 -- "$tmp/pair" own
expect "ebpf run: KASHIM_FORCE=cap keeps the program's own shorter values (idle 999 < 3000)" \
    $'client 1 999 5 3 0\nserver 1 999 5 3 0' env KASHIM_FORCE=cap "$kashim" --ebpf --idle 3000 --interval 5 --count 3 -- "$tmp/pair" own
# After the connection is up: Go's net.Dial and Accept turn keepalive on with idle 15 s and
# interval 15 s themselves (pair-go), as pair.c's "after" mode does; "off" turns it off. --force
# and --force=cap hold against those calls (kashim's setsockopt program), as the library does.
expect "ebpf run --force: a Go client and server, which set 15/15 after connecting, end at kashim's 33/5/4" \
    $'client 1 33 5 4 0\nserver 1 33 5 4 0' "$kashim" --ebpf --force --idle 33 --interval 5 --count 4 -- "$tmp/pair-go"
expect "ebpf run --force=cap: Go's own 15/15 are lowered to kashim's 10/5 (count 3)" \
    $'client 1 10 5 3 0\nserver 1 10 5 3 0' "$kashim" --ebpf --force=cap --idle 10 --interval 5 --count 3 -- "$tmp/pair-go"
expect "ebpf run --force=cap: Go's own 15/15 stand where kashim's are longer (idle 60, interval 20)" \
    $'client 1 15 15 3 0\nserver 1 15 15 3 0' "$kashim" --ebpf --force=cap --idle 60 --interval 20 --count 3 -- "$tmp/pair-go"
expect "ebpf run: without --force, Go's own 15/15 after connecting stand (count stays kashim's 3)" \
    $'client 1 15 15 3 0\nserver 1 15 15 3 0' "$kashim" --ebpf --idle 30 --interval 5 --count 3 -- "$tmp/pair-go"
expect "ebpf run --force: a C program's keepalive calls after connecting are replaced by kashim's values" \
    "$want_chosen" "$kashim" --ebpf "${chosen[@]}" --force -- "$tmp/pair" after
expect "ebpf run --force: a C program turning keepalive off after connecting leaves it on" \
    "$want_chosen" "$kashim" --ebpf "${chosen[@]}" --force -- "$tmp/pair" off
expect "ebpf run --force=cap: a C program turning keepalive off after connecting keeps it off" \
    $'client 0 30 5 3 0\nserver 0 30 5 3 0' "$kashim" --ebpf --force=cap --idle 30 --interval 5 --count 3 -- "$tmp/pair" off
# The one rule: SO_KEEPALIVE on with the namespace's default timers (Java's setKeepAlive(true)
# before connecting, sshd's TCPKeepAlive) is not configured: kashim sets its timers.
expect "ebpf run: SO_KEEPALIVE on before connecting with the default timers gets kashim's timers" \
    "$want_chosen" "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair" on
if command -v javac >/dev/null 2>&1 && javac -d "$tmp/java" "$here/KeepAliveFirst.java" 2>"$tmp/err"; then
    expect "ebpf run: a Java client's setKeepAlive(true) before connecting (default timers) gets kashim's timers" \
        $'client 1 30 5 3\nserver 1 30 5 3' "$kashim" --ebpf "${chosen[@]}" -- java -cp "$tmp/java" KeepAliveFirst
else
    skip "ebpf run: a Java client's setKeepAlive(true) before connecting gets kashim's timers" \
        "no javac (apt-get install openjdk-17-jdk-headless): $(head -n 1 "$tmp/err" 2>/dev/null)"
fi
# "The defaults" are those of the connection's network namespace: in one whose idle is 600, on
# with 600/75/9 is not configured, while the host's defaults 7200/75/9 are a choice there.
# shellcheck disable=SC2016 # $1..$3 are the inner shell's
netns_run='ip link set lo up && echo 600 >/proc/sys/net/ipv4/tcp_keepalive_time &&
    "$1" --ebpf --idle 30s --interval 5s --count 3 -- "$2" "$3"'
expect "ebpf run: in a network namespace whose default idle is 600, on with 600/75/9 gets kashim's timers" \
    $'client 1 30 5 3 0\nserver 1 30 5 3 0' unshare -n sh -c "$netns_run" sh "$kashim" "$tmp/pair" on
expect "control: in that namespace, a program's own 7200/75/9 (the host's defaults) stands" \
    $'client 1 7200 75 9 0\nserver 1 7200 75 9 0' unshare -n sh -c "$netns_run" sh "$kashim" "$tmp/pair" own=7200
expect "ebpf run: KASHIM_DIRECTION=outbound configures the connecting end only" \
    $'client 1 30 5 3 20000\nserver 0 7200 75 9 0' env KASHIM_DIRECTION=outbound "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair"
expect "ebpf run: KASHIM_DIRECTION=inbound configures the accepted end only" \
    $'client 0 7200 75 9 0\nserver 1 30 5 3 20000' env KASHIM_DIRECTION=inbound "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair"
# Address rules: the far end of the client is the server's port, that of the accepted socket is
# the client's (ephemeral) port, so a rule with the server's port covers exactly one end.
port=$(free_port) || fail "ebpf run: a free port for the KASHIM_ONLY test" "ten busy ports in a row"
expect "ebpf run: KASHIM_ONLY=127.0.0.1:PORT covers the end whose peer is that port" \
    $'client 1 30 5 3 20000\nserver 0 7200 75 9 0' env KASHIM_ONLY="127.0.0.1:$port" \
    "$kashim" --ebpf "${chosen[@]}" -- python3 "$here/pair.py" "$port"
expect "ebpf run: KASHIM_ONLY=10.0.0.0/8 leaves loopback connections alone" "$want_default" \
    env KASHIM_ONLY=10.0.0.0/8 "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair"
expect "ebpf run: KASHIM_EXCEPT wins over KASHIM_ONLY" "$want_default" \
    env KASHIM_ONLY=127.0.0.0/8 KASHIM_EXCEPT=127.0.0.1 "$kashim" --ebpf "${chosen[@]}" -- "$tmp/pair"
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    # shellcheck disable=SC2016 # $1..$3 are the inner shell's
    expect "ebpf run: KASHIM_ONLY=[::1] covers IPv6 loopback, not IPv4" \
        "$want_chosen"$'\n'"$want_default" sh -c '
            KASHIM_ONLY="[::1]" "$1" --ebpf --idle 30s --interval 5s --count 3 --user-timeout 20s -- python3 "$2" 6 &&
            KASHIM_ONLY="[::1]" "$1" --ebpf -- "$3"' sh "$kashim" "$here/pair.py" "$tmp/pair"
fi
env KASHIM_CHILDREN=0 "$kashim" --ebpf -- "$tmp/pair" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "ebpf run: KASHIM_CHILDREN=0 (a cgroup covers children) is refused with one line, exit 2, COMMAND not run" \
    test $rc -eq 2 -a "$(wc -l <"$tmp/err")" -eq 1 -a ! -s "$tmp/out"
expect "ebpf run: KASHIM_* variables are read like options" $'client 1 40 5 3 0\nserver 1 40 5 3 0' \
    env KASHIM_IDLE=40 KASHIM_INTERVAL=5 KASHIM_COUNT=3 "$kashim" --ebpf -- "$tmp/pair"

# COMMAND starts as it would without kashim: same limits (kashim raises RLIMIT_MEMLOCK only while
# loading), environment, ignored signals, open descriptors, directory and umask.
# shellcheck disable=SC2016 # expanded by the inner shell
inspect_self='ulimit -a; env | grep -v "^_=" | sort; trap; ls /proc/self/fd | wc -l; pwd; umask'
direct=$(sh -c "$inspect_self" 2>&1)
inside=$("$kashim" --ebpf -- sh -c "$inspect_self" 2>&1)
check "ebpf run: COMMAND starts with the same limits, environment, ignored signals, fds, cwd, umask" \
    test "$direct" = "$inside"
# Exit status and signals pass through; the run's cgroup is gone afterwards.
# runs_left: kashim run/probe cgroups left behind. Other kashim runs may be going on at the same time
# (another suite, the firewall lab): a cgroup with processes, or whose kashim is alive, or that is
# gone a second later, is not left behind.
runs_left() {
    local d n pid left="" pass
    for pass in 1 2; do
        left=""
        while IFS= read -r d; do
            grep -q "^populated 1" "$d/cgroup.events" 2>/dev/null && continue
            n=${d##*/}; pid=${n#kashim-*-}; pid=${pid%%.*}
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = kashim ] && continue
            left="$left $d"
        done < <(find "$cg2" -maxdepth 6 -type d \( -name 'kashim-run-*' -o -name 'kashim-probe-*' \) 2>/dev/null)
        [ -z "$left" ] || [ $pass = 2 ] && break
        sleep 1
    done
    printf '%s' "$left"
}
"$kashim" --ebpf -- sh -c 'exit 7'
check "ebpf run: COMMAND's exit status 7 passes through" test $? -eq 7
"$kashim" --ebpf -- "$tmp/no-such-command" 2>"$tmp/err"
rc=$?
check "ebpf run: a missing COMMAND exits 127 with one line" \
    test $rc -eq 127 -a "$(wc -l <"$tmp/err")" -eq 1
"$kashim" --ebpf -- sleep 30 &
kpid=$!
sleep 0.5
kill -TERM "$kpid"
wait "$kpid"
rc=$?
check "ebpf run: TERM sent to kashim reaches COMMAND, kashim ends the same way (143)" test $rc -eq 143
# A background job of a script starts with INT ignored; --default-signal gives kashim a normal one.
env --default-signal=INT "$kashim" --ebpf -- sleep 30 &
kpid=$!
sleep 0.5
kill -INT "$kpid"
wait "$kpid"
rc=$?
check "ebpf run: INT sent to kashim reaches COMMAND, kashim ends the same way (130)" test $rc -eq 130
# A real Ctrl-C: on a terminal, INT goes to the whole foreground process group, so COMMAND gets
# it from the terminal and kashim must not forward a second one. COMMAND counts what it gets.
python3 - "$kashim" "$tmp/kill.trace" >"$tmp/out" 2>&1 <<'PY'
import os, pty, sys, time
counter = ("import signal, time\n"
           "n = 0\n"
           "def on_int(*_):\n"
           "    global n; n += 1\n"
           "signal.signal(signal.SIGINT, on_int)\n"
           "print('ready', flush=True)\n"
           "end = time.time() + 1.5\n"
           "while time.time() < end: time.sleep(0.05)\n"
           "raise SystemExit(10 + n)\n")
pid, fd = pty.fork()
if pid == 0:
    # strace records kashim's kill() calls: a terminal's Ctrl-C must cause none.
    os.execvp("strace", ["strace", "-f", "-qq", "-e", "trace=kill", "-o", sys.argv[2],
                         sys.argv[1], "--ebpf", "--", sys.executable, "-c", counter])
buf = b""
deadline = time.time() + 10
while b"ready" not in buf and time.time() < deadline:
    buf += os.read(fd, 100)
time.sleep(0.2)
os.write(fd, b"\x03")
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
PY
check "ebpf run: Ctrl-C on a terminal reaches COMMAND once (kashim sends no second one), its status passes (11)" \
    test "$(tail -n 1 "$tmp/out")" = 11 -a -f "$tmp/kill.trace" -a "$(grep -c 'kill(' "$tmp/kill.trace")" = 0
check "ebpf run: no kashim cgroup is left after signals" test -z "$(runs_left)"
start=$(date +%s%N)
"$kashim" --ebpf -- sh -c 'sleep 2 &' 2>"$tmp/err"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "ebpf run: kashim waits for COMMAND's background descendants (${elapsed_ms} ms >= 1900)" \
    test "$elapsed_ms" -ge 1900 -a -z "$(runs_left)" -a ! -s "$tmp/err"

# --- kill -9 of kashim in run mode -----------------------------------------------------------
# COMMAND outlives kashim: its later connections still get keepalive (the programs are pinned),
# and once it has ended the next kashim --ebpf removes the run's cgroup and pins.
own_cg=$cg2$(sed -n 's/^0:://p' /proc/self/cgroup)
# shellcheck disable=SC2016 # $1..$3 are the inner shell's
"$kashim" --ebpf "${chosen[@]}" -- sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; exec python3 "$2" >"$3"' \
    sh "$tmp/go-on" "$here/pair.py" "$tmp/after-kill" &
kpid=$!
run_dir=$own_cg/kashim-run-$kpid
for _ in $(seq 100); do grep -q "^populated 1" "$run_dir/cgroup.events" 2>/dev/null && break; sleep 0.05; done
run_id=$(stat -c %i "$run_dir" 2>/dev/null)
{ kill -KILL "$kpid" && wait "$kpid"; } 2>/dev/null
bpffs=$(awk '$9 == "bpf" { print $5; exit }' /proc/self/mountinfo)
touch "$tmp/go-on"
for _ in $(seq 100); do [ -s "$tmp/after-kill" ] && break; sleep 0.05; done
check "ebpf run: after kill -9 of kashim, COMMAND's new connections still get the chosen keepalive" \
    test "$(cat "$tmp/after-kill" 2>/dev/null)" = "$want_chosen"
for _ in $(seq 100); do grep -q "^populated 0" "$run_dir/cgroup.events" 2>/dev/null && break; sleep 0.05; done
"$kashim" --ebpf -- true
check "ebpf run: once COMMAND has ended, the next kashim --ebpf removes the killed run's cgroup and pins" \
    test -n "$run_id" -a ! -e "$run_dir" -a ! -e "$bpffs/kashim/run-$run_id" -a ! -e "$bpffs/kashim/run-$run_id-setsockopt"

# --- errors: one line, exit 1, nothing attached ------------------------------------------------
# one_line_error NAME CMD...: exit 1 and exactly one line on stderr, nothing on stdout.
one_line_error() {
    local name=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]; then
        pass "$name ($(cat "$tmp/err"))"
    else
        fail "$name" "exit $rc, stderr: $(tr '\n' '|' <"$tmp/err") stdout: $(tr '\n' '|' <"$tmp/out")"
    fi
}
one_line_error "ebpf error: --cgroup that does not exist" "$kashim" --ebpf --cgroup /sys/fs/cgroup/no-such-kashim-cgroup
one_line_error "ebpf error: --cgroup that is a file" "$kashim" --ebpf --cgroup "$cg2/cgroup.procs"
one_line_error "ebpf error: --cgroup that is a plain directory" "$kashim" --ebpf --cgroup "$tmp"
v1=$(awk '$9 == "cgroup" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$v1" ]; then
    one_line_error "ebpf error: --cgroup that is a cgroup v1 directory" "$kashim" --ebpf --cgroup "$v1"
fi
one_line_error "ebpf error: not root (no CAP_BPF/CAP_NET_ADMIN)" \
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$kashim" --ebpf -- true
# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
one_line_error "ebpf error: no cgroup v2 mounted (private mount namespace without it)" \
    unshare -m sh -c 'umount -l "$1" && exec "$2" --ebpf -- true' sh "$cg2" "$kashim"
check "ebpf errors: nothing attached, no cgroup left" test -z "$(runs_left)"

# --- --cgroup PATH: attach to an existing cgroup, pinned --------------------------------------
cg=$cg2/kashim-suite-$$
mkdir "$cg" || { fail "ebpf --cgroup" "cannot create $cg"; exit 0; }
cg_id=$(stat -c %i "$cg")
"$kashim" --ebpf --cgroup "$cg" "${chosen[@]}" >"$tmp/out" 2>&1
check "ebpf --cgroup: attach succeeds and says earlier connections are untouched" \
    grep -q "established before the attach are not touched" "$tmp/out"
expect "ebpf --cgroup: a static program in the cgroup gets the chosen keepalive" "$want_chosen" \
    in_cgroup "$cg" "$tmp/pair"
expect "control: the same program outside the cgroup is unchanged" "$want_default" "$tmp/pair"
# A connection established before the attach keeps its settings; the later one is configured.
python3 - "$cg" "$kashim" >"$tmp/out" 2>&1 <<'PY'
import os, socket, subprocess, sys
cg, kashim = sys.argv[1], sys.argv[2]
subprocess.run([kashim, "--ebpf", "--cgroup", cg, "--detach"], check=True, capture_output=True)
with open(os.path.join(cg, "cgroup.procs"), "w") as f:
    f.write("0")
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
before = socket.create_connection(l.getsockname()); l.accept()
subprocess.run([kashim, "--ebpf", "--cgroup", cg, "--idle", "30s"], check=True, capture_output=True)
after = socket.create_connection(l.getsockname()); l.accept()
ka = lambda s: (s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE))
print(*ka(before), *ka(after))
PY
check "ebpf --cgroup: a connection from before the attach is untouched, a new one configured" \
    test "$(tail -n 1 "$tmp/out")" = "0 7200 1 30"
# The path as /proc/PID/cgroup shows it (relative to the cgroup v2 mount), as in the systemd recipe.
"$kashim" --ebpf --cgroup "/${cg#"$cg2"/}" --idle 50s --interval 7s --count 4 >/dev/null
expect "ebpf --cgroup: a second attach (PATH as /proc/PID/cgroup names it) replaces the values" \
    $'client 1 50 7 4 0\nserver 1 50 7 4 0' in_cgroup "$cg" "$tmp/pair"
"$kashim" --ebpf --status >"$tmp/status"
check "ebpf --status: lists the cgroup, pinned, with its settings" \
    grep -q "^$cg  *yes  *idle 50s, interval 7s, count 4, user timeout off$" "$tmp/status"
json=$("$kashim" --ebpf --status --json)
check "ebpf --status --json: the same, as JSON" python3 -c '
import json, sys
rows = [r for r in json.loads(sys.argv[1]) if r["cgroup"] == sys.argv[2]]
assert len(rows) == 1 and rows[0]["pinned"] and (rows[0]["idle_s"], rows[0]["interval_s"], rows[0]["count"]) == (50, 7, 4), rows
assert rows[0]["user_timeout_ms"] is None and rows[0]["force"] is False, rows
' "$json" "$cg"
# --cgroup judges "the defaults" by the network namespace of the cgroup's processes (a
# container's own): here one whose default idle is 600, where on with 600/75/9 is not configured.
# shellcheck disable=SC2016 # $1..$3 are the inner shell's
in_cgroup "$cg" unshare -n sh -c 'ip link set lo up && echo 600 >/proc/sys/net/ipv4/tcp_keepalive_time &&
    touch "$3.ready" && exec "$1" on "$2"' sh "$tmp/pair" "$tmp/ns-go" "$tmp/ns-go" >"$tmp/ns-out" 2>&1 &
ns_pid=$!
for _ in $(seq 100); do [ -e "$tmp/ns-go.ready" ] && break; sleep 0.05; done
"$kashim" --ebpf --cgroup "$cg" "${chosen[@]}" >/dev/null
touch "$tmp/ns-go"
wait "$ns_pid"
check "ebpf --cgroup: a process in a network namespace whose default idle is 600 gets kashim's timers for on with 600/75/9" \
    test "$(cat "$tmp/ns-out")" = "$want_chosen"
"$kashim" --ebpf --cgroup "$cg" --detach >"$tmp/out" 2>&1
check "ebpf --detach: succeeds" grep -q "detached from $cg" "$tmp/out"
expect "ebpf --detach: new connections in the cgroup are unchanged afterwards" "$want_default" \
    in_cgroup "$cg" "$tmp/pair"
"$kashim" --ebpf --cgroup "$cg" --detach >"$tmp/out" 2>&1
rc=$?
check "ebpf --detach: a second detach says there is nothing to detach, exit 0" \
    test $rc -eq 0 -a "$(grep -c "nothing to detach" "$tmp/out")" -eq 1
# Nested: a run inside a cgroup whose pinned program has --force. The nearer (run's) program acts
# first, the parent's forced one after it, so the parent's values win; the run must still start.
"$kashim" --ebpf --cgroup "$cg" --force --idle 100s >/dev/null
expect "ebpf run inside a cgroup with a forced kashim program: starts, the forced values win" \
    $'client 1 100 10 6 0\nserver 1 100 10 6 0' in_cgroup "$cg" "$kashim" --ebpf --idle 30s -- "$tmp/pair"
"$kashim" --ebpf --cgroup "$cg" --detach >/dev/null
# --status from a mount namespace that shows only part of the cgroup tree but shares bpffs (a
# privileged tool container): the pin of a cgroup it cannot see stays, and still acts.
view=$cg2/kashim-suite-$$-view
mkdir "$view"
"$kashim" --ebpf --cgroup "$cg" "${chosen[@]}" >/dev/null
# shellcheck disable=SC2016 # $1..$3 are the inner shell's
unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" --ebpf --status' sh "$view" "$cg2" "$kashim" \
    >"$tmp/out" 2>"$tmp/err"
rmdir "$view"
check "ebpf --status in a partial cgroup view: says the pin's cgroup is not visible and keeps it" \
    grep -q "cgroup-$cg_id acts on cgroup id $cg_id, which is not visible from here (kept)" "$tmp/err"
expect "ebpf --status in a partial cgroup view: the cgroup's new connections still get keepalive" \
    "$want_chosen" in_cgroup "$cg" "$tmp/pair"
# A cgroup deleted with the program still pinned (a systemd service that stopped without the
# ExecStopPost): once the kernel has freed it (and detached the program), --status removes the
# dead pin and says so; --detach of the deleted cgroup does the same, exit 0.
# gone_pin_removed CMD...: runs CMD until the pin of cgroup $cg_id is gone (3 s at most; the
# kernel frees a removed cgroup from a worker).
gone_pin_removed() {
    local _
    for _ in $(seq 30); do
        "$@" >"$tmp/out" 2>"$tmp/err" || return 1
        [ -e "$bpffs/kashim/cgroup-$cg_id" ] || return 0
        sleep 0.1
    done
    return 1
}
rmdir "$cg" && cg=""
gone_pin_removed "$kashim" --ebpf --status
check "ebpf --status: removes the pin of a deleted cgroup once the kernel freed it, and says so" \
    grep -q "removed the pin .*cgroup-$cg_id: the kernel reports its cgroup (id $cg_id) gone" "$tmp/err"
cg=$cg2/kashim-suite-$$
mkdir "$cg"
cg_id=$(stat -c %i "$cg")
"$kashim" --ebpf --cgroup "$cg" >/dev/null
rmdir "$cg"
gone_pin_removed "$kashim" --ebpf --cgroup "$cg" --detach
rc=$?
check "ebpf --detach of a deleted cgroup: removes its pin, exit 0 ($(cat "$tmp/out"))" \
    test $rc = 0 -a ! -e "$bpffs/kashim/cgroup-$cg_id" -a ! -e "$bpffs/kashim/cgroup-$cg_id-setsockopt"
cg=""

# --- a real container: podman (runc), attached with the README's recipe ---------------------------
# The image is imported (podman import) from a root holding the static pair: no registry.
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
    skip "ebpf --cgroup on a podman container" "no podman/runc (apt-get install podman runc)"
else
    ctr=kashim-suite-$$
    mkdir -p "$tmp/ctr-root" "$tmp/ctr-shared" "$tmp/ctr-out"
    cp "$tmp/pair" "$tmp/ctr-root/pair"
    tar -C "$tmp/ctr-root" -cf "$tmp/ctr.tar" .
    if podman import -q "$tmp/ctr.tar" "localhost/$ctr" >/dev/null 2>"$tmp/err"; then
        unshare -m "$here/container.sh" "$kashim" "localhost/$ctr" "$ctr" "$ctr-podman" \
            "$tmp/ctr-shared" "$tmp/ctr-out" "${chosen[@]}"
        podman rmi -f "localhost/$ctr" >/dev/null 2>&1
        check "control: a podman container's connection without kashim has no keepalive" \
            test "$(cat "$tmp/ctr-out/control" 2>/dev/null)" = "$want_default"
        check "ebpf --cgroup \"\$(sed -n 's/^0:://p' /proc/PID/cgroup)\" on a podman (runc) container: its new connection gets the chosen keepalive" \
            test "$(cat "$tmp/ctr-out/result" 2>/dev/null)" = "$want_chosen"
        ctr_id=$(cat "$tmp/ctr-out/cgroup_id" 2>/dev/null)
        # shellcheck disable=SC2016 # $1..$3 are the inner shell's
        check "ebpf --detach of the ended container's cgroup: removes its pin ($(cat "$tmp/ctr-out/detach" 2>/dev/null))" \
            sh -c 'grep -q "$1" "$2" && [ ! -e "$3" ]' sh "removed the pin .*/cgroup-$ctr_id: " \
            "$tmp/ctr-out/detach" "$bpffs/kashim/cgroup-$ctr_id"
    else
        fail "ebpf --cgroup on a podman container" "podman import failed: $(head -n 1 "$tmp/err")"
    fi
    find "$cg2/$ctr-podman" -depth -type d -exec rmdir {} + 2>/dev/null
fi

# --- nothing left behind -----------------------------------------------------------------------
check "ebpf: nothing left behind (no kashim cgroup, pin or attached program of this suite)" \
    test -z "$(runs_left)" -a ! -e "$bpffs/kashim/cgroup-$cg_id" -a ! -d "$cg2/kashim-suite-$$" \
    -a "$("$kashim" --ebpf --status | grep -c -e "kashim-suite-$$")" = 0
