#!/usr/bin/env bash
# Suite 40-wrapper: the kashim command (scripts/kashim, which builds and runs the native binary)
# and scripts/install.sh (issues 4 and 8).
# Every check looks at what the kernel reports for real sockets (getsockopt, /proc/net/tcp), at
# exit codes and at exact output; nothing is mocked. Needs python3 and gcc (+ static libc) and,
# for the secure-execution checks, root with setpriv/setcap; what is missing is reported as SKIP.
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

# test.sh exports these two; the library would warn about them as unknown KASHIM_ names in every
# program started here, so they stay shell variables only.
export -n LIBKASHIM_ROOT LIBKASHIM
K=$LIBKASHIM_ROOT/scripts/kashim
KBIN=$LIBKASHIM_ROOT/target/release/kashim   # the binary scripts/kashim runs; installed as such
LIB=$LIBKASHIM
scratch_work_dir   # $work: the secure-execution checks run programs from it as nobody

if [ ! -f "$LIB" ]; then
    fail wrapper-library "$LIB is not built"
    exit 0
fi

lines() { grep -c '' "$1"; }   # number of lines, 0 for an empty file

PY=""
if command -v python3 >/dev/null 2>&1; then
    # The real interpreter, not a version manager's shim script that runs many other programs.
    PY=$(python3 -c 'import sys; print(sys.executable)')
fi
# ka.py prints the kernel's view of a new TCP socket: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
# TCP_KEEPCNT, TCP_USER_TIMEOUT, then the LD_PRELOAD it was started with. With "own" as first
# argument it first sets TCP_KEEPIDLE=7000 itself, as a program with its own settings would.
cat >"$work/ka.py" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
if sys.argv[1:2] == ["own"]:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 7000)
T = socket.IPPROTO_TCP
print(s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE), s.getsockopt(T, socket.TCP_KEEPIDLE),
      s.getsockopt(T, socket.TCP_KEEPINTVL), s.getsockopt(T, socket.TCP_KEEPCNT),
      s.getsockopt(T, socket.TCP_USER_TIMEOUT), os.environ.get("LD_PRELOAD", "-"))
EOF

version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$LIBKASHIM_ROOT/Cargo.toml" | head -n 1)
# --version names the commit the binary was built from, when the build could tell.
commit=$(git -C "$LIBKASHIM_ROOT" rev-parse --short=12 HEAD 2>/dev/null)
full_version="kashim $version${commit:+ ($commit)}"

# ---------------------------------------------------------------- help and version
run "$K" --help
missing=""
for word in --idle --interval --count --user-timeout --force --log -v --lib --print-env --inspect \
    --help --version "Default 60s" "Default 10s" "Default 6" "1 to 127" "1s to 32767s" \
    "0 to 2147483647 ms" "Default warn" "Default off" shell systemd docker; do
    grep -qF -- "$word" "$work/out" || missing+=" '$word'"
done
if [ "$rc" = 0 ] && [ -z "$missing" ]; then pass wrapper-help
else fail wrapper-help "exit $rc, help lacks:$missing"; fi

run "$K" --version
v1=$(out) rc1=$rc
run "$K" -V
if [ "$rc1" = 0 ] && [ "$rc" = 0 ] && [ "$v1" = "$full_version" ] && [ "$(out)" = "$full_version" ]; then
    pass wrapper-version-with-commit
else fail wrapper-version-with-commit "--version: exit $rc1 '$v1'; -V: exit $rc '$(out)' $(err); expected '$full_version'"; fi

# ---------------------------------------------------------------- bad options
# Each case: expected stderr line (a fixed part), then the arguments. The command must not run.
mkdir -p "$work/with space" "$work/a:b"
cp "$LIB" "$work/with space/libkashim.so"
cp "$LIB" "$work/a:b/libkashim.so"
bad_case() {
    local expect=$1; shift
    rm -f "$work/ran"
    run "$K" "$@"
    local why=""
    [ "$rc" = 2 ] || why+=" exit $rc (expected 2);"
    [ -e "$work/ran" ] && why+=" the command ran;"
    [ "$(lines "$work/err")" = 1 ] || why+=" $(lines "$work/err") stderr lines (expected 1);"
    [ -s "$work/out" ] && why+=" stdout not empty;"
    grep -qF -- "$expect" "$work/err" || why+=" no '$expect' in: $(err | head -n 3);"
    # A library message must be translated: flag names, no "using the default" tail.
    grep -qE 'KASHIM_|using the default' "$work/err" && why+=" untranslated: $(err);"
    grep -q '^kashim: ' "$work/err" || why+=" line does not start 'kashim: ';"
    [ -z "$why" ] || bad_failures+=("kashim $*:$why")
    bad_count=$((bad_count + 1))
}
bad_failures=() bad_count=0
touch_cmd=(touch "$work/ran")
bad_case '--idle "abc" is not a duration (accepted:' --idle abc "${touch_cmd[@]}"
bad_case '--idle "0" is out of range' --idle 0 "${touch_cmd[@]}"
bad_case '--idle "32768" is out of range' --idle 32768 "${touch_cmd[@]}"
bad_case '--idle "1500ms" is not a whole number of seconds' --idle 1500ms "${touch_cmd[@]}"
bad_case '--interval "40000" is out of range' --interval 40000 "${touch_cmd[@]}"
bad_case '--interval "9q"' --interval=9q "${touch_cmd[@]}"
bad_case '--count "0" is out of range' --count 0 "${touch_cmd[@]}"
bad_case '--count "128" is out of range (accepted: a whole number from 1 to 127)' --count 128 "${touch_cmd[@]}"
bad_case '--count "x"' --count x "${touch_cmd[@]}"
bad_case '--user-timeout "-5"' --user-timeout -5 "${touch_cmd[@]}"
bad_case '--user-timeout "soon"' --user-timeout soon "${touch_cmd[@]}"
bad_case '--user-timeout "2147483648ms"' --user-timeout 2147483648ms "${touch_cmd[@]}"
bad_case '--log "loud" is not a log level' --log loud "${touch_cmd[@]}"
bad_case '--idle "abc"' --log off --idle abc "${touch_cmd[@]}"   # off must not hide it
bad_case '--idle "" is empty' --idle= "${touch_cmd[@]}"
bad_case '--idle needs a value' --idle --count 3 "${touch_cmd[@]}"
bad_case '--count needs a value' --count
bad_case 'unknown option --frobnicate' --frobnicate "${touch_cmd[@]}"
bad_case '--force "maybe" is not a boolean or cap' --force=maybe "${touch_cmd[@]}"
bad_case '--only "10.0.0.0/8,bad" entry "bad" is not an IPv4 address' --only 10.0.0.0/8,bad "${touch_cmd[@]}"
bad_case '--no-children has no effect with --ebpf' --ebpf --no-children -- "${touch_cmd[@]}"
bad_case 'missing COMMAND' --idle 30
bad_case 'missing COMMAND' --
bad_case 'no such readable file' --lib "$work/nope.so" "${touch_cmd[@]}"
bad_case 'contains a space or colon' --lib "$work/with space/libkashim.so" "${touch_cmd[@]}"
bad_case 'contains a space or colon' --lib "$work/a:b/libkashim.so" "${touch_cmd[@]}"
bad_case '--print-env "yaml" is not a form' --print-env yaml
bad_case '--print-env takes no COMMAND' --print-env shell "${touch_cmd[@]}"
bad_case 'must be an absolute path' --print-env docker --lib lib/libkashim.so
bad_case '--inspect "abc" is not a process id' --inspect abc
bad_case '--count has no effect with --inspect' --count 5 --inspect 1
if [ "${#bad_failures[@]}" = 0 ]; then pass "wrapper-bad-options ($bad_count cases: exit 2, one line, command not run)"
else fail wrapper-bad-options "${bad_failures[*]}"; fi

