/* Logging at KASHIM_LOG=debug never harms the program: kashim writes only to the stderr the
 * process started with, never blocks, never raises SIGPIPE.
 *   log_test              runs every case (each case re-runs this program as a child)
 *   log_test sockets N    child: makes N TCP sockets (one debug line each), prints "done"
 *   log_test daemon       child: closes stderr, accepts a connection onto fd 2, sends "hello" */
#include "common.h"
#include <poll.h>
#include <signal.h>
#include <time.h>

static char *self;

static int sockets(int n) {
    for (int i = 0; i < n; i++) close(socket(AF_INET, SOCK_STREAM, 0));
    return 0;
}

/* A daemon that closed stderr: its next descriptor (an accepted connection) lands on fd 2. */
static int daemon_child(void) {
    int port;
    int l = plain_listener(AF_INET, -1, &port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect_to(c, AF_INET, port);
    close(2);
    int a = accept(l, NULL, NULL);
    if (a != 2) return 3;
    socket(AF_INET, SOCK_STREAM, 0); /* more debug lines while fd 2 is the connection */
    if (send(a, "hello", 5, 0) != 5) return 4;
    close(a);
    char buf[512];
    ssize_t n, got = 0;
    while ((n = recv(c, buf + got, sizeof buf - 1 - got, 0)) > 0) got += n;
    buf[got] = 0;
    printf("peer received [%s]\n", buf);
    return strcmp(buf, "hello") == 0 ? 0 : 5;
}

/* Runs this program as a child with stderr = stderr_fd; returns its wait status, or -1 if it was
 * still running after `seconds` (then it is killed). */
static int run_child(int stderr_fd, int out_fd, int seconds, char *const args[]) {
    pid_t pid = fork();
    if (pid == 0) {
        dup2(stderr_fd, 2);
        if (out_fd >= 0) dup2(out_fd, 1);
        execv(self, args);
        _exit(127);
    }
    for (int i = 0; i < seconds * 20; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void describe_status(char *why, size_t n, int status) {
    if (status == -1) snprintf(why, n, "still running after the timeout (blocked)");
    else if (WIFSIGNALED(status)) snprintf(why, n, "killed by signal %d", WTERMSIG(status));
    else snprintf(why, n, "exit %d", WEXITSTATUS(status));
}

int main(int argc, char **argv) {
    self = argv[0];
    if (argc > 2 && strcmp(argv[1], "sockets") == 0) return sockets(atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "daemon") == 0) return daemon_child();
    signal(SIGPIPE, SIG_DFL);
    char why[160];
    int p[2], status;

    /* stderr a pipe whose reader is gone: the program must not die of SIGPIPE. */
    pipe(p);
    close(p[0]);
    char *few[] = {self, "sockets", "50", NULL};
    status = run_child(p[1], -1, 20, few);
    close(p[1]);
    describe_status(why, sizeof why, status);
    result(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "stderr a closed pipe: 50 logged sockets, no SIGPIPE", why);

    /* stderr a pipe nobody reads: the program must not block once it is full (64 KiB). */
    pipe(p);
    char *many[] = {self, "sockets", "5000", NULL};
    status = run_child(p[1], -1, 30, many);
    close(p[1]);
    describe_status(why, sizeof why, status);
    result(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "stderr a pipe nobody reads: 5000 logged sockets do not block", why);
    /* What did reach the pipe is whole lines of kashim's. */
    char buf[70000];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ssize_t n, got = 0;
    while ((n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    buf[got > 0 ? got : 0] = 0;
    close(p[0]);
    snprintf(why, sizeof why, "%zd bytes, starts [%.40s], ends with newline: %d", got, buf,
             got > 0 && buf[got - 1] == '\n');
    result(got > 1000 && strncmp(buf, "kashim: ", 8) == 0 && buf[got - 1] == '\n',
           "the lines that fitted arrived whole", why);

    /* stderr a pipe that is read: every line arrives. */
    pipe(p);
    char *ten[] = {self, "sockets", "10", NULL};
    pid_t reader = fork();
    if (reader == 0) {
        close(p[1]);
        int lines = 0;
        char c;
        while (read(p[0], &c, 1) == 1) lines += c == '\n';
        _exit(lines > 255 ? 255 : lines);
    }
    close(p[0]);
    status = run_child(p[1], -1, 20, ten);
    close(p[1]);
    int lines;
    waitpid(reader, &lines, 0);
    snprintf(why, sizeof why, "%d lines", WEXITSTATUS(lines));
    result(WEXITSTATUS(lines) >= 10, "stderr a pipe that is read: each socket's line arrives", why);

    /* A daemon that closed stderr and accepted a connection onto fd 2: the peer gets only the
     * program's data. */
    int devnull = open("/dev/null", O_WRONLY), out[2];
    pipe(out);
    char *daemon_args[] = {self, "daemon", NULL};
    status = run_child(devnull, out[1], 20, daemon_args);
    close(out[1]);
    char said[600] = "";
    n = read(out[0], said, sizeof said - 1);
    said[n > 0 ? n : 0] = 0;
    close(out[0]);
    char *nl = strchr(said, '\n');
    if (nl) *nl = 0;
    snprintf(why, sizeof why, "%.120s; %s", said, status == -1 ? "timed out" : "");
    result(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "daemon with a connection on fd 2: no kashim line in its TCP stream", why);
    close(devnull);
    return finish();
}
