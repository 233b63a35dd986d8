#!/usr/bin/env bash
# 25-gaps: the LD_PRELOAD gaps found with real programs (issue 13), each reproduced as it was found:
#   close_range/closefrom   a socket received onto a number freed by close_range must be configured
#   inherited connections   inetd (fds 0-1) and systemd socket activation (LISTEN_FDS) connections
#   RTLD_DEEPBIND           PHP's extensions (sockets, pgsql) reach kashim
#   re-exec                 a server that rebuilds its environment when it re-execs (docs/ld-preload-gaps.md)
# To see a test fail without the fix: LIBKASHIM=/path/to/older/libkashim.so bash scripts/suites/25-gaps.sh
set -u
# shellcheck source=scripts/lib/suite.sh
. "$(dirname "$0")/../lib/suite.sh"

src=$LIBKASHIM_ROOT/c-tests
bin=$src/bin
mkdir -p "$bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kashim-gaps.XXXXXX")
pids=()
cleanup() {
    local p
    stop_with_children "${pids[@]}"
    for p in "$tmp"/nginx-*/nginx.pid "$tmp"/nginx-*/nginx.pid.oldbin; do
        [ -f "$p" ] && kill -QUIT "$(cat "$p" 2>/dev/null)" 2>/dev/null
    done
    for p in "$tmp"/nginx-*/upstream.pid; do
        [ -f "$p" ] && kill "$(cat "$p" 2>/dev/null)" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v gcc >/dev/null 2>&1; then
    skip gaps "gcc not found"
    exit 0
fi
if [ ! -f "$LIBKASHIM" ]; then
    fail gaps "library not built: $LIBKASHIM"
    exit 0
fi
lib=$LIBKASHIM
build() { # build NAME: c-tests/NAME.c -> c-tests/bin/NAME
    gcc -O1 -Wall -Werror -pthread -o "$bin/$1" "$src/$1.c" >"$tmp/cc.log" 2>&1 ||
        { fail "gaps build $1" "$(head -n 3 "$tmp/cc.log" | tr '\n' ' ')"; return 1; }
}
# under LABEL [VAR=value...] -- PROG ARGS: PROG under kashim, clean KASHIM_* environment, bounded.
under() {
    local label=$1; shift
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    without_kashim_env timeout 60 env TEST_LABEL="$label" LD_PRELOAD="$lib" "${vars[@]}" "$@"
    local status=$?
    [ $status -eq 124 ] && fail "$label" "timed out after 60 s"
    return 0
}
python=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)

# --- close_range / closefrom ----------------------------------------------------------------------
if build closerange_test; then
    under "close_range" -- "$bin/closerange_test" close_range
    under "closefrom" -- "$bin/closerange_test" closefrom
    under "close_range CLOEXEC" -- "$bin/closerange_test" cloexec
fi
if [ -n "$python" ]; then
    under "python os.closerange" -- "$python" "$src/closerange_check.py" closerange
else
    skip "python os.closerange" "python3 not found"
fi

# --- inherited connections: systemd-socket-activate hands the server an accepted connection --------
# The activator itself runs WITHOUT kashim (its listener would otherwise pass kashim's options on to
# every connection in the kernel); LD_PRELOAD reaches only the server, through -E, as a unit's
# Environment= would. The server never calls accept() or connect() and reports its socket's values.
# activated NAME EXPECTED MODE-ARGS... -- SERVER-ARGS...
activated() {
    local name=$1 want=$2; shift 2
    local args=()
    while [ "$1" != "--" ]; do args+=("$1"); shift; done
    shift
    local port got
    port=$(free_port)
    without_kashim_env timeout 60 systemd-socket-activate -l "127.0.0.1:$port" "${args[@]}" \
        -E LD_PRELOAD="$lib" "$bin/inetd_server" "$@" >"$tmp/activate.log" 2>&1 &
    pids+=($!)
    got=$(timeout 20 "$python" - "$port" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("could not connect")
print(s.makefile().readline().strip())
PY
)
    stop_with_children "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null
    if [[ "$got " == "$want "* ]]; then pass "$name"
    else fail "$name" "server saw [$got], expected [$want...]; activator: $(tail -n 2 "$tmp/activate.log" | tr '\n' ' ')"; fi
}
if ! command -v systemd-socket-activate >/dev/null 2>&1; then
    skip "socket activation" "systemd-socket-activate not found (Debian package systemd)"
