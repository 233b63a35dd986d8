#!/usr/bin/env bash
# Builds the C test programs and runs each under LD_PRELOAD=libkashim.so in the situations it is
# meant for. Prints PASS/FAIL/SKIP lines for scripts/test.sh. Usage: c-tests/run.sh [LIB]
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib/suite.sh"
lib=${1:-${LIBKASHIM:-$here/../target/release/libkashim.so}}
bin=$here/bin
mkdir -p "$bin"

if ! command -v gcc >/dev/null; then
    echo "SKIP c-tests: gcc not found"
    exit 0
fi
build() { # name sources...
    local name=$1; shift
    gcc -O1 -Wall -Werror -pthread -o "$bin/$name" "$@" 2>&1 || echo "FAIL build $name: gcc failed"
}
for t in socket_test connect_test accept_test setsockopt_test threads_test fork_test signal_test highfd_test errno_probe log_test secure_probe dup_test close_test vfork_test envexec stress_test; do
    build "$t" "$here/$t.c"
done
gcc -O1 -Wall -Werror -shared -fPIC -o "$bin/libctor_lib.so" "$here/ctor_lib.c" || echo "FAIL build ctor_lib: gcc failed"
build ctor_test "$here/ctor_test.c" -L"$bin" -lctor_lib -Wl,-rpath,"$bin"

# run LABEL [VAR=value...] -- PROGRAM ARGS: under the shim, with a clean KASHIM_* environment.
run() {
    local label=$1; shift
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    # A hang (deadlock) must fail the test, not stall the run.
    without_kashim_env timeout 120 env TEST_LABEL="$label" LD_PRELOAD="$lib" "${vars[@]}" "$@"
    local status=$?
    [ $status -eq 124 ] && echo "FAIL $label: timed out after 120 s (deadlock?)"
    [ $status -gt 128 ] && echo "FAIL $label: killed by signal $((status - 128))"
    return 0
}

run socket -- "$bin/socket_test"
run "socket, custom values" KASHIM_IDLE=2m KASHIM_INTERVAL=7 KASHIM_COUNT=3 \
    EXPECT_IDLE=120 EXPECT_INTVL=7 EXPECT_CNT=3 -- "$bin/socket_test"
run "socket, user timeout 1500ms" KASHIM_USER_TIMEOUT=1500ms EXPECT_UT=1500 -- "$bin/socket_test"
run "socket, user timeout auto" KASHIM_USER_TIMEOUT=auto KASHIM_IDLE=5 KASHIM_INTERVAL=2 KASHIM_COUNT=4 \
    EXPECT_IDLE=5 EXPECT_INTVL=2 EXPECT_CNT=4 EXPECT_UT=13000 -- "$bin/socket_test"
run "socket, KASHIM_ENABLED=0" KASHIM_ENABLED=0 -- "$bin/socket_test" disabled
run connect -- "$bin/connect_test"
without_kashim_env TEST_LABEL="connect, inherited socket" "$bin/connect_test" inherited-parent "$lib"
run accept -- "$bin/accept_test"
without_kashim_env TEST_LABEL="accept, inherited listener" "$bin/accept_test" inherited-parent "$lib"
run setsockopt -- "$bin/setsockopt_test"
run "setsockopt, KASHIM_FORCE=1" KASHIM_FORCE=1 KASHIM_IDLE=45 EXPECT_IDLE=45 -- "$bin/setsockopt_test" force
run threads -- "$bin/threads_test"
run fork -- "$bin/fork_test"
run "signal handler" -- "$bin/signal_test"
run "library constructor" -- "$bin/ctor_test"
run "high descriptors" -- "$bin/highfd_test"
run vfork -- "$bin/vfork_test"
run "copies" -- "$bin/dup_test"
run "stdio closes" -- "$bin/close_test"
run "stdio closes, KASHIM_FORCE=1" KASHIM_FORCE=1 -- "$bin/close_test" force
run "stress at debug" KASHIM_LOG=debug -- "$bin/stress_test"
run "logging never harms" KASHIM_LOG=debug -- "$bin/log_test"
if command -v python3 >/dev/null; then
    run "logging to a terminal" KASHIM_LOG=debug -- python3 "$here/tty_test.py" "$bin/log_test"
else
    echo "SKIP logging to a terminal: python3 not found"
fi

