#!/usr/bin/env bash
# Runs every kashim test and ends with one line: "N passed, N failed".
#
# Each suite in scripts/suites/*.sh (run in name order) prints result lines:
#   PASS <name>
#   FAIL <name>: <what went wrong>
#   SKIP <name>: <why it could not run>
# and anything else as plain diagnostics. A skip is reported as "skipped: ..."; under CI=true a
# skip counts as a failure, because a missing test dependency must never look like a pass.
# A suite that exits non-zero without a FAIL line, reports nothing, or leaves a process of this
# checkout running counts as one more failure.
# Usage: scripts/test.sh [SUITE...]   (suite names without .sh, e.g. "unit c-tests")
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
export LIBKASHIM_ROOT="$root"
export LIBKASHIM="$root/target/release/libkashim.so"

passed=0 failed=0 skipped=0
failures=()

note() { printf '%s\n' "$*"; }

# shellcheck source=scripts/lib/toolchain.sh
. "$root/scripts/lib/toolchain.sh"
if ! need_toolchain "$root" "test.sh: " >&2; then
    echo "no test run: install what is named above, then run scripts/test.sh again"
    exit 1
fi
echo "== building libkashim.so and kashim (cargo build --release)"
if ! cargo build --release --quiet; then
    note "FAILED - build: cargo build --release failed"
    echo "0 passed, 1 failed"
    exit 1
fi

if [ $# -gt 0 ]; then
    suites=()
    for s in "$@"; do suites+=("scripts/suites/$s.sh"); done
else
    suites=(scripts/suites/*.sh)
fi

# new_processes_of_checkout [PIDS]: the processes (pid and command line) running a file of this
# checkout, other than this script and the space-separated PIDS. The prefix is passed through the
# environment so that awk's own command line does not match.
new_processes_of_checkout() {
    ps -eo pid=,args= | checkout="$root/" known=" ${1:-} " awk \
        'index($0, ENVIRON["checkout"]) && !index($0, "scripts/test.sh") && !index(ENVIRON["known"], " " $1 " ")'
}
# left_running PIDS: up to 3 processes new_processes_of_checkout still finds after 5 s (a killed
# process needs a moment to go, longer on a loaded machine).
left_running() {
    local out _
    for _ in $(seq 25); do
        out=$(new_processes_of_checkout "$1" | head -n 3)
        [ -z "$out" ] && return
        sleep 0.2
    done
    printf '%s' "$out"
}

for suite in "${suites[@]}"; do
    name=$(basename "$suite" .sh)
    echo "== suite $name"
    if [ ! -f "$suite" ]; then
        note "FAILED - $name: no such suite $suite"
        failed=$((failed + 1)); failures+=("$name: no such suite"); continue
    fi
    seen=0 suite_failed=0 suite_exit=0
    before=$(new_processes_of_checkout | awk '{ printf "%s ", $1 }')
    while IFS= read -r line; do
        case "$line" in
            "PASS "*)
                seen=1; passed=$((passed + 1)); note "ok - ${line#PASS }" ;;
            "FAIL "*)
                seen=1; suite_failed=1; failed=$((failed + 1)); failures+=("${line#FAIL }"); note "FAILED - ${line#FAIL }" ;;
            "SKIP "*)
                seen=1
                if [ "${CI:-}" = "true" ]; then
                    failed=$((failed + 1)); failures+=("${line#SKIP } (skip is a failure under CI=true)")
                    note "FAILED - skipped under CI=true: ${line#SKIP }"
                else
                    skipped=$((skipped + 1)); note "skipped: ${line#SKIP }"
                fi ;;
            "__suite_exit "*) suite_exit=${line#__suite_exit } ;;
            *) note "   $line" ;;
        esac
    done < <(bash "$suite" 2>&1; echo "__suite_exit $?")
    # Tests stop what they start: a process of this checkout still running after its suite is a
    # leak (it holds ports and memory, and on a CI machine it outlives the run).
    left=$(left_running "$before")
    if [ -n "$left" ]; then
        failed=$((failed + 1)); failures+=("$name: left processes running: $(printf '%s' "$left" | tr -s ' \n' ' ')")
        note "FAILED - $name: left processes running after the suite ended:"
        printf '%s\n' "$left" | sed 's/^/     /'
    fi
    # A suite that reported nothing, or died without saying why, is broken, not empty.
    if [ "$suite_exit" != 0 ] && [ "$suite_failed" = 0 ]; then
        failed=$((failed + 1)); failures+=("$name: suite exited with status $suite_exit")
        note "FAILED - $name: suite exited with status $suite_exit"
    elif [ "$seen" = 0 ]; then
        failed=$((failed + 1)); failures+=("$name: suite reported no results")
        note "FAILED - $name: suite reported no results"
    fi
done

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "Failures:"
    for f in "${failures[@]}"; do echo "  - $f"; done
fi
echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
