/* secure_probe: makes one TCP socket and prints its keepalive settings on stdout
 * ("keepalive=1 idle=60"). c-tests/run.sh runs a setuid-root copy of it as an unprivileged user
 * with KASHIM_* set, under /etc/ld.so.preload: kashim must ignore that caller's environment.
 *   secure_probe                          the probe
 *   secure_probe exec PROGRAM VAR=VAL...  puts VAR=VAL into the environment, then runs PROGRAM
 *                                         (so no other program of the chain sees the variables) */
#include "common.h"

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exec") == 0) {
        for (int i = 3; i < argc; i++) putenv(argv[i]);
        char *args[] = {argv[2], NULL};
        execv(argv[2], args);
        perror("execv");
        return 127;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    printf("keepalive=%d idle=%d\n", int_opt(fd, SOL_SOCKET, SO_KEEPALIVE), int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE));
    close(fd);
    return 0;
}
