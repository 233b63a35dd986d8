/* An RTLD_DEEPBIND load in a program with more than 1024 loaded objects: kashim may change only
 * the GOT of the objects that load brought in. An object loaded earlier by libc's own dlopen
 * (called through a libc handle, so kashim never saw it) keeps its socket slot bound to libc's
 * socket; after 1100 more objects and one RTLD_DEEPBIND load through kashim, that slot must be
 * unchanged, and the new plugin's socket still gets keepalive.
 *   many_objects_test DIR COUNT     DIR holds libhs_early.so, libhs_late.so (both from
 *                                   hs_slot_lib.c) and libhs_filler.so, which is copied COUNT
 *                                   times (distinct files are distinct objects to the loader) */
#include "common.h"
#include <dlfcn.h>

/* Copies DIR/libhs_filler.so to DIR/filler-I.so for I below count; false on any error. */
static int make_fillers(const char *dir, int count) {
    char path[4096], data[65536];
    snprintf(path, sizeof path, "%s/libhs_filler.so", dir);
    int in = open(path, O_RDONLY);
    ssize_t len = in >= 0 ? read(in, data, sizeof data) : -1;
    if (in >= 0) close(in);
    if (len <= 0 || len == (ssize_t)sizeof data) return 0;
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/filler-%d.so", dir, i);
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || write(out, data, len) != len) return 0;
        close(out);
    }
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *dir = argv[1];
    int count = atoi(argv[2]);
    char path[4096];
    if (!make_fillers(dir, count)) {
        result(0, "the filler objects are written", strerror(errno));
        return finish();
    }
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    void *(*libc_dlopen)(const char *, int) = libc ? (void *(*)(const char *, int))dlsym(libc, "dlopen") : NULL;
    if (!libc_dlopen) {
        result(0, "libc's dlopen found", dlerror());
        return finish();
    }
    snprintf(path, sizeof path, "%s/libhs_early.so", dir);
    void *early = libc_dlopen(path, RTLD_NOW | RTLD_DEEPBIND);
    if (!early) {
        result(0, "the early object loads", dlerror());
        return finish();
    }
    void *(*early_slot)(void) = (void *(*)(void))dlsym(early, "slot_socket");
    void *before = early_slot();
    int loaded = 0;
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/filler-%d.so", dir, i);
        if (dlopen(path, RTLD_NOW)) loaded++;
    }
    char why[200], check[100];
    snprintf(why, sizeof why, "%d of %d loaded: %s", loaded, count, loaded == count ? "" : dlerror());
    snprintf(check, sizeof check, "%d more objects load", count);
    result(loaded == count, check, why);
    snprintf(path, sizeof path, "%s/libhs_late.so", dir);
    void *late = dlopen(path, RTLD_NOW | RTLD_DEEPBIND);
    result(late != NULL, "then a plugin loads with RTLD_DEEPBIND", late ? "" : dlerror());
    if (!late) return finish();
    void *after = early_slot();
    snprintf(why, sizeof why, "was %p (libc's socket is %p), now %p", before, dlsym(libc, "socket"), after);
    result(after == before, "the GOT slot for socket of an object loaded before is unchanged", why);
    int port, lfd = plain_listener(AF_INET, -1, &port);
    int (*make)(void) = (int (*)(void))dlsym(late, "slot_make_socket");
    int fd = make();
    connect_to(fd, AF_INET, port);
    expect_configured("the RTLD_DEEPBIND plugin's socket has kashim's keepalive", fd);
    close(fd);
    close(lfd);
    return finish();
}
