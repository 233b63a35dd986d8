#!/usr/bin/env bash
# An unmodified Python program under the shim, with default and custom settings, plus a control
# run without the shim that must fail.
set -u
source "$(dirname "$0")/../lib/suite.sh"
# The real interpreter, not a version-manager shim script (which would preload into bash too).
python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -z "$python" ]; then
    skip python "python3 not found"
    exit 0
fi
check_py="$LIBKASHIM_ROOT/c-tests/python_check.py"
without_kashim_env TEST_LABEL=python LD_PRELOAD="$LIBKASHIM" "$python" "$check_py"
without_kashim_env TEST_LABEL="python, custom values" LD_PRELOAD="$LIBKASHIM" KASHIM_IDLE=30s KASHIM_INTERVAL=5 \
    KASHIM_COUNT=4 KASHIM_USER_TIMEOUT=auto EXPECT_IDLE=30 EXPECT_INTVL=5 EXPECT_CNT=4 EXPECT_UT=50000 \
    "$python" "$check_py"
without_kashim_env TEST_LABEL="python dup" LD_PRELOAD="$LIBKASHIM" "$python" "$LIBKASHIM_ROOT/c-tests/python_dup.py"
n=$(without_kashim_env TEST_LABEL=x "$python" "$check_py" | grep -c '^FAIL')
if [ "$n" -ge 6 ]; then pass "python control: the checks fail without kashim ($n)"
else fail "python control" "only $n checks failed without kashim"; fi
# Keepalive switched on by the program with no timers (sshd, Java's setKeepAlive) is no protection:
# kashim's timers at connect(), on a socket pending under scope rules and on one made by a raw
# system call; the program's own "off" and its own idle still stand. The control must fail.
switch_py="$LIBKASHIM_ROOT/c-tests/python_switch_only.py"
without_kashim_env TEST_LABEL="switch only, scope rules" LD_PRELOAD="$LIBKASHIM" KASHIM_ONLY=127.0.0.1 "$python" "$switch_py"
without_kashim_env TEST_LABEL="switch only, raw socket" RAW=1 LD_PRELOAD="$LIBKASHIM" "$python" "$switch_py"
if without_kashim_env TEST_LABEL=x RAW=1 "$python" "$switch_py" | grep -q '^FAIL x: SO_KEEPALIVE on, no timers'; then
    pass "switch only control: without kashim the socket keeps the kernel's 7200 s"
else fail "switch only control" "the check did not fail without kashim"; fi
