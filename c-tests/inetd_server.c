/* A server that never calls accept() or connect(): it is handed its connection already connected,
 * by inetd (fds 0 and 1) or by systemd socket activation with Accept=yes (fd 3, LISTEN_FDS=1), and
 * writes back one line describing the connection's keepalive, then exits.
 *   inetd_server FD [own]   own: first set its own keepalive (on, idle 300 s), as sshd or Redis do */
#include "common.h"

int main(int argc, char **argv) {
    int fd = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2 && strcmp(argv[2], "own") == 0) {
        int on = 1, idle = 300;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    }
    char line[200];
    describe(line, sizeof line, keepalive_of(fd));
    const char *fds = getenv("LISTEN_FDS");
    int n = snprintf(line + strlen(line), sizeof line - strlen(line), " listen_fds=%s\n", fds ? fds : "-");
    (void)n;
    int out = fd == 0 ? 1 : fd; /* inetd: the reply goes to stdout, the same connection */
    return write(out, line, strlen(line)) > 0 ? 0 : 1;
}
