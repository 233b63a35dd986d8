/* One RTLD_DEEPBIND load, as a PHP process loads its extensions: open the plugin, make a socket
 * through it, close both. Run under strict valgrind, with and without kashim.
 *   deepbind_once PLUGIN-PATH   (built from deepbind_lib.c) */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*deep_socket)(void) = (int (*)(void))dlsym(h, "deep_socket");
    int fd = deep_socket ? deep_socket() : -1;
    if (fd >= 0) close(fd);
    dlclose(h);
    return fd >= 0 ? 0 : 1;
}
