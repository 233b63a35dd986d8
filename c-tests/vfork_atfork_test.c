/* vfork() where the program's fork handlers are being run or registered. Each vfork child exits
 * at once; nothing may deadlock. The first vfork of the process happens in the handler.
 *   atfork    from a pthread_atfork prepare handler, in a program with a second thread (so glibc's
 *             fork takes its handler lock)
 *   signal    from a signal handler raised inside that prepare handler
 *   register  from a signal handler that interrupts pthread_atfork() itself, which holds glibc's
 *             handler lock: up to TRIALS fresh child processes, each given 2 s, until one hangs
 * The harness runs this under timeout too. */
#include "common.h"
#include <pthread.h>
#include <signal.h>

static int via_signal;
static volatile int vforked;

static void vfork_once(void) {
    pid_t pid = vfork();
    if (pid == 0) _exit(0);
    if (pid > 0 && waitpid(pid, NULL, 0) == pid) vforked++;
}

static void on_signal(int sig) {
    (void)sig;
    vfork_once();
}

static void prepare(void) {
    if (via_signal) raise(SIGUSR1);
    else vfork_once();
}

static void *idle(void *arg) {
    (void)arg;
    pause();
    return NULL;
}

static volatile int registering = 1;

static void *register_handlers(void *arg) {
    (void)arg;
    while (registering) pthread_atfork(NULL, NULL, NULL);
    return NULL;
}

/* One trial, in a fresh process: a thread registers fork handlers in a loop, and a signal that
 * vforks lands in it. */
static void trial(void) {
    signal(SIGUSR1, on_signal);
    pthread_t t;
    pthread_create(&t, NULL, register_handlers, NULL);
    usleep(2000);
    pthread_kill(t, SIGUSR1);
    while (!vforked) usleep(100);
    registering = 0;
    pthread_join(t, NULL);
    _exit(0);
}

static void interrupted_registration(int trials) {
    int hung = 0, failed = 0, planned = trials;
    for (int i = 0; i < trials; i++) {
        pid_t pid = fork();
        if (pid == 0) trial();
        int status, waited = 0;
        pid_t done;
        while ((done = waitpid(pid, &status, WNOHANG)) == 0 && waited < 2000) {
            usleep(1000);
            waited++;
        }
        if (done == 0) {
            hung++;
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            trials = i + 1;
            break;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
        }
    }
    char why[120];
    if (hung) snprintf(why, sizeof why, "trial %d of %d hung for 2 s (deadlock)", trials, planned);
    else snprintf(why, sizeof why, "%d of %d trials failed", failed, trials);
    result(hung == 0 && failed == 0, "vfork from a signal handler that interrupts pthread_atfork returns", why);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "register") == 0) {
        interrupted_registration(argc > 2 ? atoi(argv[2]) : 20);
        return finish();
    }
    via_signal = argc > 1 && strcmp(argv[1], "signal") == 0;
    signal(SIGUSR1, on_signal);
    pthread_t t;
    pthread_create(&t, NULL, idle, NULL);
    pthread_atfork(prepare, NULL, NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    result(pid > 0 && vforked == 1,
           via_signal ? "vfork from a signal handler raised in a fork prepare handler returns"
                      : "vfork from a pthread_atfork prepare handler returns",
           "the vfork child did not run");
    return finish();
}
