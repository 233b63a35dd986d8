/* Descriptor numbers far above 1024: fill the table past 70000 so socket(), accept() and a
 * foreign socket's connect() all happen at high numbers, then close and reuse them. */
#include "common.h"
#include <sys/resource.h>
#include <sys/syscall.h>

/* Past the first 65536-entry chunk of kashim's descriptor table when the hard limit allows;
 * otherwise as high as it does (containers often cap it at tens of thousands). */
#define WANT 70000

int main(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = WANT + 1000;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) want = rl.rlim_max;
    rl.rlim_cur = rl.rlim_max = want;
    if (want < 4096 || setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        printf("SKIP %s: cannot raise RLIMIT_NOFILE to 4096 or more (hard limit %lu)\n", label(),
               (unsigned long)want);
        return 0;
    }
    const int FILL = (int)want - 1000;
    const int HIGH = FILL > 65536 ? 65536 : 1024;
    printf("   filling the descriptor table to %d (threshold checked: above %d)\n", FILL, HIGH);
    int port;
    int listener = plain_listener(AF_INET, socket(AF_INET, SOCK_STREAM, 0), &port);
    int null = open("/dev/null", O_RDONLY);
    for (int i = 0; i < FILL; i++) if (dup(null) < 0) break;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char why[64];
    snprintf(why, sizeof why, "fd=%d", fd);
    result(fd > HIGH, "socket() returns a high descriptor", why);
    expect_configured("socket() at a high descriptor is configured", fd);
    int high_listener = plain_listener(AF_INET6, socket(AF_INET6, SOCK_STREAM, 0), &port);
    int client = socket(AF_INET6, SOCK_STREAM, 0);
    connect_to(client, AF_INET6, port);
    int accepted = accept(high_listener, NULL, NULL);
    snprintf(why, sizeof why, "fd=%d", accepted);
    result(accepted > HIGH, "accept() returns a high descriptor", why);
    expect_configured("accept() at a high descriptor is configured", accepted);
    /* Close a configured TCP socket and reuse its number for a foreign one: it must not be
     * mistaken for the old socket. */
    close(fd);
    int foreign = (int)syscall(SYS_socket, AF_INET6, SOCK_STREAM, 0);
    snprintf(why, sizeof why, "fd=%d was %d", foreign, fd);
    result(foreign == fd, "a closed high number is reused", why);
    connect_to(foreign, AF_INET6, port);
    expect_configured("foreign socket at a reused high number is configured at connect()", foreign);
    /* dup2 onto a very high number carries the state along. */
    int target = FILL + 500; /* within the raised limit */
    dup2(client, target);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    close(target);
    dup2(udp, target);
    connect_to(target, AF_INET, port);
    expect_keepalive_off("UDP socket dup2()ed onto a former TCP number is left alone", target);
    (void)listener;
    return finish();
}
