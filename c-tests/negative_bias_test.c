/* An object loaded below its link address (negative load bias: linked at a fixed address the
 * kernel cannot give, as a prelinked or -Ttext-segment object). The program must run under kashim
 * as without it, and the TCP socket the object makes must get keepalive.
 *   negative_bias_test linked NAME         the program is linked against NAME (found loaded)
 *   negative_bias_test dlopen PATH         dlopen(PATH, RTLD_NOW | RTLD_DEEPBIND)
 * NAME/PATH is built from deepbind_lib.c (deep_socket). */
#include "common.h"
#include <dlfcn.h>
#include <link.h>

static const char *wanted;
static long long bias;
static int found;

static int each(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (strstr(info->dlpi_name, wanted)) {
        bias = (long long)(long)info->dlpi_addr;
        found = 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1];
    wanted = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    void *handle = RTLD_DEFAULT;
    if (strcmp(mode, "dlopen") == 0) {
        handle = dlopen(argv[2], RTLD_NOW | RTLD_DEEPBIND);
        result(handle != NULL, "dlopen(RTLD_NOW | RTLD_DEEPBIND) of the object succeeds", handle ? "" : dlerror());
        if (!handle) return finish();
    }
    dl_iterate_phdr(each, NULL);
    char why[120];
    snprintf(why, sizeof why, "load bias %lld (found %d): the object does not reproduce the case", bias, found);
    result(found && bias < 0, "the object is loaded below its link address", why);
    printf("# %s: load bias %lld\n", wanted, bias);
    int (*deep_socket)(void) = (int (*)(void))dlsym(handle, "deep_socket");
    if (!deep_socket) {
        result(0, "deep_socket found", dlerror());
        return finish();
    }
    int port, lfd = plain_listener(AF_INET, -1, &port);
    int fd = deep_socket();
    result(fd >= 0 && connect_to(fd, AF_INET, port) == 0, "its socket connects to a loopback listener", strerror(errno));
    expect_configured("the socket made by the object has kashim's keepalive", fd);
    close(fd);
    close(lfd);
    return finish();
}
