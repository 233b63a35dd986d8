#!/usr/bin/env bash
# 60-syscalls: exact system-call counts under kashim, read from strace's decoded output.
#
# c-tests/bench/sysprobe runs socket scenarios between marker calls (write(-1, "KASHIM-MARK ...")),
# once without kashim (the reference) and once under it. For each scenario the calls kashim made
# must equal the reference plus exactly the keepalive options after each TCP socket() (4 calls, 5
# with a user timeout, with the configured values), and nothing at all elsewhere: UDP/Unix/raw
# sockets, failed socket() calls, connect/accept/accept4/close of sockets kashim already configured.
# Start-up may add only the dynamic loader's mapping of libkashim.so and its libraries.
# Counts are exact, so they are tested; times are not (they live in scripts/bench.sh).
#
# The suite also proves it can fail: the same checks run against c-tests/bench/mutant-shim.c, a
# small stand-in library that breaks one promise at a time, and must reject every mutant.
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

bin=$LIBKASHIM_ROOT/c-tests/bin
src=$LIBKASHIM_ROOT/c-tests/bench
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-syscalls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- preconditions: every missing piece is a SKIP (a failure under CI), never a silent pass ------
need_skip=""
if ! command -v strace >/dev/null 2>&1; then
    need_skip="strace is not installed (apt-get install strace)"
elif ! strace -qq -o /dev/null true >/dev/null 2>&1; then
    need_skip="strace cannot trace here (ptrace not permitted: container without CAP_SYS_PTRACE or yama ptrace_scope)"
elif ! command -v cc >/dev/null 2>&1; then
    need_skip="no C compiler (cc) to build c-tests/bench"
fi
if [ -n "$need_skip" ]; then
    skip syscalls "$need_skip"
    exit 0
fi
if [ ! -f "$LIBKASHIM" ]; then
    fail syscalls "library not built: $LIBKASHIM"
    exit 0
fi

mkdir -p "$bin"
build() { # build OUT SRC [flags...]: compile unless up to date
    local out=$1 c=$2; shift 2
    [ "$out" -nt "$c" ] && return 0
    cc -O2 -Wall -o "$out" "$c" "$@"
}
if ! { build "$bin/sysprobe" "$src/sysprobe.c" && build "$bin/empty" "$src/empty.c" &&
       build "$bin/sockbench" "$src/sockbench.c" &&
       build "$bin/mutant-shim.so" "$src/mutant-shim.c" -fPIC -shared -ldl; } >"$tmp/cc.log" 2>&1; then
    fail syscalls-build "compiling c-tests/bench failed: $(tail -n 3 "$tmp/cc.log" | tr '\n' ' ')"
    exit 0
fi

scenarios=(tcp4 tcp4-flags tcp4-proto tcp6 udp4 udp6 unix-stream unix-dgram unix-seqpacket
           raw4-tcp inet-seqpacket tcp4-fails conn connect-plain foreign own-opts)
tcp_regions=(tcp4 tcp4-flags tcp4-proto tcp6 listener client)
plain_regions=(udp4 udp6 unix-stream unix-dgram unix-seqpacket raw4-tcp inet-seqpacket tcp4-fails
               connect accept accept4 close udp4-connect unix-connect-accept own-opts)

# trace OUT LIB [VAR=VAL...] -- PROG [ARGS...]: strace PROG with a clean environment (so no stray
# KASHIM_* from the caller's shell, including test.sh's own LIBKASHIM_ROOT/LIBKASHIM, reaches it) and
# LD_PRELOAD=LIB given to the traced program only ("" = no preload).
trace() {
    local out=$1 lib=$2; shift 2
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    local pre=()
    [ -n "$lib" ] && pre=(-E "LD_PRELOAD=$lib")
    env -i PATH="$PATH" "${vars[@]}" strace -f -qq -s 256 -o "$out" "${pre[@]}" "$@" </dev/null >/dev/null 2>"$out.err"
}

