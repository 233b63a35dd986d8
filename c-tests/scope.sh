#!/usr/bin/env bash
# Scope rules (KASHIM_DIRECTION/ONLY/EXCEPT), KASHIM_FORCE=cap and KASHIM_CHILDREN=0 on real loopback
# connections (c-tests/scope_test.c). Called by c-tests/run.sh; prints PASS/FAIL lines.
# Usage: c-tests/scope.sh LIB
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../scripts/lib/suite.sh"
lib=$1
bin=$here/bin
mkdir -p "$bin"
gcc -O1 -Wall -Werror -pthread -o "$bin/scope_test" "$here/scope_test.c" || echo "FAIL build scope_test: gcc failed"
gcc -O1 -Wall -Werror -shared -fPIC -o "$bin/libother_preload.so" "$here/other_preload.c" ||
    echo "FAIL build other_preload: gcc failed"

# scope LABEL [VAR=value...] -- CASE...: scope_test under kashim on three fresh ports. @A @B @C in the
# variables and cases stand for the ports (a busy port: another try on other ports).
# Sets $out (its output).
scope_raw() {
    local label=$1; shift
    local vars=() cases=() try base status
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    cases=("$@")
    for try in 1 2 3 4 5; do
        # Below Linux's ephemeral range (32768-60999): the suites before leave thousands of
        # client ports there in TIME_WAIT, where five busy tries in a row did happen.
        base=$((10000 + RANDOM % 20000))
        local sub=(-e "s/@A/$base/g" -e "s/@B/$((base + 1))/g" -e "s/@C/$((base + 2))/g")
        local v=() c=() x
        for x in "${vars[@]}"; do v+=("$(sed "${sub[@]}" <<<"$x")"); done
        for x in "${cases[@]}"; do c+=("$(sed "${sub[@]}" <<<"$x")"); done
        out=$(without_kashim_env timeout 60 env TEST_LABEL="$label" LD_PRELOAD="$lib" \
              SCOPE_PORT_A=$base SCOPE_PORT_B=$((base + 1)) SCOPE_PORT_C=$((base + 2)) \
              "${v[@]}" "$bin/scope_test" "${c[@]}" 2>"$bin/scope.err")
        status=$?
        [ $status -ne 3 ] && break
    done
    if [ $status -eq 124 ]; then out+=$'\n'"FAIL $label: timed out (deadlock?)"
    elif [ $status -gt 128 ]; then out+=$'\n'"FAIL $label: killed by signal $((status - 128))"
    elif [ $status -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
        # A run that ends early (exit 3: five busy ports in a row) must not just lose its cases.
        out+=$'\n'"FAIL $label: scope_test exited with status $status: $(head -c 300 "$bin/scope.err")"
    elif ! grep -q '^PASS ' <<<"$out"; then out+=$'\n'"FAIL $label: scope_test reported no result"
    fi
    return 0
}
scope() { scope_raw "$@"; printf '%s\n' "$out"; }

# IPv4 addresses, both directions; listeners are left alone (configured per connection).
scope "scope v4" KASHIM_ONLY=127.0.0.2 SCOPE_LISTENERS_UNTOUCHED=1 -- \
    out,127.0.0.2,-,C,1 out,127.0.0.1,-,C,0 in,127.0.0.1,127.0.0.2,C,1 in,127.0.0.1,127.0.0.3,C,0
# IPv6, and an IPv6 rule never matches an IPv4 peer.
scope "scope v6" "KASHIM_ONLY=[::1]" -- out,::1,-,A,1 in,::1,-,A,1 out,127.0.0.1,-,A,0 in,127.0.0.1,-,C,0
scope "scope v6 other net" "KASHIM_ONLY=[2001:db8::]/32" -- out,::1,-,A,0 in,::1,-,B,0
# IPv4 peers on IPv6 sockets (::ffff:a.b.c.d) match IPv4 rules, outbound and on a dual-stack listener.
scope "scope v4-mapped" KASHIM_ONLY=127.0.0.2 -- out,::ffff:127.0.0.2,-,A,1 out,::ffff:127.0.0.1,-,A,0 \
    in,::ffff:127.0.0.1,::ffff:127.0.0.2,A,1 in,127.0.0.1,127.0.0.2,B,1 in,127.0.0.1,127.0.0.3,B,0
scope "scope v4-mapped rule" "KASHIM_ONLY=[::ffff:127.0.0.2]" -- out,127.0.0.2,-,C,1 out,127.0.0.3,-,C,0
# CIDR edges.
scope "scope 0.0.0.0/0" KASHIM_ONLY=0.0.0.0/0 -- out,127.0.0.9,-,C,1 out,::ffff:127.0.0.9,-,A,1 out,::1,-,A,0
scope "scope [::]/0" "KASHIM_ONLY=[::]/0" -- out,::1,-,A,1 out,127.0.0.1,-,C,0
scope "scope /32 and /31" KASHIM_ONLY=127.0.0.2/32,127.0.0.6/31 -- \
    out,127.0.0.2,-,C,1 out,127.0.0.3,-,C,0 out,127.0.0.6,-,C,1 out,127.0.0.7,-,C,1 out,127.0.0.8,-,C,0
scope "scope /128" "KASHIM_ONLY=[::1]/128" -- out,::1,-,A,1 out,::ffff:127.0.0.1,-,A,0
# Ports and ranges (outbound: the destination's port).
scope "scope port" KASHIM_ONLY=:@A -- out,127.0.0.1,-,A,1 out,127.0.0.1,-,B,0 out,::1,-,A,1
scope "scope port range" KASHIM_ONLY=:@A-@B -- out,127.0.0.1,-,A,1 out,127.0.0.1,-,B,1 out,127.0.0.1,-,C,0
scope "scope address and port" "KASHIM_ONLY=127.0.0.2:@B,[::1]:@A" -- \
    out,127.0.0.2,-,B,1 out,127.0.0.2,-,A,0 out,127.0.0.3,-,B,0 out,::1,-,A,1 out,::1,-,B,0
# EXCEPT wins over ONLY; EXCEPT alone.
scope "scope EXCEPT over ONLY" KASHIM_ONLY=127.0.0.0/8 KASHIM_EXCEPT=127.0.0.3,:@B -- \
    out,127.0.0.2,-,A,1 out,127.0.0.3,-,A,0 out,127.0.0.2,-,B,0 in,127.0.0.1,127.0.0.3,C,0 in,127.0.0.1,127.0.0.4,C,1
scope "scope EXCEPT alone" KASHIM_EXCEPT=127.0.0.3 -- out,127.0.0.3,-,C,0 out,127.0.0.2,-,C,1 out,::1,-,A,1
# Direction.
scope "scope outbound" KASHIM_DIRECTION=outbound -- out,127.0.0.1,-,C,1 in,127.0.0.1,-,C,0 out,::1,-,A,1 in,::1,-,A,0
scope "scope inbound" KASHIM_DIRECTION=inbound -- out,127.0.0.1,-,C,0 in,127.0.0.1,-,C,1 in,::1,-,A,1
scope "scope inbound with ONLY" KASHIM_DIRECTION=inbound KASHIM_ONLY=127.0.0.2 -- \
    out,127.0.0.2,-,C,0 in,127.0.0.1,127.0.0.2,C,1 in,127.0.0.1,127.0.0.3,C,0
# A user timeout makes it 5 options, still per matching connection only.
scope "scope user timeout" KASHIM_ONLY=127.0.0.2 KASHIM_USER_TIMEOUT=1500ms EXPECT_UT=1500 -- \
    out,127.0.0.2,-,C,1 out,127.0.0.1,-,C,0
# An ONLY list without a valid entry matches nothing, and says so on stderr.
scope "scope ONLY without a valid entry" KASHIM_ONLY=bogus -- out,127.0.0.1,-,C,0 in,127.0.0.1,-,C,0
if grep -q 'KASHIM_ONLY="bogus" has no valid entry, so it matches no connection' "$bin/scope.err"; then
    echo "PASS scope ONLY without a valid entry: stderr says it matches no connection"
else echo "FAIL scope ONLY without a valid entry: stderr was [$(head -c 400 "$bin/scope.err")]"; fi

# FORCE=cap, the program's calls before and after kashim's (deferred by a direction, and not).
scope "cap" KASHIM_FORCE=cap -- cap
scope "cap, decided at connect" KASHIM_FORCE=cap KASHIM_DIRECTION=outbound -- cap

# KASHIM_CHILDREN=0: parent configured; the child a thread execs has neither kashim nor KASHIM_*,
# and keeps the other preloaded library.
children() { # LABEL [VAR=value...]
    local label=$1; shift
    without_kashim_env timeout 60 env TEST_LABEL="$label" LD_PRELOAD="$lib $bin/libother_preload.so" \
        SCOPE_OTHER_LIB=libother_preload.so KASHIM_IDLE=60 "$@" "$bin/scope_test" children
}
children "children=0" KASHIM_CHILDREN=0

# Controls: without the setting, the same checks fail (they can tell).
control_scope() { # LABEL MIN [VAR=value...] -- CASE...
    local label=$1 min=$2 n; shift 2
    scope_raw x "$@"
    n=$(grep -c '^FAIL' <<<"$out")
    if [ "$n" -ge "$min" ]; then echo "PASS control: $label fails without it ($n checks)"
    else echo "FAIL control: $label: only $n checks failed, expected at least $min"; fi
}
control_scope "scope v4 rule" 2 -- out,127.0.0.2,-,C,1 out,127.0.0.1,-,C,0 in,127.0.0.1,127.0.0.2,C,1 in,127.0.0.1,127.0.0.3,C,0
control_scope "scope direction" 1 KASHIM_DIRECTION=both -- out,127.0.0.1,-,C,0 in,127.0.0.1,-,C,1
control_scope "cap" 2 KASHIM_FORCE=0 -- cap
n=$(children x KASHIM_CHILDREN=1 | grep -c '^FAIL')
if [ "$n" -ge 3 ]; then echo "PASS control: children=0 checks fail with KASHIM_CHILDREN=1 ($n checks)"
else echo "FAIL control: children=0 checks: only $n failed with KASHIM_CHILDREN=1, expected at least 3"; fi