# Two bad values: one line each, still nothing run.
rm -f "$work/ran"
run "$K" --idle 0 --count 500 touch "$work/ran"
if [ "$rc" = 2 ] && [ "$(lines "$work/err")" = 2 ] && [ ! -e "$work/ran" ]; then pass wrapper-two-bad-values
else fail wrapper-two-bad-values "exit $rc, stderr: $(err)"; fi

# A bad KASHIM_ variable kashim inherits is judged like an option: one line naming it, exit 2,
# nothing run (the library alone still never stops a program: it warns and uses its default).
rm -f "$work/ran"
KASHIM_IDLE=abc KASHIM_IDEL=5 run "$K" touch "$work/ran"
if [ "$rc" = 2 ] && [ ! -e "$work/ran" ] && [ "$(lines "$work/err")" = 2 ] &&
    grep -q '^kashim: KASHIM_IDLE="abc" is not a duration' "$work/err" &&
    grep -q '^kashim: KASHIM_IDEL="5" in the environment is not a kashim variable' "$work/err"; then
    pass wrapper-inherited-env-judged
else fail wrapper-inherited-env-judged "exit $rc, stderr: $(err)"; fi

run "$K" /nonexistent/prog
if [ "$rc" = 127 ] && [ "$(lines "$work/err")" = 1 ]; then pass wrapper-command-not-found
else fail wrapper-command-not-found "exit $rc, stderr: $(err)"; fi

# ---------------------------------------------------------------- values reach the sockets
if [ -z "$PY" ]; then
    skip wrapper-values "python3 not installed"
else
    failures=()
    # value_case EXPECTED ARGS...: EXPECTED is "keepalive idle interval count user_timeout".
    value_case() {
        local expect=$1; shift
        run "$K" "$@"
        local got
        got=$(out | cut -d' ' -f1-5)
        [ "$rc" = 0 ] && [ "$got" = "$expect" ] && ! grep -q . "$work/err" ||
            failures+=("kashim $*: got '$got' (exit $rc, stderr $(err | head -n 2)), expected '$expect'")
    }
    value_case "1 60 10 6 0" "$PY" "$work/ka.py"
    value_case "1 30 5 3 45000" --idle 30s --interval 5 --count 3 --user-timeout auto "$PY" "$work/ka.py"
    value_case "1 60 3600 6 0" --idle 1m --interval 1h "$PY" "$work/ka.py"
    value_case "1 600 10 6 1500" --idle=10m --user-timeout=1500ms "$PY" "$work/ka.py"
    value_case "1 60 10 6 0" --user-timeout off "$PY" "$work/ka.py"
    value_case "1 60 10 6 120000" --user-timeout 2m -- "$PY" "$work/ka.py"
    value_case "1 7000 10 6 0" "$PY" "$work/ka.py" own            # the program's own call wins...
    value_case "1 60 10 6 0" --force "$PY" "$work/ka.py" own      # ...unless --force
    value_case "1 32767 1 127 0" --idle 32767 --interval 1 --count 127 "$PY" "$work/ka.py"
    # Inherited variables stay unless an option overrides them.
    KASHIM_IDLE=45 value_case "1 45 10 2 0" --count 2 "$PY" "$work/ka.py"
    KASHIM_IDLE=45 value_case "1 20 10 6 0" --idle 20 "$PY" "$work/ka.py"
    if [ "${#failures[@]}" = 0 ]; then pass wrapper-values-reach-sockets
    else fail wrapper-values-reach-sockets "${failures[*]}"; fi

    # -v: the library's one start line; --log off: silence.
    run "$K" -v --idle 30 "$PY" "$work/ka.py"
    if [ "$rc" = 0 ] && [ "$(lines "$work/err")" = 1 ] && grep -q '^kashim: active: .*idle 30s' "$work/err"; then
        pass wrapper-verbose
    else fail wrapper-verbose "exit $rc, stderr: $(err)"; fi
    # One start line per run, however many processes the program starts (here 3 + python);
    # the program still gets keepalive.
    # shellcheck disable=SC2016 # expanded by sh
    run "$K" -v --idle 30 sh -c 'true; /bin/true; sh -c : ; exec "$0" "$1"' "$PY" "$work/ka.py"
    if [ "$rc" = 0 ] && [ "$(grep -c 'active:' "$work/err")" = 1 ] && [ "$(out | cut -d' ' -f1-2)" = "1 30" ]; then
        pass wrapper-verbose-one-line-per-run
    else fail wrapper-verbose-one-line-per-run "exit $rc, printed '$(out)', stderr: $(err | tr '\n' '|')"; fi

    # Everything after COMMAND belongs to it, option-like words included.
    run "$K" "$PY" -c 'import sys; print(sys.argv[1:])' --idle x -v
    if [ "$rc" = 0 ] && [ "$(out)" = "['--idle', 'x', '-v']" ]; then pass wrapper-args-after-command
    else fail wrapper-args-after-command "exit $rc, printed $(out) $(err)"; fi
fi

# ---------------------------------------------------------------- exec: pid, status, signals
if [ -z "$PY" ]; then
    skip wrapper-exec "python3 not installed"
