/* Signal handlers: socket(), setsockopt() and close() called from a SIGALRM handler that
 * interrupts the same calls in the main program, thousands of times. Nothing may deadlock or
 * crash, and the handler's sockets are configured too. (The harness runs this under a timeout.) */
#include "common.h"
#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t handled, handler_bad;

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        int on = 0;
        socklen_t len = sizeof on;
        getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len);
        if (on != 1) handler_bad++;
        close(fd);
    }
    handled++;
    errno = saved;
}

int main(void) {
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &every, NULL);
    int bad = 0;
    for (int i = 0; i < 20000 && handled < 2000; i++) {
        int fd = socket(i % 2 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (int_opt(fd, SOL_SOCKET, SO_KEEPALIVE) != 1) bad++;
        close(fd);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    char why[96];
    snprintf(why, sizeof why, "%d handler runs, %d handler sockets and %d main sockets wrong",
             (int)handled, (int)handler_bad, bad);
    result(handled > 0 && handler_bad == 0 && bad == 0,
           "socket()/close() in a signal handler interrupting socket(): no deadlock, all configured", why);
    return finish();
}
