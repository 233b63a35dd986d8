/* envexec VAR=VAL... -- PROGRAM ARGS: runs PROGRAM with exactly these environment entries, in this
 * order, duplicates included (execve allows them; env(1) and shells would merge them). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int i = 1;
    char *envp[256];
    int n = 0;
    for (; i < argc && strcmp(argv[i], "--") != 0 && n < 255; i++) envp[n++] = argv[i];
    envp[n] = NULL;
    if (i + 1 >= argc) { fprintf(stderr, "usage: envexec VAR=VAL... -- PROGRAM ARGS\n"); return 2; }
    execve(argv[i + 1], argv + i + 1, envp);
    perror("envexec: execve");
    return 127;
}