else
    # bash execs kashim, which must exec python: all three are one process.
    run bash -c 'echo $$; exec "$1" "$2" -c "import os; print(os.getpid())"' _ "$K" "$PY"
    if [ "$rc" = 0 ] && [ "$(out | sed -n 1p)" = "$(out | sed -n 2p)" ]; then pass wrapper-exec-same-pid
    else fail wrapper-exec-same-pid "exit $rc, pids: $(out | tr '\n' ' ') $(err)"; fi

    run "$K" -- sh -c 'exit 42'
    if [ "$rc" = 42 ]; then pass wrapper-exec-exit-status
    else fail wrapper-exec-exit-status "exit $rc, expected 42"; fi

    # A signal sent to the pid the caller knows reaches the command itself.
    "$K" "$PY" -c 'import time; time.sleep(30)' &
    p=$!; pids+=("$p")
    for _ in $(seq 50); do
        grep -q python "/proc/$p/comm" 2>/dev/null && break
        sleep 0.1
    done
    comm=$(cat "/proc/$p/comm" 2>/dev/null)
    kill -TERM "$p"
    wait "$p"; st=$?
    if [[ $comm == python* ]] && [ "$st" = 143 ]; then pass wrapper-exec-signal
    else fail wrapper-exec-signal "process was '$comm', status $st (expected python*, 143)"; fi
fi

# ---------------------------------------------------------------- LD_PRELOAD is extended
if [ -z "$PY" ] || ! command -v gcc >/dev/null 2>&1; then
    skip wrapper-ld-preload "needs python3 and gcc"
else
    printf 'int kashim_test_other;\n' >"$work/other.c"
    gcc -shared -fPIC -o "$work/other.so" "$work/other.c"
    LD_PRELOAD=$work/other.so run "$K" "$PY" "$work/ka.py"
    got=$(out)
    if [ "$rc" = 0 ] && [ "$got" = "1 60 10 6 0 $work/other.so:$LIB" ] && ! grep -q . "$work/err"; then
        pass wrapper-ld-preload-appended
    else fail wrapper-ld-preload-appended "got '$got' (exit $rc) $(err)"; fi
    # kashim inside kashim: listed once.
    LD_PRELOAD=$work/other.so run "$K" --idle 30 "$K" --count 3 "$PY" "$work/ka.py"
    got=$(out)
    if [ "$rc" = 0 ] && [ "$got" = "1 30 10 3 0 $work/other.so:$LIB" ]; then pass wrapper-ld-preload-once
    else fail wrapper-ld-preload-once "got '$got' (exit $rc) $(err)"; fi
    # Another copy of libkashim.so already in LD_PRELOAD (from a pasted --print-env line, say) is
    # the one used, not joined by a second copy; --lib puts the library it names in its place.
    mkdir -p "$work/copy"
    cp "$LIB" "$work/copy/libkashim.so"
    LD_PRELOAD=$work/other.so:$work/copy/libkashim.so run "$K" -v "$PY" "$work/ka.py"
    a=$(out) a_err=$(err)
    LD_PRELOAD=$work/other.so:$work/copy/libkashim.so run "$K" --lib "$LIB" "$PY" "$work/ka.py"
    if [ "$a" = "1 60 10 6 0 $work/other.so:$work/copy/libkashim.so" ] && [ "$(grep -c active: <<<"$a_err")" = 1 ] &&
        [ "$rc" = 0 ] && [ "$(out)" = "1 60 10 6 0 $work/other.so:$LIB" ]; then
        pass wrapper-ld-preload-one-copy
    else fail wrapper-ld-preload-one-copy "without --lib: '$a' $a_err; with --lib: '$(out)' (exit $rc) $(err)"; fi
fi

# ---------------------------------------------------------------- static / secure-execution warnings
# ka.c reports the kernel's SO_KEEPALIVE of a new TCP socket, so each warning (or its absence) is
# checked against what really happened.
if ! command -v gcc >/dev/null 2>&1; then
    skip wrapper-static-warning "gcc not installed"
    skip wrapper-setuid-warning "gcc not installed"
else
    cat >"$work/ka.c" <<'EOF'
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), on = -1;
    socklen_t len = sizeof on;
    if (s < 0 || getsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &on, &len) != 0) { perror("ka"); return 1; }
    printf("keepalive=%d\n", on);
    return 0;
}
EOF
    gcc -O -o "$work/ka-dyn" "$work/ka.c"
    # warn_case NAME WARNING|none KEEPALIVE CMD...
    warn_case() {
        local name=$1 warning=$2 ka=$3; shift 3
        run "$@"
        local why=""
        [ "$rc" = 0 ] || why+=" exit $rc;"
        [ "$(out)" = "keepalive=$ka" ] || why+=" printed '$(out)', expected keepalive=$ka;"
        if [ "$warning" = none ]; then
            grep -q . "$work/err" && why+=" unexpected stderr: $(err);"
        else
            { [ "$(lines "$work/err")" = 1 ] && grep -q "^kashim: warning: .*$warning.*keepalive is NOT on" "$work/err"; } ||
                why+=" expected one '$warning' warning, got: $(err);"
        fi
        if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
    }
    warn_case wrapper-dynamic-no-warning none 1 "$K" "$work/ka-dyn"

    # Go programs make their system calls themselves: no keepalive under LD_PRELOAD whatever their
    # linking (cgo makes them dynamic), and the warning points at --ebpf. ka.go reports as ka.c.
    if command -v go >/dev/null 2>&1; then
        cat >"$work/ka.go" <<'EOF'
package main

