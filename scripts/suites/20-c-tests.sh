#!/usr/bin/env bash
# C programs exercising every hooked call under LD_PRELOAD (see c-tests/run.sh).
set -u
source "$(dirname "$0")/../lib/suite.sh"
bash "$LIBKASHIM_ROOT/c-tests/run.sh" "$LIBKASHIM"
