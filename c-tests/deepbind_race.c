/* Two threads load and unload RTLD_DEEPBIND plugins at once, as PHP does when two requests start.
 * Each load calls the plugin's socket()/connect(). kashim must never touch an object another
 * thread's dlopen is still relocating: the promise is no crash. With "check", one plugin is loaded
 * first and its socket must carry kashim's keepalive.
 *   deepbind_race DIR NPLUGINS ROUNDS [check] */
#include "common.h"
#include <dlfcn.h>
#include <pthread.h>

static const char *dir;
static int nplugins, rounds, port;

static void *open_plugin(int i) {
    char path[4096];
    snprintf(path, sizeof path, "%s/libhs_plugin%d.so", dir, i);
    return dlopen(path, RTLD_NOW | RTLD_DEEPBIND);
}

static void *loader(void *arg) {
    int first = (int)(long)arg;
    for (int r = 0; r < rounds; r++) {
        int i = (first + r) % nplugins;
        void *h = open_plugin(i);
        if (!h) {
            fprintf(stderr, "dlopen plugin %d: %s\n", i, dlerror());
            exit(3);
        }
        int (*plugin_connect)(int) = (int (*)(int))dlsym(h, "plugin_connect");
        int fd = plugin_connect ? plugin_connect(port) : -1;
        if (fd >= 0) close(fd);
        dlclose(h);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    dir = argv[1];
    nplugins = atoi(argv[2]);
    rounds = atoi(argv[3]);
    if (argc > 4 && strcmp(argv[4], "check") == 0) {
        if (plain_listener(AF_INET, -1, &port) < 0) return 2;
        void *h = open_plugin(0);
        result(h != NULL, "a RTLD_DEEPBIND plugin loads", h ? "" : dlerror());
        if (!h) return finish();
        int (*plugin_connect)(int) = (int (*)(int))dlsym(h, "plugin_connect");
        int fd = plugin_connect(port);
        result(fd >= 0, "its connect() to a loopback listener succeeds", strerror(errno));
        if (fd >= 0) expect_configured("a socket made and connected by a RTLD_DEEPBIND plugin has kashim's keepalive", fd);
        return finish();
    }
    /* The race connects to a port this program holds without listening: refused at once, so the
     * threads spend their time in dlopen, where the window is, and nobody else's server is hit. */
    int held = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(held, (struct sockaddr *)&a, len) != 0 || getsockname(held, (struct sockaddr *)&a, &len) != 0) return 2;
    port = ntohs(a.sin_port);
    pthread_t t[2];
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, loader, (void *)(i * (nplugins / 2)));
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return 0;
}
