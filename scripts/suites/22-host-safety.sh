#!/usr/bin/env bash
# 22-host-safety: libkashim.so never breaks its host (issue 18). Each test reproduces one way the
# loader-level code could break an unmodified program, with real programs and real sockets:
#   deepbind race        two threads dlopen RTLD_DEEPBIND plugins at once: no crash (stress, under
#                        CPU pressure), and a plugin's socket still gets keepalive
# To see a test fail on another build: LIBKASHIM=/path/to/libkashim.so bash scripts/suites/22-host-safety.sh
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

src=$LIBKASHIM_ROOT/c-tests
if ! command -v gcc >/dev/null 2>&1; then
    fail host-safety "gcc not found"
    exit 0
fi
if [ ! -f "$LIBKASHIM" ]; then
    fail host-safety "library not built: $LIBKASHIM"
    exit 0
fi
lib=$LIBKASHIM
scratch_work_dir
bin=$work

# cc NAME GCC-ARGS...: compiles into $bin, or one FAIL line naming NAME.
cc() {
    local name=$1; shift
    gcc -O1 -Wall -Werror "$@" >"$work/cc.log" 2>&1 ||
        { fail "host-safety build $name" "$(head -n 3 "$work/cc.log" | tr '\n' ' ')"; return 1; }
}
# under [VAR=value...] -- PROG ARGS: PROG under kashim with a clean KASHIM_* environment, bounded.
under() {
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    without_kashim_env timeout 60 env LD_PRELOAD="$lib" "${vars[@]}" "$@"
}
# pressure_on / pressure_off: six busy processes beside the test, so that on a machine with few
# cores the test's threads are preempted at random points, as on a loaded server.
pressure=()
pressure_on() {
    local _
    for _ in 1 2 3 4 5 6; do
        (while :; do :; done) &
        pressure+=($!)
        pids+=($!)
    done
}
pressure_off() {
    kill "${pressure[@]}" 2>/dev/null
    wait "${pressure[@]}" 2>/dev/null
    pressure=()
}
# stress NAME RUNS -- PROG ARGS: runs PROG under kashim RUNS times; PASS if no run fails.
stress() {
    local name=$1 runs=$2 bad=0 status last=0 _
    shift 3
    for _ in $(seq "$runs"); do
        under -- "$@" >/dev/null 2>"$work/stress.err"
        status=$?
        if [ $status != 0 ]; then bad=$((bad + 1)); last=$status; fi
    done
    if [ $bad = 0 ]; then pass "$name ($runs runs)"
    else fail "$name" "$bad of $runs runs failed (last exit $last$([ $last -gt 128 ] && echo ", signal $((last - 128))"))"; fi
}

# --- 1. two threads dlopen RTLD_DEEPBIND plugins at once -------------------------------------------
plugins_ok=1
for i in 0 1 2 3 4 5 6 7; do
    cc plugin -shared -fPIC -Wl,-z,now -o "$bin/libhs_plugin$i.so" "$src/hs_plugin.c" || { plugins_ok=0; break; }
done
if [ $plugins_ok = 1 ] && cc deepbind_race -pthread -o "$bin/deepbind_race" "$src/deepbind_race.c" -ldl; then
    under TEST_LABEL="deepbind plugin" -- "$bin/deepbind_race" "$bin" 8 1 check
    pressure_on
    stress "deepbind race: two threads dlopen/dlclose RTLD_DEEPBIND plugins under CPU pressure, no crash" \
        24 -- "$bin/deepbind_race" "$bin" 8 200
    pressure_off
fi
