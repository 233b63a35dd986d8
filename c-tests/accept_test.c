/* accept() and accept4(): sockets accepted from a listener kashim configured carry its values
 * (inherited in the kernel); a listener inherited from a parent without the shim gets each
 * accepted socket configured, and is not itself changed.
 *   accept_test                         in-process checks
 *   accept_test inherited-parent LIB     run WITHOUT the shim (socket-activation style)
 *   accept_test inherited-child FD PORT */
#include "common.h"

static void accept_both_ways(int listener, int domain, int port, const char *what) {
    char check[128];
    int client = socket(domain, SOCK_STREAM, 0);
    connect_to(client, domain, port);
    errno = 4242;
    int fd = accept(listener, NULL, NULL);
    snprintf(check, sizeof check, "%s: accept() returns a socket and keeps errno", what);
    result(fd >= 0 && errno == 4242, check, strerror(errno));
    snprintf(check, sizeof check, "%s: accept()ed socket has the configured keepalive", what);
    expect_configured(check, fd);
    close(fd);
    close(client);

    client = socket(domain, SOCK_STREAM, 0);
    connect_to(client, domain, port);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    fd = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    snprintf(check, sizeof check, "%s: accept4() keeps its flags", what);
    result(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK), check, "flags lost");
    snprintf(check, sizeof check, "%s: accept4()ed socket has the configured keepalive", what);
    expect_configured(check, fd);
    close(fd);
    close(client);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "inherited-parent") == 0) {
        int port;
        int listener = plain_listener(AF_INET, -1, &port);
        char fd_text[16], port_text[16], preload[4096];
        snprintf(fd_text, sizeof fd_text, "%d", listener);
        snprintf(port_text, sizeof port_text, "%d", port);
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", argv[2]);
        putenv(preload);
        execl("/proc/self/exe", argv[0], "inherited-child", fd_text, port_text, (char *)NULL);
        perror("exec");
        return 1;
    }
    if (argc > 3 && strcmp(argv[1], "inherited-child") == 0) {
        int listener = atoi(argv[2]), port = atoi(argv[3]);
        expect_kernel_defaults("inherited listener arrives with kernel defaults", listener);
        accept_both_ways(listener, AF_INET, port, "inherited listener");
        expect_kernel_defaults("inherited listener itself is not changed", listener);
        return finish();
    }
    int port;
    int listener = plain_listener(AF_INET, socket(AF_INET, SOCK_STREAM, 0), &port);
    accept_both_ways(listener, AF_INET, port, "IPv4 listener");
    close(listener);
    listener = plain_listener(AF_INET6, socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), &port);
    accept_both_ways(listener, AF_INET6, port, "IPv6 listener");
    close(listener);
    /* A Unix listener: accepted sockets stay untouched. */
    int unix_listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "kashim-accept-test-%d", getpid());
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
    bind(unix_listener, (struct sockaddr *)&addr, alen);
    listen(unix_listener, 4);
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(client, (struct sockaddr *)&addr, alen);
    int fd = accept4(unix_listener, NULL, NULL, SOCK_CLOEXEC);
    expect_keepalive_off("Unix accepted socket is left alone", fd);
    expect_keepalive_off("Unix client socket is left alone", client);
    return finish();
}
