/* A fork child of a threaded program must not inherit a stale record of a socket: fork() copies
 * the descriptor table before memory, so a socket another thread opens in between may be known to
 * kashim's copy in the child while its number is free there. A TCP socket that later lands on that
 * number without socket() or accept() (a raw system call here; a descriptor received over a Unix
 * socket in real programs) must still get keepalive at connect().
 *   fork_stale_test FORKS     (16 threads open, hold and close TCP sockets meanwhile) */
#include "common.h"
#include <pthread.h>
#include <sys/syscall.h>

#define THREADS 16
#define HIGHEST 40

static volatile int stop;

/* Each thread holds its socket a moment, as a client does for a request: a socket opened while
 * fork() runs is then still recorded, and still open in the parent, when the child's copy of
 * memory is taken. */
static void *churn(void *arg) {
    (void)arg;
    while (!stop) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        usleep(100);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

static void *acceptor(void *arg) {
    int lfd = (int)(long)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c >= 0) close(c);
    }
    return NULL;
}

/* In the child: every free number from 3 to HIGHEST gets a raw TCP socket, which connect() must
 * configure. Exits with the count of sockets left without keepalive (at most 100). */
static void child(int port) {
    int skipped = 0;
    for (int n = 3; n <= HIGHEST; n++) {
        if (syscall(SYS_fcntl, n, F_GETFD) != -1) continue;
        long s = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        if (s < 0) _exit(101);
        if (s != n) {
            if (syscall(SYS_dup3, s, n, 0) != n) _exit(102);
            syscall(SYS_close, s);
        }
        if (connect_to(n, AF_INET, port) != 0) _exit(103);
        if (int_opt(n, SOL_SOCKET, SO_KEEPALIVE) != 1 && skipped < 100) skipped++;
    }
    _exit(skipped);
}

int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 200;
    int port, lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (plain_listener(AF_INET, lfd, &port) < 0 || listen(lfd, 4096) != 0) return 2;
    pthread_t t[THREADS], a;
    pthread_create(&a, NULL, acceptor, (void *)(long)lfd);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, churn, NULL);
    int stale = 0, sockets = 0, broken = 0, status;
    for (int i = 0; i < forks; i++) {
        pid_t pid = fork();
        if (pid == 0) child(port);
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) > 100) {
            broken++;
            continue;
        }
        if (WEXITSTATUS(status) > 0) {
            stale++;
            sockets += WEXITSTATUS(status);
        }
    }
    stop = 1;
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    char why[160];
    snprintf(why, sizeof why, "%d of %d children left %d sockets without keepalive (%d children failed)", stale,
             forks, sockets, broken);
    result(stale == 0 && broken == 0, "a TCP socket on a number free in a fork child gets keepalive at connect()", why);
    return finish();
}
