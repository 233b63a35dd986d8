/* sysprobe: runs socket scenarios between marker system calls, for scripts/suites/60-syscalls.sh.
 *
 *   sysprobe [self IDLE INTERVAL COUNT USER_TIMEOUT_MS] SCENARIO...
 *
 * Each scenario runs between write(-1, "KASHIM-MARK begin <name>") and write(-1, "KASHIM-MARK end
 * <name>") (both fail with EBADF and do nothing but show up in strace), so a test can cut out
 * exactly the system calls one scenario made and compare a run under kashim with a run without.
 * "self ..." makes the program set the keepalive options itself on every TCP socket it creates,
 * the way kashim does (USER_TIMEOUT_MS 0 = not set); without kashim that is the reference run.
 * Exit status: 0, or 2 if a scenario's socket calls failed unexpectedly.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int self_opts, idle, intvl, cnt, utimeout;

static void mark(const char *what, const char *name)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "KASHIM-MARK %s %s", what, name);
    if (write(-1, buf, (size_t)n) != -1) abort();
}

static void die(const char *what) { fprintf(stderr, "sysprobe: %s: %s\n", what, strerror(errno)); exit(2); }

/* A TCP socket, with the options set by the program itself in "self" mode. Returns -1 only for
 * AF_INET6 where the host has no IPv6 (the test then reports a skip). */
static int tcp_socket(int dom, int type, int proto)
{
    int fd = socket(dom, type, proto);
    if (fd < 0 && dom == AF_INET6 && errno == EAFNOSUPPORT) return -1;
    if (fd < 0) die("socket");
    if (self_opts) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        if (utimeout) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &utimeout, sizeof utimeout);
    }
    return fd;
}

/* A socket kashim must leave alone (or one that fails): socket + close, nothing else. */
static void plain(int dom, int type, int proto, int must_work)
{
    int fd = socket(dom, type, proto);
    if (fd >= 0) close(fd);
    else if (must_work) die("socket");
}

/* Loopback connect/accept/accept4, each step in its own marked region. */
static void conn(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    mark("begin", "listener");
    int l = tcp_socket(AF_INET, SOCK_STREAM, 0);
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 8)) die("listen");
    mark("end", "listener");
    if (getsockname(l, (struct sockaddr *)&sa, &len)) die("getsockname");
    mark("begin", "client");
    int c1 = tcp_socket(AF_INET, SOCK_STREAM, 0);
    mark("end", "client");
    mark("begin", "connect");
    if (connect(c1, (struct sockaddr *)&sa, sizeof sa)) die("connect");
    mark("end", "connect");
    mark("begin", "accept");
    int a1 = accept(l, NULL, NULL);
    if (a1 < 0) die("accept");
    mark("end", "accept");
    int c2 = tcp_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(c2, (struct sockaddr *)&sa, sizeof sa)) die("connect");
    mark("begin", "accept4");
    int a2 = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (a2 < 0) die("accept4");
    mark("end", "accept4");
    mark("begin", "close");
    close(a1); close(a2); close(c1); close(c2); close(l);
    mark("end", "close");
}

/* connect() on sockets kashim leaves alone: UDP to loopback, and a Unix stream pair (abstract name). */
static void connect_plain(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (u < 0) die("socket");
    mark("begin", "udp4-connect");
    if (connect(u, (struct sockaddr *)&sa, sizeof sa)) die("connect udp");
    mark("end", "udp4-connect");
    close(u);

    struct sockaddr_un un = { .sun_family = AF_UNIX };
    snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "kashim-sysprobe-%010d", (int)getpid());
    socklen_t ulen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(un.sun_path + 1));
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&un, ulen) || listen(l, 1)) die("unix listen");
    mark("begin", "unix-connect-accept");
    if (connect(c, (struct sockaddr *)&un, ulen)) die("connect unix");
    int a = accept(l, NULL, NULL);
    if (a < 0) die("accept unix");
    mark("end", "unix-connect-accept");
    close(a); close(c); close(l);
}

