/* A program turns keepalive off on its TCP socket; another thread then gives itself a private
 * descriptor table and closes its copies there, which closes nothing in the program's table. The
 * program's choice must hold: after connect(), SO_KEEPALIVE is still 0 (and kashim still works).
 *   private_fdtable_test close_range|unshare */
#include "common.h"
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>

static const char *mode;
static int fd;

static void *closer(void *arg) {
    (void)arg;
    if (strcmp(mode, "close_range") == 0) {
        if (close_range(3, ~0U, CLOSE_RANGE_UNSHARE) != 0) return (void *)1;
    } else {
        if (unshare(CLONE_FILES) != 0 || close(fd) != 0) return (void *)1;
    }
    return NULL;
}

int main(int argc, char **argv) {
    mode = argc > 1 ? argv[1] : "close_range";
    int port, lfd = plain_listener(AF_INET, -1, &port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int off = 0;
    result(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &off, sizeof off) == 0, "the program turns keepalive off",
           strerror(errno));
    pthread_t t;
    void *closed;
    pthread_create(&t, NULL, closer, NULL);
    pthread_join(t, &closed);
    result(closed == NULL, "a thread closes its copies in a private descriptor table", strerror(errno));
    result(fcntl(fd, F_GETFD) >= 0, "the program's descriptor is still open", "it was closed");
    result(connect_to(fd, AF_INET, port) == 0, "connect() succeeds", strerror(errno));
    char check[120];
    snprintf(check, sizeof check, "after %s in another thread, connect() leaves the program's keepalive off",
             strcmp(mode, "close_range") == 0 ? "close_range(CLOSE_RANGE_UNSHARE)" : "unshare(CLONE_FILES) + close");
    expect_keepalive_off(check, fd);
    int other = socket(AF_INET, SOCK_STREAM, 0);
    connect_to(other, AF_INET, port);
    expect_configured("a new socket of the program still gets kashim's keepalive", other);
    close(other);
    close(fd);
    close(lfd);
    return finish();
}
