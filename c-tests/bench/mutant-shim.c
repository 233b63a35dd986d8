/* mutant-shim: a deliberately simple stand-in for libkashim.so, used ONLY to prove that the tests in
 * scripts/suites/60-syscalls.sh can fail. With MUTANT_FAULT unset it does what kashim promises
 * (4 keepalive options, 5 with a user timeout, on each TCP socket it creates, nothing else), so a
 * checker must accept it; each MUTANT_FAULT value breaks one promise, so a checker must reject it:
 *   all-sockets  also sets SO_KEEPALIVE on UDP/Unix/raw sockets
 *   on-connect   sets the options again in connect()
 *   on-accept    sets the options on every accepted socket
 *   three        forgets TCP_KEEPCNT
 *   ignore-env   always uses 60/10/6, whatever KASHIM_* say
 *   startup      reads a file in its constructor (extra system calls at start-up)
 *   no-force     under KASHIM_FORCE, does not put its value back after the program's own keepalive call
 * Settings: KASHIM_IDLE, KASHIM_INTERVAL, KASHIM_COUNT (plain integers), KASHIM_USER_TIMEOUT
 * (plain milliseconds or "auto"), KASHIM_ENABLED=0, KASHIM_FORCE=1. Not a product; never install it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int (*real_socket)(int, int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int idle = 60, intvl = 10, cnt = 6, utimeout, enabled = 1, force;
static const char *fault = "";

static int envint(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static void init(void)
{
    if (real_socket) return;
    real_socket = dlsym(RTLD_NEXT, "socket");
    real_connect = dlsym(RTLD_NEXT, "connect");
    real_accept = dlsym(RTLD_NEXT, "accept");
    real_accept4 = dlsym(RTLD_NEXT, "accept4");
    real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
    if (getenv("MUTANT_FAULT")) fault = getenv("MUTANT_FAULT");
    if (strcmp(fault, "ignore-env") != 0) {
        idle = envint("KASHIM_IDLE", 60);
        intvl = envint("KASHIM_INTERVAL", 10);
        cnt = envint("KASHIM_COUNT", 6);
        const char *ut = getenv("KASHIM_USER_TIMEOUT");
        if (ut && strcmp(ut, "auto") == 0) utimeout = (idle + intvl * cnt) * 1000;
        else if (ut) utimeout = atoi(ut);
    }
    enabled = envint("KASHIM_ENABLED", 1);
    force = envint("KASHIM_FORCE", 0);
}

__attribute__((constructor)) static void ctor(void)
{
    init();
    if (strcmp(fault, "startup") == 0) {
        int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) close(fd);
    }
}

static void configure(int fd)
{
    int one = 1;
    real_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    real_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    real_setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    if (strcmp(fault, "three") != 0) real_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    if (utimeout) real_setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &utimeout, sizeof utimeout);
}

int socket(int dom, int type, int proto)
{
    init();
    int fd = real_socket(dom, type, proto);
    if (fd < 0 || !enabled) return fd;
    int base = type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK);
    if ((dom == AF_INET || dom == AF_INET6) && base == SOCK_STREAM && (proto == 0 || proto == IPPROTO_TCP))
        configure(fd);
    else if (strcmp(fault, "all-sockets") == 0) {
        int one = 1;
        real_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    }
    return fd;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    init();
    if (enabled && strcmp(fault, "on-connect") == 0) configure(fd);
    return real_connect(fd, sa, len);
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
    init();
    int a = real_accept(fd, sa, len);
    if (a >= 0 && enabled && strcmp(fault, "on-accept") == 0) configure(a);
    return a;
}

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
    init();
    int a = real_accept4(fd, sa, len, flags);
    if (a >= 0 && enabled && strcmp(fault, "on-accept") == 0) configure(a);
    return a;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    init();
    int rc = real_setsockopt(fd, level, name, val, len);
    if (rc == 0 && enabled && force && strcmp(fault, "no-force") != 0) {
        /* KASHIM_FORCE: the kernel judged the program's call; the shim's own value goes back. */
        int v = -1;
        if (level == SOL_SOCKET && name == SO_KEEPALIVE) v = 1;
        else if (level == IPPROTO_TCP && name == TCP_KEEPIDLE) v = idle;
        else if (level == IPPROTO_TCP && name == TCP_KEEPINTVL) v = intvl;
        else if (level == IPPROTO_TCP && name == TCP_KEEPCNT) v = cnt;
        else if (level == IPPROTO_TCP && name == TCP_USER_TIMEOUT && utimeout) v = utimeout;
        if (v >= 0) real_setsockopt(fd, level, name, &v, sizeof v);
    }
    return rc;
}
