#!/usr/bin/env bash
# 50-firewall-lab: the end-to-end lab (scripts/firewall-lab.sh). A real nftables firewall
# forgets idle connections and resets them, as in the seed; each lab scenario is one test.
#
# The lab runs twice, side by side (each run has its own namespaces): once as shipped and
# once with --without-kashim. A scenario passes only if it agrees with its expectation in
# the first run AND, where kashim is what makes the difference, disagrees in the second:
# a scenario that would pass without kashim proves nothing. Rows the library plays no part in
# (the kashim --probe rows, control "none") are judged by the first run alone.
# Without root or nftables the lab prints "skipped: <reason>" and every scenario is a SKIP.
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

lab=$LIBKASHIM_ROOT/scripts/firewall-lab.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-firewall-lab.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bash "$lab" --report "$tmp/with.report" >"$tmp/with.out" 2>&1 &
with_pid=$!
bash "$lab" --without-kashim --report "$tmp/without.report" >"$tmp/without.out" 2>&1 &
without_pid=$!
wait "$with_pid"; with_rc=$?
wait "$without_pid"; without_rc=$?

# The table of the real run, for people reading the test log.
cat "$tmp/with.out"
echo "control run without kashim: $(grep -E 'scenarios as expected' "$tmp/without.out" || tail -n 1 "$tmp/without.out")"

# result FILE ID -> "pass|fail|skip text"
result() { sed -n "s/^$2 //p" "$1" 2>/dev/null | head -n 1; }

while IFS='|' read -r id title expected _needs control; do
    name="firewall-lab $id: $title -> $expected"
    r=$(result "$tmp/with.report" "$id")
    res=${r%% *} text=${r#* }
    case "$res" in
        skip) skip "$name" "${text#skipped: }"; continue ;;
        fail) fail "$name" "$text"; continue ;;
        pass) ;;
        *) fail "$name" "no result from the lab (exit $with_rc): $(tail -n 1 "$tmp/with.out")"; continue ;;
    esac
    c=$(result "$tmp/without.report" "$id")
    cres=${c%% *} ctext=${c#* }
    case "$control:$cres" in
        differs:fail|same:pass|none:*) pass "$name" ;;
        *:skip) skip "$name" "control run without kashim skipped: ${ctext#skipped: }" ;;
        differs:pass) fail "$name" "also as expected WITHOUT kashim ($ctext): the scenario cannot tell" ;;
        same:fail) fail "$name" "the control run without kashim disagreed: $ctext" ;;
        *) fail "$name" "no result from the control run (exit $without_rc): $(tail -n 1 "$tmp/without.out")" ;;
    esac
done < <(bash "$lab" --list)
