/* Prints the return value and errno of a series of hooked calls, successes and failures alike.
 * The harness runs it with and without the shim and requires identical output: the shim must be
 * invisible apart from keepalive. Descriptors print as "fd" so numbering does not matter. */
#include "common.h"
#include <sys/syscall.h>

static void show(const char *what, long rc) {
    int err = errno;
    printf("%-52s rc=%s errno=%d\n", what, rc >= 0 ? (rc > 0 ? "fd/positive" : "0") : "-1", err);
    errno = 777; /* a sentinel every call below must leave alone on success */
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    errno = 777;
    int port;
    int listener = plain_listener(AF_INET, socket(AF_INET, SOCK_STREAM, 0), &port);
    int dead_port;
    close(plain_listener(AF_INET, -1, &dead_port));
    int pipefd[2];
    pipe(pipefd);
    errno = 777;

    int tcp = socket(AF_INET, SOCK_STREAM, 0); show("socket tcp", tcp);
    show("socket udp", socket(AF_INET, SOCK_DGRAM, 0));
    show("socket unix", socket(AF_UNIX, SOCK_STREAM, 0));
    show("socket bad domain", socket(12345, SOCK_STREAM, 0));
    show("socket stream with IPPROTO_UDP", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    show("socket bad type", socket(AF_INET, 99, 0));
    show("connect ok", connect_to(tcp, AF_INET, port));
    show("connect again (EISCONN)", connect_to(tcp, AF_INET, port));
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("connect non-blocking", connect_to(nb, AF_INET, port));
    int refused = socket(AF_INET6, SOCK_STREAM, 0);
    show("connect refused", connect_to(refused, AF_INET, dead_port));
    show("connect v6 socket to v4 address (EAFNOSUPPORT?)", connect_to(refused, AF_INET, port));
    show("connect fd -1", connect_to(-1, AF_INET, port));
    show("connect pipe (ENOTSOCK)", connect_to(pipefd[0], AF_INET, port));
    int foreign = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
    show("connect foreign tcp", connect_to(foreign, AF_INET, port));
    int foreign_udp = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
    show("connect foreign udp", connect_to(foreign_udp, AF_INET, port));
    show("accept ok", accept(listener, NULL, NULL));
    show("accept4 ok", accept4(listener, NULL, NULL, SOCK_CLOEXEC));
    show("accept on connected socket (EINVAL)", accept(tcp, NULL, NULL));
    show("accept4 bad flags (EINVAL)", accept4(listener, NULL, NULL, 0x7fffffff));
    show("accept fd -1", accept(-1, NULL, NULL));
    show("accept pipe (ENOTSOCK)", accept(pipefd[0], NULL, NULL));
    int nbl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int nbl_port;
    plain_listener(AF_INET, nbl, &nbl_port);
    show("accept non-blocking, nothing queued (EAGAIN)", accept(nbl, NULL, NULL));
    int one = 1, zero = 0;
    show("setsockopt SO_KEEPALIVE 1", setsockopt(tcp, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    show("setsockopt TCP_KEEPIDLE 0 (EINVAL)", setsockopt(nb, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero));
    show("setsockopt SO_KEEPALIVE short len", setsockopt(nb, SOL_SOCKET, SO_KEEPALIVE, &one, 1));
    show("setsockopt TCP_KEEPCNT NULL (EFAULT)", setsockopt(nb, IPPROTO_TCP, TCP_KEEPCNT, NULL, 4));
    show("setsockopt fd -1", setsockopt(-1, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    show("setsockopt pipe", setsockopt(pipefd[0], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    show("setsockopt TCP_NODELAY", setsockopt(nb, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    show("setsockopt bad level", setsockopt(nb, 9999, 1, &one, sizeof one));
    show("dup2 ok", dup2(tcp, 200));
    show("dup2 same fd", dup2(tcp, tcp));
    show("dup2 bad", dup2(-1, 201));
    show("dup3 ok", dup3(tcp, 202, O_CLOEXEC));
    show("dup3 same fd (EINVAL)", dup3(tcp, tcp, 0));
    show("close ok", close(200));
    show("close twice (EBADF)", close(200));
    show("close -1", close(-1));
    show("setsockopt SO_KEEPALIVE wild pointer (EFAULT)", setsockopt(tcp, SOL_SOCKET, SO_KEEPALIVE, (void *)16, 4));
    show("setsockopt TCP_KEEPIDLE 300 on configured", setsockopt(nb, IPPROTO_TCP, TCP_KEEPIDLE, &(int){300}, 4));
    show("dup ok", dup(tcp));
    show("dup bad", dup(-1));
    show("fcntl F_DUPFD ok", fcntl(tcp, F_DUPFD, 300));
    show("fcntl F_DUPFD_CLOEXEC ok", fcntl(tcp, F_DUPFD_CLOEXEC, 0));
    show("fcntl F_DUPFD bad fd", fcntl(-1, F_DUPFD, 0));
    show("fcntl F_DUPFD negative minimum (EINVAL)", fcntl(tcp, F_DUPFD, -1));
    show("fcntl F_GETFL", fcntl(tcp, F_GETFL));
    show("fcntl F_SETFL O_NONBLOCK", fcntl(tcp, F_SETFL, O_NONBLOCK));
    show("fcntl F_GETFD bad fd", fcntl(-1, F_GETFD));
    struct flock lock = {.l_type = F_WRLCK};
    show("fcntl F_GETLK (pointer argument)", fcntl(pipefd[0], F_GETLK, &lock));
    FILE *stream = fdopen(socket(AF_INET, SOCK_STREAM, 0), "r+");
    show("fclose fdopen(socket)", fclose(stream));
    stream = fdopen(socket(AF_INET, SOCK_STREAM, 0), "r+");
    stream = freopen("/nonexistent/kashim", "r", stream);
    show("freopen missing file (ENOENT)", stream ? 1 : -1);
    return 0;
}
