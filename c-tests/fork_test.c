/* fork(): parent and child both keep working; sockets made before and after the fork are
 * configured, and a socket made in the parent is still known to the child. */
#include "common.h"

int main(void) {
    int port;
    int listener = plain_listener(AF_INET, socket(AF_INET, SOCK_STREAM, 0), &port);
    int before = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int mine = socket(AF_INET6, SOCK_STREAM, 0);
        expect_configured("fork child: new socket has the configured keepalive", mine);
        int rc = connect_to(before, AF_INET, port);
        result(rc == 0, "fork child: connects the parent's socket", strerror(errno));
        expect_configured("fork child: parent's socket still configured", before);
        int udp = socket(AF_INET, SOCK_DGRAM, 0);
        expect_keepalive_off("fork child: UDP socket left alone", udp);
        _exit(finish());
    }
    int status;
    waitpid(pid, &status, 0);
    result(WIFEXITED(status), "fork child exits normally", "child crashed");
    if (WIFEXITED(status) && WEXITSTATUS(status)) failures++;
    int after = socket(AF_INET, SOCK_STREAM, 0);
    expect_configured("fork parent: socket made after the fork has the configured keepalive", after);
    int accepted = accept(listener, NULL, NULL);
    expect_configured("fork parent: accepts the child's connection, configured", accepted);
    return finish();
}
