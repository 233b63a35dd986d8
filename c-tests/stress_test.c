/* Stress: threads churn socket/dup/fcntl/dup2/close/connect on TCP and UDP sockets (some made with
 * raw system calls, so kashim only meets them at connect()), an acceptor thread accepts, and a
 * 1 ms timer's signal handler creates sockets in the middle of all that. Every socket is checked
 * right after the call that must configure it: no TCP socket misses keepalive, no UDP socket gets
 * it. Runs itself as a child whose stderr is a pipe the parent reads (KASHIM_LOG=debug writes a
 * line per socket there), and fails if the child does not finish in time.
 *   stress_test           parent: runs the child, counts kashim's lines
 *   stress_test child     the churn itself */
#include "common.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#define THREADS 4
#define ITERATIONS 1500

static int port;
static atomic_int tcp_missed, udp_touched, checked, in_handler, handler_sockets;
static atomic_int stop;

extern int fcntl64(int fd, int cmd, ...);

static void check_socket(int fd, int tcp) {
    int on = int_opt(fd, SOL_SOCKET, SO_KEEPALIVE);
    if (tcp && (on != 1 || int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) != 60)) atomic_fetch_add(&tcp_missed, 1);
    if (!tcp && on != 0) atomic_fetch_add(&udp_touched, 1);
    atomic_fetch_add(&checked, 1);
}

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    int tcp = atomic_fetch_add(&in_handler, 1) & 1;
    int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (fd >= 0) {
        check_socket(fd, tcp);
        atomic_fetch_add(&handler_sockets, 1);
        close(fd);
    }
    errno = saved;
}

static void *acceptor(void *arg) {
    int listener = *(int *)arg;
    while (!atomic_load(&stop)) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        if (poll(&p, 1, 50) != 1) continue;
        int a = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (a < 0) continue;
        check_socket(a, 1); /* inherits the configured listener's options */
        close(a);
    }
    return NULL;
}

static int copy_of(int fd, int how, int target) {
    switch (how) {
    case 0: return dup(fd);
    case 1: return fcntl(fd, F_DUPFD, 0);
    case 2: return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    case 3: return fcntl64(fd, F_DUPFD_CLOEXEC, 0);
    case 4: return dup2(fd, target);
    default: return dup3(fd, target, O_CLOEXEC);
    }
}

static void *churn(void *arg) {
    int id = (int)(long)arg;
    unsigned seed = (unsigned)id * 7919u + 1;
    /* dup2/dup3 targets private to this thread, far above what socket() hands out here. */
    int target = 600 + id;
    struct sockaddr_in tcp_peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                   .sin_port = htons(port)};
    struct sockaddr_in udp_peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                   .sin_port = htons(9)};
    for (int i = 0; i < ITERATIONS && !atomic_load(&stop); i++) {
        int tcp = rand_r(&seed) & 1, raw = (rand_r(&seed) % 4) == 0;
        int type = tcp ? SOCK_STREAM : SOCK_DGRAM;
        int fd = raw ? (int)syscall(SYS_socket, AF_INET, type, 0) : socket(AF_INET, type, 0);
        if (fd < 0) continue;
        if (!raw) check_socket(fd, tcp);
        int copy = copy_of(fd, rand_r(&seed) % 6, target);
        if (copy < 0) { close(fd); continue; }
        if (copy != fd) close(fd);
        int rc = tcp ? connect(copy, (struct sockaddr *)&tcp_peer, sizeof tcp_peer)
                     : connect(copy, (struct sockaddr *)&udp_peer, sizeof udp_peer);
        if (rc == 0) check_socket(copy, tcp);
        close(copy);
    }
    return NULL;
}

static int child(void) {
    int listener = plain_listener(AF_INET, -1, &port);
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
    pthread_t acc, workers[THREADS];
    pthread_create(&acc, NULL, acceptor, &listener);
    for (long t = 0; t < THREADS; t++) pthread_create(&workers[t], NULL, churn, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(workers[t], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    atomic_store(&stop, 1);
    pthread_join(acc, NULL);
    char why[160];
    snprintf(why, sizeof why, "%d TCP sockets without keepalive, of %d checked", atomic_load(&tcp_missed),
             atomic_load(&checked));
    result(atomic_load(&tcp_missed) == 0, "no TCP socket misses keepalive", why);
    snprintf(why, sizeof why, "%d non-TCP sockets with keepalive", atomic_load(&udp_touched));
    result(atomic_load(&udp_touched) == 0, "no non-TCP socket gets keepalive", why);
    snprintf(why, sizeof why, "%d sockets made in the signal handler", atomic_load(&handler_sockets));
    result(atomic_load(&handler_sockets) > 0, "signal handlers made sockets during the churn", why);
    return finish();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
    int p[2];
    if (pipe(p)) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execl(argv[0], argv[0], "child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    long lines = 0;
    char buf[4096];
    ssize_t n;
    time_t deadline = time(NULL) + 90;
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    while (time(NULL) < deadline) {
        if (poll(&pfd, 1, 1000) <= 0) continue;
        if ((n = read(p[0], buf, sizeof buf)) <= 0) break;
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
    }
    /* End of file comes as the child's descriptors close, a moment before it can be waited for. */
    int status = 0, done = 0;
    while (!(done = waitpid(pid, &status, WNOHANG) == pid) && time(NULL) < deadline) usleep(20000);
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        result(0, "churn finishes", "still running after 90 s");
        return finish();
    }
    char why[96];
    snprintf(why, sizeof why, "exit status %d, %ld lines on stderr", status, lines);
    result(WIFEXITED(status), "churn finishes with stderr a pipe at KASHIM_LOG=debug", why);
    if (getenv("LD_PRELOAD"))
        result(lines > 0, "kashim's debug lines arrive through the pipe", why);
    return finish();
}