elif [ -z "$python" ]; then
    skip "socket activation" "python3 not found"
elif build inetd_server; then
    kashim_values="keepalive=1 idle=60 intvl=10 cnt=6 user_timeout=0"
    activated "inetd connection (systemd-socket-activate --inetd --accept) gets kashim's values" \
        "$kashim_values listen_fds=-" --inetd --accept -- 0
    activated "Accept=yes connection at fd 3 (systemd-socket-activate --accept) gets kashim's values" \
        "$kashim_values listen_fds=1" --accept -- 3
    activated "KASHIM_IDLE reaches an activated connection" \
        "keepalive=1 idle=25 intvl=10" --accept -E KASHIM_IDLE=25 -- 3
    activated "a server that sets its own keepalive on the inherited connection keeps it" \
        "keepalive=1 idle=300" --accept -- 3 own
    activated "LISTEN_PID of another process: fd 3 is not touched" \
        "keepalive=0 idle=7200" --accept -E LISTEN_PID=1 -- 3
    # Scope rules: an inherited connection is matched as inbound, on its peer (docs/scope.md).
    activated "scope: an inherited connection KASHIM_ONLY names gets kashim's values" \
        "$kashim_values" --accept -E KASHIM_ONLY=127.0.0.1 -- 3
    activated "scope: an inherited connection KASHIM_ONLY does not name is left alone" \
        "keepalive=0 idle=7200" --accept -E KASHIM_ONLY=10.0.0.0/8 -- 3
fi

# A real inetd-style server: OpenSSH's sshd -i, as in issue 13. sshd turns SO_KEEPALIVE on itself
# (TCPKeepAlive yes), so without kashim's start-up adoption its timers stay 7200/75/9.
sshd=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd" ]; then
    skip "sshd -i" "sshd not installed (Debian package openssh-server)"
elif [ "$(id -u)" != 0 ] || ! command -v systemd-socket-activate >/dev/null 2>&1 || [ -z "$python" ]; then
    skip "sshd -i" "needs root, systemd-socket-activate and python3"
else
    ssh-keygen -q -N '' -t ed25519 -f "$tmp/hostkey" >/dev/null 2>&1
    made_privsep=0
    [ -d /run/sshd ] || { mkdir -m 755 /run/sshd && made_privsep=1; } # sshd's fixed privilege-separation dir
    port=$(free_port)
    without_kashim_env timeout 60 systemd-socket-activate -l "127.0.0.1:$port" --inetd --accept \
        -E LD_PRELOAD="$lib" "$sshd" -i -f /dev/null -h "$tmp/hostkey" >"$tmp/sshd.log" 2>&1 &
    pids+=($!)
    got=$(timeout 30 "$python" "$src/server_keepalive.py" "$port" 2>&1)
    stop_with_children "${pids[-1]}"
    wait "${pids[-1]}" 2>/dev/null
    [ $made_privsep = 1 ] && rmdir /run/sshd 2>/dev/null
    if [ "$got" = "keepalive=1 idle=60 intvl=10 cnt=6" ]; then
        pass "sshd -i under systemd-socket-activate --inetd: sshd's own SO_KEEPALIVE with kashim's 60/10/6"
    else fail "sshd -i under systemd-socket-activate --inetd" "server socket: [$got]; $(tail -n 2 "$tmp/sshd.log" | tr '\n' ' ')"; fi
fi