# Controls: the checks must fail without the shim, or they prove nothing.
control() { # label expected-failures-at-least program args
    local label=$1 min=$2; shift 2
    local n
    n=$(env TEST_LABEL=x "$@" | grep -c '^FAIL')
    if [ "$n" -ge "$min" ]; then echo "PASS control: $label fails without kashim ($n checks)"
    else echo "FAIL control: $label: only $n checks failed without kashim, expected at least $min"; fi
}
control socket_test 6 "$bin/socket_test"
control accept_test 4 "$bin/accept_test"
control connect_test 3 "$bin/connect_test"
control threads_test 1 "$bin/threads_test"
control stress_test 1 "$bin/stress_test"

# Invisible otherwise: every return value and errno identical with and without the shim.
expected=$(env TEST_LABEL=x "$bin/errno_probe" 2>&1)
for vars in "" "KASHIM_FORCE=1" "KASHIM_USER_TIMEOUT=auto KASHIM_LOG=debug"; do
    # shellcheck disable=SC2086
    got=$(run "errno" $vars -- "$bin/errno_probe" 2>/dev/null)
    if [ "$got" = "$expected" ]; then
        echo "PASS errno probe: $(echo "$expected" | wc -l) calls return the same values and errno${vars:+ with $vars}"
    else
        echo "FAIL errno probe${vars:+ with $vars}: differs from the run without kashim:"
        diff <(echo "$expected") <(echo "$got") | sed 's/^/    /'
    fi
done

# Configuration messages: bad input gives exactly one clear line per problem on stderr, once per
# process (socket_test makes ~16 sockets), and the program still runs with the rest applied.
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
stderr_of() { # VAR=value... : runs socket_test; sets $got (its stderr) and $fails (failed checks)
    fails=$(run "config" "$@" -- "$bin/socket_test" 2>"$errfile" | grep -c '^FAIL')
    got=$(cat "$errfile")
}
expect_stderr() { # NAME EXPECTED-STDERR VAR=value...
    local name=$1 expected=$2; shift 2
    stderr_of "$@"
    if [ "$got" = "$expected" ] && [ "$fails" = 0 ]; then
        echo "PASS config: $name"
    else
        echo "FAIL config: $name: stderr was [$got], expected [$expected]; $fails socket checks failed"
    fi
}
expect_stderr "no variables, no output" ""
expect_stderr "bad KASHIM_IDLE: one line, default used, KASHIM_COUNT=3 still applies" \
    'kashim: KASHIM_IDLE="abc" is not a duration (accepted: whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h); using the default 60s' \
    KASHIM_IDLE=abc KASHIM_COUNT=3 EXPECT_CNT=3
expect_stderr "out-of-range KASHIM_COUNT" \
    'kashim: KASHIM_COUNT="500" is out of range (accepted: a whole number from 1 to 127); using the default 6' \
    KASHIM_COUNT=500
expect_stderr "empty KASHIM_INTERVAL" \
    'kashim: KASHIM_INTERVAL="" is empty (accepted: whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h); using the default 10s' \
    KASHIM_INTERVAL=
expect_stderr "non-UTF-8 KASHIM_IDLE" \
    'kashim: KASHIM_IDLE="\xff" is not valid UTF-8 (accepted: whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h); using the default 60s' \
    "$(printf 'KASHIM_IDLE=\xff')"
expect_stderr "non-UTF-8 unrelated variables do not matter" "" \
    "$(printf 'JUNK=\xff\xfe')" "$(printf 'J\xffUNK=1')" KASHIM_IDLE=7 EXPECT_IDLE=7
expect_stderr "unknown KASHIM_ name" \
    'kashim: KASHIM_IDEL="5" is not a kashim variable (known: KASHIM_IDLE, KASHIM_INTERVAL, KASHIM_COUNT, KASHIM_USER_TIMEOUT, KASHIM_FORCE, KASHIM_ENABLED, KASHIM_LOG, KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT, KASHIM_CHILDREN); ignored' \
    KASHIM_IDEL=5
expect_stderr "KASHIM_LOG=off silences even bad values" "" KASHIM_LOG=off KASHIM_IDLE=abc
expect_stderr "KASHIM_LOG=info prints one start line" \
    'kashim: active: TCP keepalive idle 60s, interval 10s, count 6, user timeout off, force off, log info' \
    KASHIM_LOG=info
# A name given twice (execve allows it): the first value counts, as for getenv, with one warning,
# and every other setting still applies (here KASHIM_ENABLED=0).
fails=$(timeout 60 "$bin/envexec" TEST_LABEL="duplicate variable" LD_PRELOAD="$lib" KASHIM_ENABLED=0 \
    KASHIM_IDLE=30 KASHIM_IDLE=30 -- "$bin/socket_test" disabled 2>"$errfile" | grep -c '^FAIL')
