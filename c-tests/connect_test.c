/* connect(): configured sockets connect normally; non-blocking and refused connects return what
 * the kernel says; a TCP socket kashim did not create is configured when it connects.
 *   connect_test                      the in-process checks
 *   connect_test inherited-parent LIB  run WITHOUT the shim: makes an unconnected TCP socket and a
 *                                      listener, then execs itself as the child with LD_PRELOAD=LIB
 *   connect_test inherited-child FD PORT */
#include "common.h"
#include <poll.h>
#include <sys/syscall.h>

static void in_process(void) {
    int port;
    int listener = plain_listener(AF_INET, -1, &port);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    errno = 4242;
    int rc = connect_to(fd, AF_INET, port);
    char why[96];
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, errno);
    result(rc == 0 && errno == 4242, "blocking connect succeeds and keeps errno", why);
    expect_configured("connected socket has the configured keepalive", fd);
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    rc = connect_to(fd, AF_INET, port);
    int err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == 0 || (rc == -1 && err == EINPROGRESS), "non-blocking connect gives EINPROGRESS (or 0)", why);
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    poll(&p, 1, 2000);
    expect_configured("non-blocking socket has the configured keepalive", fd);
    close(fd);

    int dead_port;
    int dead = plain_listener(AF_INET, -1, &dead_port);
    close(dead);
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    rc = connect_to(fd, AF_INET6, dead_port);
    err = errno;
    snprintf(why, sizeof why, "rc=%d errno=%d", rc, err);
    result(rc == -1 && err == ECONNREFUSED, "refused connect gives ECONNREFUSED", why);
    close(fd);

    /* A socket made with a raw system call never passed through kashim's socket(): it is taken
     * on at connect(). A UDP one made the same way must stay untouched. */
    fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    expect_kernel_defaults("raw-syscall TCP socket starts with kernel defaults", fd);
    connect_to(fd, AF_INET, port);
    expect_configured("raw-syscall TCP socket is configured at connect()", fd);
    close(fd);
    fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    connect_to(fd, AF_INET, port);
    expect_keepalive_off("raw-syscall UDP socket is left alone at connect()", fd);
    close(fd);

    /* A TCP socket received over a Unix socket (SCM_RIGHTS) lands on a number that a UDP socket
     * used a moment ago: kashim must forget the old socket at close() and take the new one on at
     * connect(). The sender made it with a raw system call, so kashim never saw it. */
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    int old_udp = socket(AF_INET, SOCK_DGRAM, 0);
    int sent = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    send_fd(pair[0], sent);
    close(old_udp);
    int received = recv_fd(pair[1]);
    close(sent);
    snprintf(why, sizeof why, "received fd %d, old UDP fd %d", received, old_udp);
    result(received == old_udp, "socket received over SCM_RIGHTS reuses a UDP socket's number", why);
    expect_kernel_defaults("socket received over SCM_RIGHTS arrives with kernel defaults", received);
    connect_to(received, AF_INET, port);
    expect_configured("socket received over SCM_RIGHTS is configured at connect()", received);
    close(received);
    close(listener);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "inherited-parent") == 0) {
        int port;
        int listener = plain_listener(AF_INET6, -1, &port);
        int fd = socket(AF_INET6, SOCK_STREAM, 0); /* no shim here: kernel defaults */
        char fd_text[16], port_text[16], preload[4096];
        snprintf(fd_text, sizeof fd_text, "%d", fd);
        snprintf(port_text, sizeof port_text, "%d", port);
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", argv[2]);
        putenv(preload);
        (void)listener; /* stays open across exec (no CLOEXEC) so the child can connect */
        execl("/proc/self/exe", argv[0], "inherited-child", fd_text, port_text, (char *)NULL);
        perror("exec");
        return 1;
    }
    if (argc > 3 && strcmp(argv[1], "inherited-child") == 0) {
        int fd = atoi(argv[2]), port = atoi(argv[3]);
        expect_kernel_defaults("inherited socket arrives with kernel defaults", fd);
        int rc = connect_to(fd, AF_INET6, port);
        result(rc == 0, "inherited socket connects", strerror(errno));
        expect_configured("inherited socket is configured at connect()", fd);
        return finish();
    }
    in_process();
    return finish();
}