import (
	"fmt"
	"net"
	"syscall"
)

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	f, _ := l.(*net.TCPListener).File()
	on, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	if err != nil {
		panic(err)
	}
	fmt.Printf("keepalive=%d\n", on)
}
EOF
        for linking in static cgo; do
            if [ "$linking" = static ]; then cgo=0; else cgo=1; fi
            if CGO_ENABLED=$cgo GOCACHE=$work/gocache GOPATH=$work/gopath GO111MODULE=off \
                go build -o "$work/ka-go-$linking" "$work/ka.go" 2>"$work/err"; then
                if [ "$linking" = cgo ] && ! readelf -l "$work/ka-go-$linking" 2>/dev/null | grep -q 'program interpreter'; then
                    fail "wrapper-go-$linking-warning" "the cgo build is not dynamically linked"
                    continue
                fi
                warn_case "wrapper-go-$linking-warning" "is a Go program: .*kashim --ebpf reaches it" 0 "$K" "$work/ka-go-$linking"
            else
                fail "wrapper-go-$linking-warning" "go build failed: $(err)"
            fi
        done
    else
        skip wrapper-go-static-warning "go not installed (golang-go)"
        skip wrapper-go-cgo-warning "go not installed (golang-go)"
    fi
    if gcc -O -static -o "$work/ka-static" "$work/ka.c" 2>/dev/null; then
        warn_case wrapper-static-warning "statically linked" 0 "$K" "$work/ka-static"
        # A script is judged by its interpreter, also through "#!/usr/bin/env NAME".
        printf '#!%s\n' "$work/ka-static" >"$work/direct.sh"
        printf '#!/usr/bin/env ka-static\n' >"$work/viaenv.sh"
        chmod +x "$work/direct.sh" "$work/viaenv.sh"
        warn_case wrapper-static-interpreter-warning "statically linked" 0 "$K" "$work/direct.sh"
        PATH=$work:$PATH warn_case wrapper-static-env-interpreter-warning "statically linked" 0 "$K" "$work/viaenv.sh"
    else
        skip wrapper-static-warning "gcc -static failed: static C library missing (libc6-dev)"
    fi
    if gcc -O -static-pie -o "$work/ka-static-pie" "$work/ka.c" 2>/dev/null; then
        warn_case wrapper-static-pie-warning "statically linked" 0 "$K" "$work/ka-static-pie"
    else
        skip wrapper-static-pie-warning "gcc -static-pie failed"
    fi

    if [ "$(id -u)" != 0 ]; then
        skip wrapper-setuid-warning "needs root to make setuid/setgid copies owned by someone else"
    elif findmnt -no OPTIONS -T "$work" 2>/dev/null | grep -qw nosuid; then
        skip wrapper-setuid-warning "$work is on a nosuid mount"
    else
        # Owned by nobody, run by root: effective id changes, secure-execution mode, no preload.
        cp "$work/ka-dyn" "$work/ka-suid"; chown nobody "$work/ka-suid"; chmod 4755 "$work/ka-suid"
        warn_case wrapper-setuid-warning setuid 0 "$K" "$work/ka-suid"
        # Setuid to the caller's own id changes nothing: preload works, no warning.
        cp "$work/ka-dyn" "$work/ka-suid-self"; chmod 4755 "$work/ka-suid-self"
        warn_case wrapper-setuid-self-no-warning none 1 "$K" "$work/ka-suid-self"
        grp=$(id -gn nobody 2>/dev/null)
        cp "$work/ka-dyn" "$work/ka-sgid"; chgrp "$grp" "$work/ka-sgid"; chmod 2755 "$work/ka-sgid"
        warn_case wrapper-setgid-warning setgid 0 "$K" "$work/ka-sgid"
        # The checkout may sit where nobody cannot read (/root): nobody runs an installed-layout copy.
        mkdir -p "$work/nb/bin" "$work/nb/lib"
        cp "$KBIN" "$work/nb/bin/kashim"; cp "$LIB" "$work/nb/lib/libkashim.so"
        chmod -R a+rX "$work/nb"
        if command -v setcap >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1 &&
            setpriv --reuid nobody --regid "$grp" --clear-groups test -x "$work/nb/bin/kashim"; then
            cp "$work/ka-dyn" "$work/ka-cap"; setcap cap_net_raw+ep "$work/ka-cap"
            # Root gains nothing from file capabilities (no secure mode); another user does.
            warn_case wrapper-filecaps-root-no-warning none 1 "$K" "$work/ka-cap"
            warn_case wrapper-filecaps-warning "file capabilities" 0 \
                setpriv --reuid nobody --regid "$grp" --clear-groups "$work/nb/bin/kashim" "$work/ka-cap"
        else
            skip wrapper-filecaps-warning "needs setcap and setpriv (libcap2-bin, util-linux)"
        fi

        # README recipe: /etc/ld.so.preload. Tried in a private mount namespace where a copy of /etc
        # (on a tmpfs) is mounted over /etc, so the machine's own /etc is never touched. Without any
        # LD_PRELOAD variable the dynamic program gets keepalive, and so does the setuid one (the
        # system-wide list is trusted in secure-execution mode); a static one still does not.
        if command -v unshare >/dev/null 2>&1; then
            host_preload=$(cat /etc/ld.so.preload 2>/dev/null)
            mkdir -p "$work/etc"
            echo "$LIB" >"$work/preload"
            # shellcheck disable=SC2016 # expanded by the inner bash
            run unshare -m --propagation private bash -c '
                mount -t tmpfs kashim-test "$1/etc" && cp -a /etc/. "$1/etc/" &&
                cp "$1/preload" "$1/etc/ld.so.preload" && mount --bind "$1/etc" /etc &&
                "$1/ka-dyn" && "$1/ka-suid" && { [ ! -x "$1/ka-static" ] || "$1/ka-static"; }' _ "$work"
            expect="keepalive=1
keepalive=1"
            [ -x "$work/ka-static" ] && expect+=$'\nkeepalive=0'
            if [ "$rc" = 0 ] && [ "$(out)" = "$expect" ] && [ "$(cat /etc/ld.so.preload 2>/dev/null)" = "$host_preload" ]; then
                pass recipe-ld-so-preload
            else fail recipe-ld-so-preload "exit $rc, printed '$(out | tr '\n' ' ')' $(err)"; fi

            # Issue 14 defect 10: kashim run where the library is already system-wide (a copy at
            # another path, as an installed one would be). A run passes only the settings: no
            # second copy, one start line, and the warnings tell what really happens there.
            mkdir -p "$work/sys"
            cp "$LIB" "$work/sys/libkashim.so"
            echo "$work/sys/libkashim.so" >"$work/preload-sys"
            in_system_wide() {   # CMD...: run CMD (as run does) under that /etc/ld.so.preload
                # shellcheck disable=SC2016 # expanded by the inner bash
                run unshare -m --propagation private bash -c '
                    mount -t tmpfs kashim-test "$1/etc" && cp -a /etc/. "$1/etc/" &&
                    cp "$1/preload-sys" "$1/etc/ld.so.preload" && mount --bind "$1/etc" /etc &&
                    shift && exec "$@"' _ "$work" "$@"
            }
            if [ -n "$PY" ]; then
                in_system_wide "$K" -v --idle 30 "$PY" "$work/ka.py"
                if [ "$rc" = 0 ] && [ "$(out)" = "1 30 10 6 0 -" ] && [ "$(lines "$work/err")" = 1 ] &&
                    grep -q '^kashim: active: .*idle 30s' "$work/err"; then
                    pass wrapper-system-wide-no-second-copy
                else fail wrapper-system-wide-no-second-copy "exit $rc, printed '$(out)' (want '1 30 10 6 0 -'), stderr: $(err | tr '\n' '|')"; fi
            fi
            in_system_wide "$K" "$work/ka-suid"
            plain_out=$(out) plain_err=$(err)
            in_system_wide "$K" --count 5 "$work/ka-suid"
            if [ "$plain_out" = keepalive=1 ] && [ -z "$plain_err" ] && [ "$(out)" = keepalive=1 ] &&
                [ "$(lines "$work/err")" = 1 ] && grep -q '^kashim: warning: .*is setuid: the system-wide libkashim.so .* reaches it, but .* ignores KASHIM_\* settings' "$work/err" &&
                ! grep -q 'NOT on' "$work/err"; then
                pass wrapper-system-wide-setuid-warning-true
            else fail wrapper-system-wide-setuid-warning-true "no settings: '$plain_out' '$plain_err'; --count 5: '$(out)' $(err)"; fi
            if [ -x "$work/ka-static" ]; then
                in_system_wide "$K" "$work/ka-static"
                if [ "$(out)" = keepalive=0 ] && [ "$(lines "$work/err")" = 1 ] &&
                    grep -q 'statically linked: no dynamic loader runs, so neither LD_PRELOAD nor /etc/ld.so.preload .* NOT on' "$work/err"; then
                    pass wrapper-system-wide-static-warning
                else fail wrapper-system-wide-static-warning "printed '$(out)', stderr: $(err)"; fi
            fi
        else
            skip recipe-ld-so-preload "unshare not installed (util-linux)"
        fi
    fi
