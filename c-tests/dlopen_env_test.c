/* kashim loaded by dlopen() into a running program (as a plugin host or a language runtime might)
 * while the program's threads read the environment: the threads must go on seeing every variable
 * that is set, and nothing may crash. With KASHIM_CHILDREN=0, kashim's constructor edits the
 * environment, which is safe only before any thread exists.
 *   dlopen_env_test LIBRARY     (HS_PRESENT must be set, after the KASHIM_* variables) */
#include "common.h"
#include <dlfcn.h>
#include <pthread.h>

#define THREADS 4

static volatile int stop;
static long missing[THREADS];

static void *reader(void *arg) {
    long i = (long)arg;
    while (!stop)
        if (!getenv("HS_PRESENT")) missing[i]++;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || !getenv("HS_PRESENT")) return 2;
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, reader, (void *)i);
    usleep(20000);
    void *h = dlopen(argv[1], RTLD_NOW);
    usleep(20000);
    stop = 1;
    long total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += missing[i];
    }
    result(h != NULL, "the library loads", h ? "" : dlerror());
    char why[100];
    snprintf(why, sizeof why, "getenv(\"HS_PRESENT\") returned NULL %ld times", total);
    result(total == 0, "threads reading the environment while the library loads see every variable set", why);
    return finish();
}
