#!/usr/bin/env bash
# 22-host-safety: libkashim.so never breaks its host. Each test reproduces one way the
# loader-level code could break an unmodified program, with real programs and real sockets:
#   deepbind race        two threads dlopen RTLD_DEEPBIND plugins at once: no crash (stress, under
#                        CPU pressure), and a plugin's socket still gets keepalive
#   negative load bias   an object loaded below its link address, linked or dlopened RTLD_DEEPBIND:
#                        the program runs and the object's socket gets keepalive
#   second interposer    a library preloaded after kashim defining socket/connect, with only a SysV
#                        hash table (and, as a control, a GNU one): its functions are called
#   private fd table     the program's keepalive-off survives a thread that closes its copies in a
#                        private descriptor table (close_range UNSHARE; unshare + close)
#   many KASHIM_ names   start-up grows linearly with the number of unknown KASHIM_* variables
#                        (instructions counted by callgrind at 2,000 and 8,000)
#   fork child records   fork children of a program whose 16 threads open and close TCP sockets: a
#                        raw TCP socket on a number free in the child gets keepalive at connect()
#   valgrind deepbind    strict valgrind after an RTLD_DEEPBIND dlopen exits as without kashim
#   dlopen, environment  kashim dlopened with KASHIM_CHILDREN=0 while threads call getenv: they see
#                        every variable set
#   vfork in handlers    vfork from a fork prepare handler, from a signal handler inside one, and from
#                        a signal handler that interrupts pthread_atfork: no deadlock
#   1100 objects         an RTLD_DEEPBIND load among more than 1024 objects changes only its own GOT
#   dlopened kashim      loaded by dlopen, kashim finds libc's functions among its own dependencies
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
# checked LABEL [VAR=value...] -- PROG ARGS: PROG under kashim with TEST_LABEL=LABEL, its PASS/FAIL
# lines passed on; a crash, a hang or an exit without a result line is one more FAIL.
checked() {
    local label=$1 status; shift
    under TEST_LABEL="$label" "$@" >"$work/out" 2>"$work/err"
    status=$?
    grep -E '^(PASS|FAIL|SKIP|#) ' "$work/out"
    if [ $status = 124 ]; then fail "$label" "timed out after 60 s"
    elif [ $status -gt 128 ]; then fail "$label" "killed by signal $((status - 128)); stderr: $(head -c 200 "$work/err")"
    elif ! grep -qE '^(PASS|FAIL) ' "$work/out"; then fail "$label" "exit $status without a result; stderr: $(head -c 200 "$work/err")"
    fi
}
# pressure_on / pressure_off: three busy processes per core (at least six) beside the test, so that
# the test's threads are preempted at random points, as on a loaded server.
pressure=()
pressure_on() {
    local n _ p
    n=$(($(nproc) * 3))
    [ "$n" -lt 6 ] && n=6
    for _ in $(seq "$n"); do
        sh -c 'while :; do :; done' &
        pressure+=($!)
        pids+=($!)
    done
    # Until its exec, a child is this shell with its traps: killed then, it would run the cleanup.
    for p in "${pressure[@]}"; do
        while [ "$(cat "/proc/$p/comm" 2>/dev/null)" = bash ]; do sleep 0.01; done
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

# --- two threads dlopen RTLD_DEEPBIND plugins at once -------------------------------------------
# Eight plugins: copies of one build (distinct files are distinct objects to the loader).
plugins_ok=0
if cc plugin -shared -fPIC -Wl,-z,now -o "$bin/libhs_plugin0.so" "$src/hs_plugin.c"; then
    plugins_ok=1
    for i in 1 2 3 4 5 6 7; do cp "$bin/libhs_plugin0.so" "$bin/libhs_plugin$i.so" || plugins_ok=0; done
fi
if [ $plugins_ok = 1 ] && cc deepbind_race -pthread -o "$bin/deepbind_race" "$src/deepbind_race.c" -ldl; then
    checked "deepbind plugin" KASHIM_IDLE=45 EXPECT_IDLE=45 -- "$bin/deepbind_race" "$bin" 8 1 check
    # A library that touches objects still being relocated crashes in about half of these runs.
    pressure_on
    stress "deepbind race: two threads dlopen/dlclose RTLD_DEEPBIND plugins under CPU pressure, no crash" \
        24 -- "$bin/deepbind_race" "$bin" 8 200
    pressure_off
fi

# --- an object loaded below its link address ------------------------------------------------
# Linked at an address above the user address space, the object is mapped lower: a negative bias.
# The test program prints the bias and fails if it is not negative.
high=(-shared -fPIC "-Wl,-Ttext-segment=0x800000000000")
if cc negbias "${high[@]}" -o "$bin/libhs_negbias.so" "$src/deepbind_lib.c" &&
    cc negbias "${high[@]}" -o "$bin/libhs_negbias_plugin.so" "$src/deepbind_lib.c" &&
    cc negbias -o "$bin/negbias_linked" "$src/negative_bias_test.c" -L"$bin" -Wl,--no-as-needed \
        -lhs_negbias -Wl,-rpath,"$bin" -ldl &&
    cc negbias -o "$bin/negbias_dlopen" "$src/negative_bias_test.c" -ldl; then
    checked "negative load bias, linked" -- "$bin/negbias_linked" linked libhs_negbias.so
    checked "negative load bias, dlopen RTLD_DEEPBIND" -- "$bin/negbias_dlopen" dlopen "$bin/libhs_negbias_plugin.so"
fi

# --- a second interposer preloaded after kashim -------------------------------------------------
if cc interposer -o "$bin/interposer_test" "$src/interposer_test.c" -ldl; then
    for style in sysv gnu; do
        cc interposer -shared -fPIC -Wl,--hash-style=$style -o "$bin/libcounting_$style.so" \
            "$src/counting_preload.c" -ldl &&
            checked "second interposer after kashim, --hash-style=$style" LD_PRELOAD="$lib $bin/libcounting_$style.so" \
                -- "$bin/interposer_test"
    done
fi

# --- keepalive off, then a thread with a private descriptor table closes its copies ----------
if cc private_fdtable -pthread -o "$bin/private_fdtable_test" "$src/private_fdtable_test.c"; then
    checked "private fd table, close_range" -- "$bin/private_fdtable_test" close_range
    checked "private fd table, unshare" -- "$bin/private_fdtable_test" unshare
fi

# --- start-up with thousands of unknown KASHIM_* variables ---------------------------------
# instructions N [LD_PRELOAD-VALUE]: instructions callgrind counts for /bin/true started with N
# unknown KASHIM_* variables (and KASHIM_LOG=off, so that nothing is printed for them).
instructions() {
    local vars
    mapfile -t vars < <(seq -f 'KASHIM_UNKNOWN_%g=1' "$1")
    timeout 300 env -i "${vars[@]}" KASHIM_LOG=off LD_PRELOAD="${2:-}" "$(command -v valgrind)" --tool=callgrind \
        --callgrind-out-file=/dev/null /bin/true 2>&1 | sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p'
}
if ! command -v valgrind >/dev/null 2>&1; then
    skip "start-up with many KASHIM_ variables" "valgrind not installed (Debian package valgrind)"
else
    # kashim's own cost: with the library minus without, at N and at 4N variables. Linear start-up
    # gives a ratio near 4, quadratic near 16; 8 leaves room either way.
    counts=("$(instructions 2000 "$lib")" "$(instructions 2000)" "$(instructions 8000 "$lib")" "$(instructions 8000)")
    if [[ ! "${counts[*]}" =~ ^[0-9]+\ [0-9]+\ [0-9]+\ [0-9]+$ ]]; then
        fail "start-up with many KASHIM_ variables" "callgrind gave no count: [${counts[*]}]"
    else
        small=$((counts[0] - counts[1])) large=$((counts[2] - counts[3]))
        ratio=$((small > 0 ? large * 100 / small : 0))
        what="kashim's start-up cost with 8,000 unknown KASHIM_ variables is $((ratio / 100)).$(printf %02d $((ratio % 100))) times that with 2,000 ($large and $small instructions)"
        # The same measure of the program alone (the loader's linear walk of the environment).
        echo "# /bin/true alone: $((counts[3] * 100 / counts[1] / 100)).$(printf %02d $((counts[3] * 100 / counts[1] % 100))) times the instructions at 8,000 as at 2,000"
        if [ "$ratio" -le 800 ]; then pass "$what: linear"
        else fail "start-up with many KASHIM_ variables" "$what; linear is about 4, at most 8 allowed"; fi
    fi
fi

# --- fork children of a threaded program: no stale record --------------------------------------
# A library that keeps such records leaves one in about 4 of 10 children here; 300 forks take a
# second or two.
if cc fork_stale -pthread -o "$bin/fork_stale_test" "$src/fork_stale_test.c"; then
    checked "fork child records" -- "$bin/fork_stale_test" 300
fi

# --- strict valgrind after an RTLD_DEEPBIND dlopen ------------------------------------------
# strict_valgrind LD_PRELOAD-VALUE PROG ARGS: exit status of PROG under a strict leak check.
strict_valgrind() {
    local preload=$1; shift
    without_kashim_env env LD_PRELOAD="$preload" timeout 120 valgrind --leak-check=full \
        --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 "$@" >"$work/vg.out" 2>&1
}
if ! command -v valgrind >/dev/null 2>&1; then
    skip "valgrind after RTLD_DEEPBIND" "valgrind not installed (Debian package valgrind)"
elif cc deepbind_once -o "$bin/deepbind_once" "$src/deepbind_once.c" -ldl &&
    cc deepbind_once -shared -fPIC -o "$bin/libhs_deep.so" "$src/deepbind_lib.c"; then
    strict_valgrind "" "$bin/deepbind_once" "$bin/libhs_deep.so"
    without=$?
    strict_valgrind "$lib" "$bin/deepbind_once" "$bin/libhs_deep.so"
    with=$?
    if [ $without = 0 ] && [ $with = 0 ]; then
        pass "strict valgrind after an RTLD_DEEPBIND dlopen: exit 0 with kashim, as without"
    else
        fail "strict valgrind after an RTLD_DEEPBIND dlopen" "exit $with with kashim, $without without: $(grep -E 'still reachable:|definitely lost:|ERROR SUMMARY' "$work/vg.out" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')"
    fi
fi

# --- the rarer ways, each where it shows from outside ----------------------------------------
# KASHIM_CHILDREN=0 edits the environment from the constructor, safe only before any thread exists:
# the library dlopened into a program whose threads call getenv (the variable they read comes after
# 300 KASHIM_* variables, which the edit moves). Run without LD_PRELOAD: the program loads kashim.
mapfile -t unknown < <(seq -f 'KASHIM_UNKNOWN_%g=1' 300)
if cc dlopen_env -pthread -o "$bin/dlopen_env_test" "$src/dlopen_env_test.c" -ldl; then
    checked "dlopen with KASHIM_CHILDREN=0" LD_PRELOAD= "${unknown[@]}" KASHIM_LOG=off KASHIM_CHILDREN=0 HS_PRESENT=1 \
        -- "$bin/dlopen_env_test" "$lib"
fi

# The first vfork registers a fork handler: from a signal handler that interrupts pthread_atfork
# (which holds glibc's handler lock), that must not deadlock; nor from a fork prepare handler.
if cc vfork_atfork -pthread -o "$bin/vfork_atfork_test" "$src/vfork_atfork_test.c"; then
    checked "vfork in a fork prepare handler" -- "$bin/vfork_atfork_test" atfork
    checked "vfork in a signal handler in a fork prepare handler" -- "$bin/vfork_atfork_test" signal
    checked "vfork in a signal handler interrupting pthread_atfork" -- "$bin/vfork_atfork_test" register 20
fi

# More than 1024 loaded objects: an RTLD_DEEPBIND load must still change only the GOT of what it
# loaded (an earlier object bound to libc's socket by libc's own dlopen keeps that binding).
if cc many_objects -o "$bin/many_objects_test" "$src/many_objects_test.c" -ldl &&
    cc many_objects -shared -fPIC -o "$bin/libhs_early.so" "$src/hs_slot_lib.c" &&
    cc many_objects -shared -fPIC -o "$bin/libhs_late.so" "$src/hs_slot_lib.c" &&
    cc many_objects -shared -fPIC -o "$bin/libhs_filler.so" -x c - <<<'int hs_filler(void) { return 1; }'; then
    checked "RTLD_DEEPBIND among 1100 objects" -- "$bin/many_objects_test" "$bin" 1100
fi

# kashim dlopen()ed, not preloaded: libc was loaded before it, so its next definitions come from its
# own dependencies (as dlsym(RTLD_NEXT) from a dlopened object answers), not from a stand-in.
if cc dlopened_real -o "$bin/dlopened_real_test" "$src/dlopened_real_test.c" -ldl; then
    checked "dlopened kashim" LD_PRELOAD= -- "$bin/dlopened_real_test" "$lib"
fi
