/* Run with LD_PRELOAD="libkashim.so libcounting_preload.so": the program's socket() and connect()
 * must reach the second interposer too (kashim's "next" definition is that library, not libc),
 * and the socket must still get kashim's keepalive. */
#include "common.h"
#include <dlfcn.h>

int main(void) {
    void (*counts)(int *, int *) = (void (*)(int *, int *))dlsym(RTLD_DEFAULT, "hs_interposer_counts");
    if (!counts) {
        result(0, "the second interposer is loaded", "hs_interposer_counts not found");
        return finish();
    }
    int s0, c0, s1, c1;
    counts(&s0, &c0);
    int port, lfd = plain_listener(AF_INET, -1, &port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = connect_to(fd, AF_INET, port);
    counts(&s1, &c1);
    char why[120];
    snprintf(why, sizeof why, "it counted %d socket() and %d connect() calls of the 2 and 1 made", s1 - s0, c1 - c0);
    result(s1 - s0 == 2 && c1 - c0 == 1, "socket() and connect() reach the interposer preloaded after kashim", why);
    result(rc == 0, "connect() succeeds", strerror(errno));
    expect_configured("the socket still gets kashim's keepalive", fd);
    close(fd);
    close(lfd);
    return finish();
}
