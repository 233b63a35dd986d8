#!/usr/bin/env bash
# Rust unit tests (one result line per test), formatting and clippy.
set -u
source "$(dirname "$0")/../lib/suite.sh"
cd "$LIBKASHIM_ROOT" || exit 1
out=$(cargo test --release 2>&1)
status=$?
printf '%s\n' "$out" | sed -n 's/^test \(.*\) \.\.\. ok$/PASS unit \1/p; s/^test \(.*\) \.\.\. FAILED$/FAIL unit \1: see cargo test output/p'
# The panic messages of failed tests (cargo's "failures:" section), so a failure can be read here.
printf '%s\n' "$out" | sed -n '/^failures:$/,/^test result:/p' | grep -v '^test result:' | sed 's/^/   /'
if [ $status -ne 0 ] && ! printf '%s\n' "$out" | grep -q '\.\.\. FAILED$'; then
    printf '%s\n' "$out" | tail -n 20
    fail "cargo test" "exit status $status"
fi
check "cargo fmt --check" cargo fmt --check
check "cargo clippy -D warnings (library)" cargo clippy --release --quiet -- -D warnings
check "cargo clippy -D warnings (tests)" cargo clippy --release --quiet --all-targets -- -D warnings
