/* spawnbench: start-up time of a program with and without a preloaded library, for scripts/bench.sh.
 *
 *   spawnbench PAIRS LIBRARY PROGRAM [ARGS...]
 *
 * Starts PROGRAM 2*PAIRS times, alternating (ABBA order) between the plain environment and the
 * environment plus LD_PRELOAD=LIBRARY, and prints one line per pair:
 *   <with_wall_us> <without_wall_us> <with_cpu_us> <without_cpu_us> <with_minflt> <without_minflt>
 * wall = posix_spawn to wait4; cpu = the child's user + system time and minflt its minor page faults
 * (from wait4's rusage). The parent itself is never preloaded.
 * Environment variables set for the "with" runs only: every SPAWNBENCH_WITH_<NAME>=<value> is
 * passed to the child as <NAME>=<value> (used for KASHIM_* settings).
 * With SPAWNBENCH_VERSUS=<library>, the other runs preload that library instead of nothing: the
 * pairs then compare two libraries directly (LIBRARY minus the other, as "with" minus "without").
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct sample { double wall, cpu; long minflt; };

static struct sample run(char **argv, char **envp)
{
    pid_t pid;
    int st;
    struct rusage ru;
    double t0 = now_us();
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp) != 0) { perror("posix_spawn"); exit(2); }
    if (wait4(pid, &st, 0, &ru) < 0) { perror("wait4"); exit(2); }
    struct sample s = { now_us() - t0,
                        (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
                        ru.ru_minflt };
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "%s failed (status %d)\n", argv[0], st); exit(2); }
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s PAIRS LIBRARY PROGRAM [ARGS...]\n", argv[0]); return 2; }
    int pairs = atoi(argv[1]);
    const char *lib = argv[2];
    char **prog = argv + 3;

    /* Two environments: "without" = ours minus LD_PRELOAD and SPAWNBENCH_WITH_*;
     * "with" = that plus LD_PRELOAD=lib and the SPAWNBENCH_WITH_* settings. */
    size_t n = 0;
    while (environ[n]) n++;
    char **without = calloc(n + 2, sizeof *without), **with = calloc(n + 2, sizeof *with);
    size_t a = 0, b = 0;
    const char *pfx = "SPAWNBENCH_WITH_";
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "LD_PRELOAD=", 11) == 0) continue;
        if (strncmp(environ[i], "SPAWNBENCH_VERSUS=", 18) == 0) continue;
        if (strncmp(environ[i], pfx, strlen(pfx)) == 0) { with[b++] = environ[i] + strlen(pfx); continue; }
        without[a++] = with[b++] = environ[i];
    }
    char *pre = malloc(strlen(lib) + 12);
    sprintf(pre, "LD_PRELOAD=%s", lib);
    with[b++] = pre;
    const char *versus = getenv("SPAWNBENCH_VERSUS");
    if (versus && *versus) {
        char *other = malloc(strlen(versus) + 12);
        sprintf(other, "LD_PRELOAD=%s", versus);
        without[a++] = other;
    }

    for (int i = 0; i < pairs; i++) {
        struct sample w, o;
        if (i % 2 == 0) { w = run(prog, with); o = run(prog, without); }
        else            { o = run(prog, without); w = run(prog, with); }
        printf("%.1f %.1f %.0f %.0f %ld %ld\n", w.wall, o.wall, w.cpu, o.cpu, w.minflt, o.minflt);
    }
    return 0;
}
