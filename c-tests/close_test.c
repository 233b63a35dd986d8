/* glibc's stdio closes a stream's descriptor internally, not through close(): kashim must still
 * forget what it knew about that number, so a TCP socket that later lands there (through
 * SCM_RIGHTS or a raw system call) is configured at connect(). With KASHIM_FORCE (argv[1] ==
 * "force"), a non-socket on that number still answers setsockopt with ENOTSOCK. */
#include "common.h"
#include <sys/syscall.h>

static int raw_tcp_socket(void) { return (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }

int main(int argc, char **argv) {
    int force = argc > 1 && strcmp(argv[1], "force") == 0;
    int port;
    int listener = plain_listener(AF_INET, -1, &port);
    char why[160];

    /* fclose(fdopen(socket)), then a raw TCP socket on the same number. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FILE *stream = fdopen(fd, "r+");
    fclose(stream);
    int raw = raw_tcp_socket();
    snprintf(why, sizeof why, "new socket got fd %d, closed one was %d", raw, fd);
    result(raw == fd, "raw socket lands on the number fclose freed", why);
    connect_to(raw, AF_INET, port);
    expect_configured("TCP socket on a number fclose(fdopen()) freed is configured at connect()", raw);
    syscall(SYS_close, raw);
    close(accept(listener, NULL, NULL));

    /* freopen() closes the stream's socket and puts a file there. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    stream = fdopen(fd, "r+");
    stream = freopen("/dev/null", "w", stream);
    int file_fd = stream ? fileno(stream) : -1;
    if (file_fd >= 0) syscall(SYS_close, file_fd); /* freed behind kashim's back */
    raw = raw_tcp_socket();
    connect_to(raw, AF_INET, port);
    snprintf(why, sizeof why, "socket fd %d, stream fd %d", fd, file_fd);
    result(raw == fd, "raw socket lands on the number freopen took over", why);
    expect_configured("TCP socket on a number freopen() freed is configured at connect()", raw);
    syscall(SYS_close, raw);
    close(accept(listener, NULL, NULL));

    /* A file on the number fclose freed: setsockopt is the kernel's ENOTSOCK. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    fclose(fdopen(fd, "r+"));
    int null_fd = open("/dev/null", O_RDONLY);
    int one = 1;
    errno = 0;
    int rc = setsockopt(null_fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    snprintf(why, sizeof why, "fd %d (was %d): rc=%d errno=%d", null_fd, fd, rc, errno);
    result(rc == -1 && errno == ENOTSOCK,
           force ? "FORCE: /dev/null where an fclosed socket was gives ENOTSOCK"
                 : "/dev/null where an fclosed socket was gives ENOTSOCK", why);
    close(null_fd);
    close(listener);
    return finish();
}
