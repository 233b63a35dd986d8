/* Threads: many threads create, check, connect and close sockets at once; every TCP socket ends up
 * configured and no UDP socket is touched (descriptor numbers are reused across threads all the
 * time, which is what the descriptor table must survive). */
#include "common.h"
#include <pthread.h>

#define THREADS 8
#define ROUNDS 300
/* Every 10th round connects; the acceptor takes exactly that many, so no connect ever waits on a
 * full backlog. */
#define CONNECTS (THREADS * ROUNDS / 10)

static int port;
static int bad_tcp, bad_udp;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int tcp = socket(i % 2 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int udp = socket(AF_INET, SOCK_DGRAM, 0);
        if (i % 10 == 0) connect_to(tcp, AF_INET, port);
        struct keepalive k = keepalive_of(tcp);
        int tcp_ok = k.on == 1 && k.idle == env_int("EXPECT_IDLE", 60) && k.cnt == env_int("EXPECT_CNT", 6);
        int udp_ok = int_opt(udp, SOL_SOCKET, SO_KEEPALIVE) == 0;
        pthread_mutex_lock(&lock);
        bad_tcp += !tcp_ok;
        bad_udp += !udp_ok;
        pthread_mutex_unlock(&lock);
        close(tcp);
        close(udp);
    }
    return NULL;
}

static void *acceptor(void *arg) {
    int listener = *(int *)arg;
    for (int i = 0; i < CONNECTS; i++) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) break;
        close(fd);
    }
    return NULL;
}

int main(void) {
    int listener = plain_listener(AF_INET, socket(AF_INET, SOCK_STREAM, 0), &port);
    pthread_t threads[THREADS], acc;
    pthread_create(&acc, NULL, acceptor, &listener);
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, worker, NULL);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    pthread_join(acc, NULL);
    char why[96];
    snprintf(why, sizeof why, "%d of %d TCP sockets wrong", bad_tcp, THREADS * ROUNDS);
    result(bad_tcp == 0, "8 threads: every TCP socket configured", why);
    snprintf(why, sizeof why, "%d of %d UDP sockets touched", bad_udp, THREADS * ROUNDS);
    result(bad_udp == 0, "8 threads: no UDP socket touched", why);
    return finish();
}
