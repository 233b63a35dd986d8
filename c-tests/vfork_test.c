/* vfork(): the child shares the parent's memory (kashim's table too) but has its own descriptors.
 * A child that closes descriptors before exec must not make the parent's sockets look unknown:
 * the parent's keepalive-off socket must stay off at connect(). A fork() right after a vfork
 * must still record its own choices. */
#include "common.h"

static int set_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

int main(void) {
    int port, status;
    int listener = plain_listener(AF_INET, -1, &port);

    /* 1. The child closes 3..63 and dup2s onto 50, then exits. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    pid_t pid = vfork();
    if (pid == 0) {
        for (int i = 3; i < 64; i++) close(i);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    connect_to(fd, AF_INET, port);
    expect_keepalive_off("vfork child closing 3..63 leaves the parent's keepalive-off socket alone", fd);
    close(fd);
    close(accept(listener, NULL, NULL));

    /* 2. The child execs (the usual case): the parent's table is untouched, and its next socket is
     * configured as usual. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    pid = vfork();
    if (pid == 0) {
        close(fd);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    result(WIFEXITED(status) && WEXITSTATUS(status) == 0, "vfork child execs /bin/true", "exit status");
    connect_to(fd, AF_INET, port);
    expect_keepalive_off("vfork child closing the socket before exec leaves the parent's choice", fd);
    int next = socket(AF_INET, SOCK_STREAM, 0);
    expect_configured("the parent's next socket after vfork is configured", next);
    close(next);
    close(fd);
    close(accept(listener, NULL, NULL));

    /* 3. vfork, then at once fork: the fork child is not a vfork child, its choices are recorded. */
    pid = vfork();
    if (pid == 0) _exit(0);
    waitpid(pid, &status, 0);
    pid = fork();
    if (pid == 0) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        set_int(s, SOL_SOCKET, SO_KEEPALIVE, 0);
        connect_to(s, AF_INET, port);
        _exit(int_opt(s, SOL_SOCKET, SO_KEEPALIVE) == 0 ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    result(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "fork right after vfork: the fork child's keepalive-off choice stands", "child saw keepalive on");
    close(accept(listener, NULL, NULL));

    /* 4. vfork's return values and errno are libc's. */
    pid = vfork();
    if (pid == 0) _exit(7);
    result(pid > 0, "vfork returns the child's pid in the parent", "pid <= 0");
    waitpid(pid, &status, 0);
    result(WIFEXITED(status) && WEXITSTATUS(status) == 7, "vfork child's exit status arrives", "wrong status");
    close(listener);
    return finish();
}