# --- RTLD_DEEPBIND -------------------------------------------------------------------------------
# C: libraries opened with RTLD_DEEPBIND (BIND_NOW and lazy), a tree with its own socket(), a bare
# name (through the program's RUNPATH), dlerror()/handles unchanged, dlmopen.
deep_ok=1
{
    gcc -O1 -Wall -Werror -shared -fPIC -Wl,-z,now -o "$bin/libdeep_now.so" "$src/deepbind_lib.c" &&
    gcc -O1 -Wall -Werror -shared -fPIC -Wl,-z,lazy -o "$bin/libdeep_lazy.so" "$src/deepbind_lib.c" &&
    gcc -O1 -Wall -Werror -shared -fPIC -o "$bin/libdeep_own_socket.so" "$src/deepbind_own_socket.c" &&
    gcc -O1 -Wall -Werror -shared -fPIC -o "$bin/libdeep_own.so" "$src/deepbind_lib.c" \
        -L"$bin" -ldeep_own_socket -Wl,-rpath,"$bin" &&
    gcc -O1 -Wall -Werror -o "$bin/deepbind_test" "$src/deepbind_test.c" -Wl,--enable-new-dtags,-rpath,"$bin"
} >"$tmp/cc.log" 2>&1 || { deep_ok=0; fail "gaps build deepbind" "$(head -n 3 "$tmp/cc.log" | tr '\n' ' ')"; }
if [ $deep_ok = 1 ]; then
    for m in now lazy own own-lazy by-name runpath errors dlmopen; do
        under "RTLD_DEEPBIND $m" -- "$bin/deepbind_test" "$bin" "$m" 2>"$tmp/deep.err"
        if [ -s "$tmp/deep.err" ]; then fail "RTLD_DEEPBIND $m: silent by default" "stderr: $(head -c 300 "$tmp/deep.err")"; fi
    done
    # Each case kashim cannot reach is said once, at info level, naming the library.
    info_line() { # NAME MODE EXPECTED-SUBSTRING
        under "x" KASHIM_LOG=info -- "$bin/deepbind_test" "$bin" "$2" 2>"$tmp/deep.err" >/dev/null
        local n
        n=$(grep -cF "$3" "$tmp/deep.err")
        if [ "$n" = 1 ]; then pass "$1"; else fail "$1" "expected one line with [$3], stderr: $(tr '\n' ' ' <"$tmp/deep.err" | head -c 400)"; fi
    }
    info_line "RTLD_DEEPBIND own socket(): one info line naming the library" own \
        "kashim: libdeep_own.so: its dependency libdeep_own_socket.so brings its own socket(); its sockets are not reached (use kashim --ebpf or --attach)"
    info_line "RTLD_DEEPBIND own socket(), lazily bound: one info line naming the library" own-lazy \
        "kashim: libdeep_own.so: its dependency libdeep_own_socket.so brings its own socket(); its sockets are not reached (use kashim --ebpf or --attach)"
    info_line "RTLD_DEEPBIND by bare name: one info line naming the library" by-name \
        "kashim: libdeep_lazy.so: opened with RTLD_DEEPBIND by name"
    info_line "dlmopen namespace: one info line naming the library" dlmopen \
        "kashim: libdeep_lazy.so: loaded into another link-map namespace by dlmopen"
fi

# PHP: its extensions are opened with RTLD_DEEPBIND (php_load_shlib). sockets is read back in PHP
# itself; pgsql (libpq), pdo_pgsql and curl (libcurl) connect to a listener here, which reads the
# client socket's options inside the PHP process (c-tests/peer_keepalive.py, pidfd_getfd).
php_has() { php -m 2>/dev/null | grep -qx "$1"; }
if ! command -v php >/dev/null 2>&1; then
    skip "php" "php not found (Debian packages php-cli php-pgsql php-curl)"
