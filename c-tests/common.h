/* Shared helpers for kashim's C test programs. Each program prints result lines
 * ("PASS <label>: <check>" / "FAIL <label>: <check>: <why>") that scripts/test.sh counts.
 * The label comes from $TEST_LABEL so one program can serve several harness runs.
 * Expected keepalive values come from $EXPECT_IDLE, $EXPECT_INTVL, $EXPECT_CNT, $EXPECT_UT
 * (defaults: kashim's defaults 60, 10, 6, and 0 = user timeout not set). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static const char *label(void) {
    const char *l = getenv("TEST_LABEL");
    return l ? l : "c-test";
}

static inline void result(int ok, const char *check, const char *why) {
    if (ok)
        printf("PASS %s: %s\n", label(), check);
    else {
        printf("FAIL %s: %s: %s\n", label(), check, why);
        failures++;
    }
    fflush(stdout);
}

static inline int env_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

struct keepalive { int on, idle, intvl, cnt, user_timeout; };

static inline int int_opt(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) != 0) return -1;
    return v;
}

static inline struct keepalive keepalive_of(int fd) {
    struct keepalive k = {
        int_opt(fd, SOL_SOCKET, SO_KEEPALIVE), int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE),
        int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT),
        int_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)};
    return k;
}

static inline void describe(char *buf, size_t n, struct keepalive k) {
    snprintf(buf, n, "keepalive=%d idle=%d intvl=%d cnt=%d user_timeout=%d", k.on, k.idle, k.intvl,
             k.cnt, k.user_timeout);
}

/* The socket carries exactly the configured values. */
static inline void expect_configured(const char *check, int fd) {
    struct keepalive k = keepalive_of(fd);
    int ok = k.on == 1 && k.idle == env_int("EXPECT_IDLE", 60) && k.intvl == env_int("EXPECT_INTVL", 10) &&
             k.cnt == env_int("EXPECT_CNT", 6) && k.user_timeout == env_int("EXPECT_UT", 0);
    char why[160];
    describe(why, sizeof why, k);
    result(ok, check, why);
}

/* A TCP socket kashim did not touch: kernel defaults (keepalive off, idle 7200 s). */
static inline void expect_kernel_defaults(const char *check, int fd) {
    struct keepalive k = keepalive_of(fd);
    char why[160];
    describe(why, sizeof why, k);
    result(k.on == 0 && k.idle == 7200 && k.user_timeout == 0, check, why);
}

/* Any socket: SO_KEEPALIVE still off. */
static inline void expect_keepalive_off(const char *check, int fd) {
    char why[64];
    int on = int_opt(fd, SOL_SOCKET, SO_KEEPALIVE);
    snprintf(why, sizeof why, "SO_KEEPALIVE=%d", on);
    result(on == 0, check, why);
}

/* A listening loopback TCP socket on an ephemeral port; *port gets the port (host order). */
static inline int plain_listener(int domain, int fd, int *port) {
    *port = 0;
    if (fd < 0) fd = socket(domain, SOCK_STREAM, 0);
    if (domain == AF_INET6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, len) || listen(fd, 64)) return -1;
        getsockname(fd, (struct sockaddr *)&a, &len);
        *port = ntohs(a.sin6_port);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, len) || listen(fd, 64)) return -1;
        getsockname(fd, (struct sockaddr *)&a, &len);
        *port = ntohs(a.sin_port);
    }
    return fd;
}

static inline int connect_to(int fd, int domain, int port) {
    if (domain == AF_INET6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
                                 .sin6_port = htons(port)};
        return connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(port)};
    return connect(fd, (struct sockaddr *)&a, sizeof a);
}

/* Passing a descriptor over a Unix socket (SCM_RIGHTS), as a socket kashim never saw may arrive. */
static inline void send_fd(int unix_socket, int fd) {
    char byte = 'x', control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    sendmsg(unix_socket, &msg, 0);
}

/* The descriptor send_fd sent, on the lowest free number; -1 if none arrived. */
static inline int recv_fd(int unix_socket) {
    char byte, control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    int received = -1;
    if (recvmsg(unix_socket, &msg, 0) == 1 && CMSG_FIRSTHDR(&msg))
        memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
    return received;
}

static inline int finish(void) { return failures ? 1 : 0; }