# norm: strace lines without pid, alignment, port numbers, addresses, thread ids and random bytes
# (they differ from run to run).
norm() {
    sed -E 's/^[0-9]+ +//; s/\) +=  */) = /; s/htons\([0-9]+\)/htons(P)/g; s/0x[0-9a-f]+/0xX/g
            s/^(set_tid_address\(.*\) = )[0-9]+$/\1N/; s/^getrandom\("[^"]*"/getrandom("R"/; s/kashim-sysprobe-[0-9]+/kashim-sysprobe-PID/' "$1"
}
# region FILE NAME: the normalized calls between the markers of scenario NAME.
region() {
    norm "$1" | awk -v b="\"KASHIM-MARK begin $2\"" -v e="\"KASHIM-MARK end $2\"" \
        'index($0, e) { on = 0 } on { print } index($0, b) { on = 1 }'
}
# canon: sort each run of consecutive setsockopt calls (the order of the options is not promised).
canon() {
    local line block=()
    while IFS= read -r line; do
        if [[ $line == setsockopt\(* ]]; then block+=("$line"); continue; fi
        if [ ${#block[@]} -gt 0 ]; then printf '%s\n' "${block[@]}" | LC_ALL=C sort; block=(); fi
        printf '%s\n' "$line"
    done
    if [ ${#block[@]} -gt 0 ]; then printf '%s\n' "${block[@]}" | LC_ALL=C sort; fi
}
# expect OPTS: reference calls on stdin, plus after each successful socket() the keepalive options
# OPTS="idle interval count user_timeout_ms" (empty OPTS = add nothing).
expect() {
    local opts=$1 line fd idle intvl cnt ut
    read -r idle intvl cnt ut <<<"$opts"
    while IFS= read -r line; do
        printf '%s\n' "$line"
        if [ -n "$opts" ] && [[ $line =~ ^socket\(.*\)\ =\ ([0-9]+)$ ]]; then
            fd=${BASH_REMATCH[1]}
            echo "setsockopt($fd, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0"
            echo "setsockopt($fd, SOL_TCP, TCP_KEEPIDLE, [$idle], 4) = 0"
            echo "setsockopt($fd, SOL_TCP, TCP_KEEPINTVL, [$intvl], 4) = 0"
            echo "setsockopt($fd, SOL_TCP, TCP_KEEPCNT, [$cnt], 4) = 0"
            [ "$ut" != 0 ] && echo "setsockopt($fd, SOL_TCP, TCP_USER_TIMEOUT, [$ut], 4) = 0"
        fi
    done
}
# cmp_region REF TEST NAME OPTS [REFREGION]: 0 if TEST's calls in region NAME are REF's plus exactly
# OPTS after each socket(); else prints what differs ("+" = extra under test, "-" = missing).
cmp_region() {
    local ref=$1 test=$2 name=$3 opts=$4 d
    region "$ref" "$name" | expect "$opts" | canon >"$tmp/want"
    region "$test" "$name" | canon >"$tmp/got"
    if ! grep -q . "$tmp/want"; then echo "region $name missing from the reference trace"; return 1; fi
    d=$(diff "$tmp/want" "$tmp/got" | grep '^[<>]' | sed 's/^</-/; s/^>/+/' | head -n 6 | tr '\n' ';')
    [ -z "$d" ] && return 0
    echo "$name: $d"
    return 1
}
# cmp_foreign REF TEST NAME connect|accept QUERIES: a TCP socket kashim did not create (made with a
# raw system call, like one inherited across exec) gets the 4 default options at connect() / on the
# accepted socket. QUERIES=yes also allows getsockopt calls (kashim asking the kernel what the socket
# is); QUERIES=no allows nothing but the 4 options. Order-insensitive.
cmp_foreign() {
    local ref=$1 test=$2 name=$3 how=$4 queries=$5 fd d
    region "$ref" "$name" >"$tmp/want.raw"
    if [ "$how" = connect ]; then fd=$(sed -n 's/^connect(\([0-9]*\),.*/\1/p' "$tmp/want.raw")
    else fd=$(sed -n 's/^accept(.*) = \([0-9]*\)$/\1/p' "$tmp/want.raw"); fi
    if [ -z "$fd" ]; then echo "region $name missing from the reference trace"; return 1; fi
    { cat "$tmp/want.raw"; echo "socket() = $fd"; } | expect "$defaults" | grep -v '^socket() = ' | LC_ALL=C sort >"$tmp/want"
    if [ "$queries" = yes ]; then region "$test" "$name" | grep -v '^getsockopt(' | LC_ALL=C sort >"$tmp/got"
    else region "$test" "$name" | LC_ALL=C sort >"$tmp/got"; fi
    d=$(diff "$tmp/want" "$tmp/got" | grep '^[<>]' | sed 's/^</-/; s/^>/+/' | head -n 6 | tr '\n' ';')
    [ -z "$d" ] && return 0
    echo "$name: $d"
    return 1
}
# opts_summary FILE NAME: "N setsockopt (names [values]...)" for the diagnostics.
opts_summary() {
    region "$1" "$2" | awk -F', ' '/^setsockopt\(/ { n++; s = s " " $3 $4 } END { printf "%d setsockopt:%s", n, s }'
}

# run_probe OUT LIB [VAR=VAL...]: trace all scenarios.
run_probe() {
    local out=$1 lib=$2; shift 2
    trace "$out" "$lib" "$@" -- "$bin/sysprobe" "${scenarios[@]}"
}

# check_probe REF TEST OPTS: all regions of a probe run; prints failures, returns 1 if any.
check_probe() {
    local ref=$1 test=$2 opts=$3 r bad=0
    for r in "${tcp_regions[@]}"; do cmp_region "$ref" "$test" "$r" "$opts" || bad=1; done
    for r in "${plain_regions[@]}"; do cmp_region "$ref" "$test" "$r" "" || bad=1; done
    return $bad
}

# check_startup REF TEST LIB [heap]: TEST (a run of c-tests/bin/empty with LIB preloaded) may differ
# from REF only by the loader opening and mapping LIB and its libraries. With "heap", glibc's one-time
# malloc set-up (brk, getrandom of the 8-byte tcache key) is allowed too: a program that never calls
# malloc gets it from the library's first allocation, any other program makes it itself anyway.
loader_calls='^(openat|open|read|pread64|newfstatat|fstat|mmap|mprotect|munmap|close)$'
check_startup() {
    local ref=$1 test=$2 lib=$3 heap=${4:-} bad=0 f deps extra
    local heap_re='^$'
    [ "$heap" = heap ] && heap_re='^(brk\(|getrandom\("R", 8, GRND_NONBLOCK\))'
    # Outside the loader's calls, the two runs must be the same call for call.
    # The check for inherited connections (src/inherited.rs) may add one getpeername per fd 0-2,
    # which are not sockets here (ENOTSOCK); its exact counts are tested in "start-up adoption" below.
    local adopt_re='^getpeername\([012], 0xX, \[128\]\) = -1 ENOTSOCK '
    for f in "$ref" "$test"; do
        norm "$f" | grep -v '^execve(' | grep -Ev "$heap_re" | grep -Ev "$adopt_re" | awk -v re="$loader_calls" \
            '{ n = $0; sub(/\(.*/, "", n) } n !~ re { print }' >"$f.other"
    done
    if [ "$(norm "$test" | grep -Ec "$adopt_re")" -gt 3 ]; then
        echo "more than one getpeername per fd 0-2: $(norm "$test" | grep -E "$adopt_re" | tr '\n' ';')"; bad=1
    fi
    if ! diff -q "$ref.other" "$test.other" >/dev/null; then
        echo "non-loader calls differ: $(diff "$ref.other" "$test.other" | grep '^[<>]' | head -n 4 | tr '\n' ';')"
        bad=1
    fi
    # Every file opened in addition must be LIB or one of its shared-library dependencies.
    deps=$(ldd "$lib" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
    for f in "$ref" "$test"; do
        norm "$f" | sed -nE 's/^open(at)?\([^"]*"([^"]*)".*/\2/p' | LC_ALL=C sort >"$f.opens"
    done
    extra=$(LC_ALL=C comm -13 "$ref.opens" "$test.opens")
    while IFS= read -r f; do
        [ -z "$f" ] && continue
        if [ "$f" != "$lib" ] && ! grep -qxF "$f" <<<"$deps"; then
            echo "opens $f, which is neither $lib nor one of its libraries"; bad=1
        fi
    done <<<"$extra"
    return $bad
}
# startup_added REF TEST: "+N name ..." per system call name, for the diagnostics.
startup_added() {
    local f
    for f in "$1" "$2"; do
        norm "$f" | grep -v '^execve(' | sed -E 's/\(.*//' | LC_ALL=C sort | uniq -c | awk '{ print $2, $1 }' >"$f.counts"
    done
    LC_ALL=C join -a 2 -e 0 -o '0,1.2,2.2' "$1.counts" "$2.counts" |
        awk '{ d = $3 - $2; t += d; if (d) s = s sprintf(" %s %+d", $1, d) } END { printf "total %+d:%s", t, s }'
}

# force_check REF TEST: under KASHIM_FORCE the program's own keepalive calls (region own-opts) reach
# the kernel unchanged (so their results are the kernel's), and each successful one is followed by
# exactly one call putting kashim's default value back (no other call at all).
force_check() {
    local d
    region "$1" own-opts | awk -F', ' '{ print }
        /^setsockopt\(/ && / = 0$/ {
            v = ""
            if ($3 == "SO_KEEPALIVE") v = 1; else if ($3 == "TCP_KEEPIDLE") v = 60
            else if ($3 == "TCP_KEEPINTVL") v = 10; else if ($3 == "TCP_KEEPCNT") v = 6
            if (v != "") { line = $0; sub(/\[[-0-9]+\]/, "[" v "]", line); print line }
        }' >"$tmp/want"
    region "$2" own-opts >"$tmp/got"
    d=$(diff "$tmp/want" "$tmp/got" | grep '^[<>]' | sed 's/^</-/; s/^>/+/' | head -n 6 | tr '\n' ';')
    [ -z "$d" ] && return 0
    echo "own-opts: $d"
    return 1
}

# count_calls FILE NAME: how many NAME calls a `strace -c` summary FILE lists.
count_calls() {
    awk -v n="$2" '$NF == n && $4 ~ /^[0-9]+$/ { c = $4 } END { print c + 0 }' "$1"
}

lib=$LIBKASHIM
mut=$bin/mutant-shim.so
defaults="60 10 6 0"

# --- the reference runs (no kashim) -------------------------------------------------------------
run_probe "$tmp/ref" ""
trace "$tmp/self" "" -- "$bin/sysprobe" self 60 10 6 0 conn
trace "$tmp/start-ref" "" -- "$bin/empty"
trace "$tmp/startm-ref" "" -- "$bin/empty" malloc
if ! grep -q 'KASHIM-MARK end own-opts' "$tmp/ref"; then
    fail syscalls-reference "sysprobe did not run: $(tail -n 2 "$tmp/ref.err" | tr '\n' ' ')"
    exit 0
fi

# --- kashim ------------------------------------------------------------------------------------
run_probe "$tmp/k-def" "$lib"
for r in "${tcp_regions[@]}"; do
    if ! region "$tmp/ref" "$r" | grep -Eq '^socket\(.*\) = [0-9]+$'; then
        skip "syscalls-tcp-$r-adds-4-default-options" "no socket could be created here (no IPv6?)"; continue
    fi
    if out=$(cmp_region "$tmp/ref" "$tmp/k-def" "$r" "$defaults"); then
        pass "syscalls-tcp-$r-adds-4-default-options"
    else fail "syscalls-tcp-$r-adds-4-default-options" "$out"; fi
done
echo "tcp4 under kashim: $(opts_summary "$tmp/k-def" tcp4)"
for r in "${plain_regions[@]}"; do
    if out=$(cmp_region "$tmp/ref" "$tmp/k-def" "$r" ""); then pass "syscalls-$r-adds-nothing"
    else fail "syscalls-$r-adds-nothing" "$out"; fi
done

# TCP sockets kashim did not create: configured once, at connect() / accept().
if out=$(cmp_foreign "$tmp/ref" "$tmp/k-def" foreign-connect connect yes); then pass syscalls-foreign-socket-gets-4-options-at-connect
else fail syscalls-foreign-socket-gets-4-options-at-connect "$out"; fi
if out=$(cmp_foreign "$tmp/ref" "$tmp/k-def" foreign-accept accept yes); then pass syscalls-foreign-listener-accepted-socket-gets-4-options
else fail syscalls-foreign-listener-accepted-socket-gets-4-options "$out"; fi
if out=$(cmp_foreign "$tmp/ref" "$tmp/k-def" foreign-accept-again accept no); then pass syscalls-foreign-listener-second-accept-adds-exactly-4
else fail syscalls-foreign-listener-second-accept-adds-exactly-4 "$out"; fi
for r in foreign-connect foreign-accept foreign-accept-again; do
    echo "$r under kashim: $(opts_summary "$tmp/k-def" "$r"), $(region "$tmp/k-def" "$r" | grep -c '^getsockopt(') getsockopt"
done

# The whole loopback connect/accept exchange under kashim = the program setting the options itself.
if d=$(diff <(norm "$tmp/self" | awk '/KASHIM-MARK begin listener/,/KASHIM-MARK end close/' | canon) \
            <(norm "$tmp/k-def" | awk '/KASHIM-MARK begin listener/,/KASHIM-MARK end close/' | canon)); then
    pass syscalls-connect-accept-equals-program-setting-options-itself
else
    fail syscalls-connect-accept-equals-program-setting-options-itself "$(grep '^[<>]' <<<"$d" | head -n 4 | tr '\n' ';')"
fi

# Configured values arrive in the calls, decoded by strace.
vals=(KASHIM_IDLE=77 KASHIM_INTERVAL=11 KASHIM_COUNT=3)
trace "$tmp/k-val" "$lib" "${vals[@]}" -- "$bin/sysprobe" tcp4 tcp6
bad=""
for r in tcp4 tcp6; do out=$(cmp_region "$tmp/ref" "$tmp/k-val" "$r" "77 11 3 0") || bad+="$out "; done
if [ -z "$bad" ]; then pass syscalls-configured-values-idle77-intvl11-cnt3
else fail syscalls-configured-values-idle77-intvl11-cnt3 "$bad"; fi
echo "tcp4 with KASHIM_IDLE=77 KASHIM_INTERVAL=11 KASHIM_COUNT=3: $(opts_summary "$tmp/k-val" tcp4)"

# A user timeout makes it 5: auto = (idle + interval * count) s, and an explicit value in ms.
trace "$tmp/k-ut" "$lib" "${vals[@]}" KASHIM_USER_TIMEOUT=auto -- "$bin/sysprobe" tcp4 udp4 conn
bad=""
for r in tcp4 listener client; do out=$(cmp_region "$tmp/ref" "$tmp/k-ut" "$r" "77 11 3 110000") || bad+="$out "; done
for r in udp4 connect accept accept4 close; do out=$(cmp_region "$tmp/ref" "$tmp/k-ut" "$r" "") || bad+="$out "; done
if [ -z "$bad" ]; then pass syscalls-user-timeout-auto-adds-5th-option-110000ms
else fail syscalls-user-timeout-auto-adds-5th-option-110000ms "$bad"; fi
echo "tcp4 with KASHIM_USER_TIMEOUT=auto: $(opts_summary "$tmp/k-ut" tcp4)"
trace "$tmp/k-ut2" "$lib" KASHIM_USER_TIMEOUT=2500ms -- "$bin/sysprobe" tcp4
if out=$(cmp_region "$tmp/ref" "$tmp/k-ut2" tcp4 "60 10 6 2500"); then pass syscalls-user-timeout-2500ms
else fail syscalls-user-timeout-2500ms "$out"; fi

# KASHIM_ENABLED=0: pure pass-through, not one call added anywhere.
run_probe "$tmp/k-off" "$lib" KASHIM_ENABLED=0
if out=$(check_probe "$tmp/ref" "$tmp/k-off" ""); then pass syscalls-disabled-adds-nothing
else fail syscalls-disabled-adds-nothing "$(head -n 3 <<<"$out" | tr '\n' ' ')"; fi

# KASHIM_FORCE: the program's own keepalive calls reach the kernel, then kashim's value goes back on.
trace "$tmp/k-force" "$lib" KASHIM_FORCE=1 -- "$bin/sysprobe" own-opts
if out=$(force_check "$tmp/ref" "$tmp/k-force"); then pass syscalls-force-passes-programs-calls-then-restores-kashims-value
else fail syscalls-force-passes-programs-calls-then-restores-kashims-value "$out"; fi

# Start-up: only the loader's mapping of the library (and its dependencies). Exact for a program that
# allocates once (as nearly all do); for main(){} the library's own first allocation may add glibc's
# one-time heap set-up and nothing else. Both additions are printed.
trace "$tmp/start-k" "$lib" -- "$bin/empty"
trace "$tmp/startm-k" "$lib" -- "$bin/empty" malloc
if out=$(check_startup "$tmp/startm-ref" "$tmp/startm-k" "$lib"); then pass syscalls-startup-adds-only-library-loading
else fail syscalls-startup-adds-only-library-loading "$out"; fi
if out=$(check_startup "$tmp/start-ref" "$tmp/start-k" "$lib" heap); then pass syscalls-startup-empty-main-adds-only-loading-and-heap-setup
else fail syscalls-startup-empty-main-adds-only-loading-and-heap-setup "$out"; fi
echo "start-up under kashim adds, C program with one malloc: $(startup_added "$tmp/startm-ref" "$tmp/startm-k")"
echo "start-up under kashim adds, C main(){}:                $(startup_added "$tmp/start-ref" "$tmp/start-k")"

# Start-up adoption of inherited connections (src/inherited.rs): per fd checked one getpeername, at
# most one getsockopt (SO_KEEPALIVE; none under FORCE), none at all when the fd is not a socket;
# getpid only when LISTEN_PID is set. adopt_calls prints the start-up's socket calls in order as
# "name(fd)", from the last execve (the program's) up to its exit.
# adopt_trace OUT LAYOUT [VAR=VAL...]: runs c-tests/bin/empty under kashim and strace with LAYOUT:
#   none  fds 0-2 are /dev/null;  inetd  fds 0 and 1 are one connected loopback TCP socket;
#   activation  LISTEN_FDS=2 LISTEN_PID=<the program>: fd 3 a connected socket, fd 4 a listener.
adopt_trace() {
    local out=$1 layout=$2; shift 2
    env -i PATH="$PATH" "$@" python3 - "$layout" "$out" "$lib" "$bin/empty" <<'PY' >/dev/null 2>"$out.err"
import os, socket, sys
layout, out, lib, empty = sys.argv[1:]
listener = socket.create_server(("127.0.0.1", 0))
client = socket.create_connection(listener.getsockname())
conn, _ = listener.accept()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
if layout == "inetd":
    os.dup2(conn.fileno(), 0)
    os.dup2(conn.fileno(), 1)
elif layout == "activation":
    passed = os.dup(conn.fileno()), os.dup(listener.fileno())  # above 3 and 4, which may be in use
    os.dup2(passed[0], 3)
    os.dup2(passed[1], 4)
pre = "export LISTEN_FDS=2 LISTEN_PID=$$; " if layout == "activation" else ""
os.execvp("strace", ["strace", "-f", "-qq", "-o", out, "sh", "-c",
                     pre + 'exec env LD_PRELOAD="$0" "$1"', lib, empty])
PY
}
adopt_calls() {
    norm "$1" | awk '/^execve\(/ { n = 0 } { line[n++] = $0 } END { for (i = 0; i < n; i++) print line[i] }' |
        sed -nE 's/^(getpid)\(\).*/\1/p; s/^(getpeername|getsockopt|setsockopt)\(([0-9]+),.*/\1(\2)/p' | tr '\n' ' ' | sed 's/ $//'
}
adopt_check() { # NAME LAYOUT EXPECTED [VAR=VAL...]
    local name=$1 layout=$2 want=$3 got; shift 3
    adopt_trace "$tmp/adopt-$name" "$layout" "$@"
    got=$(adopt_calls "$tmp/adopt-$name")
    echo "start-up adoption, $name: $got"
    if [ "$got" = "$want" ]; then pass "syscalls-startup-adoption-$name"
    else fail "syscalls-startup-adoption-$name" "want [$want], got [$got]"; fi
}
if command -v python3 >/dev/null 2>&1; then
    k4='setsockopt(0) setsockopt(0) setsockopt(0) setsockopt(0)'
    adopt_check not-sockets none 'getpeername(0) getpeername(1) getpeername(2)'
    adopt_check inetd inetd "getpeername(0) getsockopt(0) $k4 getpeername(1) getsockopt(1) getpeername(2)"
    adopt_check inetd-force inetd "getpeername(0) $k4 getpeername(1) ${k4//(0)/(1)} getpeername(2)" KASHIM_FORCE=1
    adopt_check activation activation "getpeername(0) getpeername(1) getpeername(2) getpid getpeername(3) getsockopt(3) ${k4//(0)/(3)} getpeername(4)"
    adopt_check disabled inetd '' KASHIM_ENABLED=0
    if grep -q 'setsockopt(0, SOL_TCP, TCP_KEEPIDLE, \[60\]' "$tmp/adopt-inetd"; then pass syscalls-startup-adoption-values
    else fail syscalls-startup-adoption-values "no TCP_KEEPIDLE 60 on fd 0 in the inetd trace"; fi
else
    skip syscalls-startup-adoption "python3 not found (it sets up the inherited sockets)"
fi

# Start-up cost (issue 11): the constructor finds libc's functions in one pass over the loaded
# objects' hash tables (src/real/scan.rs), not with one dlsym(RTLD_NEXT) each. The loader's own
# trace (LD_DEBUG=bindings) shows every dlsym binding of a hooked name from the library to libc:
# none may be left (before the one-pass lookup there were 19).
hooked='socket|connect|accept4?|setsockopt|close|dup[23]?|fcntl(64)?|fclose|freopen(64)?|close_range|closefrom|vfork|dlopen|dlmopen'
lookups=$(env -i LD_DEBUG=bindings LD_PRELOAD="$lib" "$bin/empty" 2>&1 |
    grep -E "binding file [^ ]*${lib##*/} .* to [^ ]*libc\.so[^ ]* .*normal symbol .($hooked)'" | grep -c .)
if [ "$lookups" = 0 ]; then pass syscalls-startup-no-dlsym-of-hooked-functions
else fail syscalls-startup-no-dlsym-of-hooked-functions "$lookups hooked functions looked up with dlsym at start-up (want 0)"; fi

# The same in `strace -c` form, over a loop: 100 TCP sockets = exactly 400 setsockopt; 100 UDP = 0;
# 50 loopback connections (listener + 50 clients, plus the bench's own SO_LINGER on each accepted
# socket) = 4 * 51 + 50 = 254, exactly what the program setting the options itself makes.
ccount() { # ccount OUT LIB -- ARGS: strace -c summary of sockbench
    local out=$1 l=$2; shift 3
    local pre=()
    [ -n "$l" ] && pre=(-E "LD_PRELOAD=$l")
    env -i PATH="$PATH" strace -f -c -o "$out" "${pre[@]}" "$bin/sockbench" "$@" >/dev/null 2>&1
}
ccount "$tmp/c-tcp-k" "$lib" -- tcp 100
ccount "$tmp/c-tcp-0" "" -- tcp 100
ccount "$tmp/c-udp-k" "$lib" -- udp 100
ccount "$tmp/c-unix-k" "$lib" -- unix 100
ccount "$tmp/c-conn-k" "$lib" -- conn 50
ccount "$tmp/c-conn-s" "" -- conn 50 self 60 10 6
got="tcp $(count_calls "$tmp/c-tcp-k" setsockopt)/$(count_calls "$tmp/c-tcp-0" setsockopt) udp $(count_calls "$tmp/c-udp-k" setsockopt) unix $(count_calls "$tmp/c-unix-k" setsockopt) conn $(count_calls "$tmp/c-conn-k" setsockopt)/$(count_calls "$tmp/c-conn-s" setsockopt)"
echo "strace -c setsockopt counts (kashim/without or /self): $got"
if [ "$got" = "tcp 400/0 udp 0 unix 0 conn 254/254" ]; then pass syscalls-strace-c-loop-counts
else fail syscalls-strace-c-loop-counts "want 'tcp 400/0 udp 0 unix 0 conn 254/254', got '$got'"; fi

# --- scope rules (KASHIM_ONLY/EXCEPT/DIRECTION): decided at connect()/accept() -------------------
# socket() adds nothing; a matching connection gets exactly 4 options (5 with a user timeout), a
# non-matching one none. With address rules each accept() asks the kernel for the peer (getpeername).
run_probe "$tmp/k-scope" "$lib" KASHIM_ONLY=127.0.0.1
bad=""
for r in tcp4 tcp4-flags tcp4-proto tcp6 listener client "${plain_regions[@]}"; do
    case $r in connect|accept|accept4) continue ;; esac
    out=$(cmp_region "$tmp/ref" "$tmp/k-scope" "$r" "") || bad+="$out "
done
if [ -z "$bad" ]; then pass syscalls-scope-socket-adds-nothing
else fail syscalls-scope-socket-adds-nothing "$bad"; fi
# region_calls FILE NAME: "N setsockopt M getpeername" in a region.
region_calls() {
    echo "$(region "$1" "$2" | grep -c '^setsockopt(') setsockopt $(region "$1" "$2" | grep -c '^getpeername(') getpeername"
}
got="connect: $(region_calls "$tmp/k-scope" connect), accept: $(region_calls "$tmp/k-scope" accept), accept4: $(region_calls "$tmp/k-scope" accept4)"
echo "KASHIM_ONLY=127.0.0.1, loopback exchange: $got"
if [ "$got" = "connect: 4 setsockopt 0 getpeername, accept: 4 setsockopt 1 getpeername, accept4: 4 setsockopt 1 getpeername" ]; then
    pass syscalls-scope-matching-connection-gets-4-options-at-connect-and-accept
else fail syscalls-scope-matching-connection-gets-4-options-at-connect-and-accept "got '$got'"; fi
# scount OUT [VAR=VAL...] -- ARGS: strace -c summary of sockbench under kashim with VARs.
scount() {
    local out=$1; shift
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    env -i PATH="$PATH" "${vars[@]}" strace -f -c -o "$out" -E "LD_PRELOAD=$lib" "$bin/sockbench" "$@" </dev/null >/dev/null 2>&1
}
# 50 loopback connections (+ the bench's own SO_LINGER on each accepted socket = 50 calls).
scount "$tmp/s-all" KASHIM_ONLY=127.0.0.1 -- conn 50
scount "$tmp/s-none" KASHIM_ONLY=10.0.0.0/8 -- conn 50
scount "$tmp/s-out" KASHIM_DIRECTION=outbound -- conn 50
scount "$tmp/s-in" KASHIM_DIRECTION=inbound -- conn 50
scount "$tmp/s-exc" KASHIM_EXCEPT=127.0.0.0/8 -- conn 50
scount "$tmp/s-ut" KASHIM_ONLY=127.0.0.1 KASHIM_USER_TIMEOUT=auto -- conn 50
scount "$tmp/s-tcp" KASHIM_ONLY=127.0.0.1 -- tcp 100
scount "$tmp/s-udp" KASHIM_ONLY=127.0.0.1 -- udp 100
got="all $(count_calls "$tmp/s-all" setsockopt) none $(count_calls "$tmp/s-none" setsockopt) out $(count_calls "$tmp/s-out" setsockopt) in $(count_calls "$tmp/s-in" setsockopt) except $(count_calls "$tmp/s-exc" setsockopt) ut $(count_calls "$tmp/s-ut" setsockopt) tcp $(count_calls "$tmp/s-tcp" setsockopt) udp $(count_calls "$tmp/s-udp" setsockopt) getpeername +$(( $(count_calls "$tmp/s-all" getpeername) - $(count_calls "$tmp/s-out" getpeername) )) getsockopt $(count_calls "$tmp/s-all" getsockopt)"
echo "strace -c setsockopt counts under scope rules: $got"
# getpeername: those address rules add (one per accept), over a run with a direction only.
want="all 450 none 50 out 250 in 250 except 50 ut 550 tcp 0 udp 0 getpeername +50 getsockopt 0"
if [ "$got" = "$want" ]; then pass syscalls-scope-strace-c-counts-4-per-matching-0-per-other
else fail syscalls-scope-strace-c-counts-4-per-matching-0-per-other "want '$want', got '$got'"; fi

# --- self-check: the checks above must reject a library that breaks a promise --------------------
# The reference mutant (no fault) must pass them all, else the checks, not the library, are wrong.
run_probe "$tmp/m-good" "$mut"
trace "$tmp/m-good-val" "$mut" "${vals[@]}" -- "$bin/sysprobe" tcp4 tcp6
trace "$tmp/m-good-start" "$mut" -- "$bin/empty" malloc
trace "$tmp/m-good-force" "$mut" KASHIM_FORCE=1 -- "$bin/sysprobe" own-opts
if out=$({ check_probe "$tmp/ref" "$tmp/m-good" "$defaults" &&
           cmp_region "$tmp/ref" "$tmp/m-good-val" tcp4 "77 11 3 0" &&
           check_startup "$tmp/startm-ref" "$tmp/m-good-start" "$mut" &&
           force_check "$tmp/ref" "$tmp/m-good-force"; } 2>&1); then
    pass syscalls-selfcheck-correct-stand-in-accepted
else
    fail syscalls-selfcheck-correct-stand-in-accepted "checks reject a correct stand-in library: $out"
fi

# detected NAME CHECK...: PASS if CHECK fails (the fault is seen), FAIL if it passes.
detected() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then fail "syscalls-selfcheck-detects-$name" "the check passed a faulty library"
    else pass "syscalls-selfcheck-detects-$name"; echo "  seen: $(head -n 1 <<<"$out" | cut -c1-150)"; fi
}
detected no-library check_probe "$tmp/ref" "$tmp/ref" "$defaults"
detected foreign-not-configured cmp_foreign "$tmp/ref" "$tmp/ref" foreign-accept-again accept no
detected foreign-left-alone-by-stand-in cmp_foreign "$tmp/ref" "$tmp/m-good" foreign-connect connect yes
for f in all-sockets on-connect on-accept three; do
    run_probe "$tmp/m-$f" "$mut" "MUTANT_FAULT=$f"
    detected "$f" check_probe "$tmp/ref" "$tmp/m-$f" "$defaults"
done
trace "$tmp/m-env" "$mut" "${vals[@]}" MUTANT_FAULT=ignore-env -- "$bin/sysprobe" tcp4 tcp6
detected ignore-env cmp_region "$tmp/ref" "$tmp/m-env" tcp4 "77 11 3 0"
trace "$tmp/m-start" "$mut" MUTANT_FAULT=startup -- "$bin/empty"
detected startup-file-read check_startup "$tmp/start-ref" "$tmp/m-start" "$mut" heap
trace "$tmp/m-force" "$mut" KASHIM_FORCE=1 MUTANT_FAULT=no-force -- "$bin/sysprobe" own-opts
detected no-force force_check "$tmp/ref" "$tmp/m-force"
exit 0
