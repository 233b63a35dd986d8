/* kashim loaded by dlopen() (not preloaded): libc was loaded before it, so its hooks must find
 * libc's functions among kashim's own dependencies, as dlsym(RTLD_NEXT) from a dlopened object
 * does. Called through the handle, fclose must close for real (its stand-in, used when nothing is
 * found, fails with ENOSYS), and socket must still give a TCP socket kashim's keepalive.
 *   dlopened_real_test LIBRARY */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void result(int ok, const char *what, const char *detail) {
    const char *label = getenv("TEST_LABEL");
    if (ok) printf("PASS %s: %s\n", label ? label : "dlopened", what);
    else printf("FAIL %s: %s (%s)\n", label ? label : "dlopened", what, detail);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { result(0, "the library loads", dlerror()); return 0; }
    int (*kashim_fclose)(FILE *) = (int (*)(FILE *))dlsym(h, "fclose");
    int (*kashim_socket)(int, int, int) = (int (*)(int, int, int))dlsym(h, "socket");
    if (!kashim_fclose || !kashim_socket) { result(0, "the library exports fclose and socket", "dlsym"); return 0; }
    FILE *f = fopen("/dev/null", "r");
    errno = 0;
    int rc = kashim_fclose(f);
    char detail[64];
    snprintf(detail, sizeof detail, "rc %d, %s", rc, strerror(errno));
    result(rc == 0, "fclose through the dlopened library reaches libc's fclose", detail);
    int fd = kashim_socket(AF_INET, SOCK_STREAM, 0);
    int on = 0, idle = 0;
    socklen_t len = sizeof on;
    getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
    len = sizeof idle;
    getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &len);
    snprintf(detail, sizeof detail, "SO_KEEPALIVE %d, TCP_KEEPIDLE %d", on, idle);
    result(fd >= 0 && on == 1 && idle == 60, "socket through the dlopened library gets keepalive", detail);
    return 0;
}
