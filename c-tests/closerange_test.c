/* close_range()/closefrom(): a UDP socket is closed with close_range (or closefrom), then a TCP
 * socket received over SCM_RIGHTS lands on the same number. kashim must have forgotten the UDP
 * socket, so the TCP one is configured when it connects (issue 13, gap 2).
 *   closerange_test close_range | closefrom | cloexec */
#include "common.h"
#include <sys/syscall.h>

/* A TCP socket kashim never saw (raw system call) travels over a Unix socket pair. While it is in
 * flight, a UDP socket made through kashim's socket() takes the highest number and is closed with
 * `close_old`; the TCP socket is then received onto that number. Returns it; *old = the UDP's. */
static int received_on_freed_udp_number(void (*close_old)(int), int *old) {
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    send_fd(pair[0], fd);
    close(fd);
    *old = socket(AF_INET, SOCK_DGRAM, 0); /* kashim: "not TCP"; the highest number in use */
    close_old(*old);
    int received = recv_fd(pair[1]);
    return received;
}

static void by_close_range(int fd) { close_range(fd, fd, 0); }
static void by_closefrom(int fd) { closefrom(fd); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "close_range";
    int port;
    int listener = plain_listener(AF_INET, -1, &port);
    int udp = -1, received;
    char why[96];
    if (strcmp(mode, "cloexec") == 0) {
        /* CLOSE_RANGE_CLOEXEC closes nothing: the TCP socket stays configured and known. */
        int tcp = socket(AF_INET, SOCK_STREAM, 0);
        int rc = close_range(tcp, tcp, CLOSE_RANGE_CLOEXEC);
        snprintf(why, sizeof why, "rc=%d errno=%d flags=%#x", rc, errno, fcntl(tcp, F_GETFD));
        result(rc == 0 && (fcntl(tcp, F_GETFD) & FD_CLOEXEC), "CLOSE_RANGE_CLOEXEC marks, closes nothing", why);
        connect_to(tcp, AF_INET, port);
        expect_configured("socket marked close-on-exec keeps kashim's values", tcp);
        errno = 0;
        rc = close_range(9, 3, 0);
        snprintf(why, sizeof why, "rc=%d errno=%d", rc, errno);
        result(rc == -1 && errno == EINVAL, "an invalid range still gives EINVAL", why);
        return finish();
    }
    received = received_on_freed_udp_number(strcmp(mode, "closefrom") == 0 ? by_closefrom : by_close_range, &udp);
    snprintf(why, sizeof why, "received fd %d, old UDP fd %d", received, udp);
    result(received == udp, "TCP socket received over SCM_RIGHTS reuses the UDP socket's number", why);
    expect_kernel_defaults("received socket arrives with kernel defaults", received);
    int rc = connect_to(received, AF_INET, port);
    result(rc == 0, "received socket connects", strerror(errno));
    char check[96];
    snprintf(check, sizeof check, "socket on a number freed by %s is configured at connect()", mode);
    expect_configured(check, received);
    close(received);
    close(listener);
    return finish();
}