fi

# ---------------------------------------------------------------- --print-env
opts=(--idle 30s --count 4 --user-timeout auto --force --log info)
run "$K" "${opts[@]}" --print-env shell
# The first line appends the library unless the shell's LD_PRELOAD already names it.
expected="case \" \${LD_PRELOAD-} \" in *[\\ :]\"$LIB\"[\\ :]*) ;; *) export LD_PRELOAD=\"\${LD_PRELOAD:+\$LD_PRELOAD:}$LIB\" ;; esac
export KASHIM_IDLE=30s
export KASHIM_COUNT=4
export KASHIM_USER_TIMEOUT=auto
export KASHIM_FORCE=1
export KASHIM_LOG=info"
if [ "$rc" = 0 ] && [ "$(out)" = "$expected" ]; then pass wrapper-print-env-shell-text
else fail wrapper-print-env-shell-text "exit $rc, got: $(out | tr '\n' '|') $(err)"; fi
if [ -n "$PY" ]; then
    # Pasted into a shell that already preloads something, it appends and takes effect.
    cp "$work/out" "$work/env.sh"
    if command -v gcc >/dev/null 2>&1; then other=$work/other.so; else other=""; fi
    # shellcheck disable=SC2016 # expanded by the inner bash
    run env LD_PRELOAD="$other" bash -c '. "$1"; exec "$2" "$3"' _ "$work/env.sh" "$PY" "$work/ka.py"
    want="1 30 10 4 70000 ${other:+$other:}$LIB"
    if [ "$rc" = 0 ] && [ "$(out)" = "$want" ] && grep -q '^kashim: active:' "$work/err"; then
        pass wrapper-print-env-shell-works
    else fail wrapper-print-env-shell-works "got '$(out)' expected '$want' (exit $rc) $(err)"; fi
    # Pasted twice (say, once in ~/.profile and once by hand), the library is listed once.
    # shellcheck disable=SC2016 # expanded by the inner bash
    run env LD_PRELOAD="$other" bash -c '. "$1"; . "$1"; exec "$2" "$3"' _ "$work/env.sh" "$PY" "$work/ka.py"
    if [ "$rc" = 0 ] && [ "$(out)" = "$want" ] && [ "$(grep -c 'active:' "$work/err")" = 1 ]; then
        pass wrapper-print-env-shell-pasted-twice
    else fail wrapper-print-env-shell-pasted-twice "got '$(out)' expected '$want' (exit $rc) $(err)"; fi
fi

