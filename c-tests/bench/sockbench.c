/* sockbench: times a socket-lifecycle loop, for scripts/bench.sh.
 *
 *   sockbench MODE ITERATIONS [self IDLE INTERVAL COUNT]
 *
 * MODE: tcp  = socket(AF_INET, SOCK_STREAM) + close
 *       udp  = socket(AF_INET, SOCK_DGRAM) + close
 *       unix = socket(AF_UNIX, SOCK_STREAM) + close
 *       conn = socket + connect to a loopback listener + accept + close both
 * "self" makes the program set the four keepalive options itself on every TCP socket it creates
 * (the listener and each client), i.e. exactly what kashim does; run without kashim, it is the
 * physical floor kashim is compared with.
 * Prints two numbers on stdout, for the timed loop only (start-up excluded): CPU time (user + system,
 * from the kernel's per-process accounting) and wall time, each in nanoseconds per iteration. CPU
 * time leaves out the time other processes on a shared machine take the CPU away, so it is the
 * steadier measure of the work the program (and kashim in it) does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int self_opts, idle = 60, intvl = 10, cnt = 6;

static void die(const char *what) { perror(what); exit(2); }

/* The same four calls kashim makes, with the same values. */
static void set_opts(int fd)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt))
        die("setsockopt");
}

static int tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (self_opts) set_opts(fd);
    return fd;
}

static double clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 7) {
        fprintf(stderr, "usage: %s tcp|udp|unix|conn ITERATIONS [self IDLE INTERVAL COUNT]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    if (argc == 7) {
        if (strcmp(argv[3], "self") != 0) { fprintf(stderr, "expected 'self'\n"); return 2; }
        self_opts = 1; idle = atoi(argv[4]); intvl = atoi(argv[5]); cnt = atoi(argv[6]);
    }
    double t0, t1, c0, c1;
    if (strcmp(mode, "conn") == 0) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof sa;
        int lfd = tcp_socket();
        if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 64) ||
            getsockname(lfd, (struct sockaddr *)&sa, &len))
            die("listen");
        /* Reset instead of FIN on close: no TIME_WAIT, so the loop never runs out of ports. */
        struct linger lg = { 1, 0 };
        c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID); t0 = clock_ns(CLOCK_MONOTONIC);
        for (long i = 0; i < n; i++) {
            int c = tcp_socket();
            if (connect(c, (struct sockaddr *)&sa, sizeof sa)) die("connect");
            int a = accept(lfd, NULL, NULL);
            if (a < 0) die("accept");
            if (setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)) die("SO_LINGER");
            close(a);
            close(c);
        }
        t1 = clock_ns(CLOCK_MONOTONIC); c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
        close(lfd);
    } else {
        int dom, type;
        if (strcmp(mode, "tcp") == 0) { dom = AF_INET; type = SOCK_STREAM; }
        else if (strcmp(mode, "udp") == 0) { dom = AF_INET; type = SOCK_DGRAM; }
        else if (strcmp(mode, "unix") == 0) { dom = AF_UNIX; type = SOCK_STREAM; }
        else { fprintf(stderr, "unknown mode %s\n", mode); return 2; }
        c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID); t0 = clock_ns(CLOCK_MONOTONIC);
        for (long i = 0; i < n; i++) {
            int fd = socket(dom, type, 0);
            if (fd < 0) die("socket");
            if (self_opts && type == SOCK_STREAM && dom == AF_INET) set_opts(fd);
            close(fd);
        }
        t1 = clock_ns(CLOCK_MONOTONIC); c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    }
    printf("%.1f %.1f\n", (c1 - c0) / n, (t1 - t0) / n);
    return 0;
}
