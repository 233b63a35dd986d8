/* RTLD_DEEPBIND (issue 13, gap 1): a library opened with it binds its socket() to libc, past
 * kashim. Under kashim its TCP sockets must still be configured, and dlopen must behave exactly as
 * without kashim: same handles, same dlerror(), the program's own RUNPATH used for bare names.
 *   deepbind_test BINDIR now|lazy|own|own-lazy|by-name|runpath|errors|dlmopen */
#include "common.h"
#include <dlfcn.h>

static const char *dir;

static void *open_lib(const char *name, int mode) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return dlopen(path, mode);
}

static void socket_from(void *handle, const char *check, int configured) {
    char why[300];
    snprintf(why, sizeof why, "dlopen failed: %s", handle ? "" : dlerror());
    result(handle != NULL, "library loads", why);
    if (!handle) return;
    int (*deep_socket)(void) = (int (*)(void))dlsym(handle, "deep_socket");
    int fd = deep_socket();
    if (configured) expect_configured(check, fd);
    else expect_kernel_defaults(check, fd);
    close(fd);
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : ".";
    const char *mode = argc > 2 ? argv[2] : "now";
    if (strcmp(mode, "now") == 0) {
        /* PHP's flags; the library is linked with -z now, so its GOT is read-only (RELRO). */
        void *h = open_lib("libdeep_now.so", RTLD_LAZY | RTLD_GLOBAL | RTLD_DEEPBIND);
        result(dlerror() == NULL, "dlerror() says nothing after a successful load", "a message was left");
        socket_from(h, "socket made by a RTLD_DEEPBIND library (BIND_NOW, RELRO) is configured", 1);
    } else if (strcmp(mode, "lazy") == 0) {
        /* Lazy binding: the slot still holds the PLT stub when kashim looks. */
        socket_from(open_lib("libdeep_lazy.so", RTLD_LAZY | RTLD_DEEPBIND),
                    "socket made by a lazily bound RTLD_DEEPBIND library is configured", 1);
    } else if (strcmp(mode, "own") == 0) {
        socket_from(open_lib("libdeep_own.so", RTLD_NOW | RTLD_DEEPBIND),
                    "a RTLD_DEEPBIND tree with its own socket() keeps it (kashim stays out)", 0);
    } else if (strcmp(mode, "own-lazy") == 0) {
        /* The same, lazily bound: the slot still holds the PLT stub, which would resolve to the
         * tree's own socket(). */
        socket_from(open_lib("libdeep_own.so", RTLD_LAZY | RTLD_DEEPBIND),
                    "a lazily bound RTLD_DEEPBIND tree with its own socket() keeps it", 0);
    } else if (strcmp(mode, "by-name") == 0) {
        /* Found through this program's RUNPATH; kashim passes the call through untouched. */
        socket_from(dlopen("libdeep_lazy.so", RTLD_NOW | RTLD_DEEPBIND),
                    "RTLD_DEEPBIND by bare name: loaded as without kashim (not reached: documented)", 0);
    } else if (strcmp(mode, "runpath") == 0) {
        /* An ordinary dlopen by bare name, found only through the calling program's RUNPATH: it
         * must still work under kashim (libc must see the program, not kashim, as the caller). */
        void *h = dlopen("libdeep_now.so", RTLD_NOW);
        result(h != NULL, "dlopen by bare name through the program's RUNPATH still works", h ? "" : dlerror());
    } else if (strcmp(mode, "errors") == 0) {
        void *h = open_lib("no-such-library.so", RTLD_NOW | RTLD_DEEPBIND);
        const char *e = dlerror();
        result(h == NULL && e && strstr(e, "no-such-library.so"), "a failed RTLD_DEEPBIND load gives libc's dlerror()",
               e ? e : "no message");
        result(dlerror() == NULL, "and the message is cleared once read", "still there");
        h = open_lib("libdeep_now.so", RTLD_NOW | RTLD_DEEPBIND);
        void *again = open_lib("libdeep_now.so", RTLD_NOW | RTLD_DEEPBIND);
        result(h && h == again, "opening twice gives the same handle", "different handles");
        result(dlclose(again) == 0 && dlclose(h) == 0, "and closes twice", dlerror());
    } else if (strcmp(mode, "dlmopen") == 0) {
        /* Another namespace has its own libc: not reached (logged at info), but it works. */
        char path[4096];
        snprintf(path, sizeof path, "%s/libdeep_lazy.so", dir);
        socket_from(dlmopen(LM_ID_NEWLM, path, RTLD_NOW), "a library in a dlmopen namespace loads and works (not reached: documented)", 0);
    }
    return finish();
}