# Without FORM: the shell form. Inherited KASHIM_* values are printed as a run would use them,
# options overriding them.
run "$K" --print-env shell
shell_form=$(out)
KASHIM_COUNT=3 KASHIM_IDLE=45 run "$K" --print-env --idle 20
if [ "$rc" = 0 ] && [ "$(out)" = "$shell_form
export KASHIM_IDLE=20
export KASHIM_COUNT=3" ] && [ ! -s "$work/err" ]; then
    pass wrapper-print-env-default-shell-keeps-inherited
else fail wrapper-print-env-default-shell-keeps-inherited "exit $rc, got: $(out | tr '\n' '|') $(err)"; fi

# docker/systemd without --lib, from a checkout: the build path is this machine's; say so (once,
# on stderr, so the printed lines stay pasteable). The installed case is checked with install.sh.
run "$K" --print-env docker
if [ "$rc" = 0 ] && [ "$(out)" = "ENV LD_PRELOAD=$LIB" ] && [ "$(lines "$work/err")" = 1 ] &&
    grep -q "^kashim: warning: $LIB is this machine's build of the library; .*--lib" "$work/err"; then
    pass wrapper-print-env-docker-warns-from-checkout
else fail wrapper-print-env-docker-warns-from-checkout "exit $rc, out: $(out) err: $(err)"; fi

run "$K" "${opts[@]}" --print-env systemd
expected="[Service]
Environment=LD_PRELOAD=$LIB
Environment=KASHIM_IDLE=30s
Environment=KASHIM_COUNT=4
Environment=KASHIM_USER_TIMEOUT=auto
Environment=KASHIM_FORCE=1
Environment=KASHIM_LOG=info"
if [ "$rc" = 0 ] && [ "$(out)" = "$expected" ]; then pass wrapper-print-env-systemd-text
else fail wrapper-print-env-systemd-text "exit $rc, got: $(out | tr '\n' '|') $(err)"; fi
if command -v systemd-analyze >/dev/null 2>&1; then
    # systemd's own parser reads the drop-in; it names every line it cannot use. The control line
    # (a path with a space) proves it would complain.
    mkdir -p "$work/units/kt.service.d"
    printf '[Unit]\nDescription=kashim drop-in test\n[Service]\nExecStart=/bin/true\n' >"$work/units/kt.service"
    cp "$work/out" "$work/units/kt.service.d/kashim.conf"
    SYSTEMD_UNIT_PATH=$work/units: run systemd-analyze verify --man=no "$work/units/kt.service"
    clean=$(err)
    echo 'Environment=LD_PRELOAD=/a b' >>"$work/units/kt.service.d/kashim.conf"
    SYSTEMD_UNIT_PATH=$work/units: run systemd-analyze verify --man=no "$work/units/kt.service"
    if [ -z "$clean" ] && grep -q 'kashim.conf:8: Invalid environment assignment' "$work/err"; then
        pass wrapper-print-env-systemd-parses
    else fail wrapper-print-env-systemd-parses "systemd-analyze said: '$clean' / control: '$(err)'"; fi
else
    skip wrapper-print-env-systemd-parses "systemd-analyze not installed (package systemd)"
fi

run "$K" "${opts[@]}" --print-env docker --lib /usr/local/lib/libkashim.so
expected="ENV LD_PRELOAD=/usr/local/lib/libkashim.so
ENV KASHIM_IDLE=30s
ENV KASHIM_COUNT=4
ENV KASHIM_USER_TIMEOUT=auto
ENV KASHIM_FORCE=1
ENV KASHIM_LOG=info"
if [ "$rc" = 0 ] && [ "$(out)" = "$expected" ]; then pass wrapper-print-env-docker-text
else fail wrapper-print-env-docker-text "exit $rc, got: $(out | tr '\n' '|') $(err)"; fi

run "$K" --idle 99999 --print-env docker
if [ "$rc" = 2 ] && [ ! -s "$work/out" ]; then pass wrapper-print-env-validates
else fail wrapper-print-env-validates "exit $rc, printed $(out)"; fi

# ---------------------------------------------------------------- where the library comes from
if [ -n "$PY" ]; then
    mkdir -p "$work/alt" "$work/links"
    cp "$LIB" "$work/alt/libkashim.so"
    run "$K" --lib "$work/alt/libkashim.so" "$PY" "$work/ka.py"
    a=$(out)
    run bash -c 'cd "$1" && exec "$2" --lib libkashim.so "$3" "$4"' _ "$work/alt" "$K" "$PY" "$work/ka.py"
    b=$(out)
    ln -sf "$K" "$work/links/kashim"   # a symlink to the checkout's wrapper uses the checkout's library
    run "$work/links/kashim" "$PY" "$work/ka.py"
    c=$(out)
    if [ "$a" = "1 60 10 6 0 $work/alt/libkashim.so" ] && [ "$b" = "$a" ] && [ "$c" = "1 60 10 6 0 $LIB" ]; then
        pass wrapper-lib-lookup
    else fail wrapper-lib-lookup "--lib: '$a', relative --lib: '$b', symlink: '$c'"; fi
fi

mkdir -p "$work/lonely/bin"
cp "$KBIN" "$work/lonely/bin/kashim"
run "$work/lonely/bin/kashim" true
if [ "$rc" = 125 ] && grep -q 'cannot find libkashim.so' "$work/err"; then pass wrapper-lib-not-found
else fail wrapper-lib-not-found "exit $rc: $(err)"; fi

# A file that is not libkashim.so is refused before anything runs, judged by its ELF symbols.
if command -v gcc >/dev/null 2>&1; then
    rm -f "$work/ran"
    run "$K" --lib "$work/other.so" touch "$work/ran"
    if [ "$rc" = 125 ] && [ ! -e "$work/ran" ] && [ "$(lines "$work/err")" = 1 ] &&
        grep -q "other.so is not libkashim.so" "$work/err"; then
        pass wrapper-lib-not-kashim
    else fail wrapper-lib-not-kashim "exit $rc: $(err)"; fi
fi

# A libkashim.so built for a newer glibc than this machine's (as a build on a newer distribution
# would be): kashim says which version it needs, exit 125, before anything runs. The library is
# made here: it exports the marker and needs GLIBC_2.99 from a stub libc.so.6 linked with that
# version; the real loader is asked first, to show it refuses it.
if command -v gcc >/dev/null 2>&1; then
    mkdir -p "$work/stubc" "$work/newglibc"
    echo 'void kashim_test_newer(void) {}' >"$work/stubc/stub.c"
    echo 'GLIBC_2.99 { global: kashim_test_newer; local: *; };' >"$work/stubc/stub.map"
    echo 'extern void kashim_test_newer(void); const char KASHIM_LIBRARY[] = "test"; void kashim_test_call(void) { kashim_test_newer(); }' >"$work/newglibc/fake.c"
    why=""
    if gcc -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script="$work/stubc/stub.map" \
            -o "$work/stubc/libc.so.6" "$work/stubc/stub.c" 2>"$work/err" &&
        gcc -shared -fPIC -nostdlib -o "$work/newglibc/libkashim.so" "$work/newglibc/fake.c" "$work/stubc/libc.so.6" 2>>"$work/err"; then
        LD_PRELOAD=$work/newglibc/libkashim.so /bin/true 2>"$work/loader.err"
        grep -q "GLIBC_2.99' not found" "$work/loader.err" || why+=" the loader did not refuse it: $(cat "$work/loader.err");"
        rm -f "$work/ran"
        run "$K" --lib "$work/newglibc/libkashim.so" touch "$work/ran"
        glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2)
        [ "$rc" = 125 ] || why+=" exit $rc;"
        [ ! -e "$work/ran" ] || why+=" the command ran;"
        [ "$(lines "$work/err")" = 1 ] && grep -q "^kashim: $work/newglibc/libkashim.so needs GLIBC_2.99, but this machine has glibc $glibc" "$work/err" ||
            why+=" message: $(err);"
    else
        why+=" cannot build the test library: $(err);"
    fi
    if [ -z "$why" ]; then pass wrapper-lib-newer-glibc; else fail wrapper-lib-newer-glibc "$why"; fi
else
    skip wrapper-lib-newer-glibc "gcc not installed"
fi

# A source checkout without a built library: the first run builds it, shows cargo, and goes on.
if ! command -v cargo >/dev/null 2>&1; then
    skip wrapper-builds-library "cargo not installed"