got=$(cat "$errfile")
expected='kashim: KASHIM_IDLE is set more than once; the first value is used (as getenv does), the others are ignored'
if [ "$got" = "$expected" ] && [ "$fails" = 0 ]; then
    echo "PASS config: a repeated KASHIM_IDLE keeps KASHIM_ENABLED=0 and warns once"
else
    echo "FAIL config: repeated KASHIM_IDLE: stderr [$got], $fails socket checks failed (expected KASHIM_ENABLED=0 to hold)"
fi
stderr_of KASHIM_LOG=debug
got=$(printf '%s\n' "$got" | grep -c 'socket: keepalive on')
if [ "$got" -ge 6 ]; then echo "PASS config: KASHIM_LOG=debug logs every socket decision ($got TCP sockets)"
else echo "FAIL config: KASHIM_LOG=debug logged $got TCP socket decisions, expected at least 6"; fi

# Secure-execution mode: a setuid-root program run by an unprivileged user, with the library in
# /etc/ld.so.preload (in a private mount namespace, over a copy of /etc), must ignore the caller's
# KASHIM_* (defaults apply) and print nothing. The same probe without the setuid bit, as the same
# user, shows that the variables are otherwise read (so the check can fail).
secure_case() {
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
        echo "SKIP secure execution: needs root, unshare and setpriv (util-linux)"
        return
    fi
    local work grp out err
    work=$(mktemp -d)
    chmod 755 "$work"
    grp=$(id -g nobody)
    cp "$bin/secure_probe" "$work/suid" && chmod 4755 "$work/suid"
    cp "$bin/secure_probe" "$work/plain" && chmod 755 "$work/plain"
    mkdir "$work/etc" && echo "$lib" >"$work/preload"
    # shellcheck disable=SC2016 # expanded by the inner bash
    without_kashim_env unshare -m --propagation private bash -c '
        mount -t tmpfs kashim-test "$1/etc" && cp -a /etc/. "$1/etc/" &&
        cp "$1/preload" "$1/etc/ld.so.preload" && mount --bind "$1/etc" /etc || exit 9
        for p in suid plain; do
            env -u LD_PRELOAD setpriv --reuid nobody --regid "$2" --clear-groups \
                "$1/plain" exec "$1/$p" KASHIM_IDLE=7 KASHIM_LOG=debug KASHIM_BOGUS=1 >"$1/$p.out" 2>"$1/$p.err"
        done' _ "$work" "$grp"
    out=$(cat "$work/suid.out" 2>/dev/null) err=$(cat "$work/suid.err" 2>/dev/null)
    if [ "$out" = "keepalive=1 idle=60" ] && [ -z "$err" ]; then
        echo "PASS secure execution: setuid program run by nobody with KASHIM_IDLE=7 KASHIM_LOG=debug uses the defaults, prints nothing"
    else
        echo "FAIL secure execution: setuid program printed [$out], stderr [$(head -c 300 <<<"$err")]"
    fi
    out=$(cat "$work/plain.out" 2>/dev/null)
    if [ "$out" = "keepalive=1 idle=7" ] && grep -q '^kashim: ' "$work/plain.err"; then
        echo "PASS secure execution control: the same probe without setuid reads KASHIM_IDLE=7 and logs"
    else
        echo "FAIL secure execution control: plain probe printed [$out], stderr [$(head -c 300 "$work/plain.err")]"
    fi
    rm -rf "$work"
}
secure_case
"$here/scope.sh" "$lib"

# Nothing kashim allocates outlives start-up: a strict valgrind leak check of /bin/true passes, with
# no KASHIM_* (then kashim allocates nothing at all) and with some (parsed, then freed).
leak_case() { # label VAR=value...
    local label=$1 out status; shift
    out=$(without_kashim_env env "$@" LD_PRELOAD="$lib" timeout 120 valgrind --leak-check=full \
        --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=9 /bin/true 2>&1)
    status=$?
    if [ $status = 0 ]; then
        echo "PASS valgrind: /bin/true under kashim$label: no leak ($(grep -o 'total heap usage: [0-9]* allocs' <<<"$out"))"
    else
        echo "FAIL valgrind: /bin/true under kashim$label: exit $status: $(grep -E 'still reachable|definitely|ERROR SUMMARY' <<<"$out" | head -n 3 | tr '\n' ' ')"
    fi
}
if command -v valgrind >/dev/null; then
    leak_case ""
    leak_case " with KASHIM_IDLE=30 KASHIM_LOG=info" KASHIM_IDLE=30 KASHIM_LOG=info
else
    echo "SKIP valgrind: valgrind not installed"
fi