/* TCP sockets kashim did not create (made with a raw system call, like a socket inherited across
 * exec): it configures them at connect() and on each accept() instead. */
static void foreign(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    int l = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 8) ||
        getsockname(l, (struct sockaddr *)&sa, &len))
        die("foreign listen");
    int c = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (c < 0) die("foreign socket");
    mark("begin", "foreign-connect");
    if (connect(c, (struct sockaddr *)&sa, sizeof sa)) die("connect");
    mark("end", "foreign-connect");
    mark("begin", "foreign-accept");
    int a = accept(l, NULL, NULL);
    if (a < 0) die("accept");
    mark("end", "foreign-accept");
    /* A second connection to the same foreign listener, from a client kashim created. */
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    if (c2 < 0 || connect(c2, (struct sockaddr *)&sa, sizeof sa)) die("connect 2");
    mark("begin", "foreign-accept-again");
    int a2 = accept(l, NULL, NULL);
    if (a2 < 0) die("accept 2");
    mark("end", "foreign-accept-again");
    close(a2); close(c2); close(a); close(c); close(l);
}

/* The program's own keepalive calls on a TCP socket (for KASHIM_FORCE). */
static void own_opts(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, v = 300;
    if (fd < 0) die("socket");
    mark("begin", "own-opts");
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof v);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &one, sizeof one);
    mark("end", "own-opts");
    close(fd);
}

int main(int argc, char **argv)
{
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "self") == 0) {
        if (argc < 7) { fprintf(stderr, "usage: sysprobe [self IDLE INTERVAL COUNT UT_MS] SCENARIO...\n"); return 2; }
        self_opts = 1;
        idle = atoi(argv[2]); intvl = atoi(argv[3]); cnt = atoi(argv[4]); utimeout = atoi(argv[5]);
        i = 6;
    }
    for (; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "conn") == 0) { conn(); continue; }
        if (strcmp(s, "own-opts") == 0) { own_opts(); continue; }
        if (strcmp(s, "connect-plain") == 0) { connect_plain(); continue; }
        if (strcmp(s, "foreign") == 0) { foreign(); continue; }
        mark("begin", s);
        if (strcmp(s, "tcp4") == 0) close(tcp_socket(AF_INET, SOCK_STREAM, 0));
        else if (strcmp(s, "tcp4-flags") == 0) close(tcp_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        else if (strcmp(s, "tcp4-proto") == 0) close(tcp_socket(AF_INET, SOCK_STREAM, IPPROTO_TCP));
        else if (strcmp(s, "tcp6") == 0) { int fd = tcp_socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0); if (fd >= 0) close(fd); }
        else if (strcmp(s, "udp4") == 0) plain(AF_INET, SOCK_DGRAM, 0, 1);
        else if (strcmp(s, "udp6") == 0) plain(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0);
        else if (strcmp(s, "unix-stream") == 0) plain(AF_UNIX, SOCK_STREAM, 0, 1);
        else if (strcmp(s, "unix-dgram") == 0) plain(AF_UNIX, SOCK_DGRAM, 0, 1);
        else if (strcmp(s, "unix-seqpacket") == 0) plain(AF_UNIX, SOCK_SEQPACKET, 0, 1);
        /* SOCK_RAW (3) and SOCK_SEQPACKET (5) share a bit with SOCK_STREAM (1): a sloppy type test
         * would take them for TCP. Raw needs CAP_NET_RAW; a failed socket() must get nothing either. */
        else if (strcmp(s, "raw4-tcp") == 0) plain(AF_INET, SOCK_RAW, IPPROTO_TCP, 0);
        else if (strcmp(s, "inet-seqpacket") == 0) plain(AF_INET, SOCK_SEQPACKET, 0, 0);
        else if (strcmp(s, "tcp4-fails") == 0) plain(AF_INET, SOCK_STREAM, IPPROTO_UDP, 0);
        else { fprintf(stderr, "sysprobe: unknown scenario %s\n", s); return 2; }
        mark("end", s);
    }
    return 0;
}