else
    tree=$work/tree
    mkdir -p "$tree"
    # The whole checkout except its build output and history.
    tar -C "$LIBKASHIM_ROOT" --exclude=./target --exclude=./.git -cf - . | tar -C "$tree" -xf -
    # Offline: the crates are already in cargo's cache from the main build.
    # Without cargo, or without the C compiler Rust links with, both entry points say what to
    # install (with the minimum Rust version), and exit 125 (scripts/kashim) or 1 (test.sh).
    mkdir -p "$work/tools"
    for t in bash env sed head sort cat readlink dirname basename mktemp; do
        ln -sf "$(command -v "$t")" "$work/tools/$t"
    done
    need=$(sed -n 's/^rust-version *= *"\([^"]*\)".*/\1/p' "$LIBKASHIM_ROOT/Cargo.toml" | head -n 1)
    run env -i PATH="$work/tools" HOME=/nonexistent "$tree/scripts/kashim" true
    k_rc=$rc k_err=$(err)
    run env -i PATH="$work/tools" HOME=/nonexistent bash "$tree/scripts/test.sh" 10-unit
    t_rc=$rc t_out=$(out; err)
    cargo_dir=$(dirname "$(command -v cargo)")
    run env PATH="$work/tools:$cargo_dir" "$tree/scripts/kashim" true
    if [ "$k_rc" = 125 ] && [[ $k_err == *"cargo is not installed"*"Rust $need or newer"*rustup* ]] &&
        [ "$t_rc" = 1 ] && [[ $t_out == *"cargo is not installed"*rustup* ]] && [[ $t_out != *"command not found"* ]] &&
        [ "$rc" = 125 ] && grep -q 'no C compiler (cc) found' "$work/err" && grep -q 'apt-get install gcc' "$work/err"; then
        pass wrapper-build-says-what-to-install
    else fail wrapper-build-says-what-to-install "no cargo: exit $k_rc '$k_err'; test.sh: exit $t_rc '$t_out'; no cc: exit $rc '$(err)'"; fi

    rm -f "$work/ran"
    CARGO_NET_OFFLINE=true timeout 600 "$tree/scripts/kashim" --idle 30 touch "$work/ran" >"$work/out" 2>"$work/err" </dev/null
    rc=$?
    if [ "$rc" = 0 ] && [ -e "$work/ran" ] && [ -f "$tree/target/release/libkashim.so" ] &&
        grep -q 'Compiling kashim' "$work/err" && grep -q 'Finished' "$work/err"; then
        pass wrapper-builds-library
    else fail wrapper-builds-library "exit $rc: $(err | tail -n 3 | tr '\n' '|')"; fi
    # Built once, the next run goes straight to the binary: no cargo, no output of its own.
    rm -f "$work/ran"
    run "$tree/scripts/kashim" touch "$work/ran"
    if [ "$rc" = 0 ] && [ -e "$work/ran" ] && [ ! -s "$work/err" ]; then pass wrapper-second-run-does-not-build
    else fail wrapper-second-run-does-not-build "exit $rc: $(err | tail -n 3 | tr '\n' '|')"; fi
    rm -rf "$tree"
fi

# ---------------------------------------------------------------- install.sh
dest=$work/dest prefix=/opt/kashim
mkdir -p "$dest$prefix/lib"
echo keep >"$dest$prefix/lib/other.so"   # someone else's file: must survive everything
snapshot() { (cd "$dest" && find . -type f | sort); }
before=$(snapshot)
run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh"
added=$(comm -13 <(echo "$before") <(snapshot) | tr '\n' ' ')
installed=(lib/libkashim.so bin/kashim share/man/man1/kashim.1 share/man/man7/libkashim.7
    share/bash-completion/completions/kashim)
expected_out=$(for f in "${installed[@]}"; do echo "installed $dest$prefix/$f"; done)
expected_added=$(for f in "${installed[@]}"; do echo ".$prefix/$f"; done | sort | tr '\n' ' ')
# install.sh installs the release build when its tools can be had (80-release checks that build),
# else the plain cargo build; either way, exactly the files it built.
built_dir=$(dirname "$LIB")
if grep -q '^building: cargo zigbuild' "$work/err"; then
    built_dir=$(bash -c '. "$1/scripts/lib/release-build.sh" && release_out "$1"' _ "$LIBKASHIM_ROOT")
fi
if [ "$rc" = 0 ] && [ "$(out)" = "$expected_out" ] && [ "$added" = "$expected_added" ] &&
    cmp -s "$built_dir/libkashim.so" "$dest$prefix/lib/libkashim.so" &&
    cmp -s "$built_dir/kashim" "$dest$prefix/bin/kashim" &&
    [ -x "$dest$prefix/bin/kashim" ]; then
    pass install-files
else fail install-files "exit $rc, printed '$(out)', added '$added' $(err | tail -n 2)"; fi

run "$dest$prefix/bin/kashim" --version
v=$(out)
run "$dest$prefix/bin/kashim" --print-env systemd
if [ "$v" = "$full_version" ] && out | grep -qx "Environment=LD_PRELOAD=$dest$prefix/lib/libkashim.so" &&
    [ ! -s "$work/err" ]; then
    pass install-wrapper-finds-installed-library
else fail install-wrapper-finds-installed-library "version '$v', print-env: $(out | tr '\n' '|') $(err)"; fi

# The man pages render without a warning from groff, and the installed completion completes.
if command -v groff >/dev/null 2>&1; then
    man_warn=$(for f in "$dest$prefix/share/man/man1/kashim.1" "$dest$prefix/share/man/man7/libkashim.7"; do
        groff -man -ww -z "$f" 2>&1; done)
    title=$(groff -man -Tutf8 "$dest$prefix/share/man/man1/kashim.1" 2>/dev/null | grep -c 'kashim - run a program')
    if [ -z "$man_warn" ] && [ "$title" = 1 ]; then pass install-man-pages
    else fail install-man-pages "groff: $man_warn; title lines: $title"; fi
else
    skip install-man-pages "groff not installed"
fi
# shellcheck disable=SC2016 # expanded by the inner bash
run bash -c '. "$1"
    COMP_WORDS=(kashim --log ""); COMP_CWORD=2; _kashim; echo "${COMPREPLY[*]}"
    COMP_WORDS=(kashim --print-env ""); COMP_CWORD=2; _kashim; echo "${COMPREPLY[*]}"
    COMP_WORDS=(kashim --id); COMP_CWORD=1; _kashim; echo "${COMPREPLY[*]}"' _ \
    "$dest$prefix/share/bash-completion/completions/kashim"