else
    if php_has sockets; then
        # shellcheck disable=SC2016 # PHP code
        got=$(without_kashim_env timeout 30 env LD_PRELOAD="$lib" php -r '
            $s = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
            echo socket_get_option($s, SOL_SOCKET, SO_KEEPALIVE), " ", socket_get_option($s, SOL_TCP, 4), " ",
                 socket_get_option($s, SOL_TCP, 5), " ", socket_get_option($s, SOL_TCP, 6);' 2>&1)
        if [ "$got" = "1 60 10 6" ]; then pass "php sockets: socket_create() gets kashim's values"
        else fail "php sockets: socket_create() gets kashim's values" "SO_KEEPALIVE TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT = [$got], expected [1 60 10 6]"; fi
        # shellcheck disable=SC2016 # PHP code
        got=$(without_kashim_env timeout 30 env LD_PRELOAD="$lib" KASHIM_ENABLED=0 php -r '
            $s = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
            echo socket_get_option($s, SOL_SOCKET, SO_KEEPALIVE), " ", socket_get_option($s, SOL_TCP, 4);' 2>&1)
        if [ "$got" = "0 7200" ]; then pass "php sockets with KASHIM_ENABLED=0: nothing patched, kernel defaults"
        else fail "php sockets with KASHIM_ENABLED=0" "got [$got], expected [0 7200]"; fi
    else
        skip "php sockets" "the sockets extension is not loaded (php-cli)"
    fi
    peer() { without_kashim_env timeout 60 "$python" "$src/peer_keepalive.py" "$@"; }
    # shellcheck disable=SC2016 # PHP code
    if php_has pgsql; then
        peer "php pgsql: pg_connect() (libpq) gets kashim's idle, interval and count" "1 60 10 6" \
            env LD_PRELOAD="$lib" php -r '@pg_connect("host=127.0.0.1 port={port} dbname=x user=x connect_timeout=5");'
    else skip "php pgsql" "the pgsql extension is not installed (php-pgsql)"; fi
    # shellcheck disable=SC2016
    if php_has pdo_pgsql; then
        peer "php pdo_pgsql: new PDO(pgsql:...) gets kashim's values" "1 60 10 6" \
            env LD_PRELOAD="$lib" php -r 'try { new PDO("pgsql:host=127.0.0.1;port={port};dbname=x", "x", "x"); } catch (Exception $e) {}'
    else skip "php pdo_pgsql" "the pdo_pgsql extension is not installed (php-pgsql)"; fi
    # shellcheck disable=SC2016
    if php_has curl; then
        peer "php curl: curl_exec() (libcurl) gets kashim's values" "1 60 10 6" \
            env LD_PRELOAD="$lib" php -r '$c = curl_init("http://127.0.0.1:{port}/"); curl_setopt($c, CURLOPT_TIMEOUT, 5); curl_exec($c);'
    else skip "php curl" "the curl extension is not installed (php-curl)"; fi
    # The rest of PHP is unchanged: same output with and without kashim for a script using them all.
    # shellcheck disable=SC2016
    script='echo implode(",", get_loaded_extensions()), " ", function_exists("socket_create") ? "ok" : "-", " ", json_encode(@file_get_contents("/nonexistent")), "\n";'
    if [ "$(php -r "$script" 2>&1)" = "$(without_kashim_env env LD_PRELOAD="$lib" php -r "$script" 2>&1)" ]; then
        pass "php: same output and extensions with and without kashim"
    else fail "php: same output and extensions with and without kashim" "outputs differ"; fi
fi

# --- re-exec: nginx's binary upgrade (kill -USR2) starts the new master with an environment nginx
# builds itself: TZ plus the variables named by `env` directives. docs/ld-preload-gaps.md gives the
# recipe (env LD_PRELOAD; env KASHIM_IDLE; ...). The upstream (c-tests/upstream_keepalive.py) answers
# each proxied request with the keepalive of nginx's own upstream socket, read inside the worker.
# nginx_upgrade NAME RECIPE: prints "<before upgrade> | <after upgrade>".
nginx_upgrade() {
    local dir=$tmp/nginx-$1 recipe=$2 port uport before after old
    mkdir -p "$dir"
    "$python" "$src/upstream_keepalive.py" "$dir/uport" >"$dir/upstream.log" 2>&1 &
    # This function runs in $(...): a pid added to $pids here would never reach the cleanup.
    echo $! >"$dir/upstream.pid"
    for _ in $(seq 100); do [ -f "$dir/uport" ] && break; sleep 0.1; done
    uport=$(cat "$dir/uport" 2>/dev/null)
    port=$(free_port)
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
$recipe
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
    server { listen 127.0.0.1:$port; location / { proxy_pass http://127.0.0.1:$uport; } }
}
CONF
    get() { "$python" -c 'import urllib.request, sys
print(urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=10).read().decode().split(" pid=")[0])' "$port" 2>&1 | tail -n 1; }
    # nginx re-execs its own argv[0], so it is started by its full path, as init systems do.
    without_kashim_env env LD_PRELOAD="$lib" KASHIM_IDLE=25 "$nginx" -c "$dir/nginx.conf" -e "$dir/error.log" ||
        { echo "nginx did not start: $(tail -n 2 "$dir/error.log" | tr '\n' ' ')"; return; }
    for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    before=$(get)
    old=$(cat "$dir/nginx.pid")
    kill -USR2 "$old"
    for _ in $(seq 100); do [ -f "$dir/nginx.pid.oldbin" ] && [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    kill -QUIT "$old"   # the old master and its workers leave; the new ones serve
    for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    after=$(get)
    kill -QUIT "$(cat "$dir/nginx.pid" 2>/dev/null)" 2>/dev/null
    echo "$before | $after"
}
nginx=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx" ]; then
    skip "nginx binary upgrade" "nginx not installed (Debian package nginx)"
elif [ "$(id -u)" != 0 ]; then
    skip "nginx binary upgrade" "needs root (nginx workers switch user; the upstream reads their sockets)"
elif [ -z "$python" ]; then
    skip "nginx binary upgrade" "python3 not found"
else
    k25="keepalive=1 idle=25 intvl=10 cnt=6"
    got=$(nginx_upgrade plain "")
    # The gap itself, as the docs describe it: reached before the upgrade, not after.
    if [ "$got" = "$k25 | keepalive=0 idle=7200 intvl=75 cnt=9" ]; then
        pass "nginx binary upgrade without env directives: the new master drops LD_PRELOAD (documented gap reproduced)"
    else fail "nginx binary upgrade without env directives" "before | after = [$got]"; fi
    got=$(nginx_upgrade recipe "env LD_PRELOAD; env KASHIM_IDLE;")
    if [ "$got" = "$k25 | $k25" ]; then
        pass "nginx binary upgrade with 'env LD_PRELOAD; env KASHIM_IDLE;': upstream connections keep kashim's values"
    else fail "nginx binary upgrade with the recipe" "before | after = [$got], expected [$k25 | $k25]"; fi
    got=$(nginx_upgrade preload-only "env LD_PRELOAD;")
    if [ "$got" = "$k25 | keepalive=1 idle=60 intvl=10 cnt=6" ]; then
        pass "nginx binary upgrade with only 'env LD_PRELOAD;': kashim stays, KASHIM_IDLE is lost (list every KASHIM_* in use)"
    else fail "nginx binary upgrade with only env LD_PRELOAD" "before | after = [$got]"; fi
fi

# --- mixed settings: at debug level, which keepalive options the program chose and which of kashim's
# remain. A client setting part of keepalive itself, as redis-cli does (SO_KEEPALIVE, TCP_KEEPIDLE).
if [ -n "$python" ]; then
    mixed_py='import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 15)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL))'
    out=$(under "x" KASHIM_LOG=debug KASHIM_IDLE=30 -- "$python" -c "$mixed_py" 2>"$tmp/mixed.err")
    # The socket's number depends on what the caller left open (a lock held by flock(1), say).
    want="kashim: fd [0-9]*: program set TCP_KEEPIDLE=15; now: keepalive on (kashim), idle 15s (program), interval 10s (kashim), count 6 (kashim)"
    if [ "$out" = "15 10" ] && grep -qx "$want" "$tmp/mixed.err" && [ "$(grep -c ': program set [A-Z_]*=' "$tmp/mixed.err")" = 2 ]; then
        pass "mixed settings: debug line says the program chose idle 15s and kashim's interval and count remain"
    else fail "mixed settings debug line" "stdout [$out]; stderr: $(grep 'program set' "$tmp/mixed.err" | tr '\n' ' ')"; fi
    out=$(under "x" KASHIM_IDLE=30 -- "$python" -c "$mixed_py" 2>"$tmp/mixed.err")
    if [ "$out" = "15 10" ] && [ ! -s "$tmp/mixed.err" ]; then pass "mixed settings: nothing printed below debug level"
    else fail "mixed settings below debug" "stderr: $(head -c 300 "$tmp/mixed.err")"; fi
fi
if command -v php >/dev/null 2>&1 && php_has curl; then
    # libcurl's CURLOPT_TCP_KEEPALIVE sets idle 60 and interval 60: kashim's count (6) remains.
    # shellcheck disable=SC2016
    peer "php curl with CURLOPT_TCP_KEEPALIVE: libcurl's idle/interval 60, kashim's count 6 (mixed)" "1 60 60 6" \
        env LD_PRELOAD="$lib" KASHIM_IDLE=30 php -r '$c = curl_init("http://127.0.0.1:{port}/"); curl_setopt($c, CURLOPT_TIMEOUT, 5); curl_setopt($c, CURLOPT_TCP_KEEPALIVE, 1); curl_exec($c);'
fi
