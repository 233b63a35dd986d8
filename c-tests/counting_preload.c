/* A second interposer, as a tracing or proxy library preloaded beside kashim: it defines socket()
 * and connect(), counts its calls and passes them on to the next definition. interposer_test
 * reads the counts through hs_interposer_counts(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

static int sockets, connects;

void hs_interposer_counts(int *s, int *c) {
    *s = sockets;
    *c = connects;
}

int socket(int domain, int type, int protocol) {
    static int (*next)(int, int, int);
    if (!next) next = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    __atomic_add_fetch(&sockets, 1, __ATOMIC_RELAXED);
    return next(domain, type, protocol);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*next)(int, const struct sockaddr *, socklen_t);
    if (!next) next = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    __atomic_add_fetch(&connects, 1, __ATOMIC_RELAXED);
    return next(fd, addr, len);
}
