/* dup(), fcntl(F_DUPFD[_CLOEXEC]) and fcntl64: the copy carries the program's own keepalive
 * choice. The program turns keepalive off, copies the socket, closes the original and uses the
 * copy: kashim must not turn keepalive back on at connect() or accept(). A copy of a socket kashim
 * configured stays configured without another setsockopt. */
#include "common.h"

extern int fcntl64(int fd, int cmd, ...);

static int set_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

static int copy_with(const char *how, int fd) {
    if (strcmp(how, "dup") == 0) return dup(fd);
    if (strcmp(how, "F_DUPFD") == 0) return fcntl(fd, F_DUPFD, 0);
    if (strcmp(how, "F_DUPFD_CLOEXEC") == 0) return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return fcntl64(fd, F_DUPFD_CLOEXEC, 0);
}

int main(void) {
    const char *hows[] = {"dup", "F_DUPFD", "F_DUPFD_CLOEXEC", "fcntl64 F_DUPFD_CLOEXEC"};
    char check[160];
    int port;
    int listener = plain_listener(AF_INET, -1, &port);
    for (int i = 0; i < 4; i++) {
        /* Client: off, copied, original closed, copy connected. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
        int copy = copy_with(hows[i], fd);
        close(fd);
        connect_to(copy, AF_INET, port);
        snprintf(check, sizeof check, "%s copy of a socket the program turned off stays off at connect()", hows[i]);
        expect_keepalive_off(check, copy);
        close(copy);
        close(accept(listener, NULL, NULL));

        /* Listener: off, copied, original closed, accept on the copy. */
        int own = socket(AF_INET, SOCK_STREAM, 0), own_port;
        set_int(own, SOL_SOCKET, SO_KEEPALIVE, 0);
        plain_listener(AF_INET, own, &own_port);
        int lcopy = copy_with(hows[i], own);
        close(own);
        int client = socket(AF_INET, SOCK_STREAM, 0);
        connect_to(client, AF_INET, own_port);
        int accepted = accept(lcopy, NULL, NULL);
        snprintf(check, sizeof check, "%s copy of a listener the program turned off: accepted socket stays off", hows[i]);
        expect_keepalive_off(check, accepted);
        close(accepted);
        close(client);
        close(lcopy);
    }
    /* A copy of a socket kashim configured is configured (same socket), and so is the original
     * number reused later by a new socket. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    expect_configured("F_DUPFD_CLOEXEC copy of a configured socket is configured", copy);
    close(copy);
    close(fd);
    close(listener);
    return finish();
}