if [ "$rc" = 0 ] && [ "$(out)" = "off warn info debug
shell systemd docker
--idle" ]; then pass install-bash-completion
else fail install-bash-completion "exit $rc, completed: $(out | tr '\n' '|') $(err)"; fi

run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh" --bogus
if [ "$rc" = 2 ] && [ "$(lines "$work/err")" = 1 ] && grep -q 'unknown argument --bogus' "$work/err"; then
    pass install-bad-option-exit-2
else fail install-bad-option-exit-2 "exit $rc: $(err)"; fi
if [ -n "$PY" ]; then
    run "$dest$prefix/bin/kashim" --idle 25 "$PY" "$work/ka.py"
    if [ "$rc" = 0 ] && [ "$(out)" = "1 25 10 6 0 $dest$prefix/lib/libkashim.so" ]; then pass install-wrapper-runs
    else fail install-wrapper-runs "exit $rc, got '$(out)' $(err)"; fi
fi

# Reinstalling replaces the library by rename (a new inode), never by rewriting the mapped file.
ino1=$(stat -c %i "$dest$prefix/lib/libkashim.so")
run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh"
ino2=$(stat -c %i "$dest$prefix/lib/libkashim.so")
leftovers=$(find "$dest" -name '*.new.*' | wc -l)
if [ "$rc" = 0 ] && [ "$ino1" != "$ino2" ] && [ "$leftovers" = 0 ]; then pass install-replaces-atomically
else fail install-replaces-atomically "exit $rc, inode $ino1 -> $ino2, $leftovers temp files left"; fi

# --uninstall refuses while ld.so.preload names the library, then removes exactly the two files.
mkdir -p "$dest/etc"
echo "$prefix/lib/libkashim.so" >"$dest/etc/ld.so.preload"
run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh" --uninstall
if [ "$rc" != 0 ] && [ -f "$dest$prefix/lib/libkashim.so" ] && grep -q 'ld.so.preload' "$work/err"; then
    pass install-uninstall-refuses-while-preloaded
else fail install-uninstall-refuses-while-preloaded "exit $rc $(err)"; fi
rm -rf "${dest:?}/etc"
run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh" --uninstall
expected_out=$(for f in "${installed[@]}"; do echo "removed $dest$prefix/$f"; done)
if [ "$rc" = 0 ] && [ "$(out)" = "$expected_out" ] && [ "$(snapshot)" = "$before" ]; then pass install-uninstall-exact
else fail install-uninstall-exact "exit $rc, printed '$(out)', files now: $(snapshot | tr '\n' ' ')"; fi
run env DESTDIR="$dest" PREFIX="$prefix" "$LIBKASHIM_ROOT/scripts/install.sh" --uninstall
if [ "$rc" = 0 ] && [ "$(out | grep -c '^not installed: ')" = "${#installed[@]}" ]; then pass install-uninstall-again
else fail install-uninstall-again "exit $rc, printed '$(out)'"; fi

run env DESTDIR="$dest" PREFIX="/opt/my kashim" "$LIBKASHIM_ROOT/scripts/install.sh"
if [ "$rc" != 0 ] && grep -q 'spaces or colons' "$work/err" && [ ! -e "$dest/opt/my kashim" ]; then
    pass install-refuses-bad-prefix
else fail install-refuses-bad-prefix "exit $rc $(err)"; fi

# ---------------------------------------------------------------- the library stays lean
# libkashim.so holds the hooks and their rules only: every symbol it exports is a libc function it
# interposes, or its KASHIM_LIBRARY marker; it needs no library beyond the C runtime; its size stays
# under a fixed bound of 640 KiB (437 KiB when the command moved to Rust, 506 KiB with the hooks of
# issue 14 and the gaps work). Nothing of the command (argument parser, JSON, eBPF loader) may be
# linked in. And the kashim binary exports no libc function, so
# its own sockets are never interposed by code compiled into it.
libc_so=$(ldconfig -p 2>/dev/null | awk '$1 == "libc.so.6" { print $NF; exit }')
if ! command -v nm >/dev/null 2>&1 || ! command -v readelf >/dev/null 2>&1 || [ -z "$libc_so" ]; then
    skip library-lean "needs nm and readelf (binutils) and ldconfig"
else
    why=""
    nm -D --defined-only "$libc_so" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort -u >"$work/libc.syms"
    nm -D --defined-only "$LIB" | awk '{ print $3 }' | sort -u >"$work/lib.syms"
    extra=$(comm -23 "$work/lib.syms" "$work/libc.syms" | grep -vx KASHIM_LIBRARY | tr '\n' ' ')
    [ -z "$extra" ] || why+=" exports more than hooks: $extra;"
    grep -qx KASHIM_LIBRARY "$work/lib.syms" || why+=" no KASHIM_LIBRARY marker;"
    grep -qx socket "$work/lib.syms" || why+=" does not export socket;"
    needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
        grep -vxE 'libc\.so\.6|libgcc_s\.so\.1|ld-linux-[a-z0-9_-]+\.so\.[0-9]+' | tr '\n' ' ')
    [ -z "$needed" ] || why+=" needs more libraries: $needed;"
    size=$(stat -c %s "$LIB")
    [ "$size" -le 655360 ] || why+=" $size bytes, more than the 640 KiB bound;"
    own=$(nm -D --defined-only "$KBIN" | awk '{ print $3 }' | sort -u | comm -12 - "$work/libc.syms" | tr '\n' ' ')
    [ -z "$own" ] || why+=" the kashim binary exports libc functions: $own;"
    if [ -z "$why" ]; then pass "library-lean ($size bytes, exports: $(tr '\n' ' ' <"$work/lib.syms"))"
    else fail library-lean "$why"; fi
fi

# ---------------------------------------------------------------- reading ELF files
# Before exec, kashim reads the program's and the library's ELF headers and symbol tables from the
# files mapped into memory: read through a cache instead, each symbol and section name cost a read
# and a seek (1 926 calls and about 1 ms for `kashim -- /bin/true` with a developer build).
if command -v strace >/dev/null 2>&1; then
    run strace -o "$work/elf.trace" -e trace=read,pread64,lseek "$KBIN" -- /bin/true
    n=$(grep -cE '^(read|pread64|lseek)\(' "$work/elf.trace")
    if [ "$rc" = 0 ] && [ "$n" -le 60 ]; then pass "wrapper-reads-elf-mapped ($n reads and seeks, with the program's start)"
    else fail wrapper-reads-elf-mapped "exit $rc, $n reads and seeks (at most 60)"; fi
else
    skip wrapper-reads-elf-mapped "strace not installed"
fi

# ---------------------------------------------------------------- lint
if command -v shellcheck >/dev/null 2>&1; then
    run shellcheck -x "$K" "$LIBKASHIM_ROOT/scripts/install.sh" "$0"
    if [ "$rc" = 0 ]; then pass wrapper-shellcheck
    else fail wrapper-shellcheck "$(out | head -n 5 | tr '\n' ' ')"; fi
else
    skip wrapper-shellcheck "shellcheck not installed"
fi
exit 0
